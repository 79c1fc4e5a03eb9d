import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mcc_cli import main

MAMMOGRAM_ARGS = ["synth", "mammogram", "--resolution", "100", "--n", "2", "--seed", "4",
                  "--size-mm", "60", "80", "--no-progress"]


@pytest.fixture(scope="module")
def mammograms(tmp_path_factory):
    out = tmp_path_factory.mktemp("mammo") / "data"
    assert main([*MAMMOGRAM_ARGS, "--out", str(out)]) == 0
    return out


def _one_line_error(capsys, needle):
    err = capsys.readouterr().err.strip()
    assert needle in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_synth_mammogram_writes_pngs_annotations_and_manifest(mammograms):
    names = sorted(p.name for p in mammograms.iterdir())
    assert names == ["annotations.csv", "calcifications.csv", "mammogram_0000.png",
                     "mammogram_0001.png", "manifest.json"]
    with Image.open(mammograms / "mammogram_0000.png") as image:
        assert image.mode.startswith("I;16") and image.size == (800, 600)
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() > 255  # black background, 16-bit range used
    table = pd.read_csv(mammograms / "annotations.csv")
    assert list(table.columns) == ["image", "X1", "Y1", "X2", "Y2", "cluster", "distribution",
                                   "n_calcifications"]
    assert set(table["image"]) <= {"mammogram_0000.png", "mammogram_0001.png"}
    manifest = json.loads((mammograms / "manifest.json").read_text())
    assert manifest["resolution_um"] == 100 and manifest["seed"] == 4
    assert manifest["size_mm"] == [60.0, 80.0] and manifest["config"]["cluster_min_count"] == 3
    digest = hashlib.sha256((mammograms / "annotations.csv").read_bytes()).hexdigest()
    assert manifest["files"]["annotations.csv"] == digest
    assert main(["synth", "verify", str(mammograms)]) == 0


def test_synth_mammogram_refuses_a_non_empty_out(mammograms, capsys):
    assert main([*MAMMOGRAM_ARGS, "--out", str(mammograms)]) == 2
    _one_line_error(capsys, "empty")


def test_synth_mammogram_refuses_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*MAMMOGRAM_ARGS, "--out", "."]) == 2
    _one_line_error(capsys, "current folder")
    assert list(tmp_path.iterdir()) == []


def test_extract_writes_a_dataset_that_verifies_and_loads(mammograms, tmp_path, capsys):
    import mcc_core

    out = tmp_path / "patches"
    assert main(["extract", "--images", str(mammograms), "--annotations",
                 str(mammograms / "annotations.csv"), "--resolution", "100", "--out", str(out),
                 "--no-progress"]) == 0
    assert "class-1" in capsys.readouterr().out
    assert main(["synth", "verify", str(out)]) == 0
    patches = mcc_core.load_patch_folder(out, input_size=100)
    counts = np.bincount(patches.labels, minlength=2)
    assert counts[0] == counts[1] > 0  # balanced over the dataset
    table = pd.read_csv(out / "patches.csv")
    assert {"path", "label", "image", "x1", "y1", "x2", "y2", "box", "order"} <= set(table.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["protocol"]["class_1_step_px"] == 15 and manifest["bit_depth"] == 8


def _extract(tmp_path, images, annotations, *extra):
    return main(["extract", "--images", str(images), "--annotations", str(annotations),
                 "--resolution", "100", "--out", str(tmp_path / "out"), "--no-progress",
                 *extra])


def test_missing_annotation_file_is_one_line_and_writes_nothing(mammograms, tmp_path, capsys):
    assert _extract(tmp_path, mammograms, tmp_path / "nope.csv") == 2
    _one_line_error(capsys, "nope.csv")
    assert not (tmp_path / "out").exists()


def test_image_named_but_missing_is_one_line_and_writes_nothing(mammograms, tmp_path, capsys):
    table = pd.read_csv(mammograms / "annotations.csv")
    table.loc[0, "image"] = "ghost.png"
    csv = tmp_path / "boxes.csv"
    table.to_csv(csv, index=False)
    assert _extract(tmp_path, mammograms, csv) == 2
    _one_line_error(capsys, "ghost.png")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_unknown_resolution_is_one_line(mammograms, tmp_path, capsys):
    assert main(["extract", "--images", str(mammograms), "--annotations",
                 str(mammograms / "annotations.csv"), "--resolution", "60", "--out",
                 str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "resolution_um")
    assert not (tmp_path / "out").exists()


def test_colour_png_is_refused(tmp_path, capsys):
    colour = np.full((300, 300, 3), 120, np.uint8)
    colour[..., 0] = 200  # channels differ: which grey it means is the user's choice
    Image.fromarray(colour).save(tmp_path / "rgb.png")
    csv = tmp_path / "boxes.csv"
    csv.write_text("filename;x1;y1;x2;y2\nrgb.png;100;100;140;140\n")  # MEXBreast-like names
    assert _extract(tmp_path, tmp_path, csv) == 2
    _one_line_error(capsys, "channels differ")
    assert not (tmp_path / "out").exists()


def test_grey_saved_as_rgb_is_read_as_grey(mammograms, tmp_path, capsys):
    """The one colour policy (`synth.read_grey_image`): equal channels are grey, as `mcc scan`
    and the dashboard read them."""
    images = tmp_path / "rgb"
    images.mkdir()
    for path in sorted(mammograms.glob("*.png")):
        grey = (np.asarray(Image.open(path)) >> 8).astype(np.uint8)
        Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(images / path.name)
    assert _extract(tmp_path, images, mammograms / "annotations.csv") == 0, \
        capsys.readouterr().err
    assert any((tmp_path / "out" / "class_1").iterdir())


def test_an_interrupted_extraction_leaves_nothing(mammograms, tmp_path, monkeypatch, capsys):
    import mcc_core.scanning._extract_io as extract_io

    calls = []

    def interrupted(image, bit_depth):
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return b"png"

    monkeypatch.setattr(extract_io, "encode_png", interrupted)
    assert _extract(tmp_path, mammograms, mammograms / "annotations.csv") == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../outside.png", "ABSOLUTE"])
def test_annotations_cannot_name_images_outside_the_folder(mammograms, tmp_path, capsys, name):
    outside = tmp_path / "outside.png"
    Image.fromarray(np.full((300, 300), 90, np.uint8)).save(outside)
    images = tmp_path / "images"
    images.mkdir()
    name = str(outside) if name == "ABSOLUTE" else name
    csv = tmp_path / "boxes.csv"
    csv.write_text(f"image,X1,Y1,X2,Y2\n{name},100,100,140,140\n")
    assert _extract(tmp_path, images, csv) == 2
    _one_line_error(capsys, "inside `images_dir`")
    assert not (tmp_path / "out").exists()
