"""Robustness reports: a self-contained HTML page (figures inline), JSON with every number and
its provenance, and tidy CSVs — rendered to bytes in memory, written all or nothing."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from synth.io import write_atomic

from ._compare import ComparisonResult
from ._detections import DetectionRule
from ._froc import FROCResult, lroc_area
from ._gates import GateResult, gates_frame
from ._metrics import COUNTS, Metrics
from ._probe import ProbeResults
from ._probes import BehaviourResult
from ._sweep import SweepResult

# Seed 000 Table 9 and seed 001 Table 3 (real MEXBreast / INbreast patches).
PAPER_REFERENCE = {
    "Transfer-50 (seed 000)": (2966, 51, 50, 2967),
    "Scratch-100 (seed 000)": (1981, 194, 520, 1655),
    "Eval-70 on MEXBreast (seed 000)": (5281, 40, 124, 5177),
}
LIGHTWEIGHT_ACCURACY = 0.993  # seed 001, Table 3, 8,301 parameters
_STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
          "padding:3px 8px;text-align:right}th{background:#f3f3f3}.pass{color:#070}"
          ".fail{color:#b00}figure{display:inline-block;margin:4px}pre{background:#f6f6f6;"
          "padding:8px;overflow-x:auto}")


def render_report(results: ProbeResults, *, froc: FROCResult | None = None,
                  gates: Sequence[GateResult] = ()) -> dict[str, bytes]:
    """The report's files, rendered in memory: report.html, report.json and the CSVs.

    Parameters
    ----------
    results : ProbeResults
        From `run_probe`.
    froc : FROCResult, optional
        From `compute_froc` on whole-mammogram scans: the report gains an FROC section (plot
        and table), ``froc.csv`` (sensitivity at each rate), ``froc_curve.csv`` and a ``froc``
        block in report.json (null without it).
    gates : sequence of GateResult, optional
        From `evaluate_gates`: a Gates section, ``gates.csv`` and a ``gates`` list in
        report.json.

    Returns
    -------
    dict of str to bytes
        File name → content: a self-contained HTML page (figures inline, every value
        escaped), JSON with every number and its provenance, and one tidy CSV per table
        (metrics, predictions, paper_reference, and sweeps, behaviour, cross_resolution,
        failure_thresholds where the probe has them).

    Examples
    --------
    >>> import synth
    >>> from evalkit import as_predictor, render_report, run_probe
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=100)
    >>> results = run_probe(predictor, synth.SceneConfig(), n=8, seed=0, behaviour=False,
    ...                     resolutions=False, thresholds=False, n_bootstrap=0)
    >>> files = render_report(results)
    >>> sorted(files)
    ['metrics.csv', 'paper_reference.csv', 'predictions.csv', 'report.html', 'report.json']
    >>> files["report.html"].startswith(b"<!DOCTYPE html>")
    True
    >>> import json
    >>> json.loads(files["report.json"])["n"]
    8
    """
    if not isinstance(results, ProbeResults):
        raise TypeError("`results` must be the ProbeResults of evalkit.run_probe.")
    if froc is not None and not isinstance(froc, FROCResult):
        raise TypeError("`froc` must be the FROCResult of evalkit.compute_froc or None; "
                        f"got froc of type {type(froc).__name__}.")
    gates = tuple(gates)
    if not all(isinstance(g, GateResult) for g in gates):
        raise TypeError("`gates` must hold the GateResults of evalkit.evaluate_gates.")
    files = {"report.html": _html(results, froc, gates).encode(),
             "report.json": _json(results, froc, gates).encode()}
    for name, frame in _tables(results, froc, gates).items():
        files[f"{name}.csv"] = frame.to_csv(index=False).encode()
    return files


def build_report(results: ProbeResults, out_dir: str | os.PathLike[str], *,
                 froc: FROCResult | None = None, gates: Sequence[GateResult] = ()) -> Path:
    """Write the files of `render_report` into `out_dir`; return the path of report.html.

    The whole report is rendered in memory first, then each file is written atomically
    (`synth.io.write_atomic`), so a failure leaves no half-written file. `out_dir` is
    created when missing; files of the same names in it are replaced.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import synth
    >>> from evalkit import as_predictor, build_report, run_probe
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=100)
    >>> results = run_probe(predictor, synth.SceneConfig(), n=8, seed=0, behaviour=False,
    ...                     resolutions=False, thresholds=False, n_bootstrap=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = build_report(results, Path(tmp) / "report")
    ...     page.name, sorted(p.name for p in page.parent.iterdir())[:2]
    ('report.html', ['metrics.csv', 'paper_reference.csv'])
    """
    return _write_all(out_dir, lambda: render_report(results, froc=froc, gates=gates),
                      "report.html")


def _write_all(out_dir: str | os.PathLike[str], render: Any, page: str) -> Path:
    """Check `out_dir`, render every file in memory, then write each atomically; the page."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got out_dir={str(out)!r}, a file.")
    files = render()  # every byte is ready before any is written
    for name, data in files.items():
        write_atomic(out / name, data)
    return out / page


def _tables(r: ProbeResults, froc: FROCResult | None = None,
            gates: Sequence[GateResult] = ()) -> dict[str, pd.DataFrame]:
    tables = {"metrics": r.metrics.to_frame(), "predictions": r.predictions,
              "paper_reference": _reference()}
    if r.sweeps:
        tables["sweeps"] = pd.concat([s.to_frame() for s in r.sweeps], ignore_index=True)
    if r.behaviour is not None:
        tables["behaviour"] = r.behaviour.table
    if r.cross_resolution is not None:
        tables["cross_resolution"] = r.cross_resolution
    if r.thresholds is not None:
        tables["failure_thresholds"] = r.thresholds
    if froc is not None:
        tables["froc"] = froc.table
        tables["froc_curve"] = froc.curve
        if froc.lroc is not None:
            tables["lroc_curve"] = froc.lroc
    if gates:
        tables["gates"] = gates_frame(gates)
    return tables


def _reference() -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = [
        (name, tn, fp, fn, tp, (tn + tp) / (tn + fp + fn + tp), tp / (tp + fn), tn / (tn + fp))
        for name, (tn, fp, fn, tp) in PAPER_REFERENCE.items()
    ]
    rows.append(("Lightweight CNN (seed 001)", None, None, None, None, LIGHTWEIGHT_ACCURACY,
                 None, None))
    return pd.DataFrame(rows, columns=["model", "tn", "fp", "fn", "tp", "accuracy", "recall",
                                       "specificity"])


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(r: ProbeResults, froc: FROCResult | None = None,
          gates: Sequence[GateResult] = ()) -> str:
    doc = {
        "model": r.model, "scenario": r.scenario, "seed": r.seed, "n": r.n,
        "resolution_um": r.resolution_um, "provenance": r.provenance,
        "backgrounds": r.backgrounds,
        "metrics": {"values": r.metrics.values, "ci": r.metrics.ci,
                    "notes": r.metrics.reasons, "threshold": r.metrics.threshold,
                    "confidence": r.metrics.confidence, "n_bootstrap": r.metrics.n_bootstrap},
        "sweeps": [s.to_frame().to_dict(orient="records") for s in r.sweeps],
        "behaviour": None if r.behaviour is None
        else r.behaviour.table.to_dict(orient="records"),
        "cross_resolution": None if r.cross_resolution is None
        else r.cross_resolution.to_dict(orient="records"),
        "failure_thresholds": None if r.thresholds is None
        else r.thresholds.to_dict(orient="records"),
        "gallery": [{k: v for k, v in g.items() if k != "image"} for g in r.gallery],
        "paper_reference": _reference().to_dict(orient="records"),
        "froc": None if froc is None else froc.to_dict(),
        "gates": [dataclasses.asdict(g) for g in gates],
    }
    return json.dumps(_clean(doc), indent=2, allow_nan=False)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–",
                         border=0, escape=True)


def _sweep_x(sweep: SweepResult) -> np.ndarray:
    """Where a sweep's conditions sit on a chart: their settings when they are numbers, else
    0, 1, 2, … (with the labels as ticks)."""
    numeric = sweep.numeric_settings()
    return (np.asarray(numeric, dtype=float) if numeric is not None
            else np.arange(len(sweep.conditions), dtype=float))


def _metric_line(ax: Any, frame: pd.DataFrame, conditions: list[str], xs: np.ndarray,
                 metric: str, *fmt: str, band_alpha: float = 0.2, **style: Any) -> None:
    """One metric of a sweep's table over `xs` (sorted), with its interval as a band."""
    order = np.argsort(xs, kind="stable")
    part = frame[frame.metric == metric].set_index("condition").loc[conditions]
    ax.plot(xs[order], part.value.to_numpy(float)[order], *fmt, marker="o", **style)
    ax.fill_between(xs[order], part.ci_low.to_numpy(float)[order],
                    part.ci_high.to_numpy(float)[order], alpha=band_alpha,
                    color=style.get("color"))


def _sweep_figure(sweep: SweepResult) -> Figure:
    """The metrics against the swept setting (a numeric axis when the settings are numbers)
    and, where the conditions' positive patches differ in it, against their median d′."""
    conditions = sweep.conditions
    numeric = sweep.numeric_settings()
    frame = sweep.metrics
    dprime = (frame.drop_duplicates("condition").set_index("condition")["dprime_k"]
              .reindex(conditions).to_numpy(float) if "dprime_k" in frame else None)
    physical = (dprime is not None and np.isfinite(dprime).all()
                and len(set(np.round(dprime, 6))) > 1)
    fig = Figure(figsize=(10 if physical else 7, 3.2))
    axes = fig.subplots(1, 2 if physical else 1, squeeze=False)[0]
    x = _sweep_x(sweep)
    panels: list[tuple[Any, np.ndarray, str]] = [(axes[0], x, sweep.parameter)]
    if physical and dprime is not None:
        panels.append((axes[1], dprime, "median d′ of the k-th MC (positive patches)"))
    for ax, xs, title in panels:
        for metric in ("recall", "specificity", "roc_auc"):
            _metric_line(ax, frame, conditions, xs, metric, label=metric)
        if numeric is None and ax is axes[0]:
            ax.set_xticks(x, conditions)
        ax.set_xlabel(title)
        ax.set_ylim(0, 1.02)
    axes[0].legend(fontsize=8)
    return fig


def _reliability_figure(pred: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(3.6, 3.4))
    ax = fig.add_subplot()
    bins = np.minimum((pred.probability * 10).astype(int), 9)
    grouped = pred.groupby(bins).agg(conf=("probability", "mean"), acc=("label", "mean"))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.plot(grouped.conf, grouped.acc, marker="o")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed share of class 1")
    ax.set_title("reliability")
    return fig


def _threshold_summary(frame: pd.DataFrame) -> str:
    found = frame.threshold.dropna()
    text = (f"<p>{len(found)} of {len(frame)} positive scenes detected at full contrast; "
            f"{int((~frame.found_at_high).sum())} missed even then.</p>")
    if len(found):
        q = found.quantile([0.1, 0.5, 0.9])
        text += (f"<p>Contrast needed: 10th percentile {q[0.1]:.3f}, median {q[0.5]:.3f}, "
                 f"90th percentile {q[0.9]:.3f}.</p>")
        fig = Figure(figsize=(4.5, 2.6))
        ax = fig.add_subplot()
        ax.hist(found, bins=12, range=(0, 1))
        ax.set_xlabel("smallest detected contrast")
        ax.set_ylabel("scenes")
        text += _png(fig)
    return text


def _gallery(r: ProbeResults) -> str:
    items = []
    for g in r.gallery:
        fig = Figure(figsize=(1.8, 1.8))
        ax = fig.add_subplot()
        ax.imshow(g["image"], cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        scene = ", ".join(f"{k} {v}" for k, v in g["scene"].items() if v not in (None, ""))
        items.append(f"<figure>{_png(fig)}<figcaption>{g['kind']} #{g['index']}, "
                     f"p={g['probability']:.2f}<br><small>{html.escape(scene)}</small>"
                     f"</figcaption></figure>")
    return "".join(items) or "<p>No errors at this threshold.</p>"


def _froc_section(froc: FROCResult) -> list[str]:
    detections = froc.unit == "detections"
    if detections:
        rule = DetectionRule(**(froc.rule or {}))
        low, high = froc.cpm_ci
        interval = ("" if np.isnan(low) else
                    f" ({100 * froc.level:g} % bootstrap over images {low:.3f}–{high:.3f})")
        area = lroc_area(froc.lroc)
        summary = (f"{froc.n_clusters} annotated clusters in {froc.n_images} scanned "
                   f"mammograms, {froc.n_detections} detections: {rule.describe()}; a second "
                   f"detection on a found cluster is not a false positive. CPM (mean "
                   f"sensitivity over the rates) {froc.cpm:.3f}{interval}."
                   + ("" if area is None else f" Area under the LROC curve {area:.3f}."))
    else:
        summary = (f"{froc.n_clusters} annotated clusters in {froc.n_images} scanned "
                   f"mammograms; a cluster is found when a window scoring at or above the "
                   f"threshold overlaps its box. CPM (mean sensitivity over the rates) "
                   f"{froc.cpm:.3f}.")
    fig = Figure(figsize=(4.8, 3.2))
    ax = fig.add_subplot()
    curve = pd.concat([pd.DataFrame({"fp_per_image": [0.0], "sensitivity": [0.0]}),
                       froc.curve[["fp_per_image", "sensitivity"]]])
    ax.plot(curve.fp_per_image, curve.sensitivity, drawstyle="steps-post")
    ax.plot(froc.table.fp_per_image, froc.table.sensitivity, "o")
    if "ci_low" in froc.table:
        ax.vlines(froc.table.fp_per_image, froc.table.ci_low, froc.table.ci_high, alpha=0.5)
    ax.set_xscale("symlog", linthresh=min(froc.fp_rates))
    ax.set_xlim(0, max(max(froc.fp_rates), float(curve.fp_per_image.max())) * 1.1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"mean false-positive {'detections' if detections else 'windows'} per image")
    ax.set_ylabel("sensitivity (clusters found)")
    parts = [f"<h2>FROC on whole mammograms ({froc.unit})</h2>",
             f"<p>{html.escape(summary)}</p>", _png(fig), _table(froc.table)]
    if detections and froc.windows is not None:
        parts += ["<h3>Diagnostic: the same scans counted in windows</h3>",
                  "<p>Not comparable with published FROCs: one point lies in many windows.</p>",
                  _table(froc.windows.table)]
    return parts


def _gates_section(gates: Sequence[GateResult]) -> list[str]:
    failed = sum(not g.passed for g in gates)
    shown = gates_frame(gates).assign(
        passed=lambda t: t.passed.map({True: "pass", False: "FAIL"}))
    return ["<h2>Gates</h2>",
            f"<p>{len(gates) - failed} of {len(gates)} gates passed.</p>", _table(shown)]


def _backgrounds_section(record: dict[str, Any] | None) -> list[str]:
    """Which of the user's images the MCs were inserted into (nothing for synthetic tissue)."""
    if not record:
        return []
    files = pd.DataFrame(record["files"])
    return ["<h2>Backgrounds</h2>",
            f"<p>The clean condition and the sweeps inserted the scenario's MCs into these "
            f"{len(files)} MC-free images (region {html.escape(str(record['region']))}, "
            f"presentation gain {record['gain']:.4g}, {html.escape(str(record['gain_source']))}"
            "); the behavioural tests, cross-resolution matrix and thresholds ran on synthetic "
            "tissue.</p>", _table(files)]


def _html(r: ProbeResults, froc: FROCResult | None = None,
          gates: Sequence[GateResult] = ()) -> str:
    m = r.metrics
    summary = (f"{m.n} patches at {r.resolution_um} µm (seed {r.seed}): accuracy "
               f"{m['accuracy']:.3f}, sensitivity {m['recall']:.3f}, specificity "
               f"{m['specificity']:.3f}, ROC AUC {m['roc_auc']:.3f}.")
    confusion = pd.DataFrame({"": ["true 0", "true 1"], "predicted 0": [m["tn"], m["fn"]],
                              "predicted 1": [m["fp"], m["tp"]]})
    parts = [f"<h1>Robustness report: {html.escape(str(r.model['name']))}</h1>",
             f"<p>{html.escape(summary)}</p>", *(_gates_section(gates) if gates else []),
             "<h2>Model</h2>",
             _table(pd.DataFrame([r.model])), "<h2>Scenario</h2>",
             f"<pre>{html.escape(json.dumps(r.scenario, indent=1))}</pre>",
             *_backgrounds_section(r.backgrounds),
             "<h2>Clean metrics (95 % bootstrap intervals)</h2>", _table(m.to_frame()),
             _table(confusion), _png(_reliability_figure(r.predictions))]
    for sweep in r.sweeps:
        parts += [f"<h2>Sweep: {html.escape(sweep.parameter)}</h2>", _png(_sweep_figure(sweep))]
    if r.behaviour is not None:
        table = r.behaviour.table
        shown = table.assign(passed=table.passed.map({True: "pass", False: "FAIL"}))
        parts += ["<h2>Behavioural tests</h2>", _table(shown)]
    if r.cross_resolution is not None:
        matrix = r.cross_resolution.pivot(index="metric", columns="resolution_um",
                                          values="value").reset_index()
        parts += ["<h2>Cross-resolution (same scenes, resampled to the model)</h2>",
                  _table(matrix)]
    if r.thresholds is not None:
        parts += ["<h2>Failure thresholds: smallest detected contrast per scene</h2>",
                  _threshold_summary(r.thresholds)]
    if froc is not None:
        parts += _froc_section(froc)
    parts += ["<h2>Worst errors</h2>", _gallery(r),
              "<h2>The papers' reference values (real patches)</h2>", _table(_reference()),
              f"<p><small>{html.escape(json.dumps(r.provenance))}</small></p>"]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Robustness report</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


# ---------------------------------------------------------------------------- comparisons
def render_comparison(result: ComparisonResult, *,
                      gates: Mapping[str, Sequence[GateResult]] | None = None
                      ) -> dict[str, bytes]:
    """The files of a model comparison (`evalkit.compare`), rendered in memory:
    comparison.html (the models' curves on shared charts, a verdict per condition),
    comparison.json and comparison.csv (the table of differences and tests).

    Parameters
    ----------
    result : ComparisonResult
    gates : mapping of model name to its GateResults, optional

    Examples
    --------
    >>> import synth
    >>> from evalkit import Predictor, compare, render_comparison
    >>> def scorer(fn, name):
    ...     return Predictor(fn, input_size=100, channels=1, resolution_um=100, name=name)
    >>> result = compare([scorer(lambda x: x.max(axis=(1, 2, 3)), "max"),
    ...                   scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")],
    ...                  synth.SceneConfig(), n=40, seed=0, n_bootstrap=100)
    >>> files = render_comparison(result)
    >>> sorted(files)
    ['comparison.csv', 'comparison.html', 'comparison.json']
    >>> import json
    >>> [m["name"] for m in json.loads(files["comparison.json"])["models"]]
    ['max', 'mean']
    """
    if not isinstance(result, ComparisonResult):
        raise TypeError("`result` must be the ComparisonResult of evalkit.compare.")
    gates = dict(gates or {})
    return {"comparison.html": _comparison_html(result, gates).encode(),
            "comparison.json": _comparison_json(result, gates).encode(),
            "comparison.csv": result.table.to_csv(index=False).encode()}


def build_comparison_report(result: ComparisonResult, out_dir: str | os.PathLike[str], *,
                            gates: Mapping[str, Sequence[GateResult]] | None = None) -> Path:
    """Write `render_comparison`'s files into `out_dir` (each atomically, all rendered first);
    return the path of comparison.html.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import synth
    >>> from evalkit import Predictor, build_comparison_report, compare
    >>> def scorer(fn, name):
    ...     return Predictor(fn, input_size=100, channels=1, resolution_um=100, name=name)
    >>> result = compare([scorer(lambda x: x.max(axis=(1, 2, 3)), "max"),
    ...                   scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")],
    ...                  synth.SceneConfig(), n=40, seed=0, n_bootstrap=100)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     build_comparison_report(result, Path(tmp) / "cmp").name
    'comparison.html'
    """
    return _write_all(out_dir, lambda: render_comparison(result, gates=gates),
                      "comparison.html")


def _comparison_json(result: ComparisonResult, gates: Mapping[str, Sequence[GateResult]]
                     ) -> str:
    first = result.results[0]
    doc = {
        "models": [r.model for r in result.results], "scenario": first.scenario,
        "seed": first.seed, "n": first.n, "resolution_um": first.resolution_um,
        "alpha": result.alpha, "provenance": first.provenance,
        "table": result.table.to_dict(orient="records"),
        "per_model": [{"model": r.model["name"],
                       "metrics": {"values": r.metrics.values, "ci": r.metrics.ci},
                       "sweeps": [s.to_frame().to_dict(orient="records") for s in r.sweeps]}
                      for r in result.results],
        "gates": {name: [dataclasses.asdict(g) for g in found]
                  for name, found in gates.items()},
    }
    return json.dumps(_clean(doc), indent=2, allow_nan=False)


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="stable")
    y = y[order]
    tp = np.concatenate([[0], np.cumsum(y)])
    fp = np.concatenate([[0], np.cumsum(1 - y)])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


def _comparison_figures(result: ComparisonResult) -> list[str]:
    figures = []
    fig = Figure(figsize=(4, 3.6))
    ax = fig.add_subplot()
    for r in result.results:
        y = r.predictions["label"].to_numpy(int)
        fpr, tpr = _roc_points(y, r.predictions["probability"].to_numpy(float))
        ax.plot(fpr, tpr, label=f"{r.model['name']} (AUC {r.metrics['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="#999", lw=0.8, ls=":")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title("clean condition", fontsize=9)
    ax.legend(fontsize=7)
    figures.append(_png(fig))
    for k, sweep in enumerate(result.results[0].sweeps):
        fig = Figure(figsize=(7, 3.2))
        ax = fig.add_subplot()
        conditions = sweep.conditions
        x = _sweep_x(sweep)
        for m, r in enumerate(result.results):
            for metric, style in (("roc_auc", "-"), ("recall", "--")):
                _metric_line(ax, r.sweeps[k].metrics, conditions, x, metric, style,
                             band_alpha=0.12, color=f"C{m % 10}",
                             label=f"{r.model['name']} {metric}")
        if sweep.numeric_settings() is None:
            ax.set_xticks(x, conditions)
        ax.set_xlabel(sweep.parameter)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
        figures.append(_png(fig))
    return figures


def _comparison_html(result: ComparisonResult,
                     gates: Mapping[str, Sequence[GateResult]]) -> str:
    first = result.results[0]
    names = " vs ".join(result.names)
    summary = (f"{first.n} patches per condition at {first.resolution_um} µm (seed "
               f"{first.seed}), the same patches for every model. AUC: DeLong's test; "
               f"sensitivity and specificity: paired bootstrap intervals and McNemar's exact "
               f"test on that class; accuracy: McNemar on all decisions. Verdicts at "
               f"alpha = {result.alpha:g}.")
    cards = pd.DataFrame([{**r.model, **{m: r.metrics[m] for m in
                                         ("accuracy", "recall", "specificity", "roc_auc")}}
                          for r in result.results])
    parts = [f"<h1>Model comparison: {html.escape(names)}</h1>",
             f"<p>{html.escape(summary)}</p>", "<h2>Models (clean condition)</h2>",
             _table(cards), "<h2>Verdicts on ROC AUC</h2>", _table(result.verdicts()),
             *_comparison_figures(result), "<h2>Every difference</h2>", _table(result.table)]
    for name, found in gates.items():
        parts += [f"<h2>Gates: {html.escape(name)}</h2>", _table(gates_frame(found))]
    parts.append(f"<p><small>{html.escape(json.dumps(first.provenance))}</small></p>")
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Model comparison"
            f"</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def read_report(doc: Mapping[str, Any]) -> ProbeResults:
    """The `ProbeResults` of a ``report.json`` (`render_report`), read back: every number of
    the report (NaN where it holds null: a NaN or an infinity), without the per-patch
    predictions, the failing cases of the behavioural tests and the gallery's images, which
    it does not hold.

    Parameters
    ----------
    doc : mapping
        The parsed ``report.json``.

    Raises
    ------
    ValueError
        In one sentence naming the field, where `doc` is not a report of `render_report`.

    Examples
    --------
    >>> import json
    >>> import synth
    >>> from evalkit import as_predictor, read_report, render_report, run_probe
    >>> predictor = as_predictor(lambda x: x.max(axis=(1, 2, 3)), resolution_um=100)
    >>> results = run_probe(predictor, synth.SceneConfig(), n=16, seed=0,
    ...     sweeps=[("contrast", [0.2, 0.8])], behaviour=False, resolutions=False,
    ...     thresholds=False, n_bootstrap=0)
    >>> back = read_report(json.loads(render_report(results)["report.json"]))
    >>> back.metrics.values == results.metrics.values, back.sweeps[0].conditions
    (True, ['0.2', '0.8'])
    >>> read_report({"n": 8})
    Traceback (most recent call last):
    ...
    ValueError: `metrics` must be an object; got metrics=None.
    """
    doc = _object(doc, "report")
    m = _object(doc.get("metrics"), "metrics")
    values = {str(k): (_count(v, f"metrics.values.{k}") if k in COUNTS
                       else _number(v, f"metrics.values.{k}"))
              for k, v in _object(m.get("values"), "metrics.values").items()}
    ci = {}
    for key, pair in _object(m.get("ci"), "metrics.ci").items():
        where = f"metrics.ci.{key}"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"`{where}` must be a pair [low, high]; got {_short(pair)}.")
        ci[str(key)] = (_number(pair[0], where), _number(pair[1], where))
    seed, n = _count(doc.get("seed"), "seed"), _count(doc.get("n"), "n")
    res = _count(doc.get("resolution_um"), "resolution_um")
    tp_fn = [values.get(k, 0.0) for k in ("tp", "fn")]
    metrics = Metrics(values=values, ci=ci,
                      reasons={str(k): str(v) for k, v in
                               _object(m.get("notes") or {}, "metrics.notes").items()},
                      n=n, n_positive=int(sum(tp_fn)),
                      threshold=_number(m.get("threshold"), "metrics.threshold"),
                      confidence=_number(m.get("confidence"), "metrics.confidence"),
                      n_bootstrap=_count(m.get("n_bootstrap") or 0, "metrics.n_bootstrap"))
    sweeps = []
    for k, rows in enumerate(_list(doc.get("sweeps") or [], "sweeps")):
        frame = _records(rows, f"sweeps[{k}]")
        if frame.empty or "parameter" not in frame.columns:
            raise ValueError(f"`sweeps[{k}]` must be the rows of one sweep, with a parameter.")
        sweeps.append(SweepResult(parameter=str(frame["parameter"].iloc[0]),
                                  metrics=frame.drop(columns="parameter"),
                                  predictions=pd.DataFrame(), seed=seed, resolution_um=res,
                                  n_bootstrap=metrics.n_bootstrap))
    behaviour = None
    if doc.get("behaviour") is not None:
        behaviour = BehaviourResult(table=_records(doc["behaviour"], "behaviour"),
                                    failures=pd.DataFrame(), threshold=metrics.threshold,
                                    tolerance=0.0, seed=seed, resolution_um=res)
    optional = {name: None if doc.get(name) is None else _records(doc[name], name)
                for name in ("cross_resolution", "failure_thresholds")}
    backgrounds = doc.get("backgrounds")
    return ProbeResults(
        model=dict(_object(doc.get("model"), "model")),
        scenario=dict(_object(doc.get("scenario"), "scenario")), seed=seed, n=n,
        resolution_um=res, metrics=metrics, predictions=pd.DataFrame(), sweeps=tuple(sweeps),
        behaviour=behaviour, cross_resolution=optional["cross_resolution"],
        thresholds=optional["failure_thresholds"],
        gallery=tuple(dict(_object(g, f"gallery[{k}]"))
                      for k, g in enumerate(_list(doc.get("gallery") or [], "gallery"))),
        provenance=dict(_object(doc.get("provenance") or {}, "provenance")),
        backgrounds=None if backgrounds is None else dict(_object(backgrounds, "backgrounds")))


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"`{name}` must be an object; got {name}={_short(value)}.")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"`{name}` must be a list; got {name}={_short(value)}.")
    return value


def _records(value: Any, name: str) -> pd.DataFrame:
    rows = _list(value, name)
    for k, row in enumerate(rows):
        _object(row, f"{name}[{k}]")
    frame = pd.DataFrame.from_records(rows)
    empty = [c for c in frame.columns if frame[c].isna().all() and frame[c].dtype == object]
    return frame.astype(dict.fromkeys(empty, float))  # a column of nulls: NaN, as written


def _number(value: Any, name: str) -> float:
    """A number of report.json (null: NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{name}` must be a number or null; got {name}={_short(value)}.")
    return float(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0; got {name}={_short(value)}.")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"
