import json
import math

import numpy as np
import pandas as pd
import pytest

import synth
from evalkit import (
    FROCResult,
    ScoredImage,
    as_predictor,
    build_report,
    compute_froc,
    run_probe,
)

NAN = float("nan")


def windows(*rows):
    return pd.DataFrame(rows, columns=["x1", "y1", "x2", "y2", "probability"])


def boxes(*rows):
    return pd.DataFrame(rows, columns=["X1", "Y1", "X2", "Y2"])


@pytest.fixture
def hand_case():
    """Three images; clusters score 0.9 (two windows), 0.4 and 0.2; FPs 0.95, 0.8, 0.7, 0.3,
    0.1 (a window touching a box edge is an FP; background windows are ignored)."""
    a = ScoredImage(windows(
        (0, 0, 20, 20, 0.9),        # overlaps cluster 1
        (15, 15, 35, 35, 0.6),      # overlaps cluster 1 too: found by two windows
        (200, 200, 220, 220, 0.8),  # false positive
        (95, 95, 100, 100, 0.3),    # touches cluster 2's corner only: false positive
        (100, 100, 120, 120, NAN),  # background inside cluster 2: ignored
        (110, 110, 130, 130, 0.4),  # overlaps cluster 2
    ), boxes((10, 10, 30, 30), (100, 100, 120, 120)), name="a")
    b = ScoredImage(windows((50, 50, 60, 60, 0.7), (5, 5, 15, 15, 0.2)),
                    boxes((0, 0, 10, 10)), name="b")
    c = ScoredImage(windows((0, 0, 10, 10, 0.95), (10, 0, 20, 10, 0.1), (20, 0, 30, 10, NAN)),
                    pd.DataFrame(), name="c (no cluster)")
    return [a, b, c]


def test_hand_computed_curve(hand_case):
    froc = compute_froc(hand_case)
    assert (froc.n_images, froc.n_clusters) == (3, 3)
    expected = pd.DataFrame({
        "threshold": [0.95, 0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1],
        "sensitivity": [0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1, 1],
        "fp_per_image": [1 / 3, 1 / 3, 2 / 3, 1, 1, 4 / 3, 4 / 3, 5 / 3],
    })
    pd.testing.assert_frame_equal(froc.curve, expected)


def test_hand_computed_sensitivity_at_each_rate(hand_case):
    froc = compute_froc(hand_case)
    table = froc.table
    assert list(table.fp_per_image) == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    np.testing.assert_allclose(table.sensitivity, [0, 1 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(table.threshold, [NAN, 0.9, 0.4, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(table.achieved_fp_per_image, [0, 1 / 3, 1, 4 / 3, 4 / 3, 4 / 3])
    assert froc.cpm == pytest.approx(2 / 3)
    one = compute_froc(hand_case, fp_rates=[1])
    assert one.table.sensitivity.tolist() == pytest.approx([2 / 3]) and one.fp_rates == (1.0,)


def test_pairs_are_accepted_and_order_does_not_matter(hand_case):
    pairs = [(image.windows, image.boxes) for image in reversed(hand_case)]
    pd.testing.assert_frame_equal(compute_froc(pairs).table, compute_froc(hand_case).table)


def test_matches_a_brute_force_count(rng):
    images = []
    for _ in range(4):
        x, y = rng.integers(0, 200, (2, 30))
        probability = np.where(rng.random(30) < 0.2, NAN, np.round(rng.random(30), 2))
        frame = pd.DataFrame({"x1": x, "y1": y, "x2": x + 40, "y2": y + 40,
                              "probability": probability})
        corner = rng.integers(0, 220, (rng.integers(0, 3), 2))
        images.append(ScoredImage(frame, boxes(*[(cx, cy, cx + 15, cy + 25)
                                                  for cx, cy in corner])))
    froc = compute_froc(images)
    for row in froc.curve.itertuples():
        found = fps = 0
        for image in images:
            hot = image.windows[image.windows.probability >= row.threshold]
            hits = [(hot.x1 < b.X2) & (b.X1 < hot.x2) & (hot.y1 < b.Y2) & (b.Y1 < hot.y2)
                    for b in image.boxes.itertuples()]
            found += sum(bool(h.any()) for h in hits)
            fps += int((~np.logical_or.reduce(hits)).sum()) if hits else len(hot)
        assert row.sensitivity == pytest.approx(found / froc.n_clusters)
        assert row.fp_per_image == pytest.approx(fps / len(images))


def test_a_cluster_no_window_reaches_is_never_found():
    image = ScoredImage(windows((0, 0, 10, 10, 0.5)), boxes((50, 50, 60, 60), (0, 0, 5, 5)))
    froc = compute_froc([image])
    assert froc.curve.sensitivity.max() == 0.5 and froc.table.sensitivity.max() == 0.5


@pytest.mark.parametrize(("build", "field"), [
    (lambda: ScoredImage(windows((0, 0, 5, 5, 0.5)), boxes((10, 0, 5, 5))), "boxes"),
    (lambda: ScoredImage(windows((0, 0, 5, 5, 0.5)), boxes((0, 9, 5, 9))), "boxes"),
    (lambda: ScoredImage(windows((0, 0, 5, 5, 0.5)), pd.DataFrame({"X1": [1]})), "boxes"),
    (lambda: ScoredImage(windows((0, 0, 5, 5, 0.5)).drop(columns="x2"), boxes()), "windows"),
    (lambda: compute_froc([]), "scans"),
    (lambda: compute_froc([(windows((0, 0, 5, 5, 0.5)), boxes())]), "scans"),
    (lambda: compute_froc([(windows(), boxes((0, 0, 1, 1)))], fp_rates=[]), "fp_rates"),
    (lambda: compute_froc([(windows(), boxes((0, 0, 1, 1)))], fp_rates=[1, -2]), "fp_rates"),
])
def test_bad_input_is_refused(build, field):
    with pytest.raises(ValueError, match=field):
        build()


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="scans"):
        compute_froc([windows()])
    with pytest.raises(TypeError, match="boxes"):
        ScoredImage(windows(), [(0, 0, 1, 1)])


def brightness(x):
    flat = x.reshape(len(x), -1)
    return np.clip((np.sort(flat, axis=1)[:, -20:].mean(axis=1) - np.median(flat, axis=1)) * 4,
                   0.0, 1.0)


@pytest.fixture(scope="module")
def probe():
    return run_probe(as_predictor(brightness, input_size=100), synth.SceneConfig(), n=20,
                     seed=1, behaviour=False, resolutions=False, thresholds=False,
                     n_bootstrap=20)


def test_report_has_an_froc_section_only_when_given(tmp_path, probe, hand_case):
    froc = compute_froc(hand_case)
    page = build_report(probe, tmp_path / "with", froc=froc).read_text()
    assert "FROC on whole mammograms" in page and page.count("data:image/png;base64,") >= 2
    doc = json.loads((tmp_path / "with" / "report.json").read_text())
    assert doc["froc"]["n_clusters"] == 3 and doc["froc"]["cpm"] == pytest.approx(2 / 3)
    assert doc["froc"]["table"][0]["threshold"] is None  # NaN: no threshold reaches 0.25
    table = pd.read_csv(tmp_path / "with" / "froc.csv")
    np.testing.assert_allclose(table.sensitivity, froc.table.sensitivity)
    assert len(pd.read_csv(tmp_path / "with" / "froc_curve.csv")) == 8
    plain = build_report(probe, tmp_path / "without").read_text()
    assert "FROC" not in plain
    assert json.loads((tmp_path / "without" / "report.json").read_text())["froc"] is None
    assert not (tmp_path / "without" / "froc.csv").exists()
    with pytest.raises(TypeError, match="froc"):
        build_report(probe, tmp_path / "bad", froc=froc.table)


def test_froc_result_to_dict_is_json_ready(hand_case):
    froc = compute_froc(hand_case)
    assert isinstance(froc, FROCResult)
    doc = froc.to_dict()
    assert doc["fp_rates"] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0] and len(doc["table"]) == 6
    assert math.isnan(doc["table"][0]["threshold"])
