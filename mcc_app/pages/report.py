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


@st.cache_data(max_entries=4, show_spinner="Building the comparison report…",
               hash_funcs={state.CompareRun: lambda run: run.token})
def comparison_files(run: state.CompareRun) -> dict[str, bytes]:
    """The comparison report's files for `run`, rendered in memory (once per comparison)."""
    import evalkit

    return evalkit.render_comparison(run.result)


def probe_document(run: state.ProbeRun) -> dict:
    """The probe's report.json (as saved, for a probe loaded from a session file)."""
    import json

    if run.saved is not None:
        return dict(run.saved.report)
    return dict(json.loads(report_files(run)["report.json"]))


def downloads(files: dict[str, bytes], first: list[str], prefix: str) -> None:
    names = first + sorted(n for n in files if n.endswith(".csv"))
    cols = st.columns(4)
    for k, name in enumerate(names):
        cols[k % 4].download_button(name, files[name], file_name=name,
                                    help=f"Download {name} (built in memory, nothing is "
                                         "written on the server).",
                                    mime=_MIME[Path(name).suffix], on_click="ignore",
                                    key=f"{prefix}_{name}")


def merged_section(probe: state.ProbeRun | None, comparison: state.CompareRun | None) -> None:
    """The merged report over this session's probe and comparison, and saved reports."""
    import json

    import evalkit

    st.subheader("Merged report")
    uploads = st.file_uploader("Saved report.json / comparison.json files to merge",
                               type=["json"], accept_multiple_files=True, key="merge_uploads",
                               help="Reports written by `mcc probe` or downloaded here: merged "
                                    "with this session's probe and comparison into one "
                                    "report.")
    sources = []
    if probe is not None:
        sources.append((f"probe #{probe.run_id}", "probe", probe_document(probe)))
    if comparison is not None:
        sources.append((f"comparison #{comparison.run_id}", "comparison",
                        json.loads(comparison_files(comparison)["comparison.json"])))
    for upload in uploads or []:
        try:
            doc = json.loads(upload.getvalue().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            st.error(f"Not merged: {upload.name!r} is not readable JSON ({exc}).")
            return
        kind = evalkit.report_kind(doc)
        if kind is None:
            st.error(f"Not merged: {upload.name!r} is not a report.json or comparison.json "
                     "of mcc probe.")
            return
        sources.append((upload.name, kind, doc))
    if len(sources) < 2:
        st.caption("Run a probe and a comparison, or upload saved reports, to merge them.")
        return
    try:
        files = evalkit.render_merged(evalkit.MergedReport(tuple(sources)))
    except ValueError as exc:
        state.show_error(exc, "Not merged: ")
        return
    st.write(f"{len(sources)} sources: " + ", ".join(name for name, _, _ in sources))
    downloads(files, ["report.html", "merged.json"], "merged")


def main() -> None:
    st.title("Robustness report")
    st.caption("What you are looking at: the report of the probe shown on the Probe page "
               "(report.html, report.json and tidy CSVs, as `mcc probe` writes them), and a "
               "merged report over this session's probe, comparison and saved reports.")
    run = st.session_state.get(state.PROBE)
    comparison = st.session_state.get(state.COMPARE)
    if comparison is not None:
        st.write(f"Comparison #{comparison.run_id}: "
                 f"**{' vs '.join(comparison.result.names)}**.")
        try:
            downloads(comparison_files(comparison), ["comparison.html", "comparison.json"],
                      "compare")
        except (ValueError, TypeError, OSError) as exc:
            state.show_error(exc, "Comparison report not built: ")
    if run is None:
        if comparison is None:
            st.info("No probe yet: run one on the Probe page, then come back for its report.")
        merged_section(None, comparison)
        return
    m = run.results.metrics
    st.write(f"Probe #{run.run_id} of **{run.results.model['name']}**: {m.n} patches at "
             f"{run.results.resolution_um} µm, accuracy {m['accuracy']:.3f}, sensitivity "
             f"{m['recall']:.3f}, specificity {m['specificity']:.3f}.")
    if run.saved is not None:
        import json

        st.caption("Loaded from a session file: its report.json as saved (the HTML and CSVs "
                   "need the per-patch predictions, which the file does not hold).")
        downloads({"report.json": json.dumps(run.saved.report, indent=2).encode()},
                  ["report.json"], "download")
        merged_section(run, comparison)
        return
    try:
        files = report_files(run)
    except (ValueError, TypeError, OSError) as exc:
        state.show_error(exc, "Report not built: ")
        return
    downloads(files, ["report.html", "report.json"], "download")
    st.caption("The same report from the command line: "
               f"`{probe_command(run.settings)}` with the scenario saved as scenario.json.")
    with st.expander("Preview of report.html"):
        # our own page: every value in it is escaped by evalkit.render_report
        st.iframe(files["report.html"].decode(), height=700)
    merged_section(run, comparison)


main()
