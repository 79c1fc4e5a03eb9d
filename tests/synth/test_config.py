import json

import pytest

import synth
from synth import Acquisition, SceneConfig
from synth._config import SCENE_HALF_WIDTH_MM


def test_defaults_are_valid_and_round_trip_through_json():
    config = SceneConfig()
    again = SceneConfig.from_json(config.to_json())
    assert again == config
    assert hash(again) == hash(config)
    assert json.loads(config.to_json())["acquisition"]["blur_sigma_um"] == 20.0


def test_round_trip_with_ideal_acquisition_and_weighting():
    config = SceneConfig(distribution={"linear": 2, "diffuse": 1}, acquisition=None,
                         mc_count_range=(4, 9))
    again = SceneConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert again.acquisition is None
    assert again.distribution_weights["linear"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("resolution", synth.RESOLUTIONS_UM)
def test_each_patch_covers_the_one_centimetre_field(resolution):
    side_mm = synth.patch_size_px(resolution) * resolution / 1000
    # Every MC a scene places (within ±SCENE_HALF_WIDTH_MM) falls inside the patch, and the
    # patch is 1 cm to within 1 % (the papers' 144 px at 70 µm is 10.08 mm).
    assert 2 * SCENE_HALF_WIDTH_MM <= side_mm < 1.01 * 2 * SCENE_HALF_WIDTH_MM


@pytest.mark.parametrize("resolution", [60, 0, True, "70", None])
def test_other_resolutions_are_refused(resolution):
    with pytest.raises(ValueError, match="resolution_um"):
        synth.patch_size_px(resolution)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("distribution", "blob"),
        ("distribution", {"clustered": -1.0}),
        ("distribution", {"clustered": 0.0}),
        ("distribution", {"spiral": 1.0}),
        ("positive_fraction", 1.5),
        ("positive_fraction", float("nan")),
        ("hard_negative_fraction", -0.1),
        ("mc_count_range", (2, 5)),
        ("mc_count_range", (6, 4)),
        ("mc_count_range", (3, 99)),
        ("mc_size_range_mm", (0.05, 0.5)),
        ("mc_size_range_mm", (0.2, 1.5)),
        ("mc_size_range_mm", (0.6, 0.3)),
        ("morphology_weights", {"punctate": 1.0, "popcorn": 1.0}),
        ("morphology_weights", {"punctate": 0.0}),
        ("contrast_range", (0.2, 1.5)),
        ("contrast_range", (-0.1, 0.2)),
        ("cluster_extent_mm", (0.1, 3.0)),
        ("orientation_range_deg", (0.0, 720.0)),
        ("placement", "corner"),
        ("margin_mm", 3.0),
        ("beta_range", (1.0, 2.0)),
        ("beta_range", (2.0, 4.0)),
        ("density_range", (0.2, 1.2)),
        ("lumpy_strength", 2.0),
        ("cluster_min_count", 0),
        ("cluster_min_count", 2.5),
    ],
)
def test_every_rule_names_its_field(field, value):
    with pytest.raises(ValueError, match=field):
        SceneConfig(**{field: value})


def test_error_message_follows_the_house_template():
    with pytest.raises(ValueError) as info:
        SceneConfig(contrast_range=(0.2, 1.5))
    assert str(info.value) == (
        "`contrast_range` must lie within [0, 1]; got contrast_range=(0.2, 1.5)."
    )


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="positive_fraction"):
        SceneConfig(positive_fraction="half")
    with pytest.raises(TypeError, match="contrast_range"):
        SceneConfig(contrast_range=0.3)
    with pytest.raises(TypeError, match="acquisition"):
        SceneConfig(acquisition="a-Se")


def test_hard_negatives_need_a_threshold_above_one():
    with pytest.raises(ValueError, match="hard_negative_fraction"):
        SceneConfig(cluster_min_count=1, mc_count_range=(1, 4))
    SceneConfig(cluster_min_count=1, mc_count_range=(1, 4), hard_negative_fraction=0.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("blur_sigma_um", -1.0), ("dose", 10.0), ("electronic_noise", -2.0), ("bit_depth", 7),
     ("bit_depth", 12.0)],
)
def test_acquisition_rules(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        Acquisition(**{field: value})


def test_electronic_noise_needs_a_dose():
    with pytest.raises(ValueError, match="electronic_noise"):
        Acquisition(dose=None, electronic_noise=3.0)
    assert Acquisition(dose=None, electronic_noise=None).dose is None


def test_unknown_json_fields_are_refused():
    with pytest.raises(ValueError, match="unknown scene config field"):
        SceneConfig.from_dict({"contrast": [0.1, 0.2]})
    with pytest.raises(ValueError, match="valid JSON"):
        SceneConfig.from_json("{not json")
    with pytest.raises(ValueError, match="unknown acquisition field"):
        SceneConfig.from_dict({"acquisition": {"kvp": 28}})


def test_replace_changes_plain_and_detector_fields():
    config = SceneConfig()
    changed = config.replace(contrast_range=(0.3, 0.3), acquisition__dose=2e5)
    assert changed.contrast_range == (0.3, 0.3)
    assert changed.acquisition.dose == 2e5
    assert changed.acquisition.blur_sigma_um == config.acquisition.blur_sigma_um
    with pytest.raises(ValueError, match="contrast_range"):
        config.replace(contrast_range=(0.5, 0.1))
