"""Tissue background: Gaussian random field with power spectrum 1/f^beta, f in cycles/mm.

The field of a scene is defined by complex Fourier coefficients on the lattice k / L (L the
patch side in mm). They are drawn in nested square *shells* (|k| ≤ 50, ≤ 72, ≤ 100) from one
stream, so the 100 µm patch uses exactly the lowest coefficients of the 50 µm one: the same
scene shows the same tissue at every resolution, band-limited by each grid's Nyquist frequency,
integrated over each pixel's aperture (sinc) and blurred by the detector's Gaussian MTF.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.fft

from ._config import patch_size_px
from ._random import CACHE_VALUES, Key, normals_from_key, raw_normals_many

_SHELL_HALF_SIZES = (50, 72, 100)
_REF_N, _REF_L_MM = 100, 10.0


def texture_level(density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean level and texture standard deviation of tissue with glandular fraction `density`."""
    return 0.25 + 0.35 * density, 0.015 + 0.03 * density


@cache
def _layout(n: int) -> tuple[tuple[slice, slice, int], ...]:
    """The shells' rectangles in an (n, n//2 + 1) rfft2 layout, in draw order, with the offset
    of each rectangle's values in the scene's stream of normal draws."""
    out = []
    inner, offset = 0, 0
    for outer in _SHELL_HALF_SIZES:
        if outer > n // 2:
            break
        for ky0, ky1, kx0, kx1 in (
            (inner, outer - 1, 0, outer),
            (-outer, -inner - 1, 0, outer),
            (0, inner - 1, inner + 1, outer),
            (-inner, -1, inner + 1, outer),
        ):
            if ky1 < ky0 or kx1 < kx0:
                continue
            r0 = ky0 if ky0 >= 0 else n + ky0
            out.append((slice(r0, r0 + ky1 - ky0 + 1), slice(kx0, kx1 + 1), offset))
            offset += 2 * (ky1 - ky0 + 1) * (kx1 - kx0 + 1)
        inner = outer
    return tuple(out)


def draw_coefficients(key: Key, out: np.ndarray) -> None:
    """Fill `out` (n, n//2 + 1), complex64, with unit complex normals, shell by shell.

    Each coefficient takes two consecutive draws (real, imaginary) of the scene's stream.
    """
    z = normals_from_key(key, out.size * 2)
    zc = z.view(np.complex64)
    for rows, cols, offset in _layout(out.shape[0]):
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        start = offset // 2
        out[rows, cols] = zc[start: start + shape[0] * shape[1]].reshape(shape)


@cache
def _grid(resolution_um: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log f (cycles/mm), f², and aperture × Hermitian weights on the rfft2 grid (float32)."""
    n = patch_size_px(resolution_um)
    side = n * resolution_um / 1000.0
    ky = scipy.fft.fftfreq(n, d=1.0 / n)[:, None]
    kx = np.arange(n // 2 + 1)[None, :]
    f2 = (ky**2 + kx**2) / side**2
    f2[0, 0] = 1.0
    logf = 0.5 * np.log(f2)
    f2[0, 0] = 0.0
    # Half-spectrum coefficients count twice in irfft2 except on the self-conjugate columns.
    hermitian = np.where((kx == 0) | (kx == n // 2), 1.0, np.sqrt(0.5))
    weight = np.sinc(ky / n) * np.sinc(kx / n) * hermitian
    weight[0, 0] = 0.0
    return logf.astype(np.float32), f2.astype(np.float32), weight.astype(np.float32)


@cache
def _norm_table() -> tuple[np.ndarray, np.ndarray]:
    """Variance of the unnormalised 1/f^beta field on the 100 µm band, tabulated over beta."""
    k = scipy.fft.fftfreq(_REF_N, d=1.0 / _REF_N)
    f2 = (k[:, None] ** 2 + k[None, :] ** 2) / _REF_L_MM**2
    f2[0, 0] = np.inf
    logf = 0.5 * np.log(f2).ravel()
    betas = np.linspace(1.0, 4.0, 3001)
    return betas, np.array([np.exp(-b * logf).sum() for b in betas])


def spectrum_amplitudes(beta: np.ndarray, std: np.ndarray, blur_mm: np.ndarray,
                        resolution_um: int) -> np.ndarray:
    """Per-coefficient amplitudes (B, n, n//2 + 1), float32, for B scenes.

    Each field gets standard deviation `std` on the 100 µm band (a finer grid adds the little
    power above 5 cycles/mm), then the pixel aperture and the detector's Gaussian MTF.
    """
    logf, f2, weight = _grid(resolution_um)
    table_beta, table_var = _norm_table()
    scale = std / np.sqrt(np.interp(beta, table_beta, table_var))
    amp = np.exp(np.float32(-0.5) * beta.astype(np.float32)[:, None, None] * logf)
    amp *= weight * scale.astype(np.float32)[:, None, None]
    for b in np.flatnonzero(blur_mm > 0):
        amp[b] *= np.exp(np.float32(-2.0 * np.pi**2 * blur_mm[b] ** 2) * f2)
    return amp


def lump_spectrum(centres_mm: np.ndarray, sigma_mm: float, amplitude: float,
                  resolution_um: int, blur_sigma_mm: float) -> np.ndarray:
    """Forward-normalised rfft2 of a sum of Gaussian blobs of peak `amplitude` (periodic tile)."""
    n = patch_size_px(resolution_um)
    px = resolution_um / 1000.0
    pos = centres_mm / px + 0.5 * (n - 1)  # pixel coordinates, 0 at the first pixel centre
    grid = np.zeros((n, n), dtype=np.float64)
    i0 = np.floor(pos).astype(int)
    frac = pos - i0
    for dy in (0, 1):
        for dx in (0, 1):
            w = (frac[:, 1] if dy else 1 - frac[:, 1]) * (frac[:, 0] if dx else 1 - frac[:, 0])
            np.add.at(grid, ((i0[:, 1] + dy) % n, (i0[:, 0] + dx) % n), w)
    spec = scipy.fft.rfft2(grid, norm="forward")
    f2 = _grid(resolution_um)[1]
    ky, kx = scipy.fft.fftfreq(n, d=1.0 / n)[:, None], np.arange(n // 2 + 1)[None, :]
    kernel = amplitude * 2 * np.pi * sigma_mm**2 / px**2
    transfer = np.exp(-2.0 * np.pi**2 * (sigma_mm**2 + blur_sigma_mm**2) * f2)
    spec *= kernel * transfer * np.sinc(ky / n) * np.sinc(kx / n)
    spec[0, 0] = 0.0
    return spec.astype(np.complex64)


def synthesize(spectra: np.ndarray, n: int) -> np.ndarray:
    """Real fields (B, n, n) float32 from forward-normalised half spectra (B, n, n//2 + 1)."""
    return scipy.fft.irfft2(spectra, s=(n, n), norm="forward").astype(np.float32, copy=False)


# --------------------------------------------------------------------------- non-periodic fields
# A real field whose frequencies sit on the lattice (k + 1/4) / L instead of k / L is not
# periodic in the patch: shifting by one patch side turns every component's phase by a quarter
# turn, so opposite edges are uncorrelated. It is the real part of a complex field on that
# lattice: one complex FFT per scene, the coefficients drawn in nested square shells as above.
OFFSET = 0.25


@cache
def _centred_blocks(n: int) -> tuple[tuple[int, int, int, int, int, int], ...]:
    """The draw order of the offset-lattice coefficients — nested squares of half side 50, 72,
    100 (the coarser grids' coefficients first), each shell row-major — as block copies into
    the *centred* (n, n) layout (index k + n/2 for k in [-n/2, n/2)): (row0, rows, col0,
    cols, left/right width or 0, offset in the stream of complex draws). Each shell is the
    rows above the inner square, the rows beside it (a left and a right part per row), and
    the rows below, row-major."""
    out = []
    half = n // 2
    inner, offset = 0, 0
    for outer in _SHELL_HALF_SIZES:
        if outer > half:
            break
        side = 2 * outer
        lo = half - outer  # first centred index of the shell's square
        if inner == 0:
            out.append((lo, side, lo, side, 0, offset))
            offset += side * side
        else:
            ring = outer - inner
            out.append((lo, ring, lo, side, 0, offset))  # rows above
            offset += ring * side
            out.append((half - inner, 2 * inner, lo, side, ring, offset))  # beside
            offset += 2 * inner * 2 * ring
            out.append((half + inner, ring, lo, side, 0, offset))  # rows below
            offset += ring * side
        inner = outer
    return tuple(out)


def _place_centred(z: np.ndarray, out: np.ndarray) -> None:
    """Put the complex draws `z` (B, n²) into `out` (B, n, n), centred layout, shell by shell."""
    b = len(z)
    for r0, rows, c0, cols, part, off in _centred_blocks(out.shape[1]):
        if not part:
            out[:, r0:r0 + rows, c0:c0 + cols] = z[:, off:off + rows * cols].reshape(b, rows, cols)
            continue
        side = z[:, off:off + rows * 2 * part].reshape(b, rows, 2 * part)
        out[:, r0:r0 + rows, c0:c0 + part] = side[:, :, :part]
        out[:, r0:r0 + rows, c0 + cols - part:c0 + cols] = side[:, :, part:]


@cache
def _centred_grid(resolution_um: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_offset_grid` in the centred layout: log f, f² and log of the pixel aperture, and the
    spatial factor exp(2πi OFFSET (row + col) / n) (-1)^(row + col) that undoes the centring
    (a shift by n/2) and moves the lattice by OFFSET (complex64)."""
    logf, f2, weight = (np.fft.fftshift(x) for x in _offset_grid(resolution_um))
    n = patch_size_px(resolution_um)
    sign = np.where(np.arange(n) % 2, -1.0, 1.0)
    factor = _modulation(n) * (sign[:, None] * sign[None, :]).astype(np.complex64)
    return logf, f2, np.log(weight).astype(np.float32), factor


@cache
def _offset_grid(resolution_um: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log f, f² (cycles/mm) and the pixel aperture on the offset (n, n) lattice (float32)."""
    n = patch_size_px(resolution_um)
    side = n * resolution_um / 1000.0
    k = scipy.fft.fftfreq(n, d=1.0 / n) + OFFSET
    ky, kx = k[:, None], k[None, :]
    f2 = (ky**2 + kx**2) / side**2
    weight = np.sinc(ky / n) * np.sinc(kx / n)
    return (0.5 * np.log(f2)).astype(np.float32), f2.astype(np.float32), weight.astype(np.float32)


@cache
def _offset_norm_table() -> tuple[np.ndarray, np.ndarray]:
    """Log-variance of the unnormalised offset-lattice field on the 100 µm band, over beta
    (smooth and convex in beta: linear interpolation on this grid is within 1e-5)."""
    k = scipy.fft.fftfreq(_REF_N, d=1.0 / _REF_N) + OFFSET
    f2 = (k[:, None] ** 2 + k[None, :] ** 2) / _REF_L_MM**2
    logf = 0.5 * np.log(f2).ravel()
    betas = np.linspace(1.0, 4.0, 601)
    return betas, np.log(np.exp(-np.outer(betas, logf)).sum(axis=1))


@cache
def _modulation(n: int) -> np.ndarray:
    """exp(2πi OFFSET (row + col) / n): moves the FFT lattice by OFFSET in both directions."""
    j = np.arange(n)
    phase = np.exp(2j * np.pi * OFFSET * j / n)
    return (phase[:, None] * phase[None, :]).astype(np.complex64)


def unit_fields(keys: list[Key], beta: np.ndarray, blur_mm: np.ndarray, resolution_um: int,
                *, periodic: np.ndarray) -> np.ndarray:
    """Fields (B, n, n) float32 of unit standard deviation on the 100 µm band, blurred by the
    detector's MTF and integrated over the pixel aperture; periodic (the first-wave tile) or
    not, per scene."""
    n = patch_size_px(resolution_um)
    out = np.empty((len(keys), n, n), dtype=np.float32)
    ones = np.ones(len(keys))
    rows = np.flatnonzero(periodic)
    if len(rows):
        spectra = np.empty((len(rows), n, n // 2 + 1), dtype=np.complex64)
        for i, b in enumerate(rows):
            draw_coefficients(keys[b], spectra[i])
        spectra *= spectrum_amplitudes(beta[rows], ones[rows], blur_mm[rows], resolution_um)
        out[rows] = synthesize(spectra, n)
    rows = np.flatnonzero(~np.asarray(periodic, dtype=bool))
    if len(rows):
        step = max(1, CACHE_VALUES // (2 * n * n))  # a few fields at a time, in the cache
        for k in range(0, len(rows), step):
            part = rows[k:k + step]
            out[part] = _offset_fields([keys[b] for b in part], np.asarray(beta, float)[part],
                                       np.asarray(blur_mm, float)[part], resolution_um)
    return out


def _offset_fields(keys: list[Key], beta: np.ndarray, blur_mm: np.ndarray, resolution_um: int
                   ) -> np.ndarray:
    """The non-periodic unit fields of `keys` (see `unit_fields`), complex64 → float32."""
    n = patch_size_px(resolution_um)
    logf, f2, logw, factor = _centred_grid(resolution_um)
    table_beta, table_logvar = _offset_norm_table()
    draws = raw_normals_many(keys, 2 * n * n, np.empty((len(keys), 2 * n * n), np.float32))
    spectra = np.empty((len(keys), n, n), dtype=np.complex64)
    _place_centred(draws.view(np.complex64), spectra)
    del draws
    # amplitude f^(-β/2) × aperture × normalisation × MTF, as one exponent
    amp = logf * np.array(-0.5 * beta, dtype=np.float32)[:, None, None]
    amp += logw
    amp += np.array(-0.5 * np.interp(beta, table_beta, table_logvar),
                    dtype=np.float32)[:, None, None]
    for i in np.flatnonzero(blur_mm > 0):
        amp[i] += f2 * np.float32(-2.0 * np.pi**2 * blur_mm[i] ** 2)
    np.exp(amp, out=amp)
    spectra *= amp
    del amp
    fields = scipy.fft.ifft2(spectra, norm="forward", overwrite_x=True)
    fields *= factor
    return fields.real


def lump_field(centres_mm: np.ndarray, sigma_mm: float, amplitude: float, resolution_um: int,
               blur_sigma_mm: float) -> np.ndarray:
    """Sum of Gaussian blobs of peak `amplitude` (no wrap), blurred, sampled at pixel centres."""
    n = patch_size_px(resolution_um)
    px = resolution_um / 1000.0
    x = (np.arange(n) - 0.5 * (n - 1)) * px
    s2 = sigma_mm**2 + blur_sigma_mm**2
    peak = amplitude * sigma_mm**2 / s2
    gx = np.exp(-0.5 * (x[None, :] - centres_mm[:, 0, None]) ** 2 / s2)  # (K, n)
    gy = np.exp(-0.5 * (x[None, :] - centres_mm[:, 1, None]) ** 2 / s2)
    return (peak * gy.T @ gx).astype(np.float32)
