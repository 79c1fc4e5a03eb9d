"""Refusals by argparse are one line too, and Ctrl-C with worker processes is one line."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mcc_cli import main


@pytest.mark.parametrize("argv", [
    ["synth", "--n", "abc"],
    ["synth", "--bit-depth", "12", "--n", "2"],
    ["train", "--model", "alexnet", "--resolution", "70", "--data", "synthetic",
     "--epochs", "1", "--batch-size", "4", "--out", "x"],
    ["probe", "--gate-on", "maybe", "--out", "x"],
    ["nonsense"],
])
def test_argparse_refusals_are_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err and "--help" in err, err


def test_ctrl_c_with_two_workers_is_one_line_and_resumable(tmp_path):
    out = tmp_path / "set"
    command = [sys.executable, "-m", "mcc_cli", "synth", "--n", "3000", "--resolution", "100",
               "--workers", "2", "--no-progress", "--out", str(out)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(".mcc-partial/chunk_*.json")):  # the workers are writing
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the workers get it too
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130
    assert err.strip().splitlines() == [
        "mcc synth: interrupted; run the same command again to resume."], err
    assert main(command[3:]) == 0  # the rerun resumes and finishes
    assert main(["synth", "verify", str(out)]) == 0
