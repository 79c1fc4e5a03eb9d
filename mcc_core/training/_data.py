"""Patch data: stratified splits, the papers' geometric augmentation, and ``tf.data``
pipelines fed from arrays or generated on the fly by `synth` (folders are read in `_folders`).

Splitting and augmentation are pure NumPy; only `to_dataset`, `prepare_splits` and
`synthetic_dataset` build TensorFlow objects. Augmentation is applied *after* the split, within
each subset, so no transformed copy of a patch can land in another subset than its original.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

import synth
from mcc_core._tf import tf
from mcc_core._validation import (
    _check_bool,
    _check_config,
    _check_fractions,
    _check_images,
    _check_int,
    _check_labels,
)
from mcc_core.training._folders import PatchSet

__all__ = [
    "AUGMENTATIONS",
    "Splits",
    "augment",
    "prepare_splits",
    "shard_dataset",
    "split_indices",
    "synthetic_arrays",
    "synthetic_dataset",
    "to_dataset",
]

SPLIT_NAMES = ("train", "val", "test")

_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "original": lambda x: x,
    "fliplr": lambda x: np.flip(x, axis=2),
    "rot180": lambda x: np.rot90(x, 2, axes=(1, 2)),
    "flipud_rot180": lambda x: np.rot90(np.flip(x, axis=1), 2, axes=(1, 2)),
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
}
AUGMENTATIONS: tuple[str, ...] = tuple(_TRANSFORMS)
"""The blocks of `augment`'s output, in order. An up-down flip followed by a 180° rotation *is*
a left-right flip, so blocks 1 and 3 are equal; both are kept, as the papers list them."""


# --------------------------------------------------------------------------- splitting


def split_indices(labels: np.ndarray | Sequence[int], *,
                  fractions: Sequence[float] = (0.64, 0.16, 0.20), seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified random split into train, validation and test indices.

    Each class is shuffled by ``numpy.random.default_rng(seed)`` and cut at the rounded
    cumulative fractions: each subset holds ``fraction × class count`` (± 1) of each class,
    and every index lies in exactly one subset.

    Parameters
    ----------
    labels : array-like of shape (N,), int
    fractions : (float, float, float)
        Train, validation and test shares (>= 0, sum 1); the papers' 64/16/20 % by default.
    seed : int

    Returns
    -------
    train, val, test : ndarray of shape (n_subset,), int64
        Indices into `labels`, sorted.

    Examples
    --------
    10 negatives and 15 positives: 6 + 10 train, 2 + 2 validation, 2 + 3 test.

    >>> labels = np.array([0] * 10 + [1] * 15)
    >>> train, val, test = split_indices(labels, seed=0)
    >>> len(train), len(val), len(test)
    (16, 4, 5)
    >>> np.bincount(labels[test]).tolist()
    [2, 3]
    >>> np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(25))
    True
    """
    array = _check_labels(labels)
    if len(array) == 0:
        raise ValueError("`labels` must hold at least one label; got an empty array.")
    shares = _check_fractions(fractions)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for value in np.unique(array):
        members = rng.permutation(np.flatnonzero(array == value))
        cuts = np.rint(np.cumsum(shares)[:2] * len(members)).astype(np.int64)
        for part, chunk in zip(parts, np.split(members, cuts), strict=True):
            part.append(chunk)
    train, val, test = (np.sort(np.concatenate(part)).astype(np.int64) for part in parts)
    return train, val, test


# --------------------------------------------------------------------------- augmentation


def augment(images: np.ndarray, labels: np.ndarray | Sequence[int]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The originals plus the papers' four geometric transforms of each patch (5× the input).

    Apply it within one subset, after splitting. Five blocks of N rows, in the order of
    `AUGMENTATIONS`: originals, left-right flip, 180° rotation, up-down flip then 180°
    rotation, 90° counter-clockwise rotation.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, 1)
        Square patches (H == W).
    labels : array-like of shape (N,), int

    Returns
    -------
    images : ndarray of shape (5N, H, W[, 1]), same dtype as the input
    labels : ndarray of shape (5N,), int64
    source_index : ndarray of shape (5N,), int64
        The input row each output row was made from (``labels[source_index]`` = labels).

    Examples
    --------
    >>> images = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    >>> out, labels, source = augment(images, [0, 1])
    >>> out.shape, labels.tolist(), source.tolist()
    ((10, 2, 2), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    >>> images[0]
    array([[0., 1.],
           [2., 3.]], dtype=float32)

    Block 1 is the left-right flip, block 4 the 90° counter-clockwise rotation:

    >>> out[2]
    array([[1., 0.],
           [3., 2.]], dtype=float32)
    >>> out[8]
    array([[1., 3.],
           [0., 2.]], dtype=float32)
    """
    array = np.asarray(images)
    if array.ndim not in (3, 4) or array.shape[1] != array.shape[2]:
        raise ValueError("`images` must have shape (N, H, W) or (N, H, W, 1) with H == W (the "
                         f"90° rotation needs square patches); got shape {array.shape}.")
    targets = _check_labels(labels, len(array))
    out = np.concatenate([transform(array) for transform in _TRANSFORMS.values()])
    source = np.tile(np.arange(len(array), dtype=np.int64), len(_TRANSFORMS))
    return out, targets[source], source


# --------------------------------------------------------------------------- tf.data


def to_dataset(images: np.ndarray, labels: np.ndarray | Sequence[int], *, batch_size: int,
               shuffle_seed: int | None = None) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data.Dataset`` of patches and labels.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, 1), values in [0, 1]
    labels : array-like of shape (N,), int in {0, 1}
    batch_size : int
        >= 1; the last batch may be smaller.
    shuffle_seed : int, optional
        Shuffle the whole set with this seed, anew each epoch (repeatably); None keeps order.

    Returns
    -------
    tf.data.Dataset
        Elements ``(images, labels)``: float32 of shape (B, H, W, 1) and float32 of shape (B,).

    Examples
    --------
    >>> dataset = to_dataset(np.zeros((5, 100, 100), np.float32), [0, 1, 0, 1, 1], batch_size=2)
    >>> [tuple(x.shape) for x, _ in dataset]
    [(2, 100, 100, 1), (2, 100, 100, 1), (1, 100, 100, 1)]
    >>> [y.numpy().tolist() for _, y in dataset]
    [[0.0, 1.0], [0.0, 1.0], [1.0]]
    """
    array = _check_images(images).astype(np.float32, copy=False)
    targets = _check_labels(labels, len(array))
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError("`images` must lie within [0, 1]; got values in "
                         f"[{array.min():g}, {array.max():g}].")
    if not np.isin(targets, (0, 1)).all():
        raise ValueError(f"`labels` must be 0 or 1; got values {np.unique(targets).tolist()}.")
    batch_size = _check_int("batch_size", batch_size, 1)
    dataset = tf.data.Dataset.from_tensor_slices((array, targets.astype(np.float32)))
    if shuffle_seed is not None:
        seed = _check_int("shuffle_seed", shuffle_seed, 0)
        dataset = dataset.shuffle(max(len(targets), 1), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def shard_dataset(folder: str | Any, *, batch_size: int, shuffle_seed: int | None = None,
                  repeat: bool = False, parallel_shards: int = 4) -> tf.data.Dataset:
    """Stream a sharded `synth` dataset (``dataset_format="shards"``) without unpacking it.

    Each shard is read once (`tf.io.read_file`) and its PNGs are cut out at the byte offsets
    of the shard index and decoded in the graph (`tf.io.decode_png`), several shards at a time,
    so the patches never pass through Python.

    Parameters
    ----------
    folder : path
        The dataset folder (with ``shards.json``).
    batch_size : int
    shuffle_seed : int, optional
        Shuffle the shard order and the patches (a buffer of one shard) anew each epoch,
        repeatably; None keeps index order.
    repeat : bool
        Repeat without end (training by steps).
    parallel_shards : int
        Shards read and decoded at once.

    Returns
    -------
    tf.data.Dataset
        Elements ``(images, labels)``: float32 (B, H, W, 1) in [0, 1] and float32 (B,), the
        same values as `load_patch_folder` reads.

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = synth.write_dataset(synth.SceneConfig(), out, 5, resolution_um=100, seed=0,
    ...                         dataset_format="shards")
    >>> [(tuple(x.shape), y.numpy().tolist()) for x, y in shard_dataset(out, batch_size=4)]
    [((4, 100, 100, 1), [0.0, 0.0, 1.0, 0.0]), ((1, 100, 100, 1), [0.0])]
    """
    from pathlib import Path

    root = Path(folder)
    index = synth.io.read_shard_index(root, field="folder")
    batch_size = _check_int("batch_size", batch_size, 1)
    parallel_shards = _check_int("parallel_shards", parallel_shards, 1)
    entries = index["shards"]
    size = synth.patch_size_px(int(index["resolution_um"]))
    dtype = tf.uint16 if int(index.get("bit_depth", 8)) == 16 else tf.uint8
    peak = 65535.0 if dtype == tf.uint16 else 255.0
    paths = tf.constant([str(root / e["path"]) for e in entries])
    offsets = tf.ragged.constant([e["png_offsets"] for e in entries], dtype=tf.int64)
    sizes = tf.ragged.constant([e["png_sizes"] for e in entries], dtype=tf.int64)
    labels = tf.ragged.constant([e["labels"] for e in entries], dtype=tf.float32)

    def one_shard(k: Any) -> tf.data.Dataset:
        data = tf.io.read_file(paths[k])

        def decode(offset: Any, length: Any, label: Any) -> tuple[Any, Any]:
            image = tf.io.decode_png(tf.strings.substr(data, offset, length), channels=1,
                                     dtype=dtype)
            image = tf.ensure_shape(tf.cast(image, tf.float32) / peak, (size, size, 1))
            return image, label

        return tf.data.Dataset.from_tensor_slices((offsets[k], sizes[k], labels[k])).map(
            decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    order = tf.data.Dataset.range(len(entries))
    if shuffle_seed is not None:
        seed = _check_int("shuffle_seed", shuffle_seed, 0)
        order = order.shuffle(len(entries), seed=seed, reshuffle_each_iteration=True)
    dataset = order.interleave(one_shard, cycle_length=min(parallel_shards, len(entries)),
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(int(index.get("patches_per_shard", 2048)), seed=seed,
                                  reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test datasets made by `prepare_splits`.

    Attributes
    ----------
    train, val, test : tf.data.Dataset
        Batches of (float32 (B, H, W, 1), float32 (B,)); `train` is shuffled every epoch.
    indices : dict of str to ndarray of int64
        ``"train"``, ``"val"``, ``"test"``: the PatchSet rows of each subset, before augmentation.
    sources : dict of str to ndarray of int64
        The PatchSet row of every example of each dataset (after augmentation, before
        shuffling); with augmentation each row appears 5 times.
    counts : dict of str to dict of str to int
        Per subset, the examples of ``"class_0"``, ``"class_1"`` and their ``"total"``.
    inserted : DataFrame or None
        With ``augment_synthetic``: one row per inserted training patch (`synth.insert`'s
        table; ``background`` is the PatchSet path of the training negative it was made
        from). Their `sources` entries are -1.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    indices: dict[str, np.ndarray]
    sources: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]
    inserted: Any = None


MAX_AUGMENT_SYNTHETIC = 10.0
"""The largest ``augment_synthetic``: inserted patches per training patch."""


def prepare_splits(patchset: PatchSet, *, seed: int, batch_size: int,
                   augment_train: bool = True, augment_eval: bool = False,
                   fractions: Sequence[float] = (0.64, 0.16, 0.20),
                   augment_synthetic: float = 0.0,
                   synthetic_scene: synth.SceneConfig | None = None) -> Splits:
    """Split a PatchSet (stratified), augment within each subset, and batch each subset.

    `seed` seeds the split (`split_indices`, with `fractions`) and the training set's
    shuffling. `augment_train` applies `augment` to the training subset (as the papers do),
    `augment_eval` to the validation and test subsets. Returns a `Splits`.

    `augment_synthetic` (a fraction f > 0) adds round(f × training patches) patches made by
    inserting `synthetic_scene`'s MCs (default ``synth.SceneConfig()``: positives and hard
    negatives) into the training split's own negatives, after the split, so no validation or
    test background is ever seen in training (`synth.backgrounds_from_arrays`,
    `synth.insert` with `seed`).

    Examples
    --------
    25 patches (14 without, 11 with a cluster) give 16/4/5; the 16 training patches are
    augmented to 80 examples:

    >>> import tempfile
    >>> import synth
    >>> from mcc_core import load_patch_folder
    >>> folder = tempfile.mkdtemp() + "/patches"
    >>> _ = synth.write_dataset(synth.SceneConfig(), folder, 25, resolution_um=100, seed=0)
    >>> splits = prepare_splits(load_patch_folder(folder), seed=0, batch_size=8)
    >>> {name: len(rows) for name, rows in splits.indices.items()}
    {'train': 16, 'val': 4, 'test': 5}
    >>> splits.counts["train"]
    {'class_0': 45, 'class_1': 35, 'total': 80}
    >>> x, y = next(iter(splits.train))
    >>> tuple(x.shape), tuple(y.shape)
    ((8, 100, 100, 1), (8,))
    """
    if not isinstance(patchset, PatchSet):
        raise TypeError(f"`patchset` must be a PatchSet; got {type(patchset).__name__}.")
    if isinstance(augment_synthetic, bool) or not isinstance(augment_synthetic, (int, float)) \
            or not 0.0 <= augment_synthetic <= MAX_AUGMENT_SYNTHETIC:
        raise ValueError(f"`augment_synthetic` must be a fraction from 0 to "
                         f"{MAX_AUGMENT_SYNTHETIC:g}; got augment_synthetic="
                         f"{augment_synthetic!r}.")
    flags = {"train": _check_bool("augment_train", augment_train),
             "val": _check_bool("augment_eval", augment_eval), "test": augment_eval}
    batch_size = _check_int("batch_size", batch_size, 1)
    parts = split_indices(patchset.labels, fractions=fractions, seed=seed)
    indices = dict(zip(SPLIT_NAMES, parts, strict=True))
    datasets: dict[str, Any] = {}
    sources, counts = {}, {}
    inserted = None
    for name, rows in indices.items():
        images, labels, source = patchset.images[rows], patchset.labels[rows], rows
        if name == "train" and augment_synthetic > 0:
            extra = _inserted(patchset, rows, augment_synthetic, synthetic_scene, seed)
            inserted = extra.patches
            images = np.concatenate([images, extra.images[..., None]])
            labels = np.concatenate([labels, extra.labels.astype(labels.dtype)])
            source = np.concatenate([rows, np.full(len(extra), -1, dtype=rows.dtype)])
        if flags[name]:
            images, labels, within = augment(images, labels)
            source = source[within]
        datasets[name] = to_dataset(images, labels, batch_size=batch_size,
                                    shuffle_seed=seed if name == "train" else None)
        sources[name] = source
        counts[name] = {"class_0": int(np.sum(labels == 0)), "class_1": int(np.sum(labels == 1)),
                        "total": len(labels)}
    return Splits(**datasets, indices=indices, sources=sources, counts=counts,
                  inserted=inserted)


def _inserted(patchset: PatchSet, rows: np.ndarray, fraction: float,
              scene: synth.SceneConfig | None, seed: int) -> synth.Batch:
    """Patches with MCs inserted into the negatives among `rows` (the training split)."""
    negatives = rows[patchset.labels[rows] == 0]
    if not len(negatives):
        raise ValueError("`augment_synthetic` needs negatives in the training split; got a "
                         "training split without class-0 patches.")
    size = patchset.images.shape[1]
    resolution = {synth.patch_size_px(r): r for r in synth.RESOLUTIONS_UM}.get(size)
    if resolution is None:
        raise ValueError(f"`augment_synthetic` needs patches of a model resolution "
                         f"({', '.join(str(synth.patch_size_px(r)) for r in synth.RESOLUTIONS_UM)}"
                         f" px); got {size} px.")
    backgrounds = synth.backgrounds_from_arrays(
        patchset.images[negatives, ..., 0], [patchset.paths[int(i)] for i in negatives],
        resolution_um=resolution, field="augment_synthetic")
    count = max(1, int(round(fraction * len(rows))))
    return synth.insert(backgrounds, scene or synth.SceneConfig(), count, seed=seed)


# --------------------------------------------------------------------------- synthetic data


def synthetic_dataset(config: synth.SceneConfig, *, resolution_um: int, seed: int,
                      batch_size: int, n_batches: int | None = None, block: int = 512,
                      processes: int = 1) -> tf.data.Dataset:
    """Batches of `synth` patches generated on the fly, in the background, while a model trains.

    Batch k holds dataset indices ``[k * batch_size, (k + 1) * batch_size)`` of `seed`: the
    stream is the same on every run and every pass (each starts at batch 0), whatever the timing.
    A helper thread generates the next block while the current one is consumed (blocks grow
    from one batch to `block` patches, so a pass starts after one batch's work); with
    ``processes > 1`` the blocks are rendered in worker processes, out of reach of the training
    process's interpreter lock (scripts must then guard their entry point with
    ``if __name__ == "__main__":``, as with any multiprocessing).

    Parameters
    ----------
    config : synth.SceneConfig
    resolution_um : int
        50, 70 or 100 µm per pixel (patches of 200, 144 or 100 px).
    seed : int
        Dataset seed (>= 0), as in ``synth.generate``.
    batch_size : int
    n_batches : int, optional
        Batches per pass; None streams forever (give Keras ``steps_per_epoch``).
    block : int
        Patches per ``synth.generate_indices`` call, rounded down to whole batches (at least
        one).
    processes : int
        Worker processes rendering each block (`synth.generate`'s `processes`).

    Returns
    -------
    tf.data.Dataset
        Elements: float32 of shape (batch_size, H, W, 1), float32 of shape (batch_size,).

    Examples
    --------
    Two batches of 8 patches at 100 µm: the first 16 patches of seed 0, as `synthetic_arrays`
    gives them.

    >>> dataset = synthetic_dataset(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                             batch_size=8, n_batches=2)
    >>> batches = list(dataset)
    >>> [(tuple(x.shape), tuple(y.shape)) for x, y in batches]
    [((8, 100, 100, 1), (8,)), ((8, 100, 100, 1), (8,))]
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 16, resolution_um=100, seed=0)
    >>> np.array_equal(np.concatenate([x for x, _ in batches]), images)
    True
    >>> np.array_equal(np.concatenate([y for _, y in batches]), labels)
    True
    """
    config = _check_config(config)
    size = synth.patch_size_px(_check_int("resolution_um", resolution_um, 1))
    seed = _check_int("seed", seed, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    if n_batches is not None:
        n_batches = _check_int("n_batches", n_batches, 1)
    per_block = max(1, _check_int("block", block, 1) // batch_size)

    def make(k: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Batches k, ..., k + count - 1, concatenated."""
        rows = range(k * batch_size, (k + count) * batch_size)
        made = synth.generate_indices(config, rows, resolution_um=resolution_um, seed=seed,
                                      processes=processes)
        return made.images[..., np.newaxis], made.labels.astype(np.float32)

    def blocks() -> Iterator[tuple[int, int]]:
        """(first batch, batch count) of each block: 1, 2, 4, ... batches up to `per_block`,
        so a new pass waits for one batch, not for a whole block."""
        k, count = 0, 1
        while n_batches is None or k < n_batches:
            count = min(count, per_block) if n_batches is None else min(
                count, per_block, n_batches - k)
            yield k, count
            k, count = k + count, 2 * count

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield one block's batches while a helper thread generates the next block."""
        plan = blocks()
        ahead = ThreadPoolExecutor(1, thread_name_prefix="mcc-synthetic-dataset")
        try:
            upcoming: Future | None = ahead.submit(make, *next(plan))
            while upcoming is not None:
                images, labels = upcoming.result()
                following = next(plan, None)
                upcoming = None if following is None else ahead.submit(make, *following)
                for j in range(0, len(labels), batch_size):
                    yield images[j:j + batch_size], labels[j:j + batch_size]
        finally:
            ahead.shutdown(wait=False, cancel_futures=True)

    signature = (tf.TensorSpec((batch_size, size, size, 1), tf.float32),
                 tf.TensorSpec((batch_size,), tf.float32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.prefetch(tf.data.AUTOTUNE)


def synthetic_arrays(config: synth.SceneConfig, n: int, *, resolution_um: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """`n` synthetic patches as arrays (``synth.generate`` with a channel axis).

    Returns
    -------
    images : ndarray of shape (n, H, W, 1), float32 in [0, 1]
    labels : ndarray of shape (n,), int64

    Examples
    --------
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 6, resolution_um=100, seed=0)
    >>> images.shape, images.dtype, labels.tolist()
    ((6, 100, 100, 1), dtype('float32'), [0, 0, 1, 0, 0, 1])
    >>> bool(images.min() >= 0.0 and images.max() <= 1.0)
    True
    """
    config = _check_config(config)
    n = _check_int("n", n, 1)
    resolution_um = _check_int("resolution_um", resolution_um, 1)
    batch = synth.generate(config, n, resolution_um=resolution_um,
                           seed=_check_int("seed", seed, 0))
    return batch.images[..., np.newaxis], batch.labels.astype(np.int64)
