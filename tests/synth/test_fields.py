"""Field specs: the one place bounds, units and help live, and the validator that reads them."""

import dataclasses
import doctest
import math
import re

import pytest

import synth
from synth import Acquisition, FieldSpec, SceneConfig

SCENE_SPECS = synth.field_specs(SceneConfig)
ACQ_SPECS = synth.field_specs(Acquisition)
ALL_SPECS = {**SCENE_SPECS, **ACQ_SPECS}
NUMERIC = {n: s for n, s in ALL_SPECS.items() if s.kind in ("number", "range")}
WEIGHTS = {n: s for n, s in ALL_SPECS.items() if "weights" in s.kind}

# fields that other fields' rules constrain: the companions that make their bounds reachable
COMPANIONS = {
    "mc_count_range": {"cluster_min_count": 1, "hard_negative_fraction": 0.0},
    "cluster_min_count": {"mc_count_range": (20, 60), "hard_negative_fraction": 0.0},
    "hard_negative_fraction": {"cluster_min_count": 3},
}


def build(name, value):
    """The config (or detector) holding `value` in field `name`, and what it stored there."""
    if name in ACQ_SPECS:
        return getattr(Acquisition(**{name: value}), name)
    return getattr(SceneConfig(**COMPANIONS.get(name, {}), **{name: value}), name)


def outside(spec, side):
    """A number just past the `side` ("low" or "high") bound of `spec`."""
    bound = getattr(spec, side)
    eps = 1 if spec.integer else max(abs(bound) * 1e-6, 1e-9)
    return bound - eps if side == "low" else bound + eps


def as_value(spec, number):
    number = int(number) if spec.integer else float(number)
    return (number, number) if spec.kind == "range" else number


def test_the_facts_the_papers_and_detectors_give():
    """Pinned: a change of any bound or unit must be deliberate (and show up here)."""
    table = {name: (s.low, s.high, s.unit) for name, s in NUMERIC.items()}
    assert table == {
        "positive_fraction": (0.0, 1.0, ""),
        "hard_negative_fraction": (0.0, 1.0, ""),
        "mc_count_range": (1, 60, ""),
        "mc_size_range_mm": (0.1, 1.0, "mm"),
        "contrast_range": (0.0, 1.0, ""),
        "cluster_extent_mm": (0.5, 10.0, "mm"),
        "orientation_range_deg": (-360.0, 360.0, "°"),
        "margin_mm": (0.0, 2.5, "mm"),
        "beta_range": (1.5, 3.5, ""),
        "density_range": (0.0, 1.0, ""),
        "lumpy_strength": (0.0, 1.0, ""),
        "mc_count_mean": (0.5, 60.0, ""),
        "breast_thickness_range_mm": (10.0, 120.0, "mm"),
        "pleomorphism": (0.0, 1.0, ""),
        "mc_min_spacing_mm": (0.0, 5.0, "mm"),
        "curvature_range_per_mm": (0.0, 1.0, "1/mm"),
        "label_dprime_threshold": (0.0, 1e3, ""),
        "version": (2, 2, ""),
        "energy_kev": (15.0, 40.0, "keV"),
        "scatter_to_primary": (0.0, 3.0, ""),
        "heel_gradient": (-0.5, 0.5, "1/cm"),
        "cluster_min_count": (1, 20, ""),
        "blur_sigma_um": (0.0, 500.0, "µm"),
        "dose": (1e2, 1e9, "quanta/mm²"),
        "electronic_noise": (0.0, 1e4, "quanta/pixel"),
        "bit_depth": (8, 16, "bit"),
    }
    assert {n: s.options for n, s in ALL_SPECS.items() if s.options} == {
        "distribution": synth.DISTRIBUTIONS,
        "morphology_weights": synth.MORPHOLOGIES,
        "placement": ("random", "center"),
        "patch_source": ("texture", "phantom"),
        "mc_count_distribution": ("long_tailed", "uniform"),
        "contrast_model": ("attenuation", "relative"),
        "mc_shape": ("gaussian", "solid"),
        "material_weights": ("hydroxyapatite", "calcium_oxalate"),
        "texture": ("non_periodic", "periodic"),
        "detector": ("direct", "indirect"),
        "beam": tuple(synth.BEAMS),
        "output": ("presentation", "processing"),
    }
    assert all(s.help.endswith(".") and "\n" not in s.help for s in ALL_SPECS.values())


def test_every_field_but_the_nested_detector_has_a_spec():
    names = {f.name for f in dataclasses.fields(SceneConfig)} - {"acquisition"}
    assert set(SCENE_SPECS) == names
    assert set(ACQ_SPECS) == {f.name for f in dataclasses.fields(Acquisition)}
    assert synth.field_spec("acquisition__dose") is synth.field_spec("dose")
    with pytest.raises(ValueError, match="`name` must be one of"):
        synth.field_spec("contrast")
    with pytest.raises(TypeError, match="cls"):
        synth.field_specs(dict)


@pytest.mark.parametrize("name", sorted(NUMERIC))
@pytest.mark.parametrize("side", ["low", "high"])
def test_the_validator_bounds_are_the_specs(name, side):
    spec = NUMERIC[name]
    at_bound = as_value(spec, getattr(spec, side))
    assert build(name, at_bound) == at_bound  # the bound itself is allowed, kept as given
    beyond = as_value(spec, outside(spec, side)) if spec.integer else (
        outside(spec, side) if spec.kind == "number" else
        (outside(spec, "low"), spec.high) if side == "low" else (spec.low, outside(spec, "high")))
    interval = re.escape(f"within [{spec.low:g}, {spec.high:g}]")
    with pytest.raises(ValueError, match=rf"^`{name}` must .*{interval}.*; got {name}="):
        build(name, beyond)
    with pytest.raises(ValueError, match=rf"^`{name}` must .*{interval}"):
        spec.check(beyond)


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_weights_have_no_cap_but_finiteness(name):
    spec = WEIGHTS[name]
    first = spec.options[0]
    stored = build(name, {first: 200.0, spec.options[1]: 1.0})
    assert stored[first] == 200.0 and stored[spec.options[1]] == 1.0  # never cut to a cap
    assert build(name, {first: 1e300})[first] == 1e300
    assert spec.low == 0.0 and spec.high == math.inf
    for bad in (-1e-9, math.inf, math.nan):
        with pytest.raises(ValueError, match=rf"^`{name}` must map to finite weights >= 0"):
            build(name, {first: bad})


def test_choices_take_their_options_only():
    for option in synth.field_spec("placement").options:
        assert build("placement", option) == option
    for option in synth.DISTRIBUTIONS:
        assert build("distribution", option) == option
    with pytest.raises(ValueError, match=r"^`placement` must be one of \('random', 'center'\)"):
        build("placement", "corner")
    with pytest.raises(ValueError, match=r"^`distribution` must be one of .* or a weighting"):
        build("distribution", "spiral")


@pytest.mark.parametrize(("name", "value"), [
    ("contrast_range", (0.2, 1.5)), ("contrast_range", 0.3), ("mc_count_range", (3.5, 5)),
    ("mc_count_range", (6, 4)), ("positive_fraction", "half"), ("positive_fraction", math.nan),
    ("cluster_min_count", 2.5), ("cluster_min_count", True), ("placement", ["random"]),
    ("distribution", {"spiral": 1.0}), ("distribution", {}), ("morphology_weights", "popcorn"),
    ("morphology_weights", {"punctate": 0.0}), ("dose", 10.0), ("bit_depth", 12.0),
    ("blur_sigma_um", "wide"),
])
def test_check_raises_exactly_what_the_config_raises(name, value):
    with pytest.raises((ValueError, TypeError)) as from_config:
        build(name, value)
    with pytest.raises(from_config.type) as from_spec:
        synth.field_spec(name).check(value)
    assert str(from_spec.value) == str(from_config.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cluster_min_count": 0},
     "`cluster_min_count` must be an integer within [1, 20]; got cluster_min_count=0."),
    ({"distribution": {"clustered": -1.0}},
     "`distribution` must map to finite weights >= 0; got distribution={'clustered': -1.0}."),
    ({"margin_mm": 3.0}, "`margin_mm` must lie within [0, 2.5]; got margin_mm=3.0."),
])
def test_messages_keep_the_house_template(kwargs, message):
    with pytest.raises(ValueError) as info:
        SceneConfig(**kwargs)
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        Acquisition(bit_depth=7)
    assert str(info.value) == (
        "`bit_depth` must be an integer within [8, 16] or None; got bit_depth=7.")


def test_rules_between_fields_stay_with_the_config():
    assert synth.field_spec("mc_count_range").check((2, 5)) == (2, 5)  # alone it is fine
    with pytest.raises(ValueError, match="cluster_min_count=3 or above"):
        SceneConfig(mc_count_range=(2, 5))
    assert synth.field_spec("electronic_noise").check(3.0) == 3.0
    with pytest.raises(ValueError, match="needs a `dose`"):
        Acquisition(dose=None, electronic_noise=3.0)


def test_optional_fields_take_none():
    for spec in ACQ_SPECS.values():  # every numeric detector effect can be switched off
        assert spec.kind == "choice" or (spec.optional and spec.check(None) is None)
    with pytest.raises(TypeError, match="positive_fraction"):
        synth.field_spec("positive_fraction").check(None)


def test_a_spec_refuses_inconsistent_facts():
    with pytest.raises(ValueError, match="low"):
        FieldSpec(name="x", kind="choice", low=0.0, high=1.0, options=("a",), help="x.")
    with pytest.raises(ValueError, match="options"):
        FieldSpec(name="x", kind="weights", low=0.0, high=1.0, help="x.")
    spec = FieldSpec(name="gain", kind="number", low=0.0, high=2.0, unit="dB", help="Gain.")
    assert spec.rule() == "a number within [0, 2] dB"
    assert spec.describe() == "gain: a number within [0, 2] dB. Gain."
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.low = 1.0  # type: ignore[misc]


def test_the_docstrings_are_written_from_the_specs():
    for cls, specs in ((SceneConfig, SCENE_SPECS), (Acquisition, ACQ_SPECS)):
        doc = " ".join(cls.__doc__.split())
        assert "Parameters ----------" in doc
        for name, spec in specs.items():
            assert f"{name} : " in doc and " ".join(spec.help.split()) in doc
    assert "acquisition : Acquisition or None" in SceneConfig.__doc__


@pytest.mark.parametrize("module", ["synth._fields", "synth._config"])
def test_the_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
