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
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    indices: dict[str, np.ndarray]
    sources: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]


def prepare_splits(patchset: PatchSet, *, seed: int, batch_size: int,
                   augment_train: bool = True, augment_eval: bool = False,
                   fractions: Sequence[float] = (0.64, 0.16, 0.20)) -> Splits:
    """Split a PatchSet (stratified), augment within each subset, and batch each subset.

    `seed` seeds the split (`split_indices`, with `fractions`) and the training set's
    shuffling. `augment_train` applies `augment` to the training subset (as the papers do),
    `augment_eval` to the validation and test subsets. Returns a `Splits`.
    """
    if not isinstance(patchset, PatchSet):
        raise TypeError(f"`patchset` must be a PatchSet; got {type(patchset).__name__}.")
    flags = {"train": _check_bool("augment_train", augment_train),
             "val": _check_bool("augment_eval", augment_eval), "test": augment_eval}
    batch_size = _check_int("batch_size", batch_size, 1)
    parts = split_indices(patchset.labels, fractions=fractions, seed=seed)
    indices = dict(zip(SPLIT_NAMES, parts, strict=True))
    datasets: dict[str, Any] = {}
    sources, counts = {}, {}
    for name, rows in indices.items():
        images, labels, source = patchset.images[rows], patchset.labels[rows], rows
        if flags[name]:
            images, labels, within = augment(images, labels)
            source = rows[within]
        datasets[name] = to_dataset(images, labels, batch_size=batch_size,
                                    shuffle_seed=seed if name == "train" else None)
        sources[name] = source
        counts[name] = {"class_0": int(np.sum(labels == 0)), "class_1": int(np.sum(labels == 1)),
                        "total": len(labels)}
    return Splits(**datasets, indices=indices, sources=sources, counts=counts)


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
    """
    config = _check_config(config)
    n = _check_int("n", n, 1)
    resolution_um = _check_int("resolution_um", resolution_um, 1)
    batch = synth.generate(config, n, resolution_um=resolution_um,
                           seed=_check_int("seed", seed, 0))
    return batch.images[..., np.newaxis], batch.labels.astype(np.int64)
