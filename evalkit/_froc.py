"""Free-response ROC (FROC) of whole-mammogram scans against annotated cluster boxes.

Pure NumPy/pandas: the scans come in as tables (one row per scanned window, as in
``mcc_core.ScanResult.windows``), so evalkit never needs the model or mcc_core.

Rules
-----
- Windows ``image[y1:y2, x1:x2]`` and boxes ``image[Y1:Y2, X1:X2]`` are half-open pixel
  rectangles (the boxes of ``synth.write_mammograms`` and ``mcc_core.read_annotations``); they
  *overlap* when their intersection has positive area
  (``x1 < X2 and X1 < x2 and y1 < Y2 and Y1 < y2``; touching edges do not count).
- At threshold ``t`` a cluster is *found* when some window with probability >= ``t`` overlaps
  its box; a *false-positive window* is a window with probability >= ``t`` that overlaps no
  box. Windows with a NaN probability (background, not scored) are ignored.
- The curve sweeps every distinct score that can change it (each cluster's best overlapping
  window, each non-overlapping window): sensitivity = found clusters / all clusters against
  the mean number of false-positive windows per image.
- Sensitivity at a rate ``r`` is the highest sensitivity of a curve point with mean FP per
  image <= ``r``, with no interpolation between points (0 when no point qualifies: the
  operating point that flags nothing). Its threshold is the highest one reaching that
  sensitivity (the fewest false positives).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._detections import DetectionRule, detect_clusters, image_scores, lroc_curve

__all__ = ["FROCResult", "ScoredImage", "compute_detection_froc", "compute_froc"]

WINDOW_COLUMNS = ("x1", "y1", "x2", "y2", "probability")
BOX_COLUMNS = ("X1", "Y1", "X2", "Y2")
DEFAULT_FP_RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True, eq=False)
class ScoredImage:
    """One scanned mammogram with its annotated cluster boxes.

    Parameters
    ----------
    windows : pandas.DataFrame
        One row per scanned window with columns ``x1``, ``y1``, ``x2``, ``y2`` (pixels, ends
        exclusive) and ``probability`` (NaN for background windows, which are ignored), such
        as ``mcc_core.scan(...).windows``.
    boxes : pandas.DataFrame
        One row per annotated microcalcification cluster with columns ``X1``, ``Y1``, ``X2``,
        ``Y2`` (the box ``image[Y1:Y2, X1:X2]``, ``X1 < X2`` and ``Y1 < Y2``); empty for an
        image without clusters (the columns may then be missing).
    name : str, optional
        Label of the image (file name), for messages.

    Raises
    ------
    TypeError
        If ``windows`` or ``boxes`` is not a DataFrame.
    ValueError
        If a column is missing or not numeric, or a box is inverted or empty.
    """

    windows: pd.DataFrame
    boxes: pd.DataFrame
    name: str = ""

    def __post_init__(self) -> None:
        _check_table("windows", self.windows, WINDOW_COLUMNS, self.name)
        if not isinstance(self.boxes, pd.DataFrame) or len(self.boxes):
            _check_table("boxes", self.boxes, BOX_COLUMNS, self.name)
        bad = _inverted(self.boxes)
        if bad is not None:
            corners = self.boxes.loc[bad, list(BOX_COLUMNS)].tolist()
            raise ValueError(f"`boxes` must have X1 < X2 and Y1 < Y2; got boxes row {bad} of "
                             f"image {self.name!r}: (X1, Y1, X2, Y2)={tuple(corners)}.")


@dataclass(frozen=True, eq=False)
class FROCResult:
    """An FROC curve and the sensitivity at chosen false-positive rates.

    Attributes
    ----------
    curve : pandas.DataFrame
        ``threshold`` (descending), ``sensitivity`` and ``fp_per_image`` (mean false-positive
        windows per image) at every distinct score.
    table : pandas.DataFrame
        One row per requested rate: ``fp_per_image`` (the rate), ``sensitivity`` (highest
        reachable at or below it), ``threshold`` (NaN when no threshold qualifies) and
        ``achieved_fp_per_image`` (the mean FP per image at that threshold).
    n_images, n_clusters : int
        Images scanned and annotated clusters in them.
    cpm : float
        Competition performance metric: mean of ``table.sensitivity``.
    fp_rates : tuple of float
        The requested rates.
    """

    curve: pd.DataFrame
    table: pd.DataFrame
    n_images: int
    n_clusters: int
    cpm: float
    fp_rates: tuple[float, ...] = field(default=DEFAULT_FP_RATES)
    unit: str = "windows"
    rule: dict[str, Any] | None = None
    cpm_ci: tuple[float, float] = (math.nan, math.nan)
    lroc: pd.DataFrame | None = None
    n_detections: int | None = None
    windows: FROCResult | None = None
    """For a detection FROC: the window-level FROC of the same scans (a diagnostic)."""
    level: float = 0.95
    """Coverage of the bootstrap intervals."""

    def to_dict(self) -> dict[str, Any]:
        """Counts, CPM and the rate table, JSON-ready (the curves stay tables)."""
        out = {"unit": self.unit, "n_images": self.n_images, "n_clusters": self.n_clusters,
               "cpm": self.cpm, "fp_rates": list(self.fp_rates),
               "table": self.table.to_dict(orient="records")}
        if self.unit == "detections":
            out.update(rule=self.rule, cpm_ci=list(self.cpm_ci), n_detections=self.n_detections,
                       lroc_area=lroc_area(self.lroc),
                       windows=None if self.windows is None else self.windows.to_dict())
        return out


def lroc_area(lroc: pd.DataFrame | None) -> float | None:
    """Area under an LROC curve (trapezoids from (0, 0) to (1, its last height)), or None."""
    if lroc is None or lroc.empty:
        return None
    x = np.concatenate([[0.0], lroc["fpf"].to_numpy(), [1.0]])
    y = lroc["correct_localisation_fraction"].to_numpy()
    y = np.concatenate([[0.0], y, [y[-1]]])
    return float(np.trapezoid(y, x))


def compute_detection_froc(
    scans: Sequence[ScoredImage | tuple[pd.DataFrame, pd.DataFrame]],
    *,
    resolution_um: float,
    rule: DetectionRule | None = None,
    fp_rates: Sequence[float] = DEFAULT_FP_RATES,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> FROCResult:
    """FROC and LROC of cluster *detections* (`evalkit.detect_clusters`; the rules, hit
    criterion included, in `evalkit._detections`), with bootstrap intervals over images.

    Parameters
    ----------
    scans : as for `compute_froc`
    resolution_um : float — the windows' pixel spacing
    rule : DetectionRule, optional — default: NMS within 10 mm, centre within 5 mm of the
        cluster's
    fp_rates : mean false-positive *detections* per image of the table
    n_bootstrap : int — resamples of the images for the intervals (0: none)
    level : float
    seed : int — of the resampling

    Returns
    -------
    FROCResult
        ``unit="detections"``; ``table`` gains ``ci_low``/``ci_high`` of the sensitivity,
        ``cpm_ci`` the CPM's interval; ``lroc`` the LROC curve (None unless some images have
        clusters and some have none).

    Examples
    --------
    One image with a cluster found by a detection scoring 0.9 and a false positive at 0.6
    elsewhere, one cluster-free image with a detection at 0.7 (windows of 10 px, 100 µm):

    >>> import pandas as pd
    >>> from evalkit import compute_detection_froc
    >>> def win(cells):
    ...     return pd.DataFrame([(x, y, x + 10, y + 10, p) for x, y, p in cells],
    ...                         columns=["x1", "y1", "x2", "y2", "probability"])
    >>> box = pd.DataFrame({"X1": [0], "Y1": [0], "X2": [30], "Y2": [30]})
    >>> froc = compute_detection_froc(
    ...     [(win([(5, 5, 0.9), (300, 300, 0.6)]), box), (win([(100, 100, 0.7)]), box[:0])],
    ...     resolution_um=100, fp_rates=(0.5, 1.0), n_bootstrap=0)
    >>> froc.unit, froc.n_detections, froc.cpm
    ('detections', 3, 1.0)
    >>> print(froc.curve.to_string(index=False))
     threshold  sensitivity  fp_per_image
           0.9          1.0           0.0
           0.7          1.0           0.5
           0.6          1.0           1.0
    >>> froc.lroc["correct_localisation_fraction"].tolist(), froc.lroc["fpf"].tolist()
    ([1.0, 1.0], [0.0, 1.0])
    """
    images = _check_scans(scans)
    rates = _check_rates(fp_rates)
    rule = rule or DetectionRule()
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"`n_bootstrap` must be an integer >= 0; got "
                         f"n_bootstrap={n_bootstrap!r}.")
    if not 0 < level < 1:
        raise ValueError(f"`level` must lie in (0, 1); got level={level!r}.")
    per_image = []
    n_det = 0
    for image in images:
        found = detect_clusters(image.windows, resolution_um=resolution_um, rule=rule)
        n_det += len(found)
        per_image.append(image_scores(found, image.boxes, rule, resolution_um))
    clusters = [p[0] for p in per_image]
    false_pos = [p[1] for p in per_image]
    if sum(c.size for c in clusters) == 0:
        raise ValueError(f"`scans` must hold at least one annotated cluster; got {len(images)} "
                         "images without boxes.")
    curve, table = _froc_tables(clusters, false_pos, rates)
    cpm = float(table["sensitivity"].mean())
    cpm_ci = (math.nan, math.nan)
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        sens, cpms = [], []
        for _ in range(n_bootstrap):
            pick = rng.integers(0, len(images), len(images))
            if sum(clusters[i].size for i in pick) == 0:
                continue
            _, t = _froc_tables([clusters[i] for i in pick], [false_pos[i] for i in pick],
                                rates)
            sens.append(t["sensitivity"].to_numpy())
            cpms.append(t["sensitivity"].mean())
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        if sens:
            low, high = np.percentile(np.array(sens), q, axis=0)
            table.insert(2, "ci_low", low)
            table.insert(3, "ci_high", high)
            cpm_ci = tuple(float(v) for v in np.percentile(cpms, q))  # type: ignore[assignment]
    lroc = lroc_curve([p[2] for p in per_image], [p[3] for p in per_image],
                      [len(image.boxes) > 0 for image in images])
    return FROCResult(curve=curve, table=table, n_images=len(images),
                      n_clusters=int(sum(c.size for c in clusters)), cpm=cpm, fp_rates=rates,
                      unit="detections", rule=rule.to_dict(), cpm_ci=cpm_ci, lroc=lroc,
                      n_detections=n_det, windows=compute_froc(images, fp_rates=rates),
                      level=level)


def _froc_tables(clusters: Sequence[np.ndarray], false_pos: Sequence[np.ndarray],
                 rates: tuple[float, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = np.concatenate(clusters)
    curve = _curve(c, np.concatenate(false_pos), len(clusters))
    return curve, pd.DataFrame([_at_rate(curve, rate) for rate in rates])


def compute_froc(
    scans: Sequence[ScoredImage | tuple[pd.DataFrame, pd.DataFrame]],
    *,
    fp_rates: Sequence[float] = DEFAULT_FP_RATES,
) -> FROCResult:
    """Compute the FROC of whole-mammogram scans (rules in the module docstring).

    Parameters
    ----------
    scans : sequence of ScoredImage or (windows, boxes) pairs
        One entry per image; images without clusters add only false positives.
    fp_rates : sequence of float, optional
        Mean false-positive windows per image at which to report the sensitivity
        (default 0.25, 0.5, 1, 2, 4, 8).

    Returns
    -------
    froc : FROCResult

    Raises
    ------
    TypeError
        If an entry of ``scans`` is neither a ScoredImage nor a pair of DataFrames.
    ValueError
        If ``scans`` is empty or holds no annotated cluster, a table is malformed, a box is
        inverted, or ``fp_rates`` is empty or holds a value that is not a positive number.

    Examples
    --------
    Two scanned images: the first holds one cluster, found by a window scored 0.6, and a
    false-positive window scored 0.8; the second holds no cluster and one false positive at 0.7.

    >>> import pandas as pd
    >>> from evalkit import compute_froc
    >>> first = pd.DataFrame({"x1": [0, 40, 60], "y1": [0, 40, 60], "x2": [20, 60, 80],
    ...                       "y2": [20, 60, 80], "probability": [0.6, 0.8, float("nan")]})
    >>> boxes = pd.DataFrame({"X1": [10], "Y1": [10], "X2": [30], "Y2": [30]})
    >>> second = pd.DataFrame({"x1": [0], "y1": [0], "x2": [20], "y2": [20],
    ...                        "probability": [0.7]})
    >>> froc = compute_froc([(first, boxes), (second, boxes.iloc[:0])], fp_rates=(0.5, 1.0))
    >>> froc.n_images, froc.n_clusters, froc.cpm
    (2, 1, 0.5)
    >>> print(froc.curve.to_string(index=False))
     threshold  sensitivity  fp_per_image
           0.8          0.0           0.5
           0.7          0.0           1.0
           0.6          1.0           1.0
    >>> print(froc.table.to_string(index=False))
     fp_per_image  sensitivity  threshold  achieved_fp_per_image
              0.5          0.0        NaN                    0.0
              1.0          1.0        0.6                    1.0
    """
    images = _check_scans(scans)
    rates = _check_rates(fp_rates)
    cluster_parts, fp_parts = zip(*(_image_scores(image) for image in images), strict=True)
    clusters = np.concatenate(cluster_parts)
    false_pos = np.concatenate(fp_parts)
    if clusters.size == 0:
        raise ValueError(f"`scans` must hold at least one annotated cluster; got {len(images)} "
                         "images without boxes.")
    curve = _curve(clusters, false_pos, len(images))
    table = pd.DataFrame([_at_rate(curve, rate) for rate in rates])
    return FROCResult(curve=curve, table=table, n_images=len(images),
                      n_clusters=int(clusters.size), cpm=float(table["sensitivity"].mean()),
                      fp_rates=rates)


def _check_table(name: str, frame: object, columns: Sequence[str], image: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame; got {name} of type "
                        f"{type(frame).__name__} (image {image!r}).")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"`{name}` must have columns {list(columns)}; got {name} of image "
                         f"{image!r} without {missing}.")
    for column in columns:  # an empty table has object columns, which are fine
        if len(frame) and not pd.api.types.is_numeric_dtype(frame[column]):
            raise ValueError(f"`{name}` column {column!r} must be numeric; got dtype "
                             f"{frame[column].dtype} (image {image!r}).")


def _inverted(boxes: pd.DataFrame) -> Any:
    """Index label of the first box with X2 <= X1 or Y2 <= Y1 (or a NaN corner), else None."""
    if not len(boxes):
        return None
    ok = (boxes["X1"] < boxes["X2"]) & (boxes["Y1"] < boxes["Y2"])
    return None if bool(ok.all()) else ok.index[~ok.to_numpy()][0]


def _check_scans(scans: object) -> list[ScoredImage]:
    if isinstance(scans, (str, bytes, ScoredImage)) or not isinstance(scans, Sequence):
        raise TypeError("`scans` must be a sequence of ScoredImage; got scans of type "
                        f"{type(scans).__name__}.")
    if not scans:
        raise ValueError("`scans` must hold at least one image; got scans=[].")
    images = []
    for i, item in enumerate(scans):
        if isinstance(item, ScoredImage):
            images.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            images.append(ScoredImage(item[0], item[1], name=f"#{i}"))
        else:
            raise TypeError(f"`scans` must hold ScoredImage or (windows, boxes) pairs; got "
                            f"scans[{i}] of type {type(item).__name__}.")
    return images


def _check_rates(fp_rates: object) -> tuple[float, ...]:
    if isinstance(fp_rates, (str, bytes)) or not isinstance(fp_rates, Sequence) or not fp_rates:
        raise ValueError(f"`fp_rates` must be a non-empty sequence of positive numbers; got "
                         f"fp_rates={fp_rates!r}.")
    for rate in fp_rates:
        if (isinstance(rate, bool) or not isinstance(rate, int | float | np.number)
                or not math.isfinite(float(rate)) or float(rate) <= 0):
            raise ValueError(f"`fp_rates` must hold positive finite numbers; got "
                             f"fp_rates={tuple(fp_rates)!r}.")
    return tuple(float(rate) for rate in fp_rates)


def _image_scores(image: ScoredImage) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's best overlapping score (-inf if none) and the non-overlapping scores."""
    windows = image.windows[image.windows["probability"].notna()]
    prob = windows["probability"].to_numpy(np.float64)
    w = [windows[c].to_numpy(np.float64)[:, np.newaxis] for c in ("x1", "y1", "x2", "y2")]
    if not len(image.boxes):
        return np.zeros(0), prob
    b = [image.boxes[c].to_numpy(np.float64)[np.newaxis, :] for c in BOX_COLUMNS]
    overlap = (w[0] < b[2]) & (b[0] < w[2]) & (w[1] < b[3]) & (b[1] < w[3])
    best = np.where(overlap, prob[:, np.newaxis], -np.inf).max(axis=0, initial=-np.inf)
    return best, prob[~overlap.any(axis=1)]


def _curve(clusters: np.ndarray, false_pos: np.ndarray, n_images: int) -> pd.DataFrame:
    """Sensitivity and mean FP windows per image at every distinct score, descending."""
    found = np.sort(clusters[np.isfinite(clusters)])
    fps = np.sort(false_pos)
    thresholds = np.unique(np.concatenate([found, fps]))[::-1]
    n_found = found.size - np.searchsorted(found, thresholds, side="left")
    n_fp = fps.size - np.searchsorted(fps, thresholds, side="left")
    return pd.DataFrame({"threshold": thresholds, "sensitivity": n_found / clusters.size,
                         "fp_per_image": n_fp / n_images})


def _at_rate(curve: pd.DataFrame, rate: float) -> dict[str, float]:
    """The best sensitivity with mean FP per image <= ``rate`` (the highest threshold)."""
    ok = curve[curve["fp_per_image"] <= rate * (1 + 1e-12)]
    if ok.empty or float(ok["sensitivity"].max()) == 0.0:
        return {"fp_per_image": rate, "sensitivity": 0.0, "threshold": math.nan,
                "achieved_fp_per_image": 0.0}
    best = ok[ok["sensitivity"] == ok["sensitivity"].max()].iloc[0]
    return {"fp_per_image": rate, "sensitivity": float(best["sensitivity"]),
            "threshold": float(best["threshold"]),
            "achieved_fp_per_image": float(best["fp_per_image"])}
