"""`mcc tune`: Hyperband search of the lightweight CNN over the papers' Table 2 space."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import synth

from ._synth import load_config


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "tune",
        help="Hyperband search of the lightweight CNN (Table 2 space)",
        description=(
            "Search the lightweight CNN's filters, kernel sizes, batch size and learning rate "
            "over the papers' Table 2 space with keras-tuner's Hyperband (objective: validation "
            "accuracy), on a patch folder or synthetic patches split 64/16/20 (the test share "
            "is left unused). Writes tuning.csv (every trial) and best.json to --out and prints "
            "the best configuration with its parameter count."
        ),
    )
    p.add_argument("--resolution", type=int, choices=(50, 70, 100), required=True,
                   help="pixel spacing in µm (patches of 200, 144 or 100 px)")
    p.add_argument("--data", default="synthetic",
                   help="class_0/ class_1/ patch folder, or 'synthetic' (default)")
    p.add_argument("--scene", type=Path, help="scene config JSON for --data synthetic")
    p.add_argument("--n", type=int, default=2000, help="synthetic patches (default 2000)")
    p.add_argument("--max-epochs", type=int, default=10,
                   help="most epochs one configuration trains for (default 10)")
    p.add_argument("--seed", type=int, default=0, help="split, data and search seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(run=run_tune, needs="tf")


def run_tune(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"`--out` must be a folder; got the file {str(args.out)!r}.")
    if args.seed < 0:
        raise ValueError(f"`--seed` must be an integer >= 0; got --seed {args.seed}.")
    if args.scene is not None and args.data != "synthetic":
        raise ValueError("`--scene` only applies to --data synthetic.")
    if args.data != "synthetic" and not Path(args.data).is_dir():
        raise ValueError(f"`--data` must be a patch folder or 'synthetic'; got {args.data!r}.")
    for name, low in (("n", 10), ("max_epochs", 1), ("seed", 0)):
        if getattr(args, name) < low:
            raise ValueError(f"`--{name.replace('_', '-')}` must be >= {low}; "
                             f"got {getattr(args, name)}.")
    scene = load_config(args.scene, None)
    import mcc_core

    size = synth.patch_size_px(args.resolution)
    if args.data == "synthetic":
        x, y = mcc_core.synthetic_arrays(scene, args.n, resolution_um=args.resolution,
                                         seed=args.seed)
    else:
        patches = mcc_core.load_patch_folder(args.data, input_size=size)
        x, y = patches.images, patches.labels
    train, val, _test = mcc_core.split_indices(y, seed=args.seed)
    role = mcc_core.training.distributed_role()
    if role == "chief":
        print(f"chief of a distributed search: serving the oracle at "
              f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']} "
              "until the workers finish", file=sys.stderr)
    result = mcc_core.tune((x[train], y[train]), (x[val], y[val]), input_size=size,
                           max_epochs=args.max_epochs, out_dir=args.out, seed=args.seed)
    if result is None:
        print(f"worker {role} of a distributed search: its trials are done; the chief writes "
              "tuning.csv and best.json")
        return 0
    print(f"{len(result.trials)} trials; best: {describe(result.best)}: val accuracy "
          f"{result.best_val_accuracy:.3f}, {result.n_params:,} parameters "
          f"(the paper's best: {describe(mcc_core.PAPER_BEST)}, 8,301 parameters)")
    print(f"wrote {args.out / 'tuning.csv'} and {args.out / 'best.json'}")
    return 0


def describe(config: dict[str, Any]) -> str:
    """One configuration of the Table 2 space, written as the paper's CL1/CL2/batch/rate."""
    return (f"CL1 {config['filters1']} filters {config['kernel1']}x{config['kernel1']}, "
            f"CL2 {config['filters2']} filters {config['kernel2']}x{config['kernel2']}, "
            f"batch {config['batch_size']}, learning rate {config['learning_rate']:g}")
