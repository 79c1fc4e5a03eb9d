"""`mcc synth mammogram` with anatomy: the flags reach the writer; bad values are one line."""

import pandas as pd
import pytest

from mcc_cli._main import main


def test_anatomy_flags_write_findings(tmp_path, capsys):
    out = tmp_path / "set"
    code = main(["synth", "mammogram", "--n", "1", "--out", str(out), "--resolution", "100",
                 "--size-mm", "60", "80", "--view", "MLO", "--density-category", "d",
                 "--lookalikes", "rim,dust", "--no-progress"])
    assert code == 0
    found = pd.read_csv(out / "findings.csv")
    assert {"rim", "dust"} <= set(found["kind"]) <= {"rim", "dust", "cluster", "hard_negative"}


@pytest.mark.parametrize(("flag", "value"), [("--view", "LAT"), ("--density-category", "e"),
                                             ("--lookalikes", "fish")])
def test_bad_anatomy_values_are_one_line_exit_2(tmp_path, capsys, flag, value):
    code = main(["synth", "mammogram", "--n", "1", "--out", str(tmp_path / "x"), flag, value,
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and flag in err
