"""Render every MC of a batch: contrast × local tissue × pixel-integrated Gaussian profile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._config import MORPHOLOGIES
from ._gaussians import render_gaussian_windows
from ._morphology import build_components
from ._scene import Calcification, Scene

_WINDOW_SIZES = np.array([3, 5, 7, 9, 11, 15, 21, 29, 41, 57, 81, 113, 161])
MASK_LEVEL = 0.5  # an MC's mask: pixels where it reaches half its own peak
_NEGLIGIBLE = 1e-7

MC_COLUMNS = (
    "x_mm", "y_mm", "col_px", "row_px", "size_mm", "size_px", "morphology", "contrast",
    "orientation_deg", "local_tissue", "integrated_signal", "inside",
)


def render_calcifications(scenes: Sequence[Scene], images: np.ndarray, masks: np.ndarray,
                          px_mm: float, blur_mm: np.ndarray) -> dict[str, np.ndarray]:
    """Add every MC of `scenes` to `images` (B, N, N) and its half-peak area to `masks`.

    Each Gaussian component is integrated over the pixels of its own small window; the windows
    of an MC are summed into the MC's bounding box (its profile, peak ≈ 1 before pixel
    averaging), which is scaled by contrast × local tissue and added to the image. The local
    tissue level is read at each MC's centre pixel before any MC is added.

    Returns
    -------
    dict of column arrays, one entry per MC: `MC_COLUMNS` plus "patch" (index in `scenes`).
    """
    n = images.shape[-1]
    owners = [(b, mc) for b, s in enumerate(scenes) for mc in s.calcifications]
    cols = _columns(owners, px_mm, n)
    if not owners:
        return cols
    comp, counts = _components_px(owners, px_mm, n, blur_mm)
    owner = np.repeat(np.arange(len(owners)), counts)
    patch = cols["patch"]
    pix = np.rint(np.column_stack([cols["row_px"], cols["col_px"]])).astype(int)
    tissue = images[patch, pix[:, 0].clip(0, n - 1), pix[:, 1].clip(0, n - 1)].astype(float)
    cols["local_tissue"][:] = tissue
    # Each component's window: centred on its nearest pixel, 3.5 sigma either side.
    half = np.ceil(3.5 * np.sqrt(np.maximum(comp[:, 2], comp[:, 4])) + 0.5).astype(int)
    size = _WINDOW_SIZES[np.minimum(np.searchsorted(_WINDOW_SIZES, 2 * half + 1),
                                    len(_WINDOW_SIZES) - 1)]
    origin = np.rint(comp[:, :2]).astype(int) - size[:, None] // 2
    # Each MC's box: the union of its components' windows.
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    box0 = np.minimum.reduceat(origin, first, axis=0)
    box1 = np.maximum.reduceat(origin + size[:, None], first, axis=0)
    shape = box1 - box0
    offset = np.concatenate([[0], np.cumsum(shape[:, 0] * shape[:, 1])])
    index, values = [], []
    for k in np.unique(size):
        sel = np.flatnonzero(size == k)
        win = render_gaussian_windows(comp[sel, 0], comp[sel, 1], comp[sel, 2:5],
                                      comp[sel, 5], origin[sel], int(k))
        o = owner[sel]
        local = origin[sel] - box0[o]
        steps = np.arange(k)
        rows = (local[:, 0, None] + steps)[:, :, None]
        cols_ = (local[:, 1, None] + steps)[:, None, :]
        index.append((offset[o][:, None, None] + rows * shape[o, 1][:, None, None] + cols_).ravel())
        values.append(win.ravel())
    profile = np.bincount(np.concatenate(index), np.concatenate(values), minlength=offset[-1])
    peak = np.maximum.reduceat(profile, offset[:-1])
    which = np.repeat(np.arange(len(owners)), np.diff(offset))
    # Only pixels an MC reaches (beyond 1e-7 of its peak) are touched.
    at = np.flatnonzero(profile > _NEGLIGIBLE * peak[which])
    which, profile = which[at], profile[at]
    local = at - offset[which]
    r = box0[which, 0] + local // shape[which, 1]
    c = box0[which, 1] + local % shape[which, 1]
    ok = (r >= 0) & (r < n) & (c >= 0) & (c < n)
    flat = ((patch[which] * n + r) * n + c)[ok]
    signal = (profile * (cols["contrast"] * tissue)[which])[ok]
    np.add.at(images.reshape(-1), flat, signal.astype(np.float32))
    masks.reshape(-1)[flat[profile[ok] >= MASK_LEVEL * peak[which[ok]]]] = True
    cols["integrated_signal"][:] = np.bincount(which[ok], signal, len(owners)) * px_mm**2
    return cols


def _components_px(owners: list[tuple[int, Calcification]], px_mm: float, n: int,
                   blur_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All components in pixel units: (K, 6) rows (μ row, μ col, Σyy, Σxy, Σxx, mass)."""
    morph = np.array([MORPHOLOGIES.index(mc.morphology) for _, mc in owners])
    size = np.array([mc.size_mm for _, mc in owners])
    orient = np.radians([mc.orientation_deg for _, mc in owners])
    draws = np.stack([mc.shape_draws for _, mc in owners])
    padded, counts = build_components(morph, size, orient, draws)
    keep = np.arange(padded.shape[1])[None, :] < counts[:, None]
    c = padded[keep]  # (K, 6) in MC order
    owner = np.repeat(np.arange(len(owners)), counts)
    centre = np.array([(mc.x_mm, mc.y_mm) for _, mc in owners])[owner]
    blur2 = (np.asarray(blur_mm)[[b for b, _ in owners]] ** 2)[owner]
    a2, b2 = c[:, 2] ** 2, c[:, 3] ** 2
    cos, sin = np.cos(c[:, 4]), -np.sin(c[:, 4])  # major axis direction (x, y)
    out = np.empty((len(c), 6))
    out[:, 0] = (centre[:, 1] + c[:, 1]) / px_mm + 0.5 * (n - 1)
    out[:, 1] = (centre[:, 0] + c[:, 0]) / px_mm + 0.5 * (n - 1)
    out[:, 2] = (a2 * sin**2 + b2 * cos**2 + blur2) / px_mm**2
    out[:, 3] = (a2 - b2) * cos * sin / px_mm**2
    out[:, 4] = (a2 * cos**2 + b2 * sin**2 + blur2) / px_mm**2
    out[:, 5] = c[:, 5] * 2.0 * np.pi * c[:, 2] * c[:, 3] / px_mm**2
    return out, counts


def _columns(owners: list[tuple[int, Calcification]], px_mm: float, n: int
             ) -> dict[str, np.ndarray]:
    centre = 0.5 * (n - 1)
    k = len(owners)
    cols: dict[str, np.ndarray] = {"patch": np.array([b for b, _ in owners], dtype=np.int64)}
    for name in ("x_mm", "y_mm", "size_mm", "contrast", "orientation_deg"):
        cols[name] = np.array([getattr(mc, name) for _, mc in owners], dtype=float)
    cols["col_px"] = cols["x_mm"] / px_mm + centre
    cols["row_px"] = cols["y_mm"] / px_mm + centre
    cols["size_px"] = cols["size_mm"] / px_mm
    cols["morphology"] = np.array([mc.morphology for _, mc in owners], dtype=object)
    cols["local_tissue"] = np.zeros(k)
    cols["integrated_signal"] = np.zeros(k)
    cols["inside"] = np.array([mc.inside for _, mc in owners], dtype=bool)
    return cols
