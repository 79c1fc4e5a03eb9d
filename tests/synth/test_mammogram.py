import dataclasses

import numpy as np
import pytest

import synth
from synth import SceneConfig, render_mammogram, render_mammogram_scene, sample_mammogram
from synth._breast import render_texture, texture_units
from synth._mammogram_scene import GROUP_GAP_MM, SKIN_CLEARANCE_MM

SMALL = (60.0, 80.0)


@pytest.fixture(scope="module")
def mammogram():
    return render_mammogram(SceneConfig(), resolution_um=100, seed=3, size_mm=SMALL)


def test_shapes_types_and_range(mammogram):
    m = mammogram
    assert m.image.shape == m.breast_mask.shape == m.mc_mask.shape == (600, 800)
    assert m.image.dtype == np.float32 and m.breast_mask.dtype == bool
    assert 0.0 <= m.image.min() and m.image.max() <= 1.0
    assert m.resolution_um == 100
    assert list(m.annotations.columns) == ["X1", "Y1", "X2", "Y2", "cluster", "distribution",
                                           "n_calcifications"]
    assert {"x_mm", "y_mm", "x_px", "y_px", "size_mm", "morphology", "cluster"} <= set(
        m.calcifications.columns)
    assert len(m.annotations) >= 1 and (m.calcifications["cluster"] == -1).any()


def test_background_is_exactly_zero_and_the_breast_is_not(mammogram):
    m = mammogram
    assert (m.image[~m.breast_mask] == 0.0).all()
    assert (m.image[m.breast_mask] > 0.0).all()
    assert 0.2 < m.breast_mask.mean() < 0.9
    chest = 0 if m.scene.chest_wall == "left" else -1
    assert m.breast_mask[:, chest].any()  # the breast is attached to the chest-wall edge
    assert not m.breast_mask[:, -1 - chest].any()


def test_same_seed_same_mammogram_other_seed_other(mammogram):
    again = render_mammogram(SceneConfig(), resolution_um=100, seed=3, size_mm=SMALL)
    assert np.array_equal(again.image, mammogram.image)
    assert again.annotations.equals(mammogram.annotations)
    other = render_mammogram(SceneConfig(), resolution_um=100, seed=4, size_mm=SMALL)
    assert not np.array_equal(other.image, mammogram.image)


def test_boxes_hold_their_clusters_and_mcs_lie_in_the_breast(mammogram):
    m = mammogram
    mcs = m.calcifications
    rows, cols = np.rint(mcs["y_px"]).astype(int), np.rint(mcs["x_px"]).astype(int)
    assert m.breast_mask[rows, cols].all()
    assert (m.scene.skin_distance_mm(mcs["x_mm"], mcs["y_mm"]) >= SKIN_CLEARANCE_MM - 1e-3).all()
    for box in m.annotations.itertuples():
        inside = ((cols >= box.X1) & (cols < box.X2) & (rows >= box.Y1) & (rows < box.Y2))
        mine = (mcs["cluster"] == box.cluster).to_numpy()
        assert inside[mine].all() and mine.sum() == box.n_calcifications >= 3
        assert not inside[~mine].any()  # hard negatives and other clusters stay out


def test_groups_are_kept_apart(mammogram):
    mcs = mammogram.calcifications
    xy = mcs[["x_mm", "y_mm"]].to_numpy()
    label = mcs["cluster"].to_numpy()
    for k in np.unique(label[label >= 0]):
        gap = np.abs(xy[label == k][:, None, :] - xy[label != k][None, :, :]).max(axis=-1)
        assert gap.min() >= GROUP_GAP_MM


def test_the_same_mcs_in_mm_at_two_resolutions():
    scene = sample_mammogram(SceneConfig(), size_mm=SMALL, rng=np.random.default_rng(8))
    coarse, fine = render_mammogram_scene(scene, 100), render_mammogram_scene(scene, 50)
    assert fine.image.shape == (1200, 1600)
    a, b = coarse.calcifications, fine.calcifications
    assert np.array_equal(a["x_mm"], b["x_mm"]) and np.array_equal(a["y_mm"], b["y_mm"])
    assert np.allclose((a["x_px"] + 0.5) * 100, (b["x_px"] + 0.5) * 50)
    # the boxes are the same region in mm (within a pixel of the coarse grid)
    assert np.allclose(a[["cluster"]], b[["cluster"]])
    assert np.abs(coarse.annotations[["X1", "X2"]].to_numpy() * 2
                  - fine.annotations[["X1", "X2"]].to_numpy()).max() <= 2


def test_the_same_tissue_at_two_resolutions():
    scene = sample_mammogram(SceneConfig(acquisition=None), size_mm=SMALL,
                             rng=np.random.default_rng(2), n_clusters_range=(0, 0),
                             n_hard_negatives_range=(0, 0))
    coarse, fine = render_mammogram_scene(scene, 100), render_mammogram_scene(scene, 50)
    binned = fine.image.reshape(600, 2, 800, 2).mean(axis=(1, 3))
    inside = coarse.breast_mask & (binned > 0)
    assert np.corrcoef(coarse.image[inside], binned[inside])[0, 1] > 0.98


def test_texture_matches_the_patch_generator_per_1cm_window():
    config = SceneConfig(beta_range=(2.8, 2.8), density_range=(0.5, 0.5), acquisition=None,
                         positive_fraction=0.0, hard_negative_fraction=0.0,
                         contrast_model="relative", texture="periodic")
    patches = synth.generate(config, 64, resolution_um=100, seed=0).images
    key = (1, 2, 3, 4)
    field = render_texture(key, beta=2.8, std=0.015 + 0.03 * 0.5, blur_mm=0.0,
                           units=(texture_units(100), texture_units(100)), shape=(1000, 1000),
                           resolution_um=100)
    windows = field.reshape(10, 100, 10, 100).transpose(0, 2, 1, 3).reshape(100, 100, 100)
    ratio = windows.std(axis=(1, 2)).mean() / patches.std(axis=(1, 2)).mean()
    assert 0.85 < ratio < 1.15


def test_contrast_zero_leaves_the_tissue_unchanged():
    config = SceneConfig(contrast_range=(0.0, 0.0))
    scene = sample_mammogram(config, size_mm=SMALL, rng=np.random.default_rng(5))
    assert scene.calcifications
    bare = dataclasses.replace(scene, calcifications=(), cluster=(), distributions=())
    assert np.array_equal(render_mammogram_scene(scene, 100).image,
                          render_mammogram_scene(bare, 100).image)


def test_no_groups_means_no_mcs_and_no_boxes():
    m = render_mammogram(SceneConfig(), resolution_um=100, seed=1, size_mm=SMALL,
                         n_clusters_range=(0, 0), n_hard_negatives_range=(0, 0))
    assert m.annotations.empty and m.calcifications.empty and not m.mc_mask.any()


def test_mcs_are_brighter_than_their_surroundings():
    m = render_mammogram(SceneConfig(acquisition=None, contrast_range=(0.5, 0.6),
                                     mc_size_range_mm=(0.3, 0.5), morphology_weights="punctate",
                                     material_weights="hydroxyapatite"),
                         resolution_um=100, seed=2, size_mm=SMALL)
    mcs = m.calcifications
    rows, cols = np.rint(mcs["y_px"]).astype(int), np.rint(mcs["x_px"]).astype(int)
    assert m.mc_mask[rows, cols].all()
    ring = [np.median(m.image[r - 8:r + 9, c - 8:c + 9]) for r, c in zip(rows, cols, strict=True)]
    assert (m.image[rows, cols] > np.array(ring) + 0.05).all()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"resolution_um": 60}, ValueError, "resolution_um"),
    ({"size_mm": (10, 80)}, ValueError, "size_mm"),
    ({"size_mm": (60, -5)}, ValueError, "size_mm"),
    ({"size_mm": (60, float("nan"))}, ValueError, "size_mm"),
    ({"size_mm": "60x80"}, TypeError, "size_mm"),
    ({"seed": -1}, ValueError, "seed"),
    ({"n_clusters_range": (3, 1)}, ValueError, "n_clusters_range"),
    ({"n_hard_negatives_range": (0, 99)}, ValueError, "n_hard_negatives_range"),
])
def test_validation_names_the_field(kwargs, error, match):
    args = {"resolution_um": 100, "seed": 0, "size_mm": SMALL, **kwargs}
    with pytest.raises(error, match=match):
        render_mammogram(SceneConfig(), **args)


def test_config_must_be_a_scene_config():
    with pytest.raises(TypeError, match="config"):
        sample_mammogram({"distribution": "linear"}, rng=np.random.default_rng(0))


def test_default_size_is_24_by_30_cm():
    scene = sample_mammogram(SceneConfig(), rng=np.random.default_rng(0))
    assert scene.size_mm == (240.0, 300.0)
    assert synth.Mammogram and synth.MammogramScene and synth.write_mammograms
