"""The attenuation model: line integrals of μ, then the detector chain in its physical order.

An image is first formed as A(x, y) = ∫ μ dz, dimensionless:

    A = T (μ_adipose + (μ_glandular - μ_adipose) g)  +  Σ_MC f (μ_mineral - μ_glandular) t

with T the compressed thickness (mm), g the glandular fraction along the ray (the scene's density
plus the 1/f^β texture, kept within [0, 1]), f the MC's fill fraction (`contrast`) and t its
projected thickness (mm). The MC term does not depend on the tissue behind it. Then:

1. transmitted fluence q = q_ref exp(A_ref - A), q_ref = dose × pixel area the fluence behind
   the scene's mean tissue A_ref (what an automatic exposure control sets), a heel-effect slope
   and a smooth scatter field (scatter-to-primary ratio) added;
2. quantum noise, Poisson in its Gaussian limit (variance q);
3. detector blur: the signal is blurred by the PSF (in the texture spectrum and the MC
   covariances); for an indirect (CsI) converter the quanta are blurred too, so the noise power
   spectrum follows MTF², while a direct (a-Se) converter leaves the noise white;
4. electronic noise (additive, quanta per pixel);
5. gain and quantisation by an ADC of `bit_depth` bits whose full scale is 1.5 × the fluence
   behind fat of the same thickness;
6. output *for processing* (linear in fluence: q / full scale) or *for presentation* (the
   observed log attenuation, windowed: (A_obs - μ_adipose T) / W with W fixed per energy, so
   an all-glandular 50 mm breast sits at 0.6 and MCs have room above).

Blur acts on A (the small-signal approximation of blurring the fluence; the MC peaks of this
model stay within a few per cent of the exact order, see docs/physics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from scipy.ndimage import correlate1d, gaussian_filter
from scipy.special import ndtr

from ._config import Acquisition
from ._materials import effective_energy_kev, linear_attenuation_per_mm
from ._random import CACHE_VALUES, Key, raw_normals_many

DEFAULT_BEAM = "W/Rh 29kV"
"""Beam of an ideal acquisition (`acquisition=None`)."""
WINDOW_REFERENCE_MM = 50.0
WINDOW_GLANDULAR_LEVEL = 0.6
"""Presentation window: all-glandular tissue of 50 mm maps to 0.6 above all-fat tissue."""
ADC_HEADROOM = 1.5
"""The ADC's full scale is this many times the fluence behind fat of the scene's thickness."""


def texture_std(density: Any) -> Any:
    """Standard deviation of the glandular fraction along a ray, for a mean fraction `density`
    (about the texture contrast of the relative model: 0.04 + 0.09 × density)."""
    return 0.04 + 0.09 * np.asarray(density, dtype=float)


def energy_kev(acquisition: Acquisition | None) -> float:
    """The effective beam energy of `acquisition` (its `energy_kev`, else its beam's)."""
    if acquisition is None:
        return float(effective_energy_kev(DEFAULT_BEAM))
    if acquisition.energy_kev is not None:
        return float(acquisition.energy_kev)
    return float(effective_energy_kev(acquisition.beam))


@cache
def mu_per_mm(material: str, energy: float) -> float:
    return float(linear_attenuation_per_mm(material, energy))


def tissue_mu(energy: float) -> tuple[float, float]:
    """(μ_adipose, μ_glandular - μ_adipose) in 1/mm at `energy`."""
    fat = mu_per_mm("adipose", energy)
    return fat, mu_per_mm("glandular", energy) - fat


def mc_delta_mu(material: str, energy: float) -> float:
    """What a solid MC of `material` adds per mm of thickness over the glandular tissue it
    displaces, 1/mm."""
    return mu_per_mm(material, energy) - mu_per_mm("glandular", energy)


def window_width(energy: float) -> float:
    """Width W of the presentation window (log-attenuation units) at `energy`."""
    return tissue_mu(energy)[1] * WINDOW_REFERENCE_MM / WINDOW_GLANDULAR_LEVEL


def psf_kernel(blur_px: float) -> np.ndarray:
    """The detector's Gaussian PSF integrated over each pixel, 1-D, summing to 1."""
    half = max(1, int(np.ceil(4.0 * blur_px + 0.5)))
    edges = np.arange(-half, half + 2) - 0.5
    k = np.diff(ndtr(edges / blur_px))
    return k / k.sum()


class Chain:
    """The detector chain of one acquisition, at one pixel size (see the module text)."""

    def __init__(self, acquisition: Acquisition | None, px_mm: float) -> None:
        self.acquisition = acquisition
        self.px_mm = px_mm
        self.energy = energy_kev(acquisition)
        self.mu_fat, self.mu_gf = tissue_mu(self.energy)
        self.window = window_width(self.energy)
        acq = acquisition
        self.dose = None if acq is None else acq.dose
        self.q_ref = 1.0 if self.dose is None else self.dose * px_mm * px_mm
        self.electronic = 0.0 if acq is None or acq.electronic_noise is None else (
            acq.electronic_noise)
        self.bits = None if acq is None else acq.bit_depth
        self.spr = 0.0 if acq is None or acq.scatter_to_primary is None else (
            acq.scatter_to_primary)
        self.heel = 0.0 if acq is None or acq.heel_gradient is None else acq.heel_gradient
        self.indirect = acq is not None and acq.detector == "indirect"
        blur = 0.0 if acq is None or acq.blur_sigma_um is None else acq.blur_sigma_um / 1000.0
        self.kernel = psf_kernel(blur / px_mm) if self.indirect and blur > 0 else None
        self.processing = acq is not None and acq.output == "processing"

    # -- fluence --------------------------------------------------------------------------
    def full_scale(self, thickness: float, a_ref: float) -> float:
        """The ADC's full scale in quanta per pixel for a scene whose thinnest tissue is
        `thickness` mm and whose mean tissue attenuation is `a_ref`."""
        fat = self.q_ref * np.exp(a_ref - self.mu_fat * thickness)
        return float(ADC_HEADROOM * fat * (1.0 + self.spr))

    def heel_factor(self, position_mm: np.ndarray) -> np.ndarray | None:
        """Fluence factor of the heel effect at `position_mm` along the anode–cathode axis
        (mm, any shape that broadcasts against the image), None when off."""
        if not self.heel:
            return None
        return np.maximum(np.float32(1.0) + np.float32(self.heel / 10.0)
                          * np.asarray(position_mm, dtype=np.float32), np.float32(0.05))

    def render(self, a: np.ndarray, a_ref: float, thickness: float, key: Key,
               *, heel_position_mm: np.ndarray | None = None,
               scatter_sigma_mm: float | None = None,
               thickness_map: np.ndarray | None = None) -> np.ndarray:
        """The output image (float32 in [0, 1]) from the line-integral image `a` (H, W).

        `heel_position_mm`: positions along the anode–cathode axis (broadcasting against
        `a`); `scatter_sigma_mm`: width of the Gaussian kernel the scatter field is the
        primary fluence smoothed by (None: the image's mean primary, right for a 1 cm patch);
        `thickness_map`: the tissue thickness at each pixel where it is not `thickness` (a
        whole breast): the presentation window then subtracts the fat of the local thickness
        (thickness equalisation, as presentation processing does at the periphery) and the
        ADC's range reaches the thinnest tissue. `a` is overwritten (float32 in, float32
        out).
        """
        fat_mm: Any = (np.full((1, 1, 1), thickness, dtype=np.float32) if thickness_map is None
                       else thickness_map)
        thinnest = thickness if thickness_map is None else float(
            max(np.min(thickness_map[thickness_map > 0], initial=thickness), 1e-3))
        return self._run(a[None], [a_ref], [thinnest], [key], fat_mm,
                         heel_position_mm, scatter_sigma_mm)[0]

    def render_many(self, a: np.ndarray, a_ref: np.ndarray, thickness: np.ndarray,
                    keys: Sequence[Key], *, heel_position_mm: np.ndarray | None = None
                    ) -> np.ndarray:
        """`render` of the patches `a` (B, H, W) with their own `a_ref`, `thickness` and noise
        `keys`, all at once; image b is the same bytes `render` gives it alone. `a` is
        overwritten."""
        fat_mm = np.asarray(thickness, dtype=np.float32)[:, None, None]
        step = max(1, CACHE_VALUES // a[0].size)  # a few images at a time, in the cache
        for k in range(0, len(a), step):
            part = slice(k, k + step)
            self._run(a[part], list(a_ref[part]), list(thickness[part]), list(keys[part]),
                      fat_mm[part], heel_position_mm, None)
        return a

    def _run(self, a: np.ndarray, a_ref: list[float], thinnest: list[float], keys: list[Key],
             fat_mm: Any, heel_position_mm: np.ndarray | None,
             scatter_sigma_mm: float | None) -> np.ndarray:
        """The chain on a stack `a` (B, H, W), in place; per-image scalars are lists (each
        computed as a Python float, so an image's bytes do not depend on its batch)."""
        def column(values: list[float]) -> np.ndarray:
            return np.array(values, dtype=np.float32)[:, None, None]

        if self.acquisition is None:
            a -= np.float32(self.mu_fat) * fat_mm
            a /= np.float32(self.window)
            return np.clip(a, 0.0, 1.0, out=a)
        full = [self.full_scale(t, r) for t, r in zip(thinnest, a_ref, strict=True)]
        # Work in output units u = g × quanta: ADC steps (g = levels / full scale), or quanta
        # (g = 1) without an ADC; the fluence is exp(a_ref - A) q_ref.
        levels = None if self.bits is None else float(2**int(self.bits) - 1)
        gain = [1.0 if levels is None else levels / f for f in full]
        # a_ref + log(q_ref g): the log of the fluence, in output units, behind A = 0
        log_ref = [r + np.log(self.q_ref * g) for r, g in zip(a_ref, gain, strict=True)]
        q = a
        np.subtract(column(log_ref), q, out=q)
        np.exp(q, out=q)
        heel = None if heel_position_mm is None else self.heel_factor(heel_position_mm)
        if heel is not None:
            q *= heel
        if self.spr:
            for b in range(len(q)):
                q[b] += np.float32(self.spr) * (
                    np.float32(q[b].mean()) if scatter_sigma_mm is None
                    else smooth(q[b], scatter_sigma_mm / self.px_mm))
        size = q[0].size
        if self.dose is not None:
            # variance in units u: g × u from the quanta, (g e)² from the electronics
            blurred = self.kernel is not None
            draws = 2 * size if blurred and self.electronic else size
            w = raw_normals_many(keys, draws, np.empty((len(q), draws), dtype=np.float32))
            quantum = w[:, :size].reshape(q.shape)
            g = column(gain)
            noise = np.multiply(q, g)
            if blurred:  # the scintillator blurs the quanta: NPS ∝ MTF²
                quantum = correlate1d(correlate1d(quantum, self.kernel, axis=1, mode="reflect"),
                                      self.kernel, axis=2, mode="reflect")
                np.sqrt(noise, out=noise)
                noise *= quantum
                if self.electronic:
                    electronic = w[:, size:].reshape(q.shape)
                    electronic *= g * np.float32(self.electronic)
                    noise += electronic
            else:
                # a direct converter: quantum and electronic noise are independent Gaussians
                # on the same pixel, so one normal of their summed variance draws both
                if self.electronic:
                    noise += column([(x * self.electronic) ** 2 for x in gain])
                np.sqrt(noise, out=noise)
                noise *= quantum
            q += noise
        if levels is not None:
            np.rint(q, out=q)
            np.clip(q, 1.0, np.float32(levels), out=q)
        if self.processing:
            q *= column([1.0 / (g * f) for g, f in zip(gain, full, strict=True)])
            return np.clip(q, 0.0, 1.0, out=q)
        if levels is None:
            np.maximum(q, column([f * 1e-6 for f in full]), out=q)
        np.log(q, out=q)  # log(u) = log(q / q_ref) + log(q_ref g); A_obs = a_ref - log(q/q_ref)
        q *= np.float32(-1.0 / self.window)
        offset = [v / self.window for v in log_ref]
        if np.ndim(fat_mm) == 3:  # one thickness per image: fold it into the offset
            q += column([o - self.mu_fat * float(t) / self.window
                         for o, t in zip(offset, np.ravel(fat_mm), strict=True)])
        else:
            q += column(offset)
            q -= np.float32(self.mu_fat / self.window) * fat_mm
        return np.clip(q, 0.0, 1.0, out=q)

    # -- noise power for d′ --------------------------------------------------------------
    def noise_variance(self, a_local: np.ndarray, a_ref: np.ndarray, full: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel variance of A from quanta (its white part before any blur) and from the
        electronics and the ADC, at MCs whose local tissue attenuation is `a_local`."""
        if self.dose is None:
            return np.zeros_like(a_local), np.zeros_like(a_local)
        q = self.q_ref * np.exp(a_ref - a_local) * (1.0 + self.spr)
        extra = self.electronic ** 2
        if self.bits is not None:
            extra = extra + (full / (2**int(self.bits) - 1)) ** 2 / 12.0
        return 1.0 / q, extra / q**2


def smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """`image` blurred by a wide Gaussian (σ in pixels), done on a coarser grid (fast)."""
    f = max(1, int(sigma_px // 8))
    h, w = image.shape
    hc, wc = -(-h // f), -(-w // f)
    pad = np.pad(image, ((0, hc * f - h), (0, wc * f - w)), mode="edge")
    coarse = pad.reshape(hc, f, wc, f).mean(axis=(1, 3))
    coarse = gaussian_filter(coarse, sigma_px / f, mode="nearest")
    return np.repeat(np.repeat(coarse, f, axis=0), f, axis=1)[:h, :w].astype(np.float32)


def dprime(profiles: Sequence[np.ndarray], scale: np.ndarray, quantum_var: np.ndarray,
           other_var: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """Prewhitening matched-filter SNR of each MC: d′² = Σ_f |S(f)|² / NPS(f).

    Parameters
    ----------
    profiles : sequence of 2-D arrays — each MC's signal on its box (blurred, per pixel)
    scale : ndarray — multiplies each profile (to log-attenuation units)
    quantum_var, other_var : ndarray — per-pixel variance of A from quanta and the rest
    kernel : 1-D PSF or None — present for an indirect converter (quantum NPS ∝ |H|²)

    White noise (a direct converter) gives d′² = Σ s² / σ²; an indirect one is done on each
    MC's zero-padded box in the frequency domain. Zero noise gives inf.
    """
    out = np.zeros(len(profiles))
    for i, prof in enumerate(profiles):
        total = quantum_var[i] + other_var[i]
        if total <= 0:
            out[i] = np.inf
            continue
        s = prof * scale[i]
        if kernel is None or quantum_var[i] <= 0:
            out[i] = np.sqrt(float((s * s).sum()) / total)
            continue
        rows, cols = s.shape
        p = 1 << int(np.ceil(np.log2(max(rows, cols) + len(kernel))))
        spec = np.abs(np.fft.rfft2(s, s=(p, p))) ** 2
        h1 = np.fft.fft(kernel, p)
        hy = np.abs(h1) ** 2
        hx = np.abs(np.fft.rfft(kernel, p)) ** 2
        nps = quantum_var[i] * hy[:, None] * hx[None, :] + other_var[i]
        weight = np.full(spec.shape[1], 2.0)
        weight[0] = 1.0
        if p % 2 == 0:
            weight[-1] = 1.0
        out[i] = np.sqrt(float((spec / nps * weight).sum()) / (p * p))
    return out
