"""Behavioural tests (CheckList style), failure thresholds and the cross-resolution matrix."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._metrics import compute_metrics
from ._predictor import Predictor
from ._scoring import TRANSFORMS, Request, Scorer
from ._sweep import condition_config

TEST_COLUMNS = ["test", "kind", "passed", "failures", "n", "failure_rate", "detail"]


@dataclass(frozen=True, kw_only=True, eq=False)
class BehaviourResult:
    """The behavioural tests of one model, with the cases that failed them.

    Attributes
    ----------
    table : DataFrame
        One row per test (`TEST_COLUMNS`): test, kind (minimum functionality, invariance or
        direction), passed, failures, n, failure_rate, detail.
    failures : DataFrame
        One row per failing case: test, index (of the patch in its dataset).
    threshold : float
        ŷ >= threshold is class 1.
    tolerance : float
        A test passes when its failure rate is at most this.
    seed : int
    resolution_um : int
    """

    table: pd.DataFrame
    failures: pd.DataFrame
    threshold: float
    tolerance: float
    seed: int
    resolution_um: int

    @property
    def passed(self) -> bool:
        """Whether every test passed."""
        return bool(self.table["passed"].all())


def _score(predictor: Callable, images: np.ndarray) -> np.ndarray:
    return np.asarray(predictor(images[..., None]), dtype=np.float64)


def behavioural_tests(predictor: Predictor, base_config: synth.SceneConfig, *, n: int,
                      seed: int, threshold: float = 0.5, tolerance: float = 0.1,
                      resolution_um: int | None = None, client: Any = None) -> BehaviourResult:
    """Minimum functionality, invariance and directional tests, each with pass/fail.

    A test passes when its failure rate is at most `tolerance`. Minimum functionality: obvious
    clusters (8–12 MCs of 0.3–0.6 mm, contrast 0.6–0.8, ideal detector) are found and empty
    tissue is passed. Invariance: flips, 90° rotations and small intensity-windowing changes do
    not change the decision. Direction: on paired scenes, the score does not fall (by more than
    0.05) as the MC count or the contrast rises. The result lists each test and each
    failing case. With `client` (a `distributed.Client`) every test's patches are scored on
    the cluster, all at once, with the same result.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> from evalkit import as_predictor, behavioural_tests
    >>> says_yes = as_predictor(lambda x: np.ones(len(x)), resolution_um=100)
    >>> result = behavioural_tests(says_yes, synth.SceneConfig(), n=4, seed=0)
    >>> result.passed
    False
    >>> int(result.table.set_index("test").loc["empty tissue is passed", "failures"])
    4
    >>> result.failures.test.unique().tolist()
    ['empty tissue is passed']
    """
    res = resolution_um or predictor.resolution_um
    rows: list[tuple[Any, ...]] = []
    failures: list[tuple[str, int]] = []

    def record(test: str, kind: str, bad: np.ndarray, detail: str, index: np.ndarray) -> None:
        rate = float(bad.mean()) if len(bad) else float("nan")
        rows.append((test, kind, bool(rate <= tolerance), int(bad.sum()), len(bad), rate, detail))
        failures.extend((test, int(i)) for i in index[bad])

    obvious = base_config.replace(positive_fraction=1.0, mc_count_range=(8, 12),
                                  mc_size_range_mm=(0.3, 0.6), contrast_range=(0.6, 0.8),
                                  acquisition=None)
    empty = base_config.replace(positive_fraction=0.0, hard_negative_fraction=0.0)
    directions = (("mc_count", (3, 6, 12)), ("contrast", (0.2, 0.4, 0.8)))
    requests = [Request(obvious, n, res, seed), Request(empty, n, res, seed),
                Request(base_config, n, res, seed),
                *(Request(base_config, n, res, seed, name) for name in TRANSFORMS),
                *(Request(condition_config(base_config.replace(positive_fraction=1.0),
                                           parameter, v), n, res, seed)
                  for parameter, values in directions for v in values)]
    scored = iter(Scorer(predictor, client=client).score_all(requests))
    found, passed, base = next(scored), next(scored), next(scored)
    record("obvious clusters are found", "minimum functionality", found.prob < threshold,
           "class 1 expected", found.patches["index"])
    record("empty tissue is passed", "minimum functionality", passed.prob >= threshold,
           "class 0 expected", passed.patches["index"])
    decision = base.prob >= threshold
    for name in TRANSFORMS:
        changed = np.asarray((next(scored).prob >= threshold) != decision)
        record(name, "invariance", changed, "decision unchanged expected", base.patches["index"])
    for parameter, values in directions:
        scores = np.stack([next(scored).prob for _ in values])
        falls = np.asarray((np.diff(scores, axis=0) < -0.05).any(axis=0))
        record(f"score rises with {parameter.replace('_', ' ')}", "direction", falls,
               f"values {values}", np.arange(n))
    return BehaviourResult(
        table=pd.DataFrame(rows, columns=TEST_COLUMNS),
        failures=pd.DataFrame(failures, columns=["test", "index"]), threshold=threshold,
        tolerance=tolerance, seed=seed, resolution_um=int(res))


def failure_thresholds(predictor: Predictor, base_config: synth.SceneConfig, *, n: int,
                       seed: int, parameter: str = "contrast", low: float = 0.0,
                       high: float = 1.0, steps: int = 8, threshold: float = 0.5,
                       resolution_um: int | None = None) -> pd.DataFrame:
    """Per positive scene, the smallest contrast (or size, mm) at which it is detected.

    Bisection between `low` and `high` on every MC of the scene at once (`steps` halvings);
    ``nan`` where the scene is missed even at `high`, `low` where it is found already there.
    Returns one row per scene: index, threshold, found_at_high.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> from evalkit import as_predictor, failure_thresholds
    >>> says_yes = as_predictor(lambda x: np.ones(len(x)), resolution_um=100)
    >>> out = failure_thresholds(says_yes, synth.SceneConfig(), n=3, seed=0, steps=2)
    >>> out.threshold.tolist(), out.found_at_high.all()
    ([0.0, 0.0, 0.0], np.True_)
    """
    if parameter not in ("contrast", "size"):
        raise ValueError(f"`parameter` must be 'contrast' or 'size'; got parameter={parameter!r}.")
    if not (0 <= low < high) or (parameter == "contrast" and high > 1):
        raise ValueError(f"`low` and `high` must satisfy 0 <= low < high; got {low}, {high}.")
    res = resolution_um or predictor.resolution_um
    config = base_config.replace(positive_fraction=1.0)
    scenes = [synth.sample_scene(config, rng=np.random.default_rng([seed, i])) for i in range(n)]
    field = "contrast" if parameter == "contrast" else "size_mm"

    def detected(values: np.ndarray) -> np.ndarray:
        images = np.stack([synth.render(dataclasses.replace(s, calcifications=tuple(
            _with(mc, field, float(v)) for mc in s.calcifications)), res).image
            for s, v in zip(scenes, values, strict=True)])
        return _score(predictor, images) >= threshold

    lo, hi = np.full(n, float(low)), np.full(n, float(high))
    at_high, at_low = detected(hi), detected(lo)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        hit = detected(mid)
        hi, lo = np.where(hit, mid, hi), np.where(hit, lo, mid)
    value = np.where(at_low, low, np.where(at_high, hi, np.nan))
    return pd.DataFrame({"index": np.arange(n), "threshold": value, "found_at_high": at_high})


def _with(mc: synth.Calcification, field: str, value: float) -> synth.Calcification:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(mc, **changes)


def cross_resolution(predictor: Predictor, base_config: synth.SceneConfig, *, n: int,
                     seed: int, metrics: tuple[str, ...] = ("accuracy", "recall", "specificity",
                                                              "roc_auc"),
                     n_bootstrap: int = 500, client: Any = None) -> pd.DataFrame:
    """The same scenes rendered at 50, 70 and 100 µm, resampled to the model's input.

    Returns rows (resolution_um, metric, value, ci_low, ci_high, native) — the papers' research
    question on controlled data: how a model trained at one resolution fares at the others.
    With `client` the three resolutions are scored on that Dask cluster, with the same result.

    Examples
    --------
    >>> import synth
    >>> from evalkit import as_predictor, cross_resolution
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=70)
    >>> table = cross_resolution(predictor, synth.SceneConfig(), n=8, seed=0, n_bootstrap=0)
    >>> table.groupby("resolution_um").native.first().to_dict()
    {50: False, 70: True, 100: False}
    >>> sorted(table.metric.unique())
    ['accuracy', 'recall', 'roc_auc', 'specificity']
    """
    rows: list[tuple[Any, ...]] = []
    scorer = Scorer(predictor, client=client)
    for res in synth.RESOLUTIONS_UM:
        one = scorer.score(Request(base_config, n, res, seed), at_resolution(predictor, res))
        m = compute_metrics(one.labels, one.prob, n_bootstrap=n_bootstrap, seed=seed)
        for name in metrics:
            low, high = m.ci.get(name, (np.nan, np.nan))
            rows.append((res, name, m[name], low, high, res == predictor.resolution_um))
    return pd.DataFrame(rows, columns=["resolution_um", "metric", "value", "ci_low", "ci_high",
                                       "native"])


def at_resolution(predictor: Predictor, resolution_um: int) -> Predictor:
    """The same model taking patches of another resolution, resampled to its input size.

    Examples
    --------
    >>> import numpy as np
    >>> from evalkit import as_predictor, at_resolution
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=70)
    >>> view = at_resolution(predictor, 50)
    >>> view.input_size, view.model_input_size
    (200, 144)
    >>> view(np.full((2, 200, 200, 1), 0.25)).tolist()
    [0.25, 0.25]
    """
    synth.check_resolution(resolution_um)
    return predictor.at(resolution_um)
