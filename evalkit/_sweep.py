"""Paired sweeps: vary one property of the synthetic data and measure a predictor at each value.

Conditions are *paired* (common random numbers): every condition renders the scenes of the same
dataset seed, and a scene's header (kind, density, β) and its tissue and noise streams are drawn
before anything the swept value can change, so the same patch index shows the same tissue under
the same noise in every condition; only the swept property differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._metrics import compute_metrics
from ._predictor import Predictor

_RANGE = {
    "mc_size": "mc_size_range_mm", "contrast": "contrast_range", "mc_count": "mc_count_range",
    "beta": "beta_range", "density": "density_range", "cluster_extent": "cluster_extent_mm",
    "orientation": "orientation_range_deg",
}
_DETECTOR = {"dose": "dose", "blur": "blur_sigma_um", "electronic_noise": "electronic_noise",
             "bit_depth": "bit_depth"}
PARAMETERS: tuple[str, ...] = (
    *_RANGE, "distribution", "morphology", *_DETECTOR,
    *(f.name for f in dataclasses.fields(synth.SceneConfig)),
)
"""Names `run_sweep` accepts: short names (a scalar value v sets a range field to (v, v)) and
every `synth.SceneConfig` field."""


def condition_config(base: synth.SceneConfig, parameter: str, value: Any) -> synth.SceneConfig:
    """`base` with `parameter` set to `value` (ValueError naming the field when invalid)."""
    if parameter in _RANGE:
        field = _RANGE[parameter]
        pair = value if isinstance(value, (tuple, list)) else (value, value)
        if parameter == "mc_count":
            pair = tuple(int(v) for v in pair)
        return base.replace(**{field: tuple(pair)})
    if parameter == "morphology":
        return base.replace(morphology_weights={value: 1.0} if isinstance(value, str) else value)
    if parameter in _DETECTOR:
        acquisition = base.acquisition or synth.Acquisition(
            blur_sigma_um=None, dose=None, electronic_noise=None, bit_depth=None)
        return base.replace(acquisition=dataclasses.replace(
            acquisition, **{_DETECTOR[parameter]: value}))
    if parameter in {f.name for f in dataclasses.fields(synth.SceneConfig)}:
        return base.replace(**{parameter: value})
    raise ValueError(f"`parameter` must be one of {sorted(set(PARAMETERS))}; "
                     f"got parameter={parameter!r}.")


def run_sweep(predictor: Predictor | Callable[[np.ndarray], np.ndarray],
              base_config: synth.SceneConfig, parameter: str, values: Sequence[Any], *,
              n_per_condition: int, seed: int, resolution_um: int | None = None,
              n_bootstrap: int = 1000, progress: Callable[[int, int], None] | None = None
              ) -> pd.DataFrame:
    """Metrics of `predictor` at each value of `parameter`, on paired synthetic patches.

    Parameters
    ----------
    predictor : Predictor
        From `as_predictor` (a plain callable needs `resolution_um`).
    base_config : synth.SceneConfig
    parameter : str
        One of `PARAMETERS`.
    values : sequence
        The conditions; every one is validated before any patch is made.
    n_per_condition : int
    seed : int
        Dataset seed shared by all conditions (the pairing).
    resolution_um : int, optional
        Defaults to the predictor's.
    progress : callable, optional
        Called with (conditions done, conditions in all).

    Returns
    -------
    DataFrame
        Tidy: parameter, condition, metric, value, ci_low, ci_high, n, note. The per-patch
        probabilities are in ``.attrs["predictions"]`` (condition, index, label, probability).
    """
    if not isinstance(base_config, synth.SceneConfig):
        raise TypeError("`base_config` must be a synth.SceneConfig.")
    if isinstance(values, (str, bytes)) or not len(values):
        raise ValueError(f"`values` must be a non-empty sequence; got values={values!r}.")
    res = resolution_um or getattr(predictor, "resolution_um", None)
    if res is None:
        raise ValueError("`resolution_um` is needed for a predictor without one.")
    configs = [condition_config(base_config, parameter, v) for v in values]
    frames, predictions = [], []
    for k, (value, config) in enumerate(zip(values, configs, strict=True)):
        batch = synth.generate(config, n_per_condition, resolution_um=res, seed=seed)
        prob = np.asarray(predictor(batch.images[..., None]), dtype=np.float64)
        metrics = compute_metrics(batch.labels, prob, n_bootstrap=n_bootstrap, seed=seed)
        frame = metrics.to_frame()
        frame.insert(0, "condition", _label(value))
        frame.insert(0, "parameter", parameter)
        frame["n"] = len(prob)
        frames.append(frame)
        predictions.append(pd.DataFrame({
            "condition": _label(value), "index": batch.patches["index"],
            "label": batch.labels, "probability": prob}))
        if progress:
            progress(k + 1, len(values))
    out = pd.concat(frames, ignore_index=True)[
        ["parameter", "condition", "metric", "value", "ci_low", "ci_high", "n", "note"]]
    out.attrs["predictions"] = pd.concat(predictions, ignore_index=True)
    out.attrs["seed"] = seed
    out.attrs["resolution_um"] = res
    return out


def _label(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def parse_sweep_value(text: str) -> Any:
    """One sweep value typed as text (a command-line word, a dashboard field): an int if it
    reads as one, else a float, else the text itself (a distribution or morphology name).

    Examples
    --------
    >>> [parse_sweep_value(word) for word in ("3", "0.25", "1e-3", "linear")]
    [3, 0.25, 0.001, 'linear']
    """
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
