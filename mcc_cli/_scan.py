"""`mcc scan`: score every 1 cm window of a mammogram; the model loader `mcc probe
--mammograms` shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import synth
from synth.io import check_empty_out, staging_folder


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "scan",
        help="score every 1 cm window of a whole mammogram",
        description=(
            "Slide a 1 cm window over a greyscale mammogram (DICOM, or an 8- or 16-bit PNG or "
            "TIFF; an RGB image whose three channels are equal is read as grey, any other "
            "colour image is refused), resampled first from its own pixel spacing (the DICOM's, "
            "or --spacing-um) to the model's resolution, skip mostly-black background windows, "
            "score the rest with a model, and write "
            "case_study.png (negative windows light grey, positives kept or tinted), "
            "heatmap.png, scores.csv (one row per window) and scan.json to --out, a missing or "
            "empty folder, all at once at the end."
        ),
    )
    p.add_argument("image", type=Path, metavar="IMAGE",
                   help="greyscale mammogram: DICOM, PNG or TIFF")
    p.add_argument("--model", default="bundled",
                   help="a .keras or .h5 model, or 'bundled' (default): the bundled "
                        "lightweight CNN of --resolution")
    p.add_argument("--spacing-um", type=float,
                   help="pixel spacing of IMAGE in µm (default: the DICOM's own; required for "
                        "PNG and TIFF, unless --resolution is given alone, its old meaning)")
    p.add_argument("--resolution", type=int, metavar="{50,70,100}",
                   help="the model's resolution in µm, IMAGE is resampled to it (default: "
                        "the bundled model nearest IMAGE's spacing)")
    p.add_argument("--out", type=Path, required=True, help="output folder (missing or empty)")
    p.add_argument("--stride-mm", type=float, default=1.5, help="window step in mm (1.5)")
    p.add_argument("--threshold", type=float, default=0.5, help="positive at or above (0.5)")
    p.add_argument("--mode", choices=("grey", "tint"), default="grey",
                   help="positive windows kept as they are (grey) or tinted red (tint)")
    p.add_argument("--method", choices=("auto", "fully_convolutional", "patches"),
                   default="auto", help="auto: fully convolutional when the model allows it")
    p.add_argument("--background-fraction", type=float, default=0.5,
                   help="skip windows with more than this share of black pixels (0.5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_scan, needs="tf")


def run_scan(args: argparse.Namespace) -> int:
    out = check_empty_out(args.out, "--out")
    if args.spacing_um is not None:
        synth.check_spacing(args.spacing_um, "--spacing-um")
    if args.resolution is not None:
        synth.check_resolution(args.resolution)
    grey = synth.read_grey_image(args.image, field="IMAGE")
    ready = synth.at_resolution(  # a PNG's old use: --resolution alone is its spacing
        grey, args.resolution, spacing_um=args.spacing_um,
        fallback_spacing_um=None if grey.format == "DICOM" else args.resolution)
    resolution = ready.resolution_um
    image = ready.pixels
    patch = synth.patch_size_px(resolution)
    if min(image.shape) < patch:
        raise ValueError(f"`IMAGE` must be at least one patch (1 cm: {patch} × {patch} px at "
                         f"{resolution} µm); got {str(args.image)!r} of "
                         f"{image.shape[0]} × {image.shape[1]} px there.")
    import mcc_core

    model, label = load_scan_model(args.model, resolution)
    with LazyProgress(args.no_progress, "scan") as advance:
        result = mcc_core.scan(
            model, image, resolution_um=resolution, stride_mm=args.stride_mm,
            threshold=args.threshold, method=args.method,
            background_fraction=args.background_fraction, progress=advance)
    summary = mcc_core.scanning.scan_summary(
        str(args.image), grey.pixels, image_format=grey.format, spacing_um=ready.spacing_um,
        resampled=ready.resampled, scale=ready.scale, model=label, stride_mm=args.stride_mm)
    files = mcc_core.scanning.render_scan_files(image, result, mode=args.mode, summary=summary)
    with staging_folder(out) as stage:  # all four files appear at once, or none
        for name, data in files.items():
            (stage / name).write_bytes(data)
    resampled = (f" (resampled from {ready.spacing_um:g} µm)" if ready.resampled else "")
    print(f"{args.out}: {result.n_positive} positive and {result.n_negative} negative windows "
          f"({result.n_background} background skipped) at {resolution} µm{resampled}, "
          f"{result.method.replace('_', '-')} in {result.seconds:.1f} s")
    return 0


# --------------------------------------------------------------------------- shared helpers


def load_scan_model(spec: str, resolution_um: int) -> tuple[Any, str]:
    """The Keras model named by ``spec`` (a .keras / .h5 file, or 'bundled') and its label."""
    import mcc_core

    if spec == "bundled":
        loaded = mcc_core.load_bundled_model(resolution_um)
        return loaded.model, mcc_core.scanning.scan_model_label(loaded.path.name, bundled=True)
    path = Path(spec)
    if not path.is_file() or path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ValueError(f"`--model` must be an existing .keras or .h5 file, or 'bundled'; "
                         f"got {spec!r}.")
    label = mcc_core.scanning.scan_model_label(str(path), bundled=False)
    if path.suffix == ".keras":
        return mcc_core.load_model(path, require_metadata=False).model, label
    import keras

    try:
        return keras.models.load_model(path, compile=False), label
    except Exception as exc:  # Keras raises many kinds for files that are not models
        raise ValueError(f"`--model` must be a readable Keras model; got {spec!r} "
                         f"({type(exc).__name__}).") from None


class LazyProgress:
    """A tqdm bar opened on the first ``advance(done, total)`` call, so that errors raised
    before any window is scored print one line and no bar."""

    def __init__(self, disable: bool, desc: str) -> None:
        self.disable, self.desc = disable, desc
        self.bar: Any = None

    def __enter__(self) -> Callable[[int, int], None]:
        return self.advance

    def advance(self, done: int, total: int) -> None:
        if self.disable:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="window", leave=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
