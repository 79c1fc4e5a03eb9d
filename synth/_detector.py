"""Detector noise and quantisation, applied to rendered images in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._config import Acquisition
from ._random import Key, normals_from_key

ATTENUATION = 2.0
"""The image value v stands for a transmitted fraction exp(-2 v) (log-domain image)."""


def blur_mm(acquisition: Acquisition | None) -> float:
    if acquisition is None or acquisition.blur_sigma_um is None:
        return 0.0
    return acquisition.blur_sigma_um / 1000.0


def apply_noise(images: np.ndarray, acquisitions: Sequence[Acquisition | None],
                keys: Sequence[Key], px_mm: float) -> None:
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
        q0 = acq.dose * px_mm * px_mm
        np.multiply(image, np.float32(ATTENUATION), out=work)
        work -= np.float32(np.log(q0 * ATTENUATION**2))
        np.exp(work, out=work)  # 1 / (2² q)
        e2 = (acq.electronic_noise or 0.0) ** 2
        if e2 > 0:
            work *= np.float32(e2 * ATTENUATION**2) * work + np.float32(1.0)
        np.sqrt(work, out=work)  # the noise's standard deviation at each pixel
        work *= normals_from_key(keys[b], image.size).reshape(image.shape)
        image += work


def quantise(images: np.ndarray, acquisitions: Sequence[Acquisition | None]) -> None:
    """Round to the detector's bit depth, in place (images already in [0, 1])."""
    depths = np.array([-1 if a is None or a.bit_depth is None else a.bit_depth
                       for a in acquisitions])
    for depth in np.unique(depths[depths > 0]):
        rows = np.flatnonzero(depths == depth)
        part = images if len(rows) == len(images) else images[rows]
        levels = np.float32(2**int(depth) - 1)
        part *= levels
        np.rint(part, out=part)
        part /= levels
        if part is not images:
            images[rows] = part
