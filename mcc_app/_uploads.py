"""Uploaded files, as bytes: scenario JSON, grayscale PNG images, model files.

Each reader turns what it cannot use into a `ValueError` with one readable sentence, which
the pages show with ``st.error``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

import synth

MODEL_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".onnx")
_SCALE = {"L": 255.0, "I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0}


def read_scenario(data: bytes, name: str = "the scenario") -> synth.SceneConfig:
    """A `synth.SceneConfig` from the bytes of a JSON file (`SceneConfig.to_json`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not a text file (a scenario is JSON).") from None
    try:
        return synth.SceneConfig.from_json(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a valid scenario: {exc}") from None


def read_png(data: bytes, name: str = "the image") -> np.ndarray:
    """A grayscale PNG (8 or 16 bit) as float32 of shape (H, W) in [0, 1].

    8-bit values are divided by 255 and 16-bit ones by 65535. Colour PNGs are converted to
    grey with Pillow's luminance rule.

    Raises
    ------
    ValueError
        If `data` is not a PNG image Pillow can read.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind = image.format
            if image.mode == "I":  # Pillow opens some 16-bit PNGs as 32-bit integers
                pixels = np.asarray(image)
                scale = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
            else:
                grey = image if image.mode in _SCALE else image.convert("L")
                pixels, scale = np.asarray(grey), _SCALE[grey.mode]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{name} is not a readable image ({type(exc).__name__}).") from None
    if kind != "PNG":
        raise ValueError(f"{name} is a {kind} file; upload a PNG.")
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise ValueError(f"{name} must be a 2-D grayscale image; got shape {pixels.shape}.")
    return (pixels.astype(np.float32) / np.float32(scale)).clip(0.0, 1.0)


def store_upload(data: bytes, name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Write an uploaded model file where loaders can open it; return its path.

    The file keeps the upload's name (its suffix picks the loader) in a folder named by the
    SHA-256 of its bytes, so the same upload is stored once.

    Raises
    ------
    ValueError
        If the suffix is not one of `MODEL_SUFFIXES`.
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
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    return target
