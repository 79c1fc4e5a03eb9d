import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import synth
from synth import SceneConfig, verify_dataset, write_dataset
from synth._dataset import CHUNK, PARTIAL


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_tables_and_manifest(tmp_path):
    config = SceneConfig()
    manifest = write_dataset(config, tmp_path / "d", 30, resolution_um=100, seed=4, masks=True)
    root = tmp_path / "d"
    patches = pd.read_csv(root / "patches.csv")
    mcs = pd.read_csv(root / "calcifications.csv")
    assert len(patches) == 30 and set(patches.columns) >= {"index", "path", "label", "seed"}
    assert manifest["counts"]["class_0"] + manifest["counts"]["class_1"] == 30
    assert manifest["seed"] == 4 and manifest["resolution_um"] == 100
    assert SceneConfig.from_dict(manifest["config"]) == config
    batch = synth.generate(config, 30, resolution_um=100, seed=4)
    for _, row in patches.iterrows():
        assert row.path.startswith(f"class_{row.label}/")
        pixels = np.asarray(Image.open(root / row.path))
        assert pixels.dtype == np.uint8 and pixels.shape == (100, 100)
        np.testing.assert_array_equal(pixels, np.rint(batch.images[row["index"]] * 255))
        mask = np.asarray(Image.open(root / row.mask_path)) > 0
        np.testing.assert_array_equal(mask, batch.masks[row["index"]])
    assert len(mcs) == len(batch.calcifications)
    assert verify_dataset(root).ok
    assert not (root / PARTIAL).exists()


def test_sixteen_bit_output(tmp_path):
    write_dataset(SceneConfig(), tmp_path, 4, resolution_um=70, seed=0, bit_depth=16)
    path = next((tmp_path / "class_0").glob("*.png"), None) or next(
        (tmp_path / "class_1").glob("*.png"))
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (144, 144) and pixels.max() > 255


def test_workers_do_not_change_a_byte(tmp_path):
    n = CHUNK + 40
    write_dataset(SceneConfig(), tmp_path / "one", n, resolution_um=100, seed=9, workers=1)
    write_dataset(SceneConfig(), tmp_path / "two", n, resolution_um=100, seed=9, workers=2)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_writing_the_same_dataset_again_is_a_no_op_and_another_is_refused(tmp_path):
    write_dataset(SceneConfig(), tmp_path, 8, resolution_um=100, seed=1)
    before = _files(tmp_path)
    write_dataset(SceneConfig(), tmp_path, 8, resolution_um=100, seed=1)
    assert _files(tmp_path) == before
    with pytest.raises(ValueError, match="out_dir"):
        write_dataset(SceneConfig(), tmp_path, 8, resolution_um=100, seed=2)
    with pytest.raises(ValueError, match="out_dir"):
        write_dataset(SceneConfig(contrast_range=(0.2, 0.3)), tmp_path, 8, resolution_um=100,
                      seed=1)
    assert _files(tmp_path) == before
    write_dataset(SceneConfig(), tmp_path, 8, resolution_um=100, seed=2, overwrite=True)
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 2
    assert verify_dataset(tmp_path).ok


def test_foreign_files_are_never_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="out_dir"):
        write_dataset(SceneConfig(), tmp_path, 4, resolution_um=100, seed=0, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_interrupted_run_resumes_to_the_same_bytes(tmp_path):
    n = 3 * CHUNK
    write_dataset(SceneConfig(), tmp_path / "ref", n, resolution_um=100, seed=3)
    target = tmp_path / "run"
    code = (f"import synth; synth.write_dataset(synth.SceneConfig(), {str(target)!r}, {n}, "
            "resolution_um=100, seed=3)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while time.time() < deadline and not list((target / PARTIAL).glob("chunk_*.json")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (target / "manifest.json").exists()
    visible = [p for p in target.rglob("*.png") if not p.name.startswith(".")]
    for p in visible:  # every visible PNG is whole
        Image.open(p).load()
    with pytest.raises(ValueError, match="interrupted"):
        verify_dataset(target)
    write_dataset(SceneConfig(), target, n, resolution_um=100, seed=3)
    assert _files(target) == _files(tmp_path / "ref")


def test_verify_reports_missing_extra_and_altered_files(tmp_path):
    write_dataset(SceneConfig(), tmp_path, 10, resolution_um=100, seed=0)
    pngs = sorted(tmp_path.rglob("*.png"))
    pngs[0].unlink()
    pngs[1].write_bytes(pngs[1].read_bytes() + b"\0")
    (tmp_path / "class_0" / "stray.png").write_bytes(b"x")
    report = verify_dataset(tmp_path)
    assert not report.ok
    rel = lambda p: p.relative_to(tmp_path).as_posix()  # noqa: E731
    assert report.missing == (rel(pngs[0]),)
    assert report.altered == (rel(pngs[1]),)
    assert report.extra == ("class_0/stray.png",)
    assert "1 missing" in report.summary()


def test_verify_refuses_a_folder_without_manifest(tmp_path):
    with pytest.raises(ValueError, match="manifest"):
        verify_dataset(tmp_path)
    with pytest.raises(ValueError, match="path"):
        verify_dataset(tmp_path / "nope")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"bit_depth": 12}, "bit_depth"), ({"workers": 0}, "workers"), ({"n": 0}, "n"),
    ({"resolution_um": 75}, "resolution_um"), ({"seed": -3}, "seed"),
])
def test_write_dataset_validates_before_writing(tmp_path, kwargs, field):
    args = {"n": 4, "resolution_um": 100, "seed": 0} | kwargs
    n = args.pop("n")
    with pytest.raises(ValueError, match=field):
        write_dataset(SceneConfig(), tmp_path / "x", n, **args)
    assert not (tmp_path / "x").exists()


def test_out_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match="out_dir"):
        write_dataset(SceneConfig(), path, 2, resolution_um=100, seed=0)
    assert os.path.getsize(path) == 0


def test_atomic_writes_get_the_mode_a_plain_write_would(tmp_path):
    import os

    from synth.io import write_atomic

    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"x")
    atomic = write_atomic(tmp_path / "atomic.txt", b"x")
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
    config = synth.SceneConfig()
    synth.write_dataset(config, tmp_path / "set", 3, resolution_um=100, seed=0)
    manifest = tmp_path / "set" / "manifest.json"
    assert os.stat(manifest).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


@pytest.mark.parametrize("tamper, needle", [
    ("seed", "edited"),
    ("entry_and_file", "do not match"),
    ("empty_files", "do not match"),
    ("symlink", None),
])
def test_verify_catches_a_tampered_manifest_and_symlinks(tmp_path, tamper, needle):
    out = tmp_path / "set"
    synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=100, seed=0)
    assert synth.verify_dataset(out).ok
    manifest = json.loads((out / "manifest.json").read_text())
    if tamper == "seed":
        manifest["seed"] = 1
    elif tamper == "entry_and_file":
        gone = next(rel for rel in manifest["files"] if rel.endswith(".png"))
        del manifest["files"][gone]
        (out / gone).unlink()
    elif tamper == "empty_files":
        manifest["files"] = {}
        for png in out.rglob("*.png"):
            png.unlink()
        for table in ("patches.csv", "calcifications.csv"):
            (out / table).unlink()
    else:
        os.symlink(out / "patches.csv", out / "class_0" / "link.png")
    if tamper != "symlink":
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    report = synth.verify_dataset(out)
    assert not report.ok
    if needle is None:
        assert report.symlinks == ("class_0/link.png",) and "symlinks" in report.summary()
    else:
        assert any(needle in line for line in report.inconsistent), report.inconsistent
