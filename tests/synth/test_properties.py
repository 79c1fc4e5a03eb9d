"""Property-based tests of synth: they hold for every valid config and scene, not a few chosen ones.

The config strategies are built from the field metadata (`synth.field_specs`), so they draw
every field within the bounds the validators accept and follow any change to them; only the
rules between fields are written here (the low end of `mc_count_range` at or above
`cluster_min_count`; no hard negatives when `cluster_min_count` is 1; electronic noise only
with a dose).
"""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synth
from synth import Acquisition, SceneConfig, field_specs, render, sample_scene
from synth._config import SCENE_HALF_WIDTH_MM

# Fast enough for the whole suite on 2 cores; no example database is written into the tree;
# a machine busy with other work must not turn slow data generation into a failure.
QUIET = [HealthCheck.too_slow]
PROPERTY = settings(max_examples=40, deadline=None, database=None, suppress_health_check=QUIET)
RENDERING = settings(max_examples=30, deadline=None, database=None, suppress_health_check=QUIET)
MAX_WEIGHT = 100.0  # weights are bounded only by finiteness: draw them up to this


def _number(lo, hi, integer=False):
    """Numbers in [lo, hi]: integers for an integer field, else floats and the integers in it
    (the validators accept both)."""
    ints = st.integers(math.ceil(lo), math.floor(hi))
    if integer:
        return ints
    floats = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(floats, ints) if math.ceil(lo) <= math.floor(hi) else floats


def _weights(names, hi):
    """A mapping of some of `names` to weights >= 0, at least one of them positive."""
    positive = _number(1e-3, hi)
    some = st.dictionaries(st.sampled_from(names), st.one_of(positive, st.just(0.0)), max_size=4)
    return st.tuples(st.sampled_from(names), positive, some).map(
        lambda t: {**t[2], t[0]: t[1]})


def valid_values(spec, low=None):
    """Any value `spec` accepts (`low` raises its lower bound)."""
    if spec.kind == "choice":
        strategy = st.sampled_from(spec.options)
    else:
        lo, hi = spec.bounds
        lo = lo if low is None else max(lo, low)
        hi = hi if math.isfinite(hi) else MAX_WEIGHT
        number = _number(lo, hi, spec.integer)
        strategy = {
            "number": number,
            "range": st.tuples(number, number).map(lambda ab: tuple(sorted(ab))),
            "weights": _weights(spec.options, hi),
            "choice_or_weights": st.one_of(st.sampled_from(spec.options),
                                           _weights(spec.options, hi)),
        }[spec.kind]
    return st.one_of(st.none(), strategy) if spec.optional else strategy


@st.composite
def acquisitions(draw):
    specs = field_specs(Acquisition)
    values = {name: draw(valid_values(spec)) for name, spec in specs.items()}
    if values["dose"] is None and values["electronic_noise"]:
        values["electronic_noise"] = draw(st.sampled_from([None, 0.0]))
    return Acquisition(**values)


@st.composite
def scene_configs(draw, max_count=60):
    """Any valid `SceneConfig` of the texture patch source (single scenes; the phantom source
    has its own tests); `max_count` caps the MCs of a scene (rendering time)."""
    specs = field_specs(SceneConfig)
    cmin = draw(valid_values(specs["cluster_min_count"]))
    values = {name: draw(valid_values(spec)) for name, spec in specs.items()
              if name not in ("cluster_min_count", "mc_count_range", "patch_source")}
    low, high = draw(valid_values(specs["mc_count_range"], low=cmin))
    values["mc_count_range"] = (min(low, max(cmin, max_count)), min(high, max(cmin, max_count)))
    if cmin == 1:
        values["hard_negative_fraction"] = 0.0
    if values["contrast_model"] == "relative":
        values["mc_shape"] = "gaussian"
    return SceneConfig(**values, cluster_min_count=cmin,
                       acquisition=draw(st.one_of(st.none(), acquisitions())))


def invalid_values(spec):
    """Values just outside `spec`'s bounds or options (each must be refused, naming the field)."""
    lo, hi = spec.bounds
    outside = []
    if math.isfinite(lo):
        outside.append(st.integers(math.floor(lo) - 100, math.ceil(lo) - 1) if spec.integer
                       else st.floats(lo - 100, lo, exclude_max=True))
    if math.isfinite(hi):
        outside.append(st.integers(math.floor(hi) + 1, math.ceil(hi) + 100) if spec.integer
                       else st.floats(hi, hi + 100, exclude_min=True))
    if spec.kind in ("choice", "choice_or_weights"):
        return st.text(min_size=1, max_size=8).filter(lambda t: t not in spec.options)
    if spec.kind == "weights":
        return st.tuples(st.sampled_from(spec.options), outside[0]).map(lambda t: {t[0]: t[1]})
    bad = st.one_of(outside)
    if spec.kind == "range":
        good = _number(lo, hi, spec.integer)
        return st.tuples(bad, good).map(lambda ab: tuple(sorted(ab)))
    return bad


# -- configs ---------------------------------------------------------------------------------


@PROPERTY
@given(scene_configs())
def test_every_valid_config_round_trips_through_json(config):
    text = config.to_json()
    again = SceneConfig.from_json(text)
    assert again == config
    assert hash(again) == hash(config)
    assert again.to_json() == text
    assert SceneConfig.from_dict(json.loads(text)) == config


@PROPERTY
@given(acquisitions())
def test_every_valid_acquisition_round_trips_through_json(acquisition):
    data = json.loads(json.dumps(acquisition.to_dict()))
    assert Acquisition(**data) == acquisition
    config = SceneConfig(acquisition=acquisition)
    assert SceneConfig.from_json(config.to_json()).acquisition == acquisition


_SPECS = [(cls, name) for cls in (SceneConfig, Acquisition) for name in field_specs(cls)]


@pytest.mark.parametrize(("cls", "name"), _SPECS, ids=[name for _, name in _SPECS])
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_a_value_outside_a_fields_bounds_is_refused_naming_the_field(cls, name, data):
    value = data.draw(invalid_values(field_specs(cls)[name]))
    with pytest.raises(ValueError, match=f"`{name}`"):
        cls(**{name: value})


@PROPERTY
@given(scene_configs(), st.integers(0, 2**32 - 1))
def test_a_config_restored_from_json_draws_the_same_scene(config, seed):
    again = SceneConfig.from_json(config.to_json())
    a = sample_scene(config, rng=np.random.default_rng(seed))
    b = sample_scene(again, rng=np.random.default_rng(seed))
    assert (a.kind, a.background_key, a.noise_key) == (b.kind, b.background_key, b.noise_key)
    assert [(m.x_mm, m.y_mm, m.size_mm, m.contrast) for m in a.calcifications] == [
        (m.x_mm, m.y_mm, m.size_mm, m.contrast) for m in b.calcifications]


# -- null invariant --------------------------------------------------------------------------


def _without_contrast(scene):
    mcs = tuple(dataclasses.replace(mc, contrast=0.0) for mc in scene.calcifications)
    return dataclasses.replace(scene, calcifications=mcs)


@RENDERING
@given(scene_configs(max_count=20), st.integers(0, 2**32 - 1),
       st.sampled_from(synth.RESOLUTIONS_UM))
def test_contrast_zero_leaves_the_background_unchanged(config, seed, resolution):
    scene = sample_scene(config, rng=np.random.default_rng(seed))
    background = render(dataclasses.replace(scene, calcifications=()), resolution)
    blank = render(_without_contrast(scene), resolution)
    np.testing.assert_array_equal(blank.image, background.image)
    assert len(blank.calcifications) == len(scene.calcifications)
    if scene.label_dprime_threshold is None:  # else: signal-free MCs (d′ = 0) do not count
        assert blank.label == scene.label
    else:
        assert blank.label == int(scene.label_dprime_threshold == 0 and scene.label == 1)


# -- the label rule --------------------------------------------------------------------------


@PROPERTY
@given(scene_configs(), st.integers(0, 2**32 - 1))
def test_sampled_scenes_are_positive_exactly_when_they_hold_a_cluster(config, seed):
    scene = sample_scene(config, rng=np.random.default_rng(seed))
    n = len(scene.calcifications)
    assert scene.n_inside == n  # the sampler keeps every MC inside the field
    if scene.kind == "positive":
        low, high = config.mc_count_range
        assert scene.label == int(n >= config.cluster_min_count) and n <= high
        # a strict spacing keeps fewer MCs only where the field has no room for them
        if config.mc_min_spacing_mm is None or (
                high * max(config.mc_min_spacing_mm, config.mc_size_range_mm[1]) ** 2 < 4.0):
            assert scene.label == 1 and low <= n
    elif scene.kind == "hard_negative":
        assert scene.label == 0 and 1 <= n < config.cluster_min_count
    else:
        assert scene.label == 0 and n == 0


_H = SCENE_HALF_WIDTH_MM
_COORD = st.one_of(st.sampled_from([-_H, _H]), st.floats(-_H, _H))  # the edge counts as inside
_INSIDE = st.tuples(_COORD, _COORD)
_BEYOND = st.one_of(st.floats(-2 * _H, -_H, exclude_max=True),
                    st.floats(_H, 2 * _H, exclude_min=True))
_OUTSIDE = st.one_of(st.tuples(_BEYOND, st.floats(-2 * _H, 2 * _H)),
                     st.tuples(st.floats(-2 * _H, 2 * _H), _BEYOND))
_TEMPLATE = sample_scene(SceneConfig(positive_fraction=1.0, mc_count_range=(3, 3),
                                     acquisition=None), rng=np.random.default_rng(0))


@PROPERTY
@given(st.integers(1, 20), st.lists(_INSIDE, max_size=25), st.lists(_OUTSIDE, max_size=8),
       st.sampled_from(synth.RESOLUTIONS_UM), st.randoms(use_true_random=False))
def test_label_is_one_iff_enough_mc_centres_lie_inside_the_patch(cmin, inside, outside,
                                                                 resolution, shuffle):
    mc = _TEMPLATE.calcifications[0]
    places = [(p, True) for p in inside] + [(p, False) for p in outside]
    shuffle.shuffle(places)
    mcs = tuple(dataclasses.replace(mc, x_mm=x, y_mm=y) for (x, y), _ in places)
    scene = dataclasses.replace(_TEMPLATE, calcifications=mcs, cluster_min_count=cmin)
    expected = int(len(inside) >= cmin)
    assert scene.n_inside == len(inside)
    assert scene.label == expected
    patch = render(scene, resolution)
    assert patch.label == expected
    assert patch.calcifications.inside.tolist() == [flag for _, flag in places]
