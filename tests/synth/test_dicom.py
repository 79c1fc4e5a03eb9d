"""DICOM in the one grey-image reader, and DICOM files of synthetic mammograms."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

import synth
from mcc_cli import main
from synth.io import FORMATS, encode_dicom, encode_png, probe_grey_image, read_grey_image

SMALL = (40.0, 50.0)


def _dataset(pixels: np.ndarray, **tags) -> Dataset:
    """A minimal MG image dataset of `pixels` (uint8 or uint16, (H, W)), `tags` on top."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["test"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.ImagerPixelSpacing = ["0.07", "0.07"]
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    for keyword, value in tags.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20)


@pytest.fixture
def twelve_bit(rng) -> np.ndarray:
    return rng.integers(0, 4096, size=(64, 48)).astype(np.uint16)


# -- the writer and the round trip --------------------------------------------------------
@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("intent", ["presentation", "processing"])
def test_round_trip_keeps_pixels_spacing_and_tags(rng, bit_depth, intent):
    image = rng.random((30, 20)).astype(np.float32)
    image[0, 0], image[0, 1] = 0.0, 1.0
    data = encode_dicom(image, spacing_um=70, bit_depth=bit_depth, intent=intent,
                        laterality="R", view="MLO")
    back = read_grey_image(data, name="m.dcm")
    png = read_grey_image(encode_png(image, bit_depth))  # the same quantisation
    assert back.format == "DICOM" and back.bit_depth == bit_depth
    assert back.pixels.dtype == png.pixels.dtype and np.array_equal(back.pixels, png.pixels)
    assert back.spacing_um == 70.0 and back.spacing_source == "ImagerPixelSpacing"
    assert back.spacing_problem is None
    assert (back.intent, back.laterality, back.view) == (intent, "R", "MLO")
    assert (back.modality, back.photometric) == ("MG", "MONOCHROME2")
    assert np.array_equal(back.unit, png.unit)
    assert probe_grey_image(data) == (30, 20)


def test_integers_are_stored_as_they_are(rng):
    pixels = rng.integers(0, 65536, size=(8, 9)).astype(np.uint16)
    assert np.array_equal(read_grey_image(encode_dicom(pixels, spacing_um=50)).pixels, pixels)
    small = rng.integers(0, 256, size=(3, 5)).astype(np.uint8)  # odd pixel count: padded
    back = read_grey_image(encode_dicom(small, spacing_um=100, bit_depth=8))
    assert back.bit_depth == 8 and np.array_equal(back.pixels, small)
    with pytest.raises(ValueError, match="`image` must be float in"):
        encode_dicom(small, spacing_um=100)  # uint8 for a 16-bit file


def test_encode_dicom_is_reproducible_byte_for_byte_and_sets_the_tags():
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    first = encode_dicom(image, spacing_um=70, laterality="L", view="CC", uid_seed="case 1")
    assert first == encode_dicom(image, spacing_um=70, laterality="L", view="CC",
                                 uid_seed="case 1")
    ds = pydicom.dcmread(io.BytesIO(first))
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2" == ds.file_meta.MediaStorageSOPClassUID
    assert ds.Modality == "MG" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.07, 0.07]
    assert [float(v) for v in ds.PixelSpacing] == [0.07, 0.07]
    assert (ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored,
            ds.HighBit, ds.PixelRepresentation) == ("MONOCHROME2", 1, 16, 16, 15, 0)
    assert (ds.ImageLaterality, ds.ViewPosition, ds.BurnedInAnnotation) == ("L", "CC", "NO")
    assert ds.ViewCodeSequence[0].CodeValue == "399162004"
    assert ds.PatientID == "SYNTHETIC" and ds.StudyDate == "" and "ContentDate" not in ds
    processing = pydicom.dcmread(io.BytesIO(encode_dicom(image, spacing_um=70, bit_depth=8,
                                                         intent="processing")))
    assert processing.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2.1"
    assert processing.PresentationIntentType == "FOR PROCESSING"
    assert processing.BitsAllocated == 8 and "ImageLaterality" not in processing
    other = pydicom.dcmread(io.BytesIO(encode_dicom(image, spacing_um=70, uid_seed="case 2")))
    assert other.StudyInstanceUID != ds.StudyInstanceUID
    assert other.SOPInstanceUID != ds.SOPInstanceUID
    brighter = pydicom.dcmread(io.BytesIO(encode_dicom(image * 0.5, spacing_um=70,
                                                       uid_seed="case 1")))
    assert brighter.StudyInstanceUID == ds.StudyInstanceUID  # same study, another image
    assert brighter.SOPInstanceUID != ds.SOPInstanceUID


@pytest.mark.parametrize(("args", "field"), [
    ({"spacing_um": 0}, "spacing_um"),
    ({"spacing_um": float("nan")}, "spacing_um"),
    ({"bit_depth": 12}, "bit_depth"),
    ({"intent": "raw"}, "intent"),
    ({"laterality": "left"}, "laterality"),
    ({"view": "cc"}, "view"),
    ({"patient_id": "a\\b"}, "patient_id"),
])
def test_encode_dicom_refuses_bad_arguments(args, field):
    kwargs = {"spacing_um": 70, **args}
    with pytest.raises(ValueError, match=f"`{field}`"):
        encode_dicom(np.zeros((4, 4), np.float32), **kwargs)


@pytest.mark.parametrize("image", [np.full((4, 4), 1.5, np.float32),
                                   np.full((4, 4), np.nan, np.float32), np.zeros(4, np.float32)])
def test_encode_dicom_refuses_images_it_would_have_to_clamp(image):
    with pytest.raises(ValueError, match="`image`"):
        encode_dicom(image, spacing_um=70)


# -- the reader's mapping -----------------------------------------------------------------
def test_monochrome1_is_inverted(twelve_bit):
    ds = _dataset(twelve_bit, PhotometricInterpretation="MONOCHROME1", BitsStored=12, HighBit=11)
    back = read_grey_image(_bytes(ds), name="m1.dcm")
    expected = 65535 - np.rint(twelve_bit / 4095 * 65535).astype(np.uint16)
    assert back.photometric == "MONOCHROME1" and np.array_equal(back.pixels, expected)
    eight = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    inverted = read_grey_image(_bytes(_dataset(eight, PhotometricInterpretation="MONOCHROME1")))
    assert inverted.bit_depth == 8 and np.array_equal(inverted.pixels, 255 - eight)


def _linear_window(x: np.ndarray, center: float, width: float, top: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1, by hand."""
    c, w = center - 0.5, width - 1
    y = ((x - c) / w + 0.5) * top
    return np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, top, y))


def test_a_voi_window_is_applied_unless_voi_is_false(twelve_bit):
    data = _bytes(_dataset(twelve_bit, BitsStored=12, HighBit=11, WindowCenter="2048",
                           WindowWidth="1024"))
    windowed = read_grey_image(data, name="w.dcm")
    want = np.rint(_linear_window(twelve_bit.astype(float), 2048, 1024, 4095) / 4095 * 65535)
    assert np.array_equal(windowed.pixels, want.astype(np.uint16))
    assert windowed.pixels.min() == 0 and windowed.pixels.max() == 65535
    raw = read_grey_image(data, name="w.dcm", voi=False)
    assert np.array_equal(raw.pixels, np.rint(twelve_bit / 4095 * 65535).astype(np.uint16))


def test_a_voi_lut_sequence_is_applied(twelve_bit):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]  # 12-bit entries: output range 0 … 4095
    item.add_new("LUTData", "US", [4095 - v for v in range(4096)])  # an inverting LUT
    ds = _dataset(twelve_bit, BitsStored=12, HighBit=11, VOILUTSequence=[item])
    back = read_grey_image(_bytes(ds))
    want = np.rint((4095 - twelve_bit.astype(float)) / 4095 * 65535).astype(np.uint16)
    assert back.bit_depth == 16 and np.array_equal(back.pixels, want)
    plain = read_grey_image(_bytes(ds), voi=False).pixels
    assert np.array_equal(plain, np.rint(twelve_bit / 4095 * 65535).astype(np.uint16))


def test_the_modality_rescale_is_applied():
    stored = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ds = _dataset(stored, RescaleSlope="2", RescaleIntercept="10")
    back = read_grey_image(_bytes(ds))  # values 10 … 520: wider than 8 bits
    assert back.bit_depth == 16
    assert np.array_equal(back.pixels, np.rint(2 * stored.astype(float) / 510 * 65535))
    identity = read_grey_image(_bytes(_dataset(stored, RescaleSlope="1", RescaleIntercept="0")))
    assert identity.bit_depth == 8 and np.array_equal(identity.pixels, stored)


def test_signed_pixels_map_onto_the_full_range():
    stored = np.array([[-32768, -1], [0, 32767]], dtype=np.int16)
    ds = _dataset(stored.view(np.uint16), PixelRepresentation=1)
    assert read_grey_image(_bytes(ds)).pixels.tolist() == [[0, 32767], [32768, 65535]]


def test_rle_and_jpeg_2000_decode_to_the_same_pixels(twelve_bit):
    plain = read_grey_image(_bytes(_dataset(twelve_bit)))
    rle = _dataset(twelve_bit)
    rle.compress(RLELossless)
    assert np.array_equal(read_grey_image(_bytes(rle)).pixels, plain.pixels)
    pytest.importorskip("openjpeg")
    j2k = _dataset(twelve_bit)
    j2k.compress(JPEG2000Lossless)
    decoded = read_grey_image(_bytes(j2k), name="j2k.dcm")
    assert decoded.spacing_um == 70.0 and np.array_equal(decoded.pixels, plain.pixels)


# -- spacing ------------------------------------------------------------------------------
@pytest.mark.parametrize(("tags", "problem"), [
    ({"ImagerPixelSpacing": None}, "declares no ImagerPixelSpacing or PixelSpacing"),
    ({"ImagerPixelSpacing": ["0", "0"]}, "declares ImagerPixelSpacing 0"),
    ({"ImagerPixelSpacing": ["-0.1", "-0.1"]}, "declares ImagerPixelSpacing -0.1"),
])
def test_no_usable_spacing_is_no_error_but_says_why(tags, problem):
    back = read_grey_image(_bytes(_dataset(np.zeros((4, 4), np.uint16), **tags)))
    assert back.spacing_um is None and back.spacing_source is None
    assert back.spacing_problem == problem


def test_pixel_spacing_is_used_without_imager_pixel_spacing():
    ds = _dataset(np.zeros((4, 4), np.uint16), ImagerPixelSpacing=None,
                  PixelSpacing=["0.05", "0.0502"])  # within 1 %
    back = read_grey_image(_bytes(ds))
    assert back.spacing_source == "PixelSpacing" and back.spacing_um == pytest.approx(50.1)


def test_non_square_pixels_are_refused():
    data = _bytes(_dataset(np.zeros((4, 4), np.uint16), ImagerPixelSpacing=["0.07", "0.1"]))
    for reader in (read_grey_image, probe_grey_image):
        with pytest.raises(ValueError, match=r"^`scan` must have square pixels; got odd\.dcm, "
                                             r"whose ImagerPixelSpacing is 0\.07 × 0\.1 mm"):
            reader(data, field="scan", name="odd.dcm")


# -- refusals, each one line naming the field ---------------------------------------------
def _rgb() -> Dataset:
    ds = _dataset(np.zeros((4, 4 * 3), np.uint8), Columns=4, SamplesPerPixel=3,
                  PhotometricInterpretation="RGB")
    ds.PlanarConfiguration = 0
    return ds


def _no_decoder() -> Dataset:
    ds = _dataset(np.zeros((4, 4), np.uint16))
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8 not really JPEG-LS \xff\xd9"])
    return ds


@pytest.mark.parametrize(("make", "needle"), [
    (lambda: _dataset(np.zeros((4, 4), np.uint16), PixelData=None), "with PixelData"),
    (lambda: _dataset(np.zeros((4, 4), np.uint16), Modality="SR"), "of modality SR"),
    (lambda: _dataset(np.zeros((4, 4), np.uint16), Modality="SEG"), "of modality SEG"),
    (_rgb, "a grey image; got x.dcm, a DICOM image of 3 samples per pixel"),
    (lambda: _dataset(np.zeros((8, 4), np.uint16), Rows=4, NumberOfFrames=2), "one frame"),
    (lambda: _dataset(np.zeros((2, 2), np.uint16), Rows=30_000, Columns=30_000),
     "at most 100,000,000 pixels; got x.dcm, which declares 30000 × 30000"),
    (_no_decoder, "compressed as JPEG-LS Lossless Image Compression, for which no decoder"),
])
def test_dicom_files_that_are_not_one_grey_image_are_refused_from_the_header(make, needle):
    data = _bytes(make())
    for reader in (read_grey_image, probe_grey_image):
        with pytest.raises(ValueError, match="^`upload` must ") as info:
            reader(data, field="upload", name="x.dcm")
        assert needle in str(info.value) and "\n" not in str(info.value)


def test_the_pixel_limit_is_checked_before_any_pixel_is_decoded(monkeypatch):
    def never(self):
        raise AssertionError("decoded")

    monkeypatch.setattr(Dataset, "pixel_array", property(never))
    data = _bytes(_dataset(np.zeros((10, 20), np.uint16)))
    with pytest.raises(ValueError, match="at most 199 pixels; got the upload, which declares"):
        read_grey_image(data, max_pixels=199)
    monkeypatch.setenv("MCC_MAX_PIXELS", "150")
    with pytest.raises(ValueError, match="at most 150 pixels"):
        read_grey_image(data)


def test_jpeg_2000_without_its_decoder_names_the_extra(monkeypatch):
    class Missing:
        is_available = False
        missing_dependencies = ["pylibjpeg"]

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: Missing())
    ds = _dataset(np.zeros((4, 4), np.uint16))
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([b"\x00" * 8])
    with pytest.raises(ValueError, match=r"^`image` must be a DICOM image this installation can "
                                         r"decode; .*\(pip install 'mcc-toolkit\[dicom\]'\)\.$"):
        probe_grey_image(_bytes(ds))


def test_damaged_files_are_refused_in_one_line(rng):
    garbage = b"\0" * 128 + b"DICM" + rng.integers(0, 256, 400).astype(np.uint8).tobytes()
    truncated = _bytes(_dataset(np.zeros((64, 64), np.uint16)))[:-1000]
    for data in (garbage, truncated):
        with pytest.raises(ValueError, match=r"^`upload` must be") as info:
            read_grey_image(data, field="upload", name="bad.dcm")
        assert "bad.dcm" in str(info.value) and "\n" not in str(info.value)


# -- detection by content, paths and uploads ----------------------------------------------
def test_dicom_is_found_by_content_in_paths_and_uploads(tmp_path, twelve_bit):
    data = _bytes(_dataset(twelve_bit))
    unnamed = tmp_path / "IM0001"  # archives often give no suffix
    unnamed.write_bytes(data)
    from_path = read_grey_image(unnamed)
    upload = read_grey_image(data, field="upload", name="scan.bin")
    assert from_path.name == str(unnamed) and upload.name == "scan.bin"
    assert np.array_equal(from_path.pixels, upload.pixels)
    assert probe_grey_image(unnamed) == (64, 48)


def test_a_dcm_file_without_preamble_is_read_with_force(tmp_path, twelve_bit):
    ds = _dataset(twelve_bit)
    del ds.file_meta
    bare = tmp_path / "bare.dcm"
    ds.save_as(bare, implicit_vr=True, little_endian=True)
    assert bare.read_bytes()[128:132] != b"DICM"
    back = read_grey_image(bare)
    assert back.format == "DICOM"
    assert np.array_equal(back.pixels, twelve_bit)  # 16 bits stored: kept as they are
    other = tmp_path / "bare.raw"
    other.write_bytes(bare.read_bytes())
    with pytest.raises(ValueError, match=r"readable PNG, TIFF or DICOM image; got .*bare\.raw"):
        read_grey_image(other)


def test_png_and_tiff_keep_their_behaviour(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    named = tmp_path / "really_a_png.dcm"
    named.write_bytes(buffer.getvalue())
    png = read_grey_image(named)
    assert png.format == "PNG" and np.array_equal(png.pixels, grey)
    assert (png.spacing_um, png.intent, png.laterality, png.modality) == (None,) * 4
    assert FORMATS == ("PNG", "TIFF", "DICOM")
    jpeg = io.BytesIO()
    Image.fromarray(grey).save(jpeg, format="JPEG")
    with pytest.raises(ValueError, match=r"^`image` must be a PNG, TIFF or DICOM image; got "
                                         r"the upload, a JPEG file\.$"):
        read_grey_image(jpeg.getvalue())


def test_import_synth_does_not_import_pydicom():
    code = "import sys, synth, synth.io; print('pydicom' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


# -- mammogram sets as DICOM --------------------------------------------------------------
def test_write_mammograms_as_dicom_matches_the_png_set(tmp_path):
    import mcc_core

    args = {"resolution_um": 100, "seed": 2, "size_mm": SMALL}
    dicom = synth.write_mammograms(synth.SceneConfig(), tmp_path / "d", 2, format="dicom", **args)
    png = synth.write_mammograms(synth.SceneConfig(), tmp_path / "p", 2, **args)
    assert dicom["image_format"] == "dicom" and png["image_format"] == "png"
    names = sorted(p.name for p in (tmp_path / "d").glob("*.dcm"))
    assert len(names) == 2 and sorted(dicom["files"]) == sorted(
        [*names, "annotations.csv", "calcifications.csv"])
    assert dicom["counts"] == png["counts"]
    assert ((tmp_path / "d" / "annotations.csv").read_text()
            == (tmp_path / "p" / "annotations.csv").read_text().replace(".png", ".dcm"))
    assert synth.verify_dataset(tmp_path / "d").ok
    for name in names:
        image = read_grey_image(tmp_path / "d" / name)
        twin = read_grey_image(tmp_path / "p" / name.replace(".dcm", ".png"))
        assert np.array_equal(image.pixels, twin.pixels)
        assert (image.spacing_um, image.intent, image.modality) == (100.0, "presentation", "MG")
        assert image.laterality in ("L", "R")
    cases = mcc_core.load_mammogram_set(tmp_path / "d")
    assert [case.path.name for case in cases] == names
    assert sum(len(case.boxes) for case in cases) == dicom["counts"]["clusters"]
    again = synth.write_mammograms(synth.SceneConfig(), tmp_path / "d2", 2, format="dicom",
                                   **args)
    assert again["files"] == dicom["files"]  # byte for byte
    with pytest.raises(ValueError, match="`format`"):
        synth.write_mammograms(synth.SceneConfig(), tmp_path / "x", 1, format="jpeg", **args)


def test_the_laterality_follows_the_chest_wall_and_the_intent_the_acquisition(tmp_path):
    config = synth.SceneConfig(acquisition=synth.Acquisition(output="processing"))
    synth.write_mammograms(config, tmp_path / "d", 3, resolution_um=100, seed=0, size_mm=SMALL,
                           format="dicom", bit_depth=8)
    for i, path in enumerate(sorted((tmp_path / "d").glob("*.dcm"))):
        scene = synth.sample_mammogram(config, size_mm=SMALL, rng=np.random.default_rng([0, i]))
        image = read_grey_image(path)
        assert image.laterality == {"left": "L", "right": "R"}[scene.chest_wall]
        assert image.intent == "processing" and image.bit_depth == 8


def test_mcc_synth_mammogram_writes_dicom(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["synth", "mammogram", "--n", "1", "--resolution", "100", "--size-mm", "40",
                 "50", "--format", "dicom", "--out", str(out), "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["image_format"] == "dicom"
    (image,) = sorted(out.glob("*.dcm"))
    assert read_grey_image(image).spacing_um == 100.0
    assert main(["synth", "verify", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
