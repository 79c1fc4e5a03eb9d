"""One training run as the papers ran it, from data on disk or synthetic data, to a saved model.

This is what `mcc train` does; the command line only parses its arguments.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import synth
from mcc_core.models._builders import build_baseline, build_mobilenet_classifier, build_shallow_cnn
from mcc_core.models._io import save_model
from mcc_core.training._data import prepare_splits, split_indices, synthetic_arrays
from mcc_core.training._folders import load_patch_folder
from mcc_core.training._train import TrainResult, train

MODELS = ("mobilenet", "shallow", "vgg16", "resnet50", "densenet121")


@dataclass(frozen=True)
class Run:
    """A finished run: the training result and where the model was saved."""

    result: TrainResult
    model_path: Path
    metadata: dict[str, Any]


def build_model(name: str, input_size: int) -> Any:
    """The named classifier, uncompiled, at `input_size`.

    Parameters
    ----------
    name : {"mobilenet", "shallow", "vgg16", "resnet50", "densenet121"}
        One of `MODELS`: :func:`build_mobilenet_classifier`, :func:`build_shallow_cnn` or a
        :func:`build_baseline` backbone.
    input_size : int
        Patch side in pixels (200, 144 or 100).

    Returns
    -------
    keras.Model

    Raises
    ------
    ValueError
        If `name` is not in `MODELS` (or `input_size` is refused by the builder).

    Examples
    --------
    >>> MODELS
    ('mobilenet', 'shallow', 'vgg16', 'resnet50', 'densenet121')
    >>> model = build_model("shallow", 100)
    >>> model.name, model.count_params()
    ('shallow_cnn', 8301)
    >>> build_model("lenet", 100)
    Traceback (most recent call last):
    ...
    ValueError: `model` must be one of ('mobilenet', 'shallow', 'vgg16', 'resnet50',
    'densenet121'); got model='lenet'.
    """
    if name == "mobilenet":
        return build_mobilenet_classifier(input_size)
    if name == "shallow":
        return build_shallow_cnn(input_size)
    if name in MODELS:
        return build_baseline(name, input_size)  # type: ignore[arg-type]
    raise ValueError(f"`model` must be one of {MODELS}; got model={name!r}.")


def run_training(model_name: str, resolution_um: int, data: str | os.PathLike[str], *,
                 out_dir: str | os.PathLike[str], epochs: int, batch_size: int,
                 learning_rate: float = 1e-3, scene: synth.SceneConfig | None = None,
                 n: int = 2000, seed: int = 0, overwrite: bool = False,
                 verbose: Any = "auto", augment_synthetic: float = 0.0) -> Run:
    """Train `model_name` at `resolution_um` on a patch folder or ``"synthetic"`` data.

    A folder is split 64/16/20 (stratified, seeded) and its training subset augmented with the
    papers' four transforms after the split; synthetic data (`n` patches of `scene`, patch *i*
    drawn from ``default_rng([seed, i])``) is split the same way by index, without
    augmentation (every patch is already new). The weights of the best validation-accuracy
    epoch are saved as ``out_dir/model.keras`` with its JSON sidecar ``model.json``; ``train``
    writes ``history.csv``, ``curves.png`` and ``result.json`` beside them.

    Parameters
    ----------
    model_name : {"mobilenet", "shallow", "vgg16", "resnet50", "densenet121"}
    resolution_um : {50, 70, 100}
        Pixel spacing; the input size is 200, 144 or 100 px.
    data : str or path-like
        A patch folder (``class_0/`` ``class_1/`` PNGs or a `synth` dataset) or ``"synthetic"``.
    out_dir : str or path-like
        Output folder, written only after the data were read and accepted.
    epochs, batch_size : int
    learning_rate : float, optional
        Adam learning rate, default 1e-3.
    scene : synth.SceneConfig, optional
        Scene of the synthetic data, or of the MCs `augment_synthetic` inserts (default
        ``synth.SceneConfig()``).
    n : int, optional
        Number of synthetic patches (default 2000).
    seed : int, optional
        Seed of the synthetic data and of the split.
    overwrite : bool, optional
        Replace a model already in `out_dir` (refused by default).
    verbose : {"auto", 0, 1, 2}, optional
        Keras progress output.
    augment_synthetic : float, optional
        For a folder: add this fraction of the training split again as patches with `scene`'s
        MCs inserted into the training split's own negatives, after the split
        (`prepare_splits`); the sidecar records how many and from which backgrounds.

    Returns
    -------
    run : Run
        The training result, the model's path and the sidecar metadata (builder, input size,
        resolution, training configuration, dataset description with its SHA-256: of
        ``manifest.json`` for a folder that has one, of the scene's JSON for synthetic data,
        and the test metrics).

    Raises
    ------
    ValueError
        Unknown model or resolution, a model already in `out_dir`, or unusable data (missing,
        empty or one-class folder, unreadable PNG, patches of another size).

    Examples
    --------
    One epoch of the lightweight CNN on 40 synthetic patches at 100 µm (split 26/6/8):

    >>> import tempfile
    >>> import keras
    >>> keras.utils.set_random_seed(0)
    >>> out = tempfile.mkdtemp()
    >>> run = run_training("shallow", 100, "synthetic", out_dir=out, epochs=1, batch_size=16,
    ...                    n=40, verbose=0)
    >>> sorted(file.name for file in run.model_path.parent.iterdir())
    ['curves.png', 'history.csv', 'model.json', 'model.keras', 'result.json']
    >>> run.metadata["builder"], run.metadata["input_size"], run.metadata["dataset"]["n"]
    ('shallow', 100, 40)
    >>> run.result.best_epoch, sum(run.result.test_metrics[k] for k in ("tn", "fp", "fn", "tp"))
    (1, 8)

    The saved model is not replaced unless asked:

    >>> run_training("shallow", 100, "synthetic", out_dir=out, epochs=1, batch_size=16, n=40)
    Traceback (most recent call last):
    ...
    ValueError: `out_dir` already holds a model (...model.keras); pass overwrite=True (CLI:
    --overwrite) to replace it.
    """
    if model_name not in MODELS:
        raise ValueError(f"`model` must be one of {MODELS}; got model={model_name!r}.")
    size = synth.patch_size_px(resolution_um)
    out = Path(out_dir)
    target = out / "model.keras"
    if target.exists() and not overwrite:
        raise ValueError(f"`out_dir` already holds a model ({target}); pass overwrite=True "
                         "(CLI: --overwrite) to replace it.")
    if str(data) == "synthetic":
        if augment_synthetic:
            raise ValueError("`augment_synthetic` needs a patch folder (its training split's "
                             "negatives are the backgrounds); got data='synthetic'.")
        config = scene or synth.SceneConfig()
        x, y = synthetic_arrays(config, n, resolution_um=resolution_um, seed=seed)
        parts = split_indices(y, seed=seed)
        train_set, val_set, test_set = ((x[i], y[i]) for i in parts)
        dataset = {"source": "synthetic", "n": n, "seed": seed, "scene": config.to_dict(),
                   "sha256": hashlib.sha256(config.to_json().encode()).hexdigest()}
    else:
        patches = load_patch_folder(data, input_size=size)
        splits = prepare_splits(patches, seed=seed, batch_size=batch_size,
                                augment_synthetic=augment_synthetic, synthetic_scene=scene)
        train_set, val_set, test_set = splits.train, splits.val, splits.test
        dataset = {"source": str(Path(data).resolve()), "n": len(patches), "seed": seed,
                   "counts": splits.counts, "sha256": _manifest_hash(Path(data))}
        if splits.inserted is not None:
            table = splits.inserted
            dataset["augment_synthetic"] = {
                "fraction": augment_synthetic, "n": len(table),
                "n_positive": int(table["label"].sum()),
                "backgrounds": int(table["background"].nunique()),
                "scene": (scene or synth.SceneConfig()).to_dict()}
    model = build_model(model_name, size)
    result = train(model, train_set, val_set, epochs=epochs, batch_size=batch_size,
                   learning_rate=learning_rate, out_dir=out, test=test_set, verbose=verbose)
    metadata = {
        "builder": model_name, "input_size": size, "resolution_um": resolution_um,
        "training": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "best_epoch": result.best_epoch,
                     "best_val_accuracy": result.best_val_accuracy,
                     "wall_time_s": result.wall_time_s},
        "dataset": dataset,
        "test_metrics": result.test_metrics,
    }
    save_model(model, target, metadata=_plain(metadata))
    return Run(result, target, metadata)


def _manifest_hash(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None


def _plain(value: Any) -> Any:
    """JSON-ready: NaN becomes None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
