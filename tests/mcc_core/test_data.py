"""Tests for mcc_core.training._data: patch folders, splits, augmentation and tf.data pipelines."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import synth
from mcc_core import (
    AUGMENTATIONS,
    PatchSet,
    augment,
    load_patch_folder,
    prepare_splits,
    split_indices,
    synthetic_arrays,
    synthetic_dataset,
    to_dataset,
)

CONFIG = synth.SceneConfig()


def _write_pngs(root: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write each array as a PNG at its relative path under `root`."""
    for rel, pixels in arrays.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / rel)


def _plain_folder(root: Path, dtype: type = np.uint8, size: int = 6) -> dict[str, np.ndarray]:
    top = np.iinfo(dtype).max
    arrays = {
        f"class_{label}/{name}.png": np.full((size, size), value, dtype=dtype)
        for label, name, value in [(0, "b", 0), (0, "a", top // 5), (1, "c", top)]
    }
    arrays["class_1/c.png"][0, 0] = 1
    _write_pngs(root, arrays)
    return arrays


@pytest.fixture(scope="module")
def synth_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    dirs = {}
    for depth in (8, 16):
        out = tmp_path_factory.mktemp(f"synth{depth}")
        synth.write_dataset(CONFIG, out, 12, resolution_um=100, seed=0, bit_depth=depth)
        dirs[depth] = out
    return dirs


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("depth", [8, 16])
def test_load_synth_layout_matches_generate(synth_dirs: dict[int, Path], depth: int) -> None:
    patches = load_patch_folder(synth_dirs[depth], input_size=100)
    batch = synth.generate(CONFIG, 12, resolution_um=100, seed=0)
    top = np.float32(2**depth - 1)
    expected = np.rint(batch.images * top).astype(np.float32) / top
    assert patches.images.shape == (12, 100, 100, 1)
    assert patches.images.dtype == np.float32 and patches.labels.dtype == np.int64
    np.testing.assert_array_equal(patches.images[..., 0], expected)
    np.testing.assert_array_equal(patches.labels, batch.labels)
    assert patches.paths == [f"class_{y}/{i:06d}.png" for i, y in enumerate(batch.labels)]
    assert patches.source == str(synth_dirs[depth].resolve()) and len(patches) == 12


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_load_plain_folders_scales_exactly(tmp_path: Path, dtype: type) -> None:
    arrays = _plain_folder(tmp_path, dtype)
    patches = load_patch_folder(str(tmp_path))
    assert patches.paths == ["class_0/a.png", "class_0/b.png", "class_1/c.png"]
    np.testing.assert_array_equal(patches.labels, [0, 0, 1])
    top = np.float32(np.iinfo(dtype).max)
    for k, rel in enumerate(patches.paths):
        expected = arrays[rel].astype(np.float32) / top
        np.testing.assert_array_equal(patches.images[k, ..., 0], expected)
    assert patches.images.max() == 1.0 and patches.images.min() == 0.0
    assert patches.images[0, 0, 0, 0] == np.float32(top // 5) / top


def test_input_size_mismatch_names_found_and_expected(tmp_path: Path) -> None:
    _plain_folder(tmp_path, size=144)
    assert load_patch_folder(tmp_path, input_size=144).images.shape == (3, 144, 144, 1)
    with pytest.raises(ValueError, match=r"`input_size`.*144×144 px.*expects 100×100 "
                                         r"\(class_0/a\.png\)"):
        load_patch_folder(tmp_path, input_size=100)


def test_mixed_sizes_refused(tmp_path: Path) -> None:
    _plain_folder(tmp_path)
    _write_pngs(tmp_path, {"class_1/d.png": np.zeros((6, 8), np.uint8)})
    with pytest.raises(ValueError, match=r"one size; class_1/d\.png is 6×8 px"):
        load_patch_folder(tmp_path)


def _corrupt(root: Path) -> None:
    _plain_folder(root)
    (root / "class_1" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")


def _truncated(root: Path) -> None:
    _plain_folder(root, size=64)
    data = (root / "class_0" / "a.png").read_bytes()
    (root / "class_0" / "a.png").write_bytes(data[: len(data) // 2])


def _rgb(root: Path) -> None:
    _plain_folder(root)
    colour = np.zeros((6, 6, 3), np.uint8)
    colour[..., 0] = 255  # grey saved as RGB (equal channels) would be read as grey
    Image.fromarray(colour).save(root / "class_0" / "a.png")


def _one_class(root: Path) -> None:
    _write_pngs(root, {"class_0/a.png": np.zeros((4, 4), np.uint8)})
    (root / "class_1").mkdir()


def _empty_classes(root: Path) -> None:
    (root / "class_0").mkdir()
    (root / "class_1").mkdir()


def _partial_synth(root: Path) -> None:
    _plain_folder(root)
    (root / ".mcc-partial").mkdir()


def _csv_missing_file(root: Path) -> None:
    _plain_folder(root)
    (root / "patches.csv").write_text("index,path,label\n0,class_0/a.png,0\n1,class_1/zz.png,1\n")


@pytest.mark.parametrize("make, message", [
    (_corrupt, r"c\.png, which cannot be read"),
    (_truncated, r"a\.png, which cannot be read"),
    (_rgb, r"a\.png, a colour image \(mode RGB\) whose channels differ"),
    (_one_class, r"one class only \(class_1/ has none\)"),
    (_empty_classes, "holds no PNG patches"),
    (lambda root: None, "neither a class_0/ nor a class_1/"),
    (_partial_synth, "unfinished synth dataset"),
    (_csv_missing_file, r"lists class_1/zz\.png, which is missing"),
])
def test_bad_folders_refused(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)
    with pytest.raises(ValueError, match=f"^`path`[: ].*{message}") as info:
        load_patch_folder(tmp_path)
    assert str(tmp_path.resolve()) in str(info.value)


def test_missing_folder_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`path`: there is no folder .*nowhere\."):
        load_patch_folder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(ValueError, match="`path`: .*is a file"):
        load_patch_folder(tmp_path / "file.png")
    with pytest.raises(TypeError, match="`path`"):
        load_patch_folder(3)  # type: ignore[arg-type]
    _plain_folder(tmp_path)
    with pytest.raises(ValueError, match=r"`input_size` must be an integer >= 1; got input_size=0"):
        load_patch_folder(tmp_path, input_size=0)
    with pytest.raises(TypeError, match="`input_size`"):
        load_patch_folder(tmp_path, input_size=100.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- splitting


LABELS = np.array([0] * 37 + [1] * 63)


@pytest.mark.parametrize("fractions", [(0.64, 0.16, 0.20), (0.5, 0.25, 0.25), (0.8, 0.0, 0.2)])
def test_split_counts_stratified_disjoint_complete(fractions: tuple[float, float, float]) -> None:
    parts = split_indices(LABELS, fractions=fractions, seed=3)
    joined = np.concatenate(parts)
    assert np.array_equal(np.sort(joined), np.arange(len(LABELS)))  # each index exactly once
    for part, share in zip(parts, fractions, strict=True):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
        for value in (0, 1):
            expected = share * np.sum(LABELS == value)
            assert abs(np.sum(LABELS[part] == value) - expected) <= 1


def test_split_default_is_the_papers_64_16_20() -> None:
    train, val, test = split_indices(np.repeat([0, 1], 100), seed=0)
    assert (len(train), len(val), len(test)) == (128, 32, 40)
    assert [int(np.sum(np.repeat([0, 1], 100)[p])) for p in (train, val, test)] == [64, 16, 20]


def test_split_same_seed_same_other_seed_different() -> None:
    a = split_indices(LABELS, seed=5)
    b = split_indices(list(LABELS), seed=5)
    c = split_indices(LABELS, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"fractions": (0.5, 0.5, 0.5)}, ValueError, r"`fractions` .* sum to 1; got fractions="),
    ({"fractions": (0.8, 0.2)}, ValueError, "`fractions`"),
    ({"fractions": (1.1, -0.1, 0.0)}, ValueError, "`fractions`"),
    ({"fractions": "abc"}, TypeError, "`fractions`"),
    ({"seed": -1}, ValueError, r"`seed` must be an integer >= 0; got seed=-1\."),
    ({"seed": 1.5}, TypeError, "`seed`"),
])
def test_split_validation(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        split_indices(LABELS, **{"seed": 0, **kwargs})


def test_split_label_validation() -> None:
    with pytest.raises(ValueError, match="`labels` must have shape"):
        split_indices(np.zeros((4, 2), int), seed=0)
    with pytest.raises(ValueError, match="`labels` must hold at least one"):
        split_indices(np.zeros(0, int), seed=0)
    with pytest.raises(TypeError, match="`labels` must hold integers"):
        split_indices(np.zeros(4), seed=0)


# --------------------------------------------------------------------------- augmentation


def test_augment_each_transform_exact() -> None:
    images = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 1)
    out, labels, source = augment(images, np.array([1, 0]))
    assert out.shape == (10, 3, 3, 1) and out.dtype == np.float32
    assert AUGMENTATIONS == ("original", "fliplr", "rot180", "flipud_rot180", "rot90")
    for block, transform in enumerate([
        lambda x: x, np.fliplr, lambda x: np.rot90(x, 2),
        lambda x: np.rot90(np.flipud(x), 2), np.rot90,
    ]):
        for i in range(2):
            row = block * 2 + i
            assert source[row] == i and labels[row] == [1, 0][i]
            np.testing.assert_array_equal(out[row, ..., 0], transform(images[i, ..., 0]))
    # the papers' "up-down flip then 180° rotation" is the left-right flip again
    np.testing.assert_array_equal(out[6:8], out[2:4])
    assert not np.array_equal(out[8:10], out[2:4])  # 90° CCW differs from the flip


def test_augment_without_channel_axis_and_validation() -> None:
    image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    out, labels, source = augment(image, [0])
    assert out.shape == (5, 4, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[4], np.rot90(image[0]))
    np.testing.assert_array_equal(labels, [0] * 5)
    np.testing.assert_array_equal(source, [0] * 5)
    with pytest.raises(ValueError, match="`images` .*H == W"):
        augment(np.zeros((2, 3, 4)), [0, 1])
    with pytest.raises(ValueError, match=r"`labels` must have shape \(N,\) = \(2,\)"):
        augment(np.zeros((2, 3, 3)), [0, 1, 1])


def test_no_augmented_copy_crosses_subsets() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((40, 5, 5, 1), dtype=np.float32)
    labels = np.repeat([0, 1], 20)
    used = []
    for part in split_indices(labels, seed=1):
        _, part_labels, source = augment(images[part], labels[part])
        originals = part[source]
        np.testing.assert_array_equal(part_labels, labels[originals])
        assert np.array_equal(np.bincount(originals, minlength=40)[part], np.full(len(part), 5))
        used.append(set(originals.tolist()))
    assert not (used[0] & used[1] or used[0] & used[2] or used[1] & used[2])
    assert set.union(*used) == set(range(40))


# --------------------------------------------------------------------------- tf.data


def _patchset(n: int = 50) -> PatchSet:
    rng = np.random.default_rng(2)
    images = rng.random((n, 4, 4, 1), dtype=np.float32)
    labels = (np.arange(n) % 2).astype(np.int64)
    return PatchSet(images, labels, [f"{i}.png" for i in range(n)], "memory")


def test_to_dataset_batches_and_seeded_shuffle() -> None:
    patches = _patchset(10)
    batches = list(to_dataset(patches.images[..., 0], patches.labels, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 4, 4, 1), (4, 4, 4, 1), (2, 4, 4, 1)]
    assert batches[0][0].dtype.name == "float32" and batches[0][1].dtype.name == "float32"
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), patches.labels)

    def order(seed: int) -> np.ndarray:
        dataset = to_dataset(patches.images, np.arange(10) % 2, batch_size=10, shuffle_seed=seed)
        return next(iter(dataset))[0].numpy()[:, 0, 0, 0]

    assert np.array_equal(order(1), order(1)) and not np.array_equal(order(1), order(2))
    assert sorted(order(1)) == sorted(patches.images[:, 0, 0, 0])


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros((2, 3, 3)), [0, 1]), {"batch_size": 0}, ValueError,
     r"^`batch_size` must be an integer >= 1; got batch_size=0\.$"),
    ((np.zeros((2, 3, 3)), [0, 1]), {"batch_size": "8"}, TypeError, "`batch_size`"),
    ((np.full((2, 3, 3), 2.0), [0, 1]), {"batch_size": 1}, ValueError, r"within \[0, 1\]"),
    ((np.zeros((2, 3, 3)), [0, 2]), {"batch_size": 1}, ValueError, "`labels` must be 0 or 1"),
    ((np.zeros((2, 3, 3)), [0]), {"batch_size": 1}, ValueError, "`labels` must have shape"),
    ((np.zeros((2, 3, 3, 3)), [0, 1]), {"batch_size": 1}, ValueError, "grayscale"),
    ((np.zeros((2, 3, 3)), [0, 1]), {"batch_size": 1, "shuffle_seed": -2}, ValueError,
     "`shuffle_seed`"),
])
def test_to_dataset_validation(args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_dataset(*args, **kwargs)


def test_prepare_splits_augments_train_only_and_never_leaks() -> None:
    patches = _patchset(50)
    splits = prepare_splits(patches, seed=4, batch_size=16)
    expected = split_indices(patches.labels, seed=4)
    for name, part in zip(("train", "val", "test"), expected, strict=True):
        np.testing.assert_array_equal(splits.indices[name], part)
    assert splits.counts["train"] == {"class_0": 80, "class_1": 80, "total": 160}
    assert splits.counts["val"]["total"] == len(expected[1]) == 8
    assert splits.counts["test"]["total"] == len(expected[2]) == 10
    used = {name: set(source.tolist()) for name, source in splits.sources.items()}
    assert not (used["train"] & used["val"] or used["train"] & used["test"]
                or used["val"] & used["test"])
    n_train = sum(int(b[1].shape[0]) for b in splits.train)
    images, labels = next(iter(splits.val))
    assert n_train == 160 and images.shape == (8, 4, 4, 1) and labels.dtype.name == "float32"
    np.testing.assert_array_equal(images.numpy(), patches.images[splits.sources["val"]])


def test_prepare_splits_augment_eval_and_validation() -> None:
    patches = _patchset(50)
    splits = prepare_splits(patches, seed=4, batch_size=8, augment_train=False, augment_eval=True)
    assert [splits.counts[k]["total"] for k in ("train", "val", "test")] == [32, 40, 50]
    with pytest.raises(TypeError, match="`patchset`"):
        prepare_splits(patches.images, seed=0, batch_size=8)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`augment_train`"):
        prepare_splits(patches, seed=0, batch_size=8, augment_train=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`batch_size`"):
        prepare_splits(patches, seed=0, batch_size=-1)


# --------------------------------------------------------------------------- synthetic data


def _first(dataset, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(k)]


def test_synthetic_dataset_is_generate_indices_batched() -> None:
    dataset = synthetic_dataset(CONFIG, resolution_um=100, seed=3, batch_size=4, block=10)
    batches = _first(dataset, 3)
    for k, (images, labels) in enumerate(batches):
        assert images.shape == (4, 100, 100, 1) and images.dtype == np.float32
        assert labels.shape == (4,) and labels.dtype == np.float32
        made = synth.generate_indices(CONFIG, range(4 * k, 4 * k + 4), resolution_um=100, seed=3)
        np.testing.assert_array_equal(images[..., 0], made.images)
        np.testing.assert_array_equal(labels, made.labels)
    again = _first(synthetic_dataset(CONFIG, resolution_um=100, seed=3, batch_size=4, block=12), 3)
    other = _first(synthetic_dataset(CONFIG, resolution_um=100, seed=4, batch_size=4, block=4), 3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again, strict=True))
    assert not any(np.array_equal(a[0], b[0]) for a, b in zip(batches, other, strict=True))


def test_synthetic_dataset_finite_and_shared_among_processes() -> None:
    dataset = synthetic_dataset(CONFIG, resolution_um=100, seed=1, batch_size=128, n_batches=3,
                                block=256)
    batches = _first(dataset, 10)
    assert len(batches) == 3
    made = synth.generate(CONFIG, 384, resolution_um=100, seed=1, processes=1)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches])[..., 0], made.images)
    assert len(_first(dataset, 10)) == 3  # a second pass replays the same batches


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, r"`batch_size` must be an integer >= 1; got batch_size=0\."),
    ({"n_batches": 0}, ValueError, "`n_batches`"),
    ({"block": 0}, ValueError, "`block`"),
    ({"seed": -1}, ValueError, "`seed`"),
    ({"resolution_um": 60}, ValueError, "resolution_um"),
    ({"resolution_um": "70"}, TypeError, "`resolution_um`"),
    ({"config": {}}, TypeError, "`config`"),
])
def test_synthetic_dataset_validation(kwargs: dict, error: type, match: str) -> None:
    arguments = {"config": CONFIG, "resolution_um": 100, "seed": 0, "batch_size": 4, **kwargs}
    with pytest.raises(error, match=match):
        synthetic_dataset(**arguments)


def test_synthetic_arrays() -> None:
    images, labels = synthetic_arrays(CONFIG, 6, resolution_um=100, seed=2)
    made = synth.generate(CONFIG, 6, resolution_um=100, seed=2)
    assert images.shape == (6, 100, 100, 1) and images.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images[..., 0], made.images)
    np.testing.assert_array_equal(labels, made.labels)
    with pytest.raises(ValueError, match=r"`n` must be an integer >= 1; got n=0\."):
        synthetic_arrays(CONFIG, 0, resolution_um=100, seed=2)


def test_augment_synthetic_uses_only_training_negatives(tmp_path):
    folder = tmp_path / "patches"
    synth.write_dataset(synth.SceneConfig(), folder, 60, resolution_um=100, seed=0)
    patches = load_patch_folder(folder)
    plain = prepare_splits(patches, seed=1, batch_size=8, augment_train=False)
    splits = prepare_splits(patches, seed=1, batch_size=8, augment_train=False,
                            augment_synthetic=0.5,
                            synthetic_scene=synth.SceneConfig(positive_fraction=1.0))
    train = splits.indices["train"]
    assert all(np.array_equal(splits.indices[k], plain.indices[k]) for k in splits.indices)
    used = set(splits.inserted["background"])
    train_negatives = {patches.paths[i] for i in train if patches.labels[i] == 0}
    held_out = {patches.paths[i] for k in ("val", "test") for i in splits.indices[k]}
    assert used and used <= train_negatives and not used & held_out
    k = round(0.5 * len(train))
    assert len(splits.inserted) == k and splits.counts["train"]["total"] == len(train) + k
    assert splits.counts["train"]["class_1"] == plain.counts["train"]["class_1"] + k
    assert (splits.sources["train"] == -1).sum() == k
    assert splits.counts["test"] == plain.counts["test"]  # held-out splits untouched


def test_augment_synthetic_refusals(tmp_path):
    folder = tmp_path / "patches"
    synth.write_dataset(synth.SceneConfig(), folder, 20, resolution_um=100, seed=0)
    patches = load_patch_folder(folder)
    for bad in (-0.1, 11, float("nan"), True):
        with pytest.raises(ValueError, match="`augment_synthetic`"):
            prepare_splits(patches, seed=0, batch_size=4, augment_synthetic=bad)
    positives = PatchSet(patches.images[patches.labels == 1], patches.labels[patches.labels == 1],
                         [p for p, y in zip(patches.paths, patches.labels, strict=True) if y == 1],
                         patches.source)
    with pytest.raises(ValueError, match="needs negatives"):
        prepare_splits(positives, seed=0, batch_size=4, augment_synthetic=0.5,
                       fractions=(1.0, 0.0, 0.0))
