"""`mcc tune`: Hyperband search of the lightweight CNN over the papers' Table 2 space."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._synth import load_config

_SIZES = {50: 200, 70: 144, 100: 100}


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "tune",
        help="Hyperband search of the lightweight CNN (Table 2 space)",
        description=(
            "Search the lightweight CNN's filters, kernel sizes, batch size and learning rate "
            "over the papers' Table 2 space with keras-tuner's Hyperband, on a patch folder or "
            "synthetic patches; writes tuning.csv and best.json to --out."
        ),
    )
    p.add_argument("--resolution", type=int, choices=(50, 70, 100), default=70)
    p.add_argument("--data", default="synthetic", help="patch folder, or 'synthetic'")
    p.add_argument("--scene", type=Path, help="scene config JSON for --data synthetic")
    p.add_argument("--n", type=int, default=2000, help="synthetic patches (default 2000)")
    p.add_argument("--max-epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    scene = load_config(args.scene, None)
    if args.data != "synthetic" and not Path(args.data).is_dir():
        raise ValueError(f"`--data` must be a patch folder or 'synthetic'; got {args.data!r}.")
    if args.n < 10 or args.max_epochs < 1:
        raise ValueError("`--n` must be >= 10 and `--max-epochs` >= 1.")
    import mcc_core

    size = _SIZES[args.resolution]
    if args.data == "synthetic":
        x, y = mcc_core.synthetic_arrays(scene, args.n, resolution_um=args.resolution,
                                         seed=args.seed)
    else:
        patches = mcc_core.load_patch_folder(args.data, input_size=size)
        x, y = patches.images, patches.labels
    train, val, _test = mcc_core.split_indices(y, seed=args.seed)
    result = mcc_core.tune((x[train], y[train]), (x[val], y[val]), input_size=size,
                           max_epochs=args.max_epochs, out_dir=args.out, seed=args.seed)
    best = result.best
    print(f"best: CL1 {best['filters1']} filters {best['kernel1']}x{best['kernel1']}, CL2 "
          f"{best['filters2']} filters {best['kernel2']}x{best['kernel2']}, batch "
          f"{best['batch_size']}, learning rate {best['learning_rate']:g}: val accuracy "
          f"{result.best_val_accuracy:.3f}, {result.n_params:,} parameters "
          f"(the paper's best: 6/9/16/9/64/1e-3, 8,301)")
    return 0
