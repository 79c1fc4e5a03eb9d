"""Paired tests of two models on the same cases: DeLong's test on AUC and McNemar's test on
decisions.

DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837–845, with the placement values
computed from midranks as in Sun & Xu (2014), IEEE Signal Processing Letters 21:1389–1393.
McNemar (1947), Psychometrika 12:153–157, exact form: under the null the discordant pairs split
as Binomial(b + c, 1/2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, norm, rankdata

__all__ = ["DeLongResult", "McNemarResult", "delong_test", "mcnemar_test"]


@dataclass(frozen=True)
class DeLongResult:
    """AUCs of two scorings of the same cases and DeLong's test of their difference.

    Attributes
    ----------
    auc_a, auc_b : float
    difference : float — auc_a - auc_b
    variance : float — of the difference (DeLong's estimate)
    z, p_value : float — two-sided; p = 1 and z = 0 when the variance is 0 and the AUCs equal
    ci_low, ci_high : float — normal-approximation interval of the difference at `level`
    level : float
    """

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired decisions.

    Attributes
    ----------
    only_a, only_b : int — cases only model a (only model b) decides correctly
    both, neither : int
    p_value : float — two-sided exact binomial p-value (1 without discordant pairs)
    """

    only_a: int
    only_b: int
    both: int
    neither: int
    p_value: float


def placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components of one scoring: for each positive, the fraction of
    negatives it outscores (ties count half), and for each negative, the fraction of positives
    that outscore it."""
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = len(pos), len(neg)
    combined = rankdata(np.concatenate([pos, neg]))
    v10 = (combined[:m] - rankdata(pos)) / n
    v01 = 1.0 - (combined[m:] - rankdata(neg)) / m
    return v10, v01


def delong_test(y_true: object, scores_a: object, scores_b: object, *,
                level: float = 0.95) -> DeLongResult:
    """DeLong's test that two scorings of the same cases have equal ROC AUC.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores_a, scores_b : array-like of float — same length and order as `y_true`
    level : float — of the interval of the difference

    Returns
    -------
    DeLongResult

    Raises
    ------
    ValueError
        Naming the argument: lengths differ, labels are not 0/1, a class is missing, or a
        score is not finite.

    Examples
    --------
    >>> from evalkit import delong_test
    >>> r = delong_test([1, 1, 1, 0, 0], [0.9, 0.8, 0.4, 0.7, 0.3], [0.9, 0.8, 0.4, 0.3, 0.2])
    >>> round(r.auc_a, 4), round(r.auc_b, 4), round(r.variance, 4), round(r.p_value, 3)
    (0.8333, 1.0, 0.0556, 0.48)
    """
    y, a, b = _paired("scores_a", y_true, scores_a, scores_b)
    if not 0 < level < 1:
        raise ValueError(f"`level` must lie in (0, 1); got level={level!r}.")
    m, n = int((y == 1).sum()), int((y == 0).sum())
    if m == 0 or n == 0:
        raise ValueError(f"`y_true` must hold both classes; got {m} positives and {n} "
                         "negatives.")
    (a10, a01), (b10, b01) = placements(y, a), placements(y, b)
    auc = np.array([a10.mean(), b10.mean()])
    s10 = np.cov(np.vstack([a10, b10])) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack([a01, b01])) if n > 1 else np.zeros((2, 2))
    s = s10 / m + s01 / n
    diff = float(auc[0] - auc[1])
    var = float(max(s[0, 0] + s[1, 1] - 2.0 * s[0, 1], 0.0))
    if var > 0:
        z = diff / np.sqrt(var)
        p = float(2.0 * norm.sf(abs(z)))
    else:
        z, p = 0.0 if diff == 0 else float(np.sign(diff) * np.inf), 1.0 if diff == 0 else 0.0
    half = float(norm.ppf(0.5 + level / 2.0) * np.sqrt(var))
    return DeLongResult(float(auc[0]), float(auc[1]), diff, var, float(z), p, diff - half,
                        diff + half, level)


def mcnemar_test(y_true: object, decisions_a: object, decisions_b: object) -> McNemarResult:
    """McNemar's exact test that two classifiers of the same cases are equally accurate.

    Parameters
    ----------
    y_true, decisions_a, decisions_b : array-like of 0/1, same length and order

    Returns
    -------
    McNemarResult

    Examples
    --------
    Model a alone is right on 10 cases, model b alone on 2:

    >>> from evalkit import mcnemar_test
    >>> y = [1] * 12 + [0] * 3
    >>> a = [1] * 10 + [0] * 2 + [0] * 3
    >>> b = [0] * 10 + [1] * 2 + [0] * 3
    >>> r = mcnemar_test(y, a, b)
    >>> r.only_a, r.only_b, r.both, r.neither, round(r.p_value, 5)
    (10, 2, 3, 0, 0.03857)
    """
    y, a, b = _paired("decisions_a", y_true, decisions_a, decisions_b)
    for name, d in (("decisions_a", a), ("decisions_b", b)):
        if not np.isin(d, (0, 1)).all():
            raise ValueError(f"`{name}` must hold 0/1 decisions; got values "
                             f"{sorted(set(np.unique(d).tolist()) - {0, 1})[:3]}.")
    right_a, right_b = a == y, b == y
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    both = int((right_a & right_b).sum())
    neither = int((~right_a & ~right_b).sum())
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return McNemarResult(only_a, only_b, both, neither, min(p, 1.0))


def _paired(name: str, y_true: object, first: object, second: object
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    other = name.replace("_a", "_b")
    y = np.asarray(y_true)
    arrays = []
    for label, values in ((name, first), (other, second)):
        try:
            v = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"`{label}` must be numbers; got {type(values).__name__}.") from None
        if v.shape != y.shape or v.ndim != 1:
            raise ValueError(f"`{label}` must have the shape of `y_true` {y.shape}; got "
                             f"{v.shape}.")
        if not np.isfinite(v).all():
            raise ValueError(f"`{label}` must be finite; got {int((~np.isfinite(v)).sum())} "
                             "NaN or infinite values.")
        arrays.append(v)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("`y_true` must be a 1-D array of 0/1 labels.")
    return y.astype(int), arrays[0], arrays[1]
