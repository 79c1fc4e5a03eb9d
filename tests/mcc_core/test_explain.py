"""Tests for explainability: feature maps, mean F2, filter spectra, Grad-CAM and their plots."""

import io

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from mcc_core import (
    FeatureMaps,
    build_mobilenet_classifier,
    build_shallow_cnn,
    feature_maps,
    filter_frequency_response,
    grad_cam,
    mc_band_cyc_per_mm,
    mean_f2,
    plot_feature_maps,
    plot_filter_spectra,
    plot_grad_cam,
    plot_mean_f2,
)

SIZE = 32


def _randomise_biases(model: keras.Model, rng: np.random.Generator) -> keras.Model:
    """Give the convolutions non-zero biases so that ReLU and max pooling matter."""
    for name in ("conv1", "conv2"):
        kernel, bias = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([kernel, rng.normal(0, 0.05, bias.shape)])
    return model


@pytest.fixture
def shallow(rng: np.random.Generator) -> keras.Model:
    return _randomise_biases(build_shallow_cnn(SIZE), rng)


@pytest.fixture
def patches(rng: np.random.Generator) -> np.ndarray:
    return rng.random((10, SIZE, SIZE)).astype(np.float32)


@pytest.fixture(scope="module")
def mobilenet_100() -> keras.Model:
    keras.utils.set_random_seed(3)
    return build_mobilenet_classifier(100)


def _set_kernel(model: keras.Model, name: str, kernel: np.ndarray) -> None:
    layer = model.get_layer(name)
    layer.set_weights([kernel, np.zeros(kernel.shape[-1], dtype=np.float32)])


# --------------------------------------------------------------------------- feature maps


@pytest.mark.parametrize(
    ("filters", "kernels", "size"),
    [((6, 16), (9, 9), 32), ((4, 8), (5, 3), 24), ((12, 32), (11, 11), 21)],
)
def test_feature_map_shapes(filters, kernels, size, rng: np.random.Generator) -> None:
    model = build_shallow_cnn(size, filters=filters, kernel_sizes=kernels)
    fm = feature_maps(model, rng.random((size, size)))
    h0 = size - kernels[0] + 1
    h1 = h0 - kernels[1] + 1
    assert fm.patch.shape == (size, size)
    assert fm.f0.shape == (h0, h0, filters[0])
    assert fm.f1.shape == (h1, h1, filters[1])
    assert fm.f2.shape == (filters[1],)


def test_f2_is_spatial_max_of_f1_and_the_gmp_output(shallow, patches) -> None:
    fm = feature_maps(shallow, patches[0])
    np.testing.assert_allclose(fm.f2, fm.f1.max(axis=(0, 1)), rtol=1e-6)
    gmp = keras.Model(shallow.inputs, shallow.get_layer("gmp").output)
    np.testing.assert_allclose(fm.f2, gmp.predict(patches[:1, ..., None], verbose=0)[0], rtol=1e-5)
    assert np.ptp(fm.f2) > 0


def test_feature_maps_match_a_manual_submodel(shallow, patches) -> None:
    manual = keras.Model(
        shallow.inputs, [shallow.get_layer("conv1").output, shallow.get_layer("conv2").output]
    )
    f0, f1 = manual.predict(patches[3:4, ..., None], verbose=0)
    fm = feature_maps(shallow, patches[3])
    np.testing.assert_allclose(fm.f0, f0[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm.f1, f1[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fm.patch, patches[3])
    assert (fm.f0 >= 0).all() and (fm.f0 == 0).any()  # ReLU applied


def test_feature_maps_accept_a_channel_axis(shallow, patches) -> None:
    with_axis = feature_maps(shallow, patches[0][..., None])
    np.testing.assert_array_equal(with_axis.f1, feature_maps(shallow, patches[0]).f1)


def test_feature_maps_reject_a_model_without_the_shallow_layers(mobilenet_100) -> None:
    with pytest.raises(ValueError, match="`model` must hold layers"):
        feature_maps(mobilenet_100, np.zeros((100, 100)))
    with pytest.raises(TypeError, match="model"):
        feature_maps("shallow_cnn", np.zeros((SIZE, SIZE)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "patch",
    [
        np.zeros((SIZE, SIZE + 1)),
        np.zeros((2, SIZE, SIZE)),
        np.full((SIZE, SIZE), 1.5),
        np.full((SIZE, SIZE), np.nan),
    ],
)
def test_feature_maps_reject_bad_patches(shallow, patch) -> None:
    with pytest.raises(ValueError, match="`patch`"):
        feature_maps(shallow, patch)


# --------------------------------------------------------------------------- mean F2


def test_mean_f2_is_the_per_group_mean_of_f2(shallow, patches) -> None:
    positives, negatives = patches[:6], patches[6:] * 0.5
    mean_pos, mean_neg = mean_f2(shallow, positives, negatives[..., None])
    expected_pos = np.mean([feature_maps(shallow, p).f2 for p in positives], axis=0)
    expected_neg = np.mean([feature_maps(shallow, p).f2 for p in negatives], axis=0)
    assert mean_pos.shape == mean_neg.shape == (16,)
    np.testing.assert_allclose(mean_pos, expected_pos, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean_neg, expected_neg, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mean_pos, mean_neg)


def test_mean_f2_rejects_an_empty_group(shallow, patches) -> None:
    with pytest.raises(ValueError, match="`negatives` must not be empty"):
        mean_f2(shallow, patches, np.zeros((0, SIZE, SIZE)))


# --------------------------------------------------------------------------- filter spectra


def test_mc_band_is_one_to_ten_cycles_per_mm() -> None:
    assert mc_band_cyc_per_mm() == (1.0, 10.0)


@pytest.mark.parametrize("resolution_um", [50, 70, 100])
def test_frequency_axis_is_in_cycles_per_mm(resolution_um) -> None:
    spectra = filter_frequency_response(
        build_shallow_cnn(SIZE), resolution_um=resolution_um, n_fft=32
    )
    pixel_mm = resolution_um / 1000
    np.testing.assert_allclose(
        spectra.frequencies_cyc_per_mm, np.fft.fftshift(np.fft.fftfreq(32, d=pixel_mm))
    )
    assert spectra.frequencies_cyc_per_mm[0] == pytest.approx(-1 / (2 * pixel_mm))
    assert spectra.nyquist_cyc_per_mm == pytest.approx(1 / (2 * pixel_mm))
    assert spectra.magnitude.shape == (6, 32, 32)


def test_a_delta_kernel_has_a_flat_unit_response() -> None:
    model = build_shallow_cnn(SIZE)
    kernel = np.zeros((9, 9, 1, 6), dtype=np.float32)
    kernel[4, 4] = 1.0
    _set_kernel(model, "conv1", kernel)
    spectra = filter_frequency_response(model, resolution_um=70)
    np.testing.assert_allclose(spectra.magnitude, np.ones((6, 64, 64)), atol=1e-12)


@pytest.mark.parametrize("resolution_um", [50, 70, 100])
def test_a_box_kernel_has_a_dirichlet_response(resolution_um) -> None:
    model = build_shallow_cnn(SIZE)
    _set_kernel(model, "conv1", np.full((9, 9, 1, 6), 1 / 81, dtype=np.float32))
    spectra = filter_frequency_response(model, resolution_um=resolution_um, n_fft=72)
    f_px = np.fft.fftshift(np.fft.fftfreq(72))  # cycles per pixel
    with np.errstate(invalid="ignore", divide="ignore"):
        dirichlet = np.abs(np.sin(9 * np.pi * f_px) / (9 * np.sin(np.pi * f_px)))
    dirichlet[f_px == 0] = 1.0
    np.testing.assert_allclose(spectra.magnitude[2], np.outer(dirichlet, dirichlet), atol=1e-6)
    # First zero at 1/9 cycles per pixel, i.e. 1 / (9 * pixel_mm) cycles/mm.
    zero = np.argmin(np.abs(spectra.frequencies_cyc_per_mm - 1000 / (9 * resolution_um)))
    assert spectra.frequencies_cyc_per_mm[zero] == pytest.approx(1000 / (9 * resolution_um))
    assert spectra.magnitude[2, 36, zero] == pytest.approx(0, abs=1e-6)
    assert spectra.magnitude[2, 36, 36] == pytest.approx(1, rel=1e-6)


def test_conv2_response_sums_over_input_channels() -> None:
    model = build_shallow_cnn(SIZE)
    kernel = np.zeros((9, 9, 6, 16), dtype=np.float32)
    kernel[4, 4] = 1.0  # a delta in every input channel
    _set_kernel(model, "conv2", kernel)
    spectra = filter_frequency_response(model, resolution_um=100, layer="conv2")
    assert spectra.layer == "conv2"
    np.testing.assert_allclose(spectra.magnitude, np.full((16, 64, 64), 6.0), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resolution_um": 60}, "resolution_um"),
        ({"resolution_um": 70, "layer": "gmp"}, "layer"),
        ({"resolution_um": 70, "layer": "nope"}, "layer"),
        ({"resolution_um": 70, "n_fft": 8}, "n_fft"),
    ],
)
def test_filter_frequency_response_validation(kwargs, field) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        filter_frequency_response(build_shallow_cnn(SIZE), **kwargs)


# --------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_shape_and_range(shallow, patches) -> None:
    heat = grad_cam(shallow, patches[:4])
    assert heat.shape == (4, SIZE, SIZE) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0
    np.testing.assert_allclose(heat.max(axis=(1, 2)), 1.0)


def test_grad_cam_of_an_identity_network_is_the_cropped_image(rng) -> None:
    """conv1 = conv2 = centred delta, output weight 1: the CAM is the image seen by conv2."""
    model = build_shallow_cnn(SIZE, filters=(1, 1), kernel_sizes=(3, 3))
    delta = np.zeros((3, 3, 1, 1), dtype=np.float32)
    delta[1, 1] = 1.0
    _set_kernel(model, "conv1", delta)
    _set_kernel(model, "conv2", delta)
    model.get_layer("output").set_weights([np.ones((1, 1)), np.zeros(1)])
    image = rng.random((1, SIZE, SIZE)).astype(np.float32)
    crop = tf.image.resize(image[:, 2:-2, 2:-2, None], (SIZE, SIZE)).numpy()[..., 0]
    np.testing.assert_allclose(grad_cam(model, image), crop / crop.max(), atol=1e-5)


def test_grad_cam_of_blank_images_has_no_nan(shallow) -> None:
    zero_bias = build_shallow_cnn(SIZE)  # zero biases: every activation of a black patch is 0
    assert (grad_cam(zero_bias, np.zeros((1, SIZE, SIZE))) == 0).all()
    heat = grad_cam(shallow, np.full((2, SIZE, SIZE, 1), 0.5))
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1


@pytest.mark.parametrize("layer", ["out_relu", "gmp", "output"])
def test_grad_cam_rejects_a_layer_without_usable_maps(shallow, patches, layer) -> None:
    with pytest.raises(ValueError, match="`layer`"):
        grad_cam(shallow, patches[:1], layer=layer)


def test_grad_cam_accepts_another_target_layer(shallow, patches) -> None:
    heat = grad_cam(shallow, patches[:2], layer="conv1")
    assert heat.shape == (2, SIZE, SIZE) and np.isfinite(heat).all()


@pytest.mark.slow
def test_grad_cam_runs_on_the_mobilenet_classifier(mobilenet_100, rng) -> None:
    image = rng.random((1, 100, 100)).astype(np.float32)
    heat = grad_cam(mobilenet_100, image)
    assert heat.shape == (1, 100, 100)
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1
    assert heat.max() in (0.0, 1.0)
    with pytest.raises(ValueError, match="`layer`"):
        grad_cam(mobilenet_100, image, layer="conv2")


# --------------------------------------------------------------------------- plots


def _renders(fig: Figure) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=30)
    assert plt.get_fignums() == []  # built without pyplot: nothing left open


@pytest.mark.parametrize(("filters", "n_axes"), [((6, 16), 23), ((4, 8), 13)])
def test_plot_feature_maps_draws_every_map(filters, n_axes, rng) -> None:
    model = build_shallow_cnn(SIZE, filters=filters)
    fig = plot_feature_maps(feature_maps(model, rng.random((SIZE, SIZE))))
    assert isinstance(fig, Figure) and len(fig.axes) == n_axes
    _renders(fig)


def test_plot_mean_f2_draws_two_lines() -> None:
    fig = plot_mean_f2(np.linspace(0, 1, 16), np.linspace(0, 0.5, 16))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    _renders(fig)


def test_plot_filter_spectra_draws_each_filter_and_the_band() -> None:
    fig = plot_filter_spectra(filter_frequency_response(build_shallow_cnn(SIZE), resolution_um=70))
    assert len(fig.axes) == 6 + 1
    assert len(fig.axes[0].patches) == 2  # the two circles of the MC band
    _renders(fig)


def test_plot_grad_cam_draws_two_axes_per_image(shallow, patches) -> None:
    fig = plot_grad_cam(patches[:3], grad_cam(shallow, patches[:3]))
    assert len(fig.axes) == 6
    _renders(fig)
    with pytest.raises(ValueError, match="`heatmaps`"):
        plot_grad_cam(patches[:3], np.zeros((2, SIZE, SIZE)))


def test_feature_maps_follow_the_layers(shallow, patches) -> None:
    """F0 and F1 are ReLU outputs and F2 is the global max of F1, as the paper's Eq. 4 uses."""
    fm = feature_maps(shallow, patches[0])
    assert isinstance(fm, FeatureMaps)
    assert fm.f0.min() >= 0 and fm.f1.min() >= 0
    np.testing.assert_allclose(fm.f2, fm.f1.max(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_array_equal(feature_maps(shallow, patches[0]).f2, fm.f2)
