"""Report: the robustness report of the session's last probe — report.html, report.json and the
CSVs, rendered by `evalkit.render_report` and offered for download."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mcc_app import _state as state
from mcc_app import probe_command

_MIME = {".html": "text/html", ".json": "application/json", ".csv": "text/csv"}


@st.cache_data(max_entries=4, show_spinner="Building the report…",
               hash_funcs={state.ProbeRun: lambda run: run.token})
def report_files(run: state.ProbeRun) -> dict[str, bytes]:
    """The report's files for `run`, by name, rendered in memory (once per probe)."""
    import evalkit

    return evalkit.render_report(run.results)


def main() -> None:
    st.title("Robustness report")
    run = st.session_state.get(state.PROBE)
    if run is None:
        st.info("No probe yet: run one on the Probe page, then come back for its report.")
        return
    m = run.results.metrics
    st.write(f"Probe #{run.run_id} of **{run.results.model['name']}**: {m.n} patches at "
             f"{run.results.resolution_um} µm, accuracy {m['accuracy']:.3f}, sensitivity "
             f"{m['recall']:.3f}, specificity {m['specificity']:.3f}.")
    try:
        files = report_files(run)
    except (ValueError, TypeError, OSError) as exc:
        state.show_error(exc, "Report not built: ")
        return
    names = ["report.html", "report.json"] + sorted(n for n in files if n.endswith(".csv"))
    cols = st.columns(4)
    for k, name in enumerate(names):
        cols[k % 4].download_button(name, files[name], file_name=name,
                                    mime=_MIME[Path(name).suffix], on_click="ignore",
                                    key=f"download_{name}")
    st.caption("The same report from the command line: "
               f"`{probe_command(run.settings)}` with the scenario saved as scenario.json.")
    with st.expander("Preview of report.html"):
        # our own page: every value in it is escaped by evalkit.render_report
        st.iframe(files["report.html"].decode(), height=700)


main()
