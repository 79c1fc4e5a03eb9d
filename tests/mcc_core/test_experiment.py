import pandas as pd
import pytest

import mcc_core
from mcc_cli import main
from mcc_core import _experiment


def test_the_seven_models_fill_tables_8_and_9(tmp_path, monkeypatch):
    monkeypatch.setitem(_experiment.SCALES, "smoke", {"n": 24, "epochs": 1, "batch_size": 8})
    result = mcc_core.run_experiment(tmp_path, scale="smoke", verbose=0)
    names = ["Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
             "Transfer-100", "Eval-70"]
    assert list(result.table8.model) == names == list(result.table9.model)
    t9 = result.table9.set_index("model")
    assert (t9[["tn", "fp", "fn", "tp"]].sum(axis=1).loc[names[:6]] > 0).all()
    assert (tmp_path / "Transfer-50" / "curves.png").exists()
    text = (tmp_path / "tables.md").read_text()
    assert "Transfer-50 (paper)" in text and "2966" in text
    assert pd.read_csv(tmp_path / "table9.csv").shape == (7, 10)


def test_bad_experiment_input(tmp_path, capsys):
    with pytest.raises(ValueError, match="scale"):
        mcc_core.run_experiment(tmp_path, scale="huge")
    assert main(["experiment", "--out", str(tmp_path), "--data-50", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().err
