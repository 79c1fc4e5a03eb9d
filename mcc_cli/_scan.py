"""`mcc scan`: score every 1 cm window of a mammogram; the helpers `mcc probe --mammograms`
shares (reading grey PNGs, loading a Keras model to scan with, annotated mammogram folders)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth
from synth._atomic import check_empty_out, staging_folder

from ._quiet import import_tensorflow

OUTPUTS = ("case_study.png", "heatmap.png", "scores.csv", "scan.json")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "scan",
        help="score every 1 cm window of a whole mammogram",
        description=(
            "Slide a 1 cm window over a greyscale mammogram PNG (8 or 16 bit; an RGB PNG whose "
            "three channels are equal is read as grey, any other colour image is refused), "
            "skip mostly-black background windows, score the rest with a model, and write "
            "case_study.png (negative windows light grey, positives kept or tinted), "
            "heatmap.png, scores.csv (one row per window) and scan.json to --out, a missing or "
            "empty folder, all at once at the end."
        ),
    )
    p.add_argument("image", type=Path, metavar="IMAGE", help="greyscale PNG mammogram")
    p.add_argument("--model", default="bundled",
                   help="a .keras or .h5 model, or 'bundled' (default): the bundled "
                        "lightweight CNN of --resolution")
    p.add_argument("--resolution", type=int, required=True,
                   help="pixel spacing of IMAGE in µm: 50, 70 or 100")
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
    p.set_defaults(run=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    out = check_empty_out(args.out, "--out")
    patch = synth.patch_size_px(args.resolution)
    image = read_grey_image(args.image)
    if min(image.shape) < patch:
        raise ValueError(f"`IMAGE` must be at least one patch ({patch} × {patch} px at "
                         f"{args.resolution} µm); got {str(args.image)!r} of "
                         f"{image.shape[0]} × {image.shape[1]} px.")
    import_tensorflow()
    import mcc_core

    model, label = load_scan_model(args.model, args.resolution)
    with LazyProgress(args.no_progress, "scan") as advance:
        result = mcc_core.scan(
            model, image, resolution_um=args.resolution, stride_mm=args.stride_mm,
            threshold=args.threshold, method=args.method,
            background_fraction=args.background_fraction, progress=advance)
    summary = {"image": str(args.image), "image_dtype": str(image.dtype), "model": label,
               "stride_mm": args.stride_mm, **result.to_dict()}
    files = {
        "case_study.png": png_bytes(mcc_core.render_case_study(image, result, mode=args.mode)),
        "heatmap.png": png_bytes(mcc_core.render_heatmap(image, result)),
        "scores.csv": result.windows.to_csv(index=False).encode(),
        "scan.json": (json.dumps(summary, indent=2) + "\n").encode(),
    }
    with staging_folder(out) as stage:  # all four files appear at once, or none
        for name, data in files.items():
            (stage / name).write_bytes(data)
    print(f"{args.out}: {result.n_positive} positive and {result.n_negative} negative windows "
          f"({result.n_background} background skipped) at {args.resolution} µm, "
          f"{result.method.replace('_', '-')} in {result.seconds:.1f} s")
    return 0


# --------------------------------------------------------------------------- shared helpers


def read_grey_image(path: Path) -> np.ndarray:
    """A greyscale image file as uint8, uint16 (or float32 for a float TIFF), shape (H, W).

    An RGB(A) or palette image whose colour channels are all equal is read as grey (alpha is
    ignored); any other colour image is refused.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"`IMAGE` must be an existing image file; got {str(path)!r}.")
    try:
        with Image.open(path) as img:
            img.load()
            mode, array = img.mode, _pixels(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"`IMAGE` must be a PNG image; got {str(path)!r}, which cannot be "
                         f"read as an image ({type(exc).__name__}).") from None
    if array.ndim == 3:
        if not (np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])):
            raise ValueError(f"`IMAGE` must be greyscale; got {str(path)!r}, a {mode} image "
                             "whose colour channels differ (convert it to grey first).")
        array = array[..., 0]
    if array.dtype == np.int32:  # mode "I": 16-bit PNGs on some Pillow versions
        if array.min() < 0 or array.max() > 65535:
            raise ValueError(f"`IMAGE` must be an 8- or 16-bit greyscale image; got "
                             f"{str(path)!r} with 32-bit values.")
        array = array.astype(np.uint16)
    return np.ascontiguousarray(array)


def _pixels(img: Any) -> np.ndarray:
    """The pixel array of an open PIL image: grey modes as they are, colour as RGB."""
    if img.mode in ("L", "I", "F", *_SIXTEEN_BIT):
        array = np.asarray(img)
        return array.astype(np.uint16) if img.mode in _SIXTEEN_BIT else array
    if img.mode in ("1", "LA"):
        return np.asarray(img.convert("L"))
    if img.mode in ("RGB", "RGBA", "P", "PA"):
        return np.asarray(img.convert("RGB"))
    raise OSError(f"unsupported image mode {img.mode}")


def load_scan_model(spec: str, resolution_um: int) -> tuple[Any, str]:
    """The Keras model named by ``spec`` (a .keras / .h5 file, or 'bundled') and its label."""
    import_tensorflow()
    import mcc_core

    if spec == "bundled":
        loaded = mcc_core.load_bundled_model(resolution_um)
        return loaded.model, f"bundled:{loaded.path.name}"
    path = Path(spec)
    if not path.is_file() or path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ValueError(f"`--model` must be an existing .keras or .h5 file, or 'bundled'; "
                         f"got {spec!r}.")
    if path.suffix == ".keras":
        return mcc_core.load_model(path, require_metadata=False).model, str(path)
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False), str(path)
    except Exception as exc:  # Keras raises many kinds for files that are not models
        raise ValueError(f"`--model` must be a readable Keras model; got {spec!r} "
                         f"({type(exc).__name__}).") from None


def load_mammogram_set(folder: Path, annotations: Path | None) -> list[tuple[Path, pd.DataFrame]]:
    """The PNGs of ``folder`` with their cluster boxes from an annotations CSV.

    The CSV (default ``folder/annotations.csv``, as ``synth.write_mammograms`` writes it; read
    by ``mcc_core.read_annotations``) has one row per cluster with columns ``image`` (file
    name in ``folder``), ``X1``, ``Y1``, ``X2``, ``Y2``; images without rows have no clusters.
    """
    if not folder.is_dir():
        raise ValueError(f"`--mammograms` must be a folder; got {str(folder)!r}.")
    images = sorted(folder.glob("*.png"))
    if not images:
        raise ValueError(f"`--mammograms` must hold PNG mammograms; got {str(folder)!r} "
                         "without any .png file.")
    import_tensorflow()
    import mcc_core

    source = annotations or folder / "annotations.csv"
    table = mcc_core.read_annotations(source)  # the reader `mcc extract` uses
    unknown = sorted(set(table["image"].astype(str)) - {p.name for p in images})
    if unknown:
        raise ValueError(f"`--annotations` names images that are not in {str(folder)!r}: "
                         f"{unknown[:3]}.")
    corners = table[["X1", "Y1", "X2", "Y2"]].apply(pd.to_numeric, errors="coerce")
    inverted = ~((corners.X1 < corners.X2) & (corners.Y1 < corners.Y2))
    if inverted.any():
        row = int(np.flatnonzero(inverted.to_numpy())[0])
        raise ValueError(f"`--annotations` boxes must have X1 < X2 and Y1 < Y2; got row {row} "
                         f"of {str(source)!r}: {table.iloc[row].to_dict()}.")
    names = table["image"].astype(str)
    return [(p, table.loc[names == p.name, ["X1", "Y1", "X2", "Y2"]].reset_index(drop=True))
            for p in images]


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


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
