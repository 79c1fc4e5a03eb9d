"""Robustness evaluation: model predictors and metrics with confidence intervals.

Paired sweeps over any scene property, behavioural tests, failure thresholds, the
cross-resolution matrix, FROC of whole-mammogram scans, and self-contained HTML/JSON/CSV
reports. Keras, TensorFlow and onnxruntime are imported only when a model of theirs is given
to `as_predictor`."""

from ._compare import ComparisonResult, check_pairable, compare
from ._detections import DetectionRule, detect_clusters
from ._extras import EXTRAS, MissingExtraError, check_extra, has_extra, require_extra
from ._froc import (
    DEFAULT_FP_RATES,
    FROCResult,
    ScoredImage,
    compute_detection_froc,
    compute_froc,
)
from ._gates import Gate, GateResult, check_gates, evaluate_gates, parse_gate
from ._merge import (
    MergedReport,
    build_merged_report,
    check_merged,
    merge_reports,
    render_merged,
    report_kind,
)
from ._metrics import (
    MAX_BOOTSTRAP,
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
from ._report import (
    build_comparison_report,
    build_report,
    read_report,
    render_comparison,
    render_report,
)
from ._stats import DeLongResult, McNemarResult, delong_test, mcnemar_test
from ._sweep import (
    ON_BACKGROUNDS_UNUSED,
    PARAMETERS,
    SweepResult,
    check_background_sweep,
    condition_config,
    parse_sweep_value,
    run_sweep,
)

__all__ = [
    "DEFAULT_FP_RATES",
    "MAX_BOOTSTRAP",
    "ON_BACKGROUNDS_UNUSED",
    "check_background_sweep",
    "EXTRAS",
    "MissingExtraError",
    "check_extra",
    "has_extra",
    "require_extra",
    "BehaviourResult",
    "ComparisonResult",
    "DeLongResult",
    "DetectionRule",
    "McNemarResult",
    "FROCResult",
    "Gate",
    "GateResult",
    "MergedReport",
    "Metrics",
    "PARAMETERS",
    "Predictor",
    "ProbeResults",
    "ScoredImage",
    "SweepResult",
    "as_predictor",
    "at_resolution",
    "behavioural_tests",
    "build_comparison_report",
    "build_merged_report",
    "build_report",
    "check_gates",
    "check_merged",
    "check_pairable",
    "compare",
    "compute_detection_froc",
    "compute_froc",
    "compute_metrics",
    "condition_config",
    "cross_resolution",
    "delong_test",
    "detect_clusters",
    "evaluate_gates",
    "failure_thresholds",
    "mcnemar_test",
    "merge_reports",
    "parse_gate",
    "parse_sweep_value",
    "read_report",
    "render_comparison",
    "render_merged",
    "render_report",
    "report_kind",
    "run_probe",
    "run_sweep",
    "sensitivity_at_specificity",
    "threshold_at_specificity",
]
