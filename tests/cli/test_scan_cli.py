import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mcc_cli import main

keras = pytest.importorskip("keras")

OUTPUTS = {"case_study.png", "heatmap.png", "scores.csv", "scan.json"}


def test_scan_json_opens_with_the_shared_summary_fields():
    """The CLI and the dashboard build scan.json's first fields with one function."""
    from mcc_core.scanning import scan_model_label, scan_summary

    summary = scan_summary("a/m.png", np.zeros((3, 4), np.uint8), image_format="PNG",
                           spacing_um=70.0, model=scan_model_label("m.keras", bundled=False),
                           stride_mm=1.5)
    assert list(summary) == ["image", "image_format", "image_dtype", "image_spacing_um",
                             "image_shape", "resampled", "scale", "model", "stride_mm"]
    assert summary["model"] == "m.keras" and summary["image_shape"] == [3, 4]


def breast(shape, seed=0):
    """Float image in [0, 1]: a textured half ellipse on black, with a few bright dots."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    inside = (x / (0.8 * shape[1])) ** 2 + ((y - shape[0] / 2) / (0.48 * shape[0])) ** 2 <= 1
    image = 0.45 + 0.08 * rng.standard_normal(shape)
    image[150:156, 100:106] += 0.5
    return np.where(inside, np.clip(image, 0.02, 1.0), 0.0)


@pytest.fixture(scope="module")
def png16(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "mammo16.png"
    Image.fromarray(np.rint(breast((300, 380)) * 65535).astype(np.uint16)).save(path)
    return path


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_scan_writes_the_four_files(tmp_path, png16, capsys):
    out = tmp_path / "scan"
    code, stdout, err = run(["scan", str(png16), "--resolution", "100", "--out", str(out),
                             "--no-progress"], capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == OUTPUTS
    doc = json.loads((out / "scan.json").read_text())
    scores = pd.read_csv(out / "scores.csv")
    assert doc["model"] == "bundled:shallow_100um.keras" and doc["method"] == "fully_convolutional"
    assert doc["image_dtype"] == "uint16" and doc["stride_px"] == 15
    assert doc["n_windows"] == len(scores) == ((300 - 100) // 15 + 1) * ((380 - 100) // 15 + 1)
    assert doc["n_background"] == int(scores.background.sum()) > 0
    assert doc["n_positive"] == int(scores.positive.sum())
    assert doc["n_positive"] + doc["n_negative"] + doc["n_background"] == doc["n_windows"]
    for name in ("case_study.png", "heatmap.png"):
        with Image.open(out / name) as img:
            assert img.mode == "RGB" and img.size == (380, 300)
    assert str(out) in stdout and "negative windows" in stdout
    assert not list(tmp_path.glob(".*"))  # no staging folder left


def test_scan_with_a_model_file_an_rgb_grey_png_and_tint(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((100, 100, 1))
    x = keras.layers.Conv2D(2, 5, activation="relu")(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.save(tmp_path / "toy.h5")
    grey = np.rint(breast((200, 230), seed=1) * 255).astype(np.uint8)
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "rgb.png")
    out = tmp_path / "o"
    out.mkdir()  # an empty folder is fine
    code, _, err = run(["scan", str(tmp_path / "rgb.png"), "--resolution", "100", "--model",
                        str(tmp_path / "toy.h5"), "--mode", "tint", "--method", "patches",
                        "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    doc = json.loads((out / "scan.json").read_text())
    assert doc["method"] == "patches" and doc["model"].endswith("toy.h5")
    assert doc["image_dtype"] == "uint8"


@pytest.fixture
def bad_inputs(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(np.full((60, 400), 100, np.uint8)).save(tmp_path / "small.png")
    colour = np.zeros((200, 200, 3), np.uint8)
    colour[..., 0] = 90
    Image.fromarray(colour).save(tmp_path / "colour.png")
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    return tmp_path


@pytest.mark.parametrize(("image", "extra", "needle"), [
    ("missing.png", [], "IMAGE"),
    ("text.png", [], "cannot be read as one"),
    ("small.png", [], "at least one patch"),
    ("colour.png", [], "channels differ"),
    ("mammo16", ["--model", "{tmp}/broken.keras"], "path"),
    ("mammo16", ["--model", "{tmp}/nothing.keras"], "--model"),
    ("mammo16", ["--resolution", "60"], "resolution_um"),
    ("mammo16", ["--resolution", "70", "--model", "{b100}"], "144 × 144"),
    ("mammo16", ["--threshold", "2"], "threshold"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(bad_inputs, png16, capsys, image,
                                                          extra, needle):
    source = png16 if image == "mammo16" else bad_inputs / image
    from mcc_core import bundled_model_path

    extra = [arg.format(tmp=bad_inputs, b100=bundled_model_path(100)) for arg in extra]
    resolution = [] if "--resolution" in extra else ["--resolution", "100"]
    out = bad_inputs / "out"
    code, _, err = run(["scan", str(source), *resolution, *extra, "--out", str(out),
                        "--no-progress"], capsys)
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not list(bad_inputs.glob(".out*"))


def test_a_non_empty_out_is_refused(bad_inputs, png16, capsys):
    code, _, err = run(["scan", str(png16), "--resolution", "100", "--out",
                        str(bad_inputs / "full")], capsys)
    assert code == 2 and "--out" in err
    assert [p.name for p in (bad_inputs / "full").iterdir()] == ["x.txt"]


def test_the_current_folder_is_refused_and_an_empty_one_by_another_name_works(
        tmp_path, png16, capsys, monkeypatch):
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, _, err = run(["scan", str(png16), "--resolution", "100", "--out", ".",
                        "--no-progress"], capsys)
    assert code == 2 and "current folder" in err and len(err.splitlines()) == 1, err
    assert list(empty.iterdir()) == []
    (empty / "sub").mkdir()
    code, _, err = run(["scan", str(png16), "--resolution", "100", "--out", "sub/.",
                        "--no-progress"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (empty / "sub").iterdir()) == [
        "case_study.png", "heatmap.png", "scan.json", "scores.csv"]
    assert [p.name for p in empty.iterdir()] == ["sub"]  # no staging folder left


@pytest.fixture(scope="module")
def mammograms(tmp_path_factory):
    """Two hand-built 100 µm mammograms (8 and 16 bit) and annotations.csv beside them."""
    folder = tmp_path_factory.mktemp("mammograms")
    Image.fromarray(np.rint(breast((260, 300), seed=2) * 255).astype(np.uint8)).save(
        folder / "m0.png")
    Image.fromarray(np.rint(breast((240, 320), seed=3) * 65535).astype(np.uint16)).save(
        folder / "m1.png")
    pd.DataFrame({"image": ["m0.png", "m0.png", "m1.png"], "X1": [95, 10, 95],
                  "Y1": [145, 20, 145], "X2": [115, 40, 115], "Y2": [165, 60, 165]}).to_csv(
        folder / "annotations.csv", index=False)
    pd.DataFrame({"image": ["m9.png"], "X1": [1], "Y1": [1], "X2": [5], "Y2": [5]}).to_csv(
        folder / "other.csv", index=False)
    return folder


PROBE = ["probe", "--resolution", "100", "--n", "20", "--bootstrap", "20", "--no-behaviour",
         "--no-cross-resolution", "--no-thresholds"]


def test_probe_adds_the_froc_of_scanned_mammograms(tmp_path, mammograms, capsys):
    code, stdout, err = run([*PROBE, "--mammograms", str(mammograms), "--out",
                             str(tmp_path / "rep")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["froc"]["n_images"] == 2 and doc["froc"]["n_clusters"] == 3
    assert len(pd.read_csv(tmp_path / "rep" / "froc.csv")) == 6
    assert "FROC on whole mammograms" in (tmp_path / "rep" / "report.html").read_text()
    assert "CPM" in stdout


@pytest.mark.parametrize(("extra", "needle"), [
    (["--annotations", "{dir}/annotations.csv"], "--mammograms"),
    (["--mammograms", "{dir}/m0.png"], "folder"),
    (["--mammograms", "{dir}", "--annotations", "{dir}/nothing.csv"], "annotations"),
    (["--mammograms", "{dir}", "--annotations", "{dir}/other.csv"], "not in"),
])
def test_bad_mammogram_options_are_refused(tmp_path, mammograms, capsys, extra, needle):
    extra = [arg.format(dir=mammograms) for arg in extra]
    code, _, err = run([*PROBE, *extra, "--out", str(tmp_path / "rep")], capsys)
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "rep").exists()


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, capsys):
    """A 30000 × 30000 PNG of a few hundred bytes: one line and exit 2, no traceback."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    assert main(["scan", str(path), "--resolution", "100", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "at most 100,000,000 pixels" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("method", ["patches", "fully_convolutional"])
def test_a_model_returning_nan_is_refused_not_read_as_all_negative(tmp_path, png16, capsys,
                                                                   method):
    inputs = keras.Input((100, 100, 1))
    x = keras.layers.Conv2D(2, 5, activation="relu")(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x), name="broken")
    dense = model.layers[-1]
    dense.set_weights([np.full_like(w, np.nan) for w in dense.get_weights()])
    model.save(tmp_path / "broken.keras")
    out = tmp_path / "o"
    code, _, err = run(["scan", str(png16), "--resolution", "100", "--model",
                        str(tmp_path / "broken.keras"), "--method", method, "--out", str(out),
                        "--no-progress"], capsys)
    assert code == 2 and "`broken` returned NaN" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_scan_resamples_an_image_of_another_spacing(tmp_path, png16, capsys):
    """--spacing-um is the image's, --resolution the model's: an 85 µm PNG goes to the
    bundled 100 µm model by default, and to 70 µm when asked."""
    out = tmp_path / "scan85"
    code, stdout, err = run(["scan", str(png16), "--spacing-um", "85", "--out", str(out),
                             "--no-progress"], capsys)
    assert code == 0, err
    doc = json.loads((out / "scan.json").read_text())
    assert doc["model"] == "bundled:shallow_100um.keras" and doc["resampled"] is True
    assert doc["image_spacing_um"] == 85.0 and doc["scale"] == pytest.approx(0.85)
    with Image.open(out / "heatmap.png") as img:
        assert img.size == (int(380 * 0.85), int(300 * 0.85))
    assert "resampled from 85 µm" in stdout
    out70 = tmp_path / "scan70"
    code, _, err = run(["scan", str(png16), "--spacing-um", "85", "--resolution", "70",
                        "--out", str(out70), "--no-progress"], capsys)
    assert code == 0, err
    doc70 = json.loads((out70 / "scan.json").read_text())
    assert doc70["model"] == "bundled:shallow_70um.keras" and doc70["resolution_um"] == 70
    with Image.open(out70 / "heatmap.png") as img:
        assert img.size == (int(380 * 85 / 70), int(300 * 85 / 70))


def test_scan_of_a_png_needs_its_spacing(tmp_path, png16, capsys):
    out = tmp_path / "o"
    code, _, err = run(["scan", str(png16), "--out", str(out), "--no-progress"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "`--spacing-um` is needed" in err and not out.exists()


def test_probe_scans_dicom_mammograms_of_another_spacing(tmp_path, capsys):
    """A 70 µm DICOM set probed with the 100 µm model: each image resampled, boxes scaled."""
    import synth

    folder = tmp_path / "dicom"
    synth.write_mammograms(synth.SceneConfig(), folder, 2, resolution_um=70, seed=0,
                           size_mm=(60.0, 80.0), format="dicom")
    import mcc_core

    cases = mcc_core.load_mammogram_set(folder)
    assert [c.spacing_um for c in cases] == [70.0, 70.0]
    code, _, err = run([*PROBE, "--mammograms", str(folder), "--out", str(tmp_path / "rep")],
                       capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    boxes = pd.read_csv(folder / "annotations.csv")
    assert doc["froc"]["n_images"] == 2 and doc["froc"]["n_clusters"] == len(boxes)


def test_a_dicom_scans_with_no_other_flag(tmp_path, capsys):
    """`mcc scan mammo.dcm --out DIR`: the spacing from the header, the nearest bundled model
    (85 µm → 100 µm, resampled first)."""
    from synth.io import encode_dicom

    path = tmp_path / "m.dcm"
    path.write_bytes(encode_dicom(breast((300, 380)).astype(np.float32), spacing_um=85,
                                  laterality="L", view="CC"))
    out = tmp_path / "scan"
    code, stdout, err = run(["scan", str(path), "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    doc = json.loads((out / "scan.json").read_text())
    assert doc["image_format"] == "DICOM" and doc["image_spacing_um"] == 85.0
    assert doc["model"] == "bundled:shallow_100um.keras" and doc["resampled"] is True
