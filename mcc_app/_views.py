"""Pictures the pages show: patches with their MC mask overlaid, and sweep curves with bands."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SWEEP_METRICS: tuple[str, ...] = ("recall", "specificity", "roc_auc")
"""The metrics the sweep chart draws (as the HTML report does)."""


def overlay_mask(image: np.ndarray, mask: np.ndarray, *,
                 color: tuple[int, int, int] = (255, 40, 40), alpha: float = 0.6) -> np.ndarray:
    """A grey patch as RGB with the pixels of `mask` blended towards `color`.

    Parameters
    ----------
    image : ndarray of shape (H, W), float in [0, 1]
    mask : ndarray of shape (H, W), bool
    color : (int, int, int)
    alpha : float in [0, 1]
        Weight of `color` on masked pixels.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
    """
    grey = np.asarray(image, dtype=np.float32)
    where = np.asarray(mask, dtype=bool)
    if grey.ndim != 2 or where.shape != grey.shape:
        raise ValueError(f"`mask` must have the shape (H, W) of `image`; got image of shape "
                         f"{grey.shape} and mask of shape {where.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must lie within [0, 1]; got alpha={alpha!r}.")
    rgb = np.repeat(np.clip(grey, 0.0, 1.0)[..., None] * 255.0, 3, axis=-1)
    rgb[where] = (1.0 - alpha) * rgb[where] + alpha * np.asarray(color, dtype=np.float32)
    return np.rint(rgb).astype(np.uint8)


def sweep_chart(frame: pd.DataFrame, metrics: tuple[str, ...] = SWEEP_METRICS) -> Any:
    """An Altair chart of one sweep (`evalkit.run_sweep` output): a line per metric over the
    conditions, in the order they were run, with its confidence interval as a band."""
    import altair as alt

    frame = plain(frame)
    order = list(dict.fromkeys(frame["condition"]))
    data = frame[frame["metric"].isin(metrics)][["condition", "metric", "value", "ci_low",
                                                 "ci_high"]].astype(
        {"value": float, "ci_low": float, "ci_high": float})
    parameter = str(frame["parameter"].iloc[0]) if len(frame) else "condition"
    x = alt.X("condition:N", sort=order, title=parameter)
    colour = alt.Color("metric:N", title="metric")
    band = alt.Chart(data).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("ci_low:Q", scale=alt.Scale(domain=(0, 1)), title="value"),
        y2="ci_high:Q", color=colour)
    line = alt.Chart(data).mark_line(point=True).encode(
        x=x, y="value:Q", color=colour,
        tooltip=["metric", "condition", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f")])
    return (band + line).properties(title=f"Sweep: {parameter}", height=280)


def for_display(image: np.ndarray, max_side: int = 1600) -> np.ndarray:
    """`image` (grey float in [0, 1] or RGB uint8) shrunk with Pillow so that its longer side
    is at most `max_side` pixels, as uint8: a full-field mammogram is too big to send whole."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    if max(array.shape[:2]) <= max_side:
        return array
    picture = Image.fromarray(array)
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(picture)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` without its ``.attrs`` (evalkit keeps DataFrames there, which pandas
    cannot compare when it combines frames)."""
    out = frame.copy()
    out.attrs = {}
    return out


def cross_resolution_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """`evalkit.cross_resolution` rows as a metric × resolution table (the report's view)."""
    table = plain(frame).pivot(index="metric", columns="resolution_um", values="value")
    table.columns = [f"{c} µm" for c in table.columns]
    return table.reset_index()
