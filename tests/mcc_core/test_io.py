"""Tests for saving and loading models with their JSON metadata sidecar."""

import json
import zipfile
from datetime import datetime
from pathlib import Path

import keras
import numpy as np
import pytest

from mcc_core import (
    LoadedModel,
    build_mobilenet_classifier,
    build_shallow_cnn,
    load_model,
    save_model,
    sidecar_path,
)

METADATA = {
    "builder": "build_shallow_cnn",
    "input_size": 144,
    "resolution_um": 70.0,
    "training": {"optimizer": "adam", "batch_size": 64, "learning_rate": 1e-3, "epochs": 100},
    "dataset_manifest_sha256": "0f" * 32,
    "best_epoch": None,
}


def _predict(model: keras.Model, patches: np.ndarray) -> np.ndarray:
    """Inference-mode forward pass (a direct call avoids tracing a tf.function)."""
    return keras.ops.convert_to_numpy(model(patches, training=False))


@pytest.fixture
def shallow(rng: np.random.Generator) -> keras.Model:
    return build_shallow_cnn(144)


@pytest.fixture
def saved(shallow: keras.Model, tmp_path: Path) -> Path:
    path = tmp_path / "model.keras"
    save_model(shallow, path, metadata=METADATA)
    return path


def test_round_trip_gives_identical_predictions_and_metadata(
    shallow: keras.Model, saved: Path, rng: np.random.Generator
) -> None:
    patches = rng.random((5, 144, 144, 1), dtype=np.float32)
    loaded = load_model(saved)
    assert isinstance(loaded, LoadedModel)
    expected = _predict(shallow, patches)
    assert np.ptp(expected) > 0  # the comparison below is not between constant outputs
    np.testing.assert_array_equal(_predict(loaded.model, patches), expected)
    assert loaded.metadata == METADATA
    assert loaded.path == saved
    assert loaded.keras_version == keras.__version__
    assert loaded.n_params == 8_301
    assert datetime.fromisoformat(loaded.saved_at).utcoffset() is not None
    assert [layer.name for layer in loaded.model.layers] == [layer.name for layer in shallow.layers]
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.json", "model.keras"]


def test_sidecar_is_strict_json_next_to_the_model(saved: Path) -> None:
    assert sidecar_path(saved) == saved.with_suffix(".json")
    record = json.loads(saved.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["metadata"] == METADATA
    assert record["n_params"] == 8_301
    assert record["keras_version"] == keras.__version__


def test_round_trip_of_a_nested_mobilenet_backbone(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    # The classifier's layers with a small head: a nested MobileNetV2 "backbone" sub-model,
    # loaded in safe mode without custom objects, in a 9 MB archive instead of 177 MB.
    inputs = keras.Input((100, 100, 1), name="patch")
    backbone = keras.applications.MobileNetV2(
        input_shape=(100, 100, 1), include_top=False, weights=None, name="backbone"
    )
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(backbone(inputs))
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="output")(x))
    path = tmp_path / "nested.keras"
    save_model(model, path, metadata={})
    loaded = load_model(path).model
    assert isinstance(loaded.get_layer("backbone"), keras.Model)
    patches = rng.random((2, 100, 100, 1), dtype=np.float32)
    features = _predict(backbone, patches)
    assert not np.array_equal(features[0], features[1])
    np.testing.assert_array_equal(_predict(loaded.get_layer("backbone"), patches), features)
    np.testing.assert_array_equal(_predict(loaded, patches), _predict(model, patches))


@pytest.mark.slow  # 12-16 s on 2 CPU cores: a 177 MB archive is written and read back
def test_round_trip_of_mobilenet_needs_no_custom_objects(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    model = build_mobilenet_classifier(100)
    path = tmp_path / "mobilenet.keras"
    save_model(model, path, metadata={"builder": "build_mobilenet_classifier"})
    loaded = load_model(path)
    assert isinstance(loaded.model.get_layer("backbone"), keras.Model)
    assert loaded.n_params == model.count_params()
    for got, want in zip(loaded.model.weights, model.weights, strict=True):
        assert got.path == want.path
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want)
        )
    # A random MobileNetV2 in inference mode outputs 0.5 for every patch, so compare the
    # backbone features (tiny but patch-dependent) as well as the probabilities.
    patches = rng.random((2, 100, 100, 1), dtype=np.float32)
    features = _predict(model.get_layer("backbone"), patches)
    assert not np.array_equal(features[0], features[1])
    np.testing.assert_array_equal(_predict(loaded.model.get_layer("backbone"), patches), features)
    np.testing.assert_array_equal(_predict(loaded.model, patches), _predict(model, patches))


def test_loaded_model_is_not_compiled(shallow: keras.Model, tmp_path: Path) -> None:
    shallow.compile(optimizer="adam", loss="binary_crossentropy")
    path = tmp_path / "compiled.keras"
    save_model(shallow, path, metadata={})
    assert not load_model(path).model.compiled


def test_numpy_values_and_tuples_become_plain_json(shallow: keras.Model, tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    metadata = {"accuracy": np.float32(0.5), "epoch": np.int64(3), "sizes": (200, 144, 100),
                "curve": np.arange(3)}  # fmt: skip
    save_model(shallow, path, metadata=metadata)
    loaded = load_model(path).metadata
    assert loaded == {"accuracy": 0.5, "epoch": 3, "sizes": [200, 144, 100], "curve": [0, 1, 2]}
    assert type(loaded["accuracy"]) is float and type(loaded["epoch"]) is int


def test_save_overwrites_model_and_sidecar(saved: Path, rng: np.random.Generator) -> None:
    other = build_shallow_cnn(144, kernel_sizes=(5, 5))
    save_model(other, saved, metadata={"builder": "variant"})
    loaded = load_model(saved)
    assert loaded.metadata == {"builder": "variant"}
    assert loaded.model.count_params() == 2_589
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.json", "model.keras"]


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"loss": float("nan")}, ValueError),
        ({"limit": float("inf")}, ValueError),
        ({"path": Path("x")}, TypeError),
        ({1: "one"}, TypeError),
        ([("builder", "x")], TypeError),
    ],
)
def test_bad_metadata_raises_and_writes_nothing(
    shallow: keras.Model, tmp_path: Path, metadata: object, error: type
) -> None:
    with pytest.raises(error, match="metadata"):
        save_model(shallow, tmp_path / "m.keras", metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_the_previous_model_and_leaves_no_temp_files(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = saved.read_bytes()
    model = build_shallow_cnn(100)

    def broken_save(filepath: str, *args: object, **kwargs: object) -> None:
        Path(filepath).write_bytes(b"half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, saved, metadata={"builder": "broken"})
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.json", "model.keras"]
    assert saved.read_bytes() == original
    assert load_model(saved).metadata == METADATA


@pytest.mark.parametrize(
    ("model", "name", "error", "field"),
    [
        ("shallow", "model.h5", ValueError, "path"),
        ("shallow", "missing_folder/model.keras", ValueError, "path"),
        ("not a model", "model.keras", TypeError, "model"),
    ],
)
def test_save_validates_arguments(
    shallow: keras.Model, tmp_path: Path, model: str, name: str, error: type, field: str
) -> None:
    target = shallow if model == "shallow" else model
    with pytest.raises(error, match=f"`{field}`"):
        save_model(target, tmp_path / name, metadata={})
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_wrong_path_types_and_suffixes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="`path`"):
        load_model(3)
    with pytest.raises(TypeError, match="`require_metadata`"):
        load_model(tmp_path / "model.keras", require_metadata="no")
    with pytest.raises(ValueError, match="`path`"):
        load_model(tmp_path / "model.h5")
    with pytest.raises(ValueError, match="`path`.*missing.keras"):
        load_model(tmp_path / "missing.keras")


def _write_text(path: Path, saved: Path) -> None:
    path.write_text("this is a text file renamed to .keras")


def _write_truncated(path: Path, saved: Path) -> None:
    data = saved.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _write_foreign_zip(path: Path, saved: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "a zip archive, but not a Keras model")


@pytest.mark.parametrize("write", [_write_text, _write_truncated, _write_foreign_zip])
def test_load_rejects_corrupt_model_files(saved: Path, write) -> None:
    corrupt = saved.with_name("corrupt.keras")
    write(corrupt, saved)
    saved.with_suffix(".json").rename(corrupt.with_suffix(".json"))
    with pytest.raises(ValueError, match="`path`.*corrupt.keras"):
        load_model(corrupt)


def test_missing_sidecar_raises_unless_allowed(saved: Path) -> None:
    saved.with_suffix(".json").unlink()
    with pytest.raises(ValueError, match="sidecar.*require_metadata"):
        load_model(saved)
    loaded = load_model(saved, require_metadata=False)
    assert loaded.metadata == {}
    assert (loaded.keras_version, loaded.saved_at, loaded.n_params) == (None, None, None)
    assert loaded.model.count_params() == 8_301


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        json.dumps({"builder": "x"}),
        json.dumps({"format": "mcc_core.model", "format_version": 2, "n_params": 1,
                    "metadata": {}}),
    ],
)  # fmt: skip
def test_corrupt_sidecar_raises_even_when_metadata_is_optional(saved: Path, text: str) -> None:
    saved.with_suffix(".json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="sidecar.*model.json"):
        load_model(saved, require_metadata=False)


def test_sidecar_of_another_model_is_detected(saved: Path) -> None:
    other = saved.with_name("other.keras")
    save_model(build_shallow_cnn(144, kernel_sizes=(5, 5)), other, metadata={})
    other.with_suffix(".json").replace(saved.with_suffix(".json"))
    with pytest.raises(ValueError, match="n_params"):
        load_model(saved)
