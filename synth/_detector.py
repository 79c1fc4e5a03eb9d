"""Detector noise and quantisation, applied to rendered images in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._config import Acquisition
from ._random import standard_normals

ATTENUATION = 2.0
"""The image value v stands for a transmitted fraction exp(-2 v) (log-domain image)."""


def blur_mm(acquisition: Acquisition | None) -> float:
    if acquisition is None or acquisition.blur_sigma_um is None:
        return 0.0
    return acquisition.blur_sigma_um / 1000.0


def apply_noise(images: np.ndarray, acquisitions: Sequence[Acquisition | None],
                seeds: Sequence[int], px_mm: float) -> None:
    """Quantum (Poisson, Gaussian limit) and electronic noise, in the log domain, in place.

    The value v maps to q = q0 exp(-2 v) quanta per pixel, q0 = dose × pixel area, so the noise
    of v is sqrt(q + e²) / (2 q) = sqrt(w (1 + e² w)) / 2 with w = 1/q: it grows where tissue is
    denser, as the dose falls and as pixels shrink (a 50 µm pixel collects a quarter of the
    quanta of a 100 µm one). One image at a time, so the work stays in cache.
    """
    work = np.empty(images.shape[1:], dtype=np.float32)
    for b, acq in enumerate(acquisitions):
        if acq is None or acq.dose is None:
            continue
        image = images[b]
        np.clip(image, 0.0, 1.0, out=work)
        work *= np.float32(ATTENUATION)
        np.exp(work, out=work)
        work *= np.float32(1.0 / (acq.dose * px_mm * px_mm))  # 1 / q
        e2 = np.float32((acq.electronic_noise or 0.0) ** 2)
        if e2 > 0:
            work *= e2 * work + 1
        np.sqrt(work, out=work)
        rng = np.random.Generator(np.random.SFC64(seeds[b]))
        work *= standard_normals(rng, image.size).reshape(image.shape)
        work *= np.float32(1.0 / ATTENUATION)
        image += work


def quantise(images: np.ndarray, acquisitions: Sequence[Acquisition | None]) -> None:
    """Round to the detector's bit depth, in place (images already in [0, 1])."""
    for b, acq in enumerate(acquisitions):
        if acq is not None and acq.bit_depth is not None:
            levels = np.float32(2**acq.bit_depth - 1)
            np.multiply(images[b], levels, out=images[b])
            np.rint(images[b], out=images[b])
            np.divide(images[b], levels, out=images[b])
