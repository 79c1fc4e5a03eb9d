"""Pictures the pages show: patches with their MC mask overlaid, and sweep curves with bands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import evalkit

METRIC_NAMES: dict[str, str] = {
    "accuracy": "Accuracy", "recall": "Sensitivity", "specificity": "Specificity",
    "roc_auc": "ROC AUC", "balanced_accuracy": "Balanced accuracy", "precision": "Precision",
    "f1": "F1", "pr_auc": "PR AUC"}
"""The rates a sweep chart can draw, by the names the Probe page's tiles use."""
METRIC_COLOURS: dict[str, str] = dict(zip(METRIC_NAMES, (
    "#4c78a8", "#e45756", "#54a24b", "#f58518", "#b279a2", "#72b7b2", "#9d755d", "#eeca3b"),
    strict=True))
"""One colour per metric, the same on every chart."""
SWEEP_METRICS: tuple[str, ...] = ("recall", "specificity", "roc_auc")
"""The metrics a sweep chart draws unless asked for others (accuracy is one choice more)."""


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

    Examples
    --------
    >>> import numpy as np
    >>> from mcc_app import overlay_mask
    >>> mask = np.array([[True, False], [False, False]])
    >>> rgb = overlay_mask(np.full((2, 2), 0.5), mask, color=(255, 0, 0), alpha=1.0)
    >>> rgb.shape, rgb.dtype.name, rgb[0, 0].tolist(), rgb[1, 1].tolist()
    ((2, 2, 3), 'uint8', [255, 0, 0], [128, 128, 128])
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


def _colour(metrics: tuple[str, ...]) -> Any:
    import altair as alt

    names = [METRIC_NAMES[m] for m in metrics]
    return alt.Color("metric:N", title="metric", sort=names,
                     scale=alt.Scale(domain=names, range=[METRIC_COLOURS[m] for m in metrics]),
                     legend=alt.Legend(orient="bottom", symbolOpacity=1.0))


def _x_axis(parameter: str, numeric: bool, order: list[str]) -> Any:
    import altair as alt

    if numeric:  # numbers: a numeric axis, spaced by value
        return alt.X("setting:Q", title=parameter, scale=alt.Scale(zero=False))
    return alt.X("condition:N", sort=order, title=parameter)


def sweep_chart(sweep: evalkit.SweepResult, metrics: tuple[str, ...] = SWEEP_METRICS) -> Any:
    """An Altair chart of one sweep (`evalkit.run_sweep`): a line per metric (named as the
    tiles name it, one colour each, with a legend) over the conditions — on a numeric axis
    spaced by value when every setting is a number — with its confidence interval as a band.

    Examples
    --------
    >>> import pandas as pd
    >>> import evalkit
    >>> from mcc_app import sweep_chart
    >>> metrics = pd.DataFrame({"condition": ["0.1", "0.8"], "setting": [0.1, 0.8],
    ...                         "metric": "recall", "value": [0.4, 0.9], "ci_low": [0.3, 0.8],
    ...                         "ci_high": [0.5, 1.0], "n": 10, "note": ""})
    >>> sweep = evalkit.SweepResult(parameter="contrast", metrics=metrics,
    ...                             predictions=pd.DataFrame(), seed=0, resolution_um=70,
    ...                             n_bootstrap=100)
    >>> chart = sweep_chart(sweep, ("accuracy", "recall"))
    >>> spec = chart.to_dict()
    >>> chart.title, len(chart.layer), spec["layer"][1]["encoding"]["x"]["type"]
    ('Sweep: contrast', 2, 'quantitative')
    >>> spec["layer"][1]["encoding"]["color"]["scale"]["domain"]
    ['Accuracy', 'Sensitivity']
    """
    import altair as alt

    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"`metrics` must be among {tuple(METRIC_NAMES)}; got {unknown}.")
    frame = sweep.metrics
    order = sweep.conditions
    data = frame[frame["metric"].isin(metrics)][["condition", "metric", "value", "ci_low",
                                                 "ci_high"]].astype(
        {"value": float, "ci_low": float, "ci_high": float})
    data["metric"] = data["metric"].map(METRIC_NAMES)
    numeric = sweep.numeric_settings()
    if numeric is not None:
        data["setting"] = data["condition"].map(dict(zip(order, numeric, strict=True)))
    x = _x_axis(sweep.parameter, numeric is not None, order)
    colour = _colour(metrics)
    band = alt.Chart(data).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("ci_low:Q", scale=alt.Scale(domain=(0, 1)), title="value"),
        y2="ci_high:Q", color=colour)
    line = alt.Chart(data).mark_line(point=True).encode(
        x=x, y="value:Q", color=colour,
        tooltip=["metric", "condition", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f")])
    return (band + line).properties(title=f"Sweep: {sweep.parameter}", height=280)


def comparison_chart(result: evalkit.ComparisonResult, parameter: str,
                     metrics: tuple[str, ...] = ("roc_auc", "recall")) -> Any:
    """An Altair chart of the models of a comparison (`evalkit.compare`) over one swept
    parameter: a line per model and metric, on one axis.

    Examples
    --------
    >>> import synth
    >>> import evalkit
    >>> from mcc_app import comparison_chart
    >>> def scorer(fn, name):
    ...     return evalkit.Predictor(fn, input_size=100, channels=1, resolution_um=100,
    ...                              name=name)
    >>> result = evalkit.compare([scorer(lambda x: x.max(axis=(1, 2, 3)), "max"),
    ...                           scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")],
    ...                          synth.SceneConfig(), n=20, seed=0, n_bootstrap=100,
    ...                          sweeps=[("contrast", [0.3, 0.9])])
    >>> comparison_chart(result, "contrast").title
    'contrast: max vs mean'
    """
    import altair as alt

    frames = []
    for r in result.results:
        sweep = next(s for s in r.sweeps if s.parameter == parameter)
        part = sweep.metrics[sweep.metrics["metric"].isin(metrics)][
            ["condition", "metric", "value"]].astype({"value": float})
        part["metric"] = part["metric"].map(METRIC_NAMES)
        numeric = sweep.numeric_settings()
        if numeric is not None:
            part["setting"] = part["condition"].map(dict(zip(sweep.conditions, numeric,
                                                             strict=True)))
        frames.append(part.assign(model=r.model["name"]))
    data = pd.concat(frames, ignore_index=True)
    order = list(dict.fromkeys(data["condition"]))
    x = _x_axis(parameter, "setting" in data, order)
    line = alt.Chart(data).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", scale=alt.Scale(domain=(0, 1))),
        color=alt.Color("model:N", legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("metric:N", legend=alt.Legend(orient="bottom")),
        tooltip=["model", "metric", "condition", alt.Tooltip("value:Q", format=".3f")])
    return line.properties(title=f"{parameter}: {' vs '.join(result.names)}", height=280)


def for_display(image: np.ndarray, max_side: int = 1600) -> np.ndarray:
    """`image` (grey float in [0, 1], grey uint16, or grey or RGB uint8) shrunk with Pillow so
    that its longer side is at most `max_side` pixels, as uint8: a full-field mammogram is too
    big to send whole.

    Examples
    --------
    >>> import numpy as np
    >>> from mcc_app import for_display
    >>> for_display(np.zeros((3000, 1500), np.float32), max_side=1000).shape
    (1000, 500)
    >>> for_display(np.full((1, 2), 1.0)).tolist()
    [[255, 255]]
    >>> for_display(np.array([[0, 65535]], np.uint16)).tolist()  # 16-bit: divided by 65535
    [[0, 255]]
    """
    from PIL import Image

    array = np.asarray(image)
    if array.dtype == np.uint16:
        array = array.astype(np.float32) / np.float32(65535.0)
    if array.dtype != np.uint8:
        array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    if max(array.shape[:2]) <= max_side:
        return array
    picture = Image.fromarray(array)
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(picture)


def cross_resolution_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """`evalkit.cross_resolution` rows as a metric × resolution table (the report's view).

    Examples
    --------
    >>> import pandas as pd
    >>> from mcc_app import cross_resolution_matrix
    >>> rows = pd.DataFrame({"resolution_um": [50, 70], "metric": "recall", "value": [0.8, 0.9]})
    >>> cross_resolution_matrix(rows).to_dict("records")
    [{'metric': 'recall', '50 µm': 0.8, '70 µm': 0.9}]
    """
    table = frame.pivot(index="metric", columns="resolution_um", values="value")
    table.columns = [f"{c} µm" for c in table.columns]
    return table.reset_index()


def model_caption(predictor: Any, *, bundled: bool = False) -> str:
    """What a person needs to know of a model: its file, resolution, input size and
    parameter count (from the `evalkit.Predictor`, not its repr).

    Examples
    --------
    >>> import evalkit
    >>> from mcc_app import model_caption
    >>> model = evalkit.Predictor(lambda x: x.max(axis=(1, 2, 3)), input_size=144, channels=1,
    ...                           resolution_um=70, name="mine.keras", n_params=8301)
    >>> model_caption(model)
    'mine.keras · 70 µm per pixel · input 144 × 144 × 1 · 8,301 parameters'
    """
    size = predictor.model_input_size
    params = ("parameters not known" if predictor.n_params is None
              else f"{predictor.n_params:,} parameters")
    origin = " · bundled with the toolkit" if bundled else ""
    return (f"{predictor.name} · {predictor.resolution_um} µm per pixel · input {size} × "
            f"{size} × {predictor.channels} · {params}{origin}")


def colour_bar(cmap: str = "inferno", *, label: str = "probability", low: float = 0.0,
               high: float = 1.0, width: int = 480, height: int = 14) -> np.ndarray:
    """A horizontal colour bar of Matplotlib map `cmap` from `low` to `high` (left to right),
    as RGB uint8, for a caption such as "probability 0 … 1" beside a heat map.

    Examples
    --------
    >>> from mcc_app import colour_bar
    >>> bar = colour_bar("inferno", width=256, height=4)
    >>> bar.shape, bar.dtype.name, bar[0, 0].tolist() != bar[0, -1].tolist()
    ((4, 256, 3), 'uint8', True)
    """
    from matplotlib import colormaps

    ramp = colormaps[cmap](np.linspace(0.0, 1.0, width))[:, :3]
    return np.repeat(np.rint(ramp * 255).astype(np.uint8)[None], height, axis=0)


def draw_boxes(rgb: np.ndarray, boxes: pd.DataFrame, *, color: tuple[int, int, int] = (0, 255, 255),
               width: int = 3) -> np.ndarray:
    """A copy of picture `rgb` with rectangle outlines at the ``X1, Y1, X2, Y2`` pixel boxes
    of `boxes` (half-open, as `mcc_core.read_annotations` and synthetic mammograms give them).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mcc_app import draw_boxes
    >>> out = draw_boxes(np.zeros((10, 10, 3), np.uint8),
    ...                  pd.DataFrame({"X1": [2], "Y1": [2], "X2": [8], "Y2": [8]}), width=1)
    >>> out[2, 2].tolist(), out[5, 5].tolist(), out[7, 7].tolist()
    ([0, 255, 255], [0, 0, 0], [0, 255, 255])
    """
    out = np.array(rgb, copy=True)
    height, width_px = out.shape[:2]
    for x1, y1, x2, y2 in boxes[["X1", "Y1", "X2", "Y2"]].to_numpy(int):
        x1, x2 = max(x1, 0), min(x2, width_px)
        y1, y2 = max(y1, 0), min(y2, height)
        if x2 <= x1 or y2 <= y1:
            continue
        out[y1:min(y1 + width, y2), x1:x2] = color
        out[max(y2 - width, y1):y2, x1:x2] = color
        out[y1:y2, x1:min(x1 + width, x2)] = color
        out[y1:y2, max(x2 - width, x1):x2] = color
    return out
