"""`mcc probe`: a robustness report of a model on synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import synth

from ._scan import load_scan_model
from ._synth import check_dask_options, enter_cluster, load_config

MAX_PATCHES = 200_000
"""The most patches per condition `mcc probe` takes (each condition is held in memory: 200,000
patches at 50 µm are 32 GB of float32)."""


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "probe",
        help="robustness report of a model on controlled synthetic data",
        description=(
            "Score a model on synthetic patches of a scenario, vary properties one at a time "
            "(--sweep PARAM --values ...), run the behavioural tests and the cross-resolution "
            "matrix, and write report.html, report.json and CSVs to --out. Without --model the "
            "bundled lightweight CNN of --resolution is used. With --mammograms, every PNG of "
            "that folder is also scanned whole (mcc scan) and the report gains an FROC of the "
            "annotated clusters."
        ),
    )
    p.add_argument("--model", type=Path, action="append",
                   help=".keras, .h5, SavedModel folder or .onnx; repeat it to compare models "
                        "on the same patches (paired tests, comparison.html; the behavioural "
                        "tests, cross-resolution matrix and thresholds are then not run, and "
                        "--mammograms is refused)")
    p.add_argument("--trust-model", action="store_true",
                   help="allow SavedModel folders: their TensorFlow graph runs its own ops, "
                        "which can read and write files (refused without this flag)")
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
    p.add_argument("--backgrounds", type=Path, metavar="DIR",
                   help="folder of your own MC-free images (PNG, TIFF, DICOM; patches or "
                        "mammograms): the clean condition and the sweeps insert the "
                        "scenario's MCs into them (`mcc synth insert`'s physics) instead of "
                        "synthetic tissue")
    p.add_argument("--noise-correlation-um", type=float, metavar="SIGMA",
                   help="--backgrounds: σ in µm of the Gaussian that correlates their noise "
                        "(see mcc synth insert --help; default 0: white)")
    p.add_argument("--spacing-um", type=float,
                   help="pixel spacing of --backgrounds and --mammograms in µm (default: "
                        "each DICOM's own; required for PNG and TIFF)")
    p.add_argument("--mammograms", type=Path, metavar="DIR",
                   help="folder of whole mammograms (PNG, TIFF, DICOM; resampled from their "
                        "own spacing to the model's) to scan for an FROC "
                        "(a .keras or .h5 model only)")
    p.add_argument("--annotations", type=Path, metavar="FILE",
                   help="cluster boxes of --mammograms: CSV with image, X1, Y1, X2, Y2 "
                        "(default DIR/annotations.csv, as `synth.write_mammograms` writes it)")
    p.add_argument("--nms-radius-mm", type=float, default=10.0, metavar="MM",
                   help="--mammograms: windows within this distance of a better one join its "
                        "detection (non-maximum suppression; default 10 mm, the window side)")
    p.add_argument("--hit", choices=("distance", "inside"), default="distance",
                   help="--mammograms: a detection hits a cluster with its centre within "
                        "--hit-distance-mm of the cluster's centre (default) or inside its box")
    p.add_argument("--hit-distance-mm", type=float, default=5.0, metavar="MM",
                   help="default 5 mm, half the window")
    p.add_argument("--require", action="append", default=[], metavar="GATE",
                   help="a pass/fail gate, e.g. 'sensitivity@contrast=0.1>=0.9' or "
                        "'auc>=0.95' (repeatable): exit 1 when one fails")
    p.add_argument("--gate-on", choices=("point", "ci"), default="point",
                   help="judge gates on the estimate (default) or on the 95 %% interval's "
                        "bound")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="score on a Dask cluster: a scheduler address (tcp://host:8786) or "
                        "local:K for K local worker processes; the model file must be at the "
                        "same path on every worker (needs the 'dask' extra)")
    p.add_argument("--dask-timeout", type=float, default=synth.cluster.CONNECT_TIMEOUT_S,
                   metavar="S", help="seconds to wait for the scheduler (default %(default)g)")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.set_defaults(run=run_probe)


def _sweeps(args: argparse.Namespace) -> list[tuple[str, list[Any]]]:
    if len(args.sweep) != len(args.values):
        raise ValueError(f"each --sweep needs its --values; got {len(args.sweep)} --sweep and "
                         f"{len(args.values)} --values.")
    import evalkit

    return [(name, [evalkit.parse_sweep_value(v) for v in values])
            for name, values in zip(args.sweep, args.values, strict=True)]


def run_probe(args: argparse.Namespace) -> int:
    import evalkit

    scenario = load_config(args.scenario, None)
    sweeps = _sweeps(args)
    for name, values in sweeps:  # refuse bad sweeps before loading anything heavy
        for value in values:
            evalkit.condition_config(scenario, name, value)
    swept: dict[str, list[Any]] = {}
    for name, values in sweeps:
        swept.setdefault(name, []).extend(values)
    try:
        gates = evalkit.check_gates(args.require, swept, args.gate_on)
    except ValueError as exc:
        raise ValueError(f"`--require`: {exc}") from None
    if not 0 <= args.bootstrap <= evalkit.MAX_BOOTSTRAP:
        raise ValueError(f"`--bootstrap` must lie in [0, {evalkit.MAX_BOOTSTRAP}]; got "
                         f"--bootstrap {args.bootstrap}.")
    if not 2 <= args.n <= MAX_PATCHES:
        raise ValueError(f"`--n` must lie in [2, {MAX_PATCHES}] patches per condition; got "
                         f"--n {args.n}.")
    if gates and args.gate_on == "ci" and args.bootstrap == 0:
        raise ValueError("`--gate-on ci` needs intervals: give --bootstrap > 0.")
    if args.model and len(args.model) > 1 and args.bootstrap < 100:
        raise ValueError(f"`--bootstrap` must be >= 100 to compare models; got "
                         f"--bootstrap {args.bootstrap}.")
    rule = _rule(args)
    paths = args.model or []
    if args.dask is not None:
        check_dask_options(args)
        evalkit.check_extra("dask")
        if len(paths) > 1:
            raise ValueError("`--dask` probes one model; give one --model (or probe each).")
    if len(paths) > 1 and args.mammograms:
        raise ValueError("`--mammograms` scans one model; give one --model (or probe each).")
    if not paths or args.mammograms or any(not str(p).endswith(".onnx") for p in paths):
        evalkit.check_extra("tf")
    if any(str(p).endswith(".onnx") for p in paths):
        evalkit.check_extra("onnx")
    if not paths:
        from mcc_core import bundled_model_path

        paths = [bundled_model_path(args.resolution or 70)]
    try:
        predictors = [evalkit.as_predictor(p, resolution_um=args.resolution,
                                           resample=args.resample,
                                           trust_saved_model=args.trust_model) for p in paths]
    except ValueError as exc:  # name the option
        raise ValueError(str(exc).replace("trust_saved_model=True (mcc probe --trust-model)",
                                          "--trust-model")) from None
    if len(predictors) > 1:
        try:
            evalkit.check_pairable(predictors)
        except ValueError as exc:  # name the option
            raise ValueError(str(exc).replace("`predictors`", "`--model`")) from None
        return _compare(args, predictors, scenario, sweeps, gates,
                        _backgrounds(args, predictors[0].resolution_um, sweeps))
    model_path, predictor = paths[0], predictors[0]
    backgrounds = _backgrounds(args, predictor.resolution_um, sweeps)
    mammograms = _mammograms(args, model_path, predictor.resolution_um)
    from tqdm import tqdm

    stages = (1 + len(sweeps) + (not args.no_behaviour) + (not args.no_cross_resolution)
              + (not args.no_thresholds) + (mammograms is not None))
    froc = None
    with enter_cluster(args) as client, tqdm(total=stages, desc="probe", unit="stage") as bar:
        def advance(stage: str) -> None:  # a stage starts: the one before it is done
            if bar.postfix:
                bar.update(1)
            bar.set_postfix_str(stage)

        results = evalkit.run_probe(
            predictor, scenario, n=args.n, seed=args.seed, sweeps=sweeps,
            behaviour=not args.no_behaviour, resolutions=not args.no_cross_resolution,
            thresholds=not args.no_thresholds,
            n_bootstrap=args.bootstrap, progress=advance, backgrounds=backgrounds,
            client=client)
        if mammograms is not None:
            advance(f"scan {len(mammograms[1])} mammograms")
            import mcc_core

            froc = mcc_core.scan_froc(*mammograms, resolution_um=predictor.resolution_um,
                                      rule=rule, n_bootstrap=min(args.bootstrap, 1000))
        bar.update(1)
    verdicts = evalkit.evaluate_gates(results, gates, on=args.gate_on)
    page = evalkit.build_report(results, args.out, froc=froc, gates=verdicts)
    m = results.metrics
    print(f"{page}: accuracy {m['accuracy']:.3f}, sensitivity {m['recall']:.3f}, "
          f"specificity {m['specificity']:.3f} on {m.n} patches at {predictor.resolution_um} µm")
    if froc is not None:
        print(f"FROC on {froc.n_images} mammograms ({froc.n_clusters} clusters, "
              f"{froc.n_detections} detections): CPM {froc.cpm:.3f}")
    failed = [v for v in verdicts if not v.passed]
    for verdict in failed:
        print(verdict.line())
    if verdicts:
        print(f"{len(verdicts) - len(failed)} of {len(verdicts)} gates passed")
    return 1 if failed else 0


def _backgrounds(args: argparse.Namespace, resolution_um: int,
                 sweeps: list[tuple[str, list[Any]]]) -> Any:
    """The --backgrounds at the model's resolution (None without), checked before any work."""
    if args.spacing_um is not None:
        synth.check_spacing(args.spacing_um, "--spacing-um")
    if args.backgrounds is None:
        return None
    import evalkit

    for parameter, _ in sweeps:
        try:
            evalkit.check_background_sweep(parameter, args.backgrounds)
        except ValueError as exc:
            raise ValueError(f"`--sweep`: {exc}") from None
    try:
        return synth.load_backgrounds(args.backgrounds, resolution_um=resolution_um,
                                      spacing_um=args.spacing_um, field="--backgrounds",
                                      noise_correlation_um=args.noise_correlation_um)
    except ValueError as exc:  # name the option
        raise ValueError(str(exc).replace("`noise_correlation_um`", "`--noise-correlation-um`")
                         .replace("noise_correlation_um=", "--noise-correlation-um ")) from None


def _compare(args: argparse.Namespace, predictors: list[Any], scenario: Any,
             sweeps: list[tuple[str, list[Any]]], gates: list[Any], backgrounds: Any) -> int:
    """`mcc probe` with several --model: the paired comparison and its report."""
    from tqdm import tqdm

    import evalkit

    stages = 1 + sum(len(values) for _, values in sweeps)
    with tqdm(total=stages, desc="compare", unit="condition") as bar:
        def advance(stage: str) -> None:  # a condition starts: the one before it is done
            if bar.postfix:
                bar.update(1)
            bar.set_postfix_str(stage)

        result = evalkit.compare(predictors, scenario, n=args.n, seed=args.seed, sweeps=sweeps,
                                 n_bootstrap=args.bootstrap, progress=advance,
                                 backgrounds=backgrounds)
        bar.update(1)
    verdicts = {r.model["name"]: evalkit.evaluate_gates(r, gates, on=args.gate_on)
                for r in result.results}
    page = evalkit.build_comparison_report(result, args.out,
                                           gates={k: v for k, v in verdicts.items() if v})
    print(f"{page}: {' vs '.join(result.names)} on {args.n} patches per condition")
    for row in result.verdicts().itertuples():
        print(f"  {row.condition}: AUC {row.model_a} - {row.model_b} = {row.difference:+.3f} "
              f"({row.ci_low:+.3f} to {row.ci_high:+.3f}), p = {row.p_value:.3g}: "
              f"{row.verdict}")
    failed = [(name, v) for name, found in verdicts.items() for v in found if not v.passed]
    for name, verdict in failed:
        print(f"{name}: {verdict.line()}")
    if gates:
        total = sum(len(found) for found in verdicts.values())
        print(f"{total - len(failed)} of {total} gates passed")
    return 1 if failed else 0


def _rule(args: argparse.Namespace) -> Any:
    """The detection rule of --mammograms, checked before any model loads."""
    import evalkit

    try:
        return evalkit.DetectionRule(radius_mm=args.nms_radius_mm, hit=args.hit,
                                     distance_mm=args.hit_distance_mm)
    except ValueError as exc:  # name the options
        raise ValueError(str(exc).replace("`radius_mm`", "`--nms-radius-mm`")
                         .replace("`distance_mm`", "`--hit-distance-mm`")) from None


def _mammograms(args: argparse.Namespace, model_path: Path,
                resolution_um: int) -> tuple[Any, list[Any]] | None:
    """The model to scan with and the annotated mammograms, checked before the probe runs."""
    if args.mammograms is None:
        if args.annotations is not None:
            raise ValueError("`--annotations` needs --mammograms DIR.")
        return None
    if args.resample:
        raise ValueError("`--mammograms` cannot be scanned with --resample: mammograms are "
                         "resampled from their own spacing (--spacing-um, or a DICOM's) to "
                         "the model's resolution; drop --resample.")
    import mcc_core

    try:
        cases = mcc_core.load_mammogram_set(args.mammograms, args.annotations,
                                            spacing_um=args.spacing_um)
    except ValueError as exc:  # name the options, not the function's arguments
        raise ValueError(str(exc).replace("`mammograms`", "`--mammograms`")
                         .replace("`annotations`", "`--annotations`")) from None
    if not any(len(case.boxes) for case in cases):
        raise ValueError("`--annotations` must list at least one cluster for an FROC; got none "
                         f"for the {len(cases)} mammograms of {str(args.mammograms)!r}.")
    model, _ = load_scan_model(str(model_path), resolution_um)
    return model, cases
