import keras
import numpy as np
import pytest

import mcc_core
import synth
from mcc_core import ScanResult, render_case_study, render_heatmap, scan


def breast_image(shape, seed=0):
    """Float32 image: a textured half ellipse on the left, exactly 0 outside, a few dots."""
    rng = np.random.default_rng(seed)
    height, width = shape
    y, x = np.mgrid[0:height, 0:width]
    inside = (x / (0.8 * width)) ** 2 + ((y - height / 2) / (0.48 * height)) ** 2 <= 1.0
    image = 0.45 + 0.1 * rng.standard_normal(shape)
    for cy, cx in rng.integers((20, 20), (height - 20, width // 2), (8, 2)):
        image[cy - 1:cy + 2, cx - 1:cx + 2] += 0.4
    return np.where(inside, np.clip(image, 0.02, 1.0), 0.0).astype(np.float32)


def tiny_conv_model(size, *, sequential=False):
    """A convolution-only model whose probabilities spread over (0, 1)."""
    layers = [keras.layers.Conv2D(4, 5, activation="relu"), keras.layers.Conv2D(3, 3),
              keras.layers.GlobalMaxPooling2D(), keras.layers.Dropout(0.3),
              keras.layers.Dense(1, activation="sigmoid")]
    if sequential:
        return keras.Sequential([keras.Input((size, size, 1)), *layers])
    x = inputs = keras.Input((size, size, 1))
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.fixture(scope="module")
def image():
    return breast_image((400, 517))  # 517 - 100 is not a multiple of the 15 px stride


@pytest.fixture(scope="module")
def shallow(image):
    """The 8,301-parameter CNN at 100 px with random weights, its output unit rescaled so that
    the probabilities of the test image's windows spread over (0, 1)."""
    keras.utils.set_random_seed(7)
    model = mcc_core.build_shallow_cnn(100)
    features = keras.Model(model.input, model.get_layer("gmp").output)
    patches = np.stack([image[y:y + 100, x:x + 100] for y in range(0, 300, 45)
                        for x in range(0, 417, 45)])[..., None]
    kernel, _ = model.get_layer("output").get_weights()
    logits = np.asarray(features(patches)) @ kernel[:, 0]
    scale = 3.0 / logits.std()
    model.get_layer("output").set_weights([kernel * scale, -np.array([np.median(logits)]) * scale])
    return model


@pytest.fixture(scope="module")
def scans(shallow, image):
    kwargs = dict(resolution_um=100, threshold=0.5)
    return (scan(shallow, image, method="fully_convolutional", **kwargs),
            scan(shallow, image, method="patches", batch_size=100, **kwargs))


def test_both_paths_agree_on_a_random_shallow_cnn(scans):
    conv, patches = scans
    assert (conv.method, patches.method) == ("fully_convolutional", "patches")
    assert np.array_equal(np.isnan(conv.probabilities), np.isnan(patches.probabilities))
    assert np.nanmax(np.abs(conv.probabilities - patches.probabilities)) <= 1e-4
    spread = conv.probabilities[~np.isnan(conv.probabilities)]
    assert spread.min() < 0.3 and spread.max() > 0.7  # a comparison that can fail
    assert conv.n_positive == patches.n_positive > 0 and conv.n_negative > 0


def test_both_paths_agree_on_the_bundled_model_and_a_synthetic_mammogram():
    shot = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=3,
                                  size_mm=(41.0, 53.0))
    model = mcc_core.load_bundled_model(100)  # a LoadedModel is accepted as it is
    conv = scan(model, shot.image, resolution_um=100)
    patches = scan(model, shot.image, resolution_um=100, method="patches")
    assert conv.method == "fully_convolutional"
    assert conv.n_background > 0 and conv.n_windows - conv.n_background > 50
    assert np.nanmax(np.abs(conv.probabilities - patches.probabilities)) <= 1e-4
    assert (conv.n_positive, conv.n_negative) == (patches.n_positive, patches.n_negative)


@pytest.mark.parametrize(("resolution", "patch", "stride"), [(50, 200, 30), (70, 144, 22),
                                                             (100, 100, 15)])
def test_the_papers_strides_and_a_sequential_model(resolution, patch, stride):
    keras.utils.set_random_seed(1)
    model = tiny_conv_model(patch, sequential=True)
    img = breast_image((patch + 2 * stride + 5, patch + 3 * stride + stride - 1), seed=2)
    conv = scan(model, img, resolution_um=resolution, background_fraction=1.0)
    patches = scan(model, img, resolution_um=resolution, background_fraction=1.0,
                   method="patches")
    assert (conv.stride_px, conv.patch_px, conv.method) == (stride, patch, "fully_convolutional")
    assert conv.probabilities.shape == (3, 4)  # no extra window flush with the edges
    assert np.abs(conv.probabilities - patches.probabilities).max() <= 1e-4


def test_tiles_give_the_same_numbers_as_one_pass(shallow, image, monkeypatch):
    import mcc_core.scanning._scan as module

    calls = []
    original = module._apply_head
    monkeypatch.setattr(module, "_apply_head", lambda *a: calls.append(1) or original(*a))
    whole = scan(shallow, image, resolution_um=100, memory_mb=1e4)
    assert len(calls) == 1
    tiles = scan(shallow, image, resolution_um=100, memory_mb=3)  # 6 × 6 windows, 175 px
    assert len(calls) > 10  # 4 × 5 tiles of a 21 × 28 grid, all-background ones skipped
    assert np.array_equal(np.isnan(whole.probabilities), np.isnan(tiles.probabilities))
    np.testing.assert_allclose(tiles.probabilities, whole.probabilities, atol=1e-6)


def test_windows_table_grid_and_counts(scans, image):
    result = scans[0]
    rows, cols = (400 - 100) // 15 + 1, (517 - 100) // 15 + 1
    table = result.windows
    assert result.probabilities.shape == (rows, cols) and len(table) == rows * cols
    assert list(table.columns) == ["row", "col", "x1", "y1", "x2", "y2", "probability",
                                   "background", "positive"]
    assert (table.x1 == table.col * 15).all() and (table.y2 == table.row * 15 + 100).all()
    assert table.x2.max() <= 517 and table.x2.max() + 15 > 517
    np.testing.assert_array_equal(table.probability.to_numpy(), result.probabilities.ravel())
    scored = table[~table.background]
    assert result.n_positive == int((scored.probability >= 0.5).sum()) == int(table.positive.sum())
    assert result.n_negative == len(scored) - result.n_positive
    assert result.n_background == int(table.background.sum())
    assert table[table.background].probability.isna().all()
    assert scored.probability.notna().all()


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_background_rule_more_than_a_fraction_of_black_pixels(shallow, image, fraction):
    result = scan(shallow, image, resolution_um=100, background_fraction=fraction)
    expected = np.array([[np.mean(image[y:y + 100, x:x + 100] == 0) > fraction
                          for x in range(0, 517 - 99, 15)] for y in range(0, 400 - 99, 15)])
    np.testing.assert_array_equal(np.isnan(result.probabilities), expected)
    assert result.n_background == expected.sum()
    assert (fraction == 1.0) == (result.n_background == 0)


def test_uint8_and_uint16_images_are_scaled_by_their_maximum(shallow, image):
    as_u8 = np.rint(image * 255).astype(np.uint8)
    as_u16 = np.rint(image * 65535).astype(np.uint16)
    floats = scan(shallow, as_u8.astype(np.float64) / 255, resolution_um=100)
    np.testing.assert_allclose(scan(shallow, as_u8, resolution_um=100).probabilities,
                               floats.probabilities, atol=1e-6)
    np.testing.assert_allclose(scan(shallow, as_u16, resolution_um=100).probabilities,
                               scan(shallow, image, resolution_um=100).probabilities, atol=1e-4)


def test_auto_cuts_patches_for_models_that_are_not_convolution_only(image):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((100, 100, 1))
    x = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    result = scan(model, image[:130, :160], resolution_um=100, background_fraction=1.0)
    assert result.method == "patches" and result.probabilities.shape == (3, 5)
    with pytest.raises(ValueError, match="method"):
        scan(model, image[:130, :160], resolution_um=100, method="fully_convolutional")


@pytest.mark.parametrize(("kwargs", "field"), [
    (dict(image=np.zeros((400, 500, 3), np.float32)), "image"),
    (dict(image=np.full((400, 500), np.nan, np.float32)), "image"),
    (dict(image=np.full((400, 500), 1.5, np.float32)), "image"),
    (dict(image=np.zeros((99, 500), np.float32)), r"image.*\(99, 500\)"),
    (dict(resolution_um=60), "resolution_um"),
    (dict(resolution_um=70), r"144 × 144.*100 × 100"),
    (dict(stride_mm=0.0), "stride_mm"),
    (dict(stride_mm=float("inf")), "stride_mm"),
    (dict(threshold=1.5), "threshold"),
    (dict(method="fast"), "method"),
    (dict(background_fraction=-0.1), "background_fraction"),
    (dict(memory_mb=0), "memory_mb"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_arguments_are_refused(shallow, kwargs, field):
    arguments = dict(image=np.full((150, 160), 0.5, np.float32), resolution_um=100) | kwargs
    with pytest.raises(ValueError, match=field):
        scan(shallow, **arguments)


def test_bad_types_are_refused(shallow):
    with pytest.raises(TypeError, match="image"):
        scan(shallow, np.zeros((120, 130), np.int64), resolution_um=100)
    with pytest.raises(TypeError, match="model"):
        scan("model.keras", np.zeros((120, 130), np.float32), resolution_um=100)


def test_scan_result_checks_its_tables(scans):
    good = scans[0]
    fields = {name: getattr(good, name) for name in good.__dataclass_fields__}
    with pytest.raises(ValueError, match="windows"):
        ScanResult(**(fields | {"windows": good.windows.iloc[:3]}))
    with pytest.raises(ValueError, match="method"):
        ScanResult(**(fields | {"method": "auto"}))


def covering(result, verdict):
    """Pixels covered by at least one window whose table row satisfies `verdict`."""
    mask = np.zeros(result.image_shape, bool)
    for w in result.windows[verdict(result.windows)].itertuples():
        mask[w.y1:w.y2, w.x1:w.x2] = True
    return mask


def test_case_study_greys_negatives_keeps_positives_and_background(scans, image):
    result = scans[0]
    grey = np.rint(image * 255).astype(np.uint8)
    positive = covering(result, lambda t: t.positive)
    negative = covering(result, lambda t: ~t.positive & ~t.background) & ~positive
    black = image == 0
    out = render_case_study(image, result)
    assert out.shape == (400, 517, 3) and out.dtype == np.uint8
    assert (out[negative & ~black] == 217).all()  # 0.85 grey
    np.testing.assert_array_equal(out[positive], np.repeat(grey[positive][:, None], 3, 1))
    untouched = ~(positive | negative) | black
    np.testing.assert_array_equal(out[untouched], np.repeat(grey[untouched][:, None], 3, 1))
    assert (out[black] == 0).all() and (negative & ~black).any() and positive.any()
    tinted = render_case_study(image, result, mode="tint")
    hit = positive & ~black
    red, green, blue = (tinted[hit][:, k].astype(int) for k in range(3))
    assert (red > green).all() and (green == blue).all()
    np.testing.assert_array_equal(tinted[~hit], out[~hit])


def test_heatmap_takes_the_maximum_of_the_covering_windows(scans, image):
    from matplotlib import colormaps

    result = scans[0]
    out = render_heatmap(image, result, alpha=0.5)
    grey = np.rint(image * 255)
    lut = np.rint(colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255)
    scored = result.windows[~result.windows.background]
    for y, x in np.random.default_rng(0).integers((0, 0), (400, 517), (60, 2)):
        over = scored[(scored.x1 <= x) & (x < scored.x2) & (scored.y1 <= y) & (y < scored.y2)]
        if over.empty or image[y, x] == 0:
            expected = np.repeat(grey[y, x], 3)
        else:
            colour = lut[int(np.rint(over.probability.max() * 255))]
            expected = np.rint(0.5 * grey[y, x] + 0.5 * colour)
        np.testing.assert_allclose(out[y, x], expected, atol=1)


def test_views_refuse_another_image_or_mode(scans, image):
    with pytest.raises(ValueError, match="image"):
        render_case_study(image[:300], scans[0])
    with pytest.raises(ValueError, match="mode"):
        render_case_study(image, scans[0], mode="blue")
    with pytest.raises(ValueError, match="cmap"):
        render_heatmap(image, scans[0], cmap="no-such-map")
    with pytest.raises(TypeError, match="result"):
        render_heatmap(image, scans[0].windows)
    with pytest.raises(ValueError, match="alpha"):
        render_heatmap(image, scans[0], alpha=float("nan"))


def test_views_take_numpy_scalars(scans, image):
    np.testing.assert_array_equal(render_heatmap(image, scans[0], alpha=np.float32(0.5)),
                                  render_heatmap(image, scans[0], alpha=0.5))
    np.testing.assert_array_equal(render_case_study(image, scans[0], grey=np.float32(0.85)),
                                  render_case_study(image, scans[0], grey=0.85))
