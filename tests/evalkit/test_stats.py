import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from evalkit import delong_test, mcnemar_test


def _brute_force_delong(y, a, b):
    """DeLong's variance of AUC_a - AUC_b from the definition: a double loop over pairs."""
    def psi(x, z):
        return 1.0 if x > z else 0.5 if x == z else 0.0

    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    comps = []
    for s in (a, b):
        v10 = np.array([np.mean([psi(s[i], s[j]) for j in neg]) for i in pos])
        v01 = np.array([np.mean([psi(s[i], s[j]) for i in pos]) for j in neg])
        comps.append((v10, v01))
    s10 = np.cov([comps[0][0], comps[1][0]])
    s01 = np.cov([comps[0][1], comps[1][1]])
    s = s10 / len(pos) + s01 / len(neg)
    return comps[0][0].mean(), comps[1][0].mean(), s[0, 0] + s[1, 1] - 2 * s[0, 1]


def test_delong_on_a_hand_computed_case():
    # a: positives 0.9 0.8 0.4, negatives 0.7 0.3 -> AUC 5/6, placements (1, 1, 1/2), (2/3, 1)
    # b separates perfectly -> AUC 1 with zero variance; var(diff) = (1/12)/3 + (1/18)/2 = 1/18
    r = delong_test([1, 1, 1, 0, 0], [0.9, 0.8, 0.4, 0.7, 0.3], [0.9, 0.8, 0.4, 0.3, 0.2])
    assert r.auc_a == pytest.approx(5 / 6) and r.auc_b == 1.0
    assert r.variance == pytest.approx(1 / 18)
    assert r.z == pytest.approx(-(1 / 6) / np.sqrt(1 / 18))
    assert r.p_value == pytest.approx(0.4795001, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_definition_and_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 40)
    y[:2] = [0, 1]
    a = np.round(rng.random(40) + 0.4 * y, 1)  # rounded: many ties
    b = np.round(rng.random(40) + 0.2 * y, 1)
    r = delong_test(y, a, b)
    auc_a, auc_b, var = _brute_force_delong(y, a, b)
    assert r.auc_a == pytest.approx(auc_a) == pytest.approx(roc_auc_score(y, a))
    assert r.auc_b == pytest.approx(auc_b) == pytest.approx(roc_auc_score(y, b))
    assert r.variance == pytest.approx(var)
    assert r.ci_low < r.difference < r.ci_high


def test_identical_scorings_are_not_different():
    y, s = [1, 0, 1, 0, 1], [0.9, 0.2, 0.6, 0.7, 0.4]
    r = delong_test(y, s, s)
    assert r.difference == 0 and r.variance == 0 and r.p_value == 1.0


def test_mcnemar_on_a_hand_computed_table():
    # 10 cases only a gets right, 2 only b: p = 2 * P(X <= 2 | 12, 1/2) = 2 * 79 / 4096
    y = np.array([1] * 12 + [0] * 6)
    a = np.array([1] * 10 + [0] * 2 + [0] * 4 + [1] * 2)
    b = np.array([0] * 10 + [1] * 2 + [0] * 4 + [1] * 2)
    r = mcnemar_test(y, a, b)
    assert (r.only_a, r.only_b, r.both, r.neither) == (10, 2, 4, 2)
    assert r.p_value == pytest.approx(2 * 79 / 4096)
    assert mcnemar_test(y, a, a).p_value == 1.0


@pytest.mark.parametrize("call, field", [
    (lambda: delong_test([1, 0], [0.5], [0.5, 0.1]), "scores_a"),
    (lambda: delong_test([1, 0], [0.5, 0.2], [0.5, np.nan]), "scores_b"),
    (lambda: delong_test([1, 1], [0.5, 0.2], [0.5, 0.1]), "y_true"),
    (lambda: delong_test([1, 2], [0.5, 0.2], [0.5, 0.1]), "y_true"),
    (lambda: mcnemar_test([1, 0], [1, 0.5], [1, 0]), "decisions_a"),
])
def test_bad_input_names_the_argument(call, field):
    with pytest.raises(ValueError, match=field):
        call()
