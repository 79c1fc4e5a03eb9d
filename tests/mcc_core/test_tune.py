import json

import numpy as np
import pytest

import synth
from mcc_core import PAPER_BEST, TABLE2_SPACE, count_params, synthetic_arrays, tune

EASY = synth.SceneConfig(contrast_range=(0.5, 0.8), mc_size_range_mm=(0.3, 0.6),
                         mc_count_range=(6, 12), hard_negative_fraction=0.0, acquisition=None)


def test_the_space_and_the_papers_counts():
    assert TABLE2_SPACE["filters1"] == (4, 6, 8, 10, 12)
    assert TABLE2_SPACE["kernel2"] == (3, 5, 7, 9, 11)
    assert TABLE2_SPACE["batch_size"] == (16, 32, 64, 128)
    assert TABLE2_SPACE["learning_rate"] == (1e-2, 1e-3, 1e-4)
    assert count_params(PAPER_BEST) == 8301
    assert count_params({**PAPER_BEST, "kernel1": 5, "kernel2": 5}) == 2589


def test_a_tiny_search_runs_and_reports(tmp_path):
    x, y = synthetic_arrays(EASY, 96, resolution_um=100, seed=0)
    space = {"filters1": (4, 6), "kernel1": (3, 5), "filters2": (16,), "kernel2": (3, 5),
             "batch_size": (32,), "learning_rate": (1e-2,)}
    result = tune((x[:64], y[:64]), (x[64:], y[64:]), input_size=100, max_epochs=2,
                  out_dir=tmp_path, space=space, factor=2)
    for key, values in space.items():
        assert result.best[key] in values
    assert result.n_params == count_params(result.best, 100)
    assert 0.0 <= result.best_val_accuracy <= 1.0 and len(result.trials) >= 1
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["best"] == result.best and (tmp_path / "tuning.csv").exists()
    assert set(result.trials.columns) >= {"filters1", "val_accuracy", "n_params"}


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"max_epochs": 0}, "max_epochs"), ({"factor": 1}, "factor"),
    ({"space": {"filters1": (4,)}}, "space"),
])
def test_bad_searches_are_refused(tmp_path, kwargs, needle):
    x = np.zeros((4, 100, 100, 1), np.float32)
    y = np.array([0, 1, 0, 1])
    args = {"input_size": 100, "max_epochs": 2, "out_dir": tmp_path} | kwargs
    with pytest.raises(ValueError, match=needle):
        tune((x, y), (x, y), **args)
