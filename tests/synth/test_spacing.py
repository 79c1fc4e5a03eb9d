"""Resampling between pixel spacings: integrated signal kept, no aliasing, exact spacing."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import ndtr

import synth


def blob(spacing_um: float, size: int, sigma_mm: float, centre_mm: float) -> np.ndarray:
    """A pixel-integrated isotropic Gaussian of unit integral (in mm²) on a flat image."""
    px = spacing_um / 1000.0
    edges = np.arange(size + 1) * px - centre_mm
    mass = np.diff(ndtr(edges / sigma_mm))
    return np.outer(mass, mass) / (px * px)  # density, so sum × px² = 1


def integrated(image: np.ndarray, spacing_um: float) -> float:
    return float(image.sum()) * (spacing_um / 1000.0) ** 2


@pytest.mark.parametrize(("src", "dst"), [(50, 100), (50, 70), (85, 70), (70, 100), (100, 70)])
@pytest.mark.parametrize("sigma_mm", [0.03, 0.06, 0.15])
def test_resampling_keeps_an_mcs_integrated_signal(src, dst, sigma_mm):
    # an MC of 0.06 mm σ is about 0.2 mm across: the papers' smallest clusters
    image = blob(src, int(6000 / src), sigma_mm, 3.0 + 0.013)
    out = synth.resample(image, src, dst)
    assert integrated(out, dst) == pytest.approx(1.0, rel=0.05)
    # the centre stays where it was, in mm
    px = dst / 1000.0
    rows = (np.arange(out.shape[0]) + 0.5) * px
    profile = out.sum(axis=1)
    assert float((rows * profile).sum() / profile.sum()) == pytest.approx(3.013, abs=0.2 * px)


def test_a_small_mc_keeps_its_signal_wherever_it_lies_on_the_new_grid():
    worst_ours = 0.0
    for offset in np.linspace(0.0, 0.1, 11):  # MC centres anywhere on the 100 µm grid
        image = blob(50, 120, 0.02, 3.0 + offset)
        ours = integrated(synth.resample(image, 50, 100), 100)
        worst_ours = max(worst_ours, abs(ours - 1.0))
    assert worst_ours < 0.02


def sinusoid_amplitude(cycles_per_mm: float, src: float, dst: float, *, linear: bool = False
                       ) -> float:
    px = src / 1000.0
    x = (np.arange(int(100 / px)) + 0.5) * px
    image = np.tile(np.cos(2 * np.pi * cycles_per_mm * x).astype(np.float32), (32, 1))
    out = (ndimage.zoom(image, (1, src / dst), order=1) if linear
           else synth.resample(image, src, dst))
    row = out[out.shape[0] // 2, 40:-40].astype(float)
    return float(np.sqrt(2.0 * np.mean(row**2)))  # of whatever sinusoid survived, alias or not


def test_detail_beyond_the_target_nyquist_does_not_alias():
    nyquist = 1000.0 / (2 * 100)  # 5 cycles/mm at 100 µm
    for f in (1.5 * nyquist, 1.8 * nyquist):
        assert sinusoid_amplitude(f, 50, 100) < 0.02
        assert sinusoid_amplitude(f, 50, 100, linear=True) > 0.25  # order-1 zoom aliases
    assert sinusoid_amplitude(1.0, 50, 100) == pytest.approx(1.0, abs=0.03)


def test_output_pixels_are_exactly_the_target_spacing():
    image = np.zeros((1000, 857), np.float32)
    assert synth.resample(image, 70, 100).shape == (700, 599)
    assert synth.resample(image, 85, 70).shape == (1214, 1040)
    same = synth.resample(image.astype(np.uint16), 70, 70)
    assert same.dtype == np.float32 and same.shape == image.shape


def test_unit_images_stay_in_range():
    image = np.zeros((200, 200), np.float32)
    image[90:110, 90:110] = 1.0  # sharp edges overshoot with any windowed sinc
    out = synth.resample(image, 50, 70)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("bad", [0, -5, float("nan"), 5, 5000, "70", True])
def test_bad_spacings_are_refused_naming_the_field(bad):
    with pytest.raises(ValueError, match="`--spacing-um` must be a pixel spacing"):
        synth.check_spacing(bad, "--spacing-um")


def test_resample_refuses_non_images():
    with pytest.raises(ValueError, match="2-D grey image"):
        synth.resample(np.zeros((4, 4, 3)), 50, 100)


def test_nearest_resolution_is_on_a_log_scale():
    assert [synth.nearest_resolution(s) for s in (42, 50, 59, 60, 70, 83, 85, 100, 200)] == [
        50, 50, 50, 70, 70, 70, 100, 100, 100]


def test_image_spacing_prefers_the_user_then_the_file_then_the_fallback():
    png = synth.GreyImage(np.zeros((4, 4), np.uint8), 8, "a.png", "PNG")
    assert synth.image_spacing(png, 85) == 85.0
    assert synth.image_spacing(png, None, fallback=70) == 70.0
    with pytest.raises(ValueError, match="`--spacing-um` is needed: a.png"):
        synth.image_spacing(png)
