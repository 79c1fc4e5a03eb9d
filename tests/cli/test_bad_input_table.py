"""The bad-input corpus: command → exit code 2 → one line matching a pattern, nothing written.
Grow it with every refusal a user finds missing."""

import pytest

from mcc_cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "binary.json").write_bytes(bytes(range(256)) * 4)
    (root / "utf16.json").write_text('{"version": 2}', encoding="utf-16")
    (root / "huge.json").write_text(" " * 4_000_001)
    (root / "big_number.json").write_text('{"version": 2, "density_range": [1e400, 0.5]}')
    (root / "nan_count.json").write_text('{"version": 2, "mc_count_range": [NaN, 5]}')
    (root / "a_file").write_text("not a folder")
    _dicoms(root)
    (root / "boxes.csv").write_text("image,X1,Y1,X2,Y2\nzero_spacing.dcm,1,1,5,5\n")
    return root


def _dicoms(root):
    """Bad DICOM files, edited from a good one with pydicom; and folders of bad backgrounds."""
    import io

    import numpy as np
    import pydicom
    from PIL import Image

    from synth.io import encode_dicom

    def edit(name, change):
        ds = pydicom.dcmread(io.BytesIO(encode_dicom(np.full((300, 300), 0.4, np.float32),
                                                     spacing_um=70)))
        change(ds)
        ds.save_as(root / name)

    edit("no_pixels.dcm", lambda ds: delattr(ds, "PixelData"))
    edit("report.dcm", lambda ds: setattr(ds, "Modality", "SR"))

    def zero_spacing(ds):
        ds.ImagerPixelSpacing = [0, 0]
        ds.PixelSpacing = [0, 0]

    edit("zero_spacing.dcm", zero_spacing)
    Image.new("RGB", (300, 300), (200, 10, 10)).save(root / "red.png")
    for folder, image in (("tiny", np.full((50, 50), 0.4)), ("empty", None)):
        (root / folder).mkdir()
        if image is not None:
            Image.fromarray(np.rint(image * 65535).astype(np.uint16)).save(root / folder / "t.png")


CASES = [
    (["synth", "--config", "{f}/nan_count.json", "--n", "2"], "mc_count_range"),
    (["experiment", "--seed", "-1"], "`--seed` must be an integer >= 0"),
    (["tune", "--resolution", "100", "--out", "{f}/a_file"], "`--out` must be a folder"),
    (["synth", "mammogram", "--size-mm", "5000", "5000", "--n", "1"], "MCC_MAX_PIXELS"),
    (["synth", "--resolution", "all", "--n", "2", "--out", "{f}"], "must hold only 100um"),
    (["train", "--model", "shallow", "--resolution", "100", "--data", "synthetic", "--n",
      "100000000", "--epochs", "1", "--batch-size", "8"], "need .* GB of memory"),
    (["scan", "{f}/no_pixels.dcm"], "with PixelData"),
    (["scan", "{f}/report.dcm"], "modality"),
    (["scan", "{f}/zero_spacing.dcm"], "`--spacing-um` is needed.*ImagerPixelSpacing"),
    (["scan", "{f}/red.png", "--spacing-um", "70"], "grey image"),
    (["scan", "{f}/no_pixels.dcm", "--spacing-um", "0"], "`--spacing-um` must be a pixel"),
    (["synth", "insert", "--backgrounds", "{f}/tiny", "--spacing-um", "70", "--n", "4"],
     "at least one patch"),
    (["synth", "insert", "--backgrounds", "{f}/empty", "--spacing-um", "70", "--n", "4"],
     "holds none"),
    (["extract", "--images", "{f}", "--annotations", "{f}/boxes.csv", "--resolution", "70",
      "--spacing-um", "-3"], "`--spacing-um` must be a pixel"),
    (["extract", "--images", "{f}", "--annotations", "{f}/boxes.csv", "--resolution", "70"],
     "`--spacing-um` is needed.*zero_spacing.dcm"),
    (["scan", "{f}/red.png", "--resolution", "5"], "`resolution_um` must be one of"),
    (["synth", "--config", "{f}/deep.json", "--n", "2"], "nested too deeply"),
    (["synth", "--config", "/dev/zero", "--n", "2"], "not a regular file"),
    (["synth", "--config", "{f}/binary.json", "--n", "2"], "not UTF-8 text"),
    (["synth", "--config", "{f}/utf16.json", "--n", "2"], "not UTF-8 text"),
    (["synth", "--config", "{f}/huge.json", "--n", "2"], "at most 1000000 characters"),
    (["synth", "--config", "{f}/big_number.json", "--n", "2"], "density_range"),
    (["synth", "--n", "10000000000000"], "need at least .* TB on disk"),
    (["synth", "--seed", "-1", "--n", "2"], "`seed` must be an integer >= 0"),
    (["probe", "--resolution", "100", "--bootstrap", "100000000000"], "--bootstrap"),
    (["probe", "--resolution", "100", "--n", "100000000"], "--n` must lie in"),
    (["probe", "--resolution", "100", "--require", "auc=>1"], "--require"),
    (["probe", "--resolution", "100", "--scenario", "{f}/deep.json"], "nested too deeply"),
    (["report", "--from", "{f}", "--out", "{o}"], "no report.json"),
]


@pytest.mark.parametrize(("args", "pattern"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, capsys, args, pattern):
    import re

    out = tmp_path / "out"
    argv = [a.format(f=files, o=out) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and re.search(pattern, err), err
    assert not out.exists() or not any(out.iterdir())
