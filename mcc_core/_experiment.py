"""The seven-model protocol of seed 000, on synthetic data (or the user's folders).

Scratch-50/70/100: the MobileNetV2 classifier trained from scratch at each resolution.
Transfer-50/70/100: the Scratch-70 backbone, frozen, with a new head trained at each resolution.
Eval-70: the Scratch-70 model evaluated unchanged on a second 70 µm domain.
Results come as Table 8 (training) and Table 9 (confusion-matrix metrics) of the paper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._data import split_indices, synthetic_arrays
from ._folders import load_patch_folder
from ._metrics import _binary_cross_entropy, compute_confusion_metrics
from ._models import build_mobilenet_classifier
from ._models import transfer as transfer_model
from ._train import train

SCALES: dict[str, dict[str, int]] = {
    "smoke": {"n": 64, "epochs": 1, "batch_size": 16},
    "small": {"n": 600, "epochs": 5, "batch_size": 16},
    "paper": {"n": 15000, "epochs": 100, "batch_size": 16},
}
"""Patches per resolution, epochs and batch size of each scale (paper: seed 000's settings)."""

SOURCE_DOMAIN = synth.SceneConfig()
TARGET_DOMAIN = synth.SceneConfig(
    beta_range=(2.2, 2.6), density_range=(0.5, 0.9),
    acquisition=synth.Acquisition(blur_sigma_um=41.0, dose=4.0e5, electronic_noise=8.0,
                                  bit_depth=14),
)
"""Eval-70's second domain: other tissue (β, density) and another detector (CsI-like blur and
a lower dose), as the second 70 µm dataset of the paper came from another site."""

PAPER_TABLE9 = {  # seed 000 (MEXBreast), the rows PAPER_SPEC.md lists
    "Transfer-50": (2966, 51, 50, 2967),
    "Scratch-100": (1981, 194, 520, 1655),
    "Eval-70": (5281, 40, 124, 5177),
}
_SIZES = {50: 200, 70: 144, 100: 100}
TABLE9_COLUMNS = ["model", "tn", "fp", "fn", "tp", "accuracy", "precision", "recall",
                  "specificity", "f1"]


@dataclass(frozen=True)
class ExperimentResult:
    table8: pd.DataFrame
    table9: pd.DataFrame
    out_dir: Path


def _data(folders: dict[str, Any] | None, key: Any, config: synth.SceneConfig, n: int,
          res: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if folders:
        patches = load_patch_folder(folders[key], input_size=_SIZES[res])
        return patches.images, patches.labels
    return synthetic_arrays(config, n, resolution_um=res, seed=seed)


def run_experiment(out_dir: str | os.PathLike[str], *, scale: str = "smoke", seed: int = 0,
                   folders: dict[Any, str | os.PathLike[str]] | None = None,
                   verbose: Any = "auto") -> ExperimentResult:
    """Run the seven models and write table8/table9 as CSV and Markdown, with curves.

    `folders`, if given, maps 50, 70, 100 and "eval-70" to patch folders; otherwise the data is
    synthetic: `SOURCE_DOMAIN` for the six trained models, `TARGET_DOMAIN` for Eval-70.
    """
    if scale not in SCALES:
        raise ValueError(f"`scale` must be one of {tuple(SCALES)}; got scale={scale!r}.")
    if folders is not None and set(folders) != {50, 70, 100, "eval-70"}:
        raise ValueError("`folders` must map 50, 70, 100 and 'eval-70' to patch folders.")
    s = SCALES[scale]
    out = Path(out_dir)
    data = {r: _data(folders, r, SOURCE_DOMAIN, s["n"], r, seed) for r in (50, 70, 100)}
    rows8: list[tuple[Any, ...]] = []
    rows9: list[tuple[Any, ...]] = []

    def fit(name: str, model: Any, res: int) -> Any:
        x, y = data[res]
        train_i, val_i, test_i = split_indices(y, seed=seed)
        result = train(model, (x[train_i], y[train_i]), (x[val_i], y[val_i]),
                       epochs=s["epochs"], batch_size=s["batch_size"], out_dir=out / name,
                       test=(x[test_i], y[test_i]), verbose=verbose)
        best = result.history.iloc[result.best_epoch - 1]
        t = result.test_metrics or {}
        rows8.append((name, result.best_epoch, result.wall_time_s, best.accuracy, best.loss,
                      best.val_accuracy, best.val_loss, t.get("accuracy"), t.get("loss")))
        rows9.append((name, *(t.get(k) for k in TABLE9_COLUMNS[1:])))
        return model

    scratch = {r: fit(f"Scratch-{r}", build_mobilenet_classifier(_SIZES[r]), r)
               for r in (70, 50, 100)}
    for r in (50, 70, 100):
        fit(f"Transfer-{r}", transfer_model(scratch[70], _SIZES[r]), r)
    x, y = _data(folders, "eval-70", TARGET_DOMAIN, s["n"], 70, seed + 1)
    prob = scratch[70].predict(x, batch_size=s["batch_size"], verbose=0)[:, 0]
    m = compute_confusion_metrics(y, prob)
    rows8.append(("Eval-70", None, 0.0, None, None, None, None, m["accuracy"],
                  _binary_cross_entropy(np.asarray(y, float), prob)))
    rows9.append(("Eval-70", *(m[k] for k in TABLE9_COLUMNS[1:])))
    order = ["Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
             "Transfer-100", "Eval-70"]
    table8 = pd.DataFrame(rows8, columns=[
        "model", "best_epoch", "train_time_s", "train_accuracy", "train_loss", "val_accuracy",
        "val_loss", "test_accuracy", "test_loss"]).set_index("model").loc[order].reset_index()
    table9 = pd.DataFrame(rows9, columns=TABLE9_COLUMNS).set_index("model").loc[
        order].reset_index()
    _write_tables(out, table8, table9, scale)
    return ExperimentResult(table8, table9, out)


def paper_reference() -> pd.DataFrame:
    rows = []
    for name, (tn, fp, fn, tp) in PAPER_TABLE9.items():
        rows.append((f"{name} (paper)", tn, fp, fn, tp, (tn + tp) / (tn + fp + fn + tp),
                     tp / (tp + fp), tp / (tp + fn), tn / (tn + fp), 2 * tp / (2 * tp + fp + fn)))
    return pd.DataFrame(rows, columns=TABLE9_COLUMNS)


def _markdown(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "–"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _write_tables(out: Path, table8: pd.DataFrame, table9: pd.DataFrame, scale: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "table8.csv": table8.to_csv(index=False),
        "table9.csv": table9.to_csv(index=False),
        "tables.md": (f"# Seven-model protocol (scale: {scale})\n\n## Table 8: training\n\n"
                      f"{_markdown(table8)}\n\n"
                      f"## Table 9: test confusion matrices\n\n"
                      f"{_markdown(table9)}\n\n"
                      f"## The paper's values (MEXBreast, seed 000)\n\n"
                      f"{_markdown(paper_reference())}\n"),
    }
    for name, text in texts.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / name)
