"""`mcc study`: the resumable cross-resolution study; `mcc study report`: its results page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SCALES = ("smoke", "cpu", "paper")
FAMILIES = ("shallow", "mobilenet")
MODELS = ("shallow", "shallow-mpl2-5x5", "shallow-mpl4-9x9", "mobilenet")


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "study",
        help="the cross-resolution study: Scratch/Transfer/Fine-tune/Resample/Mixed/Eval arms, "
             "resumable (or `mcc study report`)",
        description=(
            "Train and test every arm of the study (the papers' seven and Resample, "
            "Fine-tune, Mixed, the pooled lightweight variants) on the same synthetic scenes "
            "at 50, 70 and 100 um, several seeds each, and write OUT/study.json and "
            "OUT/study.md. Each arm is a run folder under OUT; the same command again skips "
            "finished arms and resumes an interrupted one from its last epoch. "
            "`mcc study report --from OUT --out docs/results/study.md` rewrites the page."
        ),
    )
    p.add_argument("--out", type=Path, help="study folder (created; reused to resume)")
    p.add_argument("--scale", choices=SCALES, default="smoke",
                   help="smoke: pipeline check, lightweight family, about a minute; cpu: each "
                        "family in about two hours on a 2-core CPU; paper: the papers' sizes "
                        "(30,000 scenes per resolution, 100 epochs) for a GPU")
    p.add_argument("--families", nargs="+", choices=FAMILIES,
                   help="model families (default: the scale's; smoke: shallow)")
    p.add_argument("--models", nargs="+", choices=MODELS, help="only these models")
    p.add_argument("--seeds", type=int, help="seeds per trained arm (default: the scale's)")
    p.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    sub = p.add_subparsers(dest="action", metavar="{report}")
    r = sub.add_parser("report", help="write the results page from a study's JSON",
                       description="Render study.md (with its figure) from OUT/study.json.")
    r.add_argument("--from", dest="source", type=Path, required=True,
                   help="study folder or study.json")
    r.add_argument("--out", dest="page", type=Path, required=True,
                   help="the page, e.g. docs/results/study.md")
    r.set_defaults(run=run_report, needs=None)
    p.set_defaults(run=run_study, needs="tf")


def run_study(args: argparse.Namespace) -> int:
    if args.out is None:
        raise ValueError("`--out` is required: the study folder (or use `mcc study report`).")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"`--out` must be a folder; got the file {str(args.out)!r}.")
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"`--seeds` must be an integer >= 1; got --seeds {args.seeds}.")
    if args.seed < 0:
        raise ValueError(f"`--seed` must be an integer >= 0; got --seed {args.seed}.")
    families = args.families
    if args.models and families is None:
        families = sorted({"mobilenet" if m == "mobilenet" else "shallow" for m in args.models},
                          key=FAMILIES.index)
    if args.models and families is not None:
        outside = [m for m in args.models
                   if ("mobilenet" if m == "mobilenet" else "shallow") not in families]
        if outside:
            raise ValueError(f"`--models` {' '.join(outside)} not in --families "
                             f"{' '.join(families)}.")
    import logging

    import mcc_core

    # each arm builds a new model, so TensorFlow warns of "retracing" once per arm: expected
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    mcc_core.run_study(args.out, scale=args.scale, families=families, models=args.models,
                       seeds=args.seeds, seed=args.seed, progress=None if args.quiet else say)
    page = mcc_core.render_study(args.out, args.out / "study.md")
    print(f"{args.out}: study.json and {page.name} written")
    return 0


def run_report(args: argparse.Namespace) -> int:
    source = args.source / "study.json" if args.source.is_dir() else args.source
    if not source.is_file():
        raise ValueError(f"`--from` must be a study folder or its study.json; got "
                         f"{str(args.source)!r}.")
    if args.page.suffix != ".md":
        raise ValueError(f"`--out` must name a Markdown page (.md); got {str(args.page)!r}.")
    import mcc_core

    page = mcc_core.render_study(source, args.page)
    print(f"{page} written from {source}")
    return 0
