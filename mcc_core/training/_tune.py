"""Hyperband search of the lightweight CNN over the papers' Table 2 space (keras-tuner)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth
from mcc_core._tf import keras
from mcc_core._validation import _check_images, _check_int, _check_labels
from mcc_core.models._builders import build_shallow_cnn
from synth.io import write_atomic

TABLE2_SPACE: dict[str, tuple[Any, ...]] = {
    "filters1": (4, 6, 8, 10, 12),
    "kernel1": (3, 5, 7, 9, 11),
    "filters2": (16, 20, 24, 28, 32),
    "kernel2": (3, 5, 7, 9, 11),
    "batch_size": (16, 32, 64, 128),
    "learning_rate": (1e-2, 1e-3, 1e-4),
}
"""Seed 001, Table 2: the search space of the lightweight CNN (CL1 filters and kernel side,
CL2 filters and kernel side, mini-batch size, Adam learning rate)."""

PAPER_BEST: dict[str, Any] = {"filters1": 6, "kernel1": 9, "filters2": 16, "kernel2": 9,
                              "batch_size": 64, "learning_rate": 1e-3}
"""The configuration the paper's search found (8,301 parameters)."""

_TUNER_COLUMNS = {"tuner/epochs": "epochs", "tuner/initial_epoch": "initial_epoch",
                  "tuner/bracket": "bracket", "tuner/round": "round"}


@dataclass(frozen=True)
class TuneResult:
    """The outcome of `tune`.

    Attributes
    ----------
    best : dict
        The best configuration: one value for each key of `TABLE2_SPACE`.
    best_val_accuracy : float
        Its validation accuracy (the search's objective), in [0, 1].
    n_params : int
        Its parameter count (``build_shallow_cnn``).
    trials : pandas.DataFrame
        One row per completed trial, best first: ``trial_id``, the six hyperparameters,
        Hyperband's ``epochs``, ``initial_epoch``, ``bracket`` and ``round``, ``val_accuracy``
        and ``n_params``. Also written to ``out_dir/tuning.csv``.
    out_dir : pathlib.Path
        Folder holding ``tuning.csv``, ``best.json`` and keras-tuner's ``keras_tuner/``.
    """

    best: dict[str, Any]
    best_val_accuracy: float
    n_params: int
    trials: pd.DataFrame
    out_dir: Path


def count_params(config: Mapping[str, Any], input_size: int = synth.patch_size_px(70)) -> int:
    """Parameters of the lightweight CNN built with a configuration of the space.

    Parameters
    ----------
    config : mapping
        Holds ``filters1``, ``kernel1``, ``filters2`` and ``kernel2`` (other keys are ignored).
    input_size : int
        Patch side in px; the count does not depend on it (global max pooling).

    Returns
    -------
    int
        E.g. 8,301 for `PAPER_BEST`; 2,589 with 5×5 kernels and 6/16 filters (Table 1).

    Examples
    --------
    >>> count_params(PAPER_BEST)
    8301
    >>> count_params({"filters1": 6, "kernel1": 5, "filters2": 16, "kernel2": 5})
    2589
    """
    model = build_shallow_cnn(input_size, filters=(config["filters1"], config["filters2"]),
                              kernel_sizes=(config["kernel1"], config["kernel2"]))
    return int(model.count_params())


def _hypermodel(input_size: int, space: Mapping[str, Sequence[Any]]) -> Any:
    """A keras-tuner HyperModel whose `fit` also tunes the mini-batch size."""
    import keras_tuner

    class ShallowHyperModel(keras_tuner.HyperModel):  # type: ignore[misc]
        def build(self, hp: Any) -> keras.Model:
            model = build_shallow_cnn(
                input_size,
                filters=(hp.Choice("filters1", list(space["filters1"])),
                         hp.Choice("filters2", list(space["filters2"]))),
                kernel_sizes=(hp.Choice("kernel1", list(space["kernel1"])),
                              hp.Choice("kernel2", list(space["kernel2"]))))
            rate = hp.Choice("learning_rate", list(space["learning_rate"]))
            model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy",
                          metrics=["accuracy"])
            return model

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            batch = hp.Choice("batch_size", list(space["batch_size"]))
            return model.fit(*args, batch_size=batch, **kwargs)

    return ShallowHyperModel()


def _check_space(space: object) -> dict[str, list[Any]]:
    """Return `space` as lists of values, or raise naming `space` and the offending key."""
    if not isinstance(space, Mapping) or set(space) != set(TABLE2_SPACE):
        keys = sorted(space) if isinstance(space, Mapping) else type(space).__name__
        raise ValueError(f"`space` must map exactly the keys {sorted(TABLE2_SPACE)} to values; "
                         f"got {keys}.")
    checked: dict[str, list[Any]] = {}
    cast: type[int] | type[float]
    for key in TABLE2_SPACE:
        values = space[key]
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"`space[{key!r}]` must be a non-empty sequence; got {values!r}.")
        if key == "learning_rate":
            ok = all(isinstance(v, float | int | np.number) and not isinstance(v, bool)
                     and math.isfinite(v) and v > 0 for v in values)
            rule, cast = "positive numbers", float
        else:
            ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0
                     for v in values)
            rule, cast = "positive integers", int
        if not ok or len(set(values)) != len(values):
            raise ValueError(f"`space[{key!r}]` must hold distinct {rule}; got {values!r}.")
        checked[key] = [cast(v) for v in values]  # keras-tuner wants plain Python values
    return checked


def _check_subset(name: str, subset: object, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (images, labels) of a subset, or raise naming `name`."""
    if not isinstance(subset, tuple | list) or len(subset) != 2:
        raise ValueError(f"`{name}` must be an (images, labels) pair; got {type(subset).__name__}.")
    try:
        images = _check_images(subset[0])
        labels = _check_labels(subset[1], len(images))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"`{name}`: {exc}") from None
    if images.shape[1:3] != (input_size, input_size) or len(images) == 0:
        raise ValueError(f"`{name}` images must have shape (N >= 1, {input_size}, {input_size}, 1)"
                         f" for input_size={input_size}; got shape {images.shape}.")
    return images.astype(np.float32, copy=False), labels.astype(np.float32)


def _trial_table(oracle: Any, input_size: int) -> pd.DataFrame:
    """One row per completed trial, best first, with each configuration's parameter count."""
    counts: dict[tuple[int, ...], int] = {}
    rows = []
    for trial in oracle.get_best_trials(len(oracle.trials)):  # completed ones first, by score
        if trial.status != "COMPLETED" or trial.score is None:
            continue
        values = trial.hyperparameters.values
        shape = tuple(values[k] for k in ("filters1", "kernel1", "filters2", "kernel2"))
        if shape not in counts:
            counts[shape] = count_params(values, input_size)
        rows.append({"trial_id": trial.trial_id, **{k: values[k] for k in TABLE2_SPACE},
                     **{new: values.get(old) for old, new in _TUNER_COLUMNS.items()},
                     "val_accuracy": float(trial.score), "n_params": counts[shape]})
    return pd.DataFrame(rows)


def tune(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *,
         input_size: int, max_epochs: int, out_dir: str | os.PathLike[str], seed: int = 0,
         factor: int = 3, hyperband_iterations: int = 1,
         space: Mapping[str, Sequence[Any]] = TABLE2_SPACE) -> TuneResult | None:
    """Hyperband search of the lightweight CNN's filters, kernels, batch size and learning rate.

    keras-tuner's Hyperband (objective: validation accuracy) trains configurations drawn from
    `space` (the paper's Table 2 by default) with Adam and binary cross-entropy.

    Parameters
    ----------
    train, val : (images, labels)
        images : ndarray of shape (N, input_size, input_size, 1), float32 in [0, 1];
        labels : ndarray of shape (N,), int in {0, 1}.
    input_size : int
        Patch side in px (200, 144 or 100 at 50, 70 or 100 µm).
    max_epochs : int
        Most epochs a configuration is trained for (Hyperband's ``max_epochs``, >= 1).
    out_dir : path
        Receives ``tuning.csv`` (every completed trial) and ``best.json``, written atomically;
        keras-tuner's working files go to ``out_dir/keras_tuner`` (replaced on every call).
    seed : int
        Seeds the configurations drawn and Keras' weight initialisation.
    factor : int
        Hyperband's reduction factor (>= 2).
    hyperband_iterations : int
        Times the whole Hyperband algorithm is run (>= 1).
    space : mapping
        Candidate values for each key of `TABLE2_SPACE`; give a smaller mapping for a quick search.

    Returns
    -------
    TuneResult or None
        None on a worker of a distributed search (the chief returns and writes the result).

    Notes
    -----
    **Distributed search** is keras-tuner's own: start the same call (or ``mcc tune``) in a
    chief process and in any number of workers, all with ``KERASTUNER_ORACLE_IP`` and
    ``KERASTUNER_ORACLE_PORT`` set to the chief's address and ``KERASTUNER_TUNER_ID`` set to
    ``chief`` on the chief and a distinct id (``tuner0``, ``tuner1``, …) on each worker. The
    chief runs only the oracle (it proposes the configurations and collects the results)
    and returns when the search is over; the workers train. Only the chief replaces
    ``out_dir/keras_tuner``; with an `out_dir` on storage every process sees, start the
    chief first.

    Raises
    ------
    TypeError, ValueError
        Naming the argument at fault.

    Examples
    --------
    The call on 40 synthetic patches, with one candidate per key and one epoch so that it
    runs in seconds (the papers search all of `TABLE2_SPACE`):

    >>> import tempfile
    >>> from mcc_core import split_indices, synthetic_arrays
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 40, resolution_um=100, seed=0)
    >>> train, val, _ = split_indices(labels, seed=0)
    >>> space = {"filters1": (4,), "kernel1": (3,), "filters2": (16,), "kernel2": (3,),
    ...          "batch_size": (16,), "learning_rate": (1e-3,)}
    >>> out = tempfile.mkdtemp()
    >>> result = tune((images[train], labels[train]), (images[val], labels[val]),
    ...               input_size=100, max_epochs=1, out_dir=out, space=space)
    >>> result.best
    {'filters1': 4, 'kernel1': 3, 'filters2': 16, 'kernel2': 3, 'batch_size': 16,
     'learning_rate': 0.001}
    >>> result.n_params, len(result.trials), sorted(file.name for file in result.out_dir.iterdir())
    (649, 1, ['best.json', 'keras_tuner', 'tuning.csv'])
    """
    import keras_tuner

    size = _check_int("input_size", input_size, 1)
    for name, value, low in (("max_epochs", max_epochs, 1), ("seed", seed, 0),
                             ("factor", factor, 2),
                             ("hyperband_iterations", hyperband_iterations, 1)):
        _check_int(name, value, low)
    checked = _check_space(space)
    data = _check_subset("train", train, size)
    validation = _check_subset("val", val, size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    role = distributed_role()
    tuner = keras_tuner.Hyperband(
        _hypermodel(size, checked), objective="val_accuracy", max_epochs=max_epochs,
        factor=factor, hyperband_iterations=hyperband_iterations, seed=seed,
        directory=str(out), project_name="keras_tuner", overwrite=role in (None, "chief"))
    tuner.search(*data, validation_data=validation, verbose=0)
    if role not in (None, "chief"):
        return None
    trials = _trial_table(tuner.oracle, size)
    if trials.empty:
        raise RuntimeError("keras-tuner completed no trial; see out_dir/keras_tuner.")
    top = trials.iloc[0]
    best = {k: np.asarray(top[k]).item() for k in TABLE2_SPACE}  # plain Python, for JSON
    result = TuneResult(best, float(top["val_accuracy"]), int(top["n_params"]), trials, out)
    _write(out / "tuning.csv", trials.to_csv(index=False))
    _write(out / "best.json", json.dumps({"best": best, "val_accuracy": result.best_val_accuracy,
                                          "n_params": result.n_params, "input_size": size,
                                          "max_epochs": max_epochs, "seed": seed,
                                          "space": checked, "paper_best": PAPER_BEST}, indent=2))
    return result


def distributed_role() -> str | None:
    """This process's part in a keras-tuner distributed search, from keras-tuner's documented
    environment variables: None (not distributed), ``"chief"`` or the worker's tuner id.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> distributed_role() is None or "KERASTUNER_ORACLE_IP" in os.environ
    True
    >>> env = {"KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000",
    ...        "KERASTUNER_TUNER_ID": "tuner3"}
    >>> with mock.patch.dict(os.environ, env):
    ...     distributed_role()
    'tuner3'
    >>> with mock.patch.dict(os.environ, {"KERASTUNER_ORACLE_IP": "10.0.0.1"}):
    ...     distributed_role()
    Traceback (most recent call last):
    ...
    ValueError: `KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID` must be set with ...
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    port, tuner_id = (os.environ.get(k) for k in ("KERASTUNER_ORACLE_PORT",
                                                  "KERASTUNER_TUNER_ID"))
    if not port or not tuner_id:
        raise ValueError("`KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID` must be set with "
                         "KERASTUNER_ORACLE_IP for a distributed search (tuner id 'chief' on "
                         "the chief, 'tuner0', 'tuner1', … on the workers).")
    return "chief" if "chief" in tuner_id else tuner_id


def _write(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))
