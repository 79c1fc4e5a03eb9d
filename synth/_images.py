"""The one reader of grey images: PNG, TIFF and DICOM files (or their bytes), one colour policy.

Every face of the toolkit reads images through :func:`read_grey_image`: patch folders,
`mcc extract`, `mcc scan`, `mcc probe --mammograms` and the dashboard's uploads. The policy:

- 8-bit grey (Pillow mode ``L``) stays uint8; 16-bit grey (``I;16`` and its byte orders, or
  ``I`` within 0–65535, as Pillow opens some 16-bit PNGs) becomes uint16;
- a colour image (RGB, RGBA, palette, grey + alpha, bilevel) is accepted only when its three
  channels are equal, as grey images saved by colour tools are; alpha is ignored. Any other
  colour image is refused: which grey a colour pixel means is the user's decision, not ours;
- float, 32-bit and other modes are refused, as are formats other than PNG, TIFF and DICOM
  (JPEG's lossy blocks would add structure at the scale of the MCs);
- DICOM (found by its "DICM" preamble, or tried for a ``.dcm`` name without one) is read by
  pydicom in `synth._dicom`: one grey frame of an image modality, through its modality and VOI
  LUTs, MONOCHROME1 inverted, with its pixel spacing and what the header says of the view.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["FORMATS", "MAX_PIXELS", "GreyImage", "ImageHeader", "probe_grey_image", "probe_image",
           "read_grey_image"]

FORMATS: tuple[str, ...] = ("PNG", "TIFF", "DICOM")
"""Image formats :func:`read_grey_image` reads."""

MAX_PIXELS = 100_000_000
"""Default largest image read, in pixels (width × height), checked from the header before any
pixel is decoded, so a small file declaring a huge image is refused instead of filling memory.
It fits a 30 × 40 cm full-field mammogram at 40 µm (7,500 × 10,000 px, 75 Mpx). Override it
per call (``max_pixels=``) or for a whole process with the environment variable
``MCC_MAX_PIXELS``."""

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B")
_COLOUR = ("1", "LA", "P", "PA", "RGB", "RGBA", "La")
_PILLOW_MAGIC = (b"\x89PNG", b"II*\x00", b"MM\x00*")  # PNG and TIFF signatures


@dataclass(frozen=True)
class GreyImage:
    """A grey image as stored: integer pixels and where they came from.

    Attributes
    ----------
    pixels : ndarray of shape (H, W), uint8 or uint16
    bit_depth : int
        8 or 16: the pixels' storage depth (``pixels.dtype``).
    name : str
        The file's path, or the name given with the bytes.
    format : str
        ``"PNG"``, ``"TIFF"`` or ``"DICOM"``.
    spacing_um : float or None
        Pixel spacing in µm (DICOM's ImagerPixelSpacing, else PixelSpacing); None for PNG and
        TIFF, and for a DICOM file that declares no usable spacing (`spacing_problem` says why).
    spacing_source : str or None
        ``"ImagerPixelSpacing"`` or ``"PixelSpacing"``: the tag `spacing_um` came from.
    spacing_problem : str or None
        Why a DICOM file has no `spacing_um`, e.g. "declares ImagerPixelSpacing 0".
    intent : str or None
        ``"processing"`` or ``"presentation"`` (DICOM's PresentationIntentType, else its SOP
        class).
    laterality : str or None
        DICOM's ImageLaterality (else Laterality): ``"L"`` or ``"R"``.
    view : str or None
        DICOM's ViewPosition, e.g. ``"CC"`` or ``"MLO"``.
    modality : str or None
        DICOM's Modality, e.g. ``"MG"``.
    photometric : str or None
        DICOM's PhotometricInterpretation as stored (the pixels are MONOCHROME2 either way).
    """

    pixels: np.ndarray
    bit_depth: int
    name: str
    format: str
    spacing_um: float | None = None
    spacing_source: str | None = None
    spacing_problem: str | None = None
    intent: str | None = None
    laterality: str | None = None
    view: str | None = None
    modality: str | None = None
    photometric: str | None = None

    @property
    def unit(self) -> np.ndarray:
        """Pixels as float32 in [0, 1]: 8-bit values divided by 255, 16-bit ones by 65535."""
        return self.pixels.astype(np.float32) / np.float32(2**self.bit_depth - 1)


def probe_grey_image(source: str | os.PathLike[str] | bytes, *, field: str = "image",
                     name: str | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """The (height, width) of a grey image from its header, without decoding its pixels.

    Checks everything :func:`read_grey_image` checks that the header tells (the file, its
    format, its mode; for DICOM its modality, samples, frames, transfer syntax and spacing), so
    a folder of mammograms can be refused before any work starts; whether a colour image's
    channels are equal is known only once it is read. A DICOM file gives (Rows, Columns).

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("I;16", (640, 480)).save(buffer, format="PNG")
    >>> probe_grey_image(buffer.getvalue())
    (480, 640)
    """
    return probe_image(source, field=field, name=name, max_pixels=max_pixels).shape


@dataclass(frozen=True)
class ImageHeader:
    """What a grey image's header tells, from `probe_image` (no pixel decoded).

    Attributes
    ----------
    shape : (int, int) — height and width in pixels
    name, format : str — as in `GreyImage`
    spacing_um, spacing_problem : as in `GreyImage` (DICOM only)
    """

    shape: tuple[int, int]
    name: str
    format: str
    spacing_um: float | None = None
    spacing_problem: str | None = None


def probe_image(source: str | os.PathLike[str] | bytes, *, field: str = "image",
                name: str | None = None, max_pixels: int | None = None) -> ImageHeader:
    """`probe_grey_image` with the format and, for DICOM, the pixel spacing the header declares
    (what `synth.image_spacing` needs to tell an image's size at a model resolution before
    reading it).

    Examples
    --------
    >>> import numpy as np
    >>> from synth import io
    >>> data = io.encode_dicom(np.zeros((30, 40), np.float32), spacing_um=85)
    >>> header = io.probe_image(data, name="a.dcm")
    >>> header.shape, header.format, header.spacing_um
    ((30, 40), 'DICOM', 85.0)
    """
    label, opened = _open(source, field, name)
    force = _dicom_force(opened, label)
    if force is not None:
        from ._dicom import probe_dicom

        rows, cols, spacing, problem = probe_dicom(opened, force=force, field=field,
                                                   label=label, max_pixels=max_pixels)
        return ImageHeader((rows, cols), label, "DICOM", spacing, problem)
    try:
        with _quiet_bombs(), Image.open(opened) as image:
            _check_format(image.format, field, label)
            _check_size(image.size, field, label, max_pixels)
            width, height = image.size
            mode, kind = image.mode, str(image.format)
    except Image.DecompressionBombError as exc:  # beyond even Pillow's own limit
        raise ValueError(f"`{field}` must hold at most {_limit(max_pixels):,} pixels; got "
                         f"{label}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise _unreadable(field, label, exc) from None
    if mode not in ("L", "I", *_SIXTEEN_BIT, *_COLOUR):
        raise _bad_mode(field, label, mode)
    return ImageHeader((height, width), label, kind)


def read_grey_image(source: str | os.PathLike[str] | bytes, *, field: str = "image",
                    name: str | None = None, max_pixels: int | None = None,
                    voi: bool = True) -> GreyImage:
    """Read an 8- or 16-bit grey PNG or TIFF, or a grey DICOM image (a path, or the bytes).

    Parameters
    ----------
    source : str, path-like or bytes
        The file, or its content (an upload).
    field : str
        The name of the argument, option or upload the image came from; every error names it.
    name : str, optional
        How to call the image in messages (default: its path, or "the upload" for bytes).
    max_pixels : int, optional
        Largest width × height accepted, checked from the header before decoding (default
        :data:`MAX_PIXELS`, or the environment variable ``MCC_MAX_PIXELS``).
    voi : bool
        DICOM only: apply the file's VOI LUT or window (its first), if it has one.

    Returns
    -------
    GreyImage

    Raises
    ------
    ValueError
        If the file is missing or unreadable, is not PNG, TIFF or DICOM, is a colour image
        whose channels differ, or has a mode that is neither 8- nor 16-bit grey; a DICOM file
        also if it is not of an image modality (MG, DX, CR, RG, OT, or none), holds no pixel
        data, more than one sample (RGB) or frame, non-square pixels, or a compression no
        installed decoder reads.

    Notes
    -----
    A DICOM file is found by its content (the "DICM" preamble at byte 128); a ``.dcm`` path or
    `name` without one is read with ``force=True``. Its pixels map onto the returned integers as:

    1. ``v = ds.pixel_array`` (decoded by pydicom), then the modality LUT or rescale
       (``pydicom.pixels.apply_modality_lut``), then, when `voi` and the file has one, the VOI
       LUT or the window (``apply_voi_lut``; a linear window spanning exactly the range is the
       identity and skipped). ``[lo, hi]`` is the range the last stage applied can take: the
       stored range (``0 … 2**BitsStored - 1``, or signed), that range rescaled, or
       ``0 … 2**n - 1`` for a LUT of n-bit entries (a window maps onto the rescaled range);
    2. ``pixels = round((v - lo) / (hi - lo) × M)`` with ``M = 255`` (uint8, `bit_depth` 8)
       when ``BitsStored <= 8`` and ``hi - lo <= 255``, else ``M = 65535`` (uint16, 16): a
       file without LUTs that stores 8 or 16 bits keeps its values exactly;
    3. MONOCHROME1: ``pixels = M - pixels``, so bright means more attenuation, as in
       MONOCHROME2.

    Rows × Columns are checked against `max_pixels` before any pixel is decoded. Spacing
    comes from ImagerPixelSpacing, else PixelSpacing (mm, to µm); pixels whose row and column
    spacings differ by more than 1 % are refused, while a spacing of 0, negative, non-numeric
    or absent gives ``spacing_um=None`` and a `spacing_problem`.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.fromarray(np.full((2, 3), 51, np.uint8)).save(buffer, format="PNG")
    >>> image = read_grey_image(buffer.getvalue(), field="upload")
    >>> image.pixels.shape, image.bit_depth, round(float(image.unit[0, 0]), 6)
    ((2, 3), 8, 0.2)
    >>> rgb = io.BytesIO()
    >>> Image.new("RGB", (3, 2), (255, 0, 0)).save(rgb, format="PNG")
    >>> read_grey_image(rgb.getvalue(), field="upload", name="red.png")
    Traceback (most recent call last):
    ...
    ValueError: `upload` must be a grey image; got red.png, a colour image (mode RGB) whose ...
    """
    label, opened = _open(source, field, name)
    force = _dicom_force(opened, label)
    if force is not None:
        from ._dicom import read_dicom

        return read_dicom(opened, force=force, field=field, label=label, max_pixels=max_pixels,
                          voi=voi)
    try:
        with _quiet_bombs(), Image.open(opened) as image:
            kind, mode = image.format, image.mode
            _check_format(kind, field, label)
            _check_size(image.size, field, label, max_pixels)
            image.load()
            pixels = _pixels(image)
    except Image.DecompressionBombError as exc:  # beyond even Pillow's own limit
        raise ValueError(f"`{field}` must hold at most {_limit(max_pixels):,} pixels; got "
                         f"{label}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise _unreadable(field, label, exc) from None
    return GreyImage(_grey(pixels, mode, field, label), 16 if mode not in ("L", *_COLOUR) else 8,
                     label, str(kind))


def _open(source: Any, field: str, name: str | None) -> tuple[str, Any]:
    """A label for messages and what `Image.open` takes; a missing file is a ValueError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return name or "the upload", io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise ValueError(f"`{field}` must be an existing image file; got {label!r}.")
        return label, path
    raise TypeError(f"`{field}` must be a path or bytes; got {type(source).__name__}.")


def _dicom_force(opened: Any, label: str) -> bool | None:
    """How to read `opened` as DICOM: False with its "DICM" preamble, True (pydicom's
    ``force``) for a ``.dcm`` name without one that is not a PNG or TIFF; None: not DICOM."""
    if isinstance(opened, io.BytesIO):
        with opened.getbuffer() as view:
            head, named = view[:132].tobytes(), label
    else:
        try:
            with open(opened, "rb") as fh:
                head, named = fh.read(132), str(opened)
        except OSError:
            return None  # Pillow says it cannot be read
    if head[128:132] == b"DICM":
        return False
    if named.lower().endswith((".dcm", ".dicom")) and not head.startswith(_PILLOW_MAGIC):
        return True
    return None


def _check_format(kind: str | None, field: str, label: str) -> None:
    if kind not in FORMATS:
        raise ValueError(f"`{field}` must be a PNG, TIFF or DICOM image; got {label}, a {kind} "
                         "file.")


@contextlib.contextmanager
def _quiet_bombs() -> Iterator[None]:
    """Pillow warns of images over 89 Mpx, where the toolkit applies its own limit, and of
    corrupt TIFF/EXIF tags in damaged files, which are refused in one line instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def pixel_limit() -> int:
    """The largest image in pixels the toolkit reads or makes: `MAX_PIXELS`, or the
    environment variable ``MCC_MAX_PIXELS``."""
    return _limit(None)


def _limit(max_pixels: int | None) -> int:
    if max_pixels is None:
        text = os.environ.get("MCC_MAX_PIXELS")
        if text is None:
            return MAX_PIXELS
        try:
            max_pixels = int(text)
        except ValueError:
            raise ValueError(f"`MCC_MAX_PIXELS` must be a positive integer; got "
                             f"MCC_MAX_PIXELS={text!r}.") from None
        name = "MCC_MAX_PIXELS"
    else:
        name = "max_pixels"
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {name}={max_pixels!r}.")
    return max_pixels


def _check_size(size: tuple[int, int], field: str, label: str, max_pixels: int | None) -> None:
    limit = _limit(max_pixels)
    width, height = size
    if width * height > limit:
        raise ValueError(f"`{field}` must hold at most {limit:,} pixels; got {label}, which "
                         f"declares {width} × {height} = {width * height:,} (set "
                         "MCC_MAX_PIXELS to read larger images).")


def _unreadable(field: str, label: str, exc: BaseException) -> ValueError:
    return ValueError(f"`{field}` must be a readable PNG, TIFF or DICOM image; got {label}, "
                      f"which cannot be read as one ({type(exc).__name__}).")


def _bad_mode(field: str, label: str, mode: str, detail: str = "") -> ValueError:
    return ValueError(f"`{field}` must be an 8- or 16-bit grey image; got {label}, of Pillow "
                      f"mode {mode}{detail} (convert it to 8- or 16-bit grey first).")


def _pixels(image: Any) -> np.ndarray:
    if image.mode in _COLOUR:
        return np.asarray(image.convert("RGB"))
    return np.asarray(image)


def _grey(pixels: np.ndarray, mode: str, field: str, label: str) -> np.ndarray:
    """The pixel array of policy-conforming modes as uint8/uint16 (H, W); else a ValueError."""
    if mode in _COLOUR:
        if not (np.array_equal(pixels[..., 0], pixels[..., 1])
                and np.array_equal(pixels[..., 0], pixels[..., 2])):
            raise ValueError(f"`{field}` must be a grey image; got {label}, a colour image (mode "
                         f"{mode}) whose channels differ (convert it to grey first).")
        return np.ascontiguousarray(pixels[..., 0], dtype=np.uint8)
    if mode == "L":
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    if mode in _SIXTEEN_BIT or (mode == "I" and (pixels.size == 0 or (
            pixels.min() >= 0 and pixels.max() <= 65535))):
        return np.ascontiguousarray(pixels, dtype=np.uint16)
    raise _bad_mode(field, label, mode, " with values outside 0–65535" if mode == "I" else "")
