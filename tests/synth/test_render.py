import dataclasses

import numpy as np
import pytest

from synth import RESOLUTIONS_UM, Acquisition, SceneConfig, render, sample_scene
from synth._gaussians import render_gaussian_windows
from synth._physics import energy_kev, window_width


def _scene(seed=0, **changes):
    base = dict(positive_fraction=1.0, acquisition=None)
    base.update(changes)
    return sample_scene(SceneConfig(**base), rng=np.random.default_rng(seed))


def _without_contrast(scene):
    mcs = tuple(dataclasses.replace(mc, contrast=0.0) for mc in scene.calcifications)
    return dataclasses.replace(scene, calcifications=mcs)


def _without_mcs(scene):
    return dataclasses.replace(scene, calcifications=())


@pytest.mark.parametrize("resolution", RESOLUTIONS_UM)
def test_patch_shapes_types_and_range(resolution):
    scene = _scene(1, acquisition=Acquisition())
    patch = render(scene, resolution)
    side = {50: 200, 70: 144, 100: 100}[resolution]
    assert patch.image.shape == patch.mask.shape == (side, side)
    assert patch.image.dtype == np.float32 and patch.mask.dtype == bool
    assert 0.0 <= patch.image.min() and patch.image.max() <= 1.0
    assert patch.label == 1 and patch.resolution_um == resolution
    assert len(patch.calcifications) == len(scene.calcifications)
    assert patch.mask.any()


def test_rendering_is_pure():
    scene = _scene(2, acquisition=Acquisition())
    a, b = render(scene, 70), render(scene, 70)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_contrast_zero_leaves_the_background_unchanged():
    scene = _scene(3, acquisition=Acquisition())
    for res in RESOLUTIONS_UM:
        blank = render(_without_contrast(scene), res).image
        np.testing.assert_array_equal(blank, render(_without_mcs(scene), res).image)
        assert not np.array_equal(blank, render(scene, res).image)


def test_no_mcs_means_an_empty_mask():
    scene = sample_scene(SceneConfig(positive_fraction=0.0, hard_negative_fraction=0.0),
                         rng=np.random.default_rng(4))
    patch = render(scene, 50)
    assert not patch.mask.any() and patch.label == 0 and patch.calcifications.empty


def _signal(scene, res):
    """MC signal image: the scene minus its own background, ideal detector."""
    return (render(scene, res).image.astype(np.float64)
            - render(_without_contrast(scene), res).image)


def test_one_scene_at_three_resolutions_has_the_same_mcs_in_mm():
    scene = _scene(5, mc_count_range=(5, 5), distribution="diffuse",
                   mc_size_range_mm=(0.2, 0.5))
    tables = [render(scene, r).calcifications for r in RESOLUTIONS_UM]
    for t in tables[1:]:
        np.testing.assert_allclose(t[["x_mm", "y_mm"]], tables[0][["x_mm", "y_mm"]])
    for res, table in zip(RESOLUTIONS_UM, tables, strict=True):
        for (_, mc), record in zip(table.iterrows(), scene.calcifications, strict=True):
            signal = _signal(dataclasses.replace(scene, calcifications=(record,)), res)
            rows, cols = np.indices(signal.shape)
            w = np.clip(signal, 0, None)
            centroid = np.array([(rows * w).sum(), (cols * w).sum()]) / w.sum()
            tolerance = 0.12e3 / res  # 0.12 mm: MC outlines are not symmetric
            assert np.hypot(*(centroid - (mc.row_px, mc.col_px))) < tolerance
            assert mc.col_px == pytest.approx(mc.x_mm * 1e3 / res + (signal.shape[1] - 1) / 2)


@pytest.mark.parametrize("model", ["attenuation", "relative"])
def test_integrated_signal_agrees_across_resolutions(model):
    scene = _scene(6, mc_count_range=(4, 4), distribution="diffuse",
                   mc_size_range_mm=(0.1, 0.3), contrast_model=model)
    # the table's signal is in the model's own units: log attenuation for the attenuation
    # model, whose ideal presentation image is A / W
    unit = window_width(energy_kev(None)) if model == "attenuation" else 1.0
    for i, mc in enumerate(scene.calcifications):
        alone = dataclasses.replace(scene, calcifications=(mc,))
        totals = [_signal(alone, r).sum() * (r / 1e3) ** 2 for r in RESOLUTIONS_UM]
        assert max(totals) / min(totals) < 1.10, (i, totals)
        table = render(alone, 70).calcifications
        assert table.integrated_signal.iat[0] == pytest.approx(totals[1] * unit, rel=0.02)


def test_a_tenth_of_a_millimetre_mc_keeps_its_signal_at_100_um():
    scene = _scene(7, mc_count_range=(3, 3), mc_size_range_mm=(0.1, 0.1),
                   morphology_weights={"punctate": 1.0}, distribution="diffuse",
                   contrast_model="relative")
    mc = scene.calcifications[0]
    alone = dataclasses.replace(scene, calcifications=(mc,))
    c = mc.components
    tissue = render(alone, 100).calcifications.local_tissue.iat[0]
    exact = mc.contrast * tissue * np.sum(c[:, 5] * 2 * np.pi * c[:, 2] * c[:, 3])
    measured = _signal(alone, 100).sum() * 0.1**2
    assert measured == pytest.approx(exact, rel=0.02)
    # Point sampling at pixel centres would miss most of it when the MC sits between pixels.
    assert _signal(alone, 100).max() < mc.contrast * tissue


def test_blur_spreads_an_mc_but_keeps_its_signal():
    scene = _scene(8, mc_count_range=(3, 3), mc_size_range_mm=(0.15, 0.15),
                   distribution="diffuse")
    sharp = dataclasses.replace(scene, acquisition=Acquisition(
        blur_sigma_um=None, dose=None, electronic_noise=None, bit_depth=None))
    blurred = dataclasses.replace(sharp, acquisition=Acquisition(
        blur_sigma_um=60.0, dose=None, electronic_noise=None, bit_depth=None))
    a, b = _signal(sharp, 50), _signal(blurred, 50)
    assert b.max() < 0.8 * a.max()
    assert b.sum() == pytest.approx(a.sum(), rel=0.03)


def _radial_psd(images, px_mm):
    n = images.shape[-1]
    spectra = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2
    psd = spectra.mean(axis=0)
    f = np.fft.fftfreq(n, d=px_mm)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    return radius.ravel(), psd.ravel()


@pytest.mark.parametrize("beta", [2.0, 2.8, 3.3])
@pytest.mark.parametrize("resolution", [50, 100])
def test_background_power_spectrum_slope_matches_beta(beta, resolution):
    """On the periodic tile, where a plain FFT periodogram is unbiased. The default
    non-periodic texture's edges leak into such a periodogram (measured 3.02 for β = 3.3 on
    96 fields), so its β is measured by `synth.validate` (`mcc synth validate`), through a
    Hann window."""
    config = SceneConfig(positive_fraction=0.0, hard_negative_fraction=0.0, acquisition=None,
                         beta_range=(beta, beta), texture="periodic")
    images = np.stack([render(sample_scene(config, rng=np.random.default_rng(i)),
                              resolution).image for i in range(24)])
    f, psd = _radial_psd(images.astype(np.float64), resolution / 1e3)
    band = (f >= 0.2) & (f <= 2.0)
    bins = np.logspace(np.log10(0.2), np.log10(2.0), 12)
    which = np.digitize(f[band], bins)
    fx = [np.log(f[band][which == k]).mean() for k in range(1, len(bins))]
    py = [np.log(psd[band][which == k].mean()) for k in range(1, len(bins))]
    slope = np.polyfit(fx, py, 1)[0]
    assert -slope == pytest.approx(beta, abs=0.25)


def test_the_same_tissue_appears_at_every_resolution():
    scene = sample_scene(SceneConfig(positive_fraction=0.0, hard_negative_fraction=0.0,
                                     acquisition=None), rng=np.random.default_rng(9))
    fine = render(scene, 50).image.astype(np.float64)
    coarse = render(scene, 100).image.astype(np.float64)
    binned = fine.reshape(100, 2, 100, 2).mean(axis=(1, 3))
    assert np.corrcoef(binned.ravel(), coarse.ravel())[0, 1] > 0.98
    assert coarse.mean() == pytest.approx(fine.mean(), abs=1e-3)


def test_quantum_noise_follows_dose_and_pixel_size():
    scene = sample_scene(SceneConfig(positive_fraction=0.0, hard_negative_fraction=0.0,
                                     density_range=(0.5, 0.5)), rng=np.random.default_rng(10))

    def noise_std(res, dose):
        acq = Acquisition(blur_sigma_um=None, dose=dose, electronic_noise=None, bit_depth=None)
        ideal = render(scene, res, acquisition=None).image
        return float(np.std(render(scene, res, acquisition=acq).image - ideal))

    assert noise_std(70, 1e5) / noise_std(70, 4e5) == pytest.approx(2.0, rel=0.05)
    assert noise_std(50, 1e6) / noise_std(100, 1e6) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("model", ["relative", "attenuation"])
def test_quantisation_puts_values_on_the_detector_grid(model):
    # the attenuation model quantises the linear signal (the ADC), so its grid shows in the
    # output for processing; for presentation the log transform follows the ADC
    scene = _scene(11, acquisition=Acquisition(bit_depth=10, output="processing"),
                   contrast_model=model)
    image = render(scene, 70).image.astype(np.float64) * 1023
    np.testing.assert_allclose(image, np.rint(image), atol=1e-3)


def test_mask_marks_each_mc_and_grows_with_size():
    def masked(size):
        scene = _scene(12, mc_count_range=(3, 3), mc_size_range_mm=(size, size),
                       morphology_weights={"punctate": 1.0}, distribution="diffuse")
        patch = render(scene, 50)
        for _, mc in patch.calcifications.iterrows():
            assert patch.mask[int(round(mc.row_px)), int(round(mc.col_px))]
        return patch.mask.sum()

    assert masked(0.5) > 4 * masked(0.15)


def _brute_force(mu, cov, size, sub=41):
    steps = (np.arange(size * sub) + 0.5) / sub - 0.5
    yy, xx = np.meshgrid(steps, steps, indexing="ij")
    d = np.stack([yy - mu[0], xx - mu[1]], axis=-1)
    inv = np.linalg.inv(cov)
    pdf = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, inv, d))
    pdf /= 2 * np.pi * np.sqrt(np.linalg.det(cov)) * sub**2
    return pdf.reshape(size, sub, size, sub).sum(axis=(1, 3))


def test_pixel_integration_matches_brute_force_and_conserves_mass(rng):
    size = 15
    for _ in range(30):
        mu = 7 + rng.random(2)
        a = rng.uniform(0.3, 2.5)
        b = a / rng.uniform(1.0, 4.0)
        t = rng.uniform(0, np.pi)
        c, s = np.cos(t), np.sin(t)
        rot = np.array([[c, -s], [s, c]])
        cov = rot @ np.diag([a**2, b**2]) @ rot.T
        got = render_gaussian_windows(np.array([mu[0]]), np.array([mu[1]]),
                                      np.array([[cov[0, 0], cov[0, 1], cov[1, 1]]]),
                                      np.array([1.0]), np.zeros((1, 2), int), size)[0]
        want = _brute_force(mu, cov, size)
        assert np.abs(got - want).max() < 0.04 * want.max()
        assert got.sum() == pytest.approx(want.sum(), abs=1e-4)
        wide = render_gaussian_windows(np.array([mu[0] + 8]), np.array([mu[1] + 8]),
                                       np.array([[cov[0, 0], cov[0, 1], cov[1, 1]]]),
                                       np.array([2.5]), np.zeros((1, 2), int), 31)[0]
        assert wide.sum() == pytest.approx(2.5, rel=1e-8)
