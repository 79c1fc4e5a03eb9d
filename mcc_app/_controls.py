"""Scenario ↔ dashboard controls: every `synth.SceneConfig` field as one or more widget values.

The mapping is lossless: ``config_from_controls(controls_from_config(c)) == c`` for every valid
config, so a scenario uploaded as JSON restores the controls exactly and the JSON downloaded
from them is the same file `mcc synth --config` and `mcc probe --scenario` read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import synth

PREFIX = "sc_"
"""Session-state keys of the scenario widgets start with this."""

MIXED = "weighted mix"
"""The distribution choice that uses the per-distribution weights."""

RANGES: tuple[str, ...] = ("mc_count_range", "mc_size_range_mm", "contrast_range",
                           "cluster_extent_mm", "orientation_range_deg", "beta_range",
                           "density_range", "breast_thickness_range_mm",
                           "curvature_range_per_mm")
"""Range fields: each is a two-handled slider."""

SCALARS: tuple[str, ...] = ("positive_fraction", "hard_negative_fraction", "margin_mm",
                            "lumpy_strength", "mc_count_mean", "pleomorphism")
"""Scalar fields: each is a slider."""

CHOICES: tuple[str, ...] = ("placement", "contrast_model", "mc_shape", "mc_count_distribution",
                            "texture")
"""Choice fields of the scene: each is a select box."""

OPTIONAL: dict[str, float] = {"mc_min_spacing_mm": 0.2, "label_dprime_threshold": 5.0}
"""Scene fields that may be None: a switch ``<name>_on`` and a number (shown when off)."""

DETECTOR: tuple[str, ...] = ("blur_sigma_um", "dose", "electronic_noise", "energy_kev",
                             "scatter_to_primary", "heel_gradient")
"""Detector fields that may be switched off (None): a switch ``<name>_on`` and a number."""

DETECTOR_CHOICES: tuple[str, ...] = ("detector", "beam", "output")
"""Choice fields of the detector; their controls are ``acq_<name>``."""

_OFF_VALUE = {"energy_kev": 18.0, "scatter_to_primary": 0.3, "heel_gradient": -0.05}

_BITS = synth.field_spec("bit_depth").bounds
BIT_DEPTHS: tuple[int | None, ...] = (None, *range(int(_BITS[0]), int(_BITS[1]) + 1))
PLACEMENTS: tuple[str, ...] = synth.field_spec("placement").options

DEFAULT_RESOLUTION_UM: int = synth.RESOLUTIONS_UM[1]
"""The one resolution every page starts at (the papers' middle one, 70 µm): Generate, the
bundled model of Probe and Scan, the synthetic mammogram."""


def _either(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" or {items[-1]}"


RESOLUTION_WORDS = _either([str(r) for r in synth.RESOLUTIONS_UM])
"""The resolutions in words ("50, 70 or 100"), for help texts."""
PATCH_WORDS = _either([str(synth.patch_size_px(r)) for r in synth.RESOLUTIONS_UM])
"""Their 1 cm patch sizes in pixels, in the same order ("200, 144 or 100")."""


def widget_args(name: str, *, slider: bool = False) -> dict[str, Any]:
    """Keyword arguments of the ``st.number_input`` (or, with `slider`, ``st.slider``) of
    config field `name`, all read from `synth.field_spec`.

    Parameters
    ----------
    name : str
        A numeric, range or weights field of `synth.SceneConfig` or `synth.Acquisition`
        (for a weights field: the arguments of each weight's input).
    slider : bool
        Sliders need a finite maximum (ValueError where the field has none).

    Returns
    -------
    dict
        ``min_value``, ``max_value`` (None where the field has no finite upper bound, so
        no valid value is ever cut), ``step``, ``format`` (``%g``: what the config holds,
        not rounded to the step) and ``help``; ints for an integer field, floats otherwise
        (Streamlit wants one type).
    """
    spec = synth.field_spec(name)
    if spec.kind == "choice":
        raise ValueError(f"`name` must be a numeric config field; got name={name!r}.")
    low, high_bound = spec.bounds
    kind = int if spec.integer else float
    high = None if math.isinf(high_bound) else kind(high_bound)
    if slider and high is None:
        raise ValueError(f"`{name}` has no upper bound: a slider cannot show it.")
    return {"min_value": kind(low), "max_value": high, "step": kind(spec.step or 1),
            "format": "%d" if spec.integer else "%g",
            "help": f"{spec.help} Allowed: {spec.rule()}."}


def label(name: str, text: str) -> str:
    """`text` with the unit of field `name` (``"MC size (mm)"``)."""
    unit = synth.field_spec(name).unit
    return f"{text} ({unit})" if unit else text


def key(name: str) -> str:
    """Session-state key of the control for `name`."""
    return PREFIX + name


def controls_from_config(config: synth.SceneConfig) -> dict[str, Any]:
    """Widget values (keyed by `key(name)`) that show `config`.

    Parameters
    ----------
    config : synth.SceneConfig

    Returns
    -------
    dict
        One entry per control: ranges as tuples, weights as floats, nullable detector
        fields as a number or None.

    Examples
    --------
    >>> import synth
    >>> from mcc_app import controls_from_config
    >>> controls = controls_from_config(synth.SceneConfig(distribution="linear"))
    >>> len(controls), controls["sc_distribution"], controls["sc_mc_count_range"]
    (55, 'linear', (3, 30))
    >>> controls["sc_detector"], controls["sc_dose_on"], controls["sc_dose"]
    (True, True, 1000000.0)
    >>> controls_from_config(synth.SceneConfig(acquisition=None))["sc_detector"]
    False
    """
    if not isinstance(config, synth.SceneConfig):
        raise TypeError(f"`config` must be a synth.SceneConfig; got {type(config).__name__}.")
    values: dict[str, Any] = {}
    dist = config.distribution
    values["distribution"] = dist if isinstance(dist, str) else MIXED
    weights = dict(dist) if not isinstance(dist, str) else config.distribution_weights
    for name in synth.DISTRIBUTIONS:
        values[f"dist_{name}"] = float(weights.get(name, 0.0))
    for name in synth.MORPHOLOGIES:
        values[f"morph_{name}"] = float(config.morphology_weights.get(name, 0.0))
    for name in synth.MC_MATERIALS:
        values[f"mat_{name}"] = float(config.material_weights.get(name, 0.0))
    for name in (*RANGES, *SCALARS, *CHOICES, "cluster_min_count"):
        value = getattr(config, name)
        values[name] = tuple(value) if isinstance(value, tuple) else value
    for name, off in OPTIONAL.items():
        value = getattr(config, name)
        values[f"{name}_on"] = value is not None
        values[name] = float(off if value is None else value)
    acq = config.acquisition
    values["detector"] = acq is not None
    base = acq if acq is not None else synth.Acquisition()
    default = synth.Acquisition()
    for name in DETECTOR:
        value = getattr(base, name)
        if value is None:
            value = getattr(default, name)
        values[f"{name}_on"] = getattr(base, name) is not None
        values[name] = float(value if value is not None else _OFF_VALUE[name])
    values["bit_depth"] = base.bit_depth
    for name in DETECTOR_CHOICES:
        values[f"acq_{name}"] = getattr(base, name)
    return {key(k): v for k, v in values.items()}


def config_from_controls(controls: Mapping[str, Any]) -> synth.SceneConfig:
    """The `synth.SceneConfig` the controls describe.

    Parameters
    ----------
    controls : mapping
        Widget values keyed by `key(name)` (for example ``st.session_state``); every key of
        `controls_from_config` must be present.

    Returns
    -------
    synth.SceneConfig

    Raises
    ------
    ValueError, TypeError
        As `synth.SceneConfig` does, naming the field, for values it refuses; a ValueError
        also when a control is missing.

    Examples
    --------
    >>> import synth
    >>> from mcc_app import config_from_controls, controls_from_config
    >>> config = synth.SceneConfig(distribution="linear")
    >>> controls = controls_from_config(config)
    >>> config_from_controls(controls) == config  # lossless
    True
    >>> no_noise = dict(controls, sc_dose_on=False, sc_electronic_noise_on=False)
    >>> acq = config_from_controls(no_noise).acquisition
    >>> acq.blur_sigma_um, acq.dose, acq.electronic_noise, acq.bit_depth, acq.detector
    (20.0, None, None, 12, 'direct')
    >>> config_from_controls(dict(controls, sc_contrast_range=(0.3, 1.5)))
    Traceback (most recent call last):
    ...
    ValueError: `contrast_range` must lie within [0, 1]; got contrast_range=(0.3, 1.5).
    """
    def get(name: str) -> Any:
        try:
            return controls[key(name)]
        except KeyError:
            raise ValueError(f"the control for `{name}` is missing.") from None

    choice = get("distribution")
    distribution: Any = (
        {name: float(get(f"dist_{name}")) for name in synth.DISTRIBUTIONS}
        if choice == MIXED else choice
    )
    fields: dict[str, Any] = {
        "distribution": distribution,
        "morphology_weights": {name: float(get(f"morph_{name}")) for name in synth.MORPHOLOGIES},
        "material_weights": {name: float(get(f"mat_{name}")) for name in synth.MC_MATERIALS},
        "cluster_min_count": int(get("cluster_min_count")),
    }
    for name in CHOICES:
        fields[name] = get(name)
    for name in OPTIONAL:
        fields[name] = float(get(name)) if get(f"{name}_on") else None
    for name in RANGES:
        kind = int if synth.field_spec(name).integer else float
        low, high = get(name)
        fields[name] = (kind(low), kind(high))
    for name in SCALARS:
        fields[name] = float(get(name))
    detector: dict[str, Any] = {
        name: float(get(name)) if get(f"{name}_on") else None for name in DETECTOR}
    bits = get("bit_depth")
    detector["bit_depth"] = None if bits is None else int(bits)
    for name in DETECTOR_CHOICES:
        detector[name] = get(f"acq_{name}")
    fields["acquisition"] = synth.Acquisition(**detector) if get("detector") else None
    return synth.SceneConfig(**fields)


_DETECTOR_KEYS = frozenset(
    key(n) for n in (*DETECTOR, *(f"{d}_on" for d in DETECTOR), "bit_depth",
                     *(f"acq_{d}" for d in DETECTOR_CHOICES)))
"""The controls of the detector's settings (not its switch)."""

_GROUPS = (("dist_", "distribution"), ("morph_", "morphology_weights"),
           ("mat_", "material_weights"), ("acq_", ""))


def unapplied(controls: Mapping[str, Any], config: synth.SceneConfig) -> list[str]:
    """The fields whose controls show another value than `config` (the applied scenario):
    what Apply has not taken yet, or refused. A number whose switch is off does not count.

    Examples
    --------
    >>> import synth
    >>> from mcc_app import controls_from_config, unapplied
    >>> config = synth.SceneConfig()
    >>> controls = controls_from_config(config)
    >>> unapplied(controls, config)
    []
    >>> unapplied({**controls, "sc_contrast_range": (0.1, 0.2), "sc_dist_linear": 3.0,
    ...            "sc_mc_size_range_mm": (0.2, 0.3)}, config)
    ['contrast_range', 'distribution', 'mc_size_range_mm']

    With the detector off, its settings are not applied, so they do not count:

    >>> off = synth.SceneConfig(acquisition=None)
    >>> unapplied({**controls_from_config(off), "sc_dose": 5.0, "sc_acq_beam": "W/Rh 29kV"}, off)
    []
    """
    shown = controls_from_config(config)
    detector_off = controls.get(key("detector")) is False
    changed: list[str] = []
    for name, value in shown.items():
        if name not in controls or controls[name] == value:
            continue
        if name.endswith(("_on",)) is False and controls.get(f"{name}_on") is False:
            continue
        if detector_off and name in _DETECTOR_KEYS:  # the detector is off: Apply ignores them
            continue
        field = name[len(PREFIX):].removesuffix("_on")
        for group, owner in _GROUPS:
            if field.startswith(group):
                field = owner or field[len(group):]
        field = "acquisition" if field == "detector" and name == key("detector") else field
        if field not in changed:
            changed.append(field)
    return sorted(changed)
