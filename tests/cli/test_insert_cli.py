"""`mcc synth insert`: the dataset it writes, and its refusals (one line, exit 2, nothing
written)."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mcc_cli import main


def save16(path, unit):
    Image.fromarray(np.rint(np.clip(unit, 0, 1) * 65535).astype(np.uint16)).save(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("insert")
    rng = np.random.default_rng(0)
    good = root / "good"
    (good / "sub").mkdir(parents=True)
    save16(good / "a.png", rng.normal(0.5, 0.01, (260, 260)))
    save16(good / "sub" / "b.png", rng.normal(0.4, 0.01, (300, 240)))
    (good / "README.txt").write_text("ignored: not an image")
    empty = root / "empty"
    empty.mkdir()
    small = root / "small"
    small.mkdir()
    save16(small / "tiny.png", np.full((90, 90), 0.5))
    colour = root / "colour"
    colour.mkdir()
    Image.new("RGB", (300, 300), (200, 10, 10)).save(colour / "red.png")
    return root


def test_insert_writes_a_verifiable_dataset_naming_its_backgrounds(folders, tmp_path, capsys):
    out = tmp_path / "set"
    code = main(["synth", "insert", "--backgrounds", str(folders / "good"), "--spacing-um", "85",
                 "--n", "20", "--out", str(out), "--masks", "--no-progress",
                 "--noise-correlation-um", "40"])
    assert code == 0
    said = capsys.readouterr().out
    assert "20 patches at 100 µm inserted into 2 background(s)" in said  # 85 µm → 100 µm
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in manifest["backgrounds"]["files"]] == ["a.png", "sub/b.png"]
    assert manifest["backgrounds"]["files"][0]["spacing_um"] == 85.0
    assert manifest["backgrounds"]["noise_correlation_um"] == 40.0
    table = pd.read_csv(out / "patches.csv")
    assert set(table["background"]) <= {"a.png", "sub/b.png"}
    assert main(["synth", "verify", str(out)]) == 0


CASES = [
    (["--backgrounds", "{f}/empty", "--spacing-um", "70"], "holds none"),
    (["--backgrounds", "{f}/missing", "--spacing-um", "70"], "existing folder"),
    (["--backgrounds", "{f}/small", "--spacing-um", "70"], "at least one patch.*tiny.png"),
    (["--backgrounds", "{f}/good"], "`--spacing-um` is needed"),
    (["--backgrounds", "{f}/good", "--spacing-um", "0"], "`--spacing-um` must be a pixel"),
    (["--backgrounds", "{f}/colour", "--spacing-um", "70"], "grey image.*red.png"),
    (["--backgrounds", "{f}/good", "--spacing-um", "70", "--gain", "-2"], "`--gain`"),
    (["--backgrounds", "{f}/good", "--spacing-um", "70", "--n", "0"], "`--n`"),
    (["--backgrounds", "{f}/good", "--spacing-um", "70", "--noise-correlation-um", "-5"],
     "`--noise-correlation-um`"),
]


@pytest.mark.parametrize(("args", "pattern"), CASES, ids=[c[1] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(folders, tmp_path, capsys, args, pattern):
    out = tmp_path / "out"
    argv = ["synth", "insert", *[a.format(f=folders) for a in args], "--out", str(out),
            "--no-progress"]
    if "--n" not in argv:
        argv += ["--n", "5"]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and re.search(pattern, err), err
    assert not out.exists()
