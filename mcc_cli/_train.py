"""`mcc train`: train one of the papers' models on a patch folder or synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._synth import load_config

MODELS = ("mobilenet", "shallow", "vgg16", "resnet50", "densenet121")


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "train",
        help="train a model on a patch folder or on synthetic data",
        description=(
            "Train one of the papers' classifiers (Adam, binary cross-entropy, the weights of "
            "the best validation-accuracy epoch kept) on a class_0/ class_1/ patch folder or on "
            "synthetic patches, split 64/16/20. Writes model.keras with its JSON sidecar, "
            "history.csv, curves.png and result.json to --out."
        ),
    )
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--resolution", type=int, choices=(50, 70, 100), required=True)
    p.add_argument("--data", required=True, help="patch folder, or 'synthetic'")
    p.add_argument("--scene", type=Path,
                   help="scene config JSON for --data synthetic or --augment-synthetic")
    p.add_argument("--augment-synthetic", type=float, default=0.0, metavar="FRACTION",
                   help="add this fraction of the training split again as patches with the "
                        "scene's MCs inserted into the training split's own negatives (after "
                        "the split: no test background is seen in training); default 0")
    p.add_argument("--n", type=int, default=2000, help="synthetic patches (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="split and synthetic-data seed")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--overwrite", action="store_true", help="replace a model in --out")
    p.set_defaults(run=run_train, needs="tf")


def run_train(args: argparse.Namespace) -> int:
    scene = load_config(args.scene, None) if args.scene else None
    if scene is not None and args.data != "synthetic" and not args.augment_synthetic:
        raise ValueError("`--scene` only applies to --data synthetic or --augment-synthetic.")
    if not 0.0 <= args.augment_synthetic <= 10.0:
        raise ValueError(f"`--augment-synthetic` must be a fraction from 0 to 10; got "
                         f"--augment-synthetic {args.augment_synthetic:g}.")
    if args.augment_synthetic and args.data == "synthetic":
        raise ValueError("`--augment-synthetic` needs a patch folder --data (its training "
                         "split's negatives are the backgrounds).")
    if args.data != "synthetic" and not Path(args.data).is_dir():
        raise ValueError(f"`--data` must be a patch folder or 'synthetic'; got {args.data!r}.")
    for name in ("epochs", "batch_size", "n"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be >= 1; "
                             f"got {getattr(args, name)}.")
    import mcc_core

    run = mcc_core.run_training(
        args.model, args.resolution, args.data, out_dir=args.out, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, scene=scene, n=args.n,
        seed=args.seed, overwrite=args.overwrite, augment_synthetic=args.augment_synthetic)
    m = run.result.test_metrics or {}
    print(f"{run.model_path}: best epoch {run.result.best_epoch}, val accuracy "
          f"{run.result.best_val_accuracy:.3f}, test accuracy {m.get('accuracy', float('nan')):.3f}"
          f" in {run.result.wall_time_s:.0f} s")
    return 0
