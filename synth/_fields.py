"""What a config field may hold: `FieldSpec` (bounds, unit, help, options) and its check.

The facts live once, in the dataclass field metadata of `SceneConfig` and `Acquisition`
(written with `spec_field`); `specs_of` reads them back as `FieldSpec` records, which the
validators, the dashboard's widgets and the CLI help all use.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["number", "range", "choice", "weights", "choice_or_weights"]

SPEC_KEY = "synth.spec"
"""Key of a field's `FieldSpec` facts in its dataclass metadata."""
DOC_KEY = "synth.doc"
"""Key of ``(type, description)`` in the metadata of a field without a `FieldSpec`."""


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """What one `SceneConfig` or `Acquisition` field may hold: bounds, unit, help, options.

    The single source of these facts: the configs validate with `check`, the dashboard's
    widgets take their limits, step and help from here, and so does the ``mcc synth`` help.
    Get one with `synth.field_spec`, all of a config with `synth.field_specs`.

    Parameters
    ----------
    name : str
        The field's name.
    kind : {"number", "range", "choice", "weights", "choice_or_weights"}
        ``"number"``: one value; ``"range"``: a pair ``(low, high)`` with low <= high;
        ``"choice"``: one of `options`; ``"weights"``: a mapping of `options` to weights
        (at least one positive); ``"choice_or_weights"``: either of the last two.
    low, high : float or None
        Closed bounds of every number the field holds (each end of a range, each weight);
        ``high`` is ``inf`` where only finiteness bounds it, both are None for a choice.
    integer : bool
        The numbers must be integers.
    optional : bool
        None is allowed too (it switches the effect off).
    unit : str
        Physical unit of the numbers (``"mm"``, ``"µm"``, ``"quanta/mm²"``); ``""`` for
        fractions, counts and other pure numbers.
    help : str
        One sentence saying what the field does.
    options : tuple of str
        The names a choice or weights field may use; empty otherwise.
    step : float or None
        A sensible increment for interactive controls (never a validation rule).

    Examples
    --------
    >>> import synth
    >>> spec = synth.field_spec("contrast_range")
    >>> spec.kind, spec.low, spec.high, spec.unit
    ('range', 0.0, 1.0, '')
    >>> spec.check([0.2, 0.4])
    (0.2, 0.4)
    >>> spec.check((0.2, 1.5))
    Traceback (most recent call last):
    ...
    ValueError: `contrast_range` must lie within [0, 1]; got contrast_range=(0.2, 1.5).
    >>> synth.field_spec("dose").rule()
    'a number within [100, 1e+09] quanta/mm², or None (off)'
    >>> synth.field_spec("placement").options
    ('random', 'center')
    """

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    integer: bool = False
    optional: bool = False
    unit: str = ""
    help: str
    options: tuple[str, ...] = ()
    step: float | None = None

    def __post_init__(self) -> None:
        numeric = self.kind != "choice"
        if numeric != (self.low is not None and self.high is not None):
            raise ValueError(f"`low` and `high` must be set exactly when kind is not 'choice'; "
                             f"got low={self.low!r}, high={self.high!r}.")
        if (self.kind != "number" and self.kind != "range") != bool(self.options):
            raise ValueError(f"`options` must be given exactly for choice and weights fields; "
                             f"got options={self.options!r}.")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` as floats, ``inf`` for a missing bound (``(-inf, inf)``: a choice)."""
        return (-math.inf if self.low is None else float(self.low),
                math.inf if self.high is None else float(self.high))

    def check(self, value: Any) -> Any:
        """`value` validated and normalised as the config stores it.

        Checks this field alone; rules between fields (``mc_count_range`` starts at
        ``cluster_min_count``, ``electronic_noise`` needs a ``dose``, ...) are the config's.

        Raises
        ------
        ValueError
            ``"`name` must ...; got name=value."``, the configs' own message.
        TypeError
            For a value of the wrong type (a number field given a string, ...).
        """
        if value is None and self.optional:
            return None
        lo, hi = self.bounds
        if self.kind == "number":
            if self.integer:
                return _check_integer(self.name, value, lo, hi, optional=self.optional)
            return _check_number(self.name, value, lo, hi)
        if self.kind == "range":
            return _check_range(self.name, value, lo, hi, integer=self.integer)
        if self.kind == "choice" or (self.kind == "choice_or_weights" and isinstance(value, str)):
            if value not in self.options:
                either = " or a weighting" if self.kind == "choice_or_weights" else ""
                raise _fail(self.name, f"must be one of {self.options}{either}", value)
            return value
        return _check_weights(self.name, value, self.options, lo, hi)

    def describe(self) -> str:
        """One line: the name, what it may hold, the unit, and the help."""
        return f"{self.name}: {self.rule()}. {self.help}"

    def rule(self) -> str:
        """What the field may hold, in words (``"(low, high) within [0.1, 1] mm"``)."""
        unit = f" {self.unit}" if self.unit else ""
        names = ", ".join(self.options)
        if self.kind == "choice":
            text = f"one of {names}"
        elif self.kind == "weights":
            text = f"weights {_interval(self)} over {names}"
        elif self.kind == "choice_or_weights":
            text = f"one of {names}, or weights {_interval(self)} over them"
        elif self.kind == "range":
            text = f"(low, high) {'integers ' if self.integer else ''}{_interval(self)}{unit}"
        else:
            text = f"{'an integer' if self.integer else 'a number'} {_interval(self)}{unit}"
        return text + (", or None (off)" if self.optional else "")


def spec_field(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
               **facts: Any) -> Any:
    """A dataclass field whose metadata holds `facts`: `FieldSpec` arguments but the name."""
    FieldSpec(name="?", **facts)  # a wrong fact fails where the field is written
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={SPEC_KEY: facts})
    return field(default=default, metadata={SPEC_KEY: facts})


_SPECS: dict[type, dict[str, FieldSpec]] = {}


def specs_of(cls: type) -> dict[str, FieldSpec]:
    """The `FieldSpec` of every field of dataclass `cls` that has one, in declaration order
    (built once per class; do not change the dict returned)."""
    if cls not in _SPECS:
        _SPECS[cls] = {f.name: FieldSpec(name=f.name, **f.metadata[SPEC_KEY])
                       for f in dataclasses.fields(cls) if SPEC_KEY in f.metadata}
    return _SPECS[cls]


def parameters_doc(cls: type) -> str:
    """A numpydoc ``Parameters`` section for dataclass `cls`, written from its field metadata."""
    specs = specs_of(cls)
    lines = ["Parameters", "----------"]
    for f in dataclasses.fields(cls):
        spec = specs.get(f.name)
        if spec is None:
            kind, text = f.metadata[DOC_KEY]
        else:
            kind, text = _type_doc(spec), f"{spec.help} Holds {spec.rule()}."
        lines += [f"{f.name} : {kind}",
                  textwrap.fill(text, 92, initial_indent="    ", subsequent_indent="    ",
                                break_on_hyphens=False)]
    return "\n".join(lines)


def _type_doc(spec: FieldSpec) -> str:
    number = "int" if spec.integer else "float"
    kind = {
        "number": number,
        "range": f"({number}, {number})",
        "choice": "{" + ", ".join(repr(o) for o in spec.options) + "}",
        "weights": "mapping of str to float",
        "choice_or_weights": "str or mapping of str to float",
    }[spec.kind]
    return kind + (" or None" if spec.optional else "")


def _interval(spec: FieldSpec) -> str:
    lo, hi = spec.bounds
    return f">= {lo:g}" if math.isinf(hi) else f"within [{lo:g}, {hi:g}]"


# --------------------------------------------------------------------------- the checks


def _fail(name: str, rule: str, value: Any) -> ValueError:
    return ValueError(f"`{name}` {rule}; got {name}={value!r}.")


def _check_number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number; got {name}={value!r}.")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise _fail(name, f"must lie within [{lo:g}, {hi:g}]", value)
    return float(value)


def _check_integer(name: str, value: Any, lo: float, hi: float, *, optional: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        rule = f"must be an integer within [{lo:g}, {hi:g}]" + (" or None" if optional else "")
        raise _fail(name, rule, value)
    return value


def _check_range(name: str, value: Any, lo: float, hi: float, *, integer: bool = False) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"`{name}` must be a pair (low, high); got {name}={value!r}.")
    a, b = value
    for v in (a, b):
        bad_type = isinstance(v, bool) or not isinstance(v, (int, float))
        if not bad_type and not math.isfinite(v):  # NaN or inf: int(v) would raise
            raise _fail(name, f"must lie within [{lo:g}, {hi:g}]", tuple(value))
        if bad_type or (integer and float(v) != int(v)):
            kind = "integers" if integer else "numbers"
            raise TypeError(f"`{name}` must hold two {kind}; got {name}={tuple(value)!r}.")
        if not (math.isfinite(v) and lo <= v <= hi):
            raise _fail(name, f"must lie within [{lo:g}, {hi:g}]", tuple(value))
    if a > b:
        raise _fail(name, "must have low <= high", tuple(value))
    return (int(a), int(b)) if integer else (float(a), float(b))


def _check_weights(name: str, value: Any, allowed: tuple[str, ...], lo: float = 0.0,
                   hi: float = math.inf) -> dict[str, float]:
    if isinstance(value, str):
        value = {value: 1.0}
    if not isinstance(value, Mapping) or not value:
        raise TypeError(
            f"`{name}` must be one of {allowed} or a non-empty mapping of them to weights; "
            f"got {name}={value!r}."
        )
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _fail(name, f"may only name {allowed}", dict(value))
    rule = (f"must map to finite weights >= {lo:g}" if math.isinf(hi)
            else f"must map to weights within [{lo:g}, {hi:g}]")
    out = {}
    for key in allowed:
        w = value.get(key, 0.0)
        if (isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w)
                or not lo <= w <= hi):
            raise _fail(name, rule, dict(value))
        out[key] = float(w)
    if sum(out.values()) <= 0:
        raise _fail(name, "must have at least one positive weight", dict(value))
    return out
