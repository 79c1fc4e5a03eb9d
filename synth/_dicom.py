"""DICOM in and out: the grey-image reader's DICOM branch and the mammogram writer's encoder.

pydicom is imported inside the functions, so ``import synth`` does not pay for it. Reading
checks the header first (modality, pixel data, one grey sample, one frame, Rows × Columns
against the pixel limit, a decoder for the transfer syntax, square pixels) and decodes the
pixels only then; :func:`synth.read_grey_image` documents the mapping to uint8/uint16.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._images import GreyImage, _check_size, _unreadable

IMAGE_MODALITIES = ("MG", "DX", "CR", "RG", "OT")
"""Modalities read as grey images (a file without Modality is read too)."""
_MODALITIES_TEXT = ", ".join(IMAGE_MODALITIES[:-1]) + f" or {IMAGE_MODALITIES[-1]}"
SOP_CLASSES = {"presentation": "1.2.840.10008.5.1.4.1.1.1.2",
               "processing": "1.2.840.10008.5.1.4.1.1.1.2.1"}
"""Digital Mammography X-Ray Image Storage, For Presentation and For Processing."""
_INTENT_OF_CLASS = {
    "1.2.840.10008.5.1.4.1.1.1": "presentation", "1.2.840.10008.5.1.4.1.1.1.1": "processing",
    "1.2.840.10008.5.1.4.1.1.1.2": "presentation", "1.2.840.10008.5.1.4.1.1.1.2.1": "processing",
    "1.2.840.10008.5.1.4.1.1.1.3": "presentation", "1.2.840.10008.5.1.4.1.1.1.3.1": "processing",
}  # DX, MG and intra-oral X-ray storage classes: for presentation / for processing
_SPACINGS = ("ImagerPixelSpacing", "PixelSpacing")
_SQUARE_TOLERANCE = 0.01
_J2K = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")  # what the [dicom] extra decodes
_VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique"),
               "ML": ("399260004", "medio-lateral"), "LM": ("399352003", "latero-medial")}
_BREAST = ("76752008", "Breast")  # SNOMED CT codes (scheme SCT)
_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.79422311205499636079945135737900213044"
"""Implementation Class UID of files this toolkit writes (``generate_uid`` of "mcc-toolkit"),
fixed so that the bytes do not depend on pydicom's version."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pydicom warns of every odd value it meets; the reader's checks speak instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    """What the checks need from a dataset, read once (a damaged value fails here)."""

    modality: str | None
    has_pixels: bool
    samples: int | None
    photometric: str | None
    frames: int
    rows: int | None
    columns: int | None
    syntax: str | None
    intent: str | None
    laterality: str | None
    view: str | None


def _text(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = "" if value is None else str(value).strip().upper()
    return text or None


def _int(ds: Any, keyword: str) -> int | None:
    value = ds.get(keyword)
    return None if value is None or value == "" else int(value)


def _header(ds: Any) -> _Header:
    meta = getattr(ds, "file_meta", None)
    syntax = None if meta is None else meta.get("TransferSyntaxUID")
    intent = {"FOR PROCESSING": "processing", "FOR PRESENTATION": "presentation"}.get(
        _text(ds, "PresentationIntentType") or "", _INTENT_OF_CLASS.get(str(ds.get("SOPClassUID"))))
    return _Header(_text(ds, "Modality"), "PixelData" in ds, _int(ds, "SamplesPerPixel"),
                   _text(ds, "PhotometricInterpretation"), _int(ds, "NumberOfFrames") or 1,
                   _int(ds, "Rows"), _int(ds, "Columns"), None if syntax is None else str(syntax),
                   intent, _text(ds, "ImageLaterality") or _text(ds, "Laterality"),
                   _text(ds, "ViewPosition"))


def _read(opened: Any, force: bool, field: str, label: str) -> tuple[Any, _Header]:
    """The dataset with its pixel data deferred (not read, not decoded) and its header."""
    import pydicom

    if isinstance(opened, io.BytesIO):
        opened.seek(0)
    try:
        with _quiet():
            ds = pydicom.dcmread(opened, force=force, defer_size=4096)
            if "TransferSyntaxUID" not in ds.file_meta:  # a bare dataset, read with force
                implicit, little = ds.original_encoding
                ds.file_meta.TransferSyntaxUID = (
                    pydicom.uid.ImplicitVRLittleEndian if implicit else
                    pydicom.uid.ExplicitVRLittleEndian if little else
                    pydicom.uid.ExplicitVRBigEndian)
            return ds, _header(ds)
    except Exception as exc:  # pydicom meets damaged files with many kinds of error
        raise _unreadable(field, label, exc) from None


def _check(ds: Any, head: _Header, field: str, label: str,
           max_pixels: int | None) -> tuple[float | None, str | None, str | None]:
    """Refuse what the header tells is not one grey image this installation can decode;
    return (spacing in µm, its source, why there is none)."""
    got = f"`{field}` must be"
    if head.modality is not None and head.modality not in IMAGE_MODALITIES:
        raise ValueError(f"{got} a DICOM image of modality {_MODALITIES_TEXT}; got "
                         f"{label}, of modality {head.modality} (not an image to read).")
    if not head.has_pixels:
        raise ValueError(f"{got} a DICOM image with PixelData; got {label}, which holds none "
                         "(a DICOM object that is not an image, or a damaged file).")
    if head.samples != 1 or head.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        what = (f"{head.samples or 'no'} samples per pixel" if head.samples != 1 else
                f"photometric interpretation {head.photometric}")
        raise ValueError(f"{got} a grey image; got {label}, a DICOM image of {what} (convert "
                         "it to grey first).")
    if head.frames != 1:
        raise ValueError(f"{got} a DICOM image of one frame; got {label}, of {head.frames} "
                         "frames (tomosynthesis or multi-frame: export one frame as its own "
                         "file).")
    if head.rows is None or head.columns is None or head.rows < 1 or head.columns < 1:
        raise ValueError(f"{got} a DICOM image declaring its Rows and Columns; got {label}, "
                         f"with Rows={head.rows} and Columns={head.columns}.")
    _check_size((head.columns, head.rows), field, label, max_pixels)
    _check_decoder(head.syntax, got, label)
    return _spacing(ds, field, label)


def _check_decoder(syntax: str | None, got: str, label: str) -> None:
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    uid = UID(syntax or "")
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise ValueError(f"{got} a DICOM image of a transfer syntax pydicom decodes; got "
                         f"{label}, of transfer syntax {syntax!r}.") from None
    if decoder.is_available:
        return
    hint = ("pip install 'mcc-toolkit[dicom]'" if uid in _J2K else
            "decompress it first, or install one of: "
            + "; ".join(decoder.missing_dependencies))
    raise ValueError(f"{got} a DICOM image this installation can decode; got {label}, "
                     f"compressed as {uid.name}, for which no decoder is installed ({hint}).")


def _spacing(ds: Any, field: str, label: str) -> tuple[float | None, str | None, str | None]:
    """(µm, keyword, None) from the first usable spacing tag, or (None, None, why not)."""
    problems = []
    for keyword in _SPACINGS:
        raw = ds.get(keyword)
        if raw is None or raw == "":
            continue
        try:
            many = hasattr(raw, "__len__") and not isinstance(raw, str)
            values = [float(v) for v in (raw if many else [raw])]
        except (TypeError, ValueError):
            problems.append(f"declares non-numeric {keyword} {str(raw)!r}")
            continue
        shown = "\\".join(f"{v:g}" for v in dict.fromkeys(values))  # 0\0 shows as 0
        if len(values) != 2:
            problems.append(f"declares {keyword} {shown} ({len(values)} values, not row\\column)")
        elif not all(math.isfinite(v) and v > 0 for v in values):
            problems.append(f"declares {keyword} {shown}")
        elif abs(values[0] - values[1]) > _SQUARE_TOLERANCE * max(values):
            raise ValueError(f"`{field}` must have square pixels; got {label}, whose {keyword} "
                             f"is {values[0]:g} × {values[1]:g} mm (row × column).")
        else:
            return round(500.0 * (values[0] + values[1]), 6), keyword, None
    return None, None, (problems[0] if problems else
                        "declares no ImagerPixelSpacing or PixelSpacing")


def probe_dicom(opened: Any, *, force: bool, field: str, label: str,
                max_pixels: int | None) -> tuple[int, int, float | None, str | None]:
    """(Rows, Columns, spacing µm, spacing problem) of a DICOM image from its header, after
    every check it allows."""
    ds, head = _read(opened, force, field, label)
    spacing_um, _, problem = _check(ds, head, field, label, max_pixels)
    return head.rows or 0, head.columns or 0, spacing_um, problem  # both checked positive


def read_dicom(opened: Any, *, force: bool, field: str, label: str, max_pixels: int | None,
               voi: bool) -> GreyImage:
    """A DICOM image as a `GreyImage`; see :func:`synth.read_grey_image` for the mapping."""
    ds, head = _read(opened, force, field, label)
    spacing_um, source, problem = _check(ds, head, field, label, max_pixels)
    try:
        with _quiet():
            stored = ds.pixel_array
    except Exception as exc:  # a damaged or truncated PixelData
        raise _unreadable(field, label, exc) from None
    pixels, bit_depth = _grey_levels(ds, stored, voi, field, label)
    if head.photometric == "MONOCHROME1":  # bright = more attenuation, as in MONOCHROME2
        pixels = np.iinfo(pixels.dtype).max - pixels
    return GreyImage(pixels, bit_depth, label, "DICOM", spacing_um=spacing_um,
                     spacing_source=source, spacing_problem=problem, intent=head.intent,
                     laterality=head.laterality, view=head.view, modality=head.modality,
                     photometric=head.photometric)


def _stored_range(ds: Any) -> tuple[float, float]:
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 0:
        return 0.0, float(2**bits - 1)
    return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)


def _rescaled(ds: Any, lo: float, hi: float) -> tuple[float, float]:
    """pydicom's output range of a rescale (and of a window, which maps onto it)."""
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None or intercept is None:
        return lo, hi
    ends = sorted((lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)))
    return ends[0], ends[1]


def _lut_range(sequence: Any) -> tuple[float, float]:
    return 0.0, float(2 ** int(sequence[0].LUTDescriptor[2]) - 1)


def _grey_levels(ds: Any, stored: np.ndarray, voi: bool, field: str,
                 label: str) -> tuple[np.ndarray, int]:
    """Modality LUT or rescale, then (if `voi`) the VOI LUT or window, normalised over the
    range the last stage can take onto uint16 (uint8 when at most 8 bits are stored and no
    stage widened their 256 levels)."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values: np.ndarray = stored
    try:
        lo, hi = _stored_range(ds)
        base = _lut_range(ds.ModalityLUTSequence) if ds.get("ModalityLUTSequence") else (lo, hi)
        lut = ds.get("VOILUTSequence")
        voi_lut = bool(voi and lut and lut[0].get("LUTDescriptor") is not None
                       and lut[0].get("LUTData") is not None)
        with _quiet():
            if ds.get("ModalityLUTSequence"):
                values, (lo, hi) = apply_modality_lut(values, ds), base
            elif _rescale_moves(ds):  # slope 1 and intercept 0 change nothing
                values, (lo, hi) = apply_modality_lut(values, ds), _rescaled(ds, lo, hi)
            if voi_lut:
                if values.dtype.kind == "f" and np.array_equal(values, np.rint(values)):
                    values = values.astype(np.int64)  # a VOI LUT is indexed by integers
                values, (lo, hi) = apply_voi_lut(values, ds, prefer_lut=True), _lut_range(lut)
            elif voi and ds.get("WindowCenter") is not None and ds.get(
                    "WindowWidth") is not None and not _identity_window(ds, lo, hi):
                values, (lo, hi) = apply_voi_lut(values, ds), _rescaled(ds, *base)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ValueError(f"`{field}` must declare a usable modality LUT, VOI LUT or window; "
                         f"got {label}: {exc} (voi=False skips the VOI stage).") from None
    if not hi > lo:
        raise ValueError(f"`{field}` must map its pixels onto a range of values; got {label}, "
                         f"whose LUTs map every pixel to {lo:g}.")
    eight = int(ds.BitsStored) <= 8 and hi - lo <= 255
    top = 255 if eight else 65535
    if lo == 0 and hi == top and values.dtype.kind in "iu":
        scaled = values
    else:
        scaled = np.rint((values.astype(np.float64) - lo) * (top / (hi - lo)))
        np.clip(scaled, 0, top, out=scaled)  # float rounding at the ends only
    return np.ascontiguousarray(scaled, dtype=np.uint8 if eight else np.uint16), 8 if eight else 16


def _rescale_moves(ds: Any) -> bool:
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    return slope is not None and intercept is not None and (
        float(slope) != 1.0 or float(intercept) != 0.0)


def _identity_window(ds: Any, lo: float, hi: float) -> bool:
    """A linear window spanning exactly [lo, hi], as `encode_dicom` writes: a no-op."""
    center, width = ds.WindowCenter, ds.WindowWidth
    center = float(center[0] if not isinstance(center, (int, float)) else center)
    width = float(width[0] if not isinstance(width, (int, float)) else width)
    linear = str(ds.get("VOILUTFunction") or "LINEAR").upper() == "LINEAR"
    return linear and width == hi - lo + 1 and center == (lo + hi + 1) / 2


# -- writing ------------------------------------------------------------------------------
_VIEW = re.compile(r"[A-Z0-9 _]{1,16}")
_PATIENT_ID = re.compile(r"[ -\[\]-~]{1,64}")  # printable ASCII without a backslash


def encode_dicom(
    image: np.ndarray,
    *,
    spacing_um: float,
    bit_depth: int = 16,
    intent: Literal["presentation", "processing"] = "presentation",
    laterality: Literal["L", "R"] | None = None,
    view: str | None = None,
    patient_id: str = "SYNTHETIC",
    uid_seed: str = "mcc-toolkit",
) -> bytes:
    """DICOM bytes of a grey image: a Digital Mammography X-Ray Image, reproducible byte for byte.

    Explicit VR little endian with file meta; Modality MG; SOP class For Presentation
    (1.2.840.10008.5.1.4.1.1.1.2) or For Processing (…1.2.1) by `intent`, with
    PresentationIntentType to match; MONOCHROME2, one sample, BitsAllocated = BitsStored =
    `bit_depth`, unsigned; ImagerPixelSpacing and PixelSpacing (mm) from `spacing_um`; an
    identity rescale (slope 1, intercept 0) and, for presentation, an identity window over
    the full range; ImageLaterality, ViewPosition and ViewCodeSequence when given; a synthetic
    patient, BurnedInAnnotation NO, no dates. The Study and Series UIDs come from `uid_seed`
    alone, the SOP Instance UID from it and the content (``pydicom.uid.generate_uid``'s
    entropy sources), so the same inputs give the same bytes.

    Parameters
    ----------
    image : ndarray of shape (H, W), float32 in [0, 1], or uint8 / uint16
        Floats are quantised as `encode_png` does (``rint(image × 255)`` or ``× 65535``);
        integers are stored as they are and must match `bit_depth`.
    spacing_um : float
        Pixel spacing in µm (square pixels).
    bit_depth : {8, 16}
    intent : {"presentation", "processing"}
    laterality : {"L", "R"}, optional
    view : str, optional
        ViewPosition, e.g. "CC" or "MLO" (capitals, digits, space or underscore; ≤ 16).
    patient_id : str
        PatientID (printable ASCII, no backslash, ≤ 64); PatientName is "SYNTHETIC".
    uid_seed : str
        What the UIDs are derived from: give each study its own.

    Returns
    -------
    bytes

    Examples
    --------
    >>> import numpy as np
    >>> from synth import io
    >>> image = np.array([[0.0, 0.5], [0.75, 1.0]], dtype=np.float32)
    >>> data = io.encode_dicom(image, spacing_um=70, laterality="L", view="CC")
    >>> data[128:132], data == io.encode_dicom(image, spacing_um=70, laterality="L", view="CC")
    (b'DICM', True)
    >>> back = io.read_grey_image(data, name="mammogram.dcm")
    >>> back.pixels.tolist(), back.spacing_um, back.intent, back.laterality, back.view
    ([[0, 32768], [49151, 65535]], 70.0, 'presentation', 'L', 'CC')
    """
    pixels = _quantised(image, bit_depth)
    spacing_mm = _spacing_mm(spacing_um)
    if intent not in SOP_CLASSES:
        raise ValueError(f"`intent` must be 'presentation' or 'processing'; got intent={intent!r}.")
    if laterality not in (None, "L", "R"):
        raise ValueError(f"`laterality` must be 'L', 'R' or None; got laterality={laterality!r}.")
    if view is not None and not (isinstance(view, str) and _VIEW.fullmatch(view)):
        raise ValueError("`view` must be a DICOM ViewPosition (capitals, digits, space or _, at "
                         f"most 16); got view={view!r}.")
    if not (isinstance(patient_id, str) and _PATIENT_ID.fullmatch(patient_id)):
        raise ValueError("`patient_id` must be 1–64 printable ASCII characters without a "
                         f"backslash; got patient_id={patient_id!r}.")
    if not isinstance(uid_seed, str):
        raise TypeError(f"`uid_seed` must be a str; got {type(uid_seed).__name__}.")
    content = hashlib.sha256(pixels.tobytes()).hexdigest()
    identity = [uid_seed, content, spacing_mm, str(pixels.shape), str(bit_depth), intent,
                str(laterality), str(view), patient_id]
    return _dataset_bytes(pixels, bit_depth, spacing_mm, intent, laterality, view, patient_id,
                          uid_seed, identity)


def _quantised(image: Any, bit_depth: Any) -> np.ndarray:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"`bit_depth` must be 8 or 16; got bit_depth={bit_depth!r}.")
    if not isinstance(image, np.ndarray):
        raise TypeError(f"`image` must be a numpy array; got {type(image).__name__}.")
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"`image` must be a non-empty 2-D array; got shape {image.shape}.")
    want = np.uint8 if bit_depth == 8 else np.uint16
    if image.dtype.kind == "f":
        if not np.isfinite(image).all():
            raise ValueError("`image` must hold finite floats within [0, 1]; got NaN or inf.")
        if image.min() < 0.0 or image.max() > 1.0:
            raise ValueError("`image` must hold floats within [0, 1]; got values in "
                             f"[{float(image.min()):g}, {float(image.max()):g}].")
        scale = 255.0 if bit_depth == 8 else 65535.0
        return np.rint(image * scale).astype(want)  # as encode_png quantises
    if image.dtype != want:
        raise ValueError(f"`image` must be float in [0, 1] or {np.dtype(want).name} for "
                         f"bit_depth={bit_depth}; got dtype {image.dtype.name}.")
    return image


def _spacing_mm(spacing_um: Any) -> str:
    if isinstance(spacing_um, bool) or not isinstance(spacing_um, (int, float, np.number)) or not (
            math.isfinite(float(spacing_um)) and 0 < float(spacing_um) <= 10_000):
        raise ValueError(f"`spacing_um` must be a number in (0, 10000] µm; got "
                         f"spacing_um={spacing_um!r}.")
    return f"{float(spacing_um) / 1000.0:.10g}"


def _code(value: str, meaning: str) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def _dataset_bytes(pixels: np.ndarray, bit_depth: int, spacing_mm: str, intent: str,
                   laterality: str | None, view: str | None, patient_id: str, uid_seed: str,
                   identity: list[str]) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    sop = generate_uid(entropy_srcs=["mcc-toolkit instance", *identity])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SOP_CLASSES[intent])
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(_IMPLEMENTATION_UID)
    meta.ImplementationVersionName = "MCC_TOOLKIT"
    ds = Dataset()
    ds.file_meta = meta
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID, ds.SOPInstanceUID = SOP_CLASSES[intent], sop
    ds.StudyDate = ds.StudyTime = ds.AccessionNumber = ds.ReferringPhysicianName = ""
    ds.Modality = "MG"
    ds.PresentationIntentType = f"FOR {intent.upper()}"
    ds.Manufacturer = "mcc-toolkit"
    ds.SeriesDescription = "Synthetic mammogram (mcc-toolkit)"
    ds.PatientName, ds.PatientID = "SYNTHETIC", patient_id
    ds.PatientBirthDate = ds.PatientSex = ""
    ds.BurnedInAnnotation = "NO"
    ds.AnatomicRegionSequence = [_code(*_BREAST)]
    ds.PositionerType = "MAMMOGRAPHIC"
    if view is not None:
        ds.ViewPosition = view
        if view in _VIEW_CODES:
            ds.ViewCodeSequence = [_code(*_VIEW_CODES[view])]
    ds.ImagerPixelSpacing = ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["mcc-toolkit study", uid_seed])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["mcc-toolkit series", uid_seed])
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "", 1, 1
    if laterality is not None:
        ds.ImageLaterality = laterality
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = bit_depth
    ds.HighBit, ds.PixelRepresentation = bit_depth - 1, 0
    # Higher values: more attenuation (presentation, log) or more fluence (processing, linear)
    ds.PixelIntensityRelationship = "LOG" if intent == "presentation" else "LIN"
    ds.PixelIntensityRelationshipSign = -1 if intent == "presentation" else 1
    if intent == "presentation":  # required there; spans the full range, so it is the identity
        ds.WindowCenter, ds.WindowWidth = str(2 ** (bit_depth - 1)), str(2**bit_depth)
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    data = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()
    ds.PixelData = data + b"\0" * (len(data) % 2)
    ds["PixelData"].VR = "OB" if bit_depth == 8 else "OW"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
