"""Reports rebuilt or merged from saved report.json / comparison.json files, without a model.

`merge_reports` reads each source (a report folder, or the JSON file itself) and
`render_merged` draws one page over all of them: a summary row per model (clean metrics with
their intervals, gates passed, FROC CPM), and for every swept parameter one chart with every
source's curves on shared axes. merged.json holds every source document unchanged, so the
merged report is exactly the union of its sources.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._report import _STYLE, _png, _table, _write_all

__all__ = ["MergedReport", "build_merged_report", "check_merged", "merge_reports", "render_merged",
           "report_kind"]

_NAMES = ("report.json", "comparison.json")


@dataclass(frozen=True)
class MergedReport:
    """Saved reports read back: one entry per source, in the order given.

    Attributes
    ----------
    sources : tuple of (path, kind, document) — kind is "probe" or "comparison"
    """

    sources: tuple[tuple[str, str, dict[str, Any]], ...]

    def models(self) -> pd.DataFrame:
        """One row per model of every source: source, model, clean metrics, gates passed."""
        rows = []
        for path, kind, doc in self.sources:
            for name, metrics, gates in _per_model(kind, doc):
                values, ci = metrics.get("values", {}), metrics.get("ci", {})
                row: dict[str, Any] = {"source": path, "model": name}
                for metric in ("accuracy", "recall", "specificity", "roc_auc"):
                    low, high = ci.get(metric) or (None, None)
                    row[metric] = values.get(metric)
                    row[f"{metric}_ci"] = (f"{low:.3f}–{high:.3f}" if low is not None
                                           and high is not None else "")
                row["gates"] = (f"{sum(g['passed'] for g in gates)}/{len(gates)}" if gates
                                else "")
                froc = doc.get("froc") if kind == "probe" else None
                row["froc_cpm"] = None if not froc else froc.get("cpm")
                rows.append(row)
        return pd.DataFrame(rows)

    def sweeps(self) -> pd.DataFrame:
        """Every sweep row of every source and model, with its source and model."""
        frames = []
        for path, kind, doc in self.sources:
            for name, sweeps in _sweeps(kind, doc):
                for rows in sweeps:
                    frames.append(pd.DataFrame(rows).assign(source=path, model=name))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def merge_reports(paths: Sequence[str | os.PathLike[str]]) -> MergedReport:
    """Read saved reports: each path a report folder (holding report.json or
    comparison.json) or one of those files.

    Raises
    ------
    ValueError
        Naming the path: missing, not a report of ours, or unreadable JSON.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import synth
    >>> from evalkit import as_predictor, build_report, merge_reports, run_probe
    >>> tmp = Path(tempfile.mkdtemp())
    >>> for name, fn in (("max", lambda x: x.max(axis=(1, 2, 3))),
    ...                  ("mean", lambda x: x.mean(axis=(1, 2, 3)))):
    ...     results = run_probe(as_predictor(fn, resolution_um=100), synth.SceneConfig(),
    ...                         n=20, seed=0, sweeps=[("contrast", [0.3, 0.9])],
    ...                         behaviour=False, resolutions=False, thresholds=False,
    ...                         n_bootstrap=0)
    ...     _ = build_report(results, tmp / name)
    >>> merged = merge_reports([tmp / "max", tmp / "mean"])
    >>> [kind for _, kind, _ in merged.sources], len(merged.models())
    (['probe', 'probe'], 2)
    """
    if isinstance(paths, (str, os.PathLike)) or not len(paths):
        raise ValueError("`paths` must be a non-empty list of report folders or files.")
    sources = []
    for raw in paths:
        path = Path(raw)
        file = next((path / n for n in _NAMES if (path / n).is_file()), None) if path.is_dir() \
            else path
        if file is None or not file.is_file():
            raise ValueError(f"`paths`: {str(path)!r} holds no report.json or comparison.json.")
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"`paths`: {str(file)!r} is not readable JSON ({exc}).") from None
        kind = report_kind(doc)
        if kind is None:
            raise ValueError(f"`paths`: {str(file)!r} is not a report of mcc probe.")
        sources.append((str(path), kind, doc))
    merged = MergedReport(tuple(sources))
    check_merged(merged)
    return merged


def check_merged(merged: MergedReport) -> None:
    """Every source is a complete report (what `render_merged` reads from it); ValueError
    naming the first that is not.

    Examples
    --------
    >>> from evalkit import MergedReport, check_merged
    >>> check_merged(MergedReport((("a.json", "comparison", {"models": [], "table": [{}]}),)))
    Traceback (most recent call last):
    ...
    ValueError: report source 'a.json' is incomplete: no 'metric' in its comparison table.
    """
    for path, kind, doc in merged.sources:
        one = MergedReport(((path, kind, doc),))
        try:
            one.models()
            sweeps = one.sweeps()
            if not sweeps.empty:
                for column in ("parameter", "condition", "metric", "value"):
                    if column not in sweeps:
                        raise KeyError(column)
                sweeps["value"].astype(float)
            if kind == "comparison":
                table = pd.DataFrame(doc["table"])
                for column in ("metric", "condition", "model_a", "model_b", "difference",
                               "p_value", "verdict"):
                    if len(table) and column not in table:
                        raise KeyError(column)
        except KeyError as exc:
            where = "comparison table" if kind == "comparison" else "report"
            raise ValueError(f"report source {path!r} is incomplete: no {exc} in its "
                             f"{where}.") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"report source {path!r} is malformed ({exc}).") from None


def report_kind(doc: Any) -> str | None:
    """"probe" for a report.json, "comparison" for a comparison.json, else None.

    Examples
    --------
    >>> from evalkit import report_kind
    >>> report_kind({"model": {}, "metrics": {}}), report_kind({"models": [], "table": []})
    ('probe', 'comparison')
    >>> report_kind([1, 2]) is None
    True
    """
    if not isinstance(doc, dict):
        return None
    if "models" in doc and "table" in doc:
        return "comparison"
    if "model" in doc and "metrics" in doc:
        return "probe"
    return None


def render_merged(merged: MergedReport) -> dict[str, bytes]:
    """The merged report's files: report.html, merged.json (every source unchanged) and
    models.csv / sweeps.csv.

    Examples
    --------
    >>> from evalkit import MergedReport, render_merged
    >>> doc = {"model": {"name": "m"}, "metrics": {"values": {"accuracy": 0.9}, "ci": {}},
    ...        "sweeps": [], "n": 10, "resolution_um": 70}
    >>> files = render_merged(MergedReport((("run", "probe", doc),)))
    >>> sorted(files)
    ['merged.json', 'models.csv', 'report.html']
    """
    check_merged(merged)
    models = merged.models()
    sweeps = merged.sweeps()
    doc = {"sources": [{"path": path, "kind": kind, "document": d}
                       for path, kind, d in merged.sources]}
    files = {"merged.json": json.dumps(doc, indent=2, allow_nan=False).encode(),
             "models.csv": models.to_csv(index=False).encode()}
    if not sweeps.empty:
        files["sweeps.csv"] = sweeps.to_csv(index=False).encode()
    parts = [f"<h1>Merged report of {len(merged.sources)} source"
             f"{'s' if len(merged.sources) > 1 else ''}</h1>",
             "<p>Rebuilt from saved reports without running a model. Sources: "
             + html.escape(", ".join(p for p, _, _ in merged.sources)) + ".</p>",
             "<h2>Models (clean condition, 95 % intervals)</h2>", _table(models)]
    if not sweeps.empty:
        for parameter, part in sweeps.groupby("parameter", sort=False):
            parts += [f"<h2>Sweep: {html.escape(str(parameter))}</h2>",
                      _png(_merged_sweep_figure(part, str(parameter)))]
    for path, kind, d in merged.sources:
        if kind == "comparison":
            verdicts = pd.DataFrame(d["table"])
            verdicts = verdicts[verdicts["metric"] == "roc_auc"][
                ["condition", "model_a", "model_b", "difference", "p_value", "verdict"]]
            parts += [f"<h2>Verdicts of {html.escape(path)} (ROC AUC)</h2>", _table(verdicts)]
    body = "\n".join(parts)
    files["report.html"] = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Merged "
                            f"report</title><style>{_STYLE}</style></head><body>{body}"
                            f"</body></html>").encode()
    return files


def _merged_sweep_figure(part: pd.DataFrame, parameter: str) -> Figure:
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(part["condition"]))
    settings = part.drop_duplicates("condition").set_index("condition").get("setting")
    numeric = settings is not None and all(isinstance(v, int | float) and not isinstance(v, bool)
                                           for v in settings.reindex(labels))
    position = (dict(zip(labels, settings.reindex(labels).astype(float), strict=True))
                if numeric else {c: k for k, c in enumerate(labels)})
    for (source, model), rows in part.groupby(["source", "model"], sort=False):
        for metric, style in (("roc_auc", "-"), ("recall", "--")):
            line = rows[rows["metric"] == metric]
            if line.empty:
                continue
            x = np.array([position[c] for c in line["condition"]], dtype=float)
            order = np.argsort(x)
            ax.plot(x[order], line["value"].to_numpy(float)[order], style, marker="o",
                    label=f"{model} {metric}" + ("" if part["source"].nunique() == 1
                                                 else f" ({Path(str(source)).name})"))
    if not numeric:
        ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(parameter)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    return fig


def _per_model(kind: str, doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], list]]:
    if kind == "probe":
        return [(str(doc.get("model", {}).get("name", "model")), doc.get("metrics", {}),
                 list(doc.get("gates") or []))]
    gates = doc.get("gates") or {}
    return [(str(m["model"]), m.get("metrics", {}), list(gates.get(m["model"], [])))
            for m in doc.get("per_model", [])]


def _sweeps(kind: str, doc: dict[str, Any]) -> list[tuple[str, list[list[dict]]]]:
    if kind == "probe":
        return [(str(doc.get("model", {}).get("name", "model")), doc.get("sweeps") or [])]
    return [(str(m["model"]), m.get("sweeps") or []) for m in doc.get("per_model", [])]


def build_merged_report(merged: MergedReport, out_dir: str | os.PathLike[str]) -> Path:
    """Write `render_merged`'s files into `out_dir` (rendered first, each written atomically);
    return the path of report.html. `out_dir` must not be one of the sources.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from evalkit import MergedReport, build_merged_report
    >>> doc = {"model": {"name": "m"}, "metrics": {"values": {}, "ci": {}}, "sweeps": []}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     build_merged_report(MergedReport((("run", "probe", doc),)), Path(tmp) / "m").name
    'report.html'
    """
    out = Path(out_dir).resolve()
    for path, _, _ in merged.sources:
        source = Path(path).resolve()
        if out in (source, source.parent if source.is_file() else source):
            raise ValueError(f"`out_dir` {str(out_dir)!r} is a source of the merge; choose "
                             "another folder (its report.html would be replaced).")
    return _write_all(out_dir, lambda: render_merged(merged), "report.html")
