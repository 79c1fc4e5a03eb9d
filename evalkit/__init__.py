"""Robustness evaluation: model predictors and metrics with confidence intervals.

Paired sweeps over any scene property, behavioural tests, failure thresholds and the
cross-resolution matrix; reports are still to come (see the evalkit issue). Keras, TensorFlow
and onnxruntime are imported only when a model of theirs is given to `as_predictor`."""

from ._metrics import (
    Metrics,
    compute_metrics,
    sensitivity_at_specificity,
    threshold_at_specificity,
)
from ._predictor import Predictor, as_predictor
from ._probes import at_resolution, behavioural_tests, cross_resolution, failure_thresholds
from ._sweep import PARAMETERS, condition_config, run_sweep

__all__ = [
    "Metrics",
    "PARAMETERS",
    "Predictor",
    "as_predictor",
    "at_resolution",
    "behavioural_tests",
    "compute_metrics",
    "condition_config",
    "cross_resolution",
    "failure_thresholds",
    "run_sweep",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
