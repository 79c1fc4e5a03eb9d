"""Property-based tests of evalkit's metrics: identities that hold for any labels and scores."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from evalkit import compute_metrics, threshold_at_specificity

# Fast enough for the whole suite on 2 cores; no example database is written into the tree;
# a machine busy with other work must not turn slow data generation into a failure.
QUIET = [HealthCheck.too_slow]
PROPERTY = settings(max_examples=50, deadline=None, database=None, suppress_health_check=QUIET)

GRID = 1000
"""Scores on a grid of 1/1000 (with ties) or any float in [0, 1]."""

_ANY_SCORE = st.floats(0.0, 1.0, allow_nan=False)
_GRID_SCORE = st.integers(0, GRID).map(lambda k: k / GRID)
_FEW_SCORES = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])  # many ties, on the threshold too


@st.composite
def cases(draw, scores=None, min_size=1, both_classes=False):
    """(labels, scores): arrays of equal length, labels 0/1, scores in [0, 1]."""
    n = draw(st.integers(max(min_size, 2 if both_classes else 0), 80))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if both_classes:
        y[0], y[-1] = 0, 1
    score = scores if scores is not None else st.one_of(_ANY_SCORE, _GRID_SCORE, _FEW_SCORES)
    p = np.array(draw(st.lists(score, min_size=n, max_size=n)), dtype=float)
    return y, p


def _metrics(y, p, **kwargs):
    return compute_metrics(y, p, n_bootstrap=0, **kwargs)


def _counts(m):
    return tuple(m[k] for k in ("tn", "fp", "fn", "tp"))


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@PROPERTY
@given(cases(), st.floats(0.0, 1.0))
def test_confusion_counts_partition_the_cases(case, threshold):
    y, p = case
    m = _metrics(y, p, threshold=threshold)
    tn, fp, fn, tp = _counts(m)
    assert tn + fp + fn + tp == m.n == len(y)
    assert tp + fn == m.n_positive == y.sum()
    assert tp + fp == np.sum(p >= threshold)


@PROPERTY
@given(cases(), st.floats(0.0, 1.0))
def test_rates_are_the_identities_of_the_confusion_matrix(case, threshold):
    m = _metrics(*case, threshold=threshold)
    tn, fp, fn, tp = _counts(m)
    n = tn + fp + fn + tp
    assert m["accuracy"] == pytest.approx((tp + tn) / n)
    if tp + fn:
        assert m["recall"] + fn / (tp + fn) == pytest.approx(1.0)  # sensitivity + FNR = 1
    else:
        assert math.isnan(m["recall"]) and "recall" in m.reasons
    if tn + fp:
        assert m["specificity"] + fp / (tn + fp) == pytest.approx(1.0)  # specificity + FPR = 1
    else:
        assert math.isnan(m["specificity"]) and "specificity" in m.reasons
    assert _same(m["balanced_accuracy"], 0.5 * (m["recall"] + m["specificity"]))
    if tp:
        harmonic = 2 * m["precision"] * m["recall"] / (m["precision"] + m["recall"])
        assert m["f1"] == pytest.approx(harmonic)
    for name in ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "pr_auc"):
        assert math.isnan(m[name]) or 0.0 <= m[name] <= 1.0, name


@PROPERTY
@given(cases())
def test_metrics_agree_with_scikit_learn(case):
    y, p = case
    m = _metrics(y, p)
    pred = (p >= 0.5).astype(int)
    tn, fp, fn, tp = sk.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert _counts(m) == (tn, fp, fn, tp)
    assert m["brier"] == pytest.approx(sk.brier_score_loss(y, p, labels=[0, 1]))
    assert m["bce"] == pytest.approx(
        sk.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    if 0 < y.sum() < len(y):
        assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p))
        assert m["pr_auc"] == pytest.approx(sk.average_precision_score(y, p))
    else:
        assert math.isnan(m["roc_auc"]) and m.reasons["roc_auc"] == "needs both classes"


@PROPERTY
@given(cases(both_classes=True))
def test_auc_of_the_reversed_score_is_one_minus_the_auc(case):
    y, p = case
    assume(len(np.unique(1.0 - p)) == len(np.unique(p)))  # 1 - p may round distinct scores together
    auc = _metrics(y, p)["roc_auc"]
    assert _metrics(y, 1.0 - p)["roc_auc"] == pytest.approx(1.0 - auc)
    assert _metrics(1 - y, p)["roc_auc"] == pytest.approx(1.0 - auc)


@PROPERTY
@given(cases(scores=_GRID_SCORE, both_classes=True),
       st.sampled_from([np.sqrt, lambda q: q**3, lambda q: 0.2 + 0.5 * q,
                        lambda q: np.minimum(np.expm1(4 * q) / np.expm1(4), 1.0)]))
def test_auc_is_invariant_to_increasing_transforms_of_the_score(case, transform):
    y, p = case
    auc, pr = _metrics(y, p)["roc_auc"], _metrics(y, p)["pr_auc"]
    q = transform(p)
    assert len(np.unique(q)) == len(np.unique(p))  # strictly increasing on the grid
    again = _metrics(y, q)
    assert again["roc_auc"] == pytest.approx(auc) and again["pr_auc"] == pytest.approx(pr)


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_metrics_do_not_depend_on_the_order_of_the_cases(case, rnd):
    y, p = case
    order = list(range(len(y)))
    rnd.shuffle(order)
    a, b = _metrics(y, p), _metrics(y[order], p[order])
    for name, value in a.values.items():
        assert _same(b[name], value), name


@PROPERTY
@given(cases(min_size=2), st.integers(0, 2**31 - 1))
def test_bootstrap_intervals_are_ordered_and_seeded(case, seed):
    y, p = case
    a = compute_metrics(y, p, n_bootstrap=40, seed=seed)
    assert a.ci == compute_metrics(y, p, n_bootstrap=40, seed=seed).ci
    for name, (low, high) in a.ci.items():
        assert (math.isnan(low) and math.isnan(high)) or low <= high, name


@PROPERTY
@given(cases(both_classes=True), st.floats(0.0, 1.0))
def test_threshold_at_specificity_is_the_lowest_that_reaches_it(case, target):
    y, p = case
    negatives = p[y == 0]
    assume(len(negatives))
    t = threshold_at_specificity(y, p, target)
    assert np.mean(negatives < t) >= target - 1e-12
    below = negatives[negatives < t]
    if target > 0 and len(below):
        assert np.mean(negatives < below.max()) < target + 1e-12
