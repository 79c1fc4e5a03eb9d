import json

import pytest

from mcc_cli import main


@pytest.mark.parametrize(("argv", "flag"), [
    (["--seeds", "0"], "--seeds"),
    (["--seed", "-1"], "--seed"),
    (["--families", "mobilenet", "--models", "shallow"], "--models"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, flag):
    out = tmp_path / "out"
    assert main(["study", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err
    assert not out.exists()


def test_out_must_be_given_and_be_a_folder(tmp_path, capsys):
    assert main(["study"]) == 2
    assert "--out" in capsys.readouterr().err
    file = tmp_path / "file"
    file.write_text("x")
    assert main(["study", "--out", str(file)]) == 2
    assert "folder" in capsys.readouterr().err


def test_report_needs_a_study(tmp_path, capsys):
    assert main(["study", "report", "--from", str(tmp_path), "--out",
                 str(tmp_path / "s.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--from" in err and len(err.splitlines()) == 1


def test_study_then_report_writes_the_same_page(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["study", "--out", str(out), "--models", "shallow-mpl2-5x5", "--quiet"]) == 0
    record = json.loads((out / "study.json").read_text())
    assert record["scale"] == "smoke" and list(record["models"]) == ["shallow-mpl2-5x5"]
    page = tmp_path / "docs" / "study.md"
    assert main(["study", "report", "--from", str(out), "--out", str(page)]) == 0
    assert page.read_text() == (out / "study.md").read_text()
    assert "Smoke scale" in page.read_text()
    assert (page.parent / "study_accuracy.png").exists()
