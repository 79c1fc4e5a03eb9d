"""Full-field tissue: the breast silhouette and a 1/f^beta texture over a whole mammogram.

The texture has the power spectral density of the patch generator (same amplitude per
cycle/mm², normalised on the same 100 µm band), so any 1 cm window of a mammogram has the
texture statistics of a synthetic patch of the same beta and density. Below 0.1 cycles/mm (a
patch's lowest frequency) the spectrum is held flat, so the breast shows bounded large-scale
density variations instead of an ever-growing 1/f^beta drift.

The field is periodic over a *texture period* P (mm, per axis): the smallest multiple of
0.7 mm at or above the image side whose pixel counts at 50, 70 and 100 µm (14, 10 and 7 × P /
0.7 mm) are 7-smooth, hence fast for the FFT. Its Fourier coefficients lie on the lattice k / P
for every resolution and are drawn in nested shells (the 100 µm grid, then what the 70 µm and
the 50 µm grids add) from one stream, so one scene shows the same tissue at every resolution,
band-limited by each grid's Nyquist frequency. The image is the top-left crop of that field,
sampled at pixel centres and integrated over each pixel's aperture.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.fft

from ._background import _norm_table
from ._random import Key, normals_from_key

_UNIT_UM = 700  # the texture period is a whole number of 0.7 mm: a whole number of pixels at all
_REF_L_MM = 10.0  # side of the patch whose lattice defines the patch generator's normalisation
F_LOW = 0.1  # cycles/mm: below this the spectrum is flat
SKIN_FLOOR = 0.15  # relative tissue level at the skin line (the breast edge stays above 0)


def _smooth7(m: int) -> bool:
    for p in (2, 3, 5, 7):
        while m % p == 0:
            m //= p
    return m == 1


def texture_units(side_mm: float) -> int:
    """The texture period along one side, in units of 0.7 mm (a 7-smooth integer)."""
    m = max(1, int(np.ceil(side_mm * 1000.0 / _UNIT_UM - 1e-9)))
    while not _smooth7(m):
        m += 1
    return m


def _grid(units: int, resolution_um: int) -> int:
    return units * _UNIT_UM // resolution_um


@cache
def _layout(units: tuple[int, int], resolution_um: int) -> tuple[tuple[slice, slice, int], ...]:
    """Rectangles of the (ny, nx//2 + 1) rfft2 layout in draw order, with stream offsets.

    Shell s holds the coefficients of the grid at the s-th coarsest resolution; each later
    shell adds a band below, a band above and a band to the right of the one before.
    """
    ny = _grid(units[0], resolution_um)
    out: list[tuple[slice, slice, int]] = []
    prev: tuple[int, int, int] | None = None
    offset = 0
    for res in (100, 70, 50):
        if res < resolution_um:
            break
        sy, sx = _grid(units[0], res), _grid(units[1], res)
        a, b, c = sy // 2, (sy - 1) // 2, sx // 2  # rows -a..b, columns 0..c
        if prev is None:
            rects = [(0, b, 0, c), (-a, -1, 0, c)]
        else:
            a0, b0, c0 = prev
            rects = [(b0 + 1, b, 0, c), (-a, -a0 - 1, 0, c), (0, b0, c0 + 1, c),
                     (-a0, -1, c0 + 1, c)]
        for ky0, ky1, kx0, kx1 in rects:
            if ky1 < ky0 or kx1 < kx0:
                continue
            r0 = ky0 if ky0 >= 0 else ny + ky0
            out.append((slice(r0, r0 + ky1 - ky0 + 1), slice(kx0, kx1 + 1), offset))
            offset += (ky1 - ky0 + 1) * (kx1 - kx0 + 1)
        prev = (a, b, c)
    return tuple(out)


def _coefficients(key: Key, units: tuple[int, int], resolution_um: int) -> np.ndarray:
    """Unit complex normals on the rfft2 layout of the texture grid, shell by shell."""
    ny, nx = _grid(units[0], resolution_um), _grid(units[1], resolution_um)
    out = np.empty((ny, nx // 2 + 1), dtype=np.complex64)
    z = normals_from_key(key, 2 * out.size).view(np.complex64)
    for rows, cols, offset in _layout(units, resolution_um):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        out[rows, cols] = z[offset: offset + shape[0] * shape[1]].reshape(shape)
    return out


def render_texture(key: Key, *, beta: float, std: float, blur_mm: float,
                   units: tuple[int, int], shape: tuple[int, int],
                   resolution_um: int) -> np.ndarray:
    """Zero-mean 1/f^beta tissue texture cropped to `shape` (H, W), float32.

    Parameters
    ----------
    key : the stream of the scene's Fourier coefficients
    beta, std : spectral exponent and texture standard deviation on the 100 µm band of a patch
    blur_mm : standard deviation of the detector's Gaussian PSF (0: none)
    units : texture period (rows, columns) in units of 0.7 mm (`texture_units`)
    shape : image shape in pixels, at most the texture grid
    resolution_um : pixel spacing
    """
    ny, nx = _grid(units[0], resolution_um), _grid(units[1], resolution_um)
    period_y, period_x = units[0] * _UNIT_UM / 1000.0, units[1] * _UNIT_UM / 1000.0
    ky = scipy.fft.fftfreq(ny, d=1.0 / ny).astype(np.float32)
    kx = np.arange(nx // 2 + 1, dtype=np.float32)
    f2 = (ky / np.float32(period_y))[:, None] ** 2 + (kx / np.float32(period_x))[None, :] ** 2
    table_beta, table_var = _norm_table()
    scale = std / np.sqrt(np.interp(beta, table_beta, table_var)) * _REF_L_MM / np.sqrt(
        period_y * period_x)
    log_amp = np.log(np.maximum(f2, np.float32(F_LOW**2)))
    log_amp *= np.float32(-0.25 * beta)
    if blur_mm > 0:
        log_amp -= np.float32(2.0 * np.pi**2 * blur_mm**2) * f2
    amp = np.exp(log_amp, out=log_amp)
    hermitian = np.where((kx == 0) | (kx == nx // 2), 1.0, np.sqrt(0.5))
    col = (np.sinc(kx / nx) * hermitian * scale).astype(np.float32)
    amp *= np.sinc(ky / ny).astype(np.float32)[:, None]
    amp *= col[None, :]
    amp[0, 0] = 0.0
    spectrum = _coefficients(key, units, resolution_um)
    spectrum *= amp
    # Sample the field at pixel centres: pixel j spans [j, j + 1) pixel spacings.
    spectrum *= np.exp(1j * np.pi * ky / ny).astype(np.complex64)[:, None]
    spectrum *= np.exp(1j * np.pi * kx / nx).astype(np.complex64)[None, :]
    rows = scipy.fft.ifft(spectrum, axis=0, norm="forward", workers=-1)[: shape[0]]
    field = scipy.fft.irfft(rows, n=nx, axis=1, norm="forward", workers=-1)
    return np.ascontiguousarray(field[:, : shape[1]], dtype=np.float32)


def skin_distance_mm(x_mm: np.ndarray, y_mm: np.ndarray, *, chest_x_mm: float,
                     centre_y_mm: float, semi_axes_mm: tuple[float, float]) -> np.ndarray:
    """Signed distance (mm, > 0 inside) to the skin line of a half-ellipse breast, first order.

    The breast is the ellipse of semi-axes (a along x, b along y) centred on the chest wall at
    (`chest_x_mm`, `centre_y_mm`); the distance is (1 - r) / |∇r| with r the ellipse radius.
    """
    a, b = semi_axes_mm
    u = (np.asarray(x_mm, dtype=np.float32) - np.float32(chest_x_mm)) / np.float32(a)
    v = (np.asarray(y_mm, dtype=np.float32) - np.float32(centre_y_mm)) / np.float32(b)
    r = np.sqrt(u * u + v * v)
    grad = np.sqrt((u / np.float32(a)) ** 2 + (v / np.float32(b)) ** 2)
    return (1.0 - r) * np.maximum(r, np.float32(1e-6)) / np.maximum(grad, np.float32(1e-9))


def breast_profile(distance_mm: np.ndarray, falloff_mm: float) -> np.ndarray:
    """Relative tissue level from the skin line inwards: `SKIN_FLOOR` at the skin, rising like
    the thickness of a rounded edge of radius `falloff_mm` to 1 inside; 0 outside the breast."""
    t = np.clip(distance_mm / np.float32(falloff_mm), 0.0, 1.0)
    out = np.sqrt(t * (2.0 - t), dtype=np.float32)
    out *= np.float32(1.0 - SKIN_FLOOR)
    out += np.float32(SKIN_FLOOR)
    out[distance_mm <= 0] = 0.0
    return out
