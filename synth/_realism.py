"""How realistic an anatomical mammogram is, in numbers a physicist checks.

`compute_realism` measures on a rendered `Mammogram` with anatomy:

- ``beta``: the exponent of the radially averaged power spectrum P(f) ∝ f^-β of the image
  in the fibroglandular region: square ROIs of `ROI_MM` (Hann-windowed, mean removed) fully
  inside the full-thickness breast, outside the pectoral muscle, where the glandular
  envelope is at least `ROI_MIN_ENVELOPE`, P(f) fitted on `BETA_BAND` cycles/mm (measured
  mammograms: β ≈ 2.5–3.5, Burgess 2001);
- ``histogram``: the breast area's grey-level histogram (32 bins on [0, 1], a density);
- ``glandular_fraction``: the volumetric glandular fraction of the breast (Σ T_in g /
  Σ T) and ``dense_area``: the share of its area where the glandular envelope reaches 0.3,
  both from the phantom and both without the pectoral muscle (BI-RADS density is the
  breast's), with ``muscle_area`` (the muscle's share of the breast's area) and the
  density category they belong to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._mammogram import Mammogram
from ._phantom_render import fibroglandular_fraction

ROI_MM = 12.8
ROI_MIN_ENVELOPE = 0.1
"""Least glandular envelope over a spectrum ROI (0.1: the fatty categories' gland is thin)."""
BETA_BAND = (0.2, 1.0)
"""cycles/mm: above the breast's outline scale, below where quantum noise takes over."""


def compute_realism(mammogram: Mammogram) -> dict[str, Any]:
    """Spectrum exponent, breast-area histogram and glandular fraction of `mammogram`.

    Parameters
    ----------
    mammogram : Mammogram
        Rendered with anatomy (``render_mammogram(..., anatomy=True)``).

    Returns
    -------
    dict
        ``beta`` (float, NaN when no ROI fits), ``n_rois``, ``histogram`` (bin edges, density),
        ``mean``, ``std`` (grey levels in the breast), ``glandular_fraction``, ``dense_area``,
        ``muscle_area``, ``density_category``, ``view``.

    Examples
    --------
    >>> import synth
    >>> m = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=2,
    ...                            size_mm=(120.0, 150.0), view="CC", density_category="c")
    >>> report = synth.compute_realism(m)
    >>> 2.5 <= report["beta"] <= 3.5, report["density_category"]
    (True, 'c')
    """
    ph = mammogram.scene.phantom
    if ph is None:
        raise ValueError("`mammogram` must have anatomy (render_mammogram(..., anatomy=True)); "
                         "got a first-wave mammogram.")
    px = mammogram.resolution_um / 1000.0
    fg = fibroglandular_fraction(ph, 1.0)
    beta, n_rois = _beta(mammogram.image, px, fg["gland"], fg["distance"], fg["tissue"],
                         ph.edge_mm)
    values = mammogram.image[mammogram.breast_mask]
    density, edges = np.histogram(values, bins=32, range=(0.0, 1.0), density=True)
    return {"beta": beta, "n_rois": n_rois, "histogram": (edges, density),
            "mean": float(values.mean()), "std": float(values.std()),
            "glandular_fraction": fg["volumetric"], "dense_area": fg["dense_area"],
            "muscle_area": fg["muscle_area"],
            "density_category": ph.density_category, "view": ph.view}


def _beta(image: np.ndarray, px: float, envelope: np.ndarray, distance: np.ndarray,
          tissue: np.ndarray, edge_mm: float) -> tuple[float, int]:
    n = int(round(ROI_MM / px))
    side = int(round(ROI_MM))  # ROI side on the 1 mm grid of the envelope
    spectra = []
    for r in range(0, envelope.shape[0] - side, side // 2):
        for c in range(0, envelope.shape[1] - side, side // 2):
            if (distance[r:r + side, c:c + side].min() < edge_mm
                    or not tissue[r:r + side, c:c + side].all()
                    or envelope[r:r + side, c:c + side].min() < ROI_MIN_ENVELOPE):
                continue
            roi = image[int(r / px * 1.0): int(r / px) + n, int(c / px): int(c / px) + n]
            if roi.shape != (n, n):
                continue
            roi = roi - roi.mean()
            window = np.hanning(n)[:, None] * np.hanning(n)[None, :]
            spectra.append(np.abs(np.fft.rfft2(roi * window)) ** 2)
    if not spectra:
        return float("nan"), 0
    power = np.mean(spectra, axis=0)
    fy = np.fft.fftfreq(n, d=px)[:, None]
    fx = np.fft.rfftfreq(n, d=px)[None, :]
    f = np.hypot(fy, fx)
    bins = np.geomspace(BETA_BAND[0], BETA_BAND[1], 13)
    which = np.digitize(f.ravel(), bins)
    mids, means = [], []
    for k in range(1, len(bins)):
        sel = which == k
        if sel.any():
            mids.append(np.sqrt(bins[k - 1] * bins[k]))
            means.append(power.ravel()[sel].mean())
    slope = np.polyfit(np.log(mids), np.log(means), 1)[0]
    return float(-slope), len(spectra)
