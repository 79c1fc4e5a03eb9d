"""The papers' confusion-matrix metrics (accuracy, precision, recall, specificity, F1) and the
binary cross-entropy, computed with NumPy; degenerate cases give NaN, never an exception."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

__all__ = ["compute_confusion_metrics"]


def _ratio(numerator: int, denominator: int) -> float:
    """Return ``numerator / denominator``, or NaN when the denominator is 0."""
    return numerator / denominator if denominator else math.nan


def _check_binary_vector(name: str, value: object) -> np.ndarray:
    """Return ``value`` as a 1-D array; shape ``(N,)`` or ``(N, 1)`` is accepted."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must hold numbers; got {name} of dtype {array.dtype}.")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"`{name}` must have shape (N,) or (N, 1); got shape {array.shape}.")
    return array


def compute_confusion_metrics(
    y_true: Any, y_prob: Any, *, threshold: float = 0.5
) -> dict[str, float | int]:
    """Compute the papers' confusion-matrix metrics from labels and predicted probabilities.

    A sample is predicted as class 1 when ``y_prob >= threshold``. Ratios whose denominator is
    zero (for example precision when nothing is predicted positive) are NaN, never an error.
    F1 is ``2 TP / (2 TP + FP + FN)``, equal to the harmonic mean of precision and recall
    where both are defined; it is 0 when TP = 0 but FP + FN > 0.

    Parameters
    ----------
    y_true : array-like of shape (N,) or (N, 1), values in {0, 1}
        True classes.
    y_prob : array-like of shape (N,) or (N, 1), float in [0, 1]
        Predicted probabilities of class 1.
    threshold : float, optional
        Decision threshold in [0, 1]. The papers use 0.5.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``precision``, ``recall`` (sensitivity), ``specificity``, ``f1`` (floats)
        and ``tn``, ``fp``, ``fn``, ``tp`` (ints).

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If shapes differ, labels are not 0/1, probabilities are outside [0, 1] or not finite,
        or ``threshold`` is outside [0, 1].
    """
    truth = _check_binary_vector("y_true", y_true)
    prob = _check_binary_vector("y_prob", y_prob).astype(np.float64)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"`threshold` must be a float; got threshold={threshold!r}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"`threshold` must lie within [0, 1]; got threshold={threshold}.")
    if truth.shape != prob.shape:
        raise ValueError(
            f"`y_true` and `y_prob` must have the same length; got {truth.size} and {prob.size}."
        )
    if not np.isin(truth, (0, 1)).all():
        raise ValueError(f"`y_true` must hold only 0 and 1; got values {np.unique(truth)[:10]}.")
    if not (np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all()):
        raise ValueError("`y_prob` must hold finite probabilities within [0, 1].")
    positive, predicted = truth == 1, prob >= threshold
    tp = int(np.sum(positive & predicted))
    fp = int(np.sum(~positive & predicted))
    fn = int(np.sum(positive & ~predicted))
    tn = int(np.sum(~positive & ~predicted))
    return {
        "accuracy": _ratio(tp + tn, truth.size),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }


def _binary_cross_entropy(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean binary cross-entropy, with probabilities clipped like Keras (``epsilon``)."""
    if y_true.size == 0:
        return math.nan
    eps = keras.config.epsilon()
    p = np.clip(y_prob.astype(np.float64), eps, 1.0 - eps)
    return float(-np.mean(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)))
