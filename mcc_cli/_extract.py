"""`mcc extract`: cut the papers' 1 cm patches from whole mammograms into a patch dataset."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "extract",
        help="cut the papers' 1 cm patches from whole mammograms (PNG + MCC boxes)",
        description=(
            "Cut class-1 patches (1 cm window, 1.5 mm step, four scan orders, inside each MCC "
            "box) and class-0 patches (non-overlapping 1 cm grid outside every box, without "
            "black background) from grey mammograms (DICOM, PNG or TIFF; each resampled from "
            "its own pixel spacing to --resolution first, boxes scaled with it), balance the "
            "classes, and write "
            "the synth dataset layout (class_0/, class_1/, patches.csv, manifest.json): "
            "`mcc synth verify OUT` checks it and `mcc train --data OUT` reads it. The "
            "annotations CSV has one row per box with the columns image, X1, Y1, X2, Y2 "
            "(half-open pixel corners, X = column; case-insensitive; 'filename' also names the "
            "image), as `mcc synth mammogram` writes; the boxes are in each image's own pixels. "
            "RGB images are refused: convert them to grayscale first. Nothing is written "
            "unless the whole run succeeds."
        ),
    )
    p.add_argument("--images", type=Path,
                   help="folder of grey mammograms (DICOM, or 8- or 16-bit PNG or TIFF)")
    p.add_argument("--annotations", type=Path, help="CSV of MCC boxes (image, X1, Y1, X2, Y2)")
    p.add_argument("--resolution", type=int, metavar="{50,70,100}",
                   help="the model resolution in µm the patches are cut at")
    p.add_argument("--spacing-um", type=float,
                   help="the mammograms' own pixel spacing in µm (default: each DICOM's "
                        "header; PNG and TIFF are taken to be at --resolution)")
    p.add_argument("--out", type=Path, help="output folder (missing or empty)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=8,
                   help="patch PNG bit depth (default 8, as in the papers)")
    p.add_argument("--balance", choices=("dataset", "image", "none"), default="dataset",
                   help="cut the larger class to the smaller's count over the whole dataset "
                        "(default, as in the papers), per mammogram, or not at all")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    import synth

    from ._synth import _progress

    if None in (args.images, args.annotations, args.resolution, args.out):
        raise ValueError("`--images`, `--annotations`, `--resolution` and `--out` are required.")
    synth.patch_size_px(args.resolution)
    if args.spacing_um is not None:
        synth.check_spacing(args.spacing_um, "--spacing-um")
    if not args.annotations.is_file():
        raise ValueError(f"`--annotations`: there is no file {args.annotations}.")
    if not args.images.is_dir():
        raise ValueError(f"`--images`: there is no folder {args.images}.")
    from mcc_core import extract_dataset, read_annotations  # TensorFlow-free

    n_images = read_annotations(args.annotations)["image"].nunique()
    start = time.perf_counter()
    with _progress(n_images, f"{args.resolution} µm", disabled=args.no_progress,
                   unit="mammogram") as bar:
        manifest = extract_dataset(args.images, args.annotations, args.out,
                                   resolution_um=args.resolution, bit_depth=args.bit_depth,
                                   balance=args.balance, progress=bar,
                                   spacing_um=args.spacing_um)
    counts = manifest["counts"]
    print(f"{args.out}: {counts['class_1']} class-1 and {counts['class_0']} class-0 patches "
          f"from {n_images} mammograms at {args.resolution} µm in "
          f"{time.perf_counter() - start:.1f} s")
    return 0
