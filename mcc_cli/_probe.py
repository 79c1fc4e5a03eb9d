"""`mcc probe`: a robustness report of a model on synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._synth import load_config


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "probe",
        help="robustness report of a model on controlled synthetic data",
        description=(
            "Score a model on synthetic patches of a scenario, vary properties one at a time "
            "(--sweep PARAM --values ...), run the behavioural tests and the cross-resolution "
            "matrix, and write report.html, report.json and CSVs to --out. Without --model the "
            "bundled lightweight CNN of --resolution is used."
        ),
    )
    p.add_argument("--model", type=Path, help=".keras, .h5, SavedModel folder or .onnx")
    p.add_argument("--resolution", type=int, choices=(50, 70, 100),
                   help="patch resolution (default: the model's; 70 for the bundled model)")
    p.add_argument("--resample", action="store_true",
                   help="rescale patches when --resolution is not the model's own")
    p.add_argument("--scenario", type=Path, help="scene config JSON (SceneConfig.to_json)")
    p.add_argument("--sweep", action="append", default=[], metavar="PARAM",
                   help="a property to vary (repeatable; each followed by its --values)")
    p.add_argument("--values", action="append", nargs="+", default=[], metavar="V",
                   help="the values of the preceding --sweep")
    p.add_argument("--n", type=int, default=300, help="patches per condition (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--no-behaviour", action="store_true", help="skip the behavioural tests")
    p.add_argument("--no-cross-resolution", action="store_true",
                   help="skip the cross-resolution matrix")
    p.add_argument("--no-thresholds", action="store_true",
                   help="skip the per-scene failure thresholds (contrast bisection)")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.set_defaults(run=run_probe)


def parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _sweeps(args: argparse.Namespace) -> list[tuple[str, list[Any]]]:
    if len(args.sweep) != len(args.values):
        raise ValueError(f"each --sweep needs its --values; got {len(args.sweep)} --sweep and "
                         f"{len(args.values)} --values.")
    return [(name, [parse_value(v) for v in values])
            for name, values in zip(args.sweep, args.values, strict=True)]


def run_probe(args: argparse.Namespace) -> int:
    import evalkit

    scenario = load_config(args.scenario, None)
    sweeps = _sweeps(args)
    for name, values in sweeps:  # refuse bad sweeps before loading anything heavy
        for value in values:
            evalkit.condition_config(scenario, name, value)
    if args.model is None:
        from mcc_core import bundled_model_path

        model_path = bundled_model_path(args.resolution or 70)
    else:
        model_path = args.model
    predictor = evalkit.as_predictor(model_path, resolution_um=args.resolution,
                                     resample=args.resample)
    from tqdm import tqdm

    stages = (1 + len(sweeps) + (not args.no_behaviour) + (not args.no_cross_resolution)
              + (not args.no_thresholds))
    with tqdm(total=stages, desc="probe", unit="stage") as bar:
        def advance(stage: str) -> None:  # a stage starts: the one before it is done
            if bar.postfix:
                bar.update(1)
            bar.set_postfix_str(stage)

        results = evalkit.run_probe(
            predictor, scenario, n=args.n, seed=args.seed, sweeps=sweeps,
            behaviour=not args.no_behaviour, resolutions=not args.no_cross_resolution,
            thresholds=not args.no_thresholds,
            n_bootstrap=args.bootstrap, progress=advance)
        bar.update(1)
    page = evalkit.build_report(results, args.out)
    m = results.metrics
    print(f"{page}: accuracy {m['accuracy']:.3f}, sensitivity {m['recall']:.3f}, "
          f"specificity {m['specificity']:.3f} on {m.n} patches at {predictor.resolution_um} µm")
    return 0
