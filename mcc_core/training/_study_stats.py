"""The study's statistics, from predictions alone (Keras-free, NumPy and SciPy).

Each evaluation — one arm, one seed, one test set — gets the papers' metrics with 95 %
bootstrap intervals (:func:`evalkit.compute_metrics`) and a breakdown of its hit rate by
finding (cluster, hard negative with 1 or 2 MCs, negative), by detectability d′ and by MC
size, each rate with its exact (Clopper–Pearson) interval. Two arms tested on the same
patches are compared per seed by McNemar's exact test on their decisions and DeLong's test
on their AUCs (:func:`evalkit.mcnemar_test`, :func:`evalkit.delong_test`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

import evalkit

__all__ = ["BREAKDOWN_BINS", "METRICS", "compare_pair", "evaluate", "summarise"]

METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "bce")
"""Metrics of every evaluation (recall is the sensitivity; bce the test loss)."""
COUNTS = ("tn", "fp", "fn", "tp")
FINDINGS = ("cluster", "hard_negative_1", "hard_negative_2", "negative")
BREAKDOWN_BINS: dict[str, tuple[float, ...]] = {
    "dprime": (0.0, 2.0, 5.0, 10.0, 20.0, math.inf),
    "size_mm": (0.0, 0.2, 0.3, 0.45, 1.0),
}
"""Bin edges of the d′ and MC-size breakdowns (d′ of the k-th most detectable MC inside a
cluster patch, of the most detectable MC of a hard negative; median size of the MCs inside)."""


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
