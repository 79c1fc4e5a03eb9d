"""Cluster detections from a scan's window scores, and the FROC and LROC of detections.

A CAD output for microcalcification clusters is a set of detected clusters, each with a
location and a score; counting windows instead (at a 1.5 mm stride one point lies in dozens of
windows) gives false-positive rates no published work can be compared with. Here:

Detections (`DetectionRule.method`)
-----------------------------------
- ``"nms"`` (default): non-maximum suppression. Windows are taken by descending probability;
  each one not yet suppressed becomes a detection, with its probability as the score, and
  suppresses every window whose centre lies within ``radius_mm`` of it. The detection lies at
  the probability-weighted centroid of the centres of the windows it suppressed that score at
  least half its score (a cluster raises every window that holds it, a plateau centred on the
  cluster, so the centroid finds the cluster where the best window's centre may lie up to
  half a window away). Its extent is the union of the windows it suppressed that score at
  least ``threshold``. Windows below ``min_score`` start no detection.
- ``"connected"``: windows scoring at least ``threshold`` that overlap (positive-area
  intersection) form connected regions; each region is one detection, scored by its best
  window, at the probability-weighted centroid of its windows' centres, with the union of its
  windows as its extent. Its FROC covers thresholds from ``threshold`` up.

Hits (`DetectionRule.hit`)
--------------------------
- ``"distance"`` (default): a detection hits a cluster when its centre lies within
  ``distance_mm`` (default 5 mm: half the papers' 1 cm window, about the precision with which
  a patch classifier can place what it sees) of the centre of the cluster's box.
- ``"inside"``: when its centre lies inside the cluster's box (``X1 <= x < X2``,
  ``Y1 <= y < Y2``, pixels); strict for the small boxes of a few MCs.

At threshold t a cluster is *found* when a detection scoring at least t hits it; a detection
scoring at least t that hits no cluster is a *false positive*; a second detection on a found
cluster is neither. FP per image is the mean over all images (those without clusters too).

LROC (needs images with and without clusters): an image's score is its best detection's; the
x axis is the fraction of cluster-free images scoring at least t, the y axis the fraction of
images with clusters whose best detection scores at least t *and* hits a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["DetectionRule", "detect_clusters"]

DETECTION_COLUMNS = ("x_px", "y_px", "x_mm", "y_mm", "score", "x1", "y1", "x2", "y2",
                     "n_windows")
METHODS = ("nms", "connected")
HITS = ("inside", "distance")


@dataclass(frozen=True)
class DetectionRule:
    """How window scores become detections, and when a detection hits a cluster.

    Parameters
    ----------
    method : {"nms", "connected"}
    radius_mm : float — suppression radius of ``"nms"`` (default 10 mm, the papers' window
        side: every window holding a cluster lies within about a window of the others, and
        a BI-RADS cluster lies within 1 cm²)
    threshold : float — windows below it are left out of a detection's extent (``"nms"``) or
        of the regions (``"connected"``)
    hit : {"inside", "distance"}
    distance_mm : float — the ``"distance"`` criterion's radius
    min_score : float — ``"nms"``: windows scoring below it start no detection
    """

    method: str = "nms"
    radius_mm: float = 10.0
    threshold: float = 0.5
    hit: str = "distance"
    distance_mm: float = 5.0
    min_score: float = 0.01

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"`method` must be one of {METHODS}; got method={self.method!r}.")
        if self.hit not in HITS:
            raise ValueError(f"`hit` must be one of {HITS}; got hit={self.hit!r}.")
        for name in ("radius_mm", "distance_mm"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"`{name}` must be a positive number of mm; got "
                                 f"{name}={value!r}.")
        for name in ("threshold", "min_score"):
            t = getattr(self, name)
            if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
                raise ValueError(f"`{name}` must be a probability in [0, 1]; got {name}={t!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One sentence for reports."""
        how = (f"non-maximum suppression within {self.radius_mm:g} mm (located at the "
               f"score-weighted centroid of the windows scoring at least half the peak)"
               if self.method == "nms"
               else f"connected regions of windows scoring >= {self.threshold:g}")
        hit = ("its centre inside the cluster's box" if self.hit == "inside"
               else f"its centre within {self.distance_mm:g} mm of the cluster's centre")
        return f"detections by {how}; a detection hits a cluster with {hit}"


def detect_clusters(windows: pd.DataFrame, *, resolution_um: float,
                    rule: DetectionRule | None = None) -> pd.DataFrame:
    """The cluster detections of one scanned image (rules in the module docstring).

    Parameters
    ----------
    windows : DataFrame — ``x1, y1, x2, y2`` (pixels, ends exclusive) and ``probability``
        (NaN for background windows, which are ignored), e.g. ``mcc_core.scan(...).windows``
    resolution_um : float — the windows' pixel spacing
    rule : DetectionRule, optional

    Returns
    -------
    DataFrame
        One row per detection, best first: ``x_px, y_px`` (centre, pixels), ``x_mm, y_mm``,
        ``score``, the extent ``x1, y1, x2, y2`` and ``n_windows`` (windows in the extent).

    Examples
    --------
    Two blobs of high scores on a grid of 10 px windows at a 5 px stride (100 µm pixels):

    >>> import numpy as np, pandas as pd
    >>> from evalkit import DetectionRule, detect_clusters
    >>> ys, xs = np.mgrid[0:200:5, 0:200:5]
    >>> cy, cx = ys + 5, xs + 5
    >>> p = (0.9 * np.exp(-((cx - 50) ** 2 + (cy - 50) ** 2) / 200)
    ...      + 0.7 * np.exp(-((cx - 150) ** 2 + (cy - 120) ** 2) / 200))
    >>> windows = pd.DataFrame({"x1": xs.ravel(), "y1": ys.ravel(), "x2": xs.ravel() + 10,
    ...                         "y2": ys.ravel() + 10, "probability": p.ravel()})
    >>> found = detect_clusters(windows, resolution_um=100, rule=DetectionRule(radius_mm=3))
    >>> found[["x_px", "y_px", "score"]].head(2).round(2).to_string(index=False).split("\\n")
    [' x_px  y_px  score', ' 50.0  50.0    0.9', '150.0 120.0    0.7']
    """
    rule = rule or DetectionRule()
    if (isinstance(resolution_um, bool) or not isinstance(resolution_um, int | float)
            or not math.isfinite(resolution_um) or resolution_um <= 0):
        raise ValueError(f"`resolution_um` must be a positive number; got "
                         f"resolution_um={resolution_um!r}.")
    for column in ("x1", "y1", "x2", "y2", "probability"):
        if column not in windows.columns:
            raise ValueError(f"`windows` must have column {column!r}.")
    scored = windows[windows["probability"].notna()]
    box = scored[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)
    prob = scored["probability"].to_numpy(np.float64)
    px_mm = resolution_um / 1000.0
    if rule.method == "nms":
        rows = _nms(box, prob, rule.radius_mm / px_mm, rule.threshold, rule.min_score)
    else:
        rows = _connected(box, prob, rule.threshold)
    out = pd.DataFrame(rows, columns=["x_px", "y_px", "score", "x1", "y1", "x2", "y2",
                                      "n_windows"])
    out.insert(2, "x_mm", out["x_px"] * px_mm)
    out.insert(3, "y_mm", out["y_px"] * px_mm)
    out = out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return out.astype({"n_windows": int})


def _centres(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return 0.5 * (box[:, 0] + box[:, 2]), 0.5 * (box[:, 1] + box[:, 3])


def _nms(box: np.ndarray, prob: np.ndarray, radius_px: float, threshold: float,
         min_score: float) -> list[tuple]:
    cx, cy = _centres(box)
    order = np.argsort(-prob, kind="stable")
    order = order[prob[order] >= min_score]
    alive = np.ones(len(prob), dtype=bool)
    rows = []
    r2 = radius_px * radius_px
    for i in order:
        if not alive[i]:
            continue
        near = alive & ((cx - cx[i]) ** 2 + (cy - cy[i]) ** 2 <= r2)
        alive &= ~near
        core = near & (prob >= 0.5 * prob[i])
        w = prob[core]
        if not w.sum() > 0:  # all-zero scores: the peak window's centre
            core = np.zeros_like(core)
            core[i] = True
            w = np.ones(1)
        part = near & (prob >= threshold)
        part[i] = True
        b = box[part]
        rows.append((float((cx[core] * w).sum() / w.sum()), float((cy[core] * w).sum() / w.sum()),
                     prob[i], b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max(),
                     int(part.sum())))
    return rows


def _connected(box: np.ndarray, prob: np.ndarray, threshold: float) -> list[tuple]:
    keep = prob >= threshold
    box, prob = box[keep], prob[keep]
    if not len(prob):
        return []
    x1, y1, x2, y2 = (box[:, k] for k in range(4))
    # overlapping pairs, by a sweep over x: windows sorted by x1 can only overlap the next ones
    # whose x1 is below their x2
    order = np.argsort(x1, kind="stable")
    sorted_x1 = x1[order]
    i_idx, j_idx = [], []
    for a, i in enumerate(order):
        end = int(np.searchsorted(sorted_x1, x2[i], side="left"))
        later = order[a + 1:max(end, a + 1)]
        hit = later[(y1[later] < y2[i]) & (y1[i] < y2[later]) & (x1[i] < x2[later])]
        i_idx.extend([i] * len(hit))
        j_idx.extend(hit.tolist())
    n = len(prob)
    graph = coo_matrix((np.ones(len(i_idx)), (i_idx, j_idx)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    cx, cy = _centres(box)
    rows = []
    for k in range(label.max() + 1):
        m = label == k
        w = prob[m]
        rows.append((float((cx[m] * w).sum() / w.sum()), float((cy[m] * w).sum() / w.sum()),
                     float(w.max()), x1[m].min(), y1[m].min(), x2[m].max(), y2[m].max(),
                     int(m.sum())))
    return rows


def hits(detections: pd.DataFrame, boxes: pd.DataFrame, rule: DetectionRule,
         resolution_um: float) -> np.ndarray:
    """(detections × clusters) bool: which detection hits which cluster."""
    if not len(detections) or not len(boxes):
        return np.zeros((len(detections), len(boxes)), dtype=bool)
    x = detections["x_px"].to_numpy(np.float64)[:, None]
    y = detections["y_px"].to_numpy(np.float64)[:, None]
    b = [boxes[c].to_numpy(np.float64)[None, :] for c in ("X1", "Y1", "X2", "Y2")]
    if rule.hit == "inside":
        return (b[0] <= x) & (x < b[2]) & (b[1] <= y) & (y < b[3])
    r = rule.distance_mm * 1000.0 / resolution_um
    return (x - 0.5 * (b[0] + b[2])) ** 2 + (y - 0.5 * (b[1] + b[3])) ** 2 <= r * r


def image_scores(detections: pd.DataFrame, boxes: pd.DataFrame, rule: DetectionRule,
                 resolution_um: float) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Each cluster's best hitting score (-inf if none), the scores of detections hitting no
    cluster, the image's best score (-inf without detections) and whether that best detection
    hits a cluster."""
    h = hits(detections, boxes, rule, resolution_um)
    score = detections["score"].to_numpy(np.float64)
    best = np.where(h, score[:, None], -np.inf).max(axis=0, initial=-np.inf)
    false_pos = score[~h.any(axis=1)] if len(boxes) else score
    top = float(score.max()) if len(score) else -math.inf
    top_hits = bool(len(score) and h[int(np.argmax(score))].any())
    return best, false_pos, top, top_hits


def lroc_curve(tops: Sequence[float], top_hits: Sequence[bool],
               has_cluster: Sequence[bool]) -> pd.DataFrame | None:
    """The LROC curve (threshold, fpf, correct_localisation_fraction), or None without both
    kinds of image."""
    top, ok, pos = (np.asarray(v) for v in (tops, top_hits, has_cluster))
    if pos.all() or not pos.any():
        return None
    neg_scores = np.sort(top[~pos])
    loc_scores = np.sort(top[pos & ok])
    thresholds = np.unique(np.concatenate([neg_scores, loc_scores]))[::-1]
    thresholds = thresholds[np.isfinite(thresholds)]
    fpf = (neg_scores.size - np.searchsorted(neg_scores, thresholds, "left")) / (~pos).sum()
    cl = (loc_scores.size - np.searchsorted(loc_scores, thresholds, "left")) / pos.sum()
    return pd.DataFrame({"threshold": thresholds, "fpf": fpf,
                         "correct_localisation_fraction": cl})
