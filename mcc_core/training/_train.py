"""Training as in the papers: Adam, binary cross-entropy, the weights of the epoch with the best
validation accuracy kept in memory and restored, history, curves and test metrics on disk.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import evalkit
from mcc_core._tf import keras, tf
from synth.io import write_atomic

__all__ = ["TrainResult", "train"]

SHUFFLE_SEED = 0
"""Seed of the per-epoch shuffle of a training set given as arrays."""

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")

Data: TypeAlias = tf.data.Dataset | tuple[Any, Any]
Verbose: TypeAlias = Literal["auto", 0, 1, 2]


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch`` (1-based), ``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy``.
    best_epoch : int
        1-based epoch with the highest validation accuracy (the earliest on ties); the trained
        model holds this epoch's weights.
    best_val_accuracy : float
        Validation accuracy of ``best_epoch``.
    wall_time_s : float
        Wall-clock duration of the fit in seconds (test scoring and file writing excluded).
    test_metrics : dict or None
        ``loss``, ``accuracy``, ``precision``, ``recall``, ``specificity``, ``f1``, ``tn``,
        ``fp``, ``fn``, ``tp`` of the restored model on the test set (see
        :func:`compute_confusion_metrics`); None without a test set.
    out_dir : pathlib.Path
        Folder holding ``history.csv``, ``curves.png`` and ``result.json``.
    """

    history: pd.DataFrame
    best_epoch: int
    best_val_accuracy: float
    wall_time_s: float
    test_metrics: dict[str, float | int] | None
    out_dir: Path


# --------------------------------------------------------------------------- validation


def _check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1 (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"`{name}` must be an int; got {name}={value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {name}={value}.")
    return int(value)


def _check_config(model: object, epochs: object, batch_size: object, learning_rate: object,
                  verbose: object, callbacks: object) -> tuple[int, int, float]:
    """Validate the scalar arguments of :func:`train`; return epochs, batch size, rate."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; got model of type {type(model).__name__}.")
    n_epochs = _check_positive_int("epochs", epochs)
    batch = _check_positive_int("batch_size", batch_size)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float):
        raise TypeError(f"`learning_rate` must be a float; got learning_rate={learning_rate!r}.")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"`learning_rate` must be finite, > 0; got learning_rate={learning_rate}.")
    if isinstance(verbose, bool) or verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"`verbose` must be one of 'auto', 0, 1, 2; got verbose={verbose!r}.")
    if not (isinstance(callbacks, list | tuple)
            and all(isinstance(c, keras.callbacks.Callback) for c in callbacks)):
        raise TypeError(f"`callbacks` must be a list of keras Callbacks; got {callbacks!r}.")
    return n_epochs, batch, float(learning_rate)


def _model_input_shape(model: keras.Model) -> tuple[int | None, ...]:
    """Return the model's single input shape without the batch axis."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError) as error:
        raise ValueError(f"`model` must have a known input shape; got {model.name!r}.") from error
    if not isinstance(shape, tuple) or len(shape) != 4:
        raise ValueError(f"`model` must take one (batch, H, W, 1) input; got input_shape={shape}.")
    return tuple(shape[1:])


def _check_size(name: str, image_shape: tuple[int | None, ...],
                model_shape: tuple[int | None, ...]) -> None:
    """Raise if the data's (H, W, C) differ from the model's where both are known."""
    pairs = zip(image_shape, model_shape, strict=True)
    if any(a is not None and b is not None and a != b for a, b in pairs):
        raise ValueError(
            f"`{name}` images must match the model's input size; got {name} images of shape "
            f"{image_shape} (H, W, C) but the model expects {model_shape}."
        )


def _check_arrays(name: str, data: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Validate an ``(images, labels)`` pair; return float32 images and float32 labels."""
    if len(data) != 2:
        raise ValueError(f"`{name}` must be a pair (images, labels); got {len(data)} items.")
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    if images.dtype.kind != "f":
        raise TypeError(f"`{name}` images must be floats in [0, 1]; got dtype {images.dtype}.")
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"`{name}` images must have shape (N, H, W, 1); got {images.shape}.")
    if not np.isfinite(images).all():
        raise ValueError(f"`{name}` images must be finite; got NaN or infinity.")
    if labels.dtype.kind not in "biuf" or labels.shape not in ((len(images),), (len(images), 1)):
        raise ValueError(
            f"`{name}` labels must be numbers of shape ({len(images)},); "
            f"got shape {labels.shape} and dtype {labels.dtype}."
        )
    if len(images) == 0:
        raise ValueError(f"`{name}` must hold at least one patch; got 0.")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"`{name}` labels must be 0 or 1; got values {np.unique(labels)[:10]}.")
    return images.astype(np.float32, copy=False), labels.reshape(-1).astype(np.float32)


def _check_dataset(name: str, data: tf.data.Dataset) -> tuple[int | None, ...]:
    """Validate a batched ``(x, y)`` dataset's structure; return the (H, W, C) of ``x``."""
    spec = data.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2
            and all(isinstance(s, tf.TensorSpec) for s in spec)):
        raise ValueError(f"`{name}` must yield (x, y) pairs of tensors; got element_spec={spec}.")
    x_spec, y_spec = spec
    if x_spec.shape.rank != 4 or x_spec.shape[-1] not in (1, None) or not x_spec.dtype.is_floating:
        raise ValueError(
            f"`{name}` must yield float image batches of shape (batch, H, W, 1); "
            f"got x of shape {x_spec.shape} and dtype {x_spec.dtype.name}."
        )
    if y_spec.shape.rank not in (1, 2) or (y_spec.shape.rank == 2 and y_spec.shape[-1] != 1):
        raise ValueError(
            f"`{name}` must yield label batches of shape (batch,); got y of shape {y_spec.shape}."
        )
    if data.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"`{name}` must be a finite dataset; got an infinite (repeated) one.")
    return tuple(x_spec.shape[1:].as_list())


def _as_dataset(name: str, data: object, batch_size: int, model_shape: tuple[int | None, ...],
                *, shuffle: bool = False) -> tf.data.Dataset:
    """Validate ``data`` and return it as a batched ``tf.data.Dataset``."""
    if isinstance(data, tf.data.Dataset):
        _check_size(name, _check_dataset(name, data), model_shape)
        return data
    if not isinstance(data, tuple | list):
        raise TypeError(
            f"`{name}` must be a tf.data.Dataset or a tuple (images, labels); "
            f"got {name} of type {type(data).__name__}."
        )
    images, labels = _check_arrays(name, tuple(data))
    _check_size(name, images.shape[1:], model_shape)
    if shuffle and np.unique(labels).size < 2:
        raise ValueError(f"`{name}` must hold both classes; got only class {int(labels[0])}.")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=SHUFFLE_SEED, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _prepare_out_dir(out_dir: object) -> Path:
    """Create ``out_dir`` if needed and return it as a Path."""
    if not isinstance(out_dir, str | os.PathLike):
        raise TypeError(f"`out_dir` must be a path; got out_dir of type {type(out_dir).__name__}.")
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got out_dir={str(path)!r}, a file.")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- training


def best_weights_callback(epochs: int) -> keras.callbacks.EarlyStopping:
    """Keras' own early stopping, set never to stop: it keeps the weights of the epoch with the
    best ``val_accuracy`` and loads them back when training ends. An epoch counts as best only
    when it beats every earlier one strictly, so on ties the earliest epoch wins (the papers'
    rule)."""
    return keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                         restore_best_weights=True)


def _history_frame(history: dict[str, list[float]]) -> pd.DataFrame:
    """Turn Keras' ``History.history`` into the documented DataFrame."""
    n = len(history["loss"])
    frame = pd.DataFrame({"epoch": np.arange(1, n + 1, dtype=np.int64)})
    for column in HISTORY_COLUMNS[1:]:
        frame[column] = np.asarray(history[column], dtype=np.float64)
    return frame


def _score(model: keras.Model, dataset: tf.data.Dataset) -> dict[str, float | int]:
    """Predict ``dataset`` batch by batch (labels and predictions stay paired) and score it."""
    labels, probs = [], []
    for x, y in dataset:
        probs.append(np.asarray(model.predict_on_batch(x), dtype=np.float64).reshape(-1))
        labels.append(np.asarray(y).reshape(-1))
    y_true = np.concatenate(labels) if labels else np.zeros(0)
    y_prob = np.concatenate(probs) if probs else np.zeros(0)
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError(f"`test` labels must be 0 or 1; got values {np.unique(y_true)[:10]}.")
    if not np.isfinite(y_prob).all():  # a diverged model: report NaN rather than fail late
        return dict.fromkeys(("loss", *PAPER_METRICS), math.nan)
    return paper_metrics(y_true, y_prob)


PAPER_METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "tn", "fp", "fn", "tp")
"""The papers' confusion-matrix metrics (recall is the sensitivity), with the loss beside them."""


def paper_metrics(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float | int]:
    """The papers' metrics at threshold 0.5 and the binary cross-entropy (``loss``), from
    :func:`evalkit.compute_metrics`, the toolkit's one implementation of each metric."""
    values = evalkit.compute_metrics(y_true, y_prob, threshold=0.5, n_bootstrap=0).values
    return {"loss": values["bce"], **{k: values[k] for k in PAPER_METRICS}}


# --------------------------------------------------------------------------- outputs


def _plot_curves(history: pd.DataFrame, best_epoch: int, path: Path) -> None:
    """Draw accuracy and loss per epoch (train and validation), best epoch marked."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("accuracy", "loss"), strict=True):
        ax.plot(history["epoch"], history[metric], marker="o", label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric.capitalize())
        ax.legend()
    fig.savefig(path, format="png", dpi=100)


def _json_number(value: Any) -> Any:
    """Python number for JSON; NaN and infinity become None (strict JSON)."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _write_outputs(result: TrainResult, config: dict[str, Any]) -> None:
    """Write ``history.csv``, ``curves.png`` and ``result.json`` atomically."""
    out = result.out_dir
    text = result.history.to_csv(index=False, float_format="%.17g")
    write_atomic(out / "history.csv", lambda p: p.write_text(text, encoding="utf-8"))
    write_atomic(out / "curves.png", lambda p: _plot_curves(result.history, result.best_epoch, p))
    test = result.test_metrics
    record = {
        "best_epoch": result.best_epoch,
        "best_val_accuracy": _json_number(result.best_val_accuracy),
        "wall_time_s": result.wall_time_s,
        "test_metrics": None if test is None else {k: _json_number(v) for k, v in test.items()},
        "config": config,
    }
    body = json.dumps(record, indent=2, allow_nan=False) + "\n"
    write_atomic(out / "result.json", lambda p: p.write_text(body, encoding="utf-8"))


def train(
    model: keras.Model,
    train: Data,
    val: Data,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float = 1e-3,
    out_dir: str | os.PathLike[str],
    test: Data | None = None,
    verbose: Verbose = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Train ``model`` as in the papers and keep the epoch with the best validation accuracy.

    The model is compiled (in place) with Adam(``learning_rate``), binary cross-entropy and
    accuracy, and fitted for ``epochs`` epochs. After every epoch the weights are copied in
    memory when the validation accuracy beats every earlier epoch (ties keep the earliest);
    at the end these weights are loaded back, so ``model`` holds the best epoch. Keras'
    accuracy counts ``ŷ > 0.5`` as class 1; the test metrics use ``ŷ >= 0.5``.

    Parameters
    ----------
    model : keras.Model
        A built single-input classifier, e.g. from :func:`build_shallow_cnn`; modified in place.
        Frozen layers (``trainable=False``, as after :func:`transfer`) stay unchanged.
    train, val : tf.data.Dataset or tuple (images, labels)
        Training and validation data. A dataset must yield batches ``(x, y)`` with ``x`` float
        of shape (batch, H, W, 1) and ``y`` of shape (batch,), and is used as given. A tuple
        holds images, ndarray of shape (N, H, W, 1), float in [0, 1], and labels of shape (N,)
        in {0, 1}; it is batched by ``batch_size`` and, for ``train``, shuffled every epoch
        with a fixed seed (``SHUFFLE_SEED``). A training tuple must hold both classes.
    epochs : int
        Number of epochs (>= 1). The papers train for 100.
    batch_size : int
        Mini-batch size for tuple data (>= 1). Paper values: 16 (Model A), 64 (Model B).
    learning_rate : float, optional
        Adam learning rate (> 0). Default 1e-3, Keras' default and Model B's best.
    out_dir : str or path-like
        Folder for ``history.csv``, ``curves.png`` and ``result.json`` (created if missing),
        each written to a temporary name there and then moved into place. In ``result.json``
        NaN metrics are written as null.
    test : tf.data.Dataset or tuple (images, labels), optional
        Test data scored with the restored best weights (see ``TrainResult.test_metrics``).
    verbose : {"auto", 0, 1, 2}, optional
        Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.
    callbacks : sequence of keras.callbacks.Callback, optional
        Extra callbacks (e.g. an app's progress bar). They run after the best-weights one, so
        in ``on_train_end`` the model already holds the best epoch's weights.

    Returns
    -------
    result : TrainResult

    Raises
    ------
    TypeError
        If an argument has the wrong type (e.g. integer images, or data neither a dataset nor
        a tuple).
    ValueError
        If a value is out of range, data have the wrong shape or labels, the training tuple
        holds one class only, or the image size differs from the model's input size. Nothing
        is trained or written then.

    Examples
    --------
    One epoch of the lightweight CNN on 24 synthetic patches, 8 for validation, 8 for test:

    >>> import tempfile
    >>> import synth
    >>> from mcc_core import build_shallow_cnn, synthetic_arrays
    >>> keras.utils.set_random_seed(0)
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 40, resolution_um=100, seed=0)
    >>> result = train(build_shallow_cnn(100), (images[:24], labels[:24]),
    ...                (images[24:32], labels[24:32]), epochs=1, batch_size=8,
    ...                out_dir=tempfile.mkdtemp(), test=(images[32:], labels[32:]), verbose=0)
    >>> list(result.history.columns), result.best_epoch
    (['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy'], 1)
    >>> sum(result.test_metrics[k] for k in ("tn", "fp", "fn", "tp"))
    8
    >>> sorted(file.name for file in result.out_dir.iterdir())
    ['curves.png', 'history.csv', 'result.json']
    """
    n_epochs, batch, rate = _check_config(model, epochs, batch_size, learning_rate, verbose,
                                          callbacks)
    model_shape = _model_input_shape(model)
    train_ds = _as_dataset("train", train, batch, model_shape, shuffle=True)
    val_ds = _as_dataset("val", val, batch, model_shape)
    test_ds = None if test is None else _as_dataset("test", test, batch, model_shape)
    out = _prepare_out_dir(out_dir)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    best = best_weights_callback(n_epochs)
    start = time.perf_counter()
    fitted = model.fit(train_ds, validation_data=val_ds, epochs=n_epochs, shuffle=False,
                       callbacks=[best, *callbacks], verbose=verbose)
    wall_time = time.perf_counter() - start
    result = TrainResult(
        history=_history_frame(fitted.history),
        best_epoch=best.best_epoch + 1,
        best_val_accuracy=math.nan if best.best is None else float(best.best),
        wall_time_s=wall_time,
        test_metrics=None if test_ds is None else _score(model, test_ds),
        out_dir=out,
    )
    config = {"epochs": n_epochs, "batch_size": batch, "learning_rate": rate,
              "model_name": model.name, "n_params": int(model.count_params()),
              "n_trainable_params": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
              "keras_version": keras.__version__}
    _write_outputs(result, config)
    return result
