"""The papers' confusion-matrix metrics, as training reports them: `evalkit.compute_metrics`
(the toolkit's one implementation) at threshold 0.5, without bootstrap."""

import math

import numpy as np
import pytest

import evalkit


def compute_confusion_metrics(y_true, y_prob, *, threshold=0.5):
    return evalkit.compute_metrics(y_true, y_prob, threshold=threshold, n_bootstrap=0).values



def test_confusion_metrics_hand_computed() -> None:
    y_true = [1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    y_prob = [0.9, 0.5, 0.2, 0.49, 0.7, 0.1, 0.0, 0.6, 0.3, 0.2]  # 0.5 counts as class 1
    metrics = compute_confusion_metrics(y_true, y_prob)
    assert {k: metrics[k] for k in ("tn", "fp", "fn", "tp")} == {"tn": 5, "fp": 1, "fn": 1,
                                                                  "tp": 3}
    assert metrics["accuracy"] == pytest.approx(8 / 10)
    assert metrics["precision"] == pytest.approx(3 / 4)
    assert metrics["recall"] == pytest.approx(3 / 4)
    assert metrics["specificity"] == pytest.approx(5 / 6)
    assert metrics["f1"] == pytest.approx(3 / 4)
    shifted = compute_confusion_metrics(np.array(y_true)[:, None], np.array(y_prob)[:, None],
                                        threshold=0.65)
    assert (shifted["tn"], shifted["fp"], shifted["fn"], shifted["tp"]) == (5, 1, 3, 1)


def test_confusion_metrics_paper_table() -> None:
    """Transfer-50 in the transfer-learning paper: TN 2966, FP 51, FN 50, TP 2967."""
    y_true = np.repeat([0, 0, 1, 1], [2966, 51, 50, 2967])
    y_prob = np.repeat([0.1, 0.9, 0.1, 0.9], [2966, 51, 50, 2967])
    metrics = compute_confusion_metrics(y_true, y_prob)
    assert metrics["accuracy"] == pytest.approx(0.9833, abs=5e-5)
    assert metrics["precision"] == pytest.approx(2967 / 3018)
    assert metrics["recall"] == pytest.approx(2967 / 3017)
    assert metrics["specificity"] == pytest.approx(2966 / 3017)


def test_confusion_metrics_match_numpy_reference(rng: np.random.Generator) -> None:
    y_true = rng.integers(0, 2, size=500)
    y_prob = rng.uniform(size=500)
    metrics = compute_confusion_metrics(y_true, y_prob, threshold=0.3)
    counts = np.bincount(2 * y_true + (y_prob >= 0.3), minlength=4)  # tn, fp, fn, tp
    assert [metrics[k] for k in ("tn", "fp", "fn", "tp")] == counts.tolist()
    tn, fp, fn, tp = counts
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert metrics["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert metrics["accuracy"] == pytest.approx(np.mean(y_true == (y_prob >= 0.3)))
    assert metrics["specificity"] == pytest.approx(tn / (tn + fp))


@pytest.mark.parametrize(
    ("y_true", "y_prob", "nan_keys", "expected"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], {"precision", "recall", "f1"},
         {"accuracy": 1.0, "specificity": 1.0}),
        ([1, 1], [0.9, 0.8], {"specificity"}, {"precision": 1.0, "recall": 1.0, "f1": 1.0}),
        ([1, 0], [0.1, 0.9], set(), {"precision": 0.0, "recall": 0.0, "f1": 0.0}),
        ([], [], {"accuracy", "precision", "recall", "specificity", "f1"}, {"tp": 0, "tn": 0}),
    ],
)
def test_confusion_metrics_degenerate_cases_are_nan(
    y_true: list, y_prob: list, nan_keys: set, expected: dict
) -> None:
    metrics = compute_confusion_metrics(y_true, y_prob)
    paper = ("accuracy", "precision", "recall", "specificity", "f1")
    assert {k for k in paper if math.isnan(metrics[k])} == nan_keys
    assert {k: metrics[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"y_true": [0, 2]}, ValueError, "y_true"),
        ({"y_true": ["a", "b"]}, TypeError, "y_true"),
        ({"y_true": [[0, 1]]}, ValueError, "y_true"),
        ({"y_prob": [0.2, 1.5]}, ValueError, "y_prob"),
        ({"y_prob": [0.2, np.nan]}, ValueError, "y_prob"),
        ({"y_prob": [0.2]}, ValueError, "y_prob"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
    ],
)
def test_confusion_metrics_validation(kwargs: dict, error: type, field: str) -> None:
    args = {"y_true": [0, 1], "y_prob": [0.2, 0.7], **kwargs}
    with pytest.raises(error, match=f"`{field}`"):
        compute_confusion_metrics(**args)
