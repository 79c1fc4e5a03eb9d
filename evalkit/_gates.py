"""Pass/fail gates on a probe's results, for CI: ``sensitivity@contrast=0.1>=0.9``.

Grammar (spaces ignored)::

    gate      := metric [ "@" parameter "=" value ] op number
    op        := ">=" | ">" | "<=" | "<"
    metric    := a rate of `evalkit.compute_metrics` (accuracy, precision, recall,
                 specificity, f1, balanced_accuracy, roc_auc, pr_auc, bce, brier, ece), or
                 the aliases sensitivity (recall) and auc (roc_auc)
    parameter := a parameter swept in the probe; value: one of its conditions

Without a condition a gate reads the clean condition's metrics. A gate is evaluated on the
point estimate (``on="point"``) or on the bound of the confidence interval that must clear the
limit (``on="ci"``: the lower bound for ``>=``/``>``, the upper one for ``<=``/``<``), so
"sensitivity >= 0.9 on ci" means the data support the claim, not just the estimate.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ._metrics import RATES
from ._sweep import parse_sweep_value

__all__ = ["Gate", "GateResult", "check_gates", "evaluate_gates", "parse_gate"]

ALIASES = {"sensitivity": "recall", "auc": "roc_auc"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
GATE_ON = ("point", "ci")
_PATTERN = re.compile(r"^(?P<metric>[A-Za-z][A-Za-z0-9_]*)"
                      r"(?:@(?P<parameter>[A-Za-z][A-Za-z0-9_]*)=(?P<value>[^<>=]+))?"
                      r"(?P<op>>=|<=|>|<)(?P<limit>[-+0-9.eE]+)$")


@dataclass(frozen=True)
class Gate:
    """One parsed gate (see the module docstring)."""

    text: str
    metric: str
    op: str
    limit: float
    parameter: str | None = None
    value: Any = None


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict: the value it read (the estimate or the CI bound) and why."""

    gate: str
    metric: str
    condition: str
    on: str
    value: float
    limit: float
    passed: bool
    detail: str

    def line(self) -> str:
        """One line for a terminal or a CI log."""
        verdict = "passed" if self.passed else "FAILED"
        return f"gate {self.gate!r} {verdict}: {self.detail}"


def parse_gate(text: str) -> Gate:
    """Parse one gate; ValueError naming it when it does not follow the grammar.

    Examples
    --------
    >>> from evalkit import parse_gate
    >>> parse_gate("sensitivity@contrast=0.1>=0.9")
    Gate(text='sensitivity@contrast=0.1>=0.9', metric='recall', op='>=', limit=0.9, \
parameter='contrast', value=0.1)
    >>> parse_gate("auc > 0.95").metric
    'roc_auc'
    """
    if not isinstance(text, str):
        raise ValueError(f"a gate must be text; got {text!r}.")
    compact = re.sub(r"\s+", "", text)
    match = _PATTERN.match(compact)
    if match is None:
        raise ValueError(f"gate {text!r} must read METRIC[@PARAMETER=VALUE]OP NUMBER with OP "
                         "one of >=, >, <=, <, e.g. 'sensitivity@contrast=0.1>=0.9'.")
    name = match["metric"].lower()
    metric = ALIASES.get(name, name)
    if metric not in RATES:
        raise ValueError(f"gate {text!r}: unknown metric {name!r}; use one of "
                         f"{sorted([*RATES, *ALIASES])}.")
    try:
        limit = float(match["limit"])
    except ValueError:
        raise ValueError(f"gate {text!r}: the limit {match['limit']!r} is not a number.") from None
    if not math.isfinite(limit):
        raise ValueError(f"gate {text!r}: the limit must be finite.")
    value = None if match["parameter"] is None else parse_sweep_value(match["value"])
    return Gate(compact, metric, match["op"], limit, match["parameter"], value)


def check_gates(gates: Sequence[str | Gate], swept: Mapping[str, Sequence[Any]],
                on: str = "point") -> list[Gate]:
    """Parse `gates` and check each condition names a swept parameter and one of its values
    (`swept`: parameter → values), before any model runs; ValueError naming the gate.

    Examples
    --------
    >>> from evalkit import check_gates
    >>> [g.metric for g in check_gates(["auc>=0.9", "recall@dose=1e5>0.8"], {"dose": [1e5]})]
    ['roc_auc', 'recall']
    >>> check_gates(["auc@dose=3>=0.9"], {"dose": [1e5]})
    Traceback (most recent call last):
    ...
    ValueError: gate 'auc@dose=3>=0.9': dose=3 is not one of the swept values [100000.0].
    """
    if on not in GATE_ON:
        raise ValueError(f"`on` must be one of {GATE_ON}; got on={on!r}.")
    parsed = [g if isinstance(g, Gate) else parse_gate(g) for g in gates]
    for gate in parsed:
        if gate.parameter is None:
            continue
        if gate.parameter not in swept:
            raise ValueError(f"gate {gate.text!r}: {gate.parameter!r} is not swept in this "
                             f"probe (swept: {sorted(swept) or 'none'}).")
        if not any(_same(gate.value, v) for v in swept[gate.parameter]):
            raise ValueError(f"gate {gate.text!r}: {gate.parameter}={gate.value!r} is not one "
                             f"of the swept values {list(swept[gate.parameter])}.")
    return parsed


def evaluate_gates(results: Any, gates: Sequence[str | Gate], *, on: str = "point"
                   ) -> list[GateResult]:
    """Evaluate `gates` on `results` (an `evalkit.ProbeResults`).

    Parameters
    ----------
    results : ProbeResults
    gates : sequence of str or Gate
    on : {"point", "ci"}

    Returns
    -------
    list of GateResult, in the order given; a gate whose metric is undefined (NaN) fails.

    Examples
    --------
    >>> import synth
    >>> from evalkit import as_predictor, evaluate_gates, run_probe
    >>> predict = as_predictor(lambda x: x.max(axis=(1, 2, 3)), resolution_um=100)
    >>> results = run_probe(predict, synth.SceneConfig(), n=64, seed=0, n_bootstrap=200,
    ...                     sweeps=[("contrast", [0.2, 0.9])], behaviour=False,
    ...                     resolutions=False, thresholds=False)
    >>> for r in evaluate_gates(results, ["auc>=0.5", "specificity@contrast=0.9>0.99"]):
    ...     print(r.passed, r.condition, r.metric, round(r.value, 3))
    True clean roc_auc 0.738
    False contrast=0.9 specificity 0.757
    """
    swept: dict[str, list[Any]] = {}
    for s in getattr(results, "sweeps", ()):  # a parameter swept twice: both sets of values
        swept.setdefault(s.parameter, []).extend(parse_sweep_value(c) for c in s.conditions)
    checked = check_gates(gates, swept, on)
    intervals = [b for pair in results.metrics.ci.values() for b in pair]
    if on == "ci" and not any(math.isfinite(float(b)) for b in intervals):
        raise ValueError("gates on the interval (`on='ci'`) need bootstrap intervals; the "
                         "results have none (n_bootstrap=0).")
    level = f"{100 * getattr(results.metrics, 'confidence', 0.95):g} %"
    out = []
    for gate in checked:
        if gate.parameter is None:
            condition = "clean"
            metrics = results.metrics
            value = float(metrics.values.get(gate.metric, math.nan))
            low, high = metrics.ci.get(gate.metric, (math.nan, math.nan))
        else:
            sweep, label = next((s, c) for s in results.sweeps if s.parameter == gate.parameter
                                for c in s.conditions
                                if _same(gate.value, parse_sweep_value(c)))
            condition = f"{gate.parameter}={label}"
            row = sweep.metrics[(sweep.metrics["condition"] == label)
                                & (sweep.metrics["metric"] == gate.metric)]
            value, low, high = (float(row[c].iloc[0]) if len(row) else math.nan
                                for c in ("value", "ci_low", "ci_high"))
        read = value if on == "point" else (low if gate.op in (">=", ">") else high)
        passed = bool(math.isfinite(read) and OPERATORS[gate.op](read, gate.limit))
        what = "estimate" if on == "point" else (
            f"lower {level} bound" if gate.op in (">=", ">") else f"upper {level} bound")
        detail = (f"{gate.metric} at {condition}: {what} {read:.4g} (estimate {value:.4g}, "
                  f"CI {low:.4g}–{high:.4g}) {gate.op} {gate.limit:g} required")
        if not math.isfinite(read):
            detail = f"{gate.metric} at {condition} is undefined (NaN): the gate fails"
        out.append(GateResult(gate.text, gate.metric, condition, on, read, gate.limit, passed,
                              detail))
    return out


def gates_frame(results: Sequence[GateResult]) -> pd.DataFrame:
    """The gates as a table for reports."""
    return pd.DataFrame([{"gate": r.gate, "condition": r.condition, "on": r.on,
                          "value": r.value, "limit": r.limit, "passed": r.passed}
                         for r in results])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
