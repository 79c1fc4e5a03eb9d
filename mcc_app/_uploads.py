"""Uploaded files, as bytes: scenario JSON, grey PNG/TIFF images, model files.

Each reader turns what it cannot use into a `ValueError` with one readable sentence, which
the pages show with ``st.error``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np

import synth
from synth.io import write_atomic

MODEL_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".onnx")


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


def read_png(data: bytes, name: str = "the image") -> np.ndarray:
    """An uploaded grey PNG or TIFF (8 or 16 bit) as float32 of shape (H, W) in [0, 1].

    Read by `synth.read_grey_image`, the reader of the CLI and the library, with its colour
    policy: an RGB image whose channels are equal is grey; any other colour image is refused.

    Raises
    ------
    ValueError
        If `data` is not an image that reader accepts.

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
    return synth.read_grey_image(data, field="upload", name=name).unit


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
    """
    suffix = Path(name).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ValueError(f"{name!r} is not a model file: upload {', '.join(MODEL_SUFFIXES)}.")
    root = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "mcc_app"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).stem)[:60] or "model"
    target = root / digest[:16] / f"{stem}{suffix}"
    if not target.exists():
        write_atomic(target, data)
    return target
