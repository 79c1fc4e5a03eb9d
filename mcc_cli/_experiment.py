"""`mcc experiment`: the seven-model protocol of the transfer-learning paper."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "experiment",
        help="the seven-model protocol (Scratch/Transfer-50/70/100, Eval-70)",
        description=(
            "Train Scratch-50/70/100 MobileNetV2 classifiers, Transfer-50/70/100 from the "
            "70 um model's frozen backbone, and evaluate the 70 um model on a second 70 um "
            "domain (Eval-70); writes table8/table9 (CSV and Markdown, with the paper's values "
            "beside) and each model's curves to --out. Synthetic data by default, or give the "
            "four folders."
        ),
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scale", choices=("smoke", "small", "paper"), default="smoke",
                   help="smoke: about 2.5 min and 11 GB of memory on a 2-core CPU (chance-level "
                        "results, a pipeline check); small: 600 patches, 5 epochs; paper: the "
                        "papers' data sizes, 100 epochs, batch 16")
    p.add_argument("--seed", type=int, default=0)
    for res in (50, 70, 100):
        p.add_argument(f"--data-{res}", type=Path, help=f"patch folder at {res} um")
    p.add_argument("--eval-70", type=Path, help="a second 70 um patch folder (Eval-70)")
    p.add_argument("--resolutions", type=int, nargs="+", choices=(50, 70, 100),
                   default=[50, 70, 100],
                   help="run Scratch/Transfer at these only (Scratch-70 and Eval-70 always)")
    p.set_defaults(run=run_experiment, needs="tf")


def run_experiment(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"`--seed` must be an integer >= 0; got --seed {args.seed}.")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"`--out` must be a folder; got the file {str(args.out)!r}.")
    given = {50: args.data_50, 70: args.data_70, 100: args.data_100, "eval-70": args.eval_70}
    folders = None
    if any(given.values()):
        missing = [f"--data-{k}" if k != "eval-70" else "--eval-70"
                   for k, v in given.items() if v is None]
        if missing:
            raise ValueError(f"folders must be given for every resolution; missing "
                             f"{', '.join(missing)}.")
        for value in given.values():
            if not Path(value).is_dir():
                raise ValueError(f"no patch folder at {str(value)!r}.")
        folders = given
    import mcc_core

    result = mcc_core.run_experiment(args.out, scale=args.scale, seed=args.seed,
                                     folders=folders, resolutions=args.resolutions)
    print((result.out_dir / "tables.md").read_text())
    return 0
