"""The Streamlit dashboard (`streamlit_app.py`): its pages and the plain functions behind them.

The page scripts live in ``mcc_app/pages/`` and call `synth`, `mcc_core` and `evalkit`; what
is not a widget — scenario ↔ control values, the `mcc probe` command line, reading uploads,
the pictures and charts — is a plain function here, tested without Streamlit. Importing this
package imports neither Streamlit nor TensorFlow.
"""

from dataclasses import dataclass
from pathlib import Path

from ._command import SWEEP_SUGGESTIONS, ProbeSettings, parse_values, probe_command
from ._controls import DEFAULT_RESOLUTION_UM, config_from_controls, controls_from_config, unapplied
from ._jobs import Cancelled, Job, start_job
from ._session import (
    MAX_SESSION_BYTES,
    QueryView,
    SavedProbe,
    SessionFile,
    read_session,
    scenario_query,
    session_file,
    view_from_query,
)
from ._uploads import (
    IMAGE_SUFFIXES,
    MAX_NEGATIVE_BYTES,
    MAX_NEGATIVE_FILES,
    MODEL_SUFFIXES,
    load_negatives,
    read_png,
    read_scenario,
    read_upload,
    store_upload,
)
from ._views import (
    METRIC_NAMES,
    colour_bar,
    comparison_chart,
    cross_resolution_matrix,
    draw_boxes,
    for_display,
    model_caption,
    overlay_mask,
    sweep_chart,
)


@dataclass(frozen=True)
class PageSpec:
    """One dashboard page: its script (relative to `streamlit_app.py`), title, icon, URL."""

    path: str
    title: str
    icon: str
    url_path: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("mcc_app/pages/generate.py", "Generate", ":material/grain:", "generate"),
    PageSpec("mcc_app/pages/probe.py", "Probe", ":material/query_stats:", "probe"),
    PageSpec("mcc_app/pages/scan.py", "Scan", ":material/radiology:", "scan"),
    PageSpec("mcc_app/pages/report.py", "Report", ":material/description:", "report"),
)
"""The pages in navigation order; the first is the default."""

def before_page() -> None:
    """What `streamlit_app.py` runs before each page (imports Streamlit when called): the
    scenario from the link, finished probes into the session, the session file panel.

    Examples
    --------
    >>> from mcc_app import APP_SCRIPT
    >>> "before_page()" in APP_SCRIPT.read_text()
    True
    """
    from ._live import before_page as run

    run()


APP_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"
"""Where `streamlit_app.py` sits when it is installed beside this package."""

__all__ = [
    "APP_SCRIPT",
    "Cancelled",
    "DEFAULT_RESOLUTION_UM",
    "Job",
    "METRIC_NAMES",
    "MAX_SESSION_BYTES",
    "before_page",
    "QueryView",
    "SavedProbe",
    "SessionFile",
    "colour_bar",
    "draw_boxes",
    "model_caption",
    "read_session",
    "scenario_query",
    "session_file",
    "start_job",
    "unapplied",
    "view_from_query",
    "IMAGE_SUFFIXES",
    "MAX_NEGATIVE_BYTES",
    "MAX_NEGATIVE_FILES",
    "MODEL_SUFFIXES",
    "PAGES",
    "PageSpec",
    "ProbeSettings",
    "SWEEP_SUGGESTIONS",
    "comparison_chart",
    "config_from_controls",
    "controls_from_config",
    "cross_resolution_matrix",
    "for_display",
    "load_negatives",
    "overlay_mask",
    "parse_values",
    "probe_command",
    "read_png",
    "read_scenario",
    "read_upload",
    "store_upload",
    "sweep_chart",
]
