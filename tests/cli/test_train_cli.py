import json

import numpy as np
import pytest
from PIL import Image

import synth
from mcc_cli import main

pytest.importorskip("keras")


def test_train_on_synthetic_data_writes_a_loadable_model(tmp_path, capsys):
    import evalkit
    import mcc_core

    out = tmp_path / "run"
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data", "synthetic",
                 "--n", "80", "--epochs", "1", "--batch-size", "16", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    loaded = mcc_core.load_model(out / "model.keras")
    assert loaded.metadata["builder"] == "shallow" and loaded.metadata["resolution_um"] == 100
    assert loaded.metadata["dataset"]["source"] == "synthetic"
    assert {"history.csv", "curves.png", "result.json", "model.json"} <= {
        p.name for p in out.iterdir()}
    assert len(loaded.metadata["dataset"]["sha256"]) == 64
    # the saved weights are the ones scored: the reloaded model rebuilds the sidecar's matrix
    x, y = mcc_core.synthetic_arrays(synth.SceneConfig(), 80, resolution_um=100, seed=0)
    test = mcc_core.split_indices(y, seed=0)[2]
    prob = loaded.model.predict(x[test], verbose=0)[:, 0]
    again = evalkit.compute_metrics(y[test], prob, n_bootstrap=0)
    assert {k: again[k] for k in ("tn", "fp", "fn", "tp")} == {
        k: loaded.metadata["test_metrics"][k] for k in ("tn", "fp", "fn", "tp")}
    assert main(["train", "--model", "shallow", "--resolution", "100", "--data", "synthetic",
                 "--n", "80", "--epochs", "1", "--batch-size", "16", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def _folder(root, classes=(0, 1), size=100):
    for label in classes:
        for i in range(3):
            path = root / f"class_{label}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((size, size), 40 * i, np.uint8)).save(path)
    return root


def _corrupt(root):
    _folder(root)
    (root / "class_1" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p / "missing", "--data"),
    (lambda p: p, "class_0"),  # an empty folder
    (lambda p: _folder(p / "one", classes=(1,)), "class"),
    (lambda p: _folder(p / "big", size=144), "144"),
    (_corrupt, "1.png"),
])
def test_bad_data_is_one_line_and_writes_nothing(tmp_path, capsys, make, needle):
    data = make(tmp_path)
    out = tmp_path / "out"
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data", str(data),
                 "--epochs", "1", "--batch-size", "4", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not (out / "model.keras").exists()


def test_parser_refuses_unknown_models_and_resolutions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "alexnet", "--resolution", "70", "--data", "synthetic",
              "--epochs", "1", "--batch-size", "4", "--out", "x"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["train", "--model", "shallow", "--resolution", "60", "--data", "synthetic",
              "--epochs", "1", "--batch-size", "4", "--out", "x"])


def test_scene_file_only_with_synthetic_data(tmp_path, capsys):
    scene = tmp_path / "s.json"
    scene.write_text(json.dumps({"contrast_range": [0.3, 0.5]}))
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data",
                 str(_folder(tmp_path / "d")), "--scene", str(scene), "--epochs", "1",
                 "--batch-size", "4", "--out", str(tmp_path / "o")])
    assert code == 2 and "--scene" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "needle"), [
    ("{not json", "JSON"),
    ('{"beta_range": [5, 6]}', "beta_range"),
    ('{"colour": "red"}', "colour"),
])
def test_bad_scene_file_is_one_line(tmp_path, capsys, text, needle):
    scene = tmp_path / "s.json"
    scene.write_text(text)
    out = tmp_path / "o"
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data", "synthetic",
                 "--scene", str(scene), "--epochs", "1", "--batch-size", "4", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--n", "--epochs", "--batch-size"])
def test_counts_must_be_positive(tmp_path, capsys, flag):
    args = {"--n": "10", "--epochs": "1", "--batch-size": "4"}
    args[flag] = "0"
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data", "synthetic",
                 "--out", str(tmp_path / "o"), *(x for kv in args.items() for x in kv)])
    assert code == 2 and flag in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_train_with_synthetic_insertion_records_it(tmp_path, capsys):
    import mcc_core

    data = tmp_path / "patches"
    synth.write_dataset(synth.SceneConfig(), data, 40, resolution_um=100, seed=0)
    out = tmp_path / "run"
    code = main(["train", "--model", "shallow", "--resolution", "100", "--data", str(data),
                 "--augment-synthetic", "0.5", "--epochs", "1", "--batch-size", "16",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    extra = mcc_core.load_model(out / "model.keras").metadata["dataset"]["augment_synthetic"]
    assert extra["fraction"] == 0.5 and extra["n"] in (12, 13) and extra["backgrounds"] > 0
    for bad, needle in ((["--augment-synthetic", "-1"], "--augment-synthetic"),
                        (["--augment-synthetic", "0.5", "--data", "synthetic"], "patch folder")):
        argv = ["train", "--model", "shallow", "--resolution", "100", "--data", str(data),
                "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "bad"), *bad]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1
