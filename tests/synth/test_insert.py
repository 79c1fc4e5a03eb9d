"""Synthetic MCs inserted into a user's own backgrounds: physics, bookkeeping, refusals."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import synth
from synth._insert import _apply

RES = 70
N = synth.patch_size_px(RES)
PX = RES / 1000.0


def save16(path, unit):
    Image.fromarray(np.rint(np.clip(unit, 0, 1) * 65535).astype(np.uint16)).save(path)


@pytest.fixture
def folder(tmp_path):
    """Three 16-bit PNG negatives at 70 µm: flat tissue with white noise of σ = 0.01."""
    rng = np.random.default_rng(1)
    root = tmp_path / "negatives"
    root.mkdir()
    for i in range(3):
        save16(root / f"bg{i}.png", rng.normal(0.45, 0.01, (300, 320)))
    return root


def test_zero_contrast_leaves_the_background_byte_identical(folder, tmp_path):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    config = synth.SceneConfig(positive_fraction=1.0, contrast_range=(0.0, 0.0))
    out = tmp_path / "set"
    synth.write_dataset(config, out, 12, resolution_um=RES, seed=3, bit_depth=16,
                        backgrounds=backgrounds)
    table = pd.read_csv(out / "patches.csv")
    for row in table.itertuples():
        written = np.asarray(Image.open(out / row.path))
        source = np.asarray(Image.open(folder / row.background))
        crop = source[row.row_px:row.row_px + N, row.col_px:row.col_px + N]
        assert np.array_equal(written, crop)


def test_centres_masks_and_labels_agree(folder):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    config = synth.SceneConfig(mc_size_range_mm=(0.3, 0.6), contrast_range=(1.0, 1.0),
                               morphology_weights={"punctate": 1.0})
    batch = synth.insert(backgrounds, config, 40, seed=0)
    mcs = batch.calcifications
    for k, row in batch.patches.iterrows():
        mine = mcs[mcs["index"] == row["index"]]
        inside = mine[mine["inside"]]
        assert row["label"] == int(len(inside) >= config.cluster_min_count)
        assert row["n_inside"] == len(inside)
        for mc in inside.itertuples():
            r, c = int(round(mc.row_px)), int(round(mc.col_px))
            if 0 <= r < N and 0 <= c < N:
                assert batch.masks[k, r, c], "an MC centre lies outside its own mask"
        # every masked pixel is near some MC centre of this patch
        rows, cols = np.nonzero(batch.masks[k])
        if len(rows):
            d = np.hypot(rows[:, None] - mine["row_px"].to_numpy()[None, :],
                         cols[:, None] - mine["col_px"].to_numpy()[None, :]).min(axis=1)
            assert d.max() * PX < 0.6
    assert set(batch.labels.tolist()) == {0, 1}


def test_a_patch_is_the_same_alone_or_in_a_batch(folder):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    config = synth.SceneConfig()
    batch = synth.insert(backgrounds, config, 9, seed=5)
    alone = synth.insert_indices(backgrounds, config, [7], seed=5)
    assert np.array_equal(alone.images[0], batch.images[7])
    assert alone.patches.iloc[0].equals(batch.patches.iloc[7])


@pytest.mark.parametrize("intent", ["presentation", "processing"])
def test_inserted_integrated_signal_matches_the_physics_model(tmp_path, intent):
    """In the log domain the inserted signal is fill × Δμ × volume, as synth.render has it."""
    root = tmp_path / "flat"
    root.mkdir()
    save16(root / "flat.png", np.full((200, 200), 0.4))  # noise-free: nothing added but ΔA
    gain = 0.25
    backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                                         intent=intent, gain=gain)
    config = synth.SceneConfig(positive_fraction=1.0, mc_size_range_mm=(0.2, 0.5))
    batch = synth.insert(backgrounds, config, 6, seed=2)
    flat = np.float32(np.rint(0.4 * 65535) / 65535)
    for k in range(len(batch)):
        if intent == "presentation":
            log_signal = (batch.images[k].astype(float) - flat) / gain
        else:
            log_signal = -np.log(batch.images[k].astype(float) / flat)
        mine = batch.calcifications[batch.calcifications["index"] == k]
        assert log_signal.sum() * PX**2 == pytest.approx(mine["integrated_signal"].sum(),
                                                         rel=1e-3)
    # and the per-MC value is the renderer's for the same scene (same draws, same order)
    rng = np.random.default_rng([2, 0])
    rng.integers(1)
    rng.integers(len(backgrounds.origins[0]))
    scene = synth.sample_scene(config, rng=rng)
    rendered = synth.render(scene, RES).calcifications["integrated_signal"].to_numpy()
    ours = batch.calcifications[batch.calcifications["index"] == 0]["integrated_signal"]
    np.testing.assert_allclose(ours.to_numpy(), rendered, rtol=1e-6)


def test_integrated_signal_follows_size_and_material(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    save16(root / "flat.png", np.full((200, 200), 0.4))
    backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES, gain=0.25)
    def mean_signal(**fields):
        config = synth.SceneConfig(positive_fraction=1.0, contrast_range=(1.0, 1.0),
                                   morphology_weights={"punctate": 1.0}, **fields)
        return synth.insert(backgrounds, config, 8, seed=0).calcifications[
            "integrated_signal"].mean()
    small = mean_signal(mc_size_range_mm=(0.2, 0.2))
    large = mean_signal(mc_size_range_mm=(0.4, 0.4))
    assert large / small == pytest.approx(8.0, rel=0.05)  # volume ∝ size³
    oxalate = mean_signal(mc_size_range_mm=(0.2, 0.2),
                          material_weights={"calcium_oxalate": 1.0})
    assert oxalate < small  # calcium oxalate attenuates less than hydroxyapatite


@pytest.mark.parametrize("intent", ["presentation", "processing"])
@pytest.mark.parametrize("detector", ["direct", "indirect"])
def test_added_noise_matches_the_target_local_nps(intent, detector):
    """Where an MC attenuates by ΔA the noise variance becomes σ² e^ΔA (presentation) or
    σ² e^-ΔA (processing): the quanta behind it; an indirect converter shapes it by MTF²."""
    rng = np.random.default_rng(0)
    sigma, level, d = 0.01, 0.45, 0.4
    count, n = 8, 128
    crops = rng.normal(level, sigma, (count, n, n)).astype(np.float32)
    background = crops.copy()
    delta = np.full((count, n, n), d, np.float32)
    var = np.full((count, n, n), sigma**2, np.float32)
    acq = synth.Acquisition(detector=detector, blur_sigma_um=60.0 if detector == "indirect"
                            else None)
    scenes = [synth.sample_scene(synth.SceneConfig(acquisition=acq),
                                 rng=np.random.default_rng([9, k])) for k in range(count)]
    processing = np.full(count, intent == "processing")
    out = _apply(crops, delta, var, processing, 0.3, scenes, PX)
    if intent == "presentation":
        target, added = sigma**2 * np.exp(d), out - background - 0.3 * d
    else:
        target, added = sigma**2 * np.exp(-d), out - background * np.exp(-d)
    total = out - out.mean(axis=(1, 2), keepdims=True)
    assert total.var() == pytest.approx(target, rel=0.15)
    # the added noise's spectrum: white for a direct converter, MTF² for an indirect one
    spectrum = (np.abs(np.fft.fft2(added - added.mean(axis=(1, 2), keepdims=True))) ** 2
                ).mean(axis=0)
    low = spectrum[1:8, 1:8].mean()
    high = spectrum[n // 2 - 8:n // 2 + 8, n // 2 - 8:n // 2 + 8].mean()
    if detector == "direct":
        assert high / low == pytest.approx(1.0, rel=0.15)
    else:
        assert high / low < 0.1


def test_noise_estimate_and_gain_of_a_quantum_limited_log_image(tmp_path):
    """A presentation image v = c - G ln q with q Poisson: the estimated gain is G."""
    rng = np.random.default_rng(4)
    gain = 0.08
    rows = np.linspace(0.0, 1.6, 600)[:, None]  # tissue attenuation rising down the image
    q = rng.poisson(4000.0 * np.exp(-rows) * np.ones((1, 400))).astype(float)
    unit = 0.9 - gain * np.log(q / 4000.0) - 0.5
    root = tmp_path / "log"
    root.mkdir()
    save16(root / "ramp.png", unit)
    assert synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES).gain_source == (
        "window")  # the default
    backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                                         gain="estimate")
    assert backgrounds.gain_source == "estimated"
    assert backgrounds.gain == pytest.approx(gain, rel=0.15)
    # the local noise estimate follows the true σ = G / sqrt(q)
    true_sd = gain / np.sqrt(4000.0 * np.exp(-rows[:, 0]))
    est_sd = np.sqrt(backgrounds.noise_var[0][:, 50:350].mean(axis=1))
    np.testing.assert_allclose(est_sd[20:-20], true_sd[20:-20], rtol=0.15)


def test_the_manifest_names_each_background_and_a_changed_one_is_caught(folder, tmp_path):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    config = synth.SceneConfig()
    out = tmp_path / "set"
    manifest = synth.write_dataset(config, out, 10, resolution_um=RES, seed=0,
                                   backgrounds=backgrounds)
    files = manifest["backgrounds"]["files"]
    assert [f["name"] for f in files] == ["bg0.png", "bg1.png", "bg2.png"]
    for f in files:
        assert f["sha256"] == hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest()
    assert json.loads((out / "manifest.json").read_text())["backgrounds"] == \
        manifest["backgrounds"]
    assert synth.verify_dataset(out).ok
    # the same backgrounds: the dataset is complete, nothing to redo
    again = synth.write_dataset(config, out, 10, resolution_um=RES, seed=0,
                                backgrounds=synth.load_backgrounds(folder, resolution_um=RES,
                                                                   spacing_um=RES))
    assert again == manifest
    # one background changed by a single grey level: another dataset, refused
    pixels = np.asarray(Image.open(folder / "bg1.png")).copy()
    pixels[0, 0] += 1
    Image.fromarray(pixels).save(folder / "bg1.png")
    changed = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    assert changed.sha256[1] != backgrounds.sha256[1]
    with pytest.raises(ValueError, match="holds another dataset"):
        synth.write_dataset(config, out, 10, resolution_um=RES, seed=0, backgrounds=changed)


def test_whole_mammograms_are_resampled_and_cropped_inside_the_breast(tmp_path):
    """An 85 µm 'mammogram' with a black outside: every crop lies wholly in the breast, and
    dense/fatty crops come from its brighter/darker halves."""
    rng = np.random.default_rng(2)
    size = (900, 700)
    yy, xx = np.mgrid[:size[0], :size[1]]
    breast = ((yy - 450) / 420.0) ** 2 + (xx / 650.0) ** 2 < 1.0
    tissue = 0.3 + 0.3 * (xx < 300) + rng.normal(0, 0.01, size)
    root = tmp_path / "mammo"
    root.mkdir()
    save16(root / "m.png", np.where(breast, np.clip(tissue, 0.01, 1), 0.0))
    bgs = {region: synth.load_backgrounds(root, resolution_um=100, spacing_um=85,
                                          region=region) for region in ("breast", "dense",
                                                                        "fatty")}
    image = bgs["breast"].images[0]
    assert image.shape == (765, 595)  # 900 × 0.85, 700 × 0.85
    n = synth.patch_size_px(100)
    batch = synth.insert(bgs["breast"], synth.SceneConfig(), 30, seed=0)
    for row in batch.patches.itertuples():
        crop = image[row.row_px:row.row_px + n, row.col_px:row.col_px + n]
        assert crop.min() > 0.0
    means = {r: np.mean([b.images[0][i:i + n, j:j + n].mean() for i, j in b.origins[0]])
             for r, b in bgs.items()}
    assert means["dense"] > means["breast"] > means["fatty"]


def test_bad_backgrounds_are_refused_in_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="holds none"):
        synth.load_backgrounds(empty, resolution_um=RES, spacing_um=RES)
    with pytest.raises(ValueError, match="existing folder"):
        synth.load_backgrounds(tmp_path / "missing", resolution_um=RES, spacing_um=RES)
    small = tmp_path / "small"
    small.mkdir()
    save16(small / "tiny.png", np.full((100, 100), 0.5))
    with pytest.raises(ValueError, match="at least one patch.*tiny.png"):
        synth.load_backgrounds(small, resolution_um=RES, spacing_um=RES)
    colour = tmp_path / "colour"
    colour.mkdir()
    Image.new("RGB", (200, 200), (200, 10, 10)).save(colour / "red.png")
    with pytest.raises(ValueError, match="grey image"):
        synth.load_backgrounds(colour, resolution_um=RES, spacing_um=RES)
    with pytest.raises(ValueError, match="`--spacing-um` is needed"):
        synth.load_backgrounds(small, resolution_um=RES)
    black = tmp_path / "black"
    black.mkdir()
    save16(black / "black.png", np.zeros((300, 300)))
    with pytest.raises(ValueError, match="inside the breast"):
        synth.load_backgrounds(black, resolution_um=RES, spacing_um=RES)
    with pytest.raises(ValueError, match="`region`"):
        synth.load_backgrounds(small, resolution_um=RES, spacing_um=RES, region="lungs")
    with pytest.raises(ValueError, match="`gain`"):
        synth.load_backgrounds(small, resolution_um=RES, spacing_um=RES, gain=-1.0)


def test_resampled_noise_is_what_gets_estimated(folder):
    """Backgrounds at another spacing are resampled first; their noise is measured at their
    own spacing and carried over by what the filter passes of white noise, so the estimate is
    the resampled image's true per-pixel noise (upsampled noise is smooth: measured on the
    upsampled image it would be a third of it)."""
    for res in (50, 100):  # up from 70 µm, and down
        bg = synth.load_backgrounds(folder, resolution_um=res, spacing_um=RES)
        estimated = np.sqrt(bg.noise_var[0][10:-10, 10:-10].mean())
        true = bg.images[0][10:-10, 10:-10].std()  # flat tissue: all of it is noise
        assert estimated == pytest.approx(true, rel=0.1), res
    coarser = synth.load_backgrounds(folder, resolution_um=100, spacing_um=RES)
    assert coarser.images[0].shape == (210, 224)


def test_relative_contrast_configs_are_refused(folder):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    with pytest.raises(ValueError, match="`contrast_model` must be 'attenuation'"):
        synth.insert(backgrounds, synth.SceneConfig(contrast_model="relative"), 2, seed=0)


def test_processing_dicoms_are_read_without_their_display_window(tmp_path):
    """A for-processing DICOM's pixels must stay linear in the fluence: no VOI window."""
    import io as bytes_io

    import pydicom

    from synth.io import encode_dicom

    root = tmp_path / "raw"
    root.mkdir()
    ds = pydicom.dcmread(bytes_io.BytesIO(encode_dicom(np.full((200, 200), 0.3, np.float32),
                                                       spacing_um=70, intent="processing")))
    ds.WindowCenter, ds.WindowWidth = 20000, 20000  # a window over the low part of the range
    ds.save_as(root / "raw.dcm")
    backgrounds = synth.load_backgrounds(root, resolution_um=RES)
    assert backgrounds.intents == ("processing",)
    assert float(backgrounds.images[0].mean()) == pytest.approx(0.3, abs=1e-4)
    windowed = synth.read_grey_image(root / "raw.dcm")  # as a display would show it
    assert abs(float(windowed.unit.mean()) - 0.3) > 0.1


def test_declared_noise_correlation_corrects_the_estimate_and_shapes_the_extra_noise(tmp_path):
    """A CsI-like background (noise correlated by σ 56 µm = 0.8 px at 70 µm): the estimator
    alone sees a seventh of its σ; declared, the estimate is right at every resolution and the
    extra noise has the background's spectrum."""
    from synth._insert import _correlated

    rng = np.random.default_rng(0)
    tissue = 0.45 + 0.01 * _correlated(rng.standard_normal((400, 400)).astype(np.float32), 0.8)
    root = tmp_path / "csi"
    root.mkdir()
    save16(root / "csi.png", tissue)
    for res in (50, 70, 100):
        bg = synth.load_backgrounds(root, resolution_um=res, spacing_um=RES,
                                    noise_correlation_um=56.0)
        estimated = np.sqrt(bg.noise_var[0][20:-20, 20:-20].mean())
        assert estimated == pytest.approx(bg.images[0][20:-20, 20:-20].std(), rel=0.1), res
    plain = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES)
    assert np.sqrt(plain.noise_var[0][20:-20, 20:-20].mean()) < 0.3 * tissue.std()
    bg = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                                noise_correlation_um=56.0)
    assert bg.record()["noise_correlation_um"] == 56.0
    count, n, d = 8, 128, 0.4
    crops = np.stack([bg.images[0][k * 30:k * 30 + n, 10:10 + n] for k in range(count)])
    before = crops.copy()
    var = np.full(crops.shape, float(bg.noise_var[0].mean()), np.float32)
    scenes = [synth.sample_scene(synth.SceneConfig(), rng=np.random.default_rng([3, k]))
              for k in range(count)]
    out = _apply(crops, np.full(crops.shape, d, np.float32), var, np.zeros(count, bool), 0.3,
                 scenes, PX, 56.0 / RES)
    added = out - before - 0.3 * d

    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))

    def shape(x):  # the spectrum's fall from low (0.02-0.08) to mid (0.2-0.3 cycles/px)
        p = (np.abs(np.fft.fft2(x - x.mean(axis=(1, 2), keepdims=True))) ** 2).mean(axis=0)
        return p[(f > 0.2) & (f < 0.3)].mean() / p[(f > 0.02) & (f < 0.08)].mean()

    assert shape(before) < 0.3  # the background's noise is far from white
    assert shape(added) == pytest.approx(shape(before), rel=0.15)
    assert added.var() == pytest.approx(float(var.mean()) * np.expm1(d), rel=0.15)


def test_black_pixels_of_noise_do_not_make_a_patch_outside_the_breast(tmp_path):
    """8-bit patches of dark tissue hold the odd 0: only black *areas* are outside."""
    root = tmp_path / "dark"
    root.mkdir()
    pixels = np.full((N, N), 12, np.uint8)
    pixels[::37, ::41] = 0
    Image.fromarray(pixels).save(root / "dark.png")
    backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES)
    assert len(backgrounds.origins[0]) == 1


def test_the_correlation_correction_does_not_amplify_white_noise(tmp_path):
    """Correlated noise with a white part (electronic noise, 8-bit quantisation): the
    correction bins first, so the white part is not blown up (a plain division by what the
    estimator sees of correlated noise made this 1.68 × σ)."""
    from synth._insert import _correlated

    rng = np.random.default_rng(2)
    tissue = (0.45 + 0.01 * _correlated(rng.standard_normal((400, 400)).astype(np.float32), 0.8)
              + rng.normal(0.0, 0.002, (400, 400)))
    root = tmp_path / "mixed"
    root.mkdir()
    save16(root / "mixed.png", tissue)
    bg = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                                noise_correlation_um=56.0)
    estimated = np.sqrt(bg.noise_var[0][20:-20, 20:-20].mean())
    assert estimated == pytest.approx(bg.images[0][20:-20, 20:-20].std(), rel=0.1)
    with pytest.raises(ValueError, match="at most 4 pixels"):
        synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                               noise_correlation_um=500.0)
    with pytest.raises(ValueError, match="`noise_correlation_um`"):
        synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES,
                               noise_correlation_um="wide")


def test_monochrome1_processing_dicoms_are_refused(tmp_path):
    import io as bytes_io

    import pydicom

    from synth.io import encode_dicom

    root = tmp_path / "m1"
    root.mkdir()
    ds = pydicom.dcmread(bytes_io.BytesIO(encode_dicom(np.full((200, 200), 0.3, np.float32),
                                                       spacing_um=70, intent="processing")))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(root / "m1.dcm")
    with pytest.raises(ValueError, match="must be MONOCHROME2.*m1.dcm"):
        synth.load_backgrounds(root, resolution_um=RES)


def test_a_relative_config_is_refused_before_an_overwrite_deletes_anything(folder, tmp_path):
    backgrounds = synth.load_backgrounds(folder, resolution_um=RES, spacing_um=RES)
    out = tmp_path / "set"
    synth.write_dataset(synth.SceneConfig(), out, 6, resolution_um=RES, seed=0,
                        backgrounds=backgrounds)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(ValueError, match="`contrast_model` must be 'attenuation'"):
        synth.write_dataset(synth.SceneConfig(contrast_model="relative"), out, 6,
                            resolution_um=RES, seed=0, backgrounds=backgrounds, overwrite=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
