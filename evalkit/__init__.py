"""Robustness evaluation: model predictors and metrics with confidence intervals.

Paired sweeps over any scene property, behavioural tests, failure thresholds, the
cross-resolution matrix, FROC of whole-mammogram scans, and self-contained HTML/JSON/CSV
reports. Keras, TensorFlow and onnxruntime are imported only when a model of theirs is given
to `as_predictor`."""

from ._extras import EXTRAS, MissingExtraError, check_extra, has_extra, require_extra
from ._froc import FROCResult, ScoredImage, compute_froc
from ._metrics import (
    Metrics,
    compute_metrics,
    sensitivity_at_specificity,
    threshold_at_specificity,
)
from ._predictor import Predictor, as_predictor
from ._probe import ProbeResults, run_probe
from ._probes import (
    BehaviourResult,
    at_resolution,
    behavioural_tests,
    cross_resolution,
    failure_thresholds,
)
from ._report import build_report, render_report
from ._sweep import PARAMETERS, SweepResult, condition_config, parse_sweep_value, run_sweep

__all__ = [
    "EXTRAS",
    "MissingExtraError",
    "check_extra",
    "has_extra",
    "require_extra",
    "BehaviourResult",
    "FROCResult",
    "Metrics",
    "PARAMETERS",
    "Predictor",
    "ProbeResults",
    "ScoredImage",
    "SweepResult",
    "as_predictor",
    "at_resolution",
    "behavioural_tests",
    "build_report",
    "compute_froc",
    "compute_metrics",
    "condition_config",
    "cross_resolution",
    "failure_thresholds",
    "parse_sweep_value",
    "render_report",
    "run_probe",
    "run_sweep",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
