import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import evalkit
import mcc_core
from mcc_cli import main
from mcc_core.training import _experiment
from mcc_core.training._experiment import TABLE8_COLUMNS, TABLE9_COLUMNS

TINY = mcc_core.ExperimentScale(n_patches=(10, 24, 10), n_eval=16, epochs=1, batch_size=8)


def test_protocol_fills_tables_and_transfer_keeps_the_source_backbone(tmp_path):
    # Scratch/Transfer at 70 µm only: each scratch MobileNetV2 costs ~20 s of graph tracing.
    result = mcc_core.run_experiment(tmp_path, scale=TINY, resolutions=(70,), verbose=0)
    names = ["Scratch-70", "Transfer-70", "Eval-70"]
    assert list(result.table8.columns) == TABLE8_COLUMNS
    assert list(result.table9.columns) == TABLE9_COLUMNS
    assert list(result.table8.model) == names == list(result.table9.model)
    counts = result.table9.set_index("model")[["tn", "fp", "fn", "tp"]].sum(axis=1)
    assert counts["Eval-70"] == 16 and counts["Scratch-70"] == counts["Transfer-70"] > 0
    assert result.backbone_sha256["Transfer-70"] == result.backbone_sha256["Scratch-70"]
    t8 = result.table8.set_index("model")
    assert t8.loc["Scratch-70", "best_epoch"] == 1 and t8.loc["Scratch-70", "train_time_s"] > 0
    assert np.isnan(t8.loc["Eval-70", "train_time_s"])
    for name in names[:2]:
        assert (tmp_path / name / "curves.png").exists()
    assert not (tmp_path / "Scratch-50").exists()
    assert pd.read_csv(tmp_path / "table9.csv").shape == (3, 10)
    text = (tmp_path / "tables.md").read_text()
    assert "Transfer-50" in text and "2966" in text and "accuracy (paper)" in text
    record = json.loads((tmp_path / "experiment.json").read_text())
    assert record["scale"]["n_patches"] == [10, 24, 10] and record["resolutions"] == [70]


@pytest.mark.parametrize("name", list(_experiment.PAPER_TABLE9))
def test_paper_counts_reproduce_the_published_rates(name):
    tn, fp, fn, tp, *rates = _experiment.PAPER_TABLE9[name]
    counts = [tn, fp, fn, tp]
    ours = evalkit.compute_metrics(np.repeat([0, 0, 1, 1], counts),
                                   np.repeat([0.0, 1.0, 0.0, 1.0], counts), n_bootstrap=0)
    computed = [ours[k] for k in ("accuracy", "precision", "recall", "specificity", "f1")]
    # The paper's own Transfer-100 accuracy (0.8917) disagrees with its counts (3883 / 4350).
    tolerance = [1e-3 if name == "Transfer-100" else 6e-4, 6e-4, 6e-4, 6e-4, 6e-4]
    assert np.all(np.abs(np.subtract(computed, rates)) <= tolerance)


def test_paper_tables_have_our_columns():
    table8, table9 = mcc_core.paper_tables()
    assert list(table8.columns) == TABLE8_COLUMNS and list(table9.columns) == TABLE9_COLUMNS
    assert list(table9.model) == list(_experiment.PAPER_TABLE8)


def _folder(root, classes=(0, 1), size=144):
    for label in classes:
        for i in range(3):
            path = root / f"class_{label}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((size, size), 40 * i, np.uint8)).save(path)
    return root


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"scale": "huge"}, "scale"),
    ({"resolutions": (60,)}, "resolutions"),
    ({"resolutions": ()}, "resolutions"),
    ({"folders": {50: "a", 70: "b"}}, "folders"),
])
def test_bad_arguments_write_nothing(tmp_path, kwargs, field):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=field):
        mcc_core.run_experiment(out, **kwargs)
    assert not out.exists()


def test_a_bad_folder_stops_the_run_before_training(tmp_path):
    folders = {50: _folder(tmp_path / "a", size=200), 70: _folder(tmp_path / "b"),
               100: _folder(tmp_path / "c", classes=(1,), size=100),
               "eval-70": _folder(tmp_path / "d")}
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="class"):
        mcc_core.run_experiment(out, folders=folders)
    assert not out.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("n_patches", (5, 100, 100)), ("n_eval", 0), ("epochs", 0), ("batch_size", 0)])
def test_scale_validation(field, value):
    kwargs = {"n_patches": (20, 20, 20), "n_eval": 10, "epochs": 1, "batch_size": 4}
    with pytest.raises(ValueError, match=field):
        mcc_core.ExperimentScale(**{**kwargs, field: value})


def test_cli_needs_every_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "--out", str(out), "--data-50", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing" in err and "--eval-70" in err and len(err.splitlines()) == 1
    assert not out.exists()
