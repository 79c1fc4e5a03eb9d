"""Paired sweeps: vary one property of the synthetic data and measure a predictor at each value.

Conditions are *paired* (common random numbers): every condition renders the scenes of the same
dataset seed, and a scene's header (kind, density, β) and its tissue and noise streams are drawn
before anything the swept value can change, so the same patch index shows the same tissue under
the same noise in every condition; only the swept property differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._metrics import compute_metrics
from ._predictor import Predictor
from ._scoring import Request, Scored, Scorer

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


ON_BACKGROUNDS_UNUSED = ("beta", "density", "beta_range", "density_range", "lumpy_strength",
                         "breast_thickness_range_mm", "texture", "dose", "electronic_noise",
                         "bit_depth")
"""Parameters with no effect on patches inserted into the user's backgrounds (their tissue,
noise and quantisation are the images' own), so a sweep of one of them is refused there (a
change of the tissue's draws would only reshuffle the MCs of the same seed)."""


def check_background_sweep(parameter: str, backgrounds: Any) -> None:
    """Refuse (ValueError naming `parameter`) a sweep that cannot change inserted patches.

    Examples
    --------
    >>> from evalkit import check_background_sweep
    >>> check_background_sweep("mc_size", "my_negatives/")  # an MC property: fine
    >>> check_background_sweep("density", "my_negatives/")
    Traceback (most recent call last):
    ...
    ValueError: `parameter` 'density' has no effect on patches inserted into your ...
    """
    if backgrounds is not None and parameter in ON_BACKGROUNDS_UNUSED:
        raise ValueError(f"`parameter` {parameter!r} has no effect on patches inserted into "
                         "your backgrounds (their tissue and noise are the images' own); "
                         "sweep an MC property (mc_size, contrast, mc_count, distribution, "
                         "morphology, blur, …) instead.")


def make_batch(config: synth.SceneConfig, n: int, *, resolution_um: int, seed: int,
               backgrounds: synth.Backgrounds | None = None) -> synth.Batch:
    """`n` patches of `config`: synthetic (`synth.generate`) or inserted into `backgrounds`
    (`synth.insert`, patch i on the same background crop for every config: paired)."""
    if backgrounds is None:
        return synth.generate(config, n, resolution_um=resolution_um, seed=seed)
    return synth.insert(backgrounds, config, n, seed=seed)


def check_backgrounds(backgrounds: Any, resolution_um: int) -> None:
    """Refuse backgrounds that are not `synth.Backgrounds` at `resolution_um`."""
    if backgrounds is None:
        return
    if not isinstance(backgrounds, synth.Backgrounds):
        raise TypeError("`backgrounds` must be synth.Backgrounds (synth.load_backgrounds); got "
                        f"{type(backgrounds).__name__}.")
    if backgrounds.resolution_um != resolution_um:
        raise ValueError(f"`backgrounds` must be at the predictor's resolution "
                         f"({resolution_um} µm); got backgrounds at "
                         f"{backgrounds.resolution_um} µm (load them with "
                         f"resolution_um={resolution_um}).")


METRIC_COLUMNS = ["condition", "setting", "metric", "value", "ci_low", "ci_high", "n",
                  "dprime_k", "note"]
"""Columns of `SweepResult.metrics`: ``condition`` is the value's label, ``setting`` the value
itself (a number for numeric values, so charts get a numeric axis), ``dprime_k`` the median
over the condition's positive patches of the d′ of their k-th most detectable MC (a physical
axis that transfers across detectors and resolutions)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class SweepResult:
    """One paired sweep: the metrics at each condition and every prediction behind them.

    Attributes
    ----------
    parameter : str
        The property varied (one of `PARAMETERS`).
    metrics : DataFrame
        Tidy, one row per condition and metric, conditions in the order run: condition (the
        value as given for a string, its ``repr`` otherwise), setting (the value: a number
        where it is one), metric, value, ci_low, ci_high, n (patches), dprime_k (median d′ of
        the k-th most detectable MC of the positive patches), note (why a value is NaN).
    predictions : DataFrame
        One row per patch and condition: condition, index, label, probability.
    seed : int
        Dataset seed shared by all conditions (the pairing).
    resolution_um : int
        Pixel spacing of the patches, µm.
    n_bootstrap : int
        Resamples behind each interval.
    """

    parameter: str
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    seed: int
    resolution_um: int
    n_bootstrap: int

    @property
    def conditions(self) -> list[str]:
        """The condition labels in the order they were run."""
        return list(dict.fromkeys(self.metrics["condition"]))

    def to_frame(self) -> pd.DataFrame:
        """`metrics` with the parameter as a first column (a row of the report's sweeps.csv)."""
        columns = [c for c in METRIC_COLUMNS if c in self.metrics.columns]
        return self.metrics.assign(parameter=self.parameter)[["parameter", *columns]]

    def numeric_settings(self) -> list[float] | None:
        """The conditions' settings as numbers in the order run, or None when one is not a
        number (a name, a range) or the table has no settings."""
        if "setting" not in self.metrics.columns:
            return None
        first = self.metrics.drop_duplicates("condition")["setting"].tolist()
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in first):
            return [float(v) for v in first]
        return None


def condition_config(base: synth.SceneConfig, parameter: str, value: Any) -> synth.SceneConfig:
    """`base` with `parameter` set to `value` (ValueError naming the field when invalid).

    Examples
    --------
    >>> import synth
    >>> from evalkit import condition_config
    >>> condition_config(synth.SceneConfig(), "contrast", 0.4).contrast_range
    (0.4, 0.4)
    >>> condition_config(synth.SceneConfig(), "mc_count", (3, 6)).mc_count_range
    (3, 6)
    >>> condition_config(synth.SceneConfig(), "colour", 1)
    Traceback (most recent call last):
    ...
    ValueError: `parameter` must be one of [...]; got parameter='colour'.
    """
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
              n_bootstrap: int = 1000, progress: Callable[[int, int], None] | None = None,
              backgrounds: synth.Backgrounds | None = None, client: Any = None
              ) -> SweepResult:
    """Metrics of `predictor` at each value of `parameter`, on paired synthetic patches.

    Parameters
    ----------
    predictor : Predictor or callable
        From `as_predictor`, or a plain callable on float32 patches of shape (N, S, S, 1)
        returning (N,) probabilities (it needs `resolution_um`).
    base_config : synth.SceneConfig
    parameter : str
        One of `PARAMETERS`.
    values : sequence
        The conditions; every one is validated before any patch is made.
    n_per_condition : int
    seed : int
        Dataset seed shared by all conditions (the pairing); also seeds the bootstrap.
    resolution_um : int, optional
        Defaults to the predictor's.
    n_bootstrap : int
        Resamples for the confidence intervals (0 for none).
    progress : callable, optional
        Called with (conditions done, conditions in all).
    backgrounds : synth.Backgrounds, optional
        Insert the MCs into these (the model's own tissue, `synth.load_backgrounds` at its
        resolution) instead of synthetic tissue; patch i sits on the same crop in every
        condition. Tissue and detector-noise parameters are refused there.
    client : distributed.Client, optional
        Score on this Dask cluster (`synth.cluster.connect`): every condition's patches in
        chunks, all in flight together, the model loaded once per worker; the result equals
        a local run's. The predictor must come from a model file or be a picklable callable.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> import synth
    >>> from evalkit import run_sweep
    >>> sweep = run_sweep(lambda x: x.mean(axis=(1, 2, 3)), synth.SceneConfig(), "contrast",
    ...                   [0.1, 0.8], n_per_condition=8, seed=0, resolution_um=100,
    ...                   n_bootstrap=0)
    >>> sweep.parameter, sweep.seed, sweep.resolution_um, sweep.conditions
    ('contrast', 0, 100, ['0.1', '0.8'])
    >>> sweep.metrics.query("metric == 'tp'")[["condition", "n"]].to_dict("records")
    [{'condition': '0.1', 'n': 8}, {'condition': '0.8', 'n': 8}]
    >>> len(sweep.predictions), list(sweep.predictions.columns)
    (16, ['condition', 'index', 'label', 'probability'])
    """
    if not isinstance(base_config, synth.SceneConfig):
        raise TypeError("`base_config` must be a synth.SceneConfig.")
    if isinstance(values, (str, bytes)) or not len(values):
        raise ValueError(f"`values` must be a non-empty sequence; got values={values!r}.")
    res = resolution_um or getattr(predictor, "resolution_um", None)
    if res is None:
        raise ValueError("`resolution_um` is needed for a predictor without one.")
    check_backgrounds(backgrounds, int(res))
    check_background_sweep(parameter, backgrounds)
    configs = [condition_config(base_config, parameter, v) for v in values]
    scorer = Scorer(predictor, client=client, backgrounds=backgrounds, resolution_um=int(res))
    scored = scorer.score_all([Request(c, n_per_condition, int(res), seed) for c in configs],
                              progress=progress)
    frames, predictions = [], []
    for value, one in zip(values, scored, strict=True):
        metric_rows, prediction_rows = score_condition(value, one, one.prob,
                                                       n_bootstrap=n_bootstrap, seed=seed)
        frames.append(metric_rows)
        predictions.append(prediction_rows)
    return sweep_result(parameter, frames, predictions, seed=seed, resolution_um=int(res),
                        n_bootstrap=n_bootstrap)


def score_condition(value: Any, batch: synth.Batch | Scored, prob: np.ndarray, *,
                    n_bootstrap: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One condition's rows of `SweepResult.metrics` and `.predictions` from its patches and a
    model's probabilities on them."""
    metrics = compute_metrics(batch.labels, prob, n_bootstrap=n_bootstrap, seed=seed)
    positive = (batch.patches["label"] == 1).to_numpy()
    dprime = (float(np.median(batch.patches["dprime_k"].to_numpy()[positive]))
              if positive.any() else float("nan"))
    frame = metrics.to_frame().assign(condition=label(value), n=len(prob), dprime_k=dprime)
    frame["setting"] = pd.Series([value] * len(frame), index=frame.index, dtype=object)
    predictions = pd.DataFrame({"condition": label(value), "index": batch.patches["index"],
                                "label": batch.labels, "probability": prob})
    return frame, predictions


def sweep_result(parameter: str, frames: Sequence[pd.DataFrame],
                 predictions: Sequence[pd.DataFrame], *, seed: int, resolution_um: int,
                 n_bootstrap: int) -> SweepResult:
    """A `SweepResult` from the per-condition rows of `score_condition`."""
    return SweepResult(
        parameter=parameter, seed=seed, resolution_um=resolution_um, n_bootstrap=n_bootstrap,
        metrics=pd.concat(frames, ignore_index=True)[METRIC_COLUMNS],
        predictions=pd.concat(predictions, ignore_index=True))


def label(value: Any) -> str:
    """A condition's label: a string as it is, anything else as its ``repr``."""
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
