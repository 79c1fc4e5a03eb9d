"""MC shapes as sums of anisotropic 2-D Gaussians (BI-RADS morphologies), sizes in mm.

A shape is an array of components, one row each:
``(dx_mm, dy_mm, sigma_major_mm, sigma_minor_mm, angle_rad, weight)``; offsets are from the MC
centre, the angle turns the major axis (same convention as orientations), and weights are
scaled so the continuous profile peaks at 1. The MC's *size* is its longest extent at half
maximum, so a punctate MC of size d is a Gaussian of FWHM d.

Two stages here too: `sample_scene` draws `SHAPE_DRAWS` uniforms per MC; `build_components`
turns them (with morphology, size and orientation) into components, for many MCs at once.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from ._config import MORPHOLOGIES

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
MIN_SIGMA_MM = 0.012
MAX_COMPONENTS = 6
_PER_SLOT = 8
SHAPE_DRAWS = MAX_COMPONENTS * _PER_SLOT + 4

# Size ranges (mm) where each morphology lives; intersected with the user's range when they meet.
MORPHOLOGY_SIZE_MM: dict[str, tuple[float, float]] = {
    "punctate": (0.1, 0.5),
    "amorphous": (0.1, 1.0),
    "coarse_heterogeneous": (0.5, 1.0),
    "fine_pleomorphic": (0.1, 0.5),
    "fine_linear_branching": (0.2, 1.0),
}

# Per morphology: lobe count range, lobe spread (× size), lobe sigma range (× FWHM sigma),
# aspect-ratio range and weight range. Punctate is one lobe; fine linear is a chain (below).
_LOBES = {
    "punctate": ((1, 1), 0.0, (1.0, 1.0), (1.0, 1.3), (1.0, 1.0)),
    "amorphous": ((2, 3), 0.2, (0.6, 0.8), (1.0, 1.6), (0.6, 1.0)),
    "coarse_heterogeneous": ((3, 5), 0.3, (0.3, 0.45), (1.0, 1.5), (0.6, 1.0)),
    "fine_pleomorphic": ((2, 3), 0.25, (0.35, 0.6), (1.2, 2.5), (0.5, 1.0)),
    "fine_linear_branching": ((3, 5), 0.0, (1.0, 1.0), (1.0, 1.0), (0.7, 1.0)),
}
_SIZE_BOUNDS = np.array([MORPHOLOGY_SIZE_MM[m] for m in MORPHOLOGIES])
_TABLE = np.array(
    [[lo, hi, spread, s0, s1, a0, a1, w0, w1]
     for (lo, hi), spread, (s0, s1), (a0, a1), (w0, w1) in (_LOBES[m] for m in MORPHOLOGIES)]
)
_CHAIN = MORPHOLOGIES.index("fine_linear_branching")


def sample_sizes(morph: np.ndarray, size_range: tuple[float, float],
                 u: np.ndarray) -> np.ndarray:
    """Log-uniform sizes (from uniforms `u`) within the user's range and each morphology's own
    range where the two meet (else the user's range alone)."""
    lo, hi = size_range
    bounds = _SIZE_BOUNDS[morph]
    a, b = np.maximum(bounds[:, 0], lo), np.minimum(bounds[:, 1], hi)
    meet = a <= b
    a, b = np.where(meet, a, lo), np.where(meet, b, hi)
    return np.exp(np.log(a) + u * (np.log(b) - np.log(a)))


def build_components(morph: np.ndarray, sizes: np.ndarray, orientation_rad: np.ndarray,
                     draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian components of n MCs (pure: the randomness is in `draws`).

    Parameters
    ----------
    morph : ndarray of shape (n,), int — index into `MORPHOLOGIES`
    sizes : ndarray of shape (n,), mm
    orientation_rad : ndarray of shape (n,)
    draws : ndarray of shape (n, SHAPE_DRAWS), uniforms in [0, 1)

    Returns
    -------
    components : ndarray of shape (n, MAX_COMPONENTS, 6), zero-weight rows past each count
    counts : ndarray of shape (n,), int
    """
    n = len(morph)
    u = draws[:, : MAX_COMPONENTS * _PER_SLOT].reshape(n, MAX_COMPONENTS, _PER_SLOT)
    extra = draws[:, MAX_COMPONENTS * _PER_SLOT:]
    t = _TABLE[morph]  # (n, 9)
    k = (t[:, 0] + np.floor(extra[:, 0] * (t[:, 1] - t[:, 0] + 1))).astype(int)
    slot = np.arange(MAX_COMPONENTS)
    active = slot[None, :] < k[:, None]
    s = sizes / FWHM_PER_SIGMA
    out = np.zeros((n, MAX_COMPONENTS, 6))
    # Lobes: Gaussian offsets (re-centred), random sizes, aspect ratios and angles.
    off = ndtri(np.clip(u[..., :2], 1e-9, 1 - 1e-9)) * (t[:, 2] * sizes)[:, None, None]
    off *= active[..., None]
    off -= off.sum(axis=1, keepdims=True) / k[:, None, None]
    major = s[:, None] * (t[:, 3, None] + u[..., 2] * (t[:, 4] - t[:, 3])[:, None])
    aspect = t[:, 5, None] + u[..., 3] * (t[:, 6] - t[:, 5])[:, None]
    out[..., :2] = off
    out[..., 2] = major
    out[..., 3] = major / aspect
    out[..., 4] = np.pi * u[..., 4]
    out[..., 5] = t[:, 7, None] + u[..., 5] * (t[:, 8] - t[:, 7])[:, None]
    chain = morph == _CHAIN
    if chain.any():
        out[chain], k[chain] = _chains(sizes[chain], orientation_rad[chain], k[chain],
                                       u[chain], extra[chain])
    out[slot[None, :] >= k[:, None]] = 0.0
    np.maximum(out[..., 2:4], MIN_SIGMA_MM, out=out[..., 2:4])
    out[..., 5] /= _peaks(out)[:, None]
    return out, k


def _chains(size: np.ndarray, orientation: np.ndarray, k: np.ndarray, u: np.ndarray,
            extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin segments end to end along the orientation; half of them grow one side branch."""
    m = len(size)
    angle = orientation + 0.15 * ndtri(np.clip(extra[:, 1], 1e-9, 1 - 1e-9))
    d = np.stack([np.cos(angle), -np.sin(angle)], axis=1)  # (m, 2)
    step = size / k
    j = np.arange(MAX_COMPONENTS)[None, :]
    tpos = (j - 0.5 * (k[:, None] - 1)) * step[:, None]
    jitter = 0.02 * size[:, None, None] * ndtri(np.clip(u[..., :2], 1e-9, 1 - 1e-9))
    out = np.zeros((m, MAX_COMPONENTS, 6))
    out[..., :2] = tpos[..., None] * d[:, None, :] + jitter
    out[..., 2] = 0.6 * step[:, None]
    out[..., 3] = 0.025 + 0.02 * u[..., 3]
    out[..., 4] = angle[:, None]
    out[..., 5] = 0.7 + 0.3 * u[..., 5]
    branch = extra[:, 2] < 0.5
    rows = np.flatnonzero(branch)
    if len(rows):
        side = np.where(extra[rows, 3] < 0.5, -1.0, 1.0)
        turn = angle[rows] + side * (0.5 + 0.4 * u[rows, 0, 6])
        base = out[rows, k[rows] // 2, :2]
        db = np.stack([np.cos(turn), -np.sin(turn)], axis=1)
        out[rows, k[rows], :2] = base + 0.5 * step[rows, None] * db
        out[rows, k[rows], 2] = 0.5 * step[rows]
        out[rows, k[rows], 3] = out[rows, 0, 3]
        out[rows, k[rows], 4] = turn
        out[rows, k[rows], 5] = 0.8
    return out, k + branch


def _peaks(comp: np.ndarray) -> np.ndarray:
    """Maximum of each continuous profile, sampled at its component centres; shape (n,)."""
    centres = comp[..., :2]  # (n, C, 2)
    u = centres[:, :, None, :] - centres[:, None, :, :]  # point i minus component j
    c, s = np.cos(comp[..., 4])[:, None, :], np.sin(comp[..., 4])[:, None, :]
    along = u[..., 0] * c - u[..., 1] * s
    across = u[..., 0] * s + u[..., 1] * c
    e = np.exp(-0.5 * ((along / comp[:, None, :, 2]) ** 2 + (across / comp[:, None, :, 3]) ** 2))
    total = (e * comp[:, None, :, 5]).sum(axis=2)
    return total.max(axis=1)


SOLID_SIGMA = FWHM_PER_SIGMA / np.sqrt(12.0)
"""Solid-equivalent Gaussians are this much narrower than the outline's (σ = D / √12)."""


def solid_components(morph: np.ndarray, sizes: np.ndarray, orientation_rad: np.ndarray,
                     draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The components of `build_components` as solids: weights in mm of thickness.

    Each component stands for an ellipsoid of diameters D = √12 σ along its two axes and its
    minor diameter along the beam. The Gaussian of the same volume and the same central
    thickness has σ = D / √12, so the outline's σ (FWHM = D, the MC's size for one lobe) is
    scaled by `SOLID_SIGMA` and the weight is the central thickness D_minor; a punctate MC of
    size d is then a sphere of diameter d: integrated thickness π d³ / 6, peak d.
    Returns the same layout as `build_components`.
    """
    comps, counts = build_components(morph, sizes, orientation_rad, draws)
    comps[..., 2:4] *= SOLID_SIGMA
    comps[..., 5] = np.sqrt(12.0) * comps[..., 3]
    comps[np.arange(comps.shape[1])[None, :] >= counts[:, None]] = 0.0
    return comps, counts


def peak_thickness(comps: np.ndarray) -> np.ndarray:
    """Peak projected thickness (mm) of each MC of `solid_components` output."""
    safe = comps.copy()
    unused = safe[..., 5] == 0
    safe[..., 2:4][unused] = 1.0
    return _peaks(safe)


def ellipsoid_chords(comps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Projected chord length (mm) through the ellipsoids of one MC's components at points
    (x, y) mm from its centre (overlapping lobes add their chords)."""
    t = np.zeros(np.broadcast(x, y).shape)
    for dx, dy, sa, sb, angle, depth in comps:
        if depth <= 0:
            continue
        c, s = np.cos(angle), -np.sin(angle)  # major axis (x, y), as in the renderer
        u, v = x - dx, y - dy
        along, across = u * c + v * s, -u * s + v * c
        a, b = np.sqrt(3.0) * sa, np.sqrt(3.0) * sb  # semi-axes D / 2
        r2 = (along / a) ** 2 + (across / b) ** 2
        t += depth * np.sqrt(np.clip(1.0 - r2, 0.0, None))
    return t
