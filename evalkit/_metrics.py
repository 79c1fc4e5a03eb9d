"""Detection metrics with seeded, vectorised bootstrap confidence intervals.

Every metric is computed by one function that works on a whole stack of resamples at once
(shape (B, N)), so the point estimate (the data as given) and the bootstrap replicates share
one code path; `scipy.stats.bootstrap` draws the paired resamples and turns them into
intervals. Degenerate inputs give NaN with a stated reason, never an exception.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import DegenerateDataWarning, bootstrap, rankdata

COUNTS = ("tn", "fp", "fn", "tp")
RATES = (
    "accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy", "roc_auc",
    "pr_auc", "bce", "brier", "ece",
)
"""Metrics given with a confidence interval (recall is the sensitivity)."""
_BCA_RATES = ("accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy",
              "bce", "brier")
"""Rates whose interval is BCa: proportions (skewed near 0 and 1) and smooth means, for which
the jackknife BCa needs costs O(N) per left-out case."""
_PERCENTILE_RATES = ("roc_auc", "pr_auc", "ece")
"""Rates whose interval is the percentile one: the ranking metrics (a jackknife would sort
N - 1 scores N times, doubling the cost) and the binned, upward-biased ECE, whose BCa
correction can push the whole interval below the estimate."""
MAX_BOOTSTRAP = 100_000
"""The most resamples an interval takes (10,000 already fix a 95 % bound to about ±0.002)."""
_CELLS = 2_000_000  # resampled values per vectorised call: bounds memory for large N

_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] for the cross-entropy (as Keras does)
_ECE_BINS = 10


@dataclass(frozen=True)
class Metrics:
    """Metrics of one set of predictions.

    Attributes
    ----------
    values : dict — every metric's point estimate (counts as ints, rates as floats)
    ci : dict — for each rate, (low, high) of its bootstrap interval (see `compute_metrics`)
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
        Resamples (with replacement, of the N (label, probability) pairs) for the intervals;
        0 for none.
    confidence : float
        Coverage of the intervals.
    seed : int
        Seed of the resampling: the same call gives the same intervals.

    Returns
    -------
    Metrics

    Notes
    -----
    The intervals come from `scipy.stats.bootstrap` (paired, vectorised): BCa for the
    proportions, the cross-entropy and the Brier score; percentile for ROC AUC, PR AUC and
    ECE. Where BCa is undefined (every resample gives the same value, or the metric is
    undefined on some resamples or jackknife samples), the interval is the percentile one of
    the resamples on which the metric is defined, and NaN when fewer than half are.

    Examples
    --------
    >>> from evalkit import compute_metrics
    >>> m = compute_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], n_bootstrap=0)
    >>> (m["tn"], m["fp"], m["fn"], m["tp"])
    (1, 1, 1, 1)
    >>> m["accuracy"], m["roc_auc"]
    (0.5, 0.75)
    >>> y = [0, 1] * 20
    >>> p = [0.2, 0.7] * 18 + [0.6, 0.4] * 2
    >>> m = compute_metrics(y, p, n_bootstrap=200, seed=0)
    >>> m["accuracy"]
    0.9
    >>> low, high = m.ci["accuracy"]
    >>> bool(0.75 < low < 0.9 < high <= 1.0)
    True
    >>> compute_metrics(y, p, n_bootstrap=200, seed=0).ci == m.ci  # seeded
    True
    """
    y, p = check_predictions(y_true, y_prob)
    threshold = _check_unit("threshold", threshold)
    confidence = _check_unit("confidence", confidence)
    if (isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0
            or n_bootstrap > MAX_BOOTSTRAP):
        raise ValueError(f"`n_bootstrap` must be an integer in [0, {MAX_BOOTSTRAP}]; got "
                         f"n_bootstrap={n_bootstrap!r}.")
    point = _all_metrics(y[None, :], p[None, :], threshold)
    values = {k: (int(v[0]) if k in COUNTS else float(v[0])) for k, v in point.items()}
    ci: dict[str, tuple[float, float]] = {}
    if n_bootstrap and len(y):
        ci = _intervals(y, p, threshold, n_bootstrap=n_bootstrap, confidence=confidence,
                        rng=np.random.default_rng(seed))
    return Metrics(values, ci, _reasons(values, y, p), len(y), int(y.sum()), threshold,
                   confidence, n_bootstrap)


def _intervals(y: np.ndarray, p: np.ndarray, threshold: float, *, n_bootstrap: int,
               confidence: float, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """Each rate's bootstrap interval: BCa for `_BCA_RATES`, percentile for the others."""
    if len(y) < 2:  # one case: nothing to resample
        return {name: (np.nan, np.nan) for name in RATES}
    ci = {}
    for names, method in ((_BCA_RATES, "BCa"), (_PERCENTILE_RATES, "percentile")):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", DegenerateDataWarning)  # NaN intervals: see below
            res = bootstrap((y, p), _statistic(names, threshold), n_resamples=n_bootstrap,
                            batch=max(1, _CELLS // len(y)), vectorized=True, paired=True,
                            confidence_level=confidence, method=method, rng=rng)
        low, high = res.confidence_interval
        for k, name in enumerate(names):
            ci[name] = _interval(low[k], high[k], res.bootstrap_distribution[k], confidence)
    return {name: ci[name] for name in RATES}


def _statistic(names: Sequence[str], threshold: float) -> Callable[..., np.ndarray]:
    """The rates `names` of labels and probabilities of shape (N,) or (B, N), stacked first."""
    def statistic(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        y2, p2 = np.atleast_2d(y), np.atleast_2d(p)
        rates = _confusion(y2, p2 >= threshold) if set(names) & set(_CONFUSION_RATES) else {}
        out = np.stack([rates[n] if n in rates else _RANKING[n](y2, p2) for n in names])
        return out[:, 0] if np.ndim(y) == 1 else out

    return statistic


def _interval(low: float, high: float, replicates: np.ndarray,
              confidence: float) -> tuple[float, float]:
    """scipy's interval, or where it is NaN the percentile interval of the finite replicates
    (NaN when fewer than half of them are finite)."""
    if np.isfinite(low) and np.isfinite(high):
        return float(low), float(high)
    finite = replicates[np.isfinite(replicates)]
    if len(finite) < 0.5 * len(replicates):
        return np.nan, np.nan
    tail = 50.0 * (1.0 - confidence)
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


def check_predictions(y_true: object, y_prob: object) -> tuple[np.ndarray, np.ndarray]:
    """Labels as float64 0/1 and probabilities as float64, both (N,); ValueError otherwise."""
    y, p = _numeric("y_true", y_true), _numeric("y_prob", y_prob)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"`y_true` must have shape (N,) or (N, 1); got shape {y.shape}.")
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


def _numeric(name: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must hold numbers; got {name} of dtype {array.dtype}.")
    return array.astype(np.float64)


def _check_unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number; got {name}={value!r}.")
    if not 0 <= value <= 1:
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


_CONFUSION_RATES = ("accuracy", "precision", "recall", "specificity", "f1",
                    "balanced_accuracy")


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
    if y.shape[1] == 0:
        return np.full(len(y), np.nan)
    q = np.clip(np.where(y == 1, p, 1 - p), _EPS, 1 - _EPS)  # probability of the true class
    return -np.log(q).mean(axis=1)


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
    """The lowest threshold whose specificity on this (reference) data is >= `specificity`.

    Examples
    --------
    >>> from evalkit import threshold_at_specificity
    >>> t = threshold_at_specificity([0, 0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.9], 0.75)
    >>> bool(0.3 < t < 0.3 + 1e-12)  # just above the third negative: 3 of 4 fall below
    True
    """
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

    Examples
    --------
    >>> from evalkit import sensitivity_at_specificity
    >>> m = sensitivity_at_specificity([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.25, 0.9],
    ...                                specificity=0.75, n_bootstrap=0)
    >>> m["specificity"], m["recall"]
    (0.75, 0.5)
    """
    ref_true, ref_prob = reference if reference is not None else (y_true, y_prob)
    threshold = min(threshold_at_specificity(ref_true, ref_prob, specificity), 1.0)
    return compute_metrics(y_true, y_prob, threshold=threshold, n_bootstrap=n_bootstrap,
                           seed=seed)
