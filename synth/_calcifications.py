"""Render every MC of a batch: contrast × local tissue × pixel-integrated Gaussian profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ._config import MORPHOLOGIES, Acquisition
from ._gaussians import render_gaussian_windows
from ._morphology import build_components
from ._scene import Calcification, Scene

_WINDOW_SIZES = np.array([3, 5, 7, 9, 11, 15, 21, 29, 41, 57, 81, 113, 161])
MASK_LEVEL = 0.5  # an MC's mask: pixels where it reaches half its own peak
_NEGLIGIBLE = 1e-7

MC_COLUMNS = (
    "x_mm", "y_mm", "col_px", "row_px", "size_mm", "size_px", "morphology", "contrast",
    "orientation_deg", "local_tissue", "integrated_signal", "inside", "material", "thickness_mm",
    "dprime",
)
"""Columns of the per-MC table. ``contrast`` is the MC's signal scale (relative model: peak
contrast over the local tissue level; attenuation model: the mineral's fill fraction);
``local_tissue`` the tissue level (relative) or glandular fraction (attenuation) at its centre;
``integrated_signal`` its signal summed over the patch × pixel area (mm²; attenuation model:
log-attenuation, so fill × Δμ × volume); ``thickness_mm`` the peak projected thickness of the
solid (attenuation model; 0 in the relative one); ``dprime`` its detectability, the
prewhitening matched-filter SNR against the detector noise at its place (inf without noise)."""


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
    comp, counts = _components_px(owners, px_mm, 0.5 * (n - 1), blur_mm)
    patch = cols["patch"]
    pix = np.rint(np.column_stack([cols["row_px"], cols["col_px"]])).astype(int)
    tissue = images[patch, pix[:, 0].clip(0, n - 1), pix[:, 1].clip(0, n - 1)].astype(float)
    cols["local_tissue"][:] = tissue
    boxes = _profiles(comp, counts)
    signal, sumsq = _scatter(boxes, patch, cols["contrast"] * tissue, images, masks)
    cols["integrated_signal"][:] = signal * px_mm**2
    cols["_sumsq"] = sumsq
    return cols


def relative_dprime(scenes: Sequence[Scene], cols: dict[str, np.ndarray], px_mm: float
                    ) -> np.ndarray:
    """d′ of each MC of the relative model: its signal against the white log-domain noise
    of `apply_noise` at its local tissue level (sqrt(Σ s² / σ²), the prewhitening SNR of
    white noise). Pops the "_sumsq" column `render_calcifications` left."""
    sumsq = cols.pop("_sumsq", np.zeros(len(cols["patch"])))
    out = np.full(len(sumsq), np.inf)
    for i, b in enumerate(cols["patch"]):
        var = relative_noise_var(cols["local_tissue"][i], scenes[b].acquisition, px_mm)
        if var is not None:
            out[i] = np.sqrt(sumsq[i] / var)
    out[sumsq == 0] = 0.0  # no signal: nothing to detect, whatever the noise
    return out


class _Boxes(NamedTuple):
    """Each MC's profile on its bounding box, boxes laid end to end in one flat array."""

    profile: np.ndarray  # (sum of box areas,)
    offset: np.ndarray  # (M + 1,) start of each box in `profile`
    origin: np.ndarray  # (M, 2) row, column of each box's top-left pixel
    shape: np.ndarray  # (M, 2)


def _profiles(comp: np.ndarray, counts: np.ndarray) -> _Boxes:
    """Integrate every component over the pixels of its own window (centred on its nearest
    pixel, 3.5 σ either side) and sum the windows of each MC into the MC's box."""
    owner = np.repeat(np.arange(len(counts)), counts)
    half = np.ceil(3.5 * np.sqrt(np.maximum(comp[:, 2], comp[:, 4])) + 0.5).astype(int)
    size = _WINDOW_SIZES[np.minimum(np.searchsorted(_WINDOW_SIZES, 2 * half + 1),
                                    len(_WINDOW_SIZES) - 1)]
    origin = np.rint(comp[:, :2]).astype(int) - size[:, None] // 2
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    box0 = np.minimum.reduceat(origin, first, axis=0)
    shape = np.maximum.reduceat(origin + size[:, None], first, axis=0) - box0
    offset = np.concatenate([[0], np.cumsum(shape[:, 0] * shape[:, 1])])
    index, values = [], []
    for k in np.unique(size):
        sel = np.flatnonzero(size == k)
        values.append(render_gaussian_windows(comp[sel, 0], comp[sel, 1], comp[sel, 2:5],
                                              comp[sel, 5], origin[sel], int(k)).ravel())
        o = owner[sel]
        local = origin[sel] - box0[o]
        steps = np.arange(k)
        rows = (local[:, 0, None] + steps)[:, :, None] * shape[o, 1][:, None, None]
        index.append((offset[o][:, None, None] + rows + (local[:, 1, None] + steps)[:, None, :])
                     .ravel())
    profile = np.bincount(np.concatenate(index), np.concatenate(values), minlength=offset[-1])
    return _Boxes(profile, offset, box0, shape)


def _scatter(boxes: _Boxes, patch: np.ndarray, scale: np.ndarray, images: np.ndarray,
             masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add `scale` × profile of every MC to its patch; mark pixels at half its peak or more.

    Only pixels an MC reaches (beyond 1e-7 of its peak) are touched. Returns each MC's signal
    summed over the pixels inside its patch, and its squares summed over its whole box (for
    d′). `images` may be (B, H, W) with H != W.
    """
    n_rows, n_cols = images.shape[-2:]
    peak = np.maximum.reduceat(boxes.profile, boxes.offset[:-1])
    which = np.repeat(np.arange(len(patch)), np.diff(boxes.offset))
    sumsq = np.bincount(which, (boxes.profile * scale[which]) ** 2, len(patch))
    at = np.flatnonzero(boxes.profile > _NEGLIGIBLE * peak[which])
    which, profile = which[at], boxes.profile[at]
    local = at - boxes.offset[which]
    r = boxes.origin[which, 0] + local // boxes.shape[which, 1]
    c = boxes.origin[which, 1] + local % boxes.shape[which, 1]
    ok = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols)
    which, profile = which[ok], profile[ok]
    flat = (patch[which] * n_rows + r[ok]) * n_cols + c[ok]
    signal = profile * scale[which]
    np.add.at(images.reshape(-1), flat, signal.astype(np.float32))
    masks.reshape(-1)[flat[profile >= MASK_LEVEL * peak[which]]] = True
    return np.bincount(which, signal, len(patch)), sumsq


def _components_px(owners: list[tuple[int, Calcification]], px_mm: float, origin_px: float,
                   blur_mm: np.ndarray, *,
                   components: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """All components in pixel units: (K, 6) rows (μ row, μ col, Σyy, Σxy, Σxx, mass).

    `origin_px` is the pixel coordinate (pixel centres at integers) of 0 mm on both axes.
    `components`: the MCs' (padded components, counts) in mm when already built (the
    attenuation model's `solid_components`, mass in mm of thickness × px²); default
    `build_components` of `owners`.
    """
    padded, counts = components if components is not None else build_components(
        *mc_shape_inputs([mc for _, mc in owners]))
    keep = np.arange(padded.shape[1])[None, :] < counts[:, None]
    c = padded[keep]  # (K, 6) in MC order
    owner = np.repeat(np.arange(len(owners)), counts)
    centre = np.array([(mc.x_mm, mc.y_mm) for _, mc in owners])[owner]
    blur2 = (np.asarray(blur_mm)[[b for b, _ in owners]] ** 2)[owner]
    a2, b2 = c[:, 2] ** 2, c[:, 3] ** 2
    cos, sin = np.cos(c[:, 4]), -np.sin(c[:, 4])  # major axis direction (x, y)
    out = np.empty((len(c), 6))
    out[:, 0] = (centre[:, 1] + c[:, 1]) / px_mm + origin_px
    out[:, 1] = (centre[:, 0] + c[:, 0]) / px_mm + origin_px
    out[:, 2] = (a2 * sin**2 + b2 * cos**2 + blur2) / px_mm**2
    out[:, 3] = (a2 - b2) * cos * sin / px_mm**2
    out[:, 4] = (a2 * cos**2 + b2 * sin**2 + blur2) / px_mm**2
    out[:, 5] = c[:, 5] * 2.0 * np.pi * c[:, 2] * c[:, 3] / px_mm**2
    return out, counts


def mc_shape_inputs(mcs: Sequence[Calcification]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(morphology index, size mm, orientation rad, shape draws) of `mcs`, the arguments of
    `build_components` and `solid_components`."""
    return (np.array([MORPHOLOGIES.index(mc.morphology) for mc in mcs]),
            np.array([mc.size_mm for mc in mcs]),
            np.radians([mc.orientation_deg for mc in mcs]),
            np.stack([mc.shape_draws for mc in mcs]))


def relative_noise_var(tissue: np.ndarray, acquisition: Acquisition | None, px_mm: float
                       ) -> np.ndarray | None:
    """Per-pixel variance of the relative model's log-domain noise (`apply_noise`) at tissue
    level `tissue`; None without a dose."""
    if acquisition is None or acquisition.dose is None:
        return None
    w = np.exp(2.0 * np.asarray(tissue, dtype=float)) / (acquisition.dose * px_mm * px_mm)
    return w * (1.0 + (acquisition.electronic_noise or 0.0) ** 2 * w) / 4.0


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
    cols["material"] = np.array([mc.material for _, mc in owners], dtype=object)
    cols["thickness_mm"] = np.zeros(k)
    cols["dprime"] = np.full(k, np.inf)
    return cols
