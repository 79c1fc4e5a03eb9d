"""`mcc app`: the command it runs, its refusals, and a real start on a free port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mcc_cli import main
from mcc_cli._app import app_script, command
from mcc_cli._main import build_parser


def test_the_command_runs_the_installed_app_with_quiet_settings():
    argv = command(build_parser().parse_args(["app", "--port", "8601", "--no-browser"]))
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == app_script() and app_script().name == "streamlit_app.py"
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.port"] == "8601" and options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--client.showErrorDetails"] == "none"
    assert options["--server.fileWatcherType"] == "none"  # fast by default (issue 16)
    opened = command(build_parser().parse_args(["app", "--browser"]))
    assert "false" == opened[opened.index("--server.headless") + 1]
    assert "--server.headless" not in command(build_parser().parse_args(["app"]))


def test_a_bad_port_is_one_line_and_exit_2(capsys):
    assert main(["app", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert "--port" in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mcc_app_serves_the_dashboard(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mcc_cli", "app", "--port", str(port), "--address", "127.0.0.1",
         "--no-browser"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        ok = False
        for _ in range(120):  # at most 30 s
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as reply:
                    ok = reply.status == 200
                    break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.25)
        if not ok:
            process.terminate()
            pytest.fail(f"mcc app did not serve: {process.communicate(timeout=15)[0][-2000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            assert b"<html" in reply.read().lower()
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_checkouts_config_says_what_mcc_app_passes():
    """`streamlit run streamlit_app.py` from a checkout gets the settings `mcc app` passes
    (the file watcher off among them)."""
    import tomllib

    from mcc_cli._app import SETTINGS

    config = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml")
                           .read_text())
    for name, value in SETTINGS.items():
        section, key = name.split(".")
        assert str(config[section][key]).lower() == value, name
