"""The study's statistics, from predictions alone (Keras-free, NumPy and SciPy).

Each evaluation — one arm, one seed, one test set — gets the papers' metrics with 95 %
bootstrap intervals (:func:`evalkit.compute_metrics`) and a breakdown of its hit rate by
finding (cluster, hard negative with 1 or 2+ MCs, negative), by detectability d′ and by MC
size, each rate with its exact (Clopper–Pearson) interval. Two arms tested on the same
patches are compared per seed by McNemar's exact test on their decisions and DeLong's test
on their AUCs (:func:`evalkit.mcnemar_test`, :func:`evalkit.delong_test`), and once across
seeds by a paired bootstrap over the test patches of the seed-mean difference
(:func:`compute_paired_bootstrap`), Holm-corrected across the study (:func:`holm`). The
seed-mean metrics get their intervals from the same bootstrap over patches
(:func:`compute_seed_mean_ci`), the breakdowns are of the seed-mean decision
(:func:`compute_consensus_breakdown`): n is always the number of test patches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

import evalkit

__all__ = ["BREAKDOWN_BINS", "METRICS", "compare_pair", "compute_consensus_breakdown",
           "compute_paired_bootstrap", "compute_seed_mean_ci", "evaluate", "holm", "summarise"]

METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "bce")
"""Metrics of every evaluation (recall is the sensitivity; bce the test loss)."""
COUNTS = ("tn", "fp", "fn", "tp")
FINDINGS = ("cluster", "hard_negative_1", "hard_negative_2", "negative")
BREAKDOWN_BINS: dict[str, tuple[float, ...]] = {
    "dprime": (0.0, 5.0, 10.0, 20.0, 40.0, math.inf),
    "size_mm": (0.0, 0.2, 0.3, 0.45, 1.0),
}
"""Bin edges of the d′ and MC-size breakdowns (d′ of the k-th most detectable MC inside a
cluster patch, of the most detectable MC of a hard negative; median size of the MCs inside).
The d′ bins are wide at the top: the median cluster d′ of the default scenes is about 26."""


def _num(value: Any) -> float | None:
    """A JSON number: NaN becomes None."""
    number = float(value)
    return None if math.isnan(number) else number


def _rate(correct: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"n": 0, "correct": 0, "rate": None, "low": None, "high": None}
    ci = binomtest(correct, n).proportion_ci(0.95, method="exact")
    return {"n": n, "correct": correct, "rate": correct / n, "low": float(ci.low),
            "high": float(ci.high)}


def _label(edges: Sequence[float], i: int) -> str:
    low, high = edges[i], edges[i + 1]
    return f">= {low:g}" if math.isinf(high) else f"{low:g}–{high:g}"


def breakdown(y: np.ndarray, prob: np.ndarray, truth: pd.DataFrame) -> list[dict[str, Any]]:
    """Hit rates per group: ``by`` (finding, dprime, size_mm), ``finding``, ``group`` and
    `_rate`'s fields; a cluster's hit is a detection, a negative's a correct rejection."""
    correct = (prob >= 0.5).astype(int) == y
    rows: list[dict[str, Any]] = []
    finding = truth["finding"].to_numpy()
    for name in FINDINGS:
        chosen = finding == name
        rows.append({"by": "finding", "finding": name, "group": name,
                     **_rate(int(correct[chosen].sum()), int(chosen.sum()))})
    columns = {"dprime": {"cluster": "dprime_k", "hard_negative": "dprime_max"},
               "size_mm": {"cluster": "size_mm", "hard_negative": "size_mm"}}
    for by, edges in BREAKDOWN_BINS.items():
        for name, column in columns[by].items():
            members = finding == "cluster" if name == "cluster" else np.char.startswith(
                finding.astype(str), "hard_negative")
            values = truth[column].to_numpy(np.float64)
            for i in range(len(edges) - 1):
                chosen = members & (values >= edges[i]) & (values < edges[i + 1])
                rows.append({"by": by, "finding": name, "group": _label(edges, i),
                             **_rate(int(correct[chosen].sum()), int(chosen.sum()))})
    return rows


def evaluate(y: np.ndarray, prob: np.ndarray, truth: pd.DataFrame, *, n_bootstrap: int
             ) -> dict[str, Any]:
    """One evaluation's record: ``n``, ``counts``, ``metrics`` (name → value, low, high) and
    ``breakdown``."""
    metrics = evalkit.compute_metrics(y, prob, threshold=0.5, n_bootstrap=n_bootstrap, seed=0)
    values = {}
    for name in METRICS:
        low, high = metrics.ci.get(name, (math.nan, math.nan))
        values[name] = {"value": _num(metrics[name]), "low": _num(low), "high": _num(high)}
    return {"n": int(len(y)), "counts": {k: int(metrics[k]) for k in COUNTS},
            "metrics": values, "breakdown": breakdown(y, prob, truth)}


def compare_pair(y: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray) -> dict[str, Any]:
    """McNemar on the decisions (ŷ >= 0.5) and DeLong on the AUCs of two arms, same patches."""
    dec_a, dec_b = (prob_a >= 0.5).astype(int), (prob_b >= 0.5).astype(int)
    mc = evalkit.mcnemar_test(y, dec_a, dec_b)
    out: dict[str, Any] = {
        "accuracy_a": float(np.mean(dec_a == y)), "accuracy_b": float(np.mean(dec_b == y)),
        "only_a": mc.only_a, "only_b": mc.only_b, "mcnemar_p": mc.p_value,
        "auc_a": None, "auc_b": None, "auc_difference": None, "delong_p": None}
    if 0 < y.sum() < len(y):
        dl = evalkit.delong_test(y, prob_a, prob_b)
        out.update(auc_a=dl.auc_a, auc_b=dl.auc_b, auc_difference=dl.difference,
                   delong_p=dl.p_value)
    out["accuracy_difference"] = out["accuracy_a"] - out["accuracy_b"]
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Across seeds, per (model, label): the mean and the per-seed values of every metric."""
    out = []
    keys = sorted({(r["model"], r["label"]) for r in rows}, key=lambda k: _order(rows, k))
    for model, label in keys:
        group = sorted((r for r in rows if (r["model"], r["label"]) == (model, label)),
                       key=lambda r: r["seed"])
        metrics = {}
        for name in METRICS:
            seeds = [r["metrics"][name]["value"] for r in group]
            finite = [v for v in seeds if v is not None]
            metrics[name] = {"mean": float(np.mean(finite)) if finite else None,
                             "per_seed": seeds}
        out.append({"model": model, "label": label, "test": group[0]["test"],
                    "seeds": [r["seed"] for r in group], "metrics": metrics})
    return out


def _order(rows: list[dict[str, Any]], key: tuple[str, str]) -> int:
    return next(i for i, r in enumerate(rows) if (r["model"], r["label"]) == key)


# --- aggregate statistics across seeds: one test per comparison, CIs over test patches ---

def _resample_weights(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """How often each of `n` patches appears in each of `n_bootstrap` resamples, (B, n)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(np.float64)


def _weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (ties count one half) of `score` under each row of `weights`, shape (B,);
    NaN where a resample lacks a class."""
    order = np.argsort(score, kind="stable")
    s, pos = score[order], y[order] == 1
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, np.diff(s) != 0])
    w_pos = np.add.reduceat(w * pos, starts, axis=1)
    w_neg = np.add.reduceat(w * ~pos, starts, axis=1)
    below = np.cumsum(w_neg, axis=1) - w_neg
    total = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w_pos * (below + 0.5 * w_neg)).sum(axis=1) / total,
                        np.nan)


def _check_probs(y: np.ndarray, probs: np.ndarray, name: str) -> np.ndarray:
    array = np.atleast_2d(np.asarray(probs, np.float64))
    if array.ndim != 2 or array.shape[1] != len(y):
        raise ValueError(f"`{name}` must be of shape (seeds, {len(y)}); got {array.shape}.")
    return array


def compute_seed_mean_metric(y: np.ndarray, probs: np.ndarray, metric: str,
                             weights: np.ndarray) -> np.ndarray:
    """The mean over seeds of `metric` (accuracy, recall, specificity, f1, roc_auc) of each
    row of `probs` (seeds, N) under each resample of `weights` (B, N), shape (B,); the first
    resample may be all ones (the sample itself)."""
    y = np.asarray(y, np.int64)
    per_seed = []
    for prob in probs:
        if metric == "roc_auc":
            per_seed.append(_weighted_auc(y, prob, weights))
            continue
        dec = prob >= 0.5
        tp, fp = weights @ (dec & (y == 1)), weights @ (dec & (y == 0))
        fn, tn = weights @ (~dec & (y == 1)), weights @ (~dec & (y == 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            value = {"accuracy": (tp + tn) / (tp + tn + fp + fn), "recall": tp / (tp + fn),
                     "specificity": tn / (tn + fp), "f1": 2 * tp / (2 * tp + fp + fn)}[metric]
        per_seed.append(value)
    return np.mean(per_seed, axis=0)


def _interval(sample: float, draws: np.ndarray) -> tuple[float | None, float | None]:
    finite = draws[np.isfinite(draws)]
    if not math.isfinite(sample) or len(finite) == 0:
        return None, None
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


def compute_seed_mean_ci(y: np.ndarray, probs: np.ndarray, *, metrics: Sequence[str],
                         n_bootstrap: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Each metric's seed mean with a 95 % interval from a bootstrap over the test patches.

    Every resample draws the patches once and scores all seeds on it, so the interval is of
    the seed-mean metric with n = patches (not seeds × patches). A proportion (accuracy,
    recall, specificity) gets the hull of that interval and the exact Clopper–Pearson
    interval of the seed mean (k = round(mean × n) of its n patches), so an arm right on
    every patch gets [0.99…, 1], never a collapsed [1, 1].

    Parameters
    ----------
    y : ndarray of shape (N,), int in {0, 1}
    probs : ndarray of shape (seeds, N), float in [0, 1]
    metrics : sequence of str
    n_bootstrap, seed : int

    Returns
    -------
    dict
        metric → ``{"mean", "low", "high"}`` (None where undefined).
    """
    y = np.asarray(y, np.int64)
    probs = _check_probs(y, probs, "probs")
    weights = np.vstack([np.ones(len(y)), _resample_weights(len(y), n_bootstrap, seed)])
    out: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        draws = compute_seed_mean_metric(y, probs, metric, weights)
        sample = float(draws[0])
        low, high = _interval(sample, draws[1:])
        denominator = {"accuracy": len(y), "recall": int((y == 1).sum()),
                       "specificity": int((y == 0).sum())}.get(metric)
        if denominator and low is not None and high is not None:
            exact = _rate(int(round(sample * denominator)), denominator)
            low, high = min(low, exact["low"]), max(high, exact["high"])
        out[metric] = {"mean": _num(sample), "low": low, "high": high}
    return out


def compute_paired_bootstrap(y: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, *,
                             n_bootstrap: int, seed: int = 0) -> dict[str, Any]:
    """One test of arm a against arm b across seeds, on the same test patches.

    The statistic is the seed-mean difference a − b of accuracy and of ROC AUC; each
    bootstrap resample draws the test patches once and uses that draw for both arms and
    every seed (the pairing). Two-sided p = min(1, 2 (min(#Δ* ≤ 0, #Δ* ≥ 0) + 1) / (B + 1)).

    Parameters
    ----------
    y : ndarray of shape (N,), int in {0, 1}
    probs_a, probs_b : ndarray of shape (seeds, N)
        Seed *s* of a is paired with seed *s* of b.
    n_bootstrap, seed : int

    Returns
    -------
    dict
        ``n_patches``, ``n_seeds`` and, per ``accuracy`` and ``roc_auc``: ``a``, ``b`` (seed
        means), ``delta``, ``low``, ``high`` (95 % percentile interval) and ``p``.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1] * 25)
    >>> same = compute_paired_bootstrap(y, [y * 0.8], [y * 0.8], n_bootstrap=200)
    >>> same["accuracy"]["delta"], same["accuracy"]["p"]
    (0.0, 1.0)
    """
    y = np.asarray(y, np.int64)
    a, b = _check_probs(y, probs_a, "probs_a"), _check_probs(y, probs_b, "probs_b")
    if a.shape != b.shape:
        raise ValueError(f"`probs_a` and `probs_b` must have one shape; got {a.shape} and "
                         f"{b.shape}.")
    weights = np.vstack([np.ones(len(y)), _resample_weights(len(y), n_bootstrap, seed)])
    out: dict[str, Any] = {"n_patches": int(len(y)), "n_seeds": int(len(a))}
    for metric in ("accuracy", "roc_auc"):
        va = compute_seed_mean_metric(y, a, metric, weights)
        vb = compute_seed_mean_metric(y, b, metric, weights)
        diff = va - vb
        sample, draws = float(diff[0]), diff[1:][np.isfinite(diff[1:])]
        if not math.isfinite(sample) or len(draws) == 0:
            out[metric] = {"a": _num(va[0]), "b": _num(vb[0]), "delta": None, "low": None,
                           "high": None, "p": None}
            continue
        low, high = _interval(sample, draws)
        tail = min(int((draws <= 0).sum()), int((draws >= 0).sum()))
        p = min(1.0, 2 * (tail + 1) / (len(draws) + 1))
        out[metric] = {"a": float(va[0]), "b": float(vb[0]), "delta": sample, "low": low,
                       "high": high, "p": p}
    return out


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error), None kept as None.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, None])
    [0.03, 0.06, 0.06, None]
    """
    known = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(known)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(known)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def compute_consensus_breakdown(y: np.ndarray, probs: np.ndarray, truth: pd.DataFrame
                                ) -> list[dict[str, Any]]:
    """`breakdown` of the seed-mean decision: a patch is called positive when at least half
    of the seeds call it positive (majority vote, ties positive), so every rate is over the
    test patches (n = patches, not seeds × patches), with its exact interval."""
    y = np.asarray(y, np.int64)
    probs = _check_probs(y, probs, "probs")
    vote = (probs >= 0.5).mean(axis=0)
    return breakdown(y, (vote >= 0.5).astype(np.float64), truth)
