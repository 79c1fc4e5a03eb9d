"""Uploaded files, as bytes: scenario JSON, grey PNG/TIFF/DICOM images, model files, and
MC-free negatives (image files or one zip of them).

Each reader turns what it cannot use into a `ValueError` with one readable sentence, which
the pages show with ``st.error``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

import synth
from synth.io import write_atomic

MODEL_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".onnx")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".tif", ".tiff", ".dcm", ".dicom")
"""The image uploads' suffixes: what `synth.read_grey_image` and `synth.load_backgrounds`
read (PNG, TIFF, DICOM)."""
MAX_NEGATIVE_FILES = 1000
"""Most files an upload of negatives may hold: the files uploaded, or a zip's entries."""
MAX_NEGATIVE_BYTES = 1 << 30
"""Most bytes an upload of negatives may unpack to (1 GiB); a zip is checked from its listing
before anything is unpacked, and again while unpacking."""


def read_scenario(data: bytes, name: str = "the scenario") -> synth.SceneConfig:
    """A `synth.SceneConfig` from the bytes of a JSON file (`SceneConfig.to_json`).

    Examples
    --------
    >>> import synth
    >>> from mcc_app import read_scenario
    >>> data = synth.SceneConfig(distribution="linear").to_json().encode()
    >>> read_scenario(data, "scenario.json") == synth.SceneConfig(distribution="linear")
    True
    >>> read_scenario(b'{"contrast_range": [0.2, 1.5]}', "scenario.json")
    Traceback (most recent call last):
    ...
    ValueError: scenario.json is not a valid scenario: `contrast_range` must lie within [0, 1];
      got contrast_range=(0.2, 1.5).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not a text file (a scenario is JSON).") from None
    try:
        return synth.SceneConfig.from_json(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a valid scenario: {exc}") from None


def read_upload(data: bytes, name: str = "the image") -> synth.GreyImage:
    """An uploaded grey image (PNG or TIFF of 8 or 16 bit, or DICOM) as a `synth.GreyImage`.

    Read by `synth.read_grey_image`, the reader of the CLI and the library, with its colour
    policy (an RGB image whose channels are equal is grey; any other colour image is refused)
    and, for DICOM, its LUTs, pixel spacing, intent, laterality and view. A ``.dcm`` `name`
    reads a DICOM file that lacks the "DICM" preamble.

    Raises
    ------
    ValueError
        If `data` is not an image that reader accepts.

    Examples
    --------
    >>> import numpy as np
    >>> from synth import io
    >>> from mcc_app import read_upload
    >>> image = np.full((4, 6), 0.5, np.float32)
    >>> grey = read_upload(io.encode_dicom(image, spacing_um=85), "m.dcm")
    >>> grey.format, grey.spacing_um, grey.pixels.shape, grey.bit_depth
    ('DICOM', 85.0, (4, 6), 16)
    >>> read_upload(io.encode_png(image, 8), "m.png").spacing_um is None  # PNG: none declared
    True
    """
    return synth.read_grey_image(data, field="upload", name=name)


def read_png(data: bytes, name: str = "the image") -> np.ndarray:
    """An uploaded grey image as float32 of shape (H, W) in [0, 1] (`read_upload`'s pixels).

    Kept for callers of the PNG-only dashboard; it reads TIFF and DICOM too.

    Raises
    ------
    ValueError
        If `data` is not an image `synth.read_grey_image` accepts.

    Examples
    --------
    >>> import numpy as np
    >>> from synth import io
    >>> from mcc_app import read_png
    >>> data = io.encode_png(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), 16)
    >>> image = read_png(data, "patch.png")
    >>> image.shape, image.dtype.name, image.round(4).tolist()
    ((1, 3), 'float32', [[0.0, 0.5, 1.0]])
    >>> read_png(b"not an image", "patch.png")
    Traceback (most recent call last):
    ...
    ValueError: `upload` must be a readable PNG, TIFF or DICOM image; got patch.png, which
      cannot be read as one (UnidentifiedImageError).
    """
    return read_upload(data, name).unit


def store_upload(data: bytes, name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Write an uploaded model file where loaders can open it; return its path.

    The file keeps the upload's name (its suffix picks the loader) in a folder named by the
    SHA-256 of its bytes, so the same upload is stored once.

    Raises
    ------
    ValueError
        If the suffix is not one of `MODEL_SUFFIXES`.

    Examples
    --------
    >>> import tempfile
    >>> from mcc_app import store_upload
    >>> folder = tempfile.mkdtemp()
    >>> path = store_upload(b"model bytes", "my model.onnx", folder)
    >>> path.relative_to(folder).as_posix(), path.read_bytes()  # in a folder named by SHA-256
    ('9cb7487000bc86ac/my_model.onnx', b'model bytes')
    >>> store_upload(b"model bytes", "my model.onnx", folder) == path  # stored once
    True
    >>> store_upload(b"weights", "weights.pt", folder)
    Traceback (most recent call last):
    ...
    ValueError: 'weights.pt' is not a model file: upload .keras, .h5, .onnx.
    >>> store_upload(b"just text", "model.keras", folder)
    Traceback (most recent call last):
    ...
    ValueError: 'model.keras' is not a readable Keras model: a .keras file is a zip archive,
      and this one is not.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ValueError(f"{name!r} is not a model file: upload {', '.join(MODEL_SUFFIXES)}.")
    _check_container(data, name, suffix)
    root = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "mcc_app"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).stem)[:60] or "model"
    target = root / digest[:16] / f"{stem}{suffix}"
    if not target.exists():
        write_atomic(target, data)
    return target


_CONTAINERS = {".keras": (b"PK\x03\x04", "a .keras file is a zip archive"),
               ".h5": (b"\x89HDF\r\n\x1a\n", "an .h5 file is an HDF5 file")}


def _check_container(data: bytes, name: str, suffix: str) -> None:
    """The same one line on every page for a file that cannot be the model its suffix says."""
    if suffix in _CONTAINERS:
        magic, rule = _CONTAINERS[suffix]
        if not data.startswith(magic):
            raise ValueError(f"{name!r} is not a readable Keras model: {rule}, and this one "
                             "is not.")


def load_negatives(files: bytes | Sequence[tuple[str, bytes]], *,
                   spacing_um: float | None = None, resolution_um: int | None = None,
                   field: str = "backgrounds", max_files: int = MAX_NEGATIVE_FILES,
                   max_bytes: int = MAX_NEGATIVE_BYTES) -> synth.Backgrounds:
    """The user's MC-free images, uploaded, as `synth.Backgrounds` (`synth.load_backgrounds`).

    Parameters
    ----------
    files : bytes, or sequence of (name, bytes)
        The uploaded files: PNG, TIFF or DICOM images (``IMAGE_SUFFIXES``), or one ``.zip`` of
        them (bare bytes are a zip). A zip's images keep their paths inside it as names;
        hidden files, ``__MACOSX/`` and files of other suffixes in it are skipped.
    spacing_um : float, optional
        The images' pixel spacing in µm; default: each DICOM's own (PNG and TIFF need it).
    resolution_um : int, optional
        The model resolution to resample them to (default: the one nearest their spacing).
    field : str
        Name used in messages.
    max_files, max_bytes : int
        Bounds on the number of files and the bytes they unpack to (a zip bomb is refused
        from its listing, before anything is written).

    Raises
    ------
    ValueError
        In one sentence: not images or one zip; a zip that cannot be read, holds a name
        outside itself (``..``, an absolute path) or too many files or bytes, or no image;
        no spacing for a PNG or TIFF; whatever `synth.load_backgrounds` refuses.

    Examples
    --------
    >>> import io, zipfile
    >>> import numpy as np
    >>> from synth.io import encode_png
    >>> from mcc_app import load_negatives
    >>> tissue = np.random.default_rng(0).normal(0.45, 0.01, (150, 150)).astype(np.float32)
    >>> bg = load_negatives([("a.png", encode_png(tissue, 16))], spacing_um=100)
    >>> bg.names, bg.resolution_um, bg.images[0].shape
    (('a.png',), 100, (150, 150))
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as archive:
    ...     archive.writestr("negatives/b.png", encode_png(tissue, 16))
    >>> load_negatives([("mine.zip", buffer.getvalue())], spacing_um=85).names
    ('negatives/b.png',)
    >>> load_negatives([("a.png", encode_png(tissue, 16))])
    Traceback (most recent call last):
    ...
    ValueError: `spacing_um` is needed: a.png is a PNG or TIFF file, which declares no pixel
      spacing; give the negatives' pixel spacing in µm.
    """
    if spacing_um is not None:
        synth.check_spacing(spacing_um, "spacing_um")
    with tempfile.TemporaryDirectory(prefix="mcc_negatives_") as tmp:
        root = Path(tmp)
        paths = _unpack(files, root, field, max_files, max_bytes)
        undeclared = [p for p in paths if p.suffix.lower() not in (".dcm", ".dicom")]
        if spacing_um is None and undeclared:
            first = undeclared[0].relative_to(root).as_posix()
            raise ValueError(f"`spacing_um` is needed: {first} is a PNG or TIFF file, which "
                             "declares no pixel spacing; give the negatives' pixel spacing in µm.")
        try:
            return synth.load_backgrounds(root, resolution_um=resolution_um,
                                          spacing_um=spacing_um, field=field)
        except ValueError as exc:  # name the upload, never the temporary folder
            raise ValueError(str(exc).replace(f"{root}{os.sep}", "").replace(
                str(root), "the upload")) from None


def _unpack(files: bytes | Sequence[tuple[str, bytes]], root: Path, field: str,
            max_files: int, max_bytes: int) -> list[Path]:
    """Write the uploaded negatives under `root`; return the image files written."""
    if isinstance(files, (bytes, bytearray, memoryview)):
        uploads = [("the zip", bytes(files))]
        zips = ["the zip"]
    else:
        uploads = list(files)
        zips = [name for name, _ in uploads if name.lower().endswith(".zip")]
    if zips and len(uploads) > 1:
        raise ValueError(f"`{field}` must be PNG, TIFF or DICOM images or one .zip of them; got "
                         f"{len(uploads)} files with {zips[0]} among them.")
    if zips:
        paths = _unpack_zip(uploads[0][1], zips[0], root, field, max_files, max_bytes)
    else:
        paths = _write_files(uploads, root, field, max_files, max_bytes)
    if not paths:
        what = zips[0] if zips else "the upload"
        raise ValueError(f"`{field}` must hold PNG, TIFF or DICOM images; got {what}, which "
                         "holds none.")
    return paths


def _is_image(path: PurePosixPath) -> bool:
    """An image file that `synth.load_backgrounds` lists (no hidden part, no __MACOSX)."""
    return (path.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") or part == "__MACOSX" for part in path.parts))


def _write_files(uploads: list[tuple[str, bytes]], root: Path, field: str, max_files: int,
                 max_bytes: int) -> list[Path]:
    _check_bounds(len(uploads), sum(len(data) for _, data in uploads), "the upload", field,
                  max_files, max_bytes)
    paths: list[Path] = []
    for name, data in uploads:
        base = PurePosixPath(name.replace("\\", "/")).name
        if not _is_image(PurePosixPath(base)):
            raise ValueError(f"`{field}` must be PNG, TIFF or DICOM images or one .zip of them; "
                             f"got {name!r}.")
        target = root / base
        if target.exists():
            raise ValueError(f"`{field}` must be files with distinct names; got {base!r} twice.")
        target.write_bytes(data)
        paths.append(target)
    return paths


def _check_bounds(count: int, size: int, label: str, field: str, max_files: int,
                  max_bytes: int) -> None:
    if count > max_files:
        raise ValueError(f"`{field}` must hold at most {max_files:,} files; got {label}, which "
                         f"holds {count:,}.")
    if size > max_bytes:
        raise ValueError(f"`{field}` must unpack to at most {max_bytes:,} bytes; got {label}, "
                         f"which holds {size:,}.")


def _member_path(name: str, label: str, field: str) -> PurePosixPath:
    """A zip entry's name as a relative path inside the zip, or a ValueError."""
    posix = name.replace("\\", "/")
    parts = posix.split("/")
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix) or ".." in parts or "\0" in posix:
        raise ValueError(f"`{field}` must be a zip whose names stay inside it; got {label}, "
                         f"which holds {name!r}.")
    return PurePosixPath(*[p for p in parts if p not in ("", ".")] or ["."])


def _unpack_zip(data: bytes, label: str, root: Path, field: str, max_files: int,
                max_bytes: int) -> list[Path]:
    """The zip's images written under `root`: names, counts and sizes checked from its listing
    first, the bytes counted again while unpacking (a listing can lie)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValueError(f"`{field}` must be PNG, TIFF or DICOM images or one .zip of them; got "
                         f"{label}, which is not a readable zip ({type(exc).__name__}).") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_bounds(len(members), sum(m.file_size for m in members), label, field, max_files,
                      max_bytes)
        chosen = [(m, rel) for m in members
                  if _is_image(rel := _member_path(m.filename, label, field))]
        written = 0
        paths = []
        for member, rel in chosen:
            target = root.joinpath(*rel.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        _check_bounds(0, written, label, field, max_files, max_bytes)
                        sink.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError,
                    zlib.error) as exc:  # encrypted, an unknown compression, corrupt data
                raise ValueError(f"`{field}` must be a zip that unpacks; got {label}, whose "
                                 f"{member.filename!r} does not ({type(exc).__name__}).") from None
            paths.append(target)
    return paths
