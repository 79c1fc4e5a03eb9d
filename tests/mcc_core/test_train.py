"""Tests for training: best-epoch restoration, learning, output files, transfer, metrics, errors."""

import json
import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import synth
from mcc_core import (
    TrainResult,
    build_mobilenet_classifier,
    build_shallow_cnn,
    train,
    transfer,
)
from mcc_core.training._train import best_weights_callback

EASY = synth.SceneConfig(
    contrast_range=(0.5, 0.8),
    mc_size_range_mm=(0.3, 0.6),
    mc_count_range=(6, 12),
    hard_negative_fraction=0.0,
    acquisition=None,
    # the training mechanics, on the easy patches of the first-wave generator
    contrast_model="relative", texture="periodic", mc_min_spacing_mm=None, pleomorphism=1.0,
    mc_count_distribution="uniform", curvature_range_per_mm=(0.0, 0.0),
)
SIDE = 16  # side of the toy patches used where learning does not matter


def _patches(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy synthetic 100 px patches at 100 µm with a channel axis, and their labels."""
    batch = synth.generate(EASY, n, resolution_um=100, seed=seed, processes=1)
    return batch.images[..., None], batch.labels


def _toy_model(side: int = SIDE) -> keras.Model:
    inputs = keras.Input(shape=(side, side, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="toy")


def _toy_data(n: int, seed: int, side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Random patches where class 1 has one bright pixel: learnable by the toy model."""
    gen = np.random.default_rng(seed)
    images = gen.uniform(0.0, 0.5, size=(n, side, side, 1)).astype(np.float32)
    labels = np.arange(n) % 2
    rows, cols = gen.integers(2, side - 2, size=(2, n))
    images[labels == 1, rows[labels == 1], cols[labels == 1], 0] = 1.0
    return images, labels


class _WeightRecorder(keras.callbacks.Callback):
    """Copy of the model's weights at the end of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.weights.append([np.array(w) for w in self.model.get_weights()])


def _assert_same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- best epoch


def test_best_epoch_weights_are_restored(rng: np.random.Generator, tmp_path: Path) -> None:
    model = _toy_model()
    recorder = _WeightRecorder()
    images, labels = _toy_data(16, 2)
    inverted = (images, 1 - labels)  # validation accuracy falls as the model learns
    result = train(model, _toy_data(64, 1), inverted, epochs=6, batch_size=8,
                   learning_rate=0.05, out_dir=tmp_path, verbose=0, callbacks=[recorder])
    val_acc = result.history["val_accuracy"].to_numpy()
    assert result.best_epoch == int(np.argmax(val_acc)) + 1  # argmax: earliest on ties
    assert result.best_val_accuracy == val_acc.max()
    assert result.best_epoch < len(val_acc)  # restoring must actually change the weights
    _assert_same_weights(model.get_weights(), recorder.weights[result.best_epoch - 1])
    with pytest.raises(AssertionError):
        _assert_same_weights(model.get_weights(), recorder.weights[-1])


def test_best_weights_callback_keeps_earliest_tie(rng: np.random.Generator) -> None:
    model = _toy_model()
    best = best_weights_callback(4)
    best.set_model(model)
    best.on_train_begin()
    snapshots = []
    for epoch, value in enumerate([0.5, 0.8, 0.8, 0.6]):
        model.set_weights([w + epoch + 1.0 for w in model.get_weights()])
        snapshots.append(model.get_weights())
        best.on_epoch_end(epoch, {"val_accuracy": value})
        assert not getattr(model, "stop_training", False)  # patience = epochs: never stops
    best.on_train_end()
    assert (best.best_epoch + 1, best.best) == (2, 0.8)
    _assert_same_weights(model.get_weights(), snapshots[1])


def test_same_seed_same_history(tmp_path: Path) -> None:
    histories = []
    for run in range(2):
        keras.utils.set_random_seed(3)
        result = train(_toy_model(), _toy_data(32, 1), _toy_data(8, 2), epochs=3, batch_size=8,
                       out_dir=tmp_path / str(run), verbose=0)
        histories.append(result.history)
    pd.testing.assert_frame_equal(histories[0], histories[1])


# --------------------------------------------------------------------------- learning


def test_shallow_cnn_learns_easy_synthetic_patches(rng: np.random.Generator,
                                                   tmp_path: Path) -> None:
    # Table 1's 5 x 5 variant (2,589 parameters): 3x cheaper than 9 x 9, and with lr 1e-2 it
    # leaves the initial "everything positive" plateau within 2-4 epochs for every seed tried.
    model = build_shallow_cnn(100, kernel_sizes=(5, 5))
    test = _patches(100, seed=3)
    result = train(model, _patches(160, seed=1), _patches(40, seed=2), epochs=8, batch_size=16,
                   learning_rate=1e-2, out_dir=tmp_path, test=test, verbose=0)
    metrics = result.test_metrics
    assert metrics is not None
    assert metrics["accuracy"] >= 0.75
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 100
    assert result.best_val_accuracy >= 0.75
    # The NumPy test loss and accuracy agree with Keras' own evaluation of the restored model.
    keras_loss, keras_accuracy = model.evaluate(*test, batch_size=16, verbose=0)
    assert metrics["loss"] == pytest.approx(keras_loss, rel=1e-4)
    assert metrics["accuracy"] == pytest.approx(keras_accuracy, abs=1e-6)


# --------------------------------------------------------------------------- output files


def test_files_written_and_consistent(rng: np.random.Generator, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "run"
    images, labels = _toy_data(16, 3)
    test_ds = _dataset(images, labels, batch=5)
    model = _toy_model()
    val_ds = _dataset(*_toy_data(8, 2))
    result = train(model, _toy_data(32, 1), val_ds, epochs=3, batch_size=8,
                   learning_rate=0.01, out_dir=str(out), test=test_ds, verbose=0)
    assert isinstance(result, TrainResult)
    assert result.out_dir == out
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "history.csv", "result.json"]
    assert list(result.history.columns) == ["epoch", "loss", "accuracy", "val_loss",
                                            "val_accuracy"]
    assert result.history["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv"), result.history)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "result.json").read_text())
    assert record["best_epoch"] == result.best_epoch
    assert record["best_val_accuracy"] == result.best_val_accuracy
    assert record["wall_time_s"] == result.wall_time_s > 0
    assert record["test_metrics"] == pytest.approx(result.test_metrics, nan_ok=True)
    assert record["config"] == {
        "epochs": 3, "batch_size": 8, "learning_rate": 0.01, "model_name": "toy",
        "n_params": model.count_params(), "n_trainable_params": model.count_params(),
        "keras_version": keras.__version__,
    }


class _BreakWeights(keras.callbacks.Callback):
    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])


def test_diverged_model_gives_nan_test_metrics(tmp_path: Path) -> None:
    result = train(_toy_model(), (X, Y), (X, Y), epochs=1, batch_size=4, out_dir=tmp_path,
                   test=(X, Y), verbose=0, callbacks=[_BreakWeights()])
    assert result.test_metrics is not None
    assert all(math.isnan(v) for v in result.test_metrics.values())
    assert json.loads((tmp_path / "result.json").read_text())["test_metrics"]["f1"] is None


# --------------------------------------------------------------------------- transfer


@pytest.mark.slow  # builds two MobileNetV2 classifiers (42 M parameters each at 100 px)
def test_transfer_trains_only_the_head(rng: np.random.Generator, tmp_path: Path) -> None:
    model = transfer(build_mobilenet_classifier(100), 100)
    before = {name: model.get_layer(name).get_weights()
              for name in ("backbone", "dense_2048", "output")}
    images, labels = _patches(40, seed=4)
    train(model, (images[:32], labels[:32]), (images[32:], labels[32:]), epochs=1,
          batch_size=16, out_dir=tmp_path, verbose=0)
    _assert_same_weights(model.get_layer("backbone").get_weights(), before["backbone"])
    for name in ("dense_2048", "output"):
        kernel_before, kernel_after = before[name][0], model.get_layer(name).get_weights()[0]
        assert not np.array_equal(kernel_before, kernel_after), name


# --------------------------------------------------------------------------- validation


def _dataset(images: np.ndarray, labels: np.ndarray, batch: int | None = 4) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset if batch is None else dataset.batch(batch)


X, Y = _toy_data(8, 0)
X_BIG, _ = _toy_data(8, 0, side=SIDE * 2)

BAD_ARGUMENTS = [
    ({"model": "model"}, TypeError, "model"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 2.0}, TypeError, "epochs"),
    ({"epochs": True}, TypeError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "8"}, TypeError, "batch_size"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"learning_rate": -1e-3}, ValueError, "learning_rate"),
    ({"learning_rate": math.nan}, ValueError, "learning_rate"),
    ({"learning_rate": math.inf}, ValueError, "learning_rate"),
    ({"learning_rate": "1e-3"}, TypeError, "learning_rate"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"callbacks": ["print"]}, TypeError, "callbacks"),
    ({"out_dir": 5}, TypeError, "out_dir"),
    ({"train": X}, TypeError, "train"),
    ({"train": (X,)}, ValueError, "train"),
    ({"train": ((X * 255).astype(np.uint8), Y)}, TypeError, "train"),
    ({"train": (X[..., 0], Y)}, ValueError, "train"),
    ({"train": (np.repeat(X, 3, axis=-1), Y)}, ValueError, "train"),
    ({"train": (np.where(X > 0.4, np.nan, X), Y)}, ValueError, "train"),
    ({"train": (X, Y[:-1])}, ValueError, "train"),
    ({"train": (X, Y * 2)}, ValueError, "train"),
    ({"train": (X[:0], Y[:0])}, ValueError, "train"),
    ({"train": (X, np.zeros(8))}, ValueError, "train"),
    ({"val": (X, np.full(8, 3))}, ValueError, "val"),
    ({"val": [X]}, ValueError, "val"),
    ({"val": _dataset(X, Y, batch=None)}, ValueError, "val"),
    ({"val": tf.data.Dataset.from_tensor_slices(X).batch(4)}, ValueError, "val"),
    ({"val": _dataset(X, Y[:, None, None])}, ValueError, "val"),
    ({"val": _dataset(X, Y).repeat()}, ValueError, "val"),
    ({"test": "test.npz"}, TypeError, "test"),
    ({"test": (X[..., 0], Y)}, ValueError, "test"),
]


@pytest.mark.parametrize(("kwargs", "error", "field"), BAD_ARGUMENTS)
def test_train_validation(kwargs: dict, error: type, field: str, tmp_path: Path) -> None:
    args = {"model": _toy_model(), "train": (X, Y), "val": (X, Y), "epochs": 1, "batch_size": 4,
            "out_dir": tmp_path / "out", "verbose": 0, **kwargs}
    with pytest.raises(error, match=f"`{field}`"):
        train(**args)
    assert not (tmp_path / "out").exists()  # nothing is written before the inputs are valid


def test_one_class_training_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^`train` must hold both classes; got only class 1\.$"):
        train(_toy_model(), (X, np.ones(8)), (X, Y), epochs=1, batch_size=4, out_dir=tmp_path)


@pytest.mark.parametrize("field", ["train", "val", "test"])
@pytest.mark.parametrize("as_dataset", [False, True])
def test_input_size_mismatch_names_both_sizes(field: str, as_dataset: bool,
                                              tmp_path: Path) -> None:
    bad = _dataset(X_BIG, Y) if as_dataset else (X_BIG, Y)
    args = {"train": (X, Y), "val": (X, Y), "test": (X, Y), field: bad}
    with pytest.raises(ValueError, match=rf"`{field}`.*\(32, 32, 1\).*\(16, 16, 1\)"):
        train(_toy_model(), epochs=1, batch_size=4, out_dir=tmp_path, **args)


def test_out_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="`out_dir`"):
        train(_toy_model(), (X, Y), (X, Y), epochs=1, batch_size=4, out_dir=path)
