import numpy as np
import pytest
from sklearn import metrics as sk

from evalkit import compute_metrics, sensitivity_at_specificity, threshold_at_specificity


def _random_case(rng, n, ties=False):
    y = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(int)
    p = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1)
    if ties:
        p = np.round(p, 1)
    return y, p


@pytest.mark.parametrize("ties", [False, True])
def test_metrics_equal_scikit_learn_on_random_cases(rng, ties):
    for _ in range(25):
        y, p = _random_case(rng, int(rng.integers(5, 300)), ties)
        m = compute_metrics(y, p, n_bootstrap=0)
        pred = (p >= 0.5).astype(int)
        tn, fp, fn, tp = sk.confusion_matrix(y, pred, labels=[0, 1]).ravel()
        assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
        assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
        assert m["precision"] == pytest.approx(sk.precision_score(y, pred, zero_division=np.nan))
        assert m["recall"] == pytest.approx(sk.recall_score(y, pred))
        assert m["f1"] == pytest.approx(sk.f1_score(y, pred))
        assert m["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
        assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p))
        assert m["pr_auc"] == pytest.approx(sk.average_precision_score(y, p))
        assert m["brier"] == pytest.approx(sk.brier_score_loss(y, p))
        assert m["bce"] == pytest.approx(sk.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))


def test_hand_computed_confusion_matrix():
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    p = [0.9, 0.5, 0.2, 0.1, 0.6, 0.49, 0.0, 0.7]
    m = compute_metrics(y, p, n_bootstrap=0)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (3, 1, 1, 3)
    assert m["accuracy"] == 0.75 and m["precision"] == 0.75 and m["recall"] == 0.75
    assert m["specificity"] == 0.75 and m["f1"] == 0.75


def test_the_papers_transfer_50_table():
    tn, fp, fn, tp = 2966, 51, 50, 2967
    y = np.r_[np.zeros(tn + fp), np.ones(fn + tp)]
    p = np.r_[np.zeros(tn), np.ones(fp), np.zeros(fn), np.ones(tp)]
    m = compute_metrics(y, p, n_bootstrap=0)
    assert m["accuracy"] == pytest.approx((tn + tp) / (tn + fp + fn + tp))
    assert m["precision"] == pytest.approx(tp / (tp + fp))
    assert m["specificity"] == pytest.approx(tn / (tn + fp))


def test_expected_calibration_error_by_hand():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.05, 0.95, 0.95, 0.45])
    # bins: [0,.1): 1 case, conf .05 acc 0; [.9,1]: 2 cases conf .95 acc 1; [.4,.5): conf .45 acc 1
    expected = (0.05 + 2 * 0.05 + 0.55) / 4
    assert compute_metrics(y, p, n_bootstrap=0)["ece"] == pytest.approx(expected)


def test_degenerate_cases_give_nan_with_a_reason():
    one_class = compute_metrics([1, 1, 1], [0.2, 0.8, 0.9], n_bootstrap=50)
    assert np.isnan(one_class["specificity"]) and np.isnan(one_class["roc_auc"])
    assert one_class.reasons["roc_auc"] == "needs both classes"
    assert one_class["recall"] == pytest.approx(2 / 3)
    flat = compute_metrics([0, 1, 0, 1], [0.3] * 4, n_bootstrap=50)
    assert flat["roc_auc"] == 0.5 and "equal" in flat.reasons["roc_auc"]
    assert np.isnan(flat["precision"]) and flat.reasons["precision"] == "no positive predictions"
    empty = compute_metrics([], [], n_bootstrap=10)
    assert np.isnan(empty["accuracy"]) and empty.reasons["accuracy"] == "no predictions"


def test_bootstrap_is_seeded_and_brackets_the_estimate(rng):
    y, p = _random_case(rng, 400)
    a = compute_metrics(y, p, n_bootstrap=300, seed=1)
    b = compute_metrics(y, p, n_bootstrap=300, seed=1)
    c = compute_metrics(y, p, n_bootstrap=300, seed=2)
    assert a.ci == b.ci and a.ci != c.ci
    for name, (low, high) in a.ci.items():
        assert low <= a[name] <= high, name
    frame = a.to_frame()
    assert {"metric", "value", "ci_low", "ci_high", "note"} == set(frame.columns)


def _hand_percentile_interval(y, p, statistic, n_resamples, rng):
    """The textbook percentile bootstrap: resample the pairs, take the 2.5th/97.5th percentiles."""
    replicates = []
    for _ in range(n_resamples):
        rows = rng.integers(0, len(y), len(y))
        replicates.append(statistic(y[rows], p[rows]))
    return np.percentile(replicates, [2.5, 97.5])


def _hand_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    return ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()


@pytest.mark.parametrize(("name", "statistic"), [
    ("accuracy", lambda y, p: np.mean((p >= 0.5) == y)),
    ("recall", lambda y, p: np.mean(p[y == 1] >= 0.5)),
    ("brier", lambda y, p: np.mean((p - y) ** 2)),
    ("roc_auc", _hand_auc),
])
def test_intervals_agree_with_a_hand_written_percentile_bootstrap(rng, name, statistic):
    y, p = _random_case(rng, 400)
    low, high = compute_metrics(y, p, n_bootstrap=2000, seed=3).ci[name]
    hand = _hand_percentile_interval(y, p, statistic, 2000, np.random.default_rng(11))
    # BCa (accuracy, recall, brier) moves the ends by a fraction of the width; Monte Carlo
    # noise with 2000 resamples is ~0.002
    assert (low, high) == pytest.approx(tuple(hand), abs=0.012)
    assert high - low > 0.02


def test_degenerate_intervals():
    y = np.r_[np.ones(30), np.zeros(30)]
    p = np.r_[np.full(30, 0.9), np.linspace(0.0, 0.6, 30)]  # every positive found
    m = compute_metrics(y, p, n_bootstrap=200, seed=0)
    assert m.ci["recall"] == (1.0, 1.0)  # every resample gives 1: no BCa, the point itself
    low, high = m.ci["precision"]
    assert 0.0 < low < m["precision"] < high <= 1.0
    one = compute_metrics([1], [0.7], n_bootstrap=50)
    assert all(np.isnan(v) for pair in one.ci.values() for v in pair)
    assert compute_metrics(y, p, n_bootstrap=0).ci == {}


def test_interval_coverage_is_close_to_95_percent():
    rng = np.random.default_rng(7)
    true_sensitivity, hits, runs = 0.8, 0, 300
    for r in range(runs):
        y = np.r_[np.ones(150), np.zeros(150)]
        detected = rng.random(150) < true_sensitivity
        p = np.r_[np.where(detected, 0.9, 0.1), np.full(150, 0.2)]
        low, high = compute_metrics(y, p, n_bootstrap=400, seed=r).ci["recall"]
        hits += low <= true_sensitivity <= high
    assert 0.91 <= hits / runs <= 0.98


def test_sensitivity_at_a_specificity_fixed_on_a_reference():
    rng = np.random.default_rng(3)
    y_ref = np.r_[np.zeros(1000), np.ones(1000)]
    p_ref = np.r_[rng.random(1000) * 0.8, 0.2 + rng.random(1000) * 0.8]
    t = threshold_at_specificity(y_ref, p_ref, 0.9)
    assert np.mean(p_ref[:1000] < t) == pytest.approx(0.9, abs=1e-3)
    harder = np.r_[rng.random(1000) * 0.8, rng.random(1000) * 0.8]
    m = sensitivity_at_specificity(y_ref, harder, specificity=0.9, reference=(y_ref, p_ref),
                                   n_bootstrap=0)
    assert m.threshold == t and m["recall"] == pytest.approx(np.mean(harder[1000:] >= t))


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"y_true": [0, 2], "y_prob": [0.1, 0.2]}, "y_true"),
    ({"y_true": [0, 1], "y_prob": [0.1]}, "y_prob"),
    ({"y_true": [0, 1], "y_prob": [0.1, np.nan]}, "NaN"),
    ({"y_true": [0, 1], "y_prob": [0.1, 1.2]}, "y_prob"),
    ({"y_true": [0, 1], "y_prob": [0.1, 0.2], "threshold": 2}, "threshold"),
    ({"y_true": [0, 1], "y_prob": [0.1, 0.2], "n_bootstrap": -1}, "n_bootstrap"),
])
def test_bad_input_names_the_problem(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        compute_metrics(**kwargs)
