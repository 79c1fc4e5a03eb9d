"""Pixel-integrated 2-D Gaussians: the exact mass each pixel receives, not point samples.

For a Gaussian with covariance Σ, the mass over the pixel [x0, x1] × [y0, y1] is

    ∫ φ(y) [Φ((x1 - m(y)) / s) - Φ((x0 - m(y)) / s)] dy,   m(y) = μx + Σxy/Σyy (y - μy),

with s² = Σxx - Σxy²/Σyy. Substituting u = Φ((y - μy)/σy) makes the outer integral one over
[u0, u1] of a smooth function, done by Gauss–Legendre quadrature; the inner one is an erf
difference. Row masses u1 - u0 are exact, so every window holds exactly the Gaussian's mass
inside it, whatever the pixel size: a 0.1 mm MC at 100 µm keeps its integrated signal.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(2)
_T = 0.5 * (_NODES + 1.0)  # nodes on [0, 1]
_W = 0.5 * _WEIGHTS
_EPS = 1e-15


def render_gaussian_windows(
    mu_row: np.ndarray,
    mu_col: np.ndarray,
    cov: np.ndarray,
    amplitude: np.ndarray,
    origin: np.ndarray,
    size: int,
) -> np.ndarray:
    """Pixel-integrated Gaussians, each on its own square window.

    Parameters
    ----------
    mu_row, mu_col : ndarray of shape (M,)
        Centres in pixel coordinates (pixel i covers [i - 0.5, i + 0.5]).
    cov : ndarray of shape (M, 3)
        Covariances in px²: (Σyy, Σxy, Σxx).
    amplitude : ndarray of shape (M,)
        Total mass of each Gaussian.
    origin : ndarray of shape (M, 2), int
        Row and column of each window's top-left pixel.
    size : int
        Side of the windows in pixels.

    Returns
    -------
    ndarray of shape (M, size, size), float64
        Mass falling in each pixel of each window.
    """
    steps = np.arange(size + 1) - 0.5
    y_edges = origin[:, 0, None] + steps  # (M, K+1)
    x_edges = origin[:, 1, None] + steps
    syy, sxy, sxx = cov[:, 0, None], cov[:, 1, None], cov[:, 2, None]
    sy = np.sqrt(syy)
    u = ndtr((y_edges - mu_row[:, None]) / sy)  # (M, K+1)
    du = np.diff(u, axis=-1)  # (M, K)
    un = np.clip(u[:, :-1, None] + du[..., None] * _T, _EPS, 1.0 - _EPS)  # (M, K, J)
    dy = sy[..., None] * ndtri(un)  # y - μy at the nodes
    m = mu_col[:, None, None] + (sxy / syy)[..., None] * dy  # conditional mean of x, (M, K, J)
    s_cond = np.sqrt(np.maximum(sxx - sxy * sxy / syy, 1e-12))[..., None, None]
    cols = np.diff(ndtr((x_edges[:, None, None, :] - m[..., None]) / s_cond), axis=-1)
    rows = np.tensordot(cols, _W, axes=([2], [0]))  # (M, K, K): average over nodes
    rows *= (du * amplitude[:, None])[..., None]
    return rows
