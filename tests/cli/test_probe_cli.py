import json

import numpy as np
import pytest

from mcc_cli import main

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inp = keras.Input((100, 100, 1))
    x = keras.layers.Conv2D(2, 5, activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x), name="toy")
    path = tmp_path_factory.mktemp("m") / "toy.keras"
    model.save(path)
    return path


def test_probe_writes_a_report(tmp_path, model_path, capsys):
    out = tmp_path / "rep"
    code = main(["probe", "--model", str(model_path), "--n", "30", "--bootstrap", "50",
                 "--sweep", "contrast", "--values", "0.1", "0.6", "--no-cross-resolution",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "report.json").read_text())
    assert doc["model"]["name"] == "toy.keras" and len(doc["model"]["sha256"]) == 64
    assert doc["sweeps"] and doc["cross_resolution"] is None
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "needle"), [
    (["--sweep", "colour", "--values", "1"], "parameter"),
    (["--sweep", "contrast", "--values", "2.0"], "contrast_range"),
    (["--sweep", "contrast"], "--values"),
    (["--resolution", "70"], "resample"),
    (["--require", "recal>=0.9"], "--require"),
    (["--require", "sensitivity>=high"], "--require"),
    (["--require", "sensitivity@contrast=0.3>=0.9", "--sweep", "contrast", "--values", "0.1"],
     "not one of the swept values"),
    (["--require", "sensitivity@dose=10>=0.9"], "not swept"),
    (["--mammograms", "m", "--nms-radius-mm", "0"], "--nms-radius-mm"),
    (["--require", "auc>=0.5", "--gate-on", "ci", "--bootstrap", "0"], "--bootstrap > 0"),
    (["--model", "other.keras", "--bootstrap", "50"], "--bootstrap` must be >= 100"),
])
def test_bad_probe_input_is_one_line(tmp_path, model_path, capsys, args, needle):
    code = main(["probe", "--model", str(model_path), "--n", "10", "--out",
                 str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_not_a_model_is_refused(tmp_path, capsys):
    bad = tmp_path / "x.keras"
    bad.write_bytes(np.arange(10).tobytes())
    assert main(["probe", "--model", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable Keras model" in capsys.readouterr().err


def test_probe_defaults_to_the_bundled_model(tmp_path, capsys):
    code = main(["probe", "--resolution", "100", "--n", "20", "--bootstrap", "20",
                 "--no-behaviour", "--no-cross-resolution", "--no-thresholds",
                 "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["model"]["name"] == "shallow_100um.keras" and doc["model"]["parameters"] == 8301


def test_gates_decide_the_exit_code_and_are_reported(tmp_path, capsys):
    common = ["probe", "--resolution", "100", "--n", "40", "--bootstrap", "100",
              "--no-behaviour", "--no-cross-resolution", "--no-thresholds",
              "--sweep", "contrast", "--values", "0.3", "1.0"]
    code = main([*common, "--require", "accuracy>=0.01", "--require",
                 "sensitivity@contrast=1.0>=0", "--out", str(tmp_path / "pass")])
    out = capsys.readouterr().out
    assert code == 0 and "2 of 2 gates passed" in out
    code = main([*common, "--require", "auc>=0.01", "--require", "specificity>1",
                 "--gate-on", "ci", "--out", str(tmp_path / "fail")])
    out = capsys.readouterr().out
    assert code == 1
    failures = [line for line in out.splitlines() if "FAILED" in line]
    assert len(failures) == 1 and "specificity" in failures[0] and "upper" not in failures[0]
    doc = json.loads((tmp_path / "fail" / "report.json").read_text())
    assert [g["passed"] for g in doc["gates"]] == [True, False]
    assert all(g["on"] == "ci" for g in doc["gates"])
    assert "Gates" in (tmp_path / "fail" / "report.html").read_text()


def test_two_models_are_compared_on_the_same_patches(tmp_path, model_path, capsys):
    from mcc_core import bundled_model_path

    out = tmp_path / "cmp"
    code = main(["probe", "--model", str(model_path), "--model", str(bundled_model_path(100)),
                 "--n", "40", "--bootstrap", "100", "--sweep", "contrast", "--values", "0.3",
                 "1.0", "--require", "accuracy>=0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    doc = json.loads((out / "comparison.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["toy.keras", "shallow_100um.keras"]
    assert {row["condition"] for row in doc["table"]} == {"clean", "contrast=0.3",
                                                          "contrast=1.0"}
    assert "Model comparison" in (out / "comparison.html").read_text()
    assert printed.count("AUC toy.keras - shallow_100um.keras") == 3
    assert "2 of 2 gates passed" in printed


def test_models_of_two_resolutions_are_not_compared(tmp_path, model_path, capsys):
    from mcc_core import bundled_model_path

    code = main(["probe", "--model", str(model_path), "--model", str(bundled_model_path(70)),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "one resolution" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_saved_model_folder_needs_trust_model(tmp_path, model_path, capsys):
    model = keras.models.load_model(model_path)
    model.export(tmp_path / "saved", verbose=False)
    code = main(["probe", "--model", str(tmp_path / "saved"), "--n", "10", "--out",
                 str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--trust-model" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    code = main(["probe", "--model", str(tmp_path / "saved"), "--trust-model", "--n", "20",
                 "--bootstrap", "20", "--no-behaviour", "--no-cross-resolution",
                 "--no-thresholds", "--out", str(tmp_path / "o")])
    assert code == 0, capsys.readouterr().err


def test_probe_on_the_users_backgrounds(tmp_path, model_path, capsys):
    from PIL import Image

    folder = tmp_path / "negatives"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):  # 85 µm negatives: resampled to the model's 100 µm
        unit = np.clip(rng.normal(0.45, 0.01, (300, 300)), 0, 1)
        Image.fromarray(np.rint(unit * 65535).astype(np.uint16)).save(folder / f"n{i}.png")
    out = tmp_path / "rep"
    code = main(["probe", "--model", str(model_path), "--n", "20", "--bootstrap", "0",
                 "--backgrounds", str(folder), "--spacing-um", "85",
                 "--sweep", "mc_size", "--values", "0.2", "0.5", "--no-cross-resolution",
                 "--no-behaviour", "--no-thresholds", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "report.json").read_text())
    assert [f["spacing_um"] for f in doc["backgrounds"]["files"]] == [85.0, 85.0]
    capsys.readouterr()
    bad = main(["probe", "--model", str(model_path), "--n", "20", "--backgrounds",
                str(folder), "--spacing-um", "85", "--sweep", "density", "--values", "0.3",
                "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip()
    assert bad == 2 and "'density' has no effect" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()
