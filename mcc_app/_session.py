"""A dashboard session as text: the scenario in the URL's query parameters, and the whole
session (scenario, models named by SHA-256, probe results, the last scan) as one JSON file.

Plain functions, without Streamlit. A probe's results travel as the ``report.json`` that
`evalkit.render_report` writes, and are rebuilt from it (`results_from_report`), so a saved
session shows the same numbers when it is loaded again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

import synth

from ._controls import DEFAULT_RESOLUTION_UM

SESSION_FORMAT = "mcc-dashboard-session"
"""The ``format`` field of a saved session file."""
SESSION_VERSION = 1


def scenario_query(config: synth.SceneConfig, *, resolution_um: int = DEFAULT_RESOLUTION_UM,
                   seed: int = 0) -> dict[str, str]:
    """The query parameters that restore `config` and the Generate page's resolution and seed.

    Only the fields that differ from the defaults are written (as compact JSON, with the
    config's version), so a link stays short; the defaults give no ``scenario`` parameter.

    Examples
    --------
    >>> import synth
    >>> from mcc_app import scenario_query
    >>> scenario_query(synth.SceneConfig())
    {'res': '70', 'seed': '0'}
    >>> scenario_query(synth.SceneConfig(contrast_range=(0.1, 0.2)), resolution_um=50,
    ...                seed=3)  # doctest: +ELLIPSIS
    {'scenario': '{"version":...,"contrast_range":[0.1,0.2]}', 'res': '50', 'seed': '3'}
    """
    ours = config.to_dict()
    default = synth.SceneConfig().to_dict()
    changed = {k: v for k, v in ours.items() if default.get(k) != v}
    if changed and "version" in ours:  # a file without its version reads as the oldest one
        changed = {"version": ours["version"], **changed}
    query = {"scenario": json.dumps(changed, separators=(",", ":"))} if changed else {}
    return {**query, "res": str(int(resolution_um)), "seed": str(int(seed))}


@dataclass(frozen=True)
class QueryView:
    """What a link's query parameters restore (None: not in the link)."""

    scenario: synth.SceneConfig | None
    resolution_um: int | None
    seed: int | None


def view_from_query(params: Mapping[str, str]) -> QueryView:
    """The scenario, resolution and seed of a link's query parameters (`scenario_query`).

    Raises
    ------
    ValueError
        In one sentence naming the parameter, for a value that is not valid.

    Examples
    --------
    >>> from mcc_app import scenario_query, view_from_query
    >>> import synth
    >>> config = synth.SceneConfig(distribution="linear")
    >>> view = view_from_query(scenario_query(config, resolution_um=100, seed=7))
    >>> view.scenario == config, view.resolution_um, view.seed
    (True, 100, 7)
    >>> view_from_query({}).scenario is None
    True
    >>> view_from_query({"res": "60"})
    Traceback (most recent call last):
    ...
    ValueError: the link's `res` must be one of (50, 70, 100); got res='60'.
    """
    config = None
    if params.get("scenario"):
        try:
            config = synth.SceneConfig.from_json(params["scenario"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"the link's `scenario` is not a valid scenario: {exc}") from None
    resolution = _integer(params, "res")
    if resolution is not None and resolution not in synth.RESOLUTIONS_UM:
        raise ValueError(f"the link's `res` must be one of {synth.RESOLUTIONS_UM}; "
                         f"got res={params['res']!r}.")
    seed = _integer(params, "seed")
    if seed is not None and not 0 <= seed < 2**31:
        raise ValueError(f"the link's `seed` must lie within [0, 2**31 - 1]; "
                         f"got seed={params['seed']!r}.")
    return QueryView(config, resolution, seed)


def _integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"the link's `{name}` must be an integer; got {name}={text!r}.") from None


# --------------------------------------------------------------------------- session files


@dataclass(frozen=True)
class SavedProbe:
    """One probe of a session file: its model (by name and SHA-256), its settings (the
    `mcc probe` line's) and its results as ``report.json``."""

    model: dict[str, Any]
    settings: dict[str, Any]
    report: dict[str, Any]


@dataclass(frozen=True)
class SessionFile:
    """A saved dashboard session (`session_file` writes it, `read_session` reads it)."""

    scenario: synth.SceneConfig
    resolution_um: int
    seed: int
    probes: tuple[SavedProbe, ...] = ()
    scan: dict[str, Any] | None = None
    """The last scan's summary, as ``scan.json`` of `mcc scan`."""


def session_file(session: SessionFile) -> bytes:
    """`session` as one JSON file (UTF-8).

    Examples
    --------
    >>> import synth
    >>> from mcc_app import SessionFile, read_session, session_file
    >>> saved = SessionFile(synth.SceneConfig(mc_count_range=(4, 9)), 70, 3)
    >>> read_session(session_file(saved)) == saved
    True
    """
    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
           "scenario": session.scenario.to_dict(),
           "generate": {"resolution_um": session.resolution_um, "seed": session.seed},
           "probes": [{"model": p.model, "settings": p.settings, "report": p.report}
                      for p in session.probes],
           "scan": session.scan}
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def read_session(data: bytes, name: str = "the session file") -> SessionFile:
    """A session file's contents (`session_file`), checked.

    Raises
    ------
    ValueError
        In one sentence: not JSON, not a session file of this dashboard, or a scenario or
        view that is not valid.

    Examples
    --------
    >>> from mcc_app import read_session
    >>> read_session(b'{"format": "something else"}', "mine.json")
    Traceback (most recent call last):
    ...
    ValueError: mine.json is not a dashboard session file (its "format" is not
      "mcc-dashboard-session").
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name} is not readable JSON ({type(exc).__name__}).") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise ValueError(f'{name} is not a dashboard session file (its "format" is not '
                         f'"{SESSION_FORMAT}").')
    try:
        scenario = synth.SceneConfig.from_dict(doc["scenario"])
        view = doc.get("generate") or {}
        resolution = synth.check_resolution(int(view.get("resolution_um",
                                                         DEFAULT_RESOLUTION_UM)))
        probes = tuple(SavedProbe(dict(p["model"]), dict(p["settings"]), dict(p["report"]))
                       for p in doc.get("probes") or ())
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a valid session: {exc}") from None
    return SessionFile(scenario, resolution, int(view.get("seed", 0)), probes, doc.get("scan"))


def results_from_report(doc: Mapping[str, Any]) -> Any:
    """`evalkit.ProbeResults` rebuilt from its ``report.json`` (`evalkit.render_report`):
    every number of the report; no per-patch predictions and no gallery images (the report
    holds none).

    Examples
    --------
    >>> import json
    >>> import synth, evalkit
    >>> from mcc_app import results_from_report
    >>> predictor = evalkit.as_predictor(lambda x: x.max(axis=(1, 2, 3)), resolution_um=100)
    >>> results = evalkit.run_probe(predictor, synth.SceneConfig(), n=16, seed=0,
    ...     sweeps=[("contrast", [0.2, 0.8])], behaviour=False, resolutions=False,
    ...     thresholds=False, n_bootstrap=0)
    >>> back = results_from_report(json.loads(evalkit.render_report(results)["report.json"]))
    >>> back.metrics.values == results.metrics.values, back.sweeps[0].conditions
    (True, ['0.2', '0.8'])
    """
    import evalkit

    m = doc["metrics"]
    values = {k: (float("nan") if v is None else v) for k, v in m["values"].items()}
    metrics = evalkit.Metrics(
        values=values, ci={k: (_nan(v[0]), _nan(v[1])) for k, v in m["ci"].items()},
        reasons=dict(m.get("notes") or {}), n=int(doc["n"]),
        n_positive=int(values.get("n_positive", values.get("tp", 0) + values.get("fn", 0))),
        threshold=float(m["threshold"]), confidence=float(m["confidence"]),
        n_bootstrap=int(m.get("n_bootstrap") or 0))
    sweeps = tuple(
        evalkit.SweepResult(parameter=str(rows[0]["parameter"]),
                            metrics=_frame(rows).drop(columns="parameter"),
                            predictions=pd.DataFrame(), seed=int(doc["seed"]),
                            resolution_um=int(doc["resolution_um"]),
                            n_bootstrap=metrics.n_bootstrap)
        for rows in doc.get("sweeps") or () if rows)
    behaviour = None
    if doc.get("behaviour") is not None:
        behaviour = evalkit.BehaviourResult(
            table=_frame(doc["behaviour"]), failures=pd.DataFrame(),
            threshold=metrics.threshold, tolerance=0.0, seed=int(doc["seed"]),
            resolution_um=int(doc["resolution_um"]))
    return evalkit.ProbeResults(
        model=dict(doc["model"]), scenario=dict(doc["scenario"]), seed=int(doc["seed"]),
        n=int(doc["n"]), resolution_um=int(doc["resolution_um"]), metrics=metrics,
        predictions=pd.DataFrame(), sweeps=sweeps, behaviour=behaviour,
        cross_resolution=_optional_frame(doc.get("cross_resolution")),
        thresholds=_optional_frame(doc.get("failure_thresholds")),
        gallery=tuple(dict(g) for g in doc.get("gallery") or ()),
        provenance=dict(doc.get("provenance") or {}), backgrounds=doc.get("backgrounds"))


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows))


def _optional_frame(rows: Sequence[Mapping[str, Any]] | None) -> pd.DataFrame | None:
    return None if rows is None else _frame(rows)
