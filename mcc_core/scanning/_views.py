"""Pictures of a scan, in pure NumPy (plus a Matplotlib colour map): the lightweight paper's
case-study overlay and a probability heat map. No TensorFlow here."""

from __future__ import annotations

import io
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb

from mcc_core.scanning._grid import ScanResult, as_unit_image, cover_max

__all__ = ["SCAN_FILES", "render_case_study", "render_heatmap", "render_scan_files",
           "scan_model_label", "scan_summary"]

SCAN_FILES: tuple[str, ...] = ("case_study.png", "heatmap.png", "scores.csv", "scan.json")
"""The files of a scan, as `mcc scan` writes them and the dashboard offers them."""

_BACKGROUND, _NEGATIVE, _POSITIVE = 0, 1, 2
_BLOCK_ROWS = 256  # colours are mixed a block of rows at a time to bound memory


def _checked(image: object, result: object) -> np.ndarray:
    """``image`` as float32 in [0, 1], after checking it is the image ``result`` scanned."""
    if not isinstance(result, ScanResult):
        raise TypeError(f"`result` must be the ScanResult of mcc_core.scan; "
                        f"got result of type {type(result).__name__}.")
    unit = as_unit_image(image)
    if unit.shape != result.image_shape:
        raise ValueError(f"`image` must be the scanned image of shape {result.image_shape}; "
                         f"got image of shape {unit.shape}.")
    return unit


def _check_fraction(name: str, value: object) -> float:
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not 0 <= number <= 1:
        raise ValueError(f"`{name}` must be a number within [0, 1]; got {name}={value!r}.")
    return number


def _mix(out: np.ndarray, hit: np.ndarray, colour: np.ndarray, weight: float) -> None:
    """In place: ``out[hit] = (1 - weight) * out[hit] + weight * colour`` (rounded uint8)."""
    mixed = (1.0 - weight) * out[hit].astype(np.float32) + weight * colour.astype(np.float32)
    out[hit] = np.rint(mixed).astype(np.uint8)


def _grey_rgb(unit: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1] → uint8 (H, W, 3) grey."""
    grey = np.rint(unit * 255.0).astype(np.uint8)
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def render_case_study(
    image: np.ndarray,
    result: ScanResult,
    *,
    mode: Literal["grey", "tint"] = "grey",
    grey: float = 0.85,
    color: str | tuple[float, float, float] = "red",
    alpha: float = 0.4,
) -> np.ndarray:
    """Repaint a scanned mammogram as the lightweight paper's web application does.

    Each pixel takes the verdict of the scored windows covering it: *positive* if any
    positive window covers it, else *negative* if a scored negative window covers it, else
    *untouched* (only background windows, or the unscanned edge strip, cover it). Negative
    pixels become flat light grey; positive pixels are kept as they are (``mode="grey"``) or
    tinted with ``color`` (``mode="tint"``). Exactly-black pixels (background) are always
    left untouched, also inside scored windows at the breast edge.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        The scanned image (float in [0, 1], uint8 or uint16, as given to
        :func:`mcc_core.scan`).
    result : ScanResult
        Its scan.
    mode : {"grey", "tint"}, optional
        Keep positive pixels ("grey", the paper's default) or tint them ("tint").
    grey : float, optional
        Grey level in [0, 1] of negative pixels (default 0.85, light grey).
    color : str or tuple of float, optional
        Matplotlib colour of the tint (default "red").
    alpha : float, optional
        Weight in [0, 1] of the tint colour: ``(1 - alpha) * pixel + alpha * color``.

    Returns
    -------
    overlay : ndarray of shape (H, W, 3), uint8
        RGB picture.

    Raises
    ------
    TypeError
        If ``result`` is not a ScanResult or ``image`` has an unsupported dtype.
    ValueError
        If ``image`` is not the scanned image's shape, ``mode`` is unknown, or ``grey`` or
        ``alpha`` is outside [0, 1].

    Examples
    --------
    >>> import synth
    >>> from mcc_core import load_bundled_model, scan
    >>> image = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                size_mm=(60.0, 80.0)).image
    >>> result = scan(load_bundled_model(100), image, resolution_um=100)
    >>> overlay = render_case_study(image, result, mode="tint")
    >>> overlay.shape, overlay.dtype
    ((600, 800, 3), dtype('uint8'))

    The background stays black:

    >>> bool((overlay[image == 0] == 0).all())
    True
    """
    unit = _checked(image, result)
    if mode not in ("grey", "tint"):
        raise ValueError(f"`mode` must be one of ('grey', 'tint'); got mode={mode!r}.")
    level = round(_check_fraction("grey", grey) * 255.0)
    weight = _check_fraction("alpha", alpha)
    codes = np.where(result.windows["background"].to_numpy(), _BACKGROUND,
                     np.where(result.windows["positive"].to_numpy(), _POSITIVE, _NEGATIVE))
    verdict = cover_max(codes.astype(np.uint8).reshape(result.probabilities.shape),
                        result.image_shape, result.patch_px, result.stride_px, _BACKGROUND)
    verdict[unit == 0] = _BACKGROUND
    out = _grey_rgb(unit)
    out[verdict == _NEGATIVE] = level
    if mode == "tint":
        tint = np.asarray(to_rgb(color), np.float32) * 255.0
        for top in range(0, out.shape[0], _BLOCK_ROWS):
            rows = slice(top, top + _BLOCK_ROWS)
            _mix(out[rows], verdict[rows] == _POSITIVE, tint, weight)
    return out


def render_heatmap(
    image: np.ndarray,
    result: ScanResult,
    *,
    cmap: str = "inferno",
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend a heat map of the window probabilities over the scanned mammogram.

    Each pixel's heat is the maximum probability of the scored windows covering it, coloured
    with ``cmap`` (0 → the map's low end, 1 → its high end) and blended over the grey image;
    pixels no scored window covers (background, unscanned edge strip) and exactly-black
    pixels stay as they are.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        The scanned image (float in [0, 1], uint8 or uint16).
    result : ScanResult
        Its scan.
    cmap : str, optional
        Name of a Matplotlib colour map (default "inferno").
    alpha : float, optional
        Weight in [0, 1] of the heat colour over the grey image (default 0.5).

    Returns
    -------
    heatmap : ndarray of shape (H, W, 3), uint8
        RGB picture.

    Raises
    ------
    TypeError
        If ``result`` is not a ScanResult or ``image`` has an unsupported dtype.
    ValueError
        If ``image`` is not the scanned image's shape, ``cmap`` is unknown or ``alpha`` is
        outside [0, 1].

    Examples
    --------
    >>> import synth
    >>> from mcc_core import load_bundled_model, scan
    >>> image = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                size_mm=(60.0, 80.0)).image
    >>> result = scan(load_bundled_model(100), image, resolution_um=100)
    >>> heatmap = render_heatmap(image, result, cmap="viridis")
    >>> heatmap.shape, heatmap.dtype, bool((heatmap[image == 0] == 0).all())
    ((600, 800, 3), dtype('uint8'), True)
    >>> render_heatmap(image[:300], result)
    Traceback (most recent call last):
    ...
    ValueError: `image` must be the scanned image of shape (600, 800); got image of shape
    (300, 800).
    """
    unit = _checked(image, result)
    weight = _check_fraction("alpha", alpha)
    if cmap not in colormaps:
        raise ValueError(f"`cmap` must name a Matplotlib colour map; got cmap={cmap!r}.")
    lut = np.rint(colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0)
    scores = np.nan_to_num(result.probabilities, nan=-1.0).astype(np.float32)
    heat = cover_max(scores, result.image_shape, result.patch_px, result.stride_px,
                     np.float32(-1.0))
    out = _grey_rgb(unit)
    for top in range(0, out.shape[0], _BLOCK_ROWS):
        rows = slice(top, top + _BLOCK_ROWS)
        hit = (heat[rows] >= 0) & (unit[rows] > 0)
        _mix(out[rows], hit, lut[np.rint(heat[rows][hit] * 255.0).astype(np.intp)], weight)
    return out


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def render_scan_files(image: np.ndarray, result: ScanResult, *, mode: Literal["grey", "tint"]
                      = "grey", summary: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """The four files of a scan, in memory, as `mcc scan` writes them to its ``--out``:
    ``case_study.png`` (`render_case_study` in `mode`), ``heatmap.png`` (`render_heatmap`),
    ``scores.csv`` (one row per window) and ``scan.json`` (`summary`'s fields, then every
    scalar of `result`).

    Examples
    --------
    >>> import synth
    >>> from mcc_core import load_bundled_model, scan
    >>> from mcc_core.scanning import render_scan_files
    >>> image = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                size_mm=(30.0, 30.0)).image
    >>> result = scan(load_bundled_model(100), image, resolution_um=100)
    >>> files = render_scan_files(image, result, summary={"image": "synthetic"})
    >>> sorted(files), files["case_study.png"][:4]
    (['case_study.png', 'heatmap.png', 'scan.json', 'scores.csv'], b'\\x89PNG')
    >>> json.loads(files["scan.json"])["n_windows"] == result.n_windows
    True
    """
    doc = {**(summary or {}), **result.to_dict()}
    return {
        "case_study.png": _png(render_case_study(image, result, mode=mode)),
        "heatmap.png": _png(render_heatmap(image, result)),
        "scores.csv": result.windows.to_csv(index=False).encode(),
        "scan.json": (json.dumps(doc, indent=2) + "\n").encode(),
    }


def scan_model_label(name: str, *, bundled: bool) -> str:
    """How scan.json names a model: ``bundled:<file name>`` for a bundled model, else the
    name it was given by (the path typed for `mcc scan`, the file name of an upload).

    Examples
    --------
    >>> scan_model_label("shallow_70um.keras", bundled=True)
    'bundled:shallow_70um.keras'
    >>> scan_model_label("models/mine.keras", bundled=False)
    'models/mine.keras'
    """
    return f"bundled:{name}" if bundled else str(name)


def scan_summary(image: str, pixels: np.ndarray, *, image_format: str, spacing_um: float,
                 resampled: bool = False, scale: float = 1.0, model: str,
                 stride_mm: float) -> dict[str, Any]:
    """The fields of scan.json that describe what was scanned, ahead of the result's own
    (`render_scan_files`'s `summary`), as `mcc scan` and the dashboard write them.

    Parameters
    ----------
    image : str
        The name the image was given by: the path as typed for `mcc scan`, the file name of
        an upload in the dashboard (a browser gives no path), or a description of a
        synthetic image. The same file scanned from its own folder gives the same name.
    pixels : ndarray of shape (H, W)
        The image as read, before resampling (its dtype and shape are recorded).
    image_format : str
        ``"PNG"``, ``"TIFF"``, ``"DICOM"`` or ``"synthetic"``.
    spacing_um : float
        The image's own pixel spacing.
    resampled, scale
        Whether it was resampled to the model's resolution, and by what factor.
    model : str
        `scan_model_label` of the model.
    stride_mm : float
        The window step.

    Examples
    --------
    >>> import numpy as np
    >>> summary = scan_summary("m.png", np.zeros((300, 400), np.uint16), image_format="PNG",
    ...                        spacing_um=100.0, model=scan_model_label("m.keras",
    ...                        bundled=True), stride_mm=1.5)
    >>> summary["image_shape"], summary["image_dtype"], summary["model"]
    ([300, 400], 'uint16', 'bundled:m.keras')
    """
    return {"image": image, "image_format": image_format, "image_dtype": str(pixels.dtype),
            "image_spacing_um": spacing_um, "image_shape": list(pixels.shape),
            "resampled": resampled, "scale": scale, "model": model, "stride_mm": stride_mm}
