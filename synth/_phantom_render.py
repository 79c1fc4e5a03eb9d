"""Stage two of an anatomical breast: the tissue's line integral A(x, y) of a `Phantom` on
any pixel grid. Pure: same phantom, same grid → same bytes.

    A = μ_fat T_tot + Δμ (T_tot − T_in (1 − g)) + Δμ Σ_structures t

- T_tot: the compressed thickness T, falling over the rounded edge (width `edge_mm`) to 0 at
  the skin line as t (2 − t), t = distance / edge (a compressed breast's edge is flatter
  than a half circle: the periphery stays thin over about a centimetre); T_in: the same
  for the tissue inside the skin (T − 2 × skin, edge shrunk by the skin), so the skin
  (glandular-like) is T_tot − T_in: a thin line at the periphery;
- g: the glandular fraction inside the skin: the smooth envelope of the fibroglandular
  region, holed by fat lobules, plus the 1/f^β texture (amplitude growing with the local
  mixing of fat and gland), kept within [0, 1]; the pectoral muscle (MLO) as g → 1;
- structures: ligaments, ducts and vessels as Gaussian tubes (widths with the detector blur
  and the pixel aperture added in quadrature), of glandular-equivalent thickness, weighted
  by the fat they displace (1 − envelope) and the local thickness (T_in / T).

At full field the smooth fields (skin distance, envelope with lobules, pectoral distance) are
computed on a grid of `COARSE_MM` in mm and interpolated bilinearly at the pixel centres, so
every resolution samples the same functions of mm; the texture is `synth._breast`'s
full-field 1/f^β field; the structures are drawn at the pixel grid.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft

from ._phantom import LOWFREQ_MM, Phantom, Polylines
from ._random import Key, normals_from_key

COARSE_MM = 0.25
"""Spacing of the grid the smooth fields are computed on at full field."""
LOWFREQ_CACHE = 160
"""Phantoms whose smooth field and resampled structures a process keeps: more than the
patch source's pool (`synth._phantom_patches.PHANTOM_POOL`) at two resolutions."""
PECTORAL_EDGE_MM = 3.0
"""Over this distance inside its free edge the muscle reaches its full share of the ray."""


@lru_cache(maxsize=LOWFREQ_CACHE)
def lowfreq_grid(key: Key, size_mm: tuple[float, float]) -> np.ndarray:
    """A smooth random field of unit standard deviation on a 1 mm grid covering `size_mm`
    (+2 mm): power ∝ f^-3 between 1/80 and 1/6 cycles/mm."""
    ny, nx = int(np.ceil(size_mm[0] / LOWFREQ_MM)) + 3, int(np.ceil(size_mm[1] / LOWFREQ_MM)) + 3
    py, px = scipy.fft.next_fast_len(ny + 64), scipy.fft.next_fast_len(nx + 64)
    fy = scipy.fft.fftfreq(py, d=LOWFREQ_MM)[:, None]
    fx = scipy.fft.rfftfreq(px, d=LOWFREQ_MM)[None, :]
    f = np.hypot(fy, fx)
    amp = np.maximum(f, 1 / 80.0) ** -1.5 * np.exp(-(f * 6.0) ** 2)
    amp[0, 0] = 0.0
    z = normals_from_key(key, 2 * amp.size).view(np.complex64).reshape(amp.shape)
    field = scipy.fft.irfft2(z * amp, s=(py, px))[:ny, :nx]
    field = (field - field.mean()) / max(float(field.std()), 1e-12)
    field.setflags(write=False)
    return field.astype(np.float32)


def bilinear(grid: np.ndarray, spacing: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`grid` (node (j, i) at (x, y) = (i, j) × spacing mm) interpolated at points (x, y)."""
    fx = np.clip(x / np.float32(spacing), 0, grid.shape[1] - 1.001)
    fy = np.clip(y / np.float32(spacing), 0, grid.shape[0] - 1.001)
    i0, j0 = fx.astype(np.int64), fy.astype(np.int64)
    wx, wy = (fx - i0).astype(np.float32), (fy - j0).astype(np.float32)
    top = grid[j0, i0] * (1 - wx) + grid[j0, i0 + 1] * wx
    bottom = grid[j0 + 1, i0] * (1 - wx) + grid[j0 + 1, i0 + 1] * wx
    return top * (1 - wy) + bottom * wy


def upsample(grid: np.ndarray, x0: float, y0: float, spacing: float, xs: np.ndarray,
             ys: np.ndarray) -> np.ndarray:
    """Separable bilinear interpolation of `grid` (node (j, i) at (x0 + i s, y0 + j s)) at the
    rectilinear points `xs` (W,) × `ys` (H,): (H, W) float32."""
    def weights(v: np.ndarray, start: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        f = np.clip((v - start) / spacing, 0, n - 1.001)
        i = f.astype(np.int64)
        return i, (f - i).astype(np.float32)

    i, wx = weights(xs, x0, grid.shape[1])
    j, wy = weights(ys, y0, grid.shape[0])
    rows = grid[:, i] * (1 - wx) + grid[:, i + 1] * wx  # (Hc, W)
    out = rows[j]
    out *= (1 - wy)[:, None]
    lower = rows[j + 1]
    lower *= wy[:, None]
    out += lower
    return out


def smooth_fields(ph: Phantom, x: np.ndarray, y: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(skin distance mm, glandular envelope with lobules, pectoral distance mm or None) at
    the points x (1, W) × y (H, 1)."""
    d = ph.skin_distance_mm(x, y)
    env = ph.envelope(x, y, d)
    _holes(ph, env, float(x.ravel()[0]), float(y.ravel()[0]),
           float(x.ravel()[1] - x.ravel()[0]) if x.size > 1 else 1.0)
    return d, env, ph.pectoral_distance_mm(x, y)


def _holes(ph: Phantom, env: np.ndarray, x0: float, y0: float, step: float) -> None:
    """Multiply `env` (a regular grid from (x0, y0), `step` mm) by 1 − Σ lobule bumps."""
    hole = np.zeros_like(env)
    h, w = env.shape
    lob = ph.lobules
    near = ((lob[:, 0] + lob[:, 2] >= x0) & (lob[:, 0] - lob[:, 2] <= x0 + w * step)
            & (lob[:, 1] + lob[:, 2] >= y0) & (lob[:, 1] - lob[:, 2] <= y0 + h * step))
    for x, y, r, depth in lob[near]:
        i0, i1 = int(np.floor((x - r - x0) / step)), int(np.ceil((x + r - x0) / step)) + 1
        j0, j1 = int(np.floor((y - r - y0) / step)), int(np.ceil((y + r - y0) / step)) + 1
        i0, j0, i1, j1 = max(i0, 0), max(j0, 0), min(i1, w), min(j1, h)
        if i0 >= i1 or j0 >= j1:
            continue
        dx = (x0 + step * np.arange(i0, i1, dtype=np.float32) - np.float32(x)) / np.float32(r)
        dy = (y0 + step * np.arange(j0, j1, dtype=np.float32) - np.float32(y)) / np.float32(r)
        q = np.maximum(1 - dy[:, None] ** 2 - dx[None, :] ** 2, 0)
        hole[j0:j1, i0:i1] += np.float32(depth) * q * q
    np.clip(hole, 0.0, 1.0, out=hole)
    env *= 1 - hole


def thickness_profiles(ph: Phantom, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T_tot, T_in) in mm from the skin distance `d` (float32, overwritten by neither)."""
    def rounded(t: np.ndarray) -> np.ndarray:
        np.clip(t, 0.0, 1.0, out=t)
        t *= 2 - t
        return t

    s, e = ph.skin_mm, ph.edge_mm
    total = rounded(d * np.float32(1.0 / e))
    total *= np.float32(ph.thickness_mm)
    inner = rounded((d - np.float32(s)) * np.float32(1.0 / (e - s)))
    inner *= np.float32(ph.thickness_mm - 2 * s)
    return total, inner


def muscle_share(pec: np.ndarray) -> np.ndarray:
    """Share of the ray inside the pectoral muscle at pectoral distance `pec` (mm): a sharp
    free edge (`PECTORAL_EDGE_MM`), then thickening towards the chest-wall corner."""
    edge = np.clip(pec * np.float32(1.0 / PECTORAL_EDGE_MM), 0.0, 1.0)
    edge *= np.float32(0.55) + np.float32(0.3) * np.clip(pec * np.float32(1 / 40.0), 0.0, 1.0)
    return edge


def texture_amplitude(env: np.ndarray) -> np.ndarray:
    """Standard deviation of the glandular fraction's texture where the envelope is `env`:
    largest where fat and gland mix."""
    return np.float32(0.03) + np.float32(0.45) * env * (1 - env)


def tissue_attenuation(ph: Phantom, *, mu_fat: float, mu_gf: float, x0: float, y0: float,
                       px: float, shape: tuple[int, int], texture: np.ndarray,
                       blur_mm: float, coarse: bool,
                       probe: tuple[np.ndarray, np.ndarray] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A (float32, shape), the total thickness T_tot, the skin distance, the glandular
    fraction's envelope and the glandular fraction g (texture and muscle included, in
    [0, 1]) at the pixels `probe` (rows, cols), on the pixel grid whose pixel (r, c) is
    centred at (x0 + (c + 0.5) px, y0 + (r + 0.5) px) mm. `texture`: a zero-mean unit field
    of `shape` (consumed). `coarse`: compute the smooth fields on the `COARSE_MM` grid (full
    field)."""
    xs = (x0 + (np.arange(shape[1]) + 0.5) * px).astype(np.float32)
    ys = (y0 + (np.arange(shape[0]) + 0.5) * px).astype(np.float32)
    if coarse:
        xc = np.arange(xs[0] - COARSE_MM, xs[-1] + 2 * COARSE_MM, COARSE_MM, dtype=np.float32)
        yc = np.arange(ys[0] - COARSE_MM, ys[-1] + 2 * COARSE_MM, COARSE_MM, dtype=np.float32)
        parts = smooth_fields(ph, xc[None, :], yc[:, None])
        d, env, pec = (None if p is None else upsample(p, float(xc[0]), float(yc[0]), COARSE_MM,
                                                        xs, ys) for p in parts)
    else:
        d, env, pec = smooth_fields(ph, xs[None, :], ys[:, None])
    assert d is not None and env is not None
    total, inner = thickness_profiles(ph, d)
    g = texture
    g *= texture_amplitude(env)
    g += env
    if pec is not None:
        g += muscle_share(pec) * (1 - g)
    np.clip(g, 0.0, 1.0, out=g)
    g_at = np.zeros(0) if probe is None else g[probe[0], probe[1]].astype(float)
    # A = μ_fat T_tot + Δμ (T_tot − T_in (1 − g)) + Δμ Σ t
    a = np.subtract(1.0, g, out=g)
    a *= inner
    np.subtract(total, a, out=a)
    splat_structures(ph, a, x0, y0, px, blur_mm)
    a *= np.float32(mu_gf)
    a += np.float32(mu_fat) * total
    return a, total, d, env, g_at


def splat_structures(ph: Phantom, out: np.ndarray, x0: float, y0: float, px: float,
                     blur_mm: float) -> None:
    """Add the curvilinear structures' glandular-equivalent thickness (mm) to `out`."""
    h, w = out.shape
    x, y, s, weight = line_points(ph.structures, px, blur_mm)
    keep = (x > x0 - 5.0) & (x < x0 + w * px + 5.0) & (y > y0 - 5.0) & (y < y0 + h * px + 5.0)
    if not keep.any():
        return
    x, y, s, weight = x[keep], y[keep], s[keep], weight[keep]
    d = ph.skin_distance_mm(x, y)
    _, inner = thickness_profiles(ph, d.astype(np.float32))
    weight = weight * (1 - ph.envelope(x, y, d)) * inner / ph.thickness_mm
    _splat(out, (x - x0) / px - 0.5, (y - y0) / px - 0.5, s / px, weight)


@lru_cache(maxsize=LOWFREQ_CACHE)
def line_points(lines: Polylines, px: float, blur_mm: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The structures resampled for splatting at pixel size `px`: points (x, y) mm spaced
    0.9 σ_eff apart, σ_eff = √(σ² + blur² + px²/12) (PSF and pixel aperture), and each
    point's peak weight, so that the points sum to a tube of the polyline's amplitude."""
    xs, ys, sig, wt = [], [], [], []
    for i in range(len(lines)):
        path = lines.path(i)
        s_eff = float(np.sqrt(lines.sigma_mm[i] ** 2 + blur_mm**2 + px * px / 12.0))
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        step = 0.9 * s_eff
        at = np.arange(0.5 * step, arc[-1], step)
        xs.append(np.interp(at, arc, path[:, 0]))
        ys.append(np.interp(at, arc, path[:, 1]))
        sig.append(np.full(len(at), s_eff))
        wt.append(np.full(len(at), lines.amplitude_mm[i] * step / (np.sqrt(2 * np.pi) * s_eff)))
    return tuple(np.concatenate(v) for v in (xs, ys, sig, wt))  # type: ignore[return-value]


def _splat(out: np.ndarray, cx: np.ndarray, cy: np.ndarray, s: np.ndarray,
           weight: np.ndarray) -> None:
    """Add Gaussians (centres in pixel coordinates, σ in px, peak `weight`) to `out`."""
    h, w = out.shape
    half = np.ceil(3.0 * s).astype(np.int64)
    flat_parts, value_parts = [], []
    for k in np.unique(half):
        sel = np.flatnonzero((half == k) & (weight > 0))
        steps = np.arange(-k, k + 1)
        for chunk in np.array_split(sel, max(1, len(sel) * (2 * k + 1) ** 2 // 2_000_000)):
            if not len(chunk):
                continue
            c0, r0 = np.rint(cx[chunk]).astype(np.int64), np.rint(cy[chunk]).astype(np.int64)
            cols, rows = c0[:, None] + steps, r0[:, None] + steps
            inv = (0.5 / s[chunk] ** 2)[:, None]
            gx = (np.exp(-(cols - cx[chunk, None]) ** 2 * inv) * ((cols >= 0) & (cols < w))
                  ).astype(np.float32)
            gy = (np.exp(-(rows - cy[chunk, None]) ** 2 * inv) * weight[chunk, None]
                  ).astype(np.float32)
            vals = gy[:, :, None] * gx[:, None, :]
            flat = np.clip(rows, 0, h - 1)[:, :, None] * w + np.clip(cols, 0, w - 1)[:, None, :]
            ok = ((rows >= 0) & (rows < h))[:, :, None] & (vals != 0)
            flat_parts.append(flat[ok])
            value_parts.append(vals[ok])
    flat = np.concatenate(flat_parts) if flat_parts else np.zeros(0, np.int64)
    if len(flat):
        lo, hi = int(flat.min()), int(flat.max()) + 1
        add = np.bincount(flat - lo, np.concatenate(value_parts), hi - lo)
        view = out.reshape(-1)[lo:hi]
        view += add.astype(np.float32)


def fibroglandular_fraction(ph: Phantom, spacing_mm: float = 1.0) -> dict[str, Any]:
    """The breast's glandular fractions on a `spacing_mm` grid (no texture: its mean is 0).

    BI-RADS density is a property of the breast tissue: the pectoral muscle (MLO) is left
    out of both fractions and reported on its own.

    Returns ``volumetric`` (Σ T_in g / Σ T_tot over the breast less the muscle),
    ``dense_area`` (share of that area where the envelope reaches 0.3), ``muscle_area``
    (share of the breast's area inside the pectoral muscle, 0 in CC) and the grids
    ``gland`` (the envelope with lobules, no muscle), ``distance`` (skin distance, mm) and
    ``tissue`` (True on the breast less the muscle).
    """
    h, w = ph.size_mm
    x = np.arange(0.5 * spacing_mm, w, spacing_mm, dtype=np.float32)[None, :]
    y = np.arange(0.5 * spacing_mm, h, spacing_mm, dtype=np.float32)[:, None]
    d, gland, pec = smooth_fields(ph, x, y)
    total, inner = thickness_profiles(ph, d)
    breast = d > 0
    tissue = breast if pec is None else breast & (pec <= 0)
    muscle = 0.0 if pec is None else float((breast & (pec > 0)).sum() / max(breast.sum(), 1))
    return {"volumetric": float((inner * gland)[tissue].sum() / total[tissue].sum()),
            "dense_area": float((gland[tissue] >= 0.3).mean()), "muscle_area": muscle,
            "gland": gland, "distance": d, "tissue": tissue}
