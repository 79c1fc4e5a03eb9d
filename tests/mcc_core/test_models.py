"""Tests for the model builders: exact sizes from the papers, layer names, transfer, validation."""

import math
import re

import keras
import numpy as np
import pytest

from mcc_core import (
    build_baseline,
    build_mobilenet_classifier,
    build_shallow_cnn,
    transfer,
)

BACKBONE_PARAMS = 2_257_408  # MobileNetV2, alpha 1.0, no top, one input channel (Table 7)
HEAD_LAYERS = ["patch", "backbone", "flatten", "dense_2048", "dropout", "output"]


def _n_params(weights: list) -> int:
    return sum(math.prod(w.shape) for w in weights)


def _expected_dense_2048(input_size: int) -> int:
    """Dense-2048 size from the flatten size: MobileNetV2 has stride 32 and 1280 output maps."""
    side = math.ceil(input_size / 32)
    return side * side * 1280 * 2048 + 2048


@pytest.fixture(scope="module")
def mobilenet_144() -> keras.Model:
    keras.utils.set_random_seed(7)
    return build_mobilenet_classifier(144)


# --------------------------------------------------------------------------- Model A


def test_mobilenet_144_matches_table_7(mobilenet_144: keras.Model) -> None:
    model = mobilenet_144
    assert model.count_params() == 67_797_505
    assert _n_params(model.trainable_weights) == 67_763_393
    assert _n_params(model.non_trainable_weights) == 34_112
    assert model.get_layer("backbone").count_params() == BACKBONE_PARAMS
    assert model.get_layer("dense_2048").count_params() == 65_538_048
    assert model.get_layer("output").count_params() == 2_049


def test_mobilenet_structure(mobilenet_144: keras.Model) -> None:
    model = mobilenet_144
    assert [layer.name for layer in model.layers] == HEAD_LAYERS
    assert isinstance(model.get_layer("backbone"), keras.Model)
    assert model.input_shape == (None, 144, 144, 1)
    assert model.output_shape == (None, 1)
    assert model.get_layer("dropout").rate == pytest.approx(0.2)
    assert model.get_layer("output").activation is keras.activations.sigmoid
    assert not model.compiled


@pytest.mark.parametrize("input_size", [200, 100])
def test_mobilenet_head_depends_on_input_size(input_size: int) -> None:
    model = build_mobilenet_classifier(input_size, dropout=0.5)
    dense = _expected_dense_2048(input_size)
    assert model.input_shape == (None, input_size, input_size, 1)
    assert model.get_layer("backbone").count_params() == BACKBONE_PARAMS
    assert model.get_layer("dense_2048").count_params() == dense
    assert model.count_params() == BACKBONE_PARAMS + dense + 2_049
    assert model.count_params() != 67_797_505
    assert model.get_layer("dropout").rate == pytest.approx(0.5)


def test_backbone_weights_file_is_loaded(
    mobilenet_144: keras.Model, tmp_path, rng: np.random.Generator
) -> None:
    path = tmp_path / "backbone.weights.h5"
    mobilenet_144.get_layer("backbone").save_weights(path)
    model = build_mobilenet_classifier(100, backbone_weights=path)
    for got, want in zip(
        model.get_layer("backbone").get_weights(),
        mobilenet_144.get_layer("backbone").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


def test_backbone_weights_file_that_is_not_weights_raises(tmp_path) -> None:
    path = tmp_path / "broken.weights.h5"
    path.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match="backbone_weights"):
        build_mobilenet_classifier(100, backbone_weights=path)


# --------------------------------------------------------------------------- Model B


@pytest.mark.parametrize("input_size", [100, 144, 200])
def test_shallow_cnn_has_8301_parameters_at_every_size(input_size: int) -> None:
    model = build_shallow_cnn(input_size)
    assert model.count_params() == 8_301
    assert [layer.name for layer in model.layers] == [
        "patch", "conv1", "conv2", "gmp", "dropout", "output"
    ]  # fmt: skip
    assert model.input_shape == (None, input_size, input_size, 1)
    assert model.output_shape == (None, 1)
    # 'valid' padding and no pooling between the convolutions: each 9x9 conv trims 8 px.
    assert model.get_layer("conv2").output.shape == (None, input_size - 16, input_size - 16, 16)
    assert not model.compiled


@pytest.mark.parametrize(
    ("filters", "kernel_sizes", "expected"),
    [
        ((6, 16), (9, 9), 6 * 82 + 16 * (81 * 6 + 1) + 17),  # 8,301
        ((6, 16), (5, 5), 2_589),  # Table 1 variant
        ((4, 32), (3, 11), 4 * 10 + 32 * (121 * 4 + 1) + 33),
    ],
)
def test_shallow_cnn_variants(filters: tuple, kernel_sizes: tuple, expected: int) -> None:
    model = build_shallow_cnn(144, filters=filters, kernel_sizes=kernel_sizes)
    assert model.count_params() == expected


def test_shallow_cnn_smallest_input_is_the_receptive_field(rng: np.random.Generator) -> None:
    model = build_shallow_cnn(17)
    patch = rng.random((2, 17, 17, 1), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(patch, training=False))
    assert probabilities.shape == (2, 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


# --------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "densenet121"])
def test_baseline_builds_with_mobilenet_head(name: str) -> None:
    model = build_baseline(name, 100)
    assert model.name == f"{name}_classifier"
    assert [layer.name for layer in model.layers] == HEAD_LAYERS
    assert model.input_shape == (None, 100, 100, 1)
    assert model.output_shape == (None, 1)
    flat = math.prod(model.get_layer("backbone").output_shape[1:])
    assert model.get_layer("dense_2048").count_params() == flat * 2048 + 2048
    assert model.get_layer("output").count_params() == 2_049


# --------------------------------------------------------------------------- transfer


def _train_one_step(model: keras.Model, rng: np.random.Generator) -> None:
    # Eager mode: one step is faster than tracing a tf.function on a 2-core CPU.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", run_eagerly=True
    )
    x = rng.random((4, 100, 100, 1), dtype=np.float32)
    # Unbalanced on purpose: a randomly initialised backbone in inference mode gives near-zero
    # features, so every prediction is 0.5 and balanced labels would give the output bias a zero
    # gradient.
    y = np.array([[1.0], [1.0], [1.0], [0.0]], dtype=np.float32)
    model.train_on_batch(x, y)


def _changed(before: list[np.ndarray], after: list[np.ndarray]) -> list[bool]:
    return [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]


def test_transfer_trains_only_the_head(
    mobilenet_144: keras.Model, rng: np.random.Generator
) -> None:
    source_backbone = [w.copy() for w in mobilenet_144.get_layer("backbone").get_weights()]
    model = transfer(mobilenet_144, 100)
    assert [layer.name for layer in model.layers] == HEAD_LAYERS
    assert model.input_shape == (None, 100, 100, 1)
    backbone = model.get_layer("backbone")
    for got, want in zip(backbone.get_weights(), source_backbone, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not backbone.trainable
    assert _n_params(model.non_trainable_weights) == BACKBONE_PARAMS
    assert _n_params(model.trainable_weights) == _expected_dense_2048(100) + 2_049

    head_before = {name: model.get_layer(name).get_weights() for name in ("dense_2048", "output")}
    _train_one_step(model, rng)

    # Every backbone array, batch-norm moving statistics included, is unchanged ...
    assert not any(_changed(source_backbone, backbone.get_weights()))
    # ... while both head layers moved (kernel and bias).
    for name, before in head_before.items():
        assert all(_changed(before, model.get_layer(name).get_weights())), name
    # The source model does not share variables with the new one.
    assert not any(_changed(source_backbone, mobilenet_144.get_layer("backbone").get_weights()))


def test_transfer_without_freezing_leaves_the_backbone_trainable(
    mobilenet_144: keras.Model,
) -> None:
    model = transfer(mobilenet_144, 100, freeze_backbone=False)
    assert model.get_layer("backbone").trainable
    assert _n_params(model.non_trainable_weights) == 34_112  # batch-norm moving statistics
    assert model.count_params() == BACKBONE_PARAMS + _expected_dense_2048(100) + 2_049


def test_transfer_refuses_a_backbone_that_is_not_mobilenet() -> None:
    with pytest.raises(ValueError, match="source_model"):
        transfer(build_baseline("vgg16", 100), 100)


# --------------------------------------------------------------------------- validation


def test_input_size_message_follows_house_style() -> None:
    message = "`input_size` must be one of (200, 144, 100); got input_size=64."
    with pytest.raises(ValueError, match=re.escape(message)):
        build_mobilenet_classifier(64)


@pytest.mark.parametrize(
    ("builder", "args", "kwargs", "error", "field"),
    [
        (build_mobilenet_classifier, (64,), {}, ValueError, "input_size"),
        (build_mobilenet_classifier, (144.0,), {}, TypeError, "input_size"),
        (build_mobilenet_classifier, (True,), {}, TypeError, "input_size"),
        (build_mobilenet_classifier, (144,), {"dropout": 1.5}, ValueError, "dropout"),
        (build_mobilenet_classifier, (144,), {"dropout": 1.0}, ValueError, "dropout"),
        (build_mobilenet_classifier, (144,), {"dropout": -0.1}, ValueError, "dropout"),
        (build_mobilenet_classifier, (144,), {"dropout": "0.2"}, TypeError, "dropout"),
        (build_mobilenet_classifier, (144,), {"backbone_weights": "imagenet"}, ValueError,
         "backbone_weights"),
        (build_mobilenet_classifier, (144,), {"backbone_weights": "gone.weights.h5"}, ValueError,
         "backbone_weights"),
        (build_mobilenet_classifier, (144,), {"backbone_weights": 3}, TypeError,
         "backbone_weights"),
        (build_shallow_cnn, (16,), {}, ValueError, "input_size"),
        (build_shallow_cnn, (20,), {"kernel_sizes": (11, 11)}, ValueError, "input_size"),
        (build_shallow_cnn, ("144",), {}, TypeError, "input_size"),
        (build_shallow_cnn, (144,), {"filters": (6,)}, ValueError, "filters"),
        (build_shallow_cnn, (144,), {"filters": (0, 16)}, ValueError, "filters"),
        (build_shallow_cnn, (144,), {"filters": (6.0, 16)}, TypeError, "filters"),
        (build_shallow_cnn, (144,), {"kernel_sizes": (9, 9, 9)}, ValueError, "kernel_sizes"),
        (build_shallow_cnn, (144,), {"kernel_sizes": 9}, TypeError, "kernel_sizes"),
        (build_shallow_cnn, (144,), {"dropout": 1.0}, ValueError, "dropout"),
        (build_baseline, ("alexnet", 100), {}, ValueError, "name"),
        (build_baseline, ("VGG16", 100), {}, ValueError, "name"),
        (build_baseline, (16, 100), {}, TypeError, "name"),
        (build_baseline, ("vgg16", 64), {}, ValueError, "input_size"),
        (build_baseline, ("vgg16", 100), {"dropout": 2}, ValueError, "dropout"),
        (transfer, ("model", 100), {}, TypeError, "source_model"),
    ],
)  # fmt: skip
def test_builders_validate_arguments(builder, args, kwargs, error, field) -> None:
    with pytest.raises(error, match=f"`{field}`"):
        builder(*args, **kwargs)


def test_transfer_refuses_a_model_without_backbone() -> None:
    with pytest.raises(ValueError, match="source_model"):
        transfer(build_shallow_cnn(100), 100)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"input_size": 64}, ValueError, "input_size"),
        ({"input_size": 100, "freeze_backbone": "yes"}, TypeError, "freeze_backbone"),
        ({"input_size": 100, "dropout": 1.0}, ValueError, "dropout"),
    ],
)
def test_transfer_validates_arguments(
    mobilenet_144: keras.Model, kwargs: dict, error: type, field: str
) -> None:
    with pytest.raises(error, match=f"`{field}`"):
        transfer(mobilenet_144, **kwargs)
