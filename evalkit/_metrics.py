"""Detection metrics with seeded, vectorised bootstrap confidence intervals.

Every metric is computed by one function that works on a whole stack of resamples at once
(shape (B, N)), so the point estimate (B = 1, the data as given) and the B bootstrap replicates
share one code path. Degenerate inputs give NaN with a stated reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

COUNTS = ("tn", "fp", "fn", "tp")
RATES = (
    "accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy", "roc_auc",
    "pr_auc", "bce", "brier", "ece",
)
"""Metrics given with a confidence interval (recall is the sensitivity)."""

_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] for the cross-entropy (as Keras does)
_ECE_BINS = 10


@dataclass(frozen=True)
class Metrics:
    """Metrics of one set of predictions.

    Attributes
    ----------
    values : dict — every metric's point estimate (counts as ints, rates as floats)
    ci : dict — for each rate, (low, high) of the bootstrap percentile interval
    reasons : dict — for each NaN value, why it is undefined
    n, n_positive : int
    threshold : float — ŷ >= threshold is class 1
    confidence : float — coverage of the intervals (0.95)
    """

    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    reasons: dict[str, str]
    n: int
    n_positive: int
    threshold: float
    confidence: float
    n_bootstrap: int = field(default=0)

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: metric, value, ci_low, ci_high, note."""
        rows = []
        for name, value in self.values.items():
            low, high = self.ci.get(name, (np.nan, np.nan))
            rows.append((name, value, low, high, self.reasons.get(name, "")))
        return pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high", "note"])


def compute_metrics(y_true: object, y_prob: object, *, threshold: float = 0.5,
                    n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0) -> Metrics:
    """Confusion counts, rates, ranking and calibration metrics, with bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of shape (N,), 0/1
    y_prob : array-like of shape (N,), probabilities of class 1 in [0, 1]
    threshold : float
        ŷ >= threshold is predicted class 1 (the papers use 0.5).
    n_bootstrap : int
        Resamples (with replacement, of the N pairs) for the percentile intervals; 0 for none.
    confidence : float
    seed : int
        Seed of the resampling: the same call gives the same intervals.

    Returns
    -------
    Metrics
    """
    y, p = check_predictions(y_true, y_prob)
    threshold = _check_unit("threshold", threshold)
    confidence = _check_unit("confidence", confidence)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"`n_bootstrap` must be an integer >= 0; got n_bootstrap={n_bootstrap!r}.")
    point = _all_metrics(y[None, :], p[None, :], threshold)
    values = {k: (int(v[0]) if k in COUNTS else float(v[0])) for k, v in point.items()}
    ci: dict[str, tuple[float, float]] = {}
    if n_bootstrap and len(y):
        rows = np.random.default_rng(seed).integers(0, len(y), size=(n_bootstrap, len(y)))
        boot = _all_metrics(y[rows], p[rows], threshold)
        tail = 50.0 * (1.0 - confidence)
        for name in RATES:
            sample = boot[name][np.isfinite(boot[name])]
            if len(sample) >= 0.5 * n_bootstrap:
                low, high = np.percentile(sample, [tail, 100.0 - tail])
                ci[name] = (float(low), float(high))
            else:
                ci[name] = (np.nan, np.nan)
    return Metrics(values, ci, _reasons(values, y, p), len(y), int(y.sum()), threshold,
                   confidence, n_bootstrap)


def check_predictions(y_true: object, y_prob: object) -> tuple[np.ndarray, np.ndarray]:
    """Labels as float64 0/1 and probabilities as float64, both (N,); ValueError otherwise."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1 or len(p) != len(y):
        raise ValueError(f"`y_prob` must have shape ({len(y)},) like `y_true`; got {p.shape}.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("`y_true` must hold only 0 and 1.")
    if not np.isfinite(p).all():
        raise ValueError(f"`y_prob` holds {int((~np.isfinite(p)).sum())} NaN or infinite value(s).")
    if len(p) and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"`y_prob` must lie within [0, 1]; got values in [{p.min()}, {p.max()}].")
    return y, p


def _check_unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must lie within [0, 1]; got {name}={value!r}.")
    return float(value)


def _all_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Every metric for each row of (B, N) labels and probabilities."""
    out = _confusion(y, p >= threshold)
    for name, fn in _RANKING.items():
        out[name] = fn(y, p)
    return out


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _confusion(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    pos = y == 1
    tp = (pred & pos).sum(axis=1).astype(float)
    fn = (~pred & pos).sum(axis=1).astype(float)
    fp = (pred & ~pos).sum(axis=1).astype(float)
    tn = (~pred & ~pos).sum(axis=1).astype(float)
    recall, specificity = _div(tp, tp + fn), _div(tn, tn + fp)
    return {
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "accuracy": _div(tp + tn, tp + tn + fp + fn),
        "precision": _div(tp, tp + fp),
        "recall": recall,
        "specificity": specificity,
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": 0.5 * (recall + specificity),
    }


def _roc_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Mann–Whitney form: ties count one half (equal to the trapezoidal ROC area)."""
    ranks = rankdata(p, axis=1)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    u = (ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2
    return _div(u, n_pos * n_neg)


def _pr_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Average precision, Σ (R_k - R_{k-1}) P_k over distinct thresholds (scikit-learn's)."""
    order = np.argsort(-p, axis=1, kind="stable")
    ys = np.take_along_axis(y, order, axis=1)
    ps = np.take_along_axis(p, order, axis=1)
    tp = np.cumsum(ys, axis=1)
    seen = np.arange(1, y.shape[1] + 1)
    end = np.ones_like(ps, dtype=bool)  # last position of each group of tied scores
    end[:, :-1] = ps[:, 1:] != ps[:, :-1]
    at_end = np.where(end, tp, 0.0)
    before = np.zeros_like(tp)
    before[:, 1:] = np.maximum.accumulate(at_end, axis=1)[:, :-1]
    gain = np.where(end, tp - before, 0.0)
    return _div((gain * tp / seen).sum(axis=1), tp[:, -1] if y.shape[1] else np.zeros(len(y)))


def _bce(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    if y.shape[1] == 0:
        return np.full(len(y), np.nan)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(axis=1)


def _brier(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return ((p - y) ** 2).mean(axis=1) if y.shape[1] else np.full(len(y), np.nan)


def _ece(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Expected calibration error over 10 equal-width bins of ŷ (the last bin includes 1)."""
    b, n = y.shape
    if n == 0:
        return np.full(b, np.nan)
    bins = np.minimum((p * _ECE_BINS).astype(int), _ECE_BINS - 1)
    flat = (np.arange(b)[:, None] * _ECE_BINS + bins).ravel()
    size = b * _ECE_BINS
    conf = np.bincount(flat, p.ravel(), minlength=size).reshape(b, _ECE_BINS)
    hits = np.bincount(flat, y.ravel(), minlength=size).reshape(b, _ECE_BINS)
    return np.abs(hits - conf).sum(axis=1) / n


_RANKING: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "roc_auc": _roc_auc, "pr_auc": _pr_auc, "bce": _bce, "brier": _brier, "ece": _ece,
}


def _reasons(values: dict[str, float], y: np.ndarray, p: np.ndarray) -> dict[str, str]:
    """Why each NaN metric is undefined."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    why = {
        "recall": "no positive cases",
        "specificity": "no negative cases",
        "precision": "no positive predictions",
        "f1": "no positive cases and no positive predictions",
        "balanced_accuracy": "needs both classes",
        "roc_auc": "needs both classes",
        "pr_auc": "no positive cases",
    }
    out = {}
    for name, value in values.items():
        if isinstance(value, float) and np.isnan(value):
            out[name] = "no predictions" if len(y) == 0 else why.get(name, "undefined")
    if n_pos and n_neg and len(np.unique(p)) == 1:
        out.setdefault("roc_auc", "all predictions are equal: the ranking carries no information")
    return out


def threshold_at_specificity(y_true: object, y_prob: object, specificity: float) -> float:
    """The lowest threshold whose specificity on this (reference) data is >= `specificity`."""
    y, p = check_predictions(y_true, y_prob)
    target = _check_unit("specificity", specificity)
    negatives = np.sort(p[y == 0])
    if not len(negatives):
        raise ValueError("`y_true` of the reference condition holds no negative case.")
    # ŷ >= t is positive: specificity(t) = share of negatives strictly below t.
    k = int(np.ceil(target * len(negatives)))
    if k == 0:
        return float(negatives[0])
    return float(np.nextafter(negatives[k - 1], np.inf))


def sensitivity_at_specificity(y_true: object, y_prob: object, *, specificity: float,
                               reference: tuple[object, object] | None = None,
                               n_bootstrap: int = 1000, seed: int = 0) -> Metrics:
    """Metrics at the threshold that gives `specificity` on a reference condition.

    The threshold is fixed on `reference` (labels, probabilities) — by default these same
    predictions — and applied to (`y_true`, `y_prob`); read ``["recall"]`` for the sensitivity.
    """
    ref_true, ref_prob = reference if reference is not None else (y_true, y_prob)
    threshold = min(threshold_at_specificity(ref_true, ref_prob, specificity), 1.0)
    return compute_metrics(y_true, y_prob, threshold=threshold, n_bootstrap=n_bootstrap,
                           seed=seed)
