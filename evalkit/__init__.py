"""Robustness evaluation: model predictors and metrics with confidence intervals.

Paired sweeps over any scene property; more is to come (behavioural tests, reports: see the
evalkit issue). Keras, TensorFlow
and onnxruntime are imported only when a model of theirs is given to `as_predictor`."""

from ._metrics import (
    Metrics,
    compute_metrics,
    sensitivity_at_specificity,
    threshold_at_specificity,
)
from ._predictor import Predictor, as_predictor
from ._sweep import PARAMETERS, condition_config, run_sweep

__all__ = [
    "Metrics",
    "PARAMETERS",
    "Predictor",
    "as_predictor",
    "compute_metrics",
    "condition_config",
    "run_sweep",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
