"""Anatomical mammograms: phantom geometry, views, density, look-alikes, BI-RADS scale,
patches from phantoms, realism figures, determinism and the untouched legacy paths."""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import synth
from synth import SceneConfig, render_mammogram, render_mammogram_scene, sample_mammogram
from synth._lookalikes import check_lookalikes, sample_lookalikes
from synth._mammogram import ANNOTATION_COLUMNS
from synth._phantom_boxes import mcc_boxes
from synth._phantom_mammogram import clipped
from synth._phantom_patches import PHANTOM_POOL, pool_index
from synth._phantom_render import fibroglandular_fraction

SMALL = (60.0, 80.0)
MID = (120.0, 150.0)


@pytest.fixture(scope="module")
def cc():
    return render_mammogram(SceneConfig(), resolution_um=100, seed=2, size_mm=MID, view="CC",
                            density_category="c")


def test_same_structures_at_the_same_mm_at_every_resolution():
    scene = sample_mammogram(SceneConfig(acquisition=None), size_mm=SMALL,
                             rng=np.random.default_rng(5), view="MLO", density_category="d",
                             lookalikes=())
    coarse = render_mammogram_scene(scene, 100)
    fine = render_mammogram_scene(scene, 50)
    binned = fine.image.reshape(600, 2, 800, 2).mean(axis=(1, 3))
    inside = coarse.breast_mask & fine.breast_mask.reshape(600, 2, 800, 2).all(axis=(1, 3))
    # the same tissue (noise-free): the 50 µm image binned to 100 µm matches pixel for pixel
    # (a shift of 2 pixels gives r ≈ 0.998 and an RMS of 0.018)
    r = np.corrcoef(binned[inside], coarse.image[inside])[0, 1]
    rms = np.sqrt(np.mean((binned[inside] - coarse.image[inside]) ** 2))
    assert r > 0.9999 and rms < 0.004, (r, rms)
    assert abs(fine.breast_mask.mean() - coarse.breast_mask.mean()) < 0.005
    # 70 µm against 100 µm on common 0.7 mm bins (10 and 7 pixels)
    mid = render_mammogram_scene(scene, 70)
    a = coarse.image[:595, :798].reshape(85, 7, 114, 7).mean(axis=(1, 3))
    b = mid.image[:850, :1140].reshape(85, 10, 114, 10).mean(axis=(1, 3))
    both = (coarse.breast_mask[:595, :798].reshape(85, 7, 114, 7).all(axis=(1, 3))
            & mid.breast_mask[:850, :1140].reshape(85, 10, 114, 10).all(axis=(1, 3)))
    assert np.sqrt(np.mean((a[both] - b[both]) ** 2)) < 0.003
    assert np.allclose(fine.calcifications["x_mm"], coarse.calcifications["x_mm"])
    assert np.allclose(fine.calcifications["x_px"], 2 * coarse.calcifications["x_px"] + 0.5)


def test_pectoral_muscle_in_mlo_only():
    for view in ("CC", "MLO"):
        ph = synth.sample_phantom(size_mm=MID, rng=np.random.default_rng(1), view=view)
        x = np.array([5.0 if ph.chest_wall == "left" else MID[1] - 5.0])
        d = ph.pectoral_distance_mm(x, np.array([5.0]))
        assert (d is not None and d[0] > 0) == (view == "MLO")
    mlo = render_mammogram(SceneConfig(acquisition=None), resolution_um=100, seed=1,
                           size_mm=MID, view="MLO", density_category="a", lookalikes=())
    corner = mlo.image[5:40, :35] if mlo.scene.chest_wall == "left" else mlo.image[5:40, -35:]
    breast = mlo.image[mlo.breast_mask]
    assert np.median(corner) > np.percentile(breast, 90)  # the dense wedge at the top corner
    ph = mlo.scene.phantom
    xy = np.array([(mc.x_mm, mc.y_mm) for mc in mlo.scene.calcifications])
    assert (ph.pectoral_distance_mm(xy[:, 0], xy[:, 1]) < 0).all()  # no MC in the muscle


def test_density_category_orders_the_glandular_fraction_in_both_views():
    fractions = {}
    for view in synth.VIEWS:
        for category in synth.DENSITY_CATEGORIES:
            fg = [fibroglandular_fraction(synth.sample_phantom(
                size_mm=(240.0, 300.0), rng=np.random.default_rng(s), view=view,
                density_category=category), 4.0) for s in range(3)]
            fractions[view, category] = np.mean([f["volumetric"] for f in fg])
            muscle = np.mean([f["muscle_area"] for f in fg])
            assert (muscle > 0.03) == (view == "MLO")  # reported, not counted as gland
    for view in synth.VIEWS:
        row = [fractions[view, c] for c in synth.DENSITY_CATEGORIES]
        assert np.all(np.diff(row) > 0.03), row
        assert row[0] < 0.1 and row[-1] > 0.35
    for c in synth.DENSITY_CATEGORIES:  # BI-RADS density is the breast's, whatever the view
        cc, mlo = fractions["CC", c], fractions["MLO", c]
        assert abs(mlo - cc) < 0.25 * cc + 0.01, (c, cc, mlo)


def test_periphery_dark_and_gland_bright(cc):
    ph = cc.scene.phantom
    px = 0.1
    y, x = np.mgrid[0:cc.image.shape[0], 0:cc.image.shape[1]]
    d = ph.skin_distance_mm((x + 0.5) * px, (y + 0.5) * px)
    rim = cc.image[(d > 0.5) & (d < 3)]
    env = ph.envelope((x + 0.5) * px, (y + 0.5) * px, d)
    fat = cc.image[(d > ph.edge_mm) & (env < 0.02)]
    gland = cc.image[env > 0.4]
    assert np.median(rim) < np.median(fat) < np.median(gland)


def test_every_lookalike_is_in_the_findings_only_and_negative(cc):
    found = cc.findings
    assert list(found.columns) == list(synth.FINDING_COLUMNS)
    assert set(found["kind"]) >= set(synth.LOOKALIKE_KINDS)  # vascular included
    looks = found[found["kind"].isin(synth.LOOKALIKE_KINDS)]
    assert (looks["label"] == 0).all() and (looks["n_boxes"] == 0).all()
    assert (found.loc[found["kind"] == "cluster", "label"] == 1).all()
    solid = looks[~looks["kind"].isin(("dead_pixel", "dead_line"))]
    assert (solid["integrated_signal"] > 0).all() and (solid["dprime"] > 0).all()
    mcs = cc.calcifications  # MCs only: look-alikes are no MCs
    assert set(mcs["kind"]) <= {"cluster", "hard_negative"}
    assert len(mcs) == found.loc[found["kind"].isin(("cluster", "hard_negative")),
                                 "n_calcifications"].sum()
    assert len(cc.annotations) == found["n_boxes"].sum()


def test_local_tissue_is_the_glandular_fraction(cc):
    for table in (cc.calcifications, cc.findings):
        g = table["local_tissue"].to_numpy()
        assert np.all((g >= 0) & (g <= 1)), g
    assert cc.calcifications["local_tissue"].max() > 0.1  # not A/T (≈ 0.04–0.09 per mm)
    batch = synth.generate(SceneConfig(patch_source="phantom", positive_fraction=1.0), 8,
                           resolution_um=100, seed=7)
    g = batch.calcifications["local_tissue"].to_numpy()
    assert np.all((g >= 0) & (g <= 1)) and g.max() > 0.1


def test_lookalikes_lie_in_the_image_in_mlo():
    # the MLO outline leaves through the top edge: vessels (and look-alikes on them) start
    # above the image; ~5 % of default MLO mammograms crashed at render
    h, w = 240.0, 300.0
    for i in range(100):
        ph = synth.sample_phantom(size_mm=(h, w), rng=np.random.default_rng([0, i]),
                                  view="MLO")
        looks = sample_lookalikes(ph, synth.LOOKALIKE_KINDS, rng=np.random.default_rng([1, i]))
        for lk in looks:
            if lk.kind == "vascular":
                pts = np.concatenate([lk.parts[:, :2], lk.parts[:, 2:4]])
            else:
                pts = lk.parts[:, :2]
            if lk.kind == "dead_line":  # a stuck column segment, clipped to the image
                pts = np.array([[lk.parts[0, 0], lk.y_mm]])
            elif lk.kind not in ("vascular", "dead_pixel"):
                d = ph.skin_distance_mm(pts[:, 0], pts[:, 1])
                assert (d > 0).all(), (i, lk.kind, d)  # in the breast (skin shells too)
            assert ((pts[:, 0] > 0) & (pts[:, 0] < w) & (pts[:, 1] > 0)
                    & (pts[:, 1] < h)).all(), (i, lk.kind, pts)
    assert clipped(np.array([-40, 5]), (30, 30), (100, 100)) is None  # wholly above
    assert clipped(np.array([-10, 95]), (30, 30), (100, 100)) is not None
    # the reported crash: mammogram 24 of seed 0 (MLO), rendered small
    scene = sample_mammogram(SceneConfig(), size_mm=(20.0, 300.0),
                             rng=np.random.default_rng([0, 24]), view="MLO")
    assert render_mammogram_scene(scene, 100).image.shape == (200, 3000)


def test_vascular_calcifications_are_tram_tracks_and_skin_ones_have_lucent_centres():
    ph = synth.sample_phantom(size_mm=(240.0, 300.0), rng=np.random.default_rng(3), view="CC")
    lk = next(x for s in range(10) for x in sample_lookalikes(
        ph, ("vascular",), rng=np.random.default_rng(s)))
    x0, y0, x1, y1, r, inner = lk.parts[0]
    piece = dataclasses.replace(lk, parts=lk.parts[:1])
    (r0, c0), prof = synth._lookalikes.lookalike_thickness(piece, 0.025, 0.0)
    # the profile across the piece at its middle: two lines (the walls), little between
    length = np.hypot(x1 - x0, y1 - y0)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    s = np.linspace(-0.99 * r, 0.99 * r, 241)
    cols = np.floor((0.5 * (x0 + x1) + s * nx) / 0.025).astype(int) - c0
    rows = np.floor((0.5 * (y0 + y1) + s * ny) / 0.025).astype(int) - r0
    across = prof[rows, cols]
    centre = across[np.abs(s) < 0.5 * inner]
    # a shell of wall w: 2 w at the centre, 2 √(R² − R_in²) at the walls (≥ 1.7× for these)
    assert across.max() > 1.5 * centre.max()
    ridge = across > 0.5 * (across.max() + centre.max())
    assert np.count_nonzero(np.diff(ridge.astype(int)) == 1) == 2  # tram tracks
    skin = next(x for s in range(10) for x in sample_lookalikes(
        ph, ("skin",), rng=np.random.default_rng(s)))
    sx, sy = skin.parts[0, :2]
    one = dataclasses.replace(skin, parts=skin.parts[:1])
    (r0, c0), prof = synth._lookalikes.lookalike_thickness(one, 0.025, 0.0)
    row = prof[int(np.floor(sy / 0.025)) - r0]
    assert row[int(np.floor(sx / 0.025)) - c0] < 0.6 * row.max()  # lucent centre, bright rim


def _distance_to_polyline(xy, path):
    a, b = path[:-1], path[1:]
    ab = b - a
    t = ((xy[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)
    nearest = a + np.clip(t, 0, 1)[..., None] * ab
    return np.hypot(*(xy[:, None, :] - nearest).transpose(2, 0, 1)).min(axis=1)


def test_linear_and_segmental_follow_a_duct():
    for dist in ("linear", "segmental"):
        for seed in range(3):
            scene = sample_mammogram(SceneConfig(distribution=dist, acquisition=None),
                                     size_mm=(240.0, 300.0), rng=np.random.default_rng(seed),
                                     n_clusters_range=(1, 1), n_hard_negatives_range=(0, 0),
                                     lookalikes=())
            assert scene.distributions == (dist,)
            xy = np.array([(mc.x_mm, mc.y_mm) for mc in scene.calcifications])
            lines = scene.phantom.structures
            near = min(np.median(_distance_to_polyline(xy, lines.path(i)))
                       for i in range(len(lines)) if lines.kind[i] == "duct")
            span = np.ptp(xy, axis=0).max()
            if dist == "linear":
                assert near < 1.0 and 7.0 < span < 20.0, (seed, near, span)
            else:  # a wedge spreading away from the nipple, on its duct
                assert near < 3.0 and span >= 15.0, (seed, near, span)


def test_regional_spans_more_than_2cm_and_diffuse_most_of_the_breast():
    for dist in ("regional", "diffuse"):
        spans = []
        for seed in range(4):
            scene = sample_mammogram(SceneConfig(distribution=dist, acquisition=None),
                                     size_mm=(240.0, 300.0), rng=np.random.default_rng(seed),
                                     n_clusters_range=(1, 1), n_hard_negatives_range=(0, 0),
                                     view="CC", lookalikes=())
            assert scene.distributions == (dist,)
            xy = np.array([(mc.x_mm, mc.y_mm) for mc in scene.calcifications])
            spans.append(np.ptp(xy, axis=0).max())
            if dist == "diffuse":
                y, x = np.mgrid[0:240:2.0, 0:300:2.0] + 1.0
                inside = scene.phantom.skin_distance_mm(x, y) > 5
                breast = np.ptp(x[inside]) * np.ptp(y[inside])
                assert np.ptp(xy[:, 0]) * np.ptp(xy[:, 1]) > 0.4 * breast
                assert len(xy) >= 18
        if dist == "regional":
            assert min(spans) > 20.0, spans  # BI-RADS regional: more than 2 cm


@pytest.mark.parametrize("dist", ["regional", "diffuse", "segmental", "linear", "clustered"])
def test_annotation_boxes_follow_the_label_rule(dist):
    k, res = 3, 100
    size, px = synth.patch_size_px(res), res / 1000.0
    config = SceneConfig(distribution=dist, acquisition=None, cluster_min_count=k)
    n_boxes = 0
    for seed in range(3):
        scene = sample_mammogram(config, size_mm=(240.0, 300.0), rng=np.random.default_rng(seed),
                                 n_clusters_range=(2, 2), n_hard_negatives_range=(0, 0),
                                 lookalikes=())
        mcs = pd.DataFrame({"cluster": scene.cluster,
                            "x_mm": [mc.x_mm for mc in scene.calcifications],
                            "y_mm": [mc.y_mm for mc in scene.calcifications],
                            "size_mm": [mc.size_mm for mc in scene.calcifications]})
        boxes = mcc_boxes(mcs, scene.distributions, (2400, 3000), px, size, k, 1.0,
                          ANNOTATION_COLUMNS)
        n_boxes += len(boxes)
        for cluster in range(len(scene.distributions)):
            mine = mcs[mcs["cluster"] == cluster]
            ix = np.floor(mine["x_mm"].to_numpy() / px).astype(int)
            iy = np.floor(mine["y_mm"].to_numpy() / px).astype(int)
            own = boxes[boxes["cluster"] == cluster]
            for b in own.itertuples():
                # at most 1 cm: every class-1 window holds the whole box, so >= k MCs
                assert b.X2 - b.X1 <= size and b.Y2 - b.Y1 <= size
                inside = (ix >= b.X1) & (ix < b.X2) & (iy >= b.Y1) & (iy < b.Y2)
                assert inside.sum() >= k and inside.sum() == b.n_calcifications
            # any 1 cm window with >= k of the finding's MCs overlaps one of its boxes
            x1 = np.unique(np.concatenate([ix, ix - size // 2, ix - size + 1]))[:, None]
            y1 = np.unique(np.concatenate([iy, iy - size // 2, iy - size + 1]))[:, None]
            in_x, in_y = (ix >= x1) & (ix < x1 + size), (iy >= y1) & (iy < y1 + size)
            held = (in_x[:, None, :] & in_y[None, :, :]).sum(axis=-1)  # (windows x, y)
            bx1, by1, bx2, by2 = (own[c].to_numpy() for c in ("X1", "Y1", "X2", "Y2"))
            over_x = (bx1 < x1 + size) & (x1 < bx2)  # (windows x, boxes)
            over_y = (by1 < y1 + size) & (y1 < by2)
            overlaps = (over_x[:, None, :] & over_y[None, :, :]).any(axis=-1)
            assert overlaps[held >= k].all()
    assert n_boxes >= 1


def test_rendered_boxes_are_the_groups(cc):
    size = synth.patch_size_px(100)
    boxes = cc.annotations
    assert len(boxes) and ((boxes["X2"] - boxes["X1"]) <= size).all()
    assert ((boxes["Y2"] - boxes["Y1"]) <= size).all()
    assert (boxes["n_calcifications"] >= cc.scene.cluster_min_count).all()


def test_determinism_and_validation(cc):
    again = render_mammogram(SceneConfig(), resolution_um=100, seed=2, size_mm=MID, view="CC",
                             density_category="c")
    assert np.array_equal(again.image, cc.image)
    assert again.findings.equals(cc.findings)
    other = render_mammogram(SceneConfig(), resolution_um=100, seed=3, size_mm=MID, view="CC",
                             density_category="c")
    assert not np.array_equal(other.image, cc.image)
    for kwargs, match in (({"view": "LAT"}, "view"), ({"density_category": "e"},
                                                       "density_category"),
                          ({"lookalikes": ("fish",)}, "lookalikes"),
                          ({"anatomy": False, "view": "CC"}, "anatomy")):
        with pytest.raises(ValueError, match=match):
            render_mammogram(SceneConfig(), resolution_um=100, seed=0, size_mm=SMALL, **kwargs)
    with pytest.raises(ValueError, match="contrast_model"):
        render_mammogram(SceneConfig(contrast_model="relative"), resolution_um=100, seed=0,
                         size_mm=SMALL, anatomy=True)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"chest_wall": "top"}, "chest_wall"), ({"size_mm": (-5.0, 300.0)}, "size_mm"),
    ({"thickness_range_mm": (60.0, 40.0)}, "thickness_range_mm"),
    ({"beta_range": (3.0, 4.5)}, "beta_range")])
def test_sample_phantom_refuses_bad_values(kwargs, match):
    args = {"size_mm": MID, **kwargs}
    with pytest.raises(ValueError, match=match):
        synth.sample_phantom(rng=np.random.default_rng(0), **args)


def test_lookalike_kinds_in_any_order_give_the_same_mammogram():
    kinds = ("dust", "rim", "skin", "vascular")
    assert check_lookalikes(set(kinds)) == check_lookalikes(kinds[::-1]) == (
        "vascular", "skin", "rim", "dust")

    def scene(order):
        return sample_mammogram(SceneConfig(), size_mm=MID, rng=np.random.default_rng(4),
                                view="CC", lookalikes=order)
    a, b = scene(kinds), scene(list(reversed(kinds)))
    assert [(lk.kind, lk.x_mm) for lk in a.lookalikes] == [(lk.kind, lk.x_mm)
                                                            for lk in b.lookalikes]
    # a set: its order follows the string hashing of the process
    code = ("import numpy as np, synth; s = synth.sample_mammogram(synth.SceneConfig(), "
            "size_mm=(120.0, 150.0), rng=np.random.default_rng(4), view='CC', "
            "lookalikes={'dust', 'rim', 'skin', 'vascular'}); "
            "print([(lk.kind, round(lk.x_mm, 6)) for lk in s.lookalikes])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": h}).stdout
            for h in ("1", "2")}
    assert len(outs) == 1


def test_patches_from_phantoms_follow_the_label_rule_and_are_reproducible():
    config = SceneConfig(patch_source="phantom")
    batch = synth.generate(config, 24, resolution_um=100, seed=7)
    mcs = batch.calcifications
    inside = mcs.groupby("index")["inside"].sum().reindex(range(24), fill_value=0)
    assert np.array_equal(batch.labels, (inside.to_numpy() >= config.cluster_min_count)
                          .astype(int))
    texture = synth.generate(SceneConfig(), 24, resolution_um=100, seed=7)
    assert np.array_equal(batch.labels, texture.labels)  # same scenes, other backgrounds
    alone = synth.generate_indices(config, [19], resolution_um=100, seed=7)
    assert np.array_equal(alone.images[0], batch.images[19])
    shuffled = synth.generate_indices(config, [5, 23, 0, 11], resolution_um=100, seed=7)
    assert np.array_equal(shuffled.images, batch.images[[5, 23, 0, 11]])
    assert not np.array_equal(batch.images, texture.images)
    assert 0.0 <= batch.images.min() and batch.images.max() <= 1.0


def test_phantom_pool_mixes_consecutive_patches():
    first = [pool_index(i) for i in range(4096)]
    assert set(first) == set(range(PHANTOM_POOL))
    assert all(a != b for a, b in zip(first, first[1:], strict=False))
    assert len(set(first[:64])) > 0.6 * PHANTOM_POOL  # a batch of 64 mixes anatomies
    counts = np.bincount(first, minlength=PHANTOM_POOL)
    assert counts.min() > 0.8 * counts.mean()


def test_phantom_patches_keep_the_adc_range_of_the_texture_source():
    # processing output: fluence / ADC full scale. The full scale comes from the thinnest
    # tissue, not from the presentation's equalised fat map (0.75 T: ≈ 2× the range)
    acq = synth.Acquisition(output="processing", bit_depth=12)
    cfg = SceneConfig(acquisition=acq, positive_fraction=0.0, hard_negative_fraction=0.0)
    phantom = synth.generate(cfg.replace(patch_source="phantom"), 16, resolution_um=100, seed=2)
    texture = synth.generate(cfg, 16, resolution_um=100, seed=2)
    ratio = np.median(phantom.images.mean(axis=(1, 2))) / np.median(
        texture.images.mean(axis=(1, 2)))
    assert 0.6 < ratio < 1.5, ratio
    levels = np.unique(np.rint(phantom.images[0] * 4095))
    assert len(levels) > 100  # the 12-bit range is used, not a sliver of it


def test_patch_source_field_keeps_old_configs_and_is_validated():
    assert "patch_source" not in SceneConfig().to_dict()  # default left out: digests unchanged
    config = SceneConfig(patch_source="phantom")
    assert SceneConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="patch_source"):
        SceneConfig(patch_source="lumpy")
    with pytest.raises(ValueError, match="patch_source"):
        SceneConfig(patch_source="phantom", contrast_model="relative")


def test_patch_source_phantom_is_refused_where_it_cannot_be_honoured(tmp_path):
    config = SceneConfig(patch_source="phantom")
    with pytest.raises(ValueError, match="patch_source"):
        synth.sample_scene(config, rng=np.random.default_rng(0))  # then render: no phantom
    with pytest.raises(ValueError, match="patch_source"):
        synth.validate(config, n=2)
    root = tmp_path / "negatives"
    root.mkdir()
    grey = np.full((120, 120), 0.45 * 65535).astype(np.uint16)
    Image.fromarray(grey).save(root / "bg.png")
    backgrounds = synth.load_backgrounds(root, resolution_um=100, spacing_um=100)
    with pytest.raises(ValueError, match="patch_source"):
        synth.write_dataset(config, tmp_path / "set", 2, resolution_um=100, seed=0,
                            backgrounds=backgrounds)
    assert not (tmp_path / "set").exists()


# SHA-256 of generate(config, 6, seed=3) images + masks, computed from the committed code
# (HEAD, before the phantoms): the texture source must keep these bytes
TEXTURE_GOLDEN = {
    ("default", 100): "c9ddc2bb5decd6c0137f6e5f09e4c5ac333643514039ea3b35b816d7a14907c0",
    ("default", 70): "f27bfc67f51cf38a58d962a35c46a1949d85b30a600f4f4ff1ec5839e095bab2",
    ("relative", 100): "f53d5d23d7458d35b67dfac7d1a0adc9812d53a31a429d68c27dfea65393ecc2",
    ("indirect", 100): "a62edb6f5845a94f116db8a92173ca0f23de839be0c5678f1b19700b5c3c50c5",
}


@pytest.mark.parametrize(("name", "res"), list(TEXTURE_GOLDEN))
def test_texture_source_is_unchanged(name, res):
    config = {"default": SceneConfig(patch_source="texture"),
              "relative": SceneConfig(contrast_model="relative"),
              "indirect": SceneConfig(acquisition=synth.Acquisition(
                  detector="indirect", bit_depth=12), distribution="segmental")}[name]
    batch = synth.generate(config, 6, resolution_um=res, seed=3)
    digest = hashlib.sha256(batch.images.tobytes() + batch.masks.tobytes()).hexdigest()
    assert digest == TEXTURE_GOLDEN[name, res]


@pytest.mark.parametrize("category", ["b", "c", "d"])
def test_realism_figures(category):
    gf = []
    for view in synth.VIEWS:
        m = render_mammogram(SceneConfig(), resolution_um=100, seed=2, size_mm=(240.0, 300.0),
                             view=view, density_category=category)
        report = synth.compute_realism(m)
        assert 2.5 <= report["beta"] <= 3.5 and report["n_rois"] >= 1, report["beta"]
        edges, density = report["histogram"]
        assert len(edges) == 33 and np.isclose((density * np.diff(edges)).sum(), 1.0)
        assert report["density_category"] == category and report["view"] == view
        gf.append(report["glandular_fraction"])
    low, high = {"b": (0.04, 0.15), "c": (0.17, 0.38), "d": (0.42, 0.7)}[category]
    assert all(low < g < high for g in gf), gf  # so b < c < d, in either view


def test_realism_needs_anatomy():
    with pytest.raises(ValueError, match="mammogram"):
        synth.compute_realism(render_mammogram(SceneConfig(), resolution_um=100, seed=0,
                                               size_mm=SMALL))


def test_write_mammograms_with_anatomy(tmp_path):
    manifest = synth.write_mammograms(SceneConfig(), tmp_path / "set", 1, resolution_um=100,
                                      seed=0, size_mm=SMALL, view="MLO",
                                      lookalikes={"dust", "rim"})
    assert "findings.csv" in manifest["files"] and manifest["anatomy"]["view"] == "MLO"
    assert manifest["anatomy"]["lookalikes"] == ["rim", "dust"]  # canonical order
    found = pd.read_csv(tmp_path / "set" / "findings.csv")
    mcs = pd.read_csv(tmp_path / "set" / "calcifications.csv")
    assert list(found.columns) == ["image", *synth.FINDING_COLUMNS]
    assert set(mcs["kind"]) <= {"cluster", "hard_negative"}  # no look-alike counted as MC
    assert manifest["counts"]["calcifications"] == len(mcs)
    assert manifest["counts"]["findings"] == len(found)
    assert json.loads((tmp_path / "set" / "manifest.json").read_text())["counts"] == manifest[
        "counts"]
    plain = synth.write_mammograms(SceneConfig(), tmp_path / "plain", 1, resolution_um=100,
                                   seed=0, size_mm=SMALL)
    assert "findings.csv" not in plain["files"] and "anatomy" not in plain
    # a config anatomy cannot render is refused before anything is written
    with pytest.raises(ValueError, match="contrast_model"):
        synth.write_mammograms(SceneConfig(contrast_model="relative"), tmp_path / "bad", 1,
                               resolution_um=100, seed=0, size_mm=SMALL, anatomy=True)
    assert not any(p.name.startswith("bad") for p in tmp_path.iterdir())
