"""Robustness evaluation: metrics with confidence intervals (more to come: predictors, sweeps,
behavioural tests and reports — see the evalkit issue). Never imports TensorFlow itself."""

from ._metrics import (
    Metrics,
    compute_metrics,
    sensitivity_at_specificity,
    threshold_at_specificity,
)

__all__ = [
    "Metrics",
    "compute_metrics",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
