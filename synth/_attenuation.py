"""Render patches with the attenuation model (`synth._physics`): tissue and MC line integrals
of μ, then the detector chain. Pure: same scenes → same bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from ._background import lump_field, unit_fields
from ._calcifications import (
    _Boxes,
    _columns,
    _components_px,
    _profiles,
    _scatter,
    mc_shape_inputs,
)
from ._config import patch_size_px
from ._detector import blur_mm
from ._morphology import ellipsoid_chords, peak_thickness, solid_components
from ._physics import Chain, dprime, mc_delta_mu, texture_std
from ._scene import Calcification, Scene

SOLID_SUBPIXEL_MM = 0.004
"""The exact solid projection is sampled at this spacing (or finer) before pixel averaging."""


def render_attenuation(scenes: Sequence[Scene], res: int
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Images, masks and MC columns of `scenes` at `res` µm (see `render_arrays`)."""
    n = patch_size_px(res)
    px = res / 1000.0
    acqs = [s.acquisition for s in scenes]
    blur = np.array([blur_mm(a) for a in acqs])
    chains: dict[int, Chain] = {}
    for a in acqs:
        if id(a) not in chains:
            chains[id(a)] = Chain(a, px)
    chain = [chains[id(a)] for a in acqs]
    density = np.array([s.density for s in scenes])
    thickness = np.array([s.thickness_mm for s in scenes])
    fat = np.array([c.mu_fat for c in chain])
    gf = np.array([c.mu_gf for c in chain])
    field = unit_fields([s.background_key for s in scenes], np.array([s.beta for s in scenes]),
                        blur, res, periodic=np.array([s.texture == "periodic" for s in scenes]))
    sigma = texture_std(density)
    for b, s in enumerate(scenes):
        if s.lumps is not None:
            field[b] += lump_field(s.lumps.centres_mm, s.lumps.sigma_mm,
                                   2.0 * s.lumps.amplitude, res, blur[b])
    # glandular fraction along each ray, within [0, 1]
    gland = field
    gland *= sigma.astype(np.float32)[:, None, None]
    gland += density.astype(np.float32)[:, None, None]
    np.clip(gland, 0.0, 1.0, out=gland)
    owners = [(b, mc) for b, s in enumerate(scenes) for mc in s.calcifications]
    cols = _columns(owners, px, n)
    patch = cols["patch"]
    pix = np.rint(np.column_stack([cols["row_px"], cols["col_px"]])).astype(int).clip(0, n - 1)
    local_gland = gland[patch, pix[:, 0], pix[:, 1]].astype(float)
    cols["local_tissue"][:] = local_gland
    # A = T (μ_fat + Δμ g): in place
    image = gland
    image *= (thickness * gf).astype(np.float32)[:, None, None]
    image += (thickness * fat).astype(np.float32)[:, None, None]
    a_ref = thickness * (fat + gf * density)
    masks = np.zeros(image.shape, dtype=bool)
    boxes = None
    if owners:
        energy = np.array([chain[b].energy for b in patch])
        boxes, scale, _ = add_mc_line_integrals(scenes, owners, cols, energy, px, blur, image,
                                                masks)
        a_local = thickness[patch] * (fat[patch] + gf[patch] * local_gland)
        cols["dprime"][:] = _dprimes(boxes, scale, patch, chain, a_local, a_ref, thickness)
    images = image  # the chain runs in place, one batch per acquisition
    rows_mm = ((np.arange(n) - 0.5 * (n - 1)) * px)[:, None]  # heel: along the rows
    for rows in _groups(chain):
        whole = len(rows) == len(image)
        keys = [scenes[b].noise_key for b in rows]
        images[rows] = chain[rows[0]].render_many(
            image if whole else image[rows], a_ref[rows], thickness[rows], keys,
            heel_position_mm=rows_mm)
    return images, masks, cols


def add_mc_line_integrals(scenes: Sequence[Scene], owners: list[tuple[int, Calcification]],
                          cols: dict[str, np.ndarray], energy: np.ndarray, px: float,
                          blur: np.ndarray, image: np.ndarray, masks: np.ndarray
                          ) -> tuple[_Boxes, np.ndarray, np.ndarray]:
    """Add every MC's f Δμ t (its line integral over the glandular tissue it displaces) to
    `image` (B, N, N) and its half-peak area to `masks`; fill the MC columns' thickness and
    integrated signal. `energy`: the beam energy at each MC. Returns the MC boxes, each MC's
    scale f Δμ and its squared signal summed over its box (for d′)."""
    patch = cols["patch"]
    dmu = np.array([mc_delta_mu(m, e) for m, e in zip(cols["material"], energy, strict=True)])
    scale = cols["contrast"] * dmu
    solid = np.array([scenes[b].mc_shape == "solid" for b in patch])
    boxes, peak_t = _mc_boxes(owners, px, image.shape[-1], blur, solid)
    cols["thickness_mm"][:] = peak_t
    signal, sumsq = _scatter(boxes, patch, scale, image, masks)
    cols["integrated_signal"][:] = signal * px**2
    return boxes, scale, sumsq


def _groups(chain: list[Chain]) -> list[np.ndarray]:
    """The scene indices of each distinct chain, in order of first appearance."""
    first: dict[int, list[int]] = {}
    for b, c in enumerate(chain):
        first.setdefault(id(c), []).append(b)
    return [np.array(rows) for rows in first.values()]


def _mc_boxes_full(owners: list[tuple[int, Calcification]], px: float, blur: float,
                   solid: np.ndarray, shape: tuple[int, int]) -> tuple[_Boxes, np.ndarray]:
    """`_mc_boxes` for a full-field image: MC centres in mm from its top-left corner."""
    return _mc_boxes(owners, px, 0, np.array([blur]), solid, origin_px=-0.5)


def _mc_boxes(owners: list[tuple[int, Calcification]], px: float, n: int, blur: np.ndarray,
              solid: np.ndarray, *, origin_px: float | None = None
              ) -> tuple[_Boxes, np.ndarray]:
    """Each MC's thickness profile (mm per pixel, blurred) on its box, and its peak thickness.

    Gaussian MCs: the solid-equivalent components, pixel-integrated. `solid` MCs: the exact
    chord length of their ellipsoids, sampled finely, blurred and averaged over each pixel.
    """
    comps, counts = solid_components(*mc_shape_inputs([mc for _, mc in owners]))
    peak = peak_thickness(comps)
    centre = 0.5 * (n - 1) if origin_px is None else origin_px
    comp, counts = _components_px(owners, px, centre, blur, components=(comps, counts))
    boxes = _profiles(comp, counts)
    if solid.any():
        boxes = _solid_boxes(boxes, owners, comps, px, centre, blur, solid)
    return boxes, peak


def _solid_boxes(boxes: _Boxes, owners: list[tuple[int, Calcification]], comps: np.ndarray,
                 px: float, centre: float, blur: np.ndarray, solid: np.ndarray) -> _Boxes:
    """`boxes` with the profiles of the `solid` MCs replaced by their exact projections;
    `centre` is the pixel coordinate of 0 mm."""
    parts, origins, shapes = [], boxes.origin.copy(), boxes.shape.copy()
    for i, (b, mc) in enumerate(owners):
        if not solid[i]:
            parts.append(boxes.profile[boxes.offset[i]: boxes.offset[i + 1]])
            continue
        reach = float(np.max(np.sqrt(3.0) * comps[i, :, 2] + np.hypot(comps[i, :, 0],
                                                                        comps[i, :, 1])))
        reach += 4.0 * blur[b] + px
        lo = np.floor((np.array([mc.y_mm, mc.x_mm]) - reach) / px + centre + 0.5).astype(int)
        hi = np.ceil((np.array([mc.y_mm, mc.x_mm]) + reach) / px + centre + 0.5).astype(int)
        shape = hi - lo
        sub = max(4, int(np.ceil(px / SOLID_SUBPIXEL_MM)))
        step = px / sub
        # sub-sample centres, in mm from the MC centre
        ys = (lo[0] - 0.5 - centre) * px + step * (np.arange(shape[0] * sub) + 0.5) - mc.y_mm
        xs = (lo[1] - 0.5 - centre) * px + step * (np.arange(shape[1] * sub) + 0.5) - mc.x_mm
        t = ellipsoid_chords(comps[i], xs[None, :], ys[:, None])
        if blur[b] > 0:
            t = gaussian_filter(t, blur[b] / step, mode="constant", truncate=4.0)
        prof = t.reshape(shape[0], sub, shape[1], sub).mean(axis=(1, 3))
        parts.append(prof.ravel())
        origins[i], shapes[i] = lo, shape
    profile = np.concatenate(parts)
    offset = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    return _Boxes(profile, offset, origins, shapes)


def _dprimes(boxes: _Boxes, scale: np.ndarray, patch: np.ndarray, chain: list[Chain],
             a_local: np.ndarray, a_ref: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """d′ of every MC against the detector noise at its local tissue attenuation."""
    qv = np.zeros(len(patch))
    ov = np.zeros(len(patch))
    for b in np.unique(patch):
        rows = patch == b
        c = chain[b]
        full = c.full_scale(float(thickness[b]), float(a_ref[b]))
        qv[rows], ov[rows] = c.noise_variance(a_local[rows], float(a_ref[b]), full)
    out = np.full(len(patch), np.inf)
    noisy = (qv + ov) > 0
    which = np.repeat(np.arange(len(patch)), np.diff(boxes.offset))
    sumsq = np.bincount(which, boxes.profile**2, len(patch)) * scale**2
    indirect = np.array([chain[b].kernel is not None for b in patch]) & noisy
    white = noisy & ~indirect
    out[white] = np.sqrt(sumsq[white] / (qv[white] + ov[white]))
    for i in np.flatnonzero(indirect):
        prof = boxes.profile[boxes.offset[i]: boxes.offset[i + 1]].reshape(boxes.shape[i])
        out[i] = dprime([prof], scale[i:i + 1], qv[i:i + 1], ov[i:i + 1],
                        chain[patch[i]].kernel)[0]
    out[sumsq == 0] = 0.0  # no signal: nothing to detect, whatever the noise
    return out
