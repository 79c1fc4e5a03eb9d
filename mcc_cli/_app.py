"""`mcc app`: start the Streamlit dashboard (`streamlit_app.py`) on the bundled models."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

SETTINGS = {
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    # no file watcher: Streamlit would watch the whole checkout, .venv included (thousands
    # of folders), flooding the log with inotify overflows and slowing every rerun
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
}
"""Streamlit options `mcc app` always sets (as `.streamlit/config.toml` does for a checkout)."""


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "app",
        help="start the dashboard (Generate, Probe, Scan, Report)",
        description=(
            "Start the Streamlit dashboard on http://localhost:PORT: generate synthetic "
            "patches, probe a model's robustness, scan a mammogram and download reports. "
            "Stop it with Ctrl-C."
        ),
    )
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--address", default=None,
                   help="address to listen on (default: Streamlit's, all interfaces)")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                   help="open a web browser (default: only where a display is available)")
    p.set_defaults(run=run_app, needs="app")


def app_script() -> Path:
    """The installed `streamlit_app.py` (a top-level module shipped beside the packages)."""
    spec = importlib.util.find_spec("streamlit_app")
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise ValueError("streamlit_app.py is not installed with the package; reinstall it "
                         "(pip install -e . in a checkout).")
    return Path(spec.origin)


def command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line `mcc app` executes."""
    if not 1 <= args.port <= 65535:
        raise ValueError(f"`--port` must lie within [1, 65535]; got --port={args.port}.")
    argv = [sys.executable, "-m", "streamlit", "run", str(app_script()),
            "--server.port", str(args.port)]
    if args.address is not None:
        argv += ["--server.address", args.address]
    if args.browser is not None:
        argv += ["--server.headless", "false" if args.browser else "true"]
    for name, value in SETTINGS.items():
        argv += [f"--{name}", value]
    return argv


def run_app(args: argparse.Namespace) -> int:
    """Replace this process by `streamlit run` (so Ctrl-C and signals reach Streamlit)."""
    argv = command(args)
    print(f"mcc app: starting the dashboard on http://localhost:{args.port} (Ctrl-C stops it)",
          flush=True)
    os.execv(argv[0], argv)
    return 0  # not reached
