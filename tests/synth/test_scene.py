import numpy as np
import pytest

import synth
from synth import DISTRIBUTIONS, SceneConfig, sample_scene
from synth._config import SCENE_HALF_WIDTH_MM
from synth._scene import sample_scenes


def _centres(scene):
    return np.array([(mc.x_mm, mc.y_mm) for mc in scene.calcifications]).reshape(-1, 2)


def _scenes(config, n, seed=0):
    return sample_scenes(config, [np.random.default_rng([seed, i]) for i in range(n)])


def test_same_generator_state_gives_the_same_scene():
    config = SceneConfig(positive_fraction=1.0)
    a = sample_scene(config, rng=np.random.default_rng(7))
    b = sample_scene(config, rng=np.random.default_rng(7))
    assert a.background_key == b.background_key and a.noise_key == b.noise_key
    np.testing.assert_array_equal(_centres(a), _centres(b))
    c = sample_scene(config, rng=np.random.default_rng(8))
    assert c.background_key != a.background_key
    assert not np.array_equal(_centres(a)[:1], _centres(c)[:1])


def test_a_scene_drawn_alone_equals_the_same_scene_in_a_batch():
    config = SceneConfig()
    batch = _scenes(config, 40, seed=3)
    for i in (0, 5, 17, 39):
        alone = sample_scene(config, rng=np.random.default_rng([3, i]))
        np.testing.assert_array_equal(_centres(alone), _centres(batch[i]))
        assert [mc.size_mm for mc in alone.calcifications] == [
            mc.size_mm for mc in batch[i].calcifications]
        assert (alone.kind, alone.density, alone.beta) == (
            batch[i].kind, batch[i].density, batch[i].beta)


def test_label_rule_with_positives_hard_negatives_and_empty_negatives():
    config = SceneConfig(positive_fraction=0.4, hard_negative_fraction=0.5)
    scenes = _scenes(config, 400)
    kinds = {s.kind for s in scenes}
    assert kinds == {"positive", "hard_negative", "negative"}
    for s in scenes:
        n = len(s.calcifications)
        if s.kind == "positive":
            assert s.label == 1 and 3 <= n <= 30
        elif s.kind == "hard_negative":
            assert s.label == 0 and n in (1, 2)
        else:
            assert s.label == 0 and n == 0
        assert s.label == int(s.n_inside >= s.cluster_min_count)
    share = np.mean([s.label for s in scenes])
    assert 0.32 < share < 0.48


def test_defaults_give_a_balanced_mix():
    labels = [s.label for s in _scenes(SceneConfig(), 600, seed=1)]
    assert 0.44 < np.mean(labels) < 0.56


def test_cluster_min_count_moves_the_threshold():
    config = SceneConfig(cluster_min_count=5, mc_count_range=(5, 8), positive_fraction=0.5)
    for s in _scenes(config, 200):
        assert s.label == int(len(s.calcifications) >= 5)
        if s.kind == "hard_negative":
            assert len(s.calcifications) in (1, 2)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_every_mc_lies_inside_the_field_less_the_margin(distribution):
    config = SceneConfig(distribution=distribution, positive_fraction=1.0, margin_mm=0.8)
    for s in _scenes(config, 60):
        xy = _centres(s)
        assert np.all(np.abs(xy) <= SCENE_HALF_WIDTH_MM - 0.8 + 1e-9)
        assert s.distribution == distribution


def _line_residual(xy):
    centred = xy - xy.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return singular[1] / np.sqrt(len(xy)), singular[0] / np.sqrt(len(xy))


def test_linear_mcs_lie_near_a_line_in_the_configured_orientation():
    config = SceneConfig(distribution="linear", positive_fraction=1.0,
                         mc_count_range=(8, 12), orientation_range_deg=(30.0, 30.0),
                         cluster_extent_mm=(5.0, 6.0), curvature_range_per_mm=(0.0, 0.0))
    for s in _scenes(config, 40):
        xy = _centres(s)
        across, along = _line_residual(xy)
        assert across < 0.2 and along > 0.7
        direction = np.linalg.svd(xy - xy.mean(axis=0))[2][0]
        angle = np.degrees(np.arctan2(-direction[1], direction[0])) % 180
        assert abs(angle - 30.0) < 8.0


def test_clustered_mcs_stay_within_the_cluster_extent():
    config = SceneConfig(distribution="clustered", positive_fraction=1.0,
                         cluster_extent_mm=(3.0, 3.0), mc_size_range_mm=(0.1, 0.2))
    for s in _scenes(config, 60):
        xy = _centres(s)
        spread = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1).max()
        assert spread <= 3.0 + 1e-9


def test_diffuse_mcs_spread_across_the_patch_and_clusters_do_not():
    diffuse = SceneConfig(distribution="diffuse", positive_fraction=1.0, mc_count_range=(10, 12))
    clustered = diffuse.replace(distribution="clustered", cluster_extent_mm=(2.0, 3.0))
    spread_d = [_centres(s).std(axis=0).mean() for s in _scenes(diffuse, 50)]
    spread_c = [_centres(s).std(axis=0).mean() for s in _scenes(clustered, 50)]
    regional = diffuse.replace(distribution="regional")
    spread_r = [_centres(s).std(axis=0).mean() for s in _scenes(regional, 50)]
    centres_r = np.array([_centres(s).mean(axis=0) for s in _scenes(regional, 50)])
    # Uniform on [-4.5, 4.5]: standard deviation 2.6 mm.
    assert 2.0 < np.mean(spread_d) < 3.0
    assert np.mean(spread_c) < 1.0
    assert 1.2 < np.mean(spread_r) < np.mean(spread_d)
    assert np.abs(centres_r).max() > 0.5  # regions are not pinned to the patch centre


def test_segmental_mcs_widen_away_from_the_apex():
    config = SceneConfig(distribution="segmental", positive_fraction=1.0,
                         mc_count_range=(12, 12), orientation_range_deg=(0.0, 0.0),
                         cluster_extent_mm=(7.0, 8.0), placement="center",
                         mc_size_range_mm=(0.1, 0.15))
    near, far = [], []
    for s in _scenes(config, 60):
        xy = _centres(s)
        x, y = xy[:, 0], xy[:, 1]
        cut = np.median(x)
        near.append(np.ptp(y[x <= cut]))
        far.append(np.ptp(y[x > cut]))
    assert np.mean(far) > 1.3 * np.mean(near)


def test_linear_arrangements_bend_with_their_curvature():
    straight = SceneConfig(distribution="linear", positive_fraction=1.0, mc_count_range=(12, 12),
                           cluster_extent_mm=(7.0, 7.0), curvature_range_per_mm=(0.0, 0.0),
                           mc_size_range_mm=(0.1, 0.15), placement="center")
    bent = straight.replace(curvature_range_per_mm=(0.2, 0.2))

    def residual(config):
        return np.mean([_line_residual(_centres(s))[0] for s in _scenes(config, 40)])

    # a parabola of curvature 0.2/mm over 7 mm rises 0.5 × 0.2 × 3.5² = 1.2 mm at its ends
    assert residual(straight) < 0.1 < 0.3 < residual(bent)


def test_mc_centres_honour_the_configured_spacing_in_every_distribution():
    for distribution in DISTRIBUTIONS:
        config = SceneConfig(distribution=distribution, positive_fraction=1.0,
                             mc_count_range=(10, 30), mc_min_spacing_mm=0.4,
                             hard_negative_fraction=0.0)
        for s in _scenes(config, 60):
            xy = _centres(s)
            d = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
            np.fill_diagonal(d, np.inf)
            sizes = np.array([mc.size_mm for mc in s.calcifications])
            assert (d >= 0.4 - 1e-9).all(), distribution
            assert (d >= 0.5 * (sizes[:, None] + sizes[None, :]) - 1e-9).all(), distribution


def test_the_long_tailed_count_distribution_fits_its_configuration():
    from scipy import stats

    config = SceneConfig(positive_fraction=1.0, mc_min_spacing_mm=None)  # keeps every MC
    counts = np.array([len(s.calcifications) for s in _scenes(config, 3000, seed=9)])
    values, p = synth.count_probabilities(config)
    observed = np.array([(counts == v).sum() for v in values])
    expected = p * len(counts)
    tail = values >= 19  # pool the sparse tail so every expected count is >= 5
    obs = np.append(observed[~tail], observed[tail].sum())
    exp = np.append(expected[~tail], expected[tail].sum())
    assert exp.min() >= 5
    assert stats.chisquare(obs, exp).pvalue > 0.001
    assert 7.5 < counts.mean() < 8.5 and np.median(counts) < counts.mean()  # right-skewed
    uniform = config.replace(mc_count_distribution="uniform", mc_count_range=(3, 12))
    counts = np.array([len(s.calcifications) for s in _scenes(uniform, 1000, seed=9)])
    assert stats.chisquare(np.bincount(counts)[3:13]).pvalue > 0.001


def test_pleomorphism_correlates_the_sizes_within_a_scene():
    def spread(p):
        config = SceneConfig(positive_fraction=1.0, pleomorphism=p, mc_count_range=(8, 8),
                             morphology_weights={"punctate": 1.0}, mc_size_range_mm=(0.1, 0.5))
        return np.mean([np.std(np.log([mc.size_mm for mc in s.calcifications]))
                        for s in _scenes(config, 80)])

    assert spread(0.0) < 1e-9 < spread(0.3) < spread(1.0)


def test_mcs_keep_apart_when_there_is_room():
    config = SceneConfig(distribution="clustered", positive_fraction=1.0,
                         mc_size_range_mm=(0.3, 0.3), cluster_extent_mm=(6.0, 6.0),
                         mc_count_range=(3, 6), mc_min_spacing_mm=None)
    for s in _scenes(config, 60):
        xy = _centres(s)
        d = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
        np.fill_diagonal(d, np.inf)
        assert d.min() >= 0.15 + 0.6 * 0.3 - 1e-6


def test_sizes_contrasts_and_morphologies_follow_the_config():
    config = SceneConfig(positive_fraction=1.0, mc_size_range_mm=(0.2, 0.4),
                         contrast_range=(0.25, 0.3),
                         morphology_weights={"punctate": 1.0, "fine_pleomorphic": 1.0})
    mcs = [mc for s in _scenes(config, 80) for mc in s.calcifications]
    sizes = np.array([mc.size_mm for mc in mcs])
    assert sizes.min() >= 0.2 and sizes.max() <= 0.4
    assert all(0.25 <= mc.contrast <= 0.3 for mc in mcs)
    assert {mc.morphology for mc in mcs} == {"punctate", "fine_pleomorphic"}


def test_centred_placement_puts_clusters_on_the_patch_centre():
    config = SceneConfig(distribution="clustered", positive_fraction=1.0, placement="center",
                         cluster_extent_mm=(2.0, 2.0))
    centres = np.array([_centres(s).mean(axis=0) for s in _scenes(config, 60)])
    assert np.abs(centres).max() < 1.0


def test_components_reproduce_the_outline_and_peak_at_one():
    config = SceneConfig(positive_fraction=1.0)
    for s in _scenes(config, 20):
        for mc in s.calcifications:
            comps = mc.components
            assert 1 <= len(comps) <= 6
            assert np.all(comps[:, 2:4] > 0)
            assert np.all(comps[:, 5] > 0)


def test_lumpy_background_is_drawn_only_when_asked():
    plain = sample_scene(SceneConfig(), rng=np.random.default_rng(1))
    lumpy = sample_scene(SceneConfig(lumpy_strength=0.5), rng=np.random.default_rng(1))
    assert plain.lumps is None
    assert lumpy.lumps is not None and len(lumpy.lumps.centres_mm) > 0
