import numpy as np
import pytest

import synth
from evalkit import (
    BehaviourResult,
    as_predictor,
    at_resolution,
    behavioural_tests,
    cross_resolution,
    failure_thresholds,
)

BASE = synth.SceneConfig(acquisition=None)


def brightness(x):
    flat = x.reshape(len(x), -1)
    peak = np.sort(flat, axis=1)[:, -20:].mean(axis=1) - np.median(flat, axis=1)
    return np.clip(peak * 4.0, 0.0, 1.0)


def test_behavioural_tests_report_pass_fail_and_failing_cases():
    predictor = as_predictor(brightness, input_size=100)
    out = behavioural_tests(predictor, BASE, n=40, seed=1)
    assert isinstance(out, BehaviourResult)
    assert (out.seed, out.resolution_um, out.threshold, out.tolerance) == (1, 100, 0.5, 0.1)
    table = out.table
    assert {"minimum functionality", "invariance", "direction"} == set(table.kind)
    flips = table[table.test.str.startswith(("flip", "rotate"))]
    assert flips.passed.all() and (flips.failures == 0).all()  # a symmetric statistic
    assert out.failures.groupby("test").size().to_dict() == {
        t: f for t, f in zip(table.test, table.failures, strict=True) if f}
    assert out.passed == bool(table.passed.all()) and not table.attrs


def test_a_model_that_says_yes_fails_the_empty_tissue_test():
    always = as_predictor(lambda x: np.ones(len(x)), input_size=100)
    result = behavioural_tests(always, BASE, n=20, seed=0)
    out = result.table.set_index("test")
    assert not out.loc["empty tissue is passed", "passed"] and not result.passed
    assert out.loc["obvious clusters are found", "passed"]
    empty = result.failures[result.failures.test == "empty tissue is passed"]
    assert sorted(empty["index"]) == list(range(20))  # every empty patch is flagged


def test_failure_thresholds_bracket_the_detection():
    predictor = as_predictor(brightness, input_size=100)
    out = failure_thresholds(predictor, BASE, n=12, seed=3, steps=6)
    found = out[out.found_at_high]
    assert len(found) and ((found.threshold >= 0) & (found.threshold <= 1)).all()
    assert out[~out.found_at_high].threshold.isna().all()
    with pytest.raises(ValueError, match="parameter"):
        failure_thresholds(predictor, BASE, n=2, seed=0, parameter="count")


def test_cross_resolution_matrix_and_resampled_views():
    predictor = as_predictor(brightness, input_size=144)
    assert predictor.resolution_um == 70
    view = at_resolution(predictor, 50)
    assert view.input_size == 200 and view(np.zeros((2, 200, 200, 1))).shape == (2,)
    out = cross_resolution(predictor, BASE, n=30, seed=2, n_bootstrap=50)
    assert set(out.resolution_um) == {50, 70, 100}
    assert out[out.native].resolution_um.unique().tolist() == [70]
