"""Robustness evaluation: model predictors and metrics with confidence intervals.

More is to come (sweeps, behavioural tests, reports: see the evalkit issue). Keras, TensorFlow
and onnxruntime are imported only when a model of theirs is given to `as_predictor`."""

from ._metrics import (
    Metrics,
    compute_metrics,
    sensitivity_at_specificity,
    threshold_at_specificity,
)
from ._predictor import Predictor, as_predictor

__all__ = [
    "Metrics",
    "Predictor",
    "as_predictor",
    "compute_metrics",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
