"""A whole robustness probe of one model: clean metrics, sweeps, behavioural tests,
cross-resolution matrix and a gallery of the worst errors, collected for the report."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._metrics import Metrics, compute_metrics
from ._predictor import Predictor
from ._probes import BehaviourResult, behavioural_tests, cross_resolution, failure_thresholds
from ._scoring import Request, Scored, Scorer
from ._sweep import (
    SweepResult,
    check_background_sweep,
    check_backgrounds,
    run_sweep,
)

_VERSIONED = ("mcc-toolkit", "numpy", "scipy", "pandas", "tensorflow", "keras", "onnxruntime")


@dataclass(frozen=True, kw_only=True, eq=False)
class ProbeResults:
    """Everything a report shows, from `run_probe`.

    Attributes
    ----------
    model : dict
        The model card: name, input, resolution_um, parameters, sha256.
    scenario : dict
        The `synth.SceneConfig` probed, as `to_dict` gives it.
    seed, n, resolution_um : int
        Dataset seed, patches of the clean condition, their pixel spacing (µm).
    metrics : Metrics
        On the clean condition.
    predictions : DataFrame
        The clean condition's patch table with each patch's ``probability``.
    sweeps : tuple of SweepResult
        One per swept parameter, in the order asked.
    behaviour : BehaviourResult or None
    cross_resolution : DataFrame or None
        resolution_um, metric, value, ci_low, ci_high, native.
    thresholds : DataFrame or None
        Per positive scene: index, threshold, found_at_high.
    gallery : tuple of dict
        The most confident errors: kind, index, probability, image, scene.
    provenance : dict
        Package versions, Python, platform.
    backgrounds : dict or None
        The user's backgrounds the clean condition and the sweeps were inserted into
        (`synth.Backgrounds.record`: every file by name and SHA-256), or None for synthetic
        tissue. The behavioural tests, the cross-resolution matrix and the thresholds run on
        synthetic tissue either way.
    """

    model: dict[str, Any]
    scenario: dict[str, Any]
    seed: int
    n: int
    resolution_um: int
    metrics: Metrics
    predictions: pd.DataFrame
    sweeps: tuple[SweepResult, ...] = ()
    behaviour: BehaviourResult | None = None
    cross_resolution: pd.DataFrame | None = None
    thresholds: pd.DataFrame | None = None
    gallery: tuple[dict[str, Any], ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    backgrounds: dict[str, Any] | None = None


def model_card(predictor: Predictor) -> dict[str, Any]:
    return {
        "name": predictor.name,
        "input": f"{predictor.model_input_size}x{predictor.model_input_size}x"
                 f"{predictor.channels}",
        "resolution_um": predictor.resolution_um,
        "parameters": predictor.n_params,
        "sha256": predictor.sha256,
    }


def run_probe(predictor: Predictor, scenario: synth.SceneConfig, *, n: int, seed: int,
              sweeps: Sequence[tuple[str, Sequence[Any]]] = (), behaviour: bool = True,
              resolutions: bool = True, thresholds: bool = True, gallery: int = 6,
              n_bootstrap: int = 1000,
              progress: Callable[[str], None] | None = None,
              backgrounds: synth.Backgrounds | None = None, client: Any = None
              ) -> ProbeResults:
    """Probe `predictor` on `scenario`: clean metrics, then each (parameter, values) sweep,
    the behavioural tests, the cross-resolution matrix and the per-scene contrast at which
    clusters are first detected (on up to 60 positive scenes; each optional).

    With `backgrounds` (`synth.load_backgrounds` at the predictor's resolution) the clean
    condition and the sweeps insert the MCs into the user's own MC-free images; the other
    stages stay on synthetic tissue.

    With `client` (a `distributed.Client`, `synth.cluster.connect`) the clean condition, the
    sweeps, the behavioural tests and the cross-resolution matrix are scored on the cluster
    (the model loaded once per worker; `predictor` from a model file or a picklable callable)
    and the results equal a local run's; the failure thresholds (60 scenes) run here.

    Examples
    --------
    >>> import synth
    >>> from evalkit import as_predictor, run_probe
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=100)
    >>> results = run_probe(predictor, synth.SceneConfig(), n=8, seed=0,
    ...                     sweeps=[("contrast", [0.2, 0.8])], behaviour=False,
    ...                     resolutions=False, thresholds=False, n_bootstrap=0)
    >>> results.metrics.n, [s.parameter for s in results.sweeps], results.behaviour is None
    (8, ['contrast'], True)
    """
    say = progress or (lambda stage: None)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"`n` must be an integer >= 2; got n={n!r}.")
    res = predictor.resolution_um
    if thresholds and scenario.patch_source != "texture":  # before any work
        raise ValueError("`thresholds` re-render single scenes, which hold no phantom: give "
                         "thresholds=False (CLI: --no-thresholds) for patch_source="
                         f"{scenario.patch_source!r}.")
    check_backgrounds(backgrounds, res)
    for parameter, _ in sweeps:
        check_background_sweep(parameter, backgrounds)
    say("clean metrics")
    scorer = Scorer(predictor, client=client, backgrounds=backgrounds)
    request = Request(scenario, n, res, seed)
    clean = scorer.score(request)
    metrics = compute_metrics(clean.labels, clean.prob, n_bootstrap=n_bootstrap, seed=seed)
    predictions = clean.patches.assign(probability=clean.prob)
    tables = []
    for parameter, values in sweeps:
        say(f"sweep {parameter}")
        tables.append(run_sweep(predictor, scenario, parameter, values, n_per_condition=n,
                                seed=seed, n_bootstrap=n_bootstrap,
                                backgrounds=backgrounds, client=client))
    say("behavioural tests") if behaviour else None
    tests = behavioural_tests(predictor, scenario, n=min(n, 200), seed=seed,
                              client=client) if behaviour else None
    say("cross-resolution") if resolutions else None
    matrix = cross_resolution(predictor, scenario, n=n, seed=seed,
                              n_bootstrap=min(n_bootstrap, 500),
                              client=client) if resolutions else None
    say("failure thresholds") if thresholds else None
    limits = failure_thresholds(predictor, scenario, n=min(n, 60), seed=seed,
                                steps=6) if thresholds else None
    return ProbeResults(
        model=model_card(predictor), scenario=scenario.to_dict(), seed=seed, n=n,
        resolution_um=res, metrics=metrics, predictions=predictions, sweeps=tuple(tables),
        behaviour=tests, cross_resolution=matrix, thresholds=limits,
        gallery=tuple(_worst(scorer, request, clean, metrics.threshold, gallery)),
        provenance=provenance(),
        backgrounds=None if backgrounds is None else backgrounds.record(),
    )


def _worst(scorer: Scorer, request: Request, batch: Scored, threshold: float, k: int
           ) -> list[dict]:
    """The k most confident false negatives and false positives, with their scene parameters."""
    out = []
    labels, prob = batch.labels, batch.prob
    for kind, mask, order in (("false negative", (labels == 1) & (prob < threshold), 1),
                              ("false positive", (labels == 0) & (prob >= threshold), -1)):
        rows = np.flatnonzero(mask)
        chosen = rows[np.argsort(order * prob[rows])][:k]
        images = scorer.images(request, batch, [int(i) for i in chosen])
        for i, image in zip(chosen, images, strict=True):
            row = batch.patches.iloc[i]
            mcs = batch.calcifications[batch.calcifications["index"] == row["index"]]
            out.append({
                "kind": kind, "index": int(row["index"]), "probability": float(prob[i]),
                "image": image, "scene": {
                    "kind": row["kind"], "distribution": row["distribution"],
                    "n_mcs": int(row["n_mcs"]),
                    **({"density": round(float(row["density"]), 3),
                        "beta": round(float(row["beta"]), 3)} if "density" in row else
                       {"background": str(row["background"]),
                        "crop_px": [int(row["row_px"]), int(row["col_px"])]}),
                    "mean_size_mm": round(float(mcs["size_mm"].mean()), 3) if len(mcs) else None,
                    "mean_contrast": round(float(mcs["contrast"].mean()), 3) if len(mcs)
                    else None,
                }})
    return out


def provenance() -> dict[str, Any]:
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"versions": versions, "python": platform.python_version(),
            "platform": platform.platform()}
