"""Training that survives an interruption: one checkpoint per epoch, resumed exactly.

The papers' rule is kept (Adam, binary cross-entropy, the weights of the epoch with the best
validation accuracy restored at the end, the earliest epoch on ties), but the epochs are run
one `fit` call at a time so that after each one the whole state — every model variable
(Dropout's seed-generator state included), every optimizer variable (Adam's moments and its
step count), the best epoch's variables, the history and the time spent — is written to one
``checkpoint.npz``, atomically. The data order of epoch *e* is
``default_rng([*shuffle_seed, e]).permutation(n)``, whichever sitting runs it, so a run
resumed from epoch *e* continues exactly where an uninterrupted one would be.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcc_core._tf import keras
from synth.io import write_atomic

__all__ = ["FitRecord", "fit_resumable"]

CHECKPOINT = "checkpoint.npz"
EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True, kw_only=True)
class FitRecord:
    """What :func:`fit_resumable` did.

    Attributes
    ----------
    history : list of dict
        Per epoch: ``epoch`` (1-based), ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
        ``time_s``.
    best_epoch : int
        The epoch whose variables the model holds (highest validation accuracy, earliest on ties).
    best_val_accuracy : float
    train_time_s : float
        Seconds spent in the epochs, summed over every sitting.
    resumed_from : int
        Last epoch of the checkpoint this sitting started from (0: a fresh start).
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_val_accuracy: float
    train_time_s: float
    resumed_from: int


def _values(variables: Sequence[Any]) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def _assign(variables: Sequence[Any], values: Sequence[np.ndarray], what: str) -> None:
    shapes = [tuple(v.shape) for v in variables]
    if len(values) != len(variables) or shapes != [tuple(a.shape) for a in values]:
        raise ValueError(f"`checkpoint` does not fit this model's {what} ({len(values)} arrays "
                         f"for {len(variables)} variables); delete the arm's folder to retrain it.")
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def _write_checkpoint(path: Path, model: keras.Model, best: list[np.ndarray],
                      state: dict[str, Any]) -> None:
    arrays: dict[str, Any] = {}
    for prefix, values in (("m", _values(model.variables)),
                           ("o", _values(model.optimizer.variables)), ("b", best)):
        arrays.update({f"{prefix}{i}": value for i, value in enumerate(values)})
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    # straight to the temporary file (its name ends in .npz): no second copy in memory, which
    # for a 200 px MobileNetV2 (weights, Adam's two moments, the best epoch) is about 2 GB
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays))


def _read_checkpoint(path: Path, model: keras.Model) -> tuple[dict[str, Any], list[np.ndarray]]:
    with np.load(path) as data:
        state = json.loads(bytes(data["state"]).decode())
        groups: dict[str, list[np.ndarray]] = {"m": [], "o": [], "b": []}
        for prefix, values in groups.items():
            i = 0
            while f"{prefix}{i}" in data:
                values.append(data[f"{prefix}{i}"])
                i += 1
    model.optimizer.build(model.trainable_variables)
    _assign(model.variables, groups["m"], "variables")
    _assign(model.optimizer.variables, groups["o"], "optimizer state")
    return state, groups["b"]


def fit_resumable(model: keras.Model, train: tuple[np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray], *, epochs: int, batch_size: int,
                  learning_rate: float, shuffle_seed: Sequence[int], folder: Path,
                  on_epoch: EpochHook | None = None) -> FitRecord:
    """Train `model` for `epochs` epochs, checkpointing after each, resuming if one exists.

    Parameters
    ----------
    model : keras.Model
        Built, uncompiled; compiled here with Adam(`learning_rate`), binary cross-entropy and
        accuracy. It must be built the same way on every sitting (same seed) so that the
        checkpoint's variables fit it.
    train, val : (images, labels)
        float32 (N, H, W, 1) in [0, 1] and labels (N,) in {0, 1}.
    epochs, batch_size : int
    learning_rate : float
    shuffle_seed : sequence of int
        Seeds of the per-epoch permutation of the training set (epoch number appended).
    folder : pathlib.Path
        Holds ``checkpoint.npz`` (created if missing).
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, row)`` after each epoch's checkpoint is written (a progress
        line; an exception raised here interrupts the run with that epoch saved).

    Returns
    -------
    FitRecord
        The model holds the best epoch's variables.
    """
    x, y = train
    labels = np.asarray(y, np.float32)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    path = folder / CHECKPOINT
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_epoch": 0,
                             "best_val_accuracy": None, "train_time_s": 0.0}
    best: list[np.ndarray] = []
    if path.exists():
        state, best = _read_checkpoint(path, model)
    resumed_from = int(state["epoch"])
    val_data = (np.asarray(val[0], np.float32), np.asarray(val[1], np.float32))
    for epoch in range(resumed_from + 1, epochs + 1):
        order = np.random.default_rng([*shuffle_seed, epoch]).permutation(len(labels))
        start = time.perf_counter()
        fitted = model.fit(x[order], labels[order], batch_size=batch_size, epochs=1,
                           shuffle=False, validation_data=val_data, verbose=0)
        elapsed = time.perf_counter() - start
        row = {"epoch": epoch, **{k: float(v[-1]) for k, v in fitted.history.items()},
               "time_s": elapsed}
        score = row["val_accuracy"]
        previous = state["best_val_accuracy"]
        if math.isfinite(score) and (previous is None or score > previous):
            state["best_epoch"], state["best_val_accuracy"] = epoch, score
            best = _values(model.variables)
        state["epoch"] = epoch
        state["history"].append(row)
        state["train_time_s"] += elapsed
        folder.mkdir(parents=True, exist_ok=True)
        _write_checkpoint(path, model, best, state)
        if on_epoch is not None:
            on_epoch(epoch, row)
    if best:
        _assign(model.variables, best, "variables")
    best_score = state["best_val_accuracy"]
    return FitRecord(history=list(state["history"]), best_epoch=int(state["best_epoch"]),
                     best_val_accuracy=math.nan if best_score is None else float(best_score),
                     train_time_s=float(state["train_time_s"]), resumed_from=resumed_from)
