"""A dashboard session as text: the scenario in the URL's query parameters, and the whole
session (scenario, models named by SHA-256, probe results, the last scan) as one JSON file.

Plain functions, without Streamlit. A probe's results travel as the ``report.json`` that
`evalkit.render_report` writes, and are read back by `evalkit.read_report`, so a saved
session shows the same numbers when it is loaded again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import synth

from ._command import ProbeSettings
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

MAX_SESSION_BYTES = 4 * 2**20
"""The largest session file read (4 MiB: ten probes' reports take well under one)."""
MAX_PROBES = 10
"""The most probes a session keeps (its history) and a session file may hold."""
_MAX_DEPTH = 32  # report.json nests 5 deep; anything far deeper is not ours


@dataclass(frozen=True)
class SavedProbe:
    """One probe of a session file: its model (by name and SHA-256), its settings (the
    `mcc probe` line's) and its results as ``report.json``. `read_session` also gives what
    they hold, read and checked (not compared, not saved): ``results``
    (`evalkit.read_report`), ``probe_settings`` and ``scenario`` (the report's own)."""

    model: dict[str, Any]
    settings: dict[str, Any]
    report: dict[str, Any]
    results: Any = field(default=None, compare=False, repr=False)
    probe_settings: ProbeSettings | None = field(default=None, compare=False, repr=False)
    scenario: synth.SceneConfig | None = field(default=None, compare=False, repr=False)


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
    """`session` as one JSON file (UTF-8); NaN and infinities are written as null (JSON has
    neither), as in ``report.json``.

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
    return (json.dumps(_finite(doc), indent=1, allow_nan=False) + "\n").encode()


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Refused(ValueError):
    """A field of a session file that is not valid (its message names the field)."""


def read_session(data: bytes, name: str = "the session file") -> SessionFile:
    """A session file's contents (`session_file`), every field read and checked before
    anything is returned, so that a bad file changes nothing.

    Raises
    ------
    ValueError
        In one sentence naming the field: too large, not JSON, not a session file of this
        dashboard, or a scenario, view, probe or scan that is not valid.

    Examples
    --------
    >>> from mcc_app import read_session
    >>> read_session(b'{"format": "something else"}', "mine.json")
    Traceback (most recent call last):
    ...
    ValueError: mine.json is not a dashboard session file (its "format" is not
      "mcc-dashboard-session").
    >>> read_session(b'{"format": "mcc-dashboard-session", "version": 1, "scenario": {}, '
    ...              b'"generate": {"seed": -5}}', "mine.json")
    Traceback (most recent call last):
    ...
    ValueError: mine.json is not a valid session: `generate.seed` must be an integer within
      [0, 2**31 - 1]; got seed=-5.
    """
    if len(data) > MAX_SESSION_BYTES:
        raise ValueError(f"{name} is {len(data) / 2**20:.1f} MiB: a session file holds at "
                         f"most {MAX_SESSION_BYTES // 2**20} MiB.")
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except _Refused as exc:
        raise ValueError(f"{name} is not a valid session: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{name} is not readable JSON ({type(exc).__name__}).") from None
    except RecursionError:
        raise ValueError(f"{name} is not a valid session: it nests deeper than "
                         f"{_MAX_DEPTH} levels.") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise ValueError(f'{name} is not a dashboard session file (its "format" is not '
                         f'"{SESSION_FORMAT}").')
    try:
        _check_depth(doc)
        return _session(doc)
    except _Refused as exc:
        raise ValueError(f"{name} is not a valid session: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError,
            OverflowError) as exc:  # a rule of a library below, in its own words
        raise ValueError(f"{name} is not a valid session: {type(exc).__name__}: "
                         f"{exc}") from None


def _no_constant(word: str) -> Any:
    raise _Refused(f"it holds {word}, which JSON does not allow (session files write null).")


def _check_depth(doc: Any) -> None:
    """Refuse a document nested deeper than `_MAX_DEPTH` (checked without recursion)."""
    todo = [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if depth > _MAX_DEPTH:
            raise _Refused(f"it nests deeper than {_MAX_DEPTH} levels.")
        children = (value.values() if isinstance(value, dict)
                    else value if isinstance(value, list) else ())
        todo.extend((child, depth + 1) for child in children)


def _session(doc: dict[str, Any]) -> SessionFile:
    if doc.get("version") != SESSION_VERSION:
        raise _Refused(f"`version` must be {SESSION_VERSION} (this dashboard\'s); "
                       f"got version={_short(doc.get('version'))}.")
    scenario = _scenario(doc.get("scenario"), "scenario")
    view = _mapping(doc.get("generate", {}), "generate")
    resolution = _exact_int(view.get("resolution_um", DEFAULT_RESOLUTION_UM),
                          "generate.resolution_um")
    try:
        synth.check_resolution(resolution)
    except ValueError as exc:
        raise _Refused(f"`generate.resolution_um`: {exc}") from None
    seed = _exact_int(view.get("seed", 0), "generate.seed")
    if not 0 <= seed < 2**31:
        raise _Refused(f"`generate.seed` must be an integer within [0, 2**31 - 1]; "
                       f"got seed={seed}.")
    probes = doc.get("probes") or []
    if not isinstance(probes, list) or len(probes) > MAX_PROBES:
        raise _Refused(f"`probes` must be a list of at most {MAX_PROBES} probes; got "
                       f"{_short(probes) if not isinstance(probes, list) else len(probes)}.")
    scan = doc.get("scan")
    if scan is not None:
        scan = dict(_mapping(scan, "scan"))
    return SessionFile(scenario, resolution, seed,
                       tuple(_probe(p, f"probes[{k}]") for k, p in enumerate(probes)), scan)


def _probe(doc: Any, where: str) -> SavedProbe:
    import evalkit

    doc = _mapping(doc, where)
    model = dict(_mapping(doc.get("model"), f"{where}.model"))
    for key, kinds in (("name", str), ("sha256", str), ("bundled", (int, type(None)))):
        if not isinstance(model.get(key), kinds) or isinstance(model.get(key), bool):
            raise _Refused(f"`{where}.model.{key}` is missing or of the wrong type; got "
                           f"{_short(model.get(key))}.")
    settings = dict(_mapping(doc.get("settings"), f"{where}.settings"))
    report = dict(_mapping(doc.get("report"), f"{where}.report"))
    try:
        results = evalkit.read_report(report)
    except ValueError as exc:
        raise _Refused(f"`{where}.report`: {exc}") from None
    return SavedProbe(model, settings, report, results=results,
                      probe_settings=_settings(settings, f"{where}.settings"),
                      scenario=_scenario(report.get("scenario"), f"{where}.report.scenario"))


_SETTING_KINDS: dict[str, Any] = {
    "model": (str, type(None)), "resolution_um": int, "n": int, "seed": int,
    "n_bootstrap": int, "behaviour": bool, "cross_resolution": bool, "thresholds": bool,
    "backgrounds": (str, type(None)), "spacing_um": (int, float, type(None))}


def _settings(doc: dict[str, Any], where: str) -> ProbeSettings:
    """`ProbeSettings` of a saved probe, every field of the right type."""
    unknown = sorted(set(doc) - {*_SETTING_KINDS, "sweeps"})
    if unknown:
        raise _Refused(f"`{where}` has unknown fields {unknown}.")
    for key, kinds in _SETTING_KINDS.items():
        value = doc.get(key)
        wrong = isinstance(value, bool) and kinds in (int, (int, float, type(None)))
        if key in doc and (wrong or not isinstance(value, kinds)):
            raise _Refused(f"`{where}.{key}` is of the wrong type; got {_short(value)}.")
    sweeps = doc.get("sweeps", [])
    if not isinstance(sweeps, list) or not all(
            isinstance(s, list) and len(s) == 2 and isinstance(s[0], str)
            and isinstance(s[1], list) for s in sweeps):
        raise _Refused(f"`{where}.sweeps` must be a list of [name, [values]]; "
                       f"got {_short(sweeps)}.")
    return ProbeSettings(**{**doc, "sweeps": [(n, list(v)) for n, v in sweeps]})


def _scenario(doc: Any, where: str) -> synth.SceneConfig:
    try:
        return synth.SceneConfig.from_dict(_mapping(doc, where))
    except (ValueError, TypeError) as exc:
        raise _Refused(f"`{where}` is not a valid scenario: {exc}") from None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Refused(f"`{where}` must be an object; got {_short(value)}.")
    return value


def _exact_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"`{where}` must be an integer; got {_short(value)}.")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"
