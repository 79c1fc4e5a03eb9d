"""`mcc synth mammogram`: write full-field synthetic mammograms with their MCC boxes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import synth


def add_parser(actions: Any) -> None:
    """Register ``mammogram`` under the `mcc synth` actions."""
    from ._synth import config_fields_help, distribution_help, paragraph

    p = actions.add_parser(
        "mammogram",
        help="write full-field synthetic mammograms with MCC boxes",
        epilog=config_fields_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Write N full-field synthetic mammograms (breast on a black background, 1/f^β "
            "tissue, microcalcification clusters and isolated hard-negative MCs, the detector "
            "model) as mammogram_0000.png …, with annotations.csv (image, X1, Y1, X2, Y2, "
            "cluster, distribution, n_calcifications: one MCC box per row, half-open pixel "
            "corners, X = column), calcifications.csv and manifest.json. The PNGs are 16-bit "
            "by default, to keep the detector's dynamic range; --format dicom writes "
            "mammogram_0000.dcm … instead (Digital Mammography X-Ray Images carrying the pixel "
            "spacing, laterality and intent). `mcc extract` cuts patches from either. "
            "Everything is written to a staging folder renamed to --out at the end; the same "
            "command run again after an interruption resumes after the last finished image."
        ),
    )
    p.add_argument("--resolution", type=int, choices=synth.RESOLUTIONS_UM, default=70,
                   help="pixel spacing in µm (default 70)")
    p.add_argument("--n", type=int, help="number of mammograms")
    p.add_argument("--seed", type=int, default=0,
                   help="seed; mammogram i uses numpy.random.default_rng([seed, i]) (default 0)")
    p.add_argument("--out", type=Path, help="output folder (missing or empty)")
    p.add_argument("--config", type=Path,
                   help="scene config JSON (SceneConfig.to_json; its fields are listed below)")
    p.add_argument("--distribution", help=distribution_help())
    p.add_argument("--size-mm", type=float, nargs=2, metavar=("H", "W"),
                   help="image height and width in mm (default 240 300: 24 × 30 cm)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=16,
                   help="image bit depth (default 16, recommended: keeps the dynamic range)")
    p.add_argument("--format", choices=("png", "dicom"), default="png",
                   help="image files: png (default) or dicom (.dcm, with spacing and laterality)")
    p.add_argument("--anatomy", action="store_true",
                   help="anatomical breasts: skin, nipple, fibroglandular region, lobules, "
                        "ligaments, ducts, vessels, pectoral muscle in MLO; findings at their "
                        "BI-RADS scale; benign look-alikes (findings.csv). Implied by the "
                        "three options below")
    p.add_argument("--view", help="CC or MLO (default: drawn per mammogram); implies --anatomy")
    p.add_argument("--density-category",
                   help="BI-RADS density a, b, c or d (default: drawn 10/40/40/10 %%); implies "
                        "--anatomy")
    p.add_argument("--lookalikes",
                   help="benign look-alikes: all (default with anatomy), none, or a comma list "
                        f"of {', '.join(synth.LOOKALIKE_KINDS)}; implies --anatomy")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_mammogram)


def run_mammogram(args: argparse.Namespace) -> int:
    from ._synth import _progress, load_config

    if args.n is None or args.out is None:
        raise ValueError("`--n` and `--out` are required.")
    config = load_config(args.config, args.distribution)
    if args.view is not None and args.view not in synth.VIEWS:
        raise ValueError(f"`--view` must be CC or MLO; got {args.view!r}.")
    if (args.density_category is not None
            and args.density_category not in synth.DENSITY_CATEGORIES):
        raise ValueError("`--density-category` must be a, b, c or d; got "
                         f"{args.density_category!r}.")
    lookalikes = _lookalikes(args.lookalikes)
    anatomy = True if (args.anatomy or args.view or args.density_category
                       or args.lookalikes is not None) else None
    start = time.perf_counter()
    with _progress(args.n, f"{args.resolution} µm", disabled=args.no_progress,
                   unit="mammogram") as bar:
        manifest = synth.write_mammograms(
            config, args.out, args.n, resolution_um=args.resolution, seed=args.seed,
            size_mm=None if args.size_mm is None else tuple(args.size_mm),
            bit_depth=args.bit_depth, format=args.format, progress=bar, anatomy=anatomy,
            view=args.view, density_category=args.density_category, lookalikes=lookalikes,
        )
    print(f"{args.out}: {args.n} mammograms at {args.resolution} µm with "
          f"{manifest['counts']['clusters']} MCC boxes in {time.perf_counter() - start:.1f} s")
    return 0


def _lookalikes(text: str | None) -> list[str] | None:
    """--lookalikes as kinds: None (all) for absent or "all", [] for "none"."""
    if text is None or text == "all":
        return None
    if text == "none":
        return []
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in synth.LOOKALIKE_KINDS]
    if bad or not kinds:
        raise ValueError(f"`--lookalikes` must be all, none or a comma list of "
                         f"{', '.join(synth.LOOKALIKE_KINDS)}; got {text!r}.")
    return kinds
