"""The study's results page: Markdown and figures from ``study.json`` alone (Keras-free).

Every sentence of "What the data say" is chosen by the numbers (mean differences across
seeds and how many seeds' paired tests reach p < 0.05), never written by hand, so the page
regenerates byte for byte from the same JSON.
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

from mcc_core.training._paper import PAPER_TABLE9
from synth.io import write_atomic

__all__ = ["render_study"]

ALPHA = 0.05
ROW_ORDER = ("Source-70", "Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50",
             "Transfer-70", "Transfer-100", "Fine-tune-50", "Fine-tune-70", "Fine-tune-100",
             "Mixed-50", "Mixed-70", "Mixed-100", "Eval-70", "Resample-50", "Resample-100")
PAPER_ROWS = ("Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
              "Transfer-100", "Eval-70")
SHOWN = ("accuracy", "recall", "specificity", "f1", "roc_auc")


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _summary(study: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    return {s["label"]: s for s in study["summary"] if s["model"] == model}


def _rows(study: dict[str, Any], model: str, label: str) -> list[dict[str, Any]]:
    return sorted((r for r in study["rows"] if r["model"] == model and r["label"] == label),
                  key=lambda r: r["seed"])


def _cell(summary: dict[str, Any], rows: list[dict[str, Any]], metric: str) -> str:
    """Mean over seeds, then the seed-0 95 % CI with one seed, the seeds' range with more."""
    mean = summary["metrics"][metric]["mean"]
    if len(rows) == 1:
        m = rows[0]["metrics"][metric]
        return f"{_f(mean)} [{_f(m['low'])}, {_f(m['high'])}]"
    values = [v for v in summary["metrics"][metric]["per_seed"] if v is not None]
    return f"{_f(mean)} ({_f(min(values) if values else None)}–" \
           f"{_f(max(values) if values else None)})"


def _metrics_section(study: dict[str, Any], model: str) -> str:
    summary = _summary(study, model)
    labels = [label for label in ROW_ORDER if label in summary]
    body = [[label, str(len(summary[label]["seeds"])),
             *(_cell(summary[label], _rows(study, model, label), m) for m in SHOWN)]
            for label in labels]
    detail = [[label, str(r["seed"]), *(
        f"{_f(r['metrics'][m]['value'])} [{_f(r['metrics'][m]['low'])}, "
        f"{_f(r['metrics'][m]['high'])}]" for m in SHOWN)]
        for label in labels for r in _rows(study, model, label)]
    return (_table(["arm", "seeds", *SHOWN], body) + "\n\nPer seed, each with its 95 % "
            "bootstrap interval:\n\n" + _table(["arm", "seed", *SHOWN], detail))


def _paper_section(study: dict[str, Any], model: str) -> str:
    summary = _summary(study, model)
    body = []
    for label in (p for p in PAPER_ROWS if p in summary):
        paper = dict(zip(("accuracy", "precision", "recall", "specificity", "f1"),
                         PAPER_TABLE9[label][4:], strict=True))
        body.append([label, *(f"{_f(summary[label]['metrics'][m]['mean'])} / {paper[m]:.3f}"
                              for m in ("accuracy", "recall", "specificity", "f1"))])
    return _table(["arm", "accuracy ours / paper", "recall ours / paper",
                   "specificity ours / paper", "F1 ours / paper"], body)


def _pair_groups(study: dict[str, Any]) -> list[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for c in study["comparisons"]:
        groups.setdefault((c["model_a"], c["label_a"], c["model_b"], c["label_b"]), []).append(c)
    return list(groups.items())


def _verdict(pairs: list[dict[str, Any]]) -> tuple[float, float | None, int, int]:
    """Mean accuracy and AUC differences, and the seeds where a (b) is significantly better."""
    acc = float(np.mean([p["accuracy_difference"] for p in pairs]))
    aucs = [p["auc_difference"] for p in pairs if p["auc_difference"] is not None]
    a_wins = sum(p["mcnemar_p"] < ALPHA and p["accuracy_difference"] > 0 for p in pairs)
    b_wins = sum(p["mcnemar_p"] < ALPHA and p["accuracy_difference"] < 0 for p in pairs)
    return acc, float(np.mean(aucs)) if aucs else None, a_wins, b_wins


def _comparison_section(study: dict[str, Any]) -> str:
    body = []
    for (ma, la, mb, lb), pairs in _pair_groups(study):
        acc, auc, _, _ = _verdict(pairs)
        body.append([f"{ma} {la}", f"{mb} {lb}", str(len(pairs)), f"{acc:+.3f}",
                     ", ".join(f"{p['mcnemar_p']:.3g}" for p in pairs),
                     "–" if auc is None else f"{auc:+.3f}",
                     ", ".join("–" if p["delong_p"] is None else f"{p['delong_p']:.3g}"
                               for p in pairs)])
    return _table(["a", "b", "seeds", "Δ accuracy (a − b)", "McNemar p per seed",
                   "Δ AUC (a − b)", "DeLong p per seed"], body)


def _sentence(key: tuple[str, ...], pairs: list[dict[str, Any]]) -> str:
    ma, la, mb, lb = key
    acc, auc, a_wins, b_wins = _verdict(pairs)
    n = len(pairs)
    name_a = f"{ma}: {la}" if ma == mb else f"{ma} {la}"
    name_b = lb if ma == mb else f"{mb} {lb}"
    if a_wins and not b_wins:
        verb = f"is more accurate than {name_b} (significant in {a_wins} of {n} seeds)"
    elif b_wins and not a_wins:
        verb = f"is less accurate than {name_b} (significant in {b_wins} of {n} seeds)"
    elif a_wins and b_wins:
        verb = f"differs from {name_b} in both directions across seeds"
    else:
        verb = f"does not differ significantly from {name_b} (no seed has McNemar p < 0.05)"
    auc_text = "" if auc is None else f", Δ AUC {auc:+.3f}"
    return f"- {name_a} {verb}: Δ accuracy {acc:+.3f}{auc_text}."


def _statements(study: dict[str, Any]) -> str:
    lines = [_sentence(key, pairs) for key, pairs in _pair_groups(study)
             if key[1].split("-")[0] in ("Transfer", "Resample", "Eval")
             or key[0] != key[2]]
    for model in study["models"]:
        summary = _summary(study, model)
        scratch = {r: summary[f"Scratch-{r}"]["metrics"]["accuracy"]["mean"]
                   for r in (50, 70, 100) if f"Scratch-{r}" in summary}
        if len(scratch) == 3 and None not in scratch.values():
            best = max(scratch, key=lambda r: scratch[r] or 0.0)
            lines.append(f"- {model}: trained from scratch, the best resolution is {best} µm "
                         "(accuracy " + ", ".join(f"{r} µm {_f(v)}" for r, v in scratch.items())
                         + ").")
        rows = _rows(study, model, "Scratch-70")
        hard = [b for r in rows for b in r["breakdown"]
                if b["by"] == "finding" and b["group"].startswith("hard_negative")]
        found = [b for r in rows for b in r["breakdown"]
                 if b["by"] == "finding" and b["group"] == "cluster"]
        if rows:
            lines.append(f"- {model}: Scratch-70 rejects hard negatives (1–2 MCs) at "
                         f"{_pooled(hard)} and detects clusters at {_pooled(found)}.")
    return "\n".join(lines)


def _finding_section(study: dict[str, Any]) -> str:
    body = []
    for model in study["models"]:
        for label in ROW_ORDER:
            rows = _rows(study, model, label)
            if not rows:
                continue
            cells = []
            for finding in ("cluster", "hard_negative_1", "hard_negative_2", "negative"):
                got = [b for r in rows for b in r["breakdown"]
                       if b["by"] == "finding" and b["group"] == finding]
                cells.append(_pooled(got))
            body.append([model, label, *cells])
    return _table(["model", "arm", "cluster (sensitivity)", "hard negative, 1 MC",
                   "hard negative, 2 MCs", "negative"], body)


def _pooled(entries: list[dict[str, Any]]) -> str:
    n = sum(e["n"] for e in entries)
    k = sum(e["correct"] for e in entries)
    if n == 0:
        return "–"
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return f"{k / n:.3f} [{ci.low:.3f}, {ci.high:.3f}] (n {n})"


def _bins_section(study: dict[str, Any], by: str) -> str:
    body = []
    for model in study["models"]:
        for label in ("Scratch-70", "Transfer-70", "Resample-50", "Resample-100"):
            rows = _rows(study, model, label)
            if not rows:
                continue
            groups = list(dict.fromkeys(b["group"] for b in rows[0]["breakdown"]
                                        if b["by"] == by))
            for finding in ("cluster", "hard_negative"):
                cells = [_pooled([b for r in rows for b in r["breakdown"] if b["by"] == by
                                  and b["finding"] == finding and b["group"] == g])
                         for g in groups]
                body.append([model, label, finding, *cells])
            header = groups
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
        means = [summary[label]["metrics"]["accuracy"]["mean"] or 0.0 for label in labels]
        lows = [np.mean([r["metrics"]["accuracy"]["low"] or 0.0
                         for r in _rows(study, model, label)]) for label in labels]
        highs = [np.mean([r["metrics"]["accuracy"]["high"] or 0.0
                          for r in _rows(study, model, label)]) for label in labels]
        x = np.arange(len(labels))
        err = np.clip([np.subtract(means, lows), np.subtract(highs, means)], 0, None)
        ax.bar(x, means, yerr=err, capsize=3, color="#4c72b0")
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{model}: mean over seeds, mean 95 % CI")
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
        f"Scale **{study['scale']}**; data seed {study['seed']}; {budgets}. Intervals are 95 % "
        f"({study['n_bootstrap']} bootstrap resamples for the metrics, exact binomial for the "
        "breakdowns). Generated by `mcc study report` from `study.json`.\n",
        "## What the data say\n", _statements(study) + "\n",
        f"![accuracy per arm]({figure})\n",
        "## Models\n", _table(["model", "parameters", "receptive field (px)", "what"], [
            [m, f"{i['n_params']:,}", str(i["receptive_field_px"] or "–"), i["description"]]
            for m, i in study["models"].items()]) + "\n",
    ]
    for model in study["models"]:
        parts += [f"## {model}: test metrics\n",
                  "Mean over seeds; with one seed the 95 % CI, with several the seeds' range.\n",
                  _metrics_section(study, model) + "\n"]
        if "Transfer-70" in _summary(study, model):
            parts += [f"### {model} beside seed 000 (Table 9, MEXBreast)\n",
                      _paper_section(study, model) + "\n"]
    parts += ["## Paired comparisons (same test patches, same seed)\n",
              _comparison_section(study) + "\n",
              "## By finding (seeds pooled, exact 95 % CI)\n", _finding_section(study) + "\n",
              "## By detectability d′ (cluster: k-th MC; hard negative: brightest MC)\n",
              _bins_section(study, "dprime") + "\n",
              "## By MC size (median of the MCs inside, mm)\n",
              _bins_section(study, "size_mm") + "\n",
              "Look-alikes (benign calcifications) are not broken down: the synthetic patch "
              "source does not place them in patches.\n"]
    return "\n".join(parts)
