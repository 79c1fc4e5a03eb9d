import numpy as np
import pandas as pd
import pytest

from evalkit import DetectionRule, compute_detection_froc, compute_froc, detect_clusters


def _grid(blobs, size=200, window=10, stride=5):
    """Windows of a scan whose scores are Gaussian blobs (cx, cy, peak) in pixels."""
    ys, xs = np.mgrid[0:size - window + 1:stride, 0:size - window + 1:stride]
    cx, cy = xs + window / 2, ys + window / 2
    p = np.zeros(cx.shape)
    for bx, by, peak in blobs:
        p = np.maximum(p, peak * np.exp(-((cx - bx) ** 2 + (cy - by) ** 2) / 200.0))
    return pd.DataFrame({"x1": xs.ravel(), "y1": ys.ravel(), "x2": xs.ravel() + window,
                         "y2": ys.ravel() + window, "probability": p.ravel()})


@pytest.mark.parametrize("method", ["nms", "connected"])
def test_two_blobs_give_two_detections_at_their_centres(method):
    windows = _grid([(50, 50, 0.9), (150, 120, 0.7)])
    rule = DetectionRule(method=method, radius_mm=4.0, threshold=0.3)
    found = detect_clusters(windows, resolution_um=100, rule=rule)
    top = found[found["score"] >= 0.3]
    assert len(top) == 2
    assert top[["x_px", "y_px"]].to_numpy() == pytest.approx(np.array([[50, 50], [150, 120]]),
                                                             abs=1e-9)
    assert top["score"].tolist() == pytest.approx([0.9, 0.7])
    assert top["x_mm"].tolist() == pytest.approx([5.0, 15.0])
    first = top.iloc[0]
    assert first.x1 < 50 < first.x2 and first.y1 < 50 < first.y2 and first.n_windows > 1


def test_nms_suppresses_within_its_radius_only():
    windows = _grid([(50, 50, 0.9), (80, 50, 0.8)])  # 3 mm apart at 100 µm
    wide = detect_clusters(windows, resolution_um=100, rule=DetectionRule(radius_mm=4.0))
    narrow = detect_clusters(windows, resolution_um=100, rule=DetectionRule(radius_mm=2.0))
    assert (wide["score"] >= 0.75).sum() == 1
    assert (narrow["score"] >= 0.75).sum() == 2
    # every scored window is covered by exactly one detection's suppression
    assert wide["score"].is_monotonic_decreasing


def test_froc_of_detections_on_a_hand_built_case():
    rule = DetectionRule(radius_mm=4.0, threshold=0.3)
    boxes = pd.DataFrame({"X1": [30], "Y1": [30], "X2": [70], "Y2": [70]})
    # image 1: the cluster (found at 0.9) and a false positive blob at 0.6
    # image 2: no cluster, a false positive blob at 0.8
    scans = [(_grid([(50, 50, 0.9), (150, 150, 0.6)]), boxes),
             (_grid([(100, 100, 0.8)]), boxes.iloc[:0])]
    froc = compute_detection_froc(scans, resolution_um=100, rule=rule, fp_rates=(0.5, 1.0),
                                  n_bootstrap=0)
    top = froc.curve[froc.curve["threshold"] >= 0.55]
    assert top.to_dict("list") == {"threshold": pytest.approx([0.9, 0.8, 0.6]),
                                   "sensitivity": [1.0, 1.0, 1.0],
                                   "fp_per_image": [0.0, 0.5, 1.0]}
    assert froc.table["sensitivity"].tolist() == [1.0, 1.0] and froc.cpm == 1.0
    # windows, by contrast, count dozens of false positives per blob
    windows = compute_froc(scans, fp_rates=(0.5, 1.0))
    assert windows.curve["fp_per_image"].max() > 10 * froc.curve["fp_per_image"][
        froc.curve["threshold"] >= 0.3].max()
    assert froc.lroc is not None and froc.to_dict()["lroc_area"] == pytest.approx(1.0)


def test_hit_criterion_decides_a_detection_off_the_box():
    boxes = pd.DataFrame({"X1": [40], "Y1": [40], "X2": [60], "Y2": [60]})
    scans = [(_grid([(70, 50, 0.9)]), boxes)]  # 1 mm right of the box, 2 mm from its centre
    inside = compute_detection_froc(scans, resolution_um=100, n_bootstrap=0,
                                    rule=DetectionRule(radius_mm=4.0, hit="inside"))
    near = compute_detection_froc(scans, resolution_um=100, n_bootstrap=0,
                                  rule=DetectionRule(radius_mm=4.0, hit="distance",
                                                     distance_mm=2.5))
    assert inside.curve["sensitivity"].max() == 0.0
    assert near.curve["sensitivity"].iloc[0] == 1.0


def test_bootstrap_intervals_bracket_the_estimate():
    rng = np.random.default_rng(0)
    boxes = pd.DataFrame({"X1": [30], "Y1": [30], "X2": [70], "Y2": [70]})
    scans = []
    for _ in range(12):
        peak = float(rng.uniform(0.3, 0.95))
        scans.append((_grid([(50, 50, peak), (150, 150, float(rng.uniform(0.2, 0.9)))]),
                      boxes))
    froc = compute_detection_froc(scans, resolution_um=100, n_bootstrap=200,
                                  rule=DetectionRule(radius_mm=4.0))
    t = froc.table
    assert (t["ci_low"] <= t["sensitivity"] + 1e-12).all()
    assert (t["sensitivity"] <= t["ci_high"] + 1e-12).all()
    assert froc.cpm_ci[0] <= froc.cpm <= froc.cpm_ci[1]


@pytest.mark.parametrize("kwargs, field", [
    ({"method": "blob"}, "method"), ({"hit": "near"}, "hit"), ({"radius_mm": 0}, "radius_mm"),
    ({"distance_mm": float("nan")}, "distance_mm"), ({"threshold": 1.5}, "threshold"),
])
def test_bad_rules_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DetectionRule(**kwargs)


def test_bad_resolution_and_bootstrap_are_refused():
    windows = _grid([(50, 50, 0.9)])
    with pytest.raises(ValueError, match="resolution_um"):
        detect_clusters(windows, resolution_um=0)
    boxes = pd.DataFrame({"X1": [30], "Y1": [30], "X2": [70], "Y2": [70]})
    with pytest.raises(ValueError, match="n_bootstrap"):
        compute_detection_froc([(windows, boxes)], resolution_um=100, n_bootstrap=-1)


def test_all_zero_scores_give_finite_centres():
    windows = _grid([])  # every window scores 0
    found = detect_clusters(windows, resolution_um=100,
                            rule=DetectionRule(radius_mm=4.0, min_score=0.0))
    assert len(found) > 0 and np.isfinite(found[["x_px", "y_px"]].to_numpy()).all()
