"""Tests for mcc_core.training._tune and `mcc tune`: the Table 2 Hyperband search of Model B."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

import synth
from mcc_cli import _tune as tune_cli
from mcc_core import PAPER_BEST, TABLE2_SPACE, build_shallow_cnn, count_params, synthetic_arrays
from mcc_core import tune as run_tune

pytestmark = pytest.mark.filterwarnings(
    "ignore:(getName|currentThread)\\(\\) is deprecated:DeprecationWarning",  # keras-tuner
    "ignore:Skipping variable loading for optimizer:UserWarning",  # Hyperband's resumed trials
)

EASY = synth.SceneConfig(contrast_range=(0.5, 0.8), mc_size_range_mm=(0.3, 0.6),
                         mc_count_range=(6, 12), hard_negative_fraction=0.0, acquisition=None)
SMALL = {"filters1": (4, 6), "kernel1": (3, 5), "filters2": (16, 20), "kernel2": (3, 5),
         "batch_size": (32, 64), "learning_rate": (1e-2, 1e-3)}


@pytest.fixture(scope="module")
def patches() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_arrays(EASY, 128, resolution_um=100, seed=0)


@pytest.fixture(scope="module")
def searched(patches, tmp_path_factory):
    x, y = patches
    out = tmp_path_factory.mktemp("tune")
    return run_tune((x[:96], y[:96]), (x[96:], y[96:]), input_size=100, max_epochs=2,
                    out_dir=out, space=SMALL, seed=3, factor=2)


def test_the_space_is_table_2():
    assert TABLE2_SPACE == {
        "filters1": (4, 6, 8, 10, 12), "kernel1": (3, 5, 7, 9, 11),
        "filters2": (16, 20, 24, 28, 32), "kernel2": (3, 5, 7, 9, 11),
        "batch_size": (16, 32, 64, 128), "learning_rate": (1e-2, 1e-3, 1e-4)}
    assert all(PAPER_BEST[k] in values for k, values in TABLE2_SPACE.items())


@pytest.mark.parametrize(("config", "expected"), [
    (PAPER_BEST, 8301),                                  # the paper's best, 6/9/16/9
    ({**PAPER_BEST, "kernel1": 5, "kernel2": 5}, 2589),  # Table 1's 5x5 6/16
    ({"filters1": 4, "kernel1": 3, "filters2": 16, "kernel2": 3}, 40 + 592 + 17),
])
def test_parameter_counts(config, expected):
    assert count_params(config) == expected
    assert count_params(config, input_size=100) == expected


def test_a_tiny_search_reports_a_configuration_of_the_space(searched):
    for key, values in SMALL.items():
        assert searched.best[key] in values
    assert searched.n_params == build_shallow_cnn(
        100, filters=(searched.best["filters1"], searched.best["filters2"]),
        kernel_sizes=(searched.best["kernel1"], searched.best["kernel2"])).count_params()
    assert 0.0 <= searched.best_val_accuracy <= 1.0


def test_the_trial_table_is_sorted_and_consistent(searched):
    trials = searched.trials
    assert len(trials) >= 2 and trials.trial_id.is_unique
    assert set(trials.columns) >= {*TABLE2_SPACE, "epochs", "val_accuracy", "n_params"}
    assert trials.val_accuracy.is_monotonic_decreasing
    assert trials.val_accuracy.iloc[0] == searched.best_val_accuracy
    assert trials.iloc[0][list(TABLE2_SPACE)].to_dict() == searched.best
    for row in trials.itertuples():
        assert row.n_params == count_params(row._asdict())
        assert 1 <= row.epochs <= 2
    assert set(trials.bracket) == {0, 1}  # factor 2, max_epochs 2: two Hyperband brackets
    resumed = trials[trials["round"] == 1]  # a bracket's survivors train on from epoch 1
    assert len(resumed) >= 1 and (resumed.initial_epoch == 1).all()


def test_the_search_writes_its_files(searched):
    out = searched.out_dir
    best = json.loads((out / "best.json").read_text())
    assert best["best"] == searched.best and best["n_params"] == searched.n_params
    assert best["val_accuracy"] == searched.best_val_accuracy
    assert best["paper_best"] == PAPER_BEST
    table = pd.read_csv(out / "tuning.csv")
    assert len(table) == len(searched.trials)
    np.testing.assert_allclose(table.val_accuracy, searched.trials.val_accuracy)
    assert (out / "keras_tuner").is_dir()
    assert not list(out.glob(".*.tmp"))


def _bad(**changes):
    x = np.zeros((4, 100, 100, 1), np.float32)
    y = np.array([0, 1, 0, 1])
    args = {"train": (x, y), "val": (x, y), "input_size": 100, "max_epochs": 2} | changes
    return args


@pytest.mark.parametrize(("changes", "needle"), [
    ({"max_epochs": 0}, "max_epochs"),
    ({"factor": 1}, "factor"),
    ({"hyperband_iterations": 0}, "hyperband_iterations"),
    ({"seed": -1}, "seed"),
    ({"space": {"filters1": (4,)}}, "space"),
    ({"space": {**SMALL, "kernel1": ()}}, "kernel1"),
    ({"space": {**SMALL, "batch_size": (32, 0)}}, "batch_size"),
    ({"space": {**SMALL, "learning_rate": (1e-3, -1.0)}}, "learning_rate"),
    ({"input_size": 144}, "train"),
    ({"val": (np.zeros((4, 100, 100, 1)), np.array([0, 1]))}, "val"),
    ({"train": (np.zeros((0, 100, 100, 1)), np.zeros(0, int))}, "train"),
])
def test_bad_searches_are_refused(tmp_path, changes, needle):
    with pytest.raises(ValueError, match=needle):
        run_tune(**_bad(**changes), out_dir=tmp_path)
    assert not (tmp_path / "best.json").exists()


def _parse(argv):
    parser = argparse.ArgumentParser(prog="mcc")
    tune_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["tune", *argv])


def test_the_cli_searches_and_prints_the_best(tmp_path, monkeypatch, capsys, searched):
    import mcc_core

    seen = {}

    def fake_tune(train, val, **kwargs):
        seen.update(kwargs, n_train=len(train[0]), n_val=len(val[0]))
        return searched

    monkeypatch.setattr(mcc_core, "tune", fake_tune)
    args = _parse(["--resolution", "100", "--n", "50", "--max-epochs", "3", "--out",
                   str(tmp_path)])
    assert args.run(args) == 0
    assert seen["input_size"] == 100 and seen["max_epochs"] == 3 and seen["seed"] == 0
    assert 38 <= seen["n_train"] + seen["n_val"] <= 42  # 64 + 16 % of 50; the test share unused
    assert seen["n_val"] < seen["n_train"]
    printed = capsys.readouterr().out
    assert f"{searched.n_params:,} parameters" in printed
    assert "CL1 6 filters 9x9, CL2 16 filters 9x9, batch 64, learning rate 0.001" in printed


@pytest.mark.parametrize(("argv", "needle"), [
    (["--n", "5"], "--n"),
    (["--max-epochs", "0"], "--max-epochs"),
    (["--data", "no/such/folder"], "--data"),
    (["--data", ".", "--scene", "s.json"], "--scene"),
])
def test_the_cli_refuses_bad_input(tmp_path, argv, needle):
    args = _parse(["--resolution", "70", "--out", str(tmp_path), *argv])
    with pytest.raises(ValueError, match=needle):
        args.run(args)


def test_the_cli_needs_a_resolution(tmp_path):
    with pytest.raises(SystemExit):
        _parse(["--out", str(tmp_path)])


def test_a_distributed_search_with_keras_tuners_chief_and_a_worker(tmp_path):
    """keras-tuner's own distribution (no code of ours): `mcc tune` as chief and as a worker on
    one shared folder; the worker trains, the chief collects and writes the results."""
    import os
    import socket
    import subprocess
    import sys

    pytest.importorskip("grpc")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "search"
    argv = [sys.executable, "-m", "mcc_cli", "tune", "--resolution", "100", "--n", "40",
            "--max-epochs", "1", "--out", str(out)]

    def start(tuner_id):
        env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
               "KERASTUNER_ORACLE_PORT": str(port), "KERASTUNER_TUNER_ID": tuner_id}
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    chief = start("chief")
    worker = start("tuner0")
    try:
        w_out, w_err = worker.communicate(timeout=240)
        c_out, c_err = chief.communicate(timeout=120)
    finally:
        for process in (chief, worker):
            process.kill()
    assert worker.returncode == 0, w_err[-2000:]
    assert chief.returncode == 0, c_err[-2000:]
    assert "worker tuner0 of a distributed search" in w_out
    assert "serving the oracle at 127.0.0.1" in c_err
    trials = pd.read_csv(out / "tuning.csv")
    assert len(trials) >= 1 and trials["val_accuracy"].notna().all()
    assert json.loads((out / "best.json").read_text())["best"].keys() == TABLE2_SPACE.keys()
