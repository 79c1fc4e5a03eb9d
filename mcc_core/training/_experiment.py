"""The seven-model protocol of seed 000, on synthetic data or on the user's patch folders.

Scratch-50/70/100: the MobileNetV2 classifier trained from scratch at each resolution.
Transfer-50/70/100: the Scratch-70 backbone, frozen (:func:`transfer`), with a new head trained
at each resolution. Eval-70: the Scratch-70 model evaluated unchanged on a second 70 µm domain.
Results come as the paper's Table 8 (training) and Table 9 (confusion-matrix metrics).

The paper's source model was trained on INbreast (70 µm) and its Scratch-70 on MEXBreast; here
one model, Scratch-70, plays both parts, so that the protocol runs on one data source.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth
from mcc_core._tf import keras
from mcc_core.models._builders import build_mobilenet_classifier
from mcc_core.models._builders import transfer as transfer_model
from mcc_core.training._data import prepare_splits, split_indices, synthetic_arrays
from mcc_core.training._folders import load_patch_folder
from mcc_core.training._paper import (
    MODEL_ORDER,
    PAPER_TABLE8,
    PAPER_TABLE9,
    TABLE8_COLUMNS,
    TABLE9_COLUMNS,
    markdown_table,
    paper_tables,
)
from mcc_core.training._runs import _plain
from mcc_core.training._train import paper_metrics, train
from synth.io import write_atomic

__all__ = ["MODEL_ORDER", "PAPER_TABLE8", "PAPER_TABLE9", "SCALES", "SOURCE_DOMAIN",
           "TABLE8_COLUMNS", "TABLE9_COLUMNS", "TARGET_DOMAIN", "ExperimentResult",
           "ExperimentScale", "paper_tables", "run_experiment"]

RESOLUTIONS = synth.RESOLUTIONS_UM
@dataclass(frozen=True, kw_only=True)
class ExperimentScale:
    """Data sizes and training settings of one run of the protocol.

    Attributes
    ----------
    n_patches : (int, int, int)
        Synthetic patches at 50, 70 and 100 µm, split 64/16/20 (ignored for folders).
    n_eval : int
        Synthetic patches of the second 70 µm domain, all used to test Eval-70.
    epochs, batch_size : int
        Training settings of the six trained models (the papers: 100 and 16).
    """

    n_patches: tuple[int, int, int]
    n_eval: int
    epochs: int
    batch_size: int

    def __post_init__(self) -> None:
        if len(self.n_patches) != 3 or min(self.n_patches) < 10:
            raise ValueError("`n_patches` must be three counts >= 10 (50, 70, 100 µm); "
                             f"got n_patches={self.n_patches!r}.")
        for name in ("n_eval", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1; got {name}={getattr(self, name)!r}.")


SCALES: dict[str, ExperimentScale] = {
    "smoke": ExperimentScale(n_patches=(75, 75, 75), n_eval=200, epochs=1, batch_size=16),
    "small": ExperimentScale(n_patches=(600, 600, 600), n_eval=1000, epochs=5, batch_size=16),
    # Table 4's totals (the 100 µm count after augmentation, Table 5) and Eval-70's test set.
    "paper": ExperimentScale(n_patches=(30154, 53102, 21750), n_eval=10622, epochs=100,
                             batch_size=16),
}
"""The named scales. ``smoke`` checks the pipeline (2 min 15 s, 10.8 GB peak memory on a 2-core
CPU: each scratch model spends ~20 s tracing its graph; the 200 px model alone has 128 M
head weights), ``small`` gives a first learning signal, ``paper`` uses seed 000's settings."""

SOURCE_DOMAIN = synth.SceneConfig()
"""The six trained models' domain: the default scene (β 2.5–3.1, density 0.2–0.8, a-Se-like
detector: blur σ 20 µm, dose 1e6, electronic noise 5, 12 bits)."""

TARGET_DOMAIN = synth.SceneConfig(
    beta_range=(2.2, 2.6), density_range=(0.5, 0.9),
    acquisition=synth.Acquisition(blur_sigma_um=41.0, dose=4.0e5, electronic_noise=8.0,
                                  bit_depth=14),
)
"""Eval-70's second domain: coarser, denser tissue (β 2.2–2.6, density 0.5–0.9) seen by another
detector (CsI-like blur σ 41 µm, dose 4e5, electronic noise 8, 14 bits), as the paper's second
70 µm dataset came from another site and scanner."""

@dataclass(frozen=True, kw_only=True)
class ExperimentResult:
    """The outcome of :func:`run_experiment`.

    Attributes
    ----------
    table8 : pandas.DataFrame
        One row per model (``TABLE8_COLUMNS``): best epoch, training time in s, accuracy and
        loss on train and validation (at the best epoch) and test. Eval-70 has test values only.
    table9 : pandas.DataFrame
        One row per model (``TABLE9_COLUMNS``): TN, FP, FN, TP, accuracy, precision, recall,
        specificity, F1 on the test set.
    backbone_sha256 : dict of str to str
        SHA-256 of each MobileNetV2 model's backbone weights after training: the Transfer
        models' equal Scratch-70's.
    out_dir : pathlib.Path
        Folder holding ``table8.csv``, ``table9.csv``, ``tables.md``, ``experiment.json`` and one
        subfolder of curves (``history.csv``, ``curves.png``, ``result.json``) per trained model.
    """

    table8: pd.DataFrame
    table9: pd.DataFrame
    backbone_sha256: dict[str, str]
    out_dir: Path


Arrays = tuple[np.ndarray, np.ndarray]
Loader = Callable[[], tuple[Any, Any, Any]]


def run_experiment(out_dir: str | os.PathLike[str], *,
                   scale: str | ExperimentScale = "smoke", seed: int = 0,
                   folders: dict[Any, str | os.PathLike[str]] | None = None,
                   resolutions: Sequence[int] = RESOLUTIONS,
                   verbose: Any = "auto") -> ExperimentResult:
    """Run the seven-model protocol and write Tables 8 and 9 with each model's curves.

    Parameters
    ----------
    out_dir : str or path-like
        Output folder; written only once the inputs were accepted, each table atomically.
    scale : {"smoke", "small", "paper"} or ExperimentScale, optional
        Data sizes, epochs and batch size (see ``SCALES``). Default ``"smoke"``.
    seed : int, optional
        Seed of the synthetic data (Eval-70's domain uses ``seed + 1``), of the splits and of
        Keras' weight initialisation.
    folders : dict, optional
        Patch folders (``class_0/`` ``class_1/`` or `synth` layout) under the keys 50, 70, 100
        and ``"eval-70"``. Each is split 64/16/20 with the papers' augmentation of the training
        subset; the eval folder is used whole as Eval-70's test set. All are read before
        anything is trained. Default: synthetic data, ``SOURCE_DOMAIN`` for the six trained
        models and ``TARGET_DOMAIN`` for Eval-70.
    resolutions : sequence of int, optional
        The resolutions (µm) whose Scratch and Transfer models are run, a subset of
        (50, 70, 100); Scratch-70, the source model, and Eval-70 are always run.
    verbose : {"auto", 0, 1, 2}, optional
        Keras progress output.

    Returns
    -------
    result : ExperimentResult

    Raises
    ------
    ValueError
        If `scale`, `folders` or `resolutions` is invalid, or a folder cannot be used (missing,
        one class, unreadable PNG, patches of the wrong size).

    Examples
    --------
    Even the smallest scale trains two 67.8-million-parameter MobileNetV2 models (Scratch-70
    and Transfer-70 with ``resolutions=[70]``), 80 s on a 2-core CPU, so this example
    stops at the checks, which run before anything is generated, trained or written:

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "experiment"
    >>> tiny = ExperimentScale(n_patches=(10, 10, 10), n_eval=4, epochs=1, batch_size=16)
    >>> run_experiment(out, scale=tiny, resolutions=[60])
    Traceback (most recent call last):
    ...
    ValueError: `resolutions` must be a non-empty subset of (50, 70, 100); got resolutions=[60].
    >>> run_experiment(out, scale="tiny")
    Traceback (most recent call last):
    ...
    ValueError: `scale` must be one of ('smoke', 'small', 'paper') or an ExperimentScale;
    got scale='tiny'.
    >>> out.exists()
    False

    ``run_experiment(out, scale=tiny, resolutions=[70])`` then gives Tables 8 and 9 with the
    rows Scratch-70, Transfer-70 and Eval-70.
    """
    plan = _check_scale(scale)
    wanted = _check_resolutions(resolutions)
    loaders = _folder_loaders(folders, plan.batch_size, seed) if folders is not None else \
        _synthetic_loaders(plan, seed)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got the file {out}.")
    keras.utils.set_random_seed(seed)
    rows8: dict[str, tuple[Any, ...]] = {}
    rows9: dict[str, tuple[Any, ...]] = {}
    hashes: dict[str, str] = {}

    def fit(name: str, model: keras.Model, data: tuple[Any, Any, Any]) -> None:
        result = train(model, data[0], data[1], epochs=plan.epochs, batch_size=plan.batch_size,
                       out_dir=out / name, test=data[2], verbose=verbose)
        best = result.history.iloc[result.best_epoch - 1]
        t = result.test_metrics or {}
        rows8[name] = (result.best_epoch, result.wall_time_s, best.accuracy, best.loss,
                       best.val_accuracy, best.val_loss, t.get("accuracy"), t.get("loss"))
        rows9[name] = tuple(t.get(k) for k in TABLE9_COLUMNS[1:])
        hashes[name] = _backbone_hash(model)

    data = loaders[70]()
    source = build_mobilenet_classifier(synth.patch_size_px(70))
    fit("Scratch-70", source, data)
    for res in (70, 50, 100):
        if res not in wanted:
            continue
        if res != 70:
            data = loaders[res]()
            fit(f"Scratch-{res}", build_mobilenet_classifier(synth.patch_size_px(res)), data)
        fit(f"Transfer-{res}", transfer_model(source, synth.patch_size_px(res)), data)
    del data
    x, y = loaders["eval-70"]()[2]
    prob = source.predict(x, batch_size=plan.batch_size, verbose=0)[:, 0]
    metrics = paper_metrics(np.asarray(y, np.float64), prob)
    rows8["Eval-70"] = (None, None, None, None, None, None, metrics["accuracy"], metrics["loss"])
    rows9["Eval-70"] = tuple(metrics[k] for k in TABLE9_COLUMNS[1:])
    names = [n for n in MODEL_ORDER if n in rows8]
    table8 = pd.DataFrame([(n, *rows8[n]) for n in names], columns=TABLE8_COLUMNS)
    table8["best_epoch"] = table8["best_epoch"].astype("Int64")
    table9 = pd.DataFrame([(n, *rows9[n]) for n in names], columns=TABLE9_COLUMNS)
    record = {"scale": asdict(plan), "seed": seed, "resolutions": sorted(wanted),
              "data": ({str(k): str(Path(v).resolve()) for k, v in folders.items()}
                       if folders is not None else
                       {"source_domain": SOURCE_DOMAIN.to_dict(),
                        "target_domain": TARGET_DOMAIN.to_dict()}),
              "backbone_sha256": hashes, "keras_version": keras.__version__}
    _write_outputs(out, table8, table9, record)
    return ExperimentResult(table8=table8, table9=table9, backbone_sha256=hashes, out_dir=out)


def _check_scale(scale: object) -> ExperimentScale:
    if isinstance(scale, ExperimentScale):
        return scale
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"`scale` must be one of {tuple(SCALES)} or an ExperimentScale; "
                         f"got scale={scale!r}.")
    return SCALES[scale]


def _check_resolutions(resolutions: object) -> set[int]:
    if isinstance(resolutions, str) or not isinstance(resolutions, Sequence) or not (
            resolutions and set(resolutions) <= set(RESOLUTIONS)):
        raise ValueError(f"`resolutions` must be a non-empty subset of {RESOLUTIONS}; "
                         f"got resolutions={resolutions!r}.")
    return set(resolutions)


def _synthetic_loaders(plan: ExperimentScale, seed: int) -> dict[Any, Loader]:
    """Generators of (train, val, test) per resolution, run when their models are trained."""

    def split(res: int) -> tuple[Arrays, Arrays, Arrays]:
        x, y = synthetic_arrays(SOURCE_DOMAIN, plan.n_patches[RESOLUTIONS.index(res)],
                                resolution_um=res, seed=seed)
        train_i, val_i, test_i = split_indices(y, seed=seed)
        return (x[train_i], y[train_i]), (x[val_i], y[val_i]), (x[test_i], y[test_i])

    def evaluation() -> tuple[None, None, Arrays]:
        return None, None, synthetic_arrays(TARGET_DOMAIN, plan.n_eval, resolution_um=70,
                                            seed=seed + 1)

    loaders: dict[Any, Loader] = {r: partial(split, r) for r in RESOLUTIONS}
    loaders["eval-70"] = evaluation
    return loaders


def _folder_loaders(folders: object, batch_size: int, seed: int) -> dict[Any, Loader]:
    """Read and split every folder now (so a bad one stops the run before any training)."""
    if not isinstance(folders, dict) or set(folders) != {*RESOLUTIONS, "eval-70"}:
        keys = sorted(map(str, folders)) if isinstance(folders, dict) else folders
        raise ValueError("`folders` must map 50, 70, 100 and 'eval-70' to patch folders; "
                         f"got keys {keys!r}.")
    loaded: dict[Any, tuple[Any, Any, Any]] = {}
    for res in RESOLUTIONS:
        patches = load_patch_folder(folders[res], input_size=synth.patch_size_px(res))
        splits = prepare_splits(patches, seed=seed, batch_size=batch_size)
        loaded[res] = (splits.train, splits.val, splits.test)
    evaluation = load_patch_folder(folders["eval-70"], input_size=synth.patch_size_px(70))
    loaded["eval-70"] = (None, None, (evaluation.images, evaluation.labels))
    return {key: partial(_given, value) for key, value in loaded.items()}


def _given(value: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    return value


def _backbone_hash(model: keras.Model) -> str:
    digest = hashlib.sha256()
    for weight in model.get_layer("backbone").get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def _side_by_side(table9: pd.DataFrame) -> pd.DataFrame:
    """Ours beside the paper's: accuracy, recall, specificity and F1 per model."""
    paper = paper_tables()[1].set_index("model")
    ours = table9.set_index("model")
    columns: dict[str, Any] = {}
    for metric in ("accuracy", "recall", "specificity", "f1"):
        columns[f"{metric} (ours)"] = ours[metric]
        columns[f"{metric} (paper)"] = paper.loc[ours.index, metric]
    return pd.DataFrame(columns).reset_index()


def _write_outputs(out: Path, table8: pd.DataFrame, table9: pd.DataFrame,
                   record: dict[str, Any]) -> None:
    paper8, paper9 = paper_tables()
    scale = record["scale"]
    markdown = (
        f"# Seven-model protocol (seed 000)\n\n"
        f"Scale: {scale['n_patches']} patches at 50/70/100 µm, {scale['n_eval']} for Eval-70, "
        f"{scale['epochs']} epochs, batch {scale['batch_size']}; seed {record['seed']}.\n\n"
        f"## Ours beside the paper (test set)\n\n{markdown_table(_side_by_side(table9))}\n\n"
        f"## Table 8: training (ours)\n\n{markdown_table(table8)}\n\n"
        f"## Table 9: test confusion matrices (ours)\n\n{markdown_table(table9)}\n\n"
        f"## The paper's Tables 8 and 9-11 (MEXBreast)\n\n{markdown_table(paper8)}\n\n"
        f"{markdown_table(paper9)}\n\n"
        "Paper counts not stated in its text are rebuilt from its rates and test sizes "
        "(Scratch-50 TN/TP, Scratch-70, Transfer-70 FN/TP). Its transfer source was a 70 µm "
        "INbreast model; ours is Scratch-70.\n"
    )
    texts = {"table8.csv": table8.to_csv(index=False), "table9.csv": table9.to_csv(index=False),
             "tables.md": markdown,
             "experiment.json": json.dumps(_plain(record), indent=2) + "\n"}
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        write_atomic(out / name, text.encode("utf-8"))
