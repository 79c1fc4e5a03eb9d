"""Scenario ↔ dashboard controls: every `synth.SceneConfig` field as one or more widget values.

The mapping is lossless: ``config_from_controls(controls_from_config(c)) == c`` for every valid
config, so a scenario uploaded as JSON restores the controls exactly and the JSON downloaded
from them is the same file `mcc synth --config` and `mcc probe --scenario` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import synth

PREFIX = "sc_"
"""Session-state keys of the scenario widgets start with this."""

MIXED = "weighted mix"
"""The distribution choice that uses the per-distribution weights."""

RANGES: dict[str, tuple[float, float, float]] = {
    "mc_count_range": (1, 60, 1),
    "mc_size_range_mm": (0.1, 1.0, 0.01),
    "contrast_range": (0.0, 1.0, 0.01),
    "cluster_extent_mm": (0.5, 10.0, 0.1),
    "orientation_range_deg": (-360.0, 360.0, 1.0),
    "beta_range": (1.5, 3.5, 0.05),
    "density_range": (0.0, 1.0, 0.01),
}
"""Range fields: (min, max, step) of their two-handled sliders (the config's own limits)."""

SCALARS: dict[str, tuple[float, float, float]] = {
    "positive_fraction": (0.0, 1.0, 0.05),
    "hard_negative_fraction": (0.0, 1.0, 0.05),
    "margin_mm": (0.0, 2.5, 0.1),
    "lumpy_strength": (0.0, 1.0, 0.05),
}
"""Scalar fields: (min, max, step) of their sliders."""

DETECTOR: dict[str, tuple[float, float, float]] = {
    "blur_sigma_um": (0.0, 500.0, 1.0),
    "dose": (1e2, 1e9, 1e4),
    "electronic_noise": (0.0, 1e4, 1.0),
}
"""Detector fields that may be switched off (None): a switch ``<name>_on`` and a number."""

BIT_DEPTHS: tuple[int | None, ...] = (None, *range(8, 17))
PLACEMENTS: tuple[str, ...] = ("random", "center")


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
    for name in (*RANGES, *SCALARS, "placement", "cluster_min_count"):
        value = getattr(config, name)
        values[name] = tuple(value) if isinstance(value, tuple) else value
    acq = config.acquisition
    values["detector"] = acq is not None
    base = acq if acq is not None else synth.Acquisition()
    default = synth.Acquisition()
    for name in DETECTOR:
        value = getattr(base, name)
        values[f"{name}_on"] = value is not None
        values[name] = float(value if value is not None else getattr(default, name))
    values["bit_depth"] = base.bit_depth
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
        "placement": get("placement"),
        "cluster_min_count": int(get("cluster_min_count")),
    }
    for name in RANGES:
        low, high = get(name)
        fields[name] = (int(low), int(high)) if name == "mc_count_range" else (
            float(low), float(high))
    for name in SCALARS:
        fields[name] = float(get(name))
    detector: dict[str, Any] = {
        name: float(get(name)) if get(f"{name}_on") else None for name in DETECTOR}
    bits = get("bit_depth")
    detector["bit_depth"] = None if bits is None else int(bits)
    fields["acquisition"] = synth.Acquisition(**detector) if get("detector") else None
    return synth.SceneConfig(**fields)
