"""Pixel spacings: an image's own, a model's, and the anti-aliased resampling between them.

Two spacings are kept apart everywhere: an image's pixel spacing (read from its DICOM header, or
given as ``--spacing-um`` for PNG and TIFF) and a model's resolution (50, 70 or 100 µm, the
patch sizes of `RESOLUTIONS_UM`). An image of any spacing is resampled to the model's before it
is cut into 1 cm windows or patches.

The filter: Pillow's Lanczos-3 resampler (a windowed sinc), whose support widens by the
reduction factor when an image is made coarser, so it low-passes at the *target* Nyquist
frequency before decimating. A linear or nearest zoom from 50 to 100 µm keeps about 90 % of the
amplitude of detail between the two Nyquist frequencies and folds it back as aliases; this
filter keeps under 1 % of it at 1.5 × the target Nyquist frequency and passes 1 cycle/mm
unchanged (measured in tests/synth/test_spacing.py). Its kernel sums to one, so an MC's
integrated signal (its pixel values summed × the pixel area) is kept: within 2 % from 50 to
100 µm for a 0.2 mm MC, measured there too. Output pixels are exactly the target spacing,
aligned on the image's top-left corner; a partial last row or column is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._config import RESOLUTIONS_UM, check_resolution

__all__ = ["MAX_SPACING_UM", "MIN_SPACING_UM", "Resampled", "at_resolution", "check_spacing",
           "image_spacing", "nearest_resolution", "resample"]

MIN_SPACING_UM = 10.0
MAX_SPACING_UM = 1000.0
"""The pixel spacings accepted, in µm: mammography detectors lie between about 25 and 200."""


def check_spacing(value: Any, field: str = "spacing_um") -> float:
    """`value` as a spacing in µm, or a ValueError naming `field`.

    Examples
    --------
    >>> from synth import check_spacing
    >>> check_spacing(85)
    85.0
    >>> check_spacing(0, "--spacing-um")
    Traceback (most recent call last):
    ...
    ValueError: `--spacing-um` must be a pixel spacing from 10 to 1000 µm; got --spacing-um=0.
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not math.isfinite(float(value)) or not (
            MIN_SPACING_UM <= float(value) <= MAX_SPACING_UM):
        raise ValueError(f"`{field}` must be a pixel spacing from {MIN_SPACING_UM:g} to "
                         f"{MAX_SPACING_UM:g} µm; got {field}={value!r}.")
    return float(value)


def image_spacing(image: Any, spacing_um: float | None = None, *,
                  field: str = "--spacing-um", fallback: float | None = None) -> float:
    """The pixel spacing of a `synth.GreyImage`, in µm.

    `spacing_um`, when given, wins (a user who knows better than a header); otherwise the
    spacing the file declares (DICOM); otherwise `fallback` (a dataset's declared resolution, or
    the old meaning of ``--resolution`` for PNGs); otherwise a ValueError asking for `field`.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> from synth import image_spacing
    >>> png = synth.GreyImage(np.zeros((4, 4), np.uint8), 8, "a.png", "PNG")
    >>> image_spacing(png, 70)
    70.0
    >>> image_spacing(png)
    Traceback (most recent call last):
    ...
    ValueError: `--spacing-um` is needed: a.png declares no pixel spacing (a PNG file); ...
    """
    if spacing_um is not None:
        return check_spacing(spacing_um, field)
    own = getattr(image, "spacing_um", None)
    if own is not None:
        return check_spacing(own, f"{image.name}'s pixel spacing")
    if fallback is not None:
        return check_spacing(fallback, field)
    problem = getattr(image, "spacing_problem", None) or (
        f"declares no pixel spacing (a {image.format} file)")
    raise ValueError(f"`{field}` is needed: {image.name} {problem}; give its pixel spacing in "
                     f"µm (e.g. {field} 70).")


def nearest_resolution(spacing_um: float) -> int:
    """The model resolution (of `RESOLUTIONS_UM`) nearest `spacing_um`, on a log scale (ties
    go to the finer one).

    Examples
    --------
    >>> from synth import nearest_resolution
    >>> [nearest_resolution(s) for s in (42, 59, 60, 83, 85, 150)]
    [50, 50, 70, 70, 100, 100]
    """
    s = check_spacing(spacing_um)
    return min(RESOLUTIONS_UM, key=lambda r: (abs(math.log(s / r)), r))


def resample(image: np.ndarray, from_um: float, to_um: float) -> np.ndarray:
    """`image` (H, W) of pixel spacing `from_um` resampled to `to_um`, anti-aliased.

    Returns float32 (a copy when the spacings are equal); values keep their scale, so an image
    in [0, 1] stays within it (the filter's overshoot at edges is clipped for such images).
    See the module text for the filter and its measured properties.

    Examples
    --------
    >>> import numpy as np
    >>> from synth import resample
    >>> image = np.full((300, 200), 0.25, np.float32)
    >>> out = resample(image, 50, 100)
    >>> out.shape, round(float(out.mean()), 6)
    ((150, 100), 0.25)
    >>> resample(image, 70, 100).shape  # 300 × 0.7 = 210 rows, 200 × 0.7 = 140 columns
    (210, 140)
    """
    from PIL import Image

    src = np.asarray(image)
    if src.ndim != 2:
        raise ValueError(f"`image` must be a 2-D grey image; got shape {src.shape}.")
    a, b = check_spacing(from_um, "from_um"), check_spacing(to_um, "to_um")
    pixels = src.astype(np.float32, copy=True)
    if a == b:
        return pixels
    factor = a / b
    rows, cols = int(src.shape[0] * factor + 1e-9), int(src.shape[1] * factor + 1e-9)
    if rows < 1 or cols < 1:
        raise ValueError(f"`image` of {src.shape[0]} × {src.shape[1]} px at {a:g} µm is "
                         f"smaller than one pixel at {b:g} µm.")
    box = (0.0, 0.0, cols / factor, rows / factor)
    out = np.asarray(Image.fromarray(pixels, mode="F").resize(
        (cols, rows), Image.Resampling.LANCZOS, box=box), dtype=np.float32)
    if src.dtype.kind in "ui" or (pixels.size and pixels.min() >= 0.0 and pixels.max() <= 1.0):
        lo, hi = (0.0, 1.0) if src.dtype.kind == "f" else (0.0, float(np.iinfo(src.dtype).max))
        out = np.clip(out, lo, hi)
    return np.ascontiguousarray(out)


@dataclass(frozen=True, eq=False)
class Resampled:
    """An image brought to a model's resolution.

    Attributes
    ----------
    pixels : ndarray (H, W)
        At `resolution_um`: the file's own integer pixels when no resampling was needed
        (so nothing changes for an image already at the model's spacing), else float32 in
        [0, 1].
    spacing_um : float
        The image's own pixel spacing.
    resolution_um : int
        The model's.
    """

    pixels: np.ndarray
    spacing_um: float
    resolution_um: int

    @property
    def scale(self) -> float:
        """Multiplies the image's own pixel coordinates into `pixels`' (spacing / resolution)."""
        return self.spacing_um / self.resolution_um

    @property
    def resampled(self) -> bool:
        return self.spacing_um != self.resolution_um


def at_resolution(image: Any, resolution_um: int | None = None, *,
                  spacing_um: float | None = None, fallback_spacing_um: float | None = None,
                  field: str = "--spacing-um") -> Resampled:
    """A `synth.GreyImage` resampled to a model's resolution (anti-aliased, `resample`).

    `spacing_um`, `fallback_spacing_um` and `field` are `image_spacing`'s: the image's own
    spacing comes from the user, else its DICOM header, else the fallback. `resolution_um`
    defaults to the one nearest that spacing (`nearest_resolution`).

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> png = synth.GreyImage(np.full((850, 680), 1000, np.uint16), 16, "m.png", "PNG")
    >>> ready = synth.at_resolution(png, spacing_um=85)
    >>> ready.resolution_um, ready.pixels.shape, ready.pixels.dtype.name, ready.scale
    (100, (722, 578), 'float32', 0.85)
    >>> same = synth.at_resolution(png, 70, spacing_um=70)
    >>> same.pixels is png.pixels, same.resampled
    (True, False)
    """
    spacing = image_spacing(image, spacing_um, field=field, fallback=fallback_spacing_um)
    res = check_resolution(resolution_um) if resolution_um is not None else (
        nearest_resolution(spacing))
    if spacing == res:
        return Resampled(image.pixels, spacing, res)
    return Resampled(resample(image.unit, spacing, res), spacing, res)
