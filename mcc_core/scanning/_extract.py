"""The papers' patch extraction from whole mammograms (the transfer-learning
paper, §2.2.1: Luna-Lozoya et al., Mathematics 2025, 13(15), 2422, doi:10.3390/math13152422).

Pure numpy and pandas: nothing here needs TensorFlow.

Coordinates are pixel indices, X = column, Y = row. A box (X1, Y1, X2, Y2) and a window
(x1, y1, x2, y2) are half-open, like numpy slices: ``image[Y1:Y2, X1:X2]``; a window's side is
the 1 cm patch (200 / 144 / 100 px at 50 / 70 / 100 µm).

Class 1 — inside each MCC box, a 1 cm window slides by 1.5 mm (30 / 22 / 15 px) in the four
scan orders. Along each axis independently the window's start runs over
``[min(X1, X2 - P), max(X1, X2 - P)]`` clipped to the image: where the box is narrower than a
window, every window *contains the box's whole extent*; where it is wider, every window *lies
within the box*. So a class-1 patch holds the whole cluster whenever the cluster fits in 1 cm.
L→R starts at the low end of that range in steps of 1.5 mm, R→L at the high end stepping down
(T→B and B→T likewise for rows), so the four orders together reach both ends of the range.
Windows repeated by another order or another box are dropped (first kept: boxes in order,
orders LR-TB, RL-TB, LR-BT, RL-BT).

Class 0 — non-overlapping windows on the grid x1 = 0, P, 2P, … (L→R, T→B) that overlap no MCC
box and hold no black background (pixels exactly 0; `max_background_fraction` allows a share).

Both classes — windows whose pixels repeat those of an earlier window of the same class are
dropped. Then class 0 is balanced to the class-1 count: without `rng`, windows evenly spaced
along the scan order (so negatives come from the whole breast, not only its top); with `rng`,
a uniform sample (kept in scan order). When there are fewer class-0 windows, all are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import synth

__all__ = ["SCAN_ORDERS", "STEP_PX", "ExtractedPatches", "extract_patches"]

STEP_PX: dict[int, int] = {50: 30, 70: 22, 100: 15}
"""The 1.5 mm sliding step of class-1 extraction, in px (transfer-learning paper, §2.2.1)."""
SCAN_ORDERS = ("LR-TB", "RL-TB", "LR-BT", "RL-BT")
WINDOW_COLUMNS = ("x1", "y1", "x2", "y2", "label", "box", "order")
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass(frozen=True, eq=False)
class ExtractedPatches:
    """Patches cut from one mammogram by `extract_patches`.

    Attributes
    ----------
    images : ndarray of shape (N, P, P), float32 in [0, 1]
        Class 1 first, then class 0. 8-bit input is divided by 255, 16-bit by 65535.
    labels : ndarray of shape (N,), int64
    windows : DataFrame
        One row per patch (`WINDOW_COLUMNS`): x1, y1, x2, y2 (half-open pixel corners), label,
        box (index of the MCC box; -1 for class 0) and order (the first scan order that cut it;
        "grid" for class 0).
    resolution_um : int
    """

    images: np.ndarray
    labels: np.ndarray
    windows: pd.DataFrame
    resolution_um: int

    def __len__(self) -> int:
        return len(self.labels)


def extract_patches(
    image: Any,
    boxes: Any,
    *,
    resolution_um: int,
    max_background_fraction: float = 0.0,
    balance: bool = True,
    rng: np.random.Generator | None = None,
) -> ExtractedPatches:
    """Cut class-1 and class-0 patches from a mammogram by the papers' protocol.

    See the module's docstring for the exact rules.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Grayscale, uint8, uint16 or float in [0, 1]; 0 is the black background.
    boxes : DataFrame with columns X1, Y1, X2, Y2, or array-like of shape (K, 4)
        MCC boxes, half-open integer pixel corners (``image[Y1:Y2, X1:X2]``).
    resolution_um : int
        50, 70 or 100: sets the patch (200 / 144 / 100 px) and the step (30 / 22 / 15 px).
    max_background_fraction : float
        Share of a class-0 window's pixels that may be background (exactly 0); default 0:
        one background pixel discards the window.
    balance : bool
        Keep only as many class-0 patches as class-1 ones.
    rng : numpy.random.Generator, optional
        Draw the balanced class-0 patches at random instead of evenly along the scan order.

    Returns
    -------
    ExtractedPatches

    Raises
    ------
    ValueError
        For an RGB or non-2-D image, one smaller than a patch, a float image outside [0, 1],
        a box outside the image or inverted (naming the box), an unknown resolution.

    Examples
    --------
    A 60 × 80 mm synthetic mammogram at 100 µm with two clusters: 104 class-1 windows (100 px,
    1.5 mm steps) and the 7 grid windows that hold breast tissue only.

    >>> mammogram = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                    size_mm=(60.0, 80.0))
    >>> mammogram.annotations[["X1", "Y1", "X2", "Y2"]].to_numpy().tolist()
    [[434, 294, 510, 350], [443, 112, 488, 148]]
    >>> patches = extract_patches(mammogram.image, mammogram.annotations, resolution_um=100)
    >>> patches.images.shape, np.bincount(patches.labels).tolist()
    ((111, 100, 100), [7, 104])
    >>> patches.windows.head(2)
        x1   y1   x2   y2  label  box  order
    0  410  250  510  350      1    0  LR-TB
    1  425  250  525  350      1    0  LR-TB
    """
    size = synth.patch_size_px(resolution_um)
    step = STEP_PX[int(resolution_um)]
    pixels = _check_image(image, size, int(resolution_um))
    box_array = _check_boxes(boxes, pixels.shape)
    fraction = _check_fraction(max_background_fraction)
    if not isinstance(balance, bool):
        raise TypeError(f"`balance` must be a bool; got balance={balance!r}.")
    positives = _unique_content(pixels, positive_windows(box_array, pixels.shape, size, step))
    negatives = _unique_content(pixels, negative_windows(pixels == 0, box_array, size, fraction))
    if balance and len(negatives) > len(positives):
        negatives = negatives.iloc[_pick(len(negatives), len(positives), rng)]
    windows = pd.concat([positives, negatives], ignore_index=True)
    scale = np.float32(_SCALE.get(pixels.dtype, 1.0))
    images = np.empty((len(windows), size, size), dtype=np.float32)
    for k, (x1, y1) in enumerate(zip(windows["x1"], windows["y1"], strict=True)):
        np.divide(pixels[y1:y1 + size, x1:x1 + size], scale, out=images[k])
    labels = windows["label"].to_numpy(dtype=np.int64)
    return ExtractedPatches(images, labels, windows, int(resolution_um))


def positive_windows(boxes: np.ndarray, shape: tuple[int, ...], size: int, step: int
                     ) -> pd.DataFrame:
    """Class-1 windows of every box in the four scan orders, repeated windows dropped."""
    parts = []
    for k, (bx1, by1, bx2, by2) in enumerate(boxes):
        xs = _axis_starts(int(bx1), int(bx2), shape[1], size, step)
        ys = _axis_starts(int(by1), int(by2), shape[0], size, step)
        for order, (rows, cols) in zip(SCAN_ORDERS, ((ys[0], xs[0]), (ys[0], xs[1]),
                                                     (ys[1], xs[0]), (ys[1], xs[1])),
                                       strict=True):
            y, x = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
            parts.append(_frame(x, y, size, label=1, box=k, order=order))
    if not parts:
        return _frame(np.zeros(0, int), np.zeros(0, int), size, label=1, box=-1, order="")
    frame = pd.concat(parts, ignore_index=True)
    return frame.drop_duplicates(subset=["x1", "y1"], ignore_index=True)


def negative_windows(background: np.ndarray, boxes: np.ndarray, size: int,
                     max_background_fraction: float) -> pd.DataFrame:
    """Class-0 windows: the non-overlapping grid (L→R, T→B) less windows that touch a box or
    hold more than `max_background_fraction` background pixels (any, when it is 0)."""
    ny, nx = background.shape[0] // size, background.shape[1] // size
    counts = background[: ny * size, : nx * size].reshape(ny, size, nx, size).sum(axis=(1, 3))
    y, x = (a.ravel() * size for a in np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij"))
    keep = counts.ravel() <= max_background_fraction * size * size
    for bx1, by1, bx2, by2 in boxes:
        keep &= ~((x < bx2) & (bx1 < x + size) & (y < by2) & (by1 < y + size))
    return _frame(x[keep], y[keep], size, label=0, box=-1, order="grid")


def _axis_starts(lo_edge: int, hi_edge: int, extent: int, size: int, step: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Window starts along one axis: forward from the low end, backward from the high end."""
    lo = min(max(min(lo_edge, hi_edge - size), 0), extent - size)
    hi = min(max(max(lo_edge, hi_edge - size), 0), extent - size)
    return np.arange(lo, hi + 1, step), np.arange(hi, lo - 1, -step)


def _frame(x: np.ndarray, y: np.ndarray, size: int, *, label: int, box: int, order: str
           ) -> pd.DataFrame:
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    return pd.DataFrame({"x1": x, "y1": y, "x2": x + size, "y2": y + size,
                         "label": np.full(len(x), label, dtype=np.int64),
                         "box": np.full(len(x), box, dtype=np.int64),
                         "order": np.full(len(x), order, dtype=object)},
                        columns=list(WINDOW_COLUMNS))


def _unique_content(pixels: np.ndarray, windows: pd.DataFrame) -> pd.DataFrame:
    """Drop windows whose pixels repeat an earlier window's (first kept)."""
    size = int((windows["x2"] - windows["x1"]).iloc[0]) if len(windows) else 0
    seen: set[bytes] = set()
    keep = np.ones(len(windows), dtype=bool)
    for k, (x1, y1) in enumerate(zip(windows["x1"], windows["y1"], strict=True)):
        digest = hashlib.blake2b(np.ascontiguousarray(
            pixels[y1:y1 + size, x1:x1 + size]).tobytes(), digest_size=16).digest()
        keep[k] = digest not in seen
        seen.add(digest)
    return windows[keep].reset_index(drop=True)


def _pick(n: int, k: int, rng: np.random.Generator | None) -> np.ndarray:
    """k of n indices in increasing order: evenly spaced, or a uniform sample with `rng`."""
    if rng is None:
        return ((np.arange(k) + 0.5) * n / k).astype(np.int64)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator or None; got rng={rng!r}.")
    return np.sort(rng.choice(n, size=k, replace=False))


def _check_image(image: Any, size: int, resolution_um: int) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        raise ValueError("`image` must be a 2-D grayscale array (H, W), not RGB(A); convert it "
                         f"to grayscale first; got image.shape={array.shape}.")
    if array.ndim != 2:
        raise ValueError(f"`image` must be a 2-D grayscale array (H, W); "
                         f"got image.shape={array.shape}.")
    if array.dtype not in _SCALE and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"`image` must be uint8, uint16 or float; got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) and array.size and not (
            np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
        raise ValueError("`image` must lie within [0, 1] when it is a float array; got values "
                         f"in [{np.nanmin(array):g}, {np.nanmax(array):g}].")
    if array.shape[0] < size or array.shape[1] < size:
        raise ValueError(f"`image` must be at least {size} × {size} px (one 1 cm patch at "
                         f"{resolution_um} µm); got image.shape={array.shape}.")
    return array


def _check_boxes(boxes: Any, shape: tuple[int, ...]) -> np.ndarray:
    """(K, 4) int64 boxes inside the image, X1 < X2 and Y1 < Y2, or a ValueError naming one."""
    if isinstance(boxes, pd.DataFrame) or isinstance(boxes, Mapping):
        frame = pd.DataFrame(boxes)
        columns = {str(c).upper(): c for c in frame.columns}
        if not {"X1", "Y1", "X2", "Y2"} <= set(columns):
            raise ValueError("`boxes` must have the columns X1, Y1, X2, Y2; got columns "
                             f"{list(frame.columns)}.")
        boxes = frame[[columns[c] for c in ("X1", "Y1", "X2", "Y2")]].to_numpy()
    array = np.asarray(boxes, dtype=float)
    if array.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"`boxes` must have shape (K, 4): X1, Y1, X2, Y2 per box; "
                         f"got shape {array.shape}.")
    h, w = shape
    bad = ~np.isfinite(array).all(axis=1) | (array != np.round(array)).any(axis=1)
    bad |= ~((array[:, 0] >= 0) & (array[:, 0] < array[:, 2]) & (array[:, 2] <= w)
             & (array[:, 1] >= 0) & (array[:, 1] < array[:, 3]) & (array[:, 3] <= h))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        values = tuple(int(v) if float(v).is_integer() else float(v) for v in array[k])
        raise ValueError(f"`boxes[{k}]` must hold whole pixel corners with 0 <= X1 < X2 <= {w} "
                         f"and 0 <= Y1 < Y2 <= {h} (X = column, Y = row, X2 and Y2 exclusive); "
                         f"got boxes[{k}]={values}.")
    return array.astype(np.int64)


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`max_background_fraction` must be a number; "
                        f"got max_background_fraction={value!r}.")
    if not 0.0 <= value <= 1.0:
        raise ValueError("`max_background_fraction` must lie within [0, 1]; "
                         f"got max_background_fraction={value!r}.")
    return float(value)
