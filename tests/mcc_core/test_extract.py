import numpy as np
import pandas as pd
import pytest

import synth
from mcc_core import ExtractedPatches, extract_patches
from mcc_core.scanning._extract import SCAN_ORDERS, STEP_PX


def _tissue(shape, seed=0):
    """Random uint8 tissue without black pixels (no two windows alike)."""
    return np.random.default_rng(seed).integers(1, 256, size=shape, dtype=np.uint8)


def _positives(result):
    return result.windows[result.windows["label"] == 1]


def _negatives(result):
    return result.windows[result.windows["label"] == 0]


def test_four_scan_orders_reach_both_ends_of_the_range():
    # 100 µm: 100 px window, 15 px step; a 30 px box leaves a 70 px range on each axis,
    # not a multiple of 15, so each order adds its own 5 × 5 windows.
    image = _tissue((500, 500))
    result = extract_patches(image, [(200, 220, 230, 250)], resolution_um=100, balance=False)
    pos = _positives(result)
    assert len(pos) == 100
    assert pos.groupby("order").size().to_dict() == dict.fromkeys(SCAN_ORDERS, 25)
    sequences = {order: list(zip(g["x1"], g["y1"], strict=True))
                 for order, g in pos.groupby("order", sort=False)}
    assert sequences["LR-TB"][:2] == [(130, 150), (145, 150)]  # lo = X2 - 100, up by 15
    assert sequences["RL-TB"][:2] == [(200, 150), (185, 150)]  # hi = X1, down by 15
    assert sequences["LR-BT"][:2] == [(130, 220), (145, 220)]
    assert sequences["RL-BT"][:2] == [(200, 220), (185, 220)]
    assert sequences["LR-TB"][5] == (130, 165)  # next row down


def test_repeated_windows_are_dropped():
    # A 40 px box: the 60 px range is a multiple of 15, so all four orders give the same
    # 5 × 5 windows; a second identical box adds nothing either.
    image = _tissue((400, 400))
    box = (150, 160, 190, 200)
    result = extract_patches(image, [box, box], resolution_um=100, balance=False)
    pos = _positives(result)
    assert len(pos) == 25 and set(pos["order"]) == {"LR-TB"} and set(pos["box"]) == {0}
    assert not pos.duplicated(subset=["x1", "y1"]).any()


def test_windows_hold_a_small_box_and_lie_inside_a_large_one():
    image = _tissue((600, 700))
    small, large = (300, 100, 350, 160), (100, 300, 380, 450)
    result = extract_patches(image, [small, large], resolution_um=100, balance=False)
    w = _positives(result)
    s, big = w[w["box"] == 0], w[w["box"] == 1]
    assert ((s["x1"] <= 300) & (s["x2"] >= 350) & (s["y1"] <= 100) & (s["y2"] >= 160)).all()
    assert ((big["x1"] >= 100) & (big["x2"] <= 380) & (big["y1"] >= 300)
            & (big["y2"] <= 450)).all()
    assert big["x1"].min() == 100 and big["x2"].max() == 380  # both ends reached


def test_windows_near_the_border_are_clipped_to_the_image():
    image = _tissue((300, 300))
    result = extract_patches(image, [(0, 250, 20, 300)], resolution_um=100, balance=False)
    pos = _positives(result)
    assert len(pos) and (pos["x1"] >= 0).all() and (pos["y2"] <= 300).all()
    assert ((pos["x1"] <= 0) & (pos["x2"] >= 20) & (pos["y1"] <= 250)).all()


@pytest.mark.parametrize(("resolution", "step"), [(50, 30), (70, 22), (100, 15)])
def test_step_is_1_5_mm(resolution, step):
    size = synth.patch_size_px(resolution)
    assert STEP_PX[resolution] == step
    image = _tissue((3 * size, 3 * size))
    x1 = size + 10
    result = extract_patches(image, [(x1, x1, x1 + size // 2, x1 + size // 2)],
                             resolution_um=resolution, balance=False)
    first = _positives(result)
    first = first[first["order"] == "LR-TB"]
    assert set(np.diff(np.unique(first["x1"]))) == {step}
    assert set(np.diff(np.unique(first["y1"]))) == {step}
    assert result.images.shape[1:] == (size, size)


def test_class_0_grid_avoids_boxes_and_black_background():
    image = _tissue((500, 600))
    image[:, 450:] = 0  # black background on the right
    image[30, 120] = 0  # one black pixel in window (x1=100, y1=0)
    box = (220, 220, 260, 260)
    result = extract_patches(image, [box], resolution_um=100, balance=False)
    neg = _negatives(result)
    assert ((neg["x1"] % 100 == 0) & (neg["y1"] % 100 == 0)).all()
    assert not ((neg["x1"] < 260) & (neg["x2"] > 220) & (neg["y1"] < 260)
                & (neg["y2"] > 220)).any()
    assert (neg["x2"] <= 400).all()  # windows reaching x >= 450 hold background
    assert not ((neg["x1"] == 100) & (neg["y1"] == 0)).any()
    assert len(neg) == 5 * 4 - 1 - 1  # 5 rows × 4 clean columns, less the box's and the dot's
    assert (result.images[result.labels == 0] > 0).all()
    assert list(zip(neg["y1"], neg["x1"], strict=True)) == sorted(zip(neg["y1"], neg["x1"],
                                                                      strict=True))


def test_background_fraction_can_be_allowed():
    image = _tissue((200, 300))
    image[:10, :] = 0  # 10 % of the first row of windows
    strict = extract_patches(image, [], resolution_um=100, balance=False)
    lenient = extract_patches(image, [], resolution_um=100, balance=False,
                              max_background_fraction=0.1)
    assert len(strict) == 3 and len(lenient) == 6


def test_class_0_duplicates_by_content_are_dropped():
    image = np.full((300, 400), 7, dtype=np.uint8)  # every grid window looks the same
    result = extract_patches(image, [], resolution_um=100, balance=False)
    assert len(result) == 1 and result.windows.iloc[0][["x1", "y1"]].tolist() == [0, 0]


def test_balance_evenly_spaced_or_sampled():
    image = _tissue((1000, 1000))
    box = [(450, 450, 500, 500)]
    full = extract_patches(image, box, resolution_um=100, balance=False)
    n1, n0 = int((full.labels == 1).sum()), int((full.labels == 0).sum())
    assert n0 > n1 == 64  # 8 × 8: a 50 px range gives 4 starts forward, 4 others backward
    even = extract_patches(image, box, resolution_um=100)
    assert (even.labels == 0).sum() == n1 and (even.labels == 1).sum() == n1
    grid = _negatives(full).reset_index(drop=True)
    picked = _negatives(even)[["x1", "y1"]].to_numpy()
    expected = ((np.arange(n1) + 0.5) * n0 / n1).astype(int)
    assert np.array_equal(picked, grid.loc[expected, ["x1", "y1"]].to_numpy())
    a = extract_patches(image, box, resolution_um=100, rng=np.random.default_rng(1))
    b = extract_patches(image, box, resolution_um=100, rng=np.random.default_rng(1))
    assert a.windows.equals(b.windows) and (a.labels == 0).sum() == n1
    assert not np.array_equal(_negatives(a)[["x1", "y1"]].to_numpy(), picked)


def test_fewer_negatives_are_all_kept():
    image = _tissue((200, 200))
    result = extract_patches(image, [(90, 90, 110, 110)], resolution_um=100)
    assert (result.labels == 0).sum() == 0 and (result.labels == 1).sum() > 0


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_images_are_scaled_to_unit_range(dtype, top):
    image = np.full((100, 100), top, dtype=dtype)
    result = extract_patches(image, pd.DataFrame({"X1": [10], "Y1": [10], "X2": [20],
                                                  "Y2": [20]}), resolution_um=100)
    assert isinstance(result, ExtractedPatches)
    assert result.images.dtype == np.float32 and np.all(result.images == 1.0)


def test_on_a_synthetic_mammogram_labels_follow_the_mcs():
    m = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=3, size_mm=(60, 80))
    result = extract_patches(m.image, m.annotations, resolution_um=100, balance=False)
    mcs = m.calcifications
    x, y = mcs["x_px"].to_numpy(), mcs["y_px"].to_numpy()
    for w in result.windows.itertuples():
        inside = (x >= w.x1 - 0.5) & (x < w.x2 - 0.5) & (y >= w.y1 - 0.5) & (y < w.y2 - 0.5)
        if w.label == 1:
            n = m.annotations.loc[w.box, "n_calcifications"]
            assert (inside & (mcs["cluster"] == w.box)).sum() == n  # the whole cluster
        else:
            assert inside.sum() < 3  # never an MCC
    negatives = result.images[result.labels == 0]
    assert len(negatives) and (negatives > 0).all()


@pytest.mark.parametrize(("image", "boxes", "kwargs", "match"), [
    (np.ones((200, 200, 3), np.uint8), [], {}, "RGB"),
    (np.ones((200,), np.uint8), [], {}, "image"),
    (np.ones((90, 200), np.uint8), [], {}, "image"),
    (np.full((200, 200), 1.5, np.float32), [], {}, "image"),
    (np.ones((200, 200), np.uint8), [(10, 10, 50, 50), (150, 150, 210, 190)], {},
     r"boxes\[1\]"),
    (np.ones((200, 200), np.uint8), [(50, 10, 40, 50)], {}, r"boxes\[0\]"),
    (np.ones((200, 200), np.uint8), [(-1, 10, 40, 50)], {}, r"boxes\[0\]"),
    (np.ones((200, 200), np.uint8), [(1, 2, 3)], {}, "boxes"),
    (np.ones((200, 200), np.uint8), [], {"resolution_um": 60}, "resolution_um"),
    (np.ones((200, 200), np.uint8), [], {"max_background_fraction": 2.0},
     "max_background_fraction"),
])
def test_bad_input_raises_value_error_naming_it(image, boxes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_patches(image, boxes, **{"resolution_um": 100, **kwargs})


def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="image"):
        extract_patches(np.ones((200, 200), np.int32), [], resolution_um=100)


def test_extract_resamples_dicom_mammograms_of_another_spacing(tmp_path):
    """A 70 µm DICOM set cut at 100 µm: each image resampled, its boxes scaled with it."""
    import json

    import pandas as pd

    import synth
    from mcc_core import extract_dataset

    folder = tmp_path / "dicom"
    synth.write_mammograms(synth.SceneConfig(), folder, 2, resolution_um=70, seed=1,
                           size_mm=(60.0, 80.0), format="dicom")
    out = tmp_path / "patches"
    manifest = extract_dataset(folder, folder / "annotations.csv", out, resolution_um=100)
    assert manifest["source"]["spacing_um"] == {"mammogram_0000.dcm": 70.0,
                                                "mammogram_0001.dcm": 70.0}
    table = pd.read_csv(out / "patches.csv")
    boxes = pd.read_csv(folder / "annotations.csv")
    for row in table[table["label"] == 1].itertuples():
        mine = boxes[boxes["image"] == row.image][["X1", "Y1", "X2", "Y2"]].to_numpy() * 0.7
        # the window overlaps one of its image's boxes, in the resampled pixels
        overlap = ((np.minimum(row.x2, mine[:, 2]) > np.maximum(row.x1, mine[:, 0]))
                   & (np.minimum(row.y2, mine[:, 3]) > np.maximum(row.y1, mine[:, 1])))
        assert overlap.any(), row
        assert row.x2 <= 800 and row.y2 <= 600  # 80 × 60 mm at 100 µm
    assert json.loads((out / "manifest.json").read_text())["resolution_um"] == 100
    # the same images as PNGs with their spacing given
    png = tmp_path / "png"
    synth.write_mammograms(synth.SceneConfig(), png, 2, resolution_um=70, seed=1,
                           size_mm=(60.0, 80.0))
    again = extract_dataset(png, png / "annotations.csv", tmp_path / "p2", resolution_um=100,
                            spacing_um=70)
    assert again["counts"] == manifest["counts"]
