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
    weights_sha256,
)
from mcc_core.training._study_data import STUDY_SOURCE_DOMAIN, STUDY_TARGET_DOMAIN, StudyData
from mcc_core.training._study_stats import (
    compare_pair,
    compute_consensus_breakdown,
    compute_paired_bootstrap,
    compute_seed_mean_ci,
    evaluate,
    holm,
    summarise,
)
from synth.io import folder_lock, write_atomic

__all__ = ["STUDY_SCALES", "StudyBudget", "StudyScale", "run_study"]

STUDY_FORMAT = "mcc.study"
STUDY_VERSION = 2
"""Bumped whenever a change of the code changes an arm's numbers; part of every arm's recipe,
so a folder of finished arms from older code is refused instead of reused (2: Fine-tune
starts from Transfer, the CsI source domain, Resample from Source-70)."""
Progress = Callable[[str], None]
SUMMARY_METRICS = ("accuracy", "recall", "specificity", "f1", "roc_auc")


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
        Adam's; the Fine-tune arms' second stage (from the trained Transfer model, every
        layer trainable, another `epochs` epochs) uses it times `fine_tune_factor`.
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
        "shallow": StudyBudget(n_patches=2000, epochs=12, batch_size=32, learning_rate=3e-3,
                               seeds=3),
        "mobilenet": StudyBudget(n_patches=1000, epochs=6, batch_size=16, seeds=1)}),
    "paper": StudyScale(name="paper", n_bootstrap=2000, budgets={
        "shallow": StudyBudget(n_patches=30000, epochs=100, batch_size=64, seeds=3),
        "mobilenet": StudyBudget(n_patches=30000, epochs=100, batch_size=16, seeds=3)}),
}
"""The named scales.

``smoke`` checks the pipeline: the lightweight family only by default, 22 arms of 40 scenes
and one epoch, about a minute on this 2-core CPU; chance-level numbers.

``cpu`` is sized to finish each family in about two hours on this 2-core CPU shared with
other work (measured with ``fit_resumable`` under a load of 2–3, steady epochs, validation
included). The lightweight family: 2,000 scenes per dataset (1,280 trained, 320 validated,
400 tested per resolution), 12 epochs at batch 32 and learning rate 3e-3, 3 seeds of 17
trained and 5 evaluated arms. The earlier budget (10 epochs, batch 64, 1e-3) left the models
still improving (Source-70's loss 0.694 → 0.623, test accuracy 0.69). Measured on Scratch-70
(lightweight CNN, 70 µm, seed 0) at batch 32 and 3e-3, one run of 12 epochs (about 220 s):
validation accuracy 0.51, 0.71, 0.77, 0.77, 0.77, 0.78, 0.76, 0.77, 0.77, 0.78, 0.78, 0.76
(training loss 0.68 → 0.52; best epoch 10; test accuracy 0.78), so it plateaus by epoch
6–10 and 12 epochs leave the best epoch before the last. An epoch took 10–21 s (median
about 18 s, validation included), no more than the 21 s of a batch-64 epoch before, so one
training patch-epoch of all arms of one seed still costs about 0.14 s (full-scale 9×9 CNN:
45, 80, 190 patches/s at 50, 70, 100 µm; frozen backbone 110, 160, 600; pooled variants
150–850): 3 × 1,280 × 12 × 0.14 s ≈ 108 min, plus about 5–10 min of graph tracing, data,
donor saving and bootstrap, ≈ 2 h. Fine-tune's second stage is one of the 17 trained arms
(it starts from Transfer's saved model, not from scratch). MobileNetV2: 1,000 scenes, 6
epochs, one seed (no more fits: a second would double the time) of 11 trained and 5
evaluated arms; one training patch-epoch of all arms costs about 1.1 s (full training 5–12
patches/s, frozen backbone 8–50), so 640 × 6 × 1.1 s ≈ 70 min, plus about 20 min of model
building, tracing, donor saving (Source-70, Scratch-70 and the three Transfer models) and
per-epoch checkpoints of up to 2 GB; not re-measured here.

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
    return {"study_version": STUDY_VERSION, "scale": plan.name,
            "budget": asdict(plan.budgets[family]), "data_seed": seed,
            "n_bootstrap": plan.n_bootstrap, "target_domain": STUDY_TARGET_DOMAIN.to_dict(),
            "source_domain": STUDY_SOURCE_DOMAIN.to_dict(), "keras_version": keras.__version__}


def _finite_history(history: list[dict[str, float]]) -> list[dict[str, float | None]]:
    """The training history with every non-finite number (a diverged loss) as None (JSON null)."""
    return [{k: (v if not isinstance(v, float) or np.isfinite(v) else None)
             for k, v in row.items()} for row in history]


def converged(history: Sequence[dict[str, Any]]) -> bool:
    """False when the run was probably still improving: its best validation accuracy is at the
    last epoch, or the validation accuracy rose over the last two epochs.

    Examples
    --------
    >>> converged([{"val_accuracy": v} for v in (0.6, 0.8, 0.8, 0.7)])
    True
    >>> converged([{"val_accuracy": v} for v in (0.6, 0.7, 0.8, 0.75)])
    False
    """
    acc = [-np.inf if r.get("val_accuracy") is None else r["val_accuracy"] for r in history]
    if not acc:
        return False
    best = int(np.argmax(acc))
    return best != len(acc) - 1 and not (len(acc) >= 3 and acc[-1] > acc[-3])


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
        donor = None if arm.donor is None else load_model(
            self.folder(arm.donor, arm.model, arm.seed) / "model.keras").model
        donor_sha = None if donor is None else weights_sha256(donor)
        manifest = {**arm.to_dict(), "recipe": {**self.recipe, "donor_sha256": donor_sha}}
        path = folder / "manifest.json"
        if path.exists():
            old = json.loads(path.read_text())
            if {k: v for k, v in old.items() if k != "status"} != manifest:
                raise ValueError(f"`out_dir` holds {arm.id} of another recipe ({path}: other "
                                 "code, budget or donor); use another --out, or delete that "
                                 "folder to redo the arm.")
            if old.get("status") == "finished" and (folder / "results.json").exists():
                self.say(f"{arm.id}: finished earlier, skipped")
                return dict(json.loads((folder / "results.json").read_text()))
        _write_json(path, {**manifest, "status": "running"})
        keras.utils.set_random_seed(1000 * self.seed + arm.seed)
        model, fit, start_sha = (donor, None, donor_sha) if arm.train_on is None else \
            self._train(arm, donor)
        results = self._finish(arm, model, fit, folder, start_sha)
        _write_json(path, {**manifest, "status": "finished"})
        del model, donor
        keras.backend.clear_session()
        gc.collect()
        return results

    def _train(self, arm: Arm, donor: keras.Model | None) -> tuple[keras.Model, Any, str]:
        model = build_arm_model(arm, donor)
        start_sha = weights_sha256(model)
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
        return model, fit, start_sha

    def _finish(self, arm: Arm, model: keras.Model, fit: Any, folder: Path, start_sha: str | None
                ) -> dict[str, Any]:
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
        history = None if fit is None else _finite_history(fit.history)
        results = {**arm.to_dict(), "n_params": int(model.count_params()),
                   "n_trainable_params": trainable if fit is not None else 0,
                   "backbone_sha256": backbone_sha256(model, arm.model),
                   "initial_weights_sha256": start_sha,
                   "weights_sha256": weights_sha256(model),
                   "non_finite_loss": history is not None and any(
                       row.get("loss") is None for row in history),
                   "converged": None if history is None else converged(history),
                   "best_epoch": None if fit is None else fit.best_epoch,
                   "train_time_s": None if fit is None else fit.train_time_s,
                   "resumed_from_epoch": None if fit is None else fit.resumed_from,
                   "history": history, "rows": rows}
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
    tests: list[dict[str, Any]] = []
    per_label: dict[tuple[str, str], Any] = {}
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
            per_seed, family_tests, family_labels = _aggregate(runner, names, counts[family],
                                                               rows)
            pairs += per_seed
            tests += family_tests
            per_label.update(family_labels)
        _adjust(tests)
        summary = [{**entry, **per_label[entry["model"], entry["label"]]}
                   for entry in summarise(rows)]
        record = {"format": STUDY_FORMAT, "version": STUDY_VERSION, "scale": plan.name,
                  "budgets": {f: asdict(plan.budgets[f]) for f in wanted},
                  "n_bootstrap": plan.n_bootstrap, "seed": seed,
                  "seeds": {f: counts[f] for f in wanted},
                  "families": list(wanted),
                  "models": {m: MODEL_INFO[m] for names in wanted.values() for m in names},
                  "domains": {"target": STUDY_TARGET_DOMAIN.to_dict(),
                              "source": STUDY_SOURCE_DOMAIN.to_dict()},
                  "arms": arms,
                  "rows": rows, "summary": summary, "comparisons": pairs, "tests": tests,
                  "wall_time_s": time.perf_counter() - start}
        _write_json(out / "study.json", record)
    return record


class _Predictions:
    """The saved test predictions of a family's arms, stacked over seeds."""

    def __init__(self, runner: _Runner, n_seeds: int):
        self.runner, self.n_seeds = runner, n_seeds
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def truth(self, test: str) -> pd.DataFrame:
        return pd.read_csv(self.runner.out / "tests" / f"{self.runner.family}-{test}.csv")

    def probs(self, model: str, label: str) -> np.ndarray:
        """(seeds, patches)."""
        if (model, label) not in self.cache:
            arm = "Mixed" if label.startswith("Mixed-") else label
            stack = []
            for s in range(self.n_seeds):
                with np.load(self.runner.folder(arm, model, s) / "predictions.npz") as data:
                    stack.append(np.asarray(data[label], np.float64))
            self.cache[model, label] = np.vstack(stack)
        return self.cache[model, label]


def _aggregate(runner: _Runner, models: tuple[str, ...], n_seeds: int, rows: list[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Per-seed McNemar/DeLong of each planned pair, one paired bootstrap per pair across
    seeds, and per (model, row) the seed-mean metrics with CIs and the seed-mean breakdown."""
    preds = _Predictions(runner, n_seeds)
    boot = runner.plan.n_bootstrap
    per_label: dict[tuple[str, str], Any] = {}
    for model, label in dict.fromkeys((r["model"], r["label"]) for r in rows
                                      if r["model"] in models):
        test = next(r["test"] for r in rows if (r["model"], r["label"]) == (model, label))
        truth = preds.truth(test.partition("@")[0])
        y = truth["label"].to_numpy(np.int64)
        prob = preds.probs(model, label)
        per_label[model, label] = {
            "ci": compute_seed_mean_ci(y, prob, metrics=SUMMARY_METRICS, n_bootstrap=boot),
            "breakdown": compute_consensus_breakdown(y, prob, truth)}
    per_seed, tests = [], []
    for (ma, la), (mb, lb) in comparisons(models):
        res_a, res_b = int(la.split("-")[-1]), int(lb.split("-")[-1])
        y = preds.truth(f"target-{res_a}")["label"].to_numpy(np.int64)
        if not np.array_equal(y, preds.truth(f"target-{res_b}")["label"].to_numpy(np.int64)):
            raise ValueError(f"{la} and {lb} are not tested on the same patches.")
        a, b = preds.probs(ma, la), preds.probs(mb, lb)
        key = {"model_a": ma, "label_a": la, "model_b": mb, "label_b": lb,
               "resolution_um": res_a if res_a == res_b else None}
        per_seed += [{**key, "seed": s, **compare_pair(y, a[s], b[s])} for s in range(n_seeds)]
        tests.append({**key, **compute_paired_bootstrap(y, a, b, n_bootstrap=boot)})
    return per_seed, tests, per_label


def _adjust(tests: list[dict[str, Any]]) -> None:
    """Holm's correction across every test of the study (accuracy and AUC of each pair)."""
    keys = [(i, m) for i in range(len(tests)) for m in ("accuracy", "roc_auc")]
    adjusted = holm([tests[i][m]["p"] for i, m in keys])
    for (i, m), p in zip(keys, adjusted, strict=True):
        tests[i][m]["p_holm"] = p
