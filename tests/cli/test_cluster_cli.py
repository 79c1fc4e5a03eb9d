"""`mcc synth --dask`, `--format shards`, `mcc probe --dask`: refusals are one line and exit 2
before any work; a sharded dataset verifies and trains."""

import sys
from unittest import mock

import pytest

import synth
from mcc_cli import main

pytest.importorskip("distributed")


@pytest.mark.parametrize(("args", "needle"), [
    (["--dask", "tcp://127.0.0.1:9", "--dask-timeout", "1"],
     "`--dask` scheduler 'tcp://127.0.0.1:9' did not answer within 1 s"),
    (["--dask", "local:0"], "`--dask` must be 'local:K'"),
    (["--dask", "local:2", "--workers", "2"], "`--workers` sets local processes"),
    (["--storage", "client"], "`--storage` is for --dask runs"),
    (["--shard-size", "512"], "`--shard-size` is for --format shards"),
    (["--format", "shards", "--shard-size", "1000"], "`--shard-size` must be a multiple of 256"),
    (["--format", "shards", "--shard-size", "1000", "--dask", "tcp://127.0.0.1:9"],
     "`--shard-size` must be a multiple of 256"),  # before any connection is tried
    (["--dask", "local:1", "--dask-timeout", "0"], "`--dask-timeout` must be 0 to 3600 s"),
])
def test_synth_refusals_are_one_line_before_any_work(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["synth", "--n", "8", "--resolution", "100", "--out", str(out),
                 "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_probe_with_an_unreachable_scheduler_writes_nothing(tmp_path, capsys):
    pytest.importorskip("keras")
    out = tmp_path / "report"
    assert main(["probe", "--n", "8", "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "1",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "`--dask` scheduler 'tcp://127.0.0.1:9' did not answer" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("command", [["synth"], ["probe"]])
def test_without_the_dask_extra_the_message_names_it(tmp_path, capsys, command):
    if command == ["probe"]:
        pytest.importorskip("keras")
    with mock.patch.dict(sys.modules, {"distributed": None}):
        code = main([*command, "--n", "8", "--out", str(tmp_path / "out"), "--dask",
                     "local:1"])
    err = capsys.readouterr().err
    assert code == 2 and "needs the 'dask' extra: pip install 'mcc-toolkit[dask]'" in err, err
    assert not (tmp_path / "out").exists()


def test_a_sharded_dataset_on_a_local_cluster_verifies_and_matches(tmp_path, capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    common = ["synth", "--n", "300", "--resolution", "100", "--format", "shards",
              "--shard-size", "256", "--no-progress"]
    assert main([*common, "--out", str(here)]) == 0
    assert main([*common, "--out", str(there), "--dask", "local:1"]) == 0
    err = capsys.readouterr().err
    assert "dask: 1 worker(s)" in err and "the workers write into" in err
    for name in ("manifest.json", "shards.json", "shards/shard-000000.tar",
                 "shards/shard-000001.tar", "patches.csv"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert main(["synth", "verify", str(there)]) == 0
    assert "OK, 5 files match the manifest" in capsys.readouterr().out


def test_train_reads_a_shard_folder(tmp_path, capsys):
    pytest.importorskip("keras")
    data = tmp_path / "shards"
    synth.write_dataset(synth.SceneConfig(), data, 80, resolution_um=100, seed=0,
                        dataset_format="shards", shard_size=256)
    out = tmp_path / "run"
    assert main(["train", "--model", "shallow", "--resolution", "100", "--data", str(data),
                 "--epochs", "1", "--batch-size", "16", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    import mcc_core

    loaded = mcc_core.load_model(out / "model.keras")
    assert loaded.metadata["dataset"]["source"] == str(data.resolve())
