"""The study's results page: Markdown and figures from ``study.json`` alone (Keras-free).

Every sentence of "What the data say" is chosen by the numbers, never written by hand: one
paired bootstrap test per comparison across seeds (`_study_stats.compute_paired_bootstrap`),
its sign, its 95 % interval and Holm's correction across every test of the page; the per-seed
McNemar and DeLong tests are tabulated beside it. The page regenerates byte for byte from the
same JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import binomtest

from mcc_core.training._paper import PAPER_TABLE8, PAPER_TABLE9
from synth.io import write_atomic

__all__ = ["render_study"]

ALPHA = 0.05
ROW_ORDER = ("Source-70", "Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50",
             "Transfer-70", "Transfer-100", "Fine-tune-50", "Fine-tune-70", "Fine-tune-100",
             "Mixed-50", "Mixed-70", "Mixed-100", "Eval-70", "Resample-50", "Resample-100",
             "Resample-source-50", "Resample-source-100")
PAPER_ROWS = ("Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
              "Transfer-100", "Eval-70")
SHOWN = ("accuracy", "recall", "specificity", "f1", "roc_auc")
DONOR_NOTE = {"Resample-50": "Scratch-70", "Resample-100": "Scratch-70",
              "Resample-source-50": "Source-70", "Resample-source-100": "Source-70",
              "Eval-70": "Source-70"}


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _summary(study: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    return {s["label"]: s for s in study["summary"] if s["model"] == model}


def _rows(study: dict[str, Any], model: str, label: str) -> list[dict[str, Any]]:
    return sorted((r for r in study["rows"] if r["model"] == model and r["label"] == label),
                  key=lambda r: r["seed"])


def _exact(k: int, n: int) -> str:
    """A proportion with its exact (Clopper–Pearson) 95 % interval."""
    if n == 0:
        return "–"
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return f"{k / n:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def _seed_cell(row: dict[str, Any], metric: str) -> str:
    """One seed's metric: proportions with their exact interval, F1 and AUC bootstrap."""
    c = row["counts"]
    exact = {"accuracy": (c["tn"] + c["tp"], row["n"]), "recall": (c["tp"], c["tp"] + c["fn"]),
             "specificity": (c["tn"], c["tn"] + c["fp"])}
    if metric in exact:
        return _exact(*exact[metric])
    m = row["metrics"][metric]
    return f"{_f(m['value'])} [{_f(m['low'])}, {_f(m['high'])}]"


def _cell(summary: dict[str, Any], metric: str) -> str:
    ci = summary["ci"][metric]
    return f"{_f(ci['mean'])} [{_f(ci['low'])}, {_f(ci['high'])}]"


def _label_name(label: str) -> str:
    donor = DONOR_NOTE.get(label)
    return f"{label} (from {donor})" if donor else label


def _metrics_section(study: dict[str, Any], model: str) -> str:
    summary = _summary(study, model)
    labels = [label for label in ROW_ORDER if label in summary]
    body = [[_label_name(label), str(len(summary[label]["seeds"])),
             *(_cell(summary[label], m) for m in SHOWN)] for label in labels]
    detail = [[label, str(r["seed"]), *(_seed_cell(r, m) for m in SHOWN)]
              for label in labels for r in _rows(study, model, label)]
    return (_table(["arm", "seeds", *SHOWN], body) + "\n\nPer seed (accuracy, recall and "
            "specificity with their exact interval, F1 and AUC with a bootstrap one):\n\n"
            + _table(["arm", "seed", *SHOWN], detail))


def _trained(study: dict[str, Any], model: str) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(ROW_ORDER)}
    arms = [a for a in study["arms"] if a["model"] == model and a.get("history")]
    return sorted(arms, key=lambda a: (order.get(a["arm"], order.get(a["arm"] + "-70", 99)),
                                       a["seed"]))


def _test_row(study: dict[str, Any], arm: dict[str, Any]) -> dict[str, Any] | None:
    label = "Mixed-70" if arm["arm"] == "Mixed" else arm["arm"]
    return next((r for r in study["rows"] if r["model"] == arm["model"]
                 and r["label"] == label and r["seed"] == arm["seed"]), None)


def _training_section(study: dict[str, Any], model: str) -> str:
    """Seed 000's Table 8 columns, at the best epoch, from the kept history."""
    body = []
    for arm in _trained(study, model):
        best = arm["history"][arm["best_epoch"] - 1] if arm["best_epoch"] else {}
        test = _test_row(study, arm)
        status = "yes" if arm.get("converged") else "**not converged**"
        if arm.get("non_finite_loss"):
            status += ", **non-finite loss**"
        body.append([arm["arm"], str(arm["seed"]), f"{arm['best_epoch']}/{len(arm['history'])}",
                     f"{arm['train_time_s']:.0f}",
                     *(_f(best.get(k)) for k in ("accuracy", "loss", "val_accuracy",
                                                 "val_loss")),
                     _f(None if test is None else test["metrics"]["accuracy"]["value"]),
                     _f(None if test is None else test["metrics"]["bce"]["value"]), status])
    return _table(["arm", "seed", "best epoch", "train time (s)", "train accuracy",
                   "train loss", "val accuracy", "val loss", "test accuracy", "test loss",
                   "converged"], body)


def _warnings(study: dict[str, Any]) -> list[str]:
    lines = []
    for model in study["models"]:
        late = [f"{a['arm']} seed {a['seed']}" for a in _trained(study, model)
                if not a.get("converged")]
        if late:
            lines.append(f"- **{model}: not converged** ({len(late)} trained arms: best epoch "
                         "the last, or validation accuracy still rising over the last two "
                         "epochs): " + ", ".join(late) + ". Their numbers understate what the "
                         "arm can reach.")
        bad = [f"{a['arm']} seed {a['seed']}" for a in _trained(study, model)
               if a.get("non_finite_loss")]
        if bad:
            lines.append(f"- **{model}: non-finite training loss** in " + ", ".join(bad) + ".")
    return lines


def _paper_section(study: dict[str, Any], model: str) -> str:
    """Ours (mean over seeds) beside seed 000's MobileNetV2 on MEXBreast, Tables 8 and 9."""
    summary = _summary(study, model)
    arms = _trained(study, model)
    body = []
    for label in (p for p in PAPER_ROWS if p in summary):
        paper8, paper9 = PAPER_TABLE8[label], PAPER_TABLE9[label]
        ours = [a for a in arms if a["arm"] == label]
        epoch = np.mean([a["best_epoch"] for a in ours]) if ours else None
        seconds = np.mean([a["train_time_s"] for a in ours]) if ours else None
        paper_rates = dict(zip(("accuracy", "precision", "recall", "specificity", "f1"),
                               paper9[4:], strict=True))
        body.append([label, f"{_f(epoch, 1)} / {paper8[0] or '–'}",
                     f"{_f(seconds, 0)} / {paper8[1] or '–'}",
                     *(f"{_f(summary[label]['metrics'][m]['mean'])} / {paper_rates[m]:.3f}"
                       for m in ("accuracy", "recall", "specificity", "f1"))])
    return _table(["arm", "best epoch ours / paper", "train time s ours / paper",
                   "accuracy ours / paper", "recall ours / paper", "specificity ours / paper",
                   "F1 ours / paper"], body)


def _name(test: dict[str, Any], side: str) -> str:
    return test[f"label_{side}"] if test["model_a"] == test["model_b"] else \
        f"{test[f'model_{side}']} {test[f'label_{side}']}"


def _delta(entry: dict[str, Any]) -> str:
    return f"{entry['delta']:+.3f} [{entry['low']:+.3f}, {entry['high']:+.3f}]" \
        if entry["delta"] is not None else "–"


def _significant(entry: dict[str, Any]) -> bool:
    return entry["p_holm"] is not None and entry["p_holm"] < ALPHA and entry["delta"] != 0


def _comparison_section(study: dict[str, Any]) -> str:
    body = [[f"{t['model_a']} {t['label_a']}", f"{t['model_b']} {t['label_b']}",
             str(t["n_seeds"]), str(t["n_patches"]), _delta(t["accuracy"]),
             _p(t["accuracy"]["p"]), _p(t["accuracy"]["p_holm"]), _delta(t["roc_auc"]),
             _p(t["roc_auc"]["p"]), _p(t["roc_auc"]["p_holm"])] for t in study["tests"]]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for c in study["comparisons"]:
        groups.setdefault((c["model_a"], c["label_a"], c["model_b"], c["label_b"]), []).append(c)
    seeds = [[f"{ma} {la}", f"{mb} {lb}", ", ".join(f"{p['accuracy_difference']:+.3f}"
                                                    for p in pairs),
              ", ".join(_p(p["mcnemar_p"]) for p in pairs),
              ", ".join("–" if p["auc_difference"] is None else f"{p['auc_difference']:+.3f}"
                        for p in pairs),
              ", ".join(_p(p["delong_p"]) for p in pairs)]
             for (ma, la, mb, lb), pairs in groups.items()]
    return (_table(["a", "b", "seeds", "patches", "Δ accuracy (a − b) [95 % CI]", "p",
                    "p Holm", "Δ AUC (a − b) [95 % CI]", "p", "p Holm"], body)
            + "\n\nPer seed (uncorrected; the verdicts above use the aggregate test):\n\n"
            + _table(["a", "b", "Δ accuracy per seed", "McNemar p per seed",
                      "Δ AUC per seed", "DeLong p per seed"], seeds))


def _sentence(test: dict[str, Any]) -> str:
    a, b = _name(test, "a"), _name(test, "b")
    acc, auc = test["accuracy"], test["roc_auc"]
    if _significant(acc):
        verb = "more" if acc["delta"] > 0 else "less"
        text = (f"is {verb} accurate than {b}, significant after Holm correction "
                f"(p {_p(acc['p_holm'])}): Δ accuracy {_delta(acc)}")
    else:
        text = (f"shows no significant difference in accuracy from {b} after Holm correction "
                f"(p {_p(acc['p_holm'])}): Δ accuracy {_delta(acc)}")
    if auc["delta"] is not None:
        how = ("higher" if auc["delta"] > 0 else "lower") + " AUC, significant" \
            if _significant(auc) else "AUC not significantly different"
        text += f"; {how} (p {_p(auc['p_holm'])}): Δ AUC {_delta(auc)}"
    lead = f"{test['model_a']}: {a}" if test["model_a"] == test["model_b"] else a
    return f"- {lead} {text}."


def _resolution_claim(study: dict[str, Any], model: str) -> str | None:
    """Which resolution trained from scratch is more accurate, from the paired tests only."""
    tests = [t for t in study["tests"] if t["model_a"] == t["model_b"] == model
             and t["label_a"].startswith("Scratch-") and t["label_b"].startswith("Scratch-")]
    if not tests:
        return None
    wins: dict[str, set[str]] = {}
    for t in tests:
        if _significant(t["accuracy"]):
            hi, lo = (t["label_a"], t["label_b"]) if t["accuracy"]["delta"] > 0 else \
                (t["label_b"], t["label_a"])
            wins.setdefault(hi.split("-")[1], set()).add(lo.split("-")[1])
    every = {t["label_a"].split("-")[1] for t in tests} | {t["label_b"].split("-")[1]
                                                           for t in tests}
    top = [r for r, beaten in wins.items() if beaten == every - {r}]
    if top:
        return (f"- {model}: trained from scratch, {top[0]} µm is more accurate than every "
                "other resolution (paired tests on the same scenes, significant after Holm "
                "correction).")
    if wins:
        order = "; ".join(f"{r} µm beats {', '.join(sorted(b, key=int))} µm"
                          for r, b in sorted(wins.items(), key=lambda kv: int(kv[0])))
        return (f"- {model}: trained from scratch, no resolution is significantly more "
                f"accurate than both others; significant after Holm correction: {order}.")
    return (f"- {model}: trained from scratch, no resolution is significantly more accurate "
            "than another (paired tests on the same scenes, after Holm correction).")


def _statements(study: dict[str, Any]) -> str:
    lines = [_sentence(t) for t in study["tests"]
             if not (t["label_a"].startswith("Scratch-") and t["label_b"].startswith("Scratch-")
                     and t["model_a"] == t["model_b"])]
    for model in study["models"]:
        claim = _resolution_claim(study, model)
        if claim:
            lines.append(claim)
        summary = _summary(study, model)
        if "Scratch-70" in summary:
            counts = _finding_counts(summary["Scratch-70"]["breakdown"])
            hard = [a + b for a, b in zip(counts["hard_negative_1"], counts["hard_negative_2"],
                                          strict=True)]
            lines.append(f"- {model}: Scratch-70 (seed-mean decision) rejects hard negatives "
                         f"(1–2 MCs) at {_exact(*hard)} (n {hard[1]}) and detects clusters at "
                         f"{_exact(*counts['cluster'])} (n {counts['cluster'][1]}).")
    return "\n".join(lines + _warnings(study))


def _finding_counts(breakdown: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {b["group"]: (b["correct"], b["n"]) for b in breakdown if b["by"] == "finding"}


def _finding_section(study: dict[str, Any]) -> str:
    body = []
    for model in study["models"]:
        summary = _summary(study, model)
        for label in (lb for lb in ROW_ORDER if lb in summary):
            counts = _finding_counts(summary[label]["breakdown"])
            body.append([model, label, *(f"{_exact(*counts[f])} (n {counts[f][1]})"
                                         if counts[f][1] else "–"
                                         for f in ("cluster", "hard_negative_1",
                                                   "hard_negative_2", "negative"))])
    return _table(["model", "arm", "cluster (sensitivity)", "hard negative, 1 MC",
                   "hard negative, 2+ MCs", "negative"], body)


def _bins_section(study: dict[str, Any], by: str) -> str:
    body: list[list[str]] = []
    header: list[str] = []
    for model in study["models"]:
        summary = _summary(study, model)
        for label in ("Scratch-70", "Transfer-70", "Resample-50", "Resample-100"):
            if label not in summary:
                continue
            entries = [b for b in summary[label]["breakdown"] if b["by"] == by]
            header = list(dict.fromkeys(b["group"] for b in entries))
            for finding in ("cluster", "hard_negative"):
                cells = {b["group"]: b for b in entries if b["finding"] == finding}
                body.append([model, label, finding, *(
                    f"{_exact(cells[g]['correct'], cells[g]['n'])} (n {cells[g]['n']})"
                    if cells[g]["n"] else "–" for g in header)])
    if not body:
        return "(no rows)"
    return _table(["model", "arm", "finding", *header], body)


def _figure_accuracy(study: dict[str, Any], path: Path) -> None:
    models = list(study["models"])
    fig = Figure(figsize=(11, 2.8 * len(models)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(models), 1, squeeze=False)[:, 0])
    for ax, model in zip(axes, models, strict=True):
        summary = _summary(study, model)
        labels = [label for label in ROW_ORDER if label in summary]
        cis = [summary[label]["ci"]["accuracy"] for label in labels]
        means = [c["mean"] or 0.0 for c in cis]
        lows = [c["low"] if c["low"] is not None else m for c, m in zip(cis, means, strict=True)]
        highs = [c["high"] if c["high"] is not None else m
                 for c, m in zip(cis, means, strict=True)]
        x = np.arange(len(labels))
        err = np.clip([np.subtract(means, lows), np.subtract(highs, means)], 0, None)
        ax.bar(x, means, yerr=err, capsize=3, color="#4c72b0")
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{model}: seed-mean accuracy, 95 % CI (bootstrap over test patches)")
    fig.savefig(path, format="png", dpi=80, metadata={"Software": None})


def render_study(study: str | os.PathLike[str] | dict[str, Any],
                 out_md: str | os.PathLike[str]) -> Path:
    """Write the study's results page (Markdown with figures beside it).

    Parameters
    ----------
    study : dict, or path of ``study.json`` or of the study folder
    out_md : str or path-like
        The page, e.g. ``docs/results/study.md``; its figure ``<stem>_accuracy.png`` is written
        beside it. Both are written atomically and depend on the JSON only.

    Returns
    -------
    pathlib.Path
        `out_md`.

    Raises
    ------
    ValueError
        If `study` is neither a study record nor a path to one; nothing is written then.

    Examples
    --------
    ``render_study("study-out", "docs/results/study.md")`` writes the page of the study in
    ``study-out`` (what ``mcc study report --from study-out --out docs/results/study.md``
    does). Anything but a study record is refused before a file is written:

    >>> import tempfile
    >>> from pathlib import Path
    >>> page = Path(tempfile.mkdtemp()) / "study.md"
    >>> render_study({"format": "mcc.report"}, page)
    Traceback (most recent call last):
    ...
    ValueError: `study` must be a study record (format 'mcc.study'); got another JSON document.
    >>> page.exists()
    False
    """
    if isinstance(study, dict):
        record = study
    else:
        path = Path(study)
        path = path / "study.json" if path.is_dir() else path
        if not path.is_file():
            raise ValueError(f"`study` must be a study.json or a folder holding one; got {path}.")
        record = json.loads(path.read_text())
    if not isinstance(record, dict) or record.get("format") != "mcc.study":
        raise ValueError("`study` must be a study record (format 'mcc.study'); got another "
                         "JSON document.")
    out = Path(out_md)
    figure = out.with_name(f"{out.stem}_accuracy.png")
    write_atomic(figure, lambda p: _figure_accuracy(record, p))
    write_atomic(out, _page(record, figure.name).encode())
    return out


def _page(study: dict[str, Any], figure: str) -> str:
    budgets = "; ".join(
        f"{f}: {b['n_patches']} scenes per dataset (64/16/20 split), {b['epochs']} epochs, "
        f"batch {b['batch_size']}, learning rate {b['learning_rate']:g} (fine-tune × "
        f"{b['fine_tune_factor']:g}), {study['seeds'][f]} seed(s)"
        for f, b in study["budgets"].items())
    warning = ("\n> **Smoke scale**: a pipeline check on a few dozen patches and one epoch; the "
               "numbers are at chance level and say nothing about the question. Regenerate "
               "this page from a `cpu` or `paper` run.\n" if study["scale"] == "smoke" else "")
    parts = [
        "# Cross-resolution transfer, in silico\n", warning,
        f"Scale **{study['scale']}**; data seed {study['seed']}; {budgets}. Generated by "
        "`mcc study report` from `study.json`.\n",
        "Intervals are 95 %. A multi-seed cell is the seed mean with a bootstrap interval over "
        f"the test patches ({study['n_bootstrap']} resamples; each resample scores every seed "
        "on the same patches, so n is the number of test patches, not seeds × patches); "
        "proportions also cover their exact Clopper–Pearson interval. Each comparison is one "
        "paired bootstrap test of the seed-mean difference in accuracy and in AUC (the same "
        "resampled patches for both arms and every seed), Holm-corrected across every test "
        "on this page.\n",
        "Arms: Fine-tune-R starts from the trained Transfer-R model and trains every layer "
        "for the same number of epochs again at the lower learning rate, so its budget is "
        "Transfer-R's plus that stage. Eval-70 and Resample-source-R score Source-70 "
        "(source domain); Resample-R scores Scratch-70 (target domain). All arms of one seed "
        "share the seed of their initialisation and data order.\n",
        "Domains: Source-70 is trained on an indirect CsI detector (blur σ 41 µm instead of "
        "20 µm, electronic noise 8 instead of 5, 14 instead of 12 bits, dose 4e5 instead of "
        "1e6) and a coarser, denser, lumpier texture (β 2.2–2.6 vs 2.5–3.1, density 0.5–0.9 "
        "vs 0.2–0.8, lumpy 0.3); every other arm on the target domain.\n",
        "## What the data say\n", _statements(study) + "\n",
        f"![accuracy per arm]({figure})\n",
        "## Models\n", _table(["model", "parameters", "receptive field (px)", "what"], [
            [m, f"{i['n_params']:,}", str(i["receptive_field_px"] or "–"), i["description"]]
            for m, i in study["models"].items()]) + "\n",
    ]
    for model in study["models"]:
        parts += [f"## {model}: test metrics\n",
                  "Seed mean [95 % CI, bootstrap over test patches].\n",
                  _metrics_section(study, model) + "\n",
                  f"### {model}: training (seed 000's Table 8 columns, at the best epoch)\n",
                  _training_section(study, model) + "\n"]
        if model == "mobilenet" and "Transfer-70" in _summary(study, model):
            parts += ["### mobilenet beside seed 000's MobileNetV2 (Tables 8 and 9, "
                      "MEXBreast, mini-batch 16, 100 epochs)\n",
                      _paper_section(study, model) + "\n"]
    parts += ["## Paired comparisons (same test patches)\n",
              _comparison_section(study) + "\n",
              "## By finding (seed-mean decision: positive when at least half of the seeds "
              "say so; n = test patches, exact 95 % CI)\n", _finding_section(study) + "\n",
              "A hard negative with 2+ MCs is a class-0 patch with two or more MCs inside "
              "(with a `label_dprime_threshold`, also one with enough MCs of which too few are "
              "detectable).\n",
              "## By detectability d′ (cluster: k-th MC; hard negative: brightest MC)\n",
              _bins_section(study, "dprime") + "\n",
              "## By MC size (median of the MCs inside, mm)\n",
              _bins_section(study, "size_mm") + "\n",
              "Look-alikes (benign calcifications) are not broken down: the synthetic patch "
              "source does not place them in patches.\n"]
    return "\n".join(parts)
