"""Paired comparison of two or more models on the same synthetic patches.

Every condition (the clean scenario, then each swept value) is generated once and scored by
every model, so the models see the same scenes under the same noise (the sweeps' common random
numbers make conditions paired too). For each pair of models and each condition:

- ROC AUC: the difference with DeLong's variance, its normal interval and two-sided p-value;
- sensitivity, specificity: the difference with a paired bootstrap interval (the same
  resampled patches for both models), and the p-value of an exact McNemar test on the
  decisions of the patches of that class (positives for sensitivity, negatives for
  specificity);
- accuracy: the difference with its paired bootstrap interval and McNemar's test on all
  decisions.

A verdict names the better model where p < `alpha`, else says no difference was detected.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._metrics import compute_metrics
from ._predictor import Predictor
from ._probe import ProbeResults, model_card, provenance
from ._stats import delong_test, mcnemar_test
from ._sweep import (
    check_background_sweep,
    check_backgrounds,
    condition_config,
    label,
    make_batch,
    score_condition,
    sweep_result,
)

__all__ = ["ComparisonResult", "check_pairable", "compare"]

COMPARISON_COLUMNS = ["condition", "parameter", "setting", "model_a", "model_b", "metric", "a",
                      "b", "difference", "ci_low", "ci_high", "test", "p_value", "verdict"]


@dataclass(frozen=True, kw_only=True, eq=False)
class ComparisonResult:
    """Models compared on the same patches (`compare`).

    Attributes
    ----------
    results : tuple of ProbeResults
        One per model, in the order given: its clean metrics and sweeps on the shared patches
        (no behavioural tests, cross-resolution matrix or thresholds), so `evaluate_gates`
        and `build_report` take each as they take a probe's.
    table : DataFrame
        `COMPARISON_COLUMNS`: one row per condition, pair of models and metric.
    alpha : float
        Significance level of the verdicts.
    """

    results: tuple[ProbeResults, ...]
    table: pd.DataFrame
    alpha: float

    @property
    def names(self) -> list[str]:
        return [r.model["name"] for r in self.results]

    def verdicts(self, metric: str = "roc_auc") -> pd.DataFrame:
        """One row per condition and pair: the verdict on `metric`."""
        rows = self.table[self.table["metric"] == metric]
        return rows[["condition", "model_a", "model_b", "difference", "ci_low", "ci_high",
                     "p_value", "verdict"]].reset_index(drop=True)


def compare(predictors: Sequence[Predictor], scenario: synth.SceneConfig, *, n: int, seed: int,
            sweeps: Sequence[tuple[str, Sequence[Any]]] = (), n_bootstrap: int = 1000,
            alpha: float = 0.05, progress: Callable[[str], None] | None = None,
            backgrounds: synth.Backgrounds | None = None) -> ComparisonResult:
    """Score every predictor on the same patches of each condition and test their differences
    (rules in the module docstring).

    Parameters
    ----------
    predictors : sequence of Predictor — two or more, scoring patches of one resolution
    scenario : synth.SceneConfig
    n : int — patches per condition
    seed : int — the dataset seed of every condition (and of the resampling)
    sweeps : sequence of (parameter, values)
    n_bootstrap : int — resamples for every interval (at least 100)
    alpha : float — significance level of the verdicts
    progress : callable, optional — called with the name of each stage
    backgrounds : synth.Backgrounds, optional — insert the MCs into the user's own MC-free
        images (`run_sweep`'s rule) instead of synthetic tissue

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        Naming the argument: fewer than two predictors, different patch resolutions, or a bad
        sweep — before any patch is made.

    Examples
    --------
    Two hand-made scorers, the brightest pixel and the mean grey level:

    >>> import synth
    >>> from evalkit import Predictor, compare
    >>> def scorer(fn, name):
    ...     return Predictor(fn, input_size=100, channels=1, resolution_um=100, name=name)
    >>> bright = scorer(lambda x: x.max(axis=(1, 2, 3)), "max")
    >>> mean = scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")
    >>> result = compare([bright, mean], synth.SceneConfig(), n=80, seed=0, n_bootstrap=200,
    ...                  sweeps=[("contrast", [0.3, 1.0])])
    >>> result.names, len(result.results[0].sweeps)
    (['max', 'mean'], 1)
    >>> print(result.verdicts()[["condition", "difference", "verdict"]].round(3).to_string(
    ...     index=False))
       condition  difference       verdict
           clean       0.136    max higher
    contrast=0.3       0.019 no difference
    contrast=1.0       0.164    max higher
    """
    models = check_pairable(predictors)
    first = models[0]
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"`n` must be an integer >= 2; got n={n!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 100:
        raise ValueError(f"`n_bootstrap` must be an integer >= 100; got "
                         f"n_bootstrap={n_bootstrap!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must lie in (0, 1); got alpha={alpha!r}.")
    check_backgrounds(backgrounds, first.resolution_um)
    for swept, _ in sweeps:
        check_background_sweep(swept, backgrounds)
    names = _names(models)
    conditions: list[tuple[str, str | None, Any, synth.SceneConfig]] = [
        ("clean", None, None, scenario)]
    for swept, values in sweeps:
        for value in values:
            conditions.append((f"{swept}={label(value)}", swept, value,
                               condition_config(scenario, swept, value)))
    say = progress or (lambda stage: None)
    res = first.resolution_um
    rows: list[dict[str, Any]] = []
    clean: list[tuple[Any, pd.DataFrame]] = []
    frames: dict[tuple[int, str], list[tuple[pd.DataFrame, pd.DataFrame]]] = {}
    for condition, parameter, value, config in conditions:
        say(condition)
        batch = make_batch(config, n, resolution_um=res, seed=seed, backgrounds=backgrounds)
        probs = [np.asarray(p(batch.images[..., None]), dtype=np.float64) for p in models]
        if parameter is None:
            for prob in probs:
                clean.append((compute_metrics(batch.labels, prob, n_bootstrap=n_bootstrap,
                                              seed=seed),
                              batch.patches.assign(probability=prob)))
        else:
            for k, prob in enumerate(probs):
                frames.setdefault((k, parameter), []).append(
                    score_condition(value, batch, prob, n_bootstrap=n_bootstrap, seed=seed))
        for i, j in itertools.combinations(range(len(models)), 2):
            for row in _pair_rows(batch.labels, probs[i], probs[j], names[i], names[j],
                                  n_bootstrap=n_bootstrap, seed=seed, alpha=alpha):
                rows.append({"condition": condition, "parameter": parameter or "",
                             "setting": value, **row})
    results = []
    for k, p in enumerate(models):
        sweep_results = tuple(
            sweep_result(parameter, [f for f, _ in frames[(k, parameter)]],
                         [q for _, q in frames[(k, parameter)]], seed=seed,
                         resolution_um=res, n_bootstrap=n_bootstrap)
            for parameter, _ in sweeps)
        card = {**model_card(p), "name": names[k]}
        results.append(ProbeResults(model=card, scenario=scenario.to_dict(), seed=seed, n=n,
                                    resolution_um=res, metrics=clean[k][0],
                                    predictions=clean[k][1], sweeps=sweep_results,
                                    provenance=provenance(),
                                    backgrounds=None if backgrounds is None
                                    else backgrounds.record()))
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return ComparisonResult(results=tuple(results), table=table, alpha=alpha)


def check_pairable(predictors: Sequence[Predictor]) -> list[Predictor]:
    """The predictors as a list when `compare` can pair them (two or more, scoring patches of
    one resolution; a model of another input size takes them resampled, as `as_predictor`
    with ``resample=True`` sets up); ValueError naming `predictors` otherwise.

    Examples
    --------
    >>> from evalkit import Predictor, check_pairable
    >>> a = Predictor(lambda x: x.max(axis=(1, 2, 3)), input_size=100, channels=1,
    ...               resolution_um=100, name="a")
    >>> len(check_pairable([a, a]))
    2
    >>> check_pairable([a])
    Traceback (most recent call last):
    ...
    ValueError: `predictors` must hold at least two models; got 1.
    """
    models = list(predictors)
    if len(models) < 2:
        raise ValueError(f"`predictors` must hold at least two models; got {len(models)}.")
    for p in models:
        if not isinstance(p, Predictor):
            raise ValueError(f"`predictors` must be evalkit Predictors (as_predictor); got "
                             f"{type(p).__name__}.")
    first = models[0]
    for p in models[1:]:
        if p.resolution_um != first.resolution_um:
            raise ValueError(f"`predictors` must share one resolution; got {first.name!r} at "
                             f"{first.resolution_um} µm and {p.name!r} at {p.resolution_um} µm.")
        if p.input_size != first.input_size:
            raise ValueError(f"`predictors` must take patches of one size; got {first.name!r} "
                             f"{first.input_size} px and {p.name!r} {p.input_size} px at "
                             f"{first.resolution_um} µm.")
    return models


def _names(models: Sequence[Predictor]) -> list[str]:
    """The models' names, made unique (a second model.keras becomes 'model.keras (2)')."""
    out: list[str] = []
    for p in models:
        name, k = str(p.name), 2
        while name in out:
            name = f"{p.name} ({k})"
            k += 1
        out.append(name)
    return out


def _pair_rows(y: np.ndarray, pa: np.ndarray, pb: np.ndarray, name_a: str, name_b: str, *,
               n_bootstrap: int, seed: int, alpha: float,
               threshold: float = 0.5) -> list[dict[str, Any]]:
    da, db = (pa >= threshold).astype(int), (pb >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_bootstrap, len(y)))
    yb, ab, bb = y[idx], da[idx], db[idx]

    def rate(decisions: np.ndarray, truth: np.ndarray, cls: int) -> np.ndarray:
        mask = truth == cls
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((decisions == cls) & mask).sum(axis=-1) / mask.sum(axis=-1)

    rows = []
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    for metric, cls, subset in (("recall", 1, pos), ("specificity", 0, neg)):
        a_val = float(rate(da, y, cls)) if subset.any() else float("nan")
        b_val = float(rate(db, y, cls)) if subset.any() else float("nan")
        diffs = rate(ab, yb, cls) - rate(bb, yb, cls)
        low, high = _percentile(diffs, q)
        p_value = (mcnemar_test(y[subset], da[subset], db[subset]).p_value if subset.any()
                   else float("nan"))
        rows.append(_row(metric, name_a, name_b, a_val, b_val, low, high,
                         "paired bootstrap; McNemar on this class", p_value, alpha))
    acc_a, acc_b = float((da == y).mean()), float((db == y).mean())
    diffs = (ab == yb).mean(axis=-1) - (bb == yb).mean(axis=-1)
    low, high = _percentile(diffs, q)
    rows.append(_row("accuracy", name_a, name_b, acc_a, acc_b, low, high,
                     "paired bootstrap; McNemar", mcnemar_test(y, da, db).p_value, alpha))
    if pos.any() and neg.any():
        d = delong_test(y, pa, pb, level=1 - alpha)
        rows.append(_row("roc_auc", name_a, name_b, d.auc_a, d.auc_b, d.ci_low, d.ci_high,
                         "DeLong", d.p_value, alpha))
    else:
        rows.append(_row("roc_auc", name_a, name_b, float("nan"), float("nan"), float("nan"),
                         float("nan"), "DeLong (needs both classes)", float("nan"), alpha))
    return rows


def _percentile(values: np.ndarray, q: list[float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    low, high = np.percentile(finite, q)
    return float(low), float(high)


def _row(metric: str, name_a: str, name_b: str, a: float, b: float, low: float, high: float,
         test: str, p_value: float, alpha: float) -> dict[str, Any]:
    diff = a - b
    if np.isfinite(p_value) and p_value < alpha and diff != 0:
        verdict = f"{name_a if diff > 0 else name_b} higher"
    elif np.isfinite(p_value):
        verdict = "no difference"
    else:
        verdict = "undefined"
    return {"model_a": name_a, "model_b": name_b, "metric": metric, "a": a, "b": b,
            "difference": diff, "ci_low": low, "ci_high": high, "test": test,
            "p_value": p_value, "verdict": verdict}
