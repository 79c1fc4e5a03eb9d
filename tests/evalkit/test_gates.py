import math

import numpy as np
import pandas as pd
import pytest

from evalkit import Metrics, evaluate_gates, parse_gate
from evalkit._gates import check_gates


class _Sweep:
    parameter = "contrast"
    conditions = ["0.1", "0.5"]
    metrics = pd.DataFrame({
        "condition": ["0.1", "0.1", "0.5", "0.5"],
        "metric": ["recall", "roc_auc", "recall", "roc_auc"],
        "value": [0.92, 0.97, 0.99, 0.999], "ci_low": [0.85, 0.95, 0.97, 0.99],
        "ci_high": [0.96, 0.99, 1.0, 1.0]})


class _Results:
    """A fixed report: clean sensitivity 0.93 (0.88–0.97), AUC 0.96 (0.94–0.98)."""
    metrics = Metrics(values={"recall": 0.93, "roc_auc": 0.96, "ece": math.nan},
                      ci={"recall": (0.88, 0.97), "roc_auc": (0.94, 0.98),
                          "ece": (math.nan, math.nan)},
                      reasons={}, n=100, n_positive=50, threshold=0.5, confidence=0.95)
    sweeps = (_Sweep(),)


@pytest.mark.parametrize("gate, on, passed, value", [
    ("sensitivity>=0.9", "point", True, 0.93),
    ("sensitivity>=0.9", "ci", False, 0.88),
    ("auc >= 0.95", "ci", False, 0.94),
    ("auc>0.9", "ci", True, 0.94),
    ("sensitivity@contrast=0.1>=0.9", "point", True, 0.92),
    ("sensitivity@contrast=0.1>=0.9", "ci", False, 0.85),
    ("auc@contrast=0.5<0.999", "point", False, 0.999),
    ("auc@contrast=0.5<=1", "ci", True, 1.0),
    ("ece<0.1", "point", False, math.nan),
])
def test_gates_pass_and_fail_on_a_fixed_report(gate, on, passed, value):
    (result,) = evaluate_gates(_Results(), [gate], on=on)
    assert result.passed is passed
    assert (math.isnan(result.value) and math.isnan(value)) or result.value == pytest.approx(value)
    assert ("passed" if passed else "FAILED") in result.line()


@pytest.mark.parametrize("gate, message", [
    ("recal>=0.9", "unknown metric"),
    ("sensitivity=>0.9", "must read"),
    ("sensitivity>=high", "must read"),
    ("sensitivity@dose=5>=0.9", "not swept"),
    ("sensitivity@contrast=0.3>=0.9", "not one of the swept values"),
])
def test_bad_gates_are_refused_naming_the_gate(gate, message):
    with pytest.raises(ValueError, match=message):
        check_gates([gate], {"contrast": [0.1, 0.5]})


def test_gate_parsing():
    g = parse_gate(" specificity @ density=0.8 < 0.5 ")
    assert (g.metric, g.parameter, g.value, g.op, g.limit) == ("specificity", "density", 0.8,
                                                               "<", 0.5)
    assert parse_gate("sensitivity@distribution=linear>=0.8").value == "linear"
    with pytest.raises(ValueError, match="`on`"):
        check_gates(["auc>=0.9"], {}, on="lower")
    assert np.isclose(parse_gate("auc>=9.5e-1").limit, 0.95)


def test_digits_and_capitals_in_names_and_a_parameter_swept_twice():
    assert parse_gate("F1>=0.8").metric == "f1"
    assert parse_gate("AUC@contrast=0.5>0.9").metric == "roc_auc"

    class Twice(_Results):
        second = _Sweep()
        second.conditions = ["0.9"]
        second.metrics = pd.DataFrame({"condition": ["0.9"], "metric": ["recall"],
                                       "value": [0.5], "ci_low": [0.4], "ci_high": [0.6]})
        sweeps = (_Sweep(), second)

    first, second = evaluate_gates(Twice(), ["sensitivity@contrast=0.1>=0.9",
                                             "sensitivity@contrast=0.9>=0.9"])
    assert first.passed and first.value == pytest.approx(0.92)
    assert not second.passed and second.value == pytest.approx(0.5)


def test_gates_on_intervals_need_intervals():
    class NoBootstrap(_Results):
        metrics = Metrics(values={"recall": 0.9}, ci={}, reasons={}, n=10, n_positive=5,
                          threshold=0.5, confidence=0.95, n_bootstrap=0)

    with pytest.raises(ValueError, match="need bootstrap intervals"):
        evaluate_gates(NoBootstrap(), ["sensitivity>=0.5"], on="ci")
    (result,) = evaluate_gates(_Results(), ["sensitivity>=0.9"], on="ci")
    assert "lower 95 % bound" in result.detail
