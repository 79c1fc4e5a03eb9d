"""What survives a page switch or a reload: long work on its own thread (drawn with progress,
a time estimate and a Stop button), the session's probe history, the scenario in the URL, and
the whole session saved to / loaded from one JSON file. Imports Streamlit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st

from . import _state as state
from ._controls import DEFAULT_RESOLUTION_UM
from ._jobs import Job, start_job
from ._session import (
    MAX_PROBES,
    MAX_SESSION_BYTES,
    SavedProbe,
    SessionFile,
    read_session,
    scenario_query,
    session_file,
    view_from_query,
)

PROBE_JOB, COMPARE_JOB = "probe_job", "compare_job"
LOADED_SCAN = "scan_summary_loaded"
"""Session-state key of the scan summary of a loaded session file."""
"""Session-state keys of the running probe and comparison (`Job`s)."""
_URL_READ = "_url_read"
_NOTICE = "_live_notices"


# --------------------------------------------------------------------------- the URL


def generate_view() -> tuple[int, int]:
    """The Generate page's applied (resolution, seed)."""
    res, seed = st.session_state.get(state.GENERATE_VIEW, (DEFAULT_RESOLUTION_UM, 0))
    return int(res), int(seed)


def set_generate_view(resolution_um: int, seed: int) -> None:
    st.session_state[state.GENERATE_VIEW] = (int(resolution_um), int(seed))
    st.session_state["gen_resolution"], st.session_state["gen_seed"] = int(resolution_um), int(seed)


def sync_url() -> None:
    """Once per session, restore the scenario, resolution and seed of the link the session
    was opened with; on every run, write the applied ones back into the URL (a page switch
    clears it), so that a reload or a shared link reproduces the view."""
    if _URL_READ not in st.session_state:
        st.session_state[_URL_READ] = True
        try:
            view = view_from_query(st.query_params.to_dict())
        except ValueError as exc:
            notify(f"Link not restored: {state.one_line(exc)}", error=True)
        else:
            if view.scenario is not None:
                state.set_scenario(view.scenario, controls=True)
            res, seed = generate_view()
            if view.resolution_um is not None or view.seed is not None:
                set_generate_view(view.resolution_um or res,
                                  seed if view.seed is None else view.seed)
    write_url()


def write_url() -> None:
    """The applied scenario, resolution and seed as the URL's query parameters."""
    res, seed = generate_view()
    wanted = scenario_query(state.scenario(), resolution_um=res, seed=seed)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def notify(text: str, *, error: bool = False) -> None:
    """A message shown once, on the next page drawn."""
    st.session_state.setdefault(_NOTICE, []).append((text, error))


def show_notices() -> None:
    for text, error in st.session_state.pop(_NOTICE, []):
        (st.error if error else st.success)(text)


# --------------------------------------------------------------------------- jobs


def session_alive() -> Callable[[], bool]:
    """Whether the session running this script is still open, asked from any thread (always
    True where no Streamlit server runs, as under AppTest)."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return lambda: True
    session_id = ctx.session_id

    def alive() -> bool:
        return not runtime.exists() or runtime.get_instance().is_active_session(session_id)

    return alive


def launch(key: str, label: str, work: Callable[[Job], Any], *, total: int = 1,
           unit: str = "", stop_help: str = "Stops at the next step; nothing is kept of "
                                             "this run.") -> Job | None:
    """Start `work` on its own thread, kept in the session under `key`; it stops by itself
    once the session ends. One job per `key` and session, and at most
    `_jobs.MAX_SERVER_JOBS` on the server: otherwise ``st.error`` says so and None."""
    from ._jobs import Busy

    earlier: Job | None = st.session_state.get(key)
    if earlier is not None and earlier.running:
        st.error(f"The {label} was not started: the {earlier.label} still runs; stop it or "
                 "wait for it to end.")
        return None
    try:
        job = start_job(label, work, total=total, unit=unit, alive=session_alive())
    except Busy as exc:
        st.error(str(exc))
        return None
    job.info["stop_help"] = stop_help
    st.session_state[key] = job
    return job


def running(key: str) -> Job | None:
    """The job under `key` while it runs (drawn with its progress and a Stop button). A job
    that ended before it was drawn or collected reruns the page, which collects it."""
    job: Job | None = st.session_state.get(key)
    if job is not None and not job.running and not job.collected:
        st.rerun(scope="app")
    if job is None or not job.running:
        return None
    _job_panel(key)
    return job


@st.fragment(run_every=1.0)
def _job_panel(key: str) -> None:
    job: Job | None = st.session_state.get(key)
    if job is None:
        return
    if not job.running:  # finished: redraw the whole page with its result
        st.rerun(scope="app")
    a, b = st.columns((5, 1), vertical_alignment="bottom")
    a.progress(job.fraction, text=f"{job.label.capitalize()}: {job.status()}")
    b.button("Stop", key=f"{key}_stop", on_click=job.stop, icon=":material/stop:",
             help=job.info.get("stop_help"))


def finished(key: str) -> Job | None:
    """The job under `key` once it has ended, returned once (then marked collected); a
    stop or an error is shown here."""
    job: Job | None = st.session_state.get(key)
    if job is None or job.running or job.collected:
        return None
    job.collected = True
    if job.cancelled:
        notify(f"{job.label.capitalize()} stopped after {job.elapsed():.0f} s; nothing kept.")
    elif job.error is not None:
        notify(f"{job.label.capitalize()} failed: {state.one_line(job.error)}", error=True)
    return job


def collect_probes() -> None:
    """A finished probe joins the history, a finished comparison the session (once each),
    whatever page is drawn."""
    job = finished(PROBE_JOB)
    if job is not None and job.result is not None:
        add_probe(job.result)
    job = finished(COMPARE_JOB)
    if job is not None and job.result is not None:
        st.session_state[state.COMPARE] = job.result


def before_page() -> None:
    """What `streamlit_app.py` does on every run before the page: the link, finished jobs,
    the session file panel, and a note in the sidebar while a probe runs."""
    sync_url()
    collect_probes()
    session_panel()
    show_notices()
    for key in (PROBE_JOB, COMPARE_JOB):
        job: Job | None = st.session_state.get(key)
        if job is not None and job.running:
            st.sidebar.caption(f"{job.label.capitalize()} running: {job.status()}")


# --------------------------------------------------------------------------- probe history


def add_probe(run: Any) -> None:
    """`run` (a `state.ProbeRun`, or a saved one) joins the history and is shown."""
    history: list[Any] = st.session_state.setdefault(state.HISTORY, [])
    history.append(run)
    del history[:-MAX_PROBES]
    st.session_state[state.PROBE] = run


def describe_run(run: Any) -> str:
    """One line naming a probe of the history."""
    sweeps = ", ".join(f"{name} {' '.join(str(v) for v in values)}"
                       for name, values in run.settings.sweeps) or "no sweep"
    saved = " (loaded)" if getattr(run, "saved", None) is not None else ""
    return (f"#{run.run_id} · {run.model.name} · {sweeps} · n {run.settings.n} · "
            f"seed {run.settings.seed}{saved}")


def history_picker() -> None:
    """The selectbox of the session's probes (newest first); the pick is the one shown."""
    history: list[Any] = st.session_state.get(state.HISTORY, [])
    if len(history) < 2:
        return
    ids = [run.run_id for run in reversed(history)]
    shown = st.session_state.get(state.PROBE)
    st.session_state["probe_pick"] = shown.run_id if shown is not None else ids[0]

    def pick() -> None:
        chosen = st.session_state["probe_pick"]
        st.session_state[state.PROBE] = next(r for r in history if r.run_id == chosen)

    by_id = {run.run_id: run for run in history}
    st.selectbox(f"Probe shown (this session's last {len(history)})", ids, key="probe_pick",
                 format_func=lambda i: describe_run(by_id[i]), on_change=pick,
                 help=f"The session keeps its last {MAX_PROBES} probes; the Report "
                      "page reports the one shown.")


# --------------------------------------------------------------------------- session files


def _saved_probe(run: Any) -> SavedProbe:
    import dataclasses

    saved = getattr(run, "saved", None)
    if saved is not None:
        return saved  # type: ignore[no-any-return]
    import evalkit

    report = json.loads(evalkit.render_report(run.results)["report.json"])
    model = {"name": run.model.name, "sha256": run.model.sha256, "bundled": run.model.bundled}
    return SavedProbe(model, dataclasses.asdict(run.settings), report)


def saved_scan() -> dict[str, Any] | None:
    """The last scan's summary: this session's, else the one of a loaded session file."""
    scan: dict[str, Any] | None = st.session_state.get("scan_summary")
    return scan if scan is not None else st.session_state.get(LOADED_SCAN)


def session_bytes() -> Callable[[], bytes]:
    """This session as one JSON file (scenario, Generate's view, every probe, the last
    scan), written when called: what it holds is taken now, the reports built on the click."""
    res, seed = generate_view()
    history = list(st.session_state.get(state.HISTORY, []))
    scenario, scan = state.scenario(), saved_scan()

    def write() -> bytes:
        probes = tuple(_saved_probe(run) for run in history)
        return session_file(SessionFile(scenario, res, seed, probes, scan))

    return write


def restore_session(data: bytes, name: str) -> None:
    """Load a session file: its scenario and view, its probes into the history, its scan
    summary. The whole file is read and checked first (`read_session`): a bad one changes
    nothing."""
    session = read_session(data, name)
    loaded = []
    for saved in session.probes:
        settings, scenario = saved.probe_settings, saved.scenario
        if settings is None or scenario is None:  # read_session reads both
            raise ValueError(f"{name} holds a probe that was not read.")
        model = state.ModelChoice("", str(saved.model["name"]), str(saved.model["sha256"]),
                                  saved.model.get("bundled"))
        loaded.append((saved, settings, scenario, model))
    state.set_scenario(session.scenario, controls=True)  # nothing below can fail
    set_generate_view(session.resolution_um, session.seed)
    for saved, settings, scenario, model in loaded:
        run_id = st.session_state.get("probe_counter", 0) + 1
        st.session_state["probe_counter"] = run_id
        add_probe(state.ProbeRun(saved.results, settings, scenario, model, run_id,
                                 saved=saved))
    if session.scan is not None:
        st.session_state[LOADED_SCAN] = session.scan
    write_url()


def session_panel() -> None:
    """Save the session as one file, or load one (in the sidebar, on every page)."""
    with st.sidebar.expander("Session: save or load", icon=":material/save:"):
        st.caption("One JSON file: the scenario, Generate's resolution and seed, every probe "
                   "of the history (results, model by SHA-256), the last scan's summary.")
        st.download_button("Save this session", session_bytes(),
                           file_name="mcc-session.json", mime="application/json",
                           on_click="ignore", key="session_save",
                           help="Downloads the session as mcc-session.json; load it here "
                                "later, or in another browser.")
        upload = st.file_uploader("Load a session", type=["json"], key="session_upload",
                                  help="A file saved here (at most "
                                       f"{MAX_SESSION_BYTES // 2**20} MiB): its scenario and "
                                       "view replace this session's, its probes join the "
                                       "history.")
        if upload is not None and st.session_state.get("session_upload_id") != upload.file_id:
            st.session_state["session_upload_id"] = upload.file_id
            try:
                restore_session(upload.getvalue(), upload.name)
            except ValueError as exc:
                state.show_error(exc, "Session not loaded: ")
            else:
                st.success(f"Session loaded from {upload.name}.")
