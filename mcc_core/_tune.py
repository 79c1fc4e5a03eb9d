"""Hyperband search of the lightweight CNN over the papers' Table 2 space (keras-tuner)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from ._models import build_shallow_cnn

TABLE2_SPACE: dict[str, tuple[Any, ...]] = {
    "filters1": (4, 6, 8, 10, 12),
    "kernel1": (3, 5, 7, 9, 11),
    "filters2": (16, 20, 24, 28, 32),
    "kernel2": (3, 5, 7, 9, 11),
    "batch_size": (16, 32, 64, 128),
    "learning_rate": (1e-2, 1e-3, 1e-4),
}
"""Seed 001, Table 2: the search space of the lightweight CNN."""

PAPER_BEST = {"filters1": 6, "kernel1": 9, "filters2": 16, "kernel2": 9, "batch_size": 64,
              "learning_rate": 1e-3}
"""The configuration the paper's search found (8,301 parameters)."""


@dataclass(frozen=True)
class TuneResult:
    """The best configuration, its validation accuracy and size, and every trial."""

    best: dict[str, Any]
    best_val_accuracy: float
    n_params: int
    trials: pd.DataFrame
    out_dir: Path


def count_params(config: Mapping[str, Any], input_size: int = 144) -> int:
    """Parameters of the lightweight CNN with a configuration of the space."""
    model = build_shallow_cnn(input_size, filters=(config["filters1"], config["filters2"]),
                              kernel_sizes=(config["kernel1"], config["kernel2"]))
    return int(model.count_params())


def _hypermodel(input_size: int, space: Mapping[str, Sequence[Any]]) -> Any:
    import keras_tuner

    class ShallowHyperModel(keras_tuner.HyperModel):  # type: ignore[misc]
        def build(self, hp: Any) -> keras.Model:
            model = build_shallow_cnn(
                input_size,
                filters=(hp.Choice("filters1", list(space["filters1"])),
                         hp.Choice("filters2", list(space["filters2"]))),
                kernel_sizes=(hp.Choice("kernel1", list(space["kernel1"])),
                              hp.Choice("kernel2", list(space["kernel2"]))))
            rate = hp.Choice("learning_rate", [float(v) for v in space["learning_rate"]])
            model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy",
                          metrics=["accuracy"])
            return model

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            batch = hp.Choice("batch_size", list(space["batch_size"]))
            return model.fit(*args, batch_size=batch, **kwargs)

    return ShallowHyperModel()


def tune(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *,
         input_size: int, max_epochs: int, out_dir: str | os.PathLike[str], seed: int = 0,
         factor: int = 3, hyperband_iterations: int = 1,
         space: Mapping[str, Sequence[Any]] = TABLE2_SPACE) -> TuneResult:
    """Hyperband search (objective: validation accuracy) of the lightweight CNN.

    Writes ``tuning.csv`` (every trial) and ``best.json`` to `out_dir`; keras-tuner's working
    files go to ``out_dir/keras_tuner`` (replaced on every call).
    """
    import keras_tuner

    if set(space) != set(TABLE2_SPACE) or any(not len(v) for v in space.values()):
        raise ValueError(f"`space` must give values for each of {sorted(TABLE2_SPACE)}.")
    for name, value in (("max_epochs", max_epochs), ("factor", factor),
                        ("hyperband_iterations", hyperband_iterations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "factor"
                                                                             else 1):
            raise ValueError(f"`{name}` must be an integer >= {2 if name == 'factor' else 1}; "
                             f"got {name}={value!r}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    tuner = keras_tuner.Hyperband(
        _hypermodel(input_size, space), objective="val_accuracy", max_epochs=max_epochs,
        factor=factor, hyperband_iterations=hyperband_iterations, seed=seed,
        directory=str(out), project_name="keras_tuner", overwrite=True)
    tuner.search(train[0], train[1], validation_data=val, verbose=0)
    rows = []
    for trial in tuner.oracle.trials.values():
        if trial.score is not None:
            rows.append({**trial.hyperparameters.values, "val_accuracy": trial.score,
                         "n_params": count_params(trial.hyperparameters.values, input_size)})
    trials = pd.DataFrame(rows).sort_values("val_accuracy", ascending=False, kind="stable")
    best = {k: v for k, v in tuner.get_best_hyperparameters(1)[0].values.items()
            if k in TABLE2_SPACE}
    result = TuneResult(best, float(trials.val_accuracy.iloc[0]), count_params(best, input_size),
                        trials.reset_index(drop=True), out)
    _write(out / "tuning.csv", trials.to_csv(index=False))
    _write(out / "best.json", json.dumps({"best": best, "val_accuracy": result.best_val_accuracy,
                                          "n_params": result.n_params,
                                          "paper_best": PAPER_BEST}, indent=2))
    return result


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
