"""MCC annotation boxes of an anatomical mammogram: what `mcc_core.extract_patches` labels
class 1 and what an FROC counts a mark inside as a hit.

A BI-RADS finding can span centimetres (linear, segmental, regional, diffuse), but the
label rule is the 1 cm patch's: class 1 iff at least `cluster_min_count` (k) MC centres lie
inside it. One box around a whole regional or diffuse finding would make every 1 cm window
inside it class 1, nearly all of them holding fewer than k MCs. So the boxes are groups:
each finding's MCs are split greedily into groups of at least k whose centres fit one 1 cm
window (the window holding the most still-ungrouped MCs first, until no window holds k of
them), and each group gets a box of at most 1 cm a side around its centres (the usual
margin of half the MC's size + `BOX_MARGIN_MM`, cut back to fit). Hence

- every class-1 window of a box (each contains the whole box) holds at least k MCs;
- every 1 cm window holding at least k MCs of a finding holds a grouped one, so overlaps a
  box: `extract_patches` never takes it as class 0.

The finding's whole extent stays in the findings table. Pixel (r, c) spans
[c, c + 1) × [r, r + 1) pixel spacings; an MC is inside a window when its centre's pixel is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def group_mcs(ix: np.ndarray, iy: np.ndarray, size: int, k: int) -> list[np.ndarray]:
    """Greedy groups (index arrays) of at least `k` points whose pixels (ix, iy) fit a
    `size`-pixel window; at the end no such window holds `k` ungrouped points."""
    free = np.ones(len(ix), dtype=bool)
    groups: list[np.ndarray] = []
    while free.sum() >= k:
        idx = np.flatnonzero(free)
        ax, ay = ix[idx], iy[idx]
        # every window worth trying starts at some point's column and some point's row
        in_x = (ax[None, :] >= ax[:, None]) & (ax[None, :] < ax[:, None] + size)
        in_y = (ay[None, :] >= ay[:, None]) & (ay[None, :] < ay[:, None] + size)
        counts = (in_x[:, None, :] & in_y[None, :, :]).sum(axis=-1)
        a, b = np.unravel_index(int(np.argmax(counts)), counts.shape)
        if counts[a, b] < k:
            break
        members = idx[in_x[a] & in_y[b]]
        groups.append(members)
        free[members] = False
    return groups


def _span(lo: int, hi: int, want_lo: int, want_hi: int, size: int, extent: int
          ) -> tuple[int, int]:
    """[lo, hi) widened towards [want_lo, want_hi) but to at most `size`, in [0, extent]."""
    extra = size - (hi - lo)
    left_want, right_want = max(lo - want_lo, 0), max(want_hi - hi, 0)
    left = min(left_want, extra - min(right_want, extra // 2))
    right = min(right_want, extra - left)
    return max(lo - left, 0), min(hi + right, extent)


def mcc_boxes(mcs: pd.DataFrame, distributions: tuple[str, ...], shape: tuple[int, int],
              px: float, size: int, k: int, margin_mm: float, columns: tuple[str, ...]
              ) -> pd.DataFrame:
    """The annotation boxes (`columns`: X1, Y1, X2, Y2, cluster, distribution,
    n_calcifications) of the MCs of `mcs` (columns cluster, x_mm, y_mm, size_mm) that
    belong to a cluster; `size`: the 1 cm window in pixels."""
    rows = []
    for cluster, distribution in enumerate(distributions):
        mine = mcs[mcs["cluster"] == cluster]
        x, y = mine["x_mm"].to_numpy() / px, mine["y_mm"].to_numpy() / px
        ix, iy = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        reach = (0.5 * mine["size_mm"].to_numpy() + margin_mm) / px
        for g in group_mcs(ix, iy, size, k):
            x1, x2 = _span(int(ix[g].min()), int(ix[g].max()) + 1,
                           int(np.floor((x[g] - reach[g]).min())),
                           int(np.ceil((x[g] + reach[g]).max())), size, shape[1])
            y1, y2 = _span(int(iy[g].min()), int(iy[g].max()) + 1,
                           int(np.floor((y[g] - reach[g]).min())),
                           int(np.ceil((y[g] + reach[g]).max())), size, shape[0])
            inside = int(((ix >= x1) & (ix < x2) & (iy >= y1) & (iy < y2)).sum())
            rows.append((x1, y1, x2, y2, cluster, distribution, inside))
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({"X1": np.int64, "Y1": np.int64, "X2": np.int64, "Y2": np.int64,
                         "cluster": np.int64, "n_calcifications": np.int64})
