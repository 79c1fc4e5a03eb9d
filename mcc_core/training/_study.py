"""The papers' research question in silico: a resumable study of cross-resolution transfer.

Does a model trained at one pixel spacing carry over to others, and does transfer learning
beat training from scratch? The study answers it on data where everything but the resolution
is held fixed: the same scenes rendered at 50, 70 and 100 µm (`_study_data`), the papers'
seven arms and those they did not run (`_study_arms`), each trained arm with the same budget,
several seeds, every metric with a 95 % interval and paired tests (`_study_stats`), written
as ``study.json`` for :func:`render_study`.

Every arm is a folder ``OUT/<model>/<arm>/seed-<s>/`` with ``manifest.json`` (what it is and
its status), ``checkpoint.npz`` while it trains (one per epoch, atomic: `_resumable`),
``results.json`` and ``predictions.npz`` when finished, and ``model.keras`` for the donors.
A rerun skips finished arms and resumes an interrupted one from its last epoch, with the same
final numbers as an uninterrupted run.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth
from mcc_core._tf import keras
from mcc_core.models._io import load_model, save_model
from mcc_core.training._resumable import CHECKPOINT, fit_resumable
from mcc_core.training._study_arms import (
    DONORS,
    FAMILIES,
    MODEL_INFO,
    Arm,
    backbone_sha256,
    build_arm_model,
    comparisons,
    plan_arms,
)
from mcc_core.training._study_data import STUDY_SOURCE_DOMAIN, STUDY_TARGET_DOMAIN, StudyData
from mcc_core.training._study_stats import compare_pair, evaluate, summarise
from synth.io import folder_lock, write_atomic

__all__ = ["STUDY_SCALES", "StudyBudget", "StudyScale", "run_study"]

STUDY_FORMAT = "mcc.study"
STUDY_VERSION = 1
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class StudyBudget:
    """What every trained arm of one family gets.

    Attributes
    ----------
    n_patches : int
        Scenes per dataset (each target resolution and the source domain), split 64/16/20:
        every trained arm sees 64 % of them, every test set is 20 %.
    epochs, batch_size : int
    learning_rate : float
        Adam's; Fine-tune arms use it times `fine_tune_factor`.
    fine_tune_factor : float
    seeds : int
        Seeds per arm (each seed: its own initialisation and data order; same data).
    """

    n_patches: int
    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    fine_tune_factor: float = 0.1
    seeds: int = 1

    def __post_init__(self) -> None:
        for name, low in (("n_patches", 20), ("epochs", 1), ("batch_size", 1), ("seeds", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}; got {name}={value!r}.")
        for name in ("learning_rate", "fine_tune_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise ValueError(f"`{name}` must lie in (0, 1]; got {name}={value!r}.")


@dataclass(frozen=True, kw_only=True)
class StudyScale:
    """A named size of the study: a budget per family, the families run by default and the
    bootstrap resamples of every interval."""

    name: str
    budgets: dict[str, StudyBudget] = field(default_factory=dict)
    families: tuple[str, ...] = ("shallow", "mobilenet")
    n_bootstrap: int = 1000

    def __post_init__(self) -> None:
        if set(self.budgets) != set(FAMILIES):
            raise ValueError(f"`budgets` must hold {tuple(FAMILIES)}; got {sorted(self.budgets)}.")


STUDY_SCALES: dict[str, StudyScale] = {
    "smoke": StudyScale(name="smoke", families=("shallow",), n_bootstrap=200, budgets={
        "shallow": StudyBudget(n_patches=40, epochs=1, batch_size=16),
        "mobilenet": StudyBudget(n_patches=40, epochs=1, batch_size=16)}),
    "cpu": StudyScale(name="cpu", budgets={
        "shallow": StudyBudget(n_patches=2000, epochs=10, batch_size=64, seeds=3),
        "mobilenet": StudyBudget(n_patches=1000, epochs=6, batch_size=16, seeds=1)}),
    "paper": StudyScale(name="paper", n_bootstrap=2000, budgets={
        "shallow": StudyBudget(n_patches=30000, epochs=100, batch_size=64, seeds=3),
        "mobilenet": StudyBudget(n_patches=30000, epochs=100, batch_size=16, seeds=3)}),
}
"""The named scales.

``smoke`` checks the pipeline: the lightweight family only by default, 17 arms of 40 scenes
and one epoch, about a minute on this 2-core CPU; chance-level numbers.

``cpu`` is sized to finish each family in under two hours on this 2-core CPU shared with
other work (measured with ``fit_resumable`` under a load of 2–3, steady epochs, validation
included). The lightweight family: 2,000 scenes per dataset (1,280 trained, 400 tested per
resolution), 10 epochs, 3 seeds of 17 trained and 3 evaluated arms; one training patch-epoch
of all arms of one seed costs about 0.14 s (full-scale 9×9 CNN: 45, 80, 190 patches/s at 50,
70, 100 µm; frozen backbone 110, 160, 600; pooled variants 150–850), so 3 × 1,280 × 10 ×
0.14 s ≈ 90 min, plus about 5 min of graph tracing, data and bootstrap. MobileNetV2: 1,000
scenes, 6 epochs, one seed (no more fits: a second would double the time) of 11 trained and 3
evaluated arms; one training patch-epoch of all arms costs about 1.1 s (full training 5–12
patches/s, frozen backbone 8–50), so 640 × 6 × 1.1 s ≈ 70 min, plus about 20 min of model
building, tracing, donor saving and per-epoch checkpoints of up to 2 GB.

``paper`` is the papers' scale for a GPU: 15,000 patches per class and resolution (30,000
scenes at a positive fraction of 0.5), 100 epochs, 3 seeds."""


def _check(out_dir: object, scale: object, families: object, seeds: object
           ) -> tuple[Path, StudyScale, tuple[str, ...], dict[str, int]]:
    """Validate `run_study`'s arguments; return the folder, scale, families and seeds."""
    if not isinstance(out_dir, str | os.PathLike):
        raise TypeError(f"`out_dir` must be a path; got {type(out_dir).__name__}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got the file {out}.")
    if isinstance(scale, str) and scale in STUDY_SCALES:
        plan = STUDY_SCALES[scale]
    elif isinstance(scale, StudyScale):
        plan = scale
    else:
        raise ValueError(f"`scale` must be one of {tuple(STUDY_SCALES)} or a StudyScale; "
                         f"got scale={scale!r}.")
    chosen = plan.families if families is None else families
    if isinstance(chosen, str) or not isinstance(chosen, Sequence) or not chosen or not set(
            chosen) <= set(FAMILIES):
        raise ValueError(f"`families` must be a non-empty subset of {tuple(FAMILIES)}; "
                         f"got families={families!r}.")
    counts = {f: plan.budgets[f].seeds for f in chosen}
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"`seeds` must be an integer >= 1; got seeds={seeds!r}.")
        counts = dict.fromkeys(chosen, seeds)
    return out, plan, tuple(f for f in FAMILIES if f in chosen), counts


def _check_models(models: object, families: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The models of each family to run: all, or those of `models`."""
    every = {f: FAMILIES[f] for f in families}
    if models is None:
        return every
    known = [m for f in families for m in FAMILIES[f]]
    if isinstance(models, str) or not isinstance(models, Sequence) or not models or not set(
            models) <= set(known):
        raise ValueError(f"`models` must be a non-empty subset of {tuple(known)}; got "
                         f"models={models!r}.")
    return {f: tuple(m for m in ms if m in models) for f, ms in every.items()
            if set(ms) & set(models)}


def _recipe(plan: StudyScale, family: str, seed: int) -> dict[str, Any]:
    return {"scale": plan.name, "budget": asdict(plan.budgets[family]), "data_seed": seed,
            "n_bootstrap": plan.n_bootstrap, "target_domain": STUDY_TARGET_DOMAIN.to_dict(),
            "source_domain": STUDY_SOURCE_DOMAIN.to_dict(), "keras_version": keras.__version__}


def _write_json(path: Path, record: Any) -> None:
    write_atomic(path, (json.dumps(record, indent=1, allow_nan=False) + "\n").encode())


class _Runner:
    """Runs the arms of one family against one `StudyData`, arm by arm."""

    def __init__(self, out: Path, plan: StudyScale, family: str, seed: int,
                 progress: Progress | None, on_epoch: Callable[[str, int], None] | None):
        self.out, self.plan, self.family, self.seed = out, plan, family, seed
        self.budget = plan.budgets[family]
        self.recipe = _recipe(plan, family, seed)
        self.data = StudyData(self.budget.n_patches, seed)
        self.say = progress or (lambda line: None)
        self.on_epoch = on_epoch

    def folder(self, arm: Arm | str, model: str = "", seed: int = 0) -> Path:
        if isinstance(arm, Arm):
            return self.out / arm.model / arm.name / f"seed-{arm.seed}"
        return self.out / model / arm / f"seed-{seed}"

    def run(self, arm: Arm) -> dict[str, Any]:
        folder = self.folder(arm)
        manifest = {**arm.to_dict(), "recipe": self.recipe}
        path = folder / "manifest.json"
        if path.exists():
            old = json.loads(path.read_text())
            if {k: v for k, v in old.items() if k != "status"} != manifest:
                raise ValueError(f"`out_dir` holds {arm.id} of another recipe ({path}); use "
                                 "another --out, or delete that folder to redo the arm.")
            if old.get("status") == "finished" and (folder / "results.json").exists():
                self.say(f"{arm.id}: finished earlier, skipped")
                return dict(json.loads((folder / "results.json").read_text()))
        _write_json(path, {**manifest, "status": "running"})
        keras.utils.set_random_seed(1000 * self.seed + arm.seed)
        donor = None if arm.donor is None else load_model(
            self.folder(arm.donor, arm.model, arm.seed) / "model.keras").model
        model, fit = (donor, None) if arm.train_on is None else self._train(arm, donor)
        results = self._finish(arm, model, fit, folder)
        _write_json(path, {**manifest, "status": "finished"})
        del model, donor
        keras.backend.clear_session()
        gc.collect()
        return results

    def _train(self, arm: Arm, donor: keras.Model | None) -> tuple[keras.Model, Any]:
        model = build_arm_model(arm, donor)
        train, val = (self.data.subset(arm.train_on or "", p) for p in ("train", "val"))
        rate = self.budget.learning_rate * (
            self.budget.fine_tune_factor if arm.init == "fine-tune" else 1.0)

        def tell(epoch: int, row: dict[str, float]) -> None:
            self.say(f"{arm.id}: epoch {epoch}/{self.budget.epochs} loss {row['loss']:.4f} "
                     f"val_accuracy {row['val_accuracy']:.4f} ({row['time_s']:.0f} s)")
            if self.on_epoch is not None:
                self.on_epoch(arm.id, epoch)

        fit = fit_resumable(model, (train.images, train.labels), (val.images, val.labels),
                            epochs=self.budget.epochs, batch_size=self.budget.batch_size,
                            learning_rate=rate, shuffle_seed=(self.seed, arm.seed),
                            folder=self.folder(arm), on_epoch=tell)
        return model, fit

    def _finish(self, arm: Arm, model: keras.Model, fit: Any, folder: Path) -> dict[str, Any]:
        if arm.name in DONORS:
            save_model(model, folder / "model.keras", metadata={"arm": arm.to_dict()})
        probs: dict[str, Any] = {}
        rows = []
        for label, key in arm.tests:
            test = self.data.subset(key, "test")
            prob = np.asarray(model.predict(test.images, batch_size=self.budget.batch_size,
                                            verbose=0), np.float64).reshape(-1)
            probs[label] = prob
            rows.append({"model": arm.model, "label": label, "seed": arm.seed, "test": key,
                         **evaluate(test.labels, prob, test.truth,
                                    n_bootstrap=self.plan.n_bootstrap)})
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        results = {**arm.to_dict(), "n_params": int(model.count_params()),
                   "n_trainable_params": trainable if fit is not None else 0,
                   "backbone_sha256": backbone_sha256(model, arm.model),
                   "best_epoch": None if fit is None else fit.best_epoch,
                   "train_time_s": None if fit is None else fit.train_time_s,
                   "resumed_from_epoch": None if fit is None else fit.resumed_from,
                   "history": None if fit is None else fit.history, "rows": rows}
        write_atomic(folder / "predictions.npz", lambda p: np.savez(p, **probs))
        _write_json(folder / "results.json", results)
        (folder / CHECKPOINT).unlink(missing_ok=True)
        self.say(f"{arm.id}: " + ", ".join(
            f"{r['label']} accuracy {r['metrics']['accuracy']['value']:.3f}" for r in rows))
        return results

    def write_truth(self) -> None:
        keys = ["source-70", *(f"target-{r}" for r in synth.RESOLUTIONS_UM)]
        for key in keys:
            frame = self.data.subset(key, "test").truth
            target = self.out / "tests" / f"{self.family}-{key}.csv"
            write_atomic(target, frame.to_csv(index=False, float_format="%.17g").encode())


def run_study(out_dir: str | os.PathLike[str], *, scale: str | StudyScale = "smoke",
              families: Sequence[str] | None = None, models: Sequence[str] | None = None,
              seeds: int | None = None, seed: int = 0,
              progress: Progress | None = None,
              on_epoch: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the cross-resolution study and write ``study.json``.

    Parameters
    ----------
    out_dir : str or path-like
        The study folder; a rerun in it skips finished arms and resumes an interrupted one.
    scale : {"smoke", "cpu", "paper"} or StudyScale, optional
        Budgets and default families (`STUDY_SCALES`).
    families : sequence of {"shallow", "mobilenet"}, optional
        Default: the scale's (``smoke``: the lightweight family only).
    models : sequence of str, optional
        Only these models of the families (``FAMILIES``: "shallow", "shallow-mpl2-5x5",
        "shallow-mpl4-9x9", "mobilenet"); default all.
    seeds : int, optional
        Seeds per trained arm for every family; default the scale's per family.
    seed : int, optional
        Seed of the data (the source domain uses ``seed + 1``) and base of the models' seeds.
    progress : callable, optional
        Called with one line per epoch and per finished arm.
    on_epoch : callable, optional
        Called as ``on_epoch(arm_id, epoch)`` after each epoch's checkpoint is written; an
        exception raised there interrupts the study, which a rerun resumes.

    Returns
    -------
    dict
        The study record written to ``OUT/study.json`` (see `render_study`).

    Raises
    ------
    ValueError
        Bad arguments (before anything is generated or written), another run holding
        `out_dir`, or an arm folder made with another recipe.

    Examples
    --------
    >>> run_study("/tmp/never", scale="huge")
    Traceback (most recent call last):
    ...
    ValueError: `scale` must be one of ('smoke', 'cpu', 'paper') or a StudyScale; got scale='huge'.
    """
    out, plan, chosen, counts = _check(out_dir, scale, families, seeds)
    wanted = _check_models(models, chosen)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0; got seed={seed!r}.")
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    arms: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    start = time.perf_counter()
    with folder_lock(out):
        for family, names in wanted.items():
            runner = _Runner(out, plan, family, seed, progress, on_epoch)
            for s in range(counts[family]):
                for model in names:
                    for arm in plan_arms(model, s):
                        result = runner.run(arm)
                        rows += result.pop("rows")
                        arms.append(result)
            runner.write_truth()
            pairs += _compare(runner, names, counts[family])
        record = {"format": STUDY_FORMAT, "version": STUDY_VERSION, "scale": plan.name,
                  "budgets": {f: asdict(plan.budgets[f]) for f in wanted},
                  "n_bootstrap": plan.n_bootstrap, "seed": seed,
                  "seeds": {f: counts[f] for f in wanted},
                  "families": list(wanted),
                  "models": {m: MODEL_INFO[m] for names in wanted.values() for m in names},
                  "domains": {"target": STUDY_TARGET_DOMAIN.to_dict(),
                              "source": STUDY_SOURCE_DOMAIN.to_dict()},
                  "arms": [{k: v for k, v in a.items() if k != "history"} for a in arms],
                  "rows": rows, "summary": summarise(rows), "comparisons": pairs,
                  "wall_time_s": time.perf_counter() - start}
        _write_json(out / "study.json", record)
    return record


def _compare(runner: _Runner, models: tuple[str, ...], n_seeds: int) -> list[dict[str, Any]]:
    """Per seed, each planned pair on the same test patches."""
    out = []
    cache: dict[tuple[str, str, int], np.ndarray] = {}

    def prob(model: str, label: str, seed: int) -> np.ndarray:
        if (model, label, seed) not in cache:
            arm = "Mixed" if label.startswith("Mixed-") else label
            with np.load(runner.folder(arm, model, seed) / "predictions.npz") as data:
                cache[model, label, seed] = np.asarray(data[label])
        return cache[model, label, seed]

    for (ma, la), (mb, lb) in comparisons(models):
        res = int(la.split("-")[-1])
        truth = pd.read_csv(runner.out / "tests" / f"{runner.family}-target-{res}.csv")
        y = truth["label"].to_numpy(np.int64)
        for s in range(n_seeds):
            out.append({"model_a": ma, "label_a": la, "model_b": mb, "label_b": lb, "seed": s,
                        "resolution_um": res, **compare_pair(y, prob(ma, la, s),
                                                             prob(mb, lb, s))})
    return out
