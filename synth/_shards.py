"""Reading a sharded dataset (``dataset_format="shards"``) without unpacking it.

The shard index (``shards.json``) gives the byte offset and size of every patch's PNG inside
its tar, so a reader needs no tar parsing: it reads each shard once and decodes the PNGs at
those offsets (here, and in `mcc_core`'s `tf.data` reader). The WebDataset library reads the
same tars by their member names (``KEY.png``, ``KEY.json``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._dataset import SHARD_INDEX, key_width
from ._images import read_grey_image

__all__ = ["is_sharded", "iter_shard_patches", "read_shard_index"]


def is_sharded(folder: str | os.PathLike[str]) -> bool:
    """Whether `folder` holds a sharded dataset (its shard index).

    Examples
    --------
    >>> import tempfile
    >>> import synth
    >>> from synth import io
    >>> out = tempfile.mkdtemp()
    >>> _ = synth.write_dataset(synth.SceneConfig(), out, 4, resolution_um=100, seed=0,
    ...                         dataset_format="shards")
    >>> io.is_sharded(out), io.is_sharded(tempfile.mkdtemp())
    (True, False)
    """
    return (Path(folder) / SHARD_INDEX).is_file()


def read_shard_index(folder: str | os.PathLike[str], *, field: str = "path") -> dict[str, Any]:
    """The shard index of a sharded dataset, checked; ValueError naming `field` otherwise.

    Examples
    --------
    >>> import tempfile
    >>> import synth
    >>> from synth import io
    >>> out = tempfile.mkdtemp()
    >>> _ = synth.write_dataset(synth.SceneConfig(), out, 5, resolution_um=100, seed=0,
    ...                         dataset_format="shards")
    >>> entry = io.read_shard_index(out)["shards"][0]
    >>> entry["path"], entry["count"], entry["labels"], entry["png_offsets"][0]
    ('shards/shard-000000.tar', 5, [0, 0, 1, 0, 0], 512)
    >>> io.read_shard_index(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: `path`: cannot read .../shards.json (FileNotFoundError).
    """
    root = Path(folder)
    try:
        index = json.loads((root / SHARD_INDEX).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"`{field}`: cannot read {root / SHARD_INDEX} "
                         f"({type(exc).__name__}).") from None
    shards = index.get("shards") if isinstance(index, dict) else None
    if not isinstance(shards, list) or not shards:
        raise ValueError(f"`{field}`: {root / SHARD_INDEX} lists no shards.")
    for entry in shards:
        keys = ("path", "labels", "png_offsets", "png_sizes")
        if not isinstance(entry, dict) or any(k not in entry for k in keys) or not (
                len(entry["labels"]) == len(entry["png_offsets"]) == len(entry["png_sizes"])):
            raise ValueError(f"`{field}`: {root / SHARD_INDEX} has a malformed shard entry.")
        rel = str(entry["path"])
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ValueError(f"`{field}`: {root / SHARD_INDEX} names a shard outside the "
                             f"dataset ({rel!r}).")
        if not (root / rel).is_file():
            raise ValueError(f"`{field}`: {root / SHARD_INDEX} lists {rel}, which is missing "
                             f"from {root}.")
        size = (root / rel).stat().st_size
        numbers = [*entry["png_offsets"], *entry["png_sizes"]]
        if not all(type(v) is int and v >= 0 for v in numbers) or any(
                o + n > size for o, n in zip(entry["png_offsets"], entry["png_sizes"],
                                             strict=True)):
            raise ValueError(f"`{field}`: {root / SHARD_INDEX} gives byte ranges outside "
                             f"{rel} (a truncated or edited file? `mcc synth verify`).")
        if not all(v in (0, 1) and type(v) is int for v in entry["labels"]):
            raise ValueError(f"`{field}`: {root / SHARD_INDEX} gives labels other than 0 "
                             f"and 1 in {rel}.")
    if index.get("resolution_um") not in (50, 70, 100) or index.get("bit_depth") not in (8, 16):
        raise ValueError(f"`{field}`: {root / SHARD_INDEX} gives no valid resolution_um "
                         "(50, 70, 100) and bit_depth (8, 16).")
    return index


def iter_shard_patches(folder: str | os.PathLike[str], *, field: str = "path"
                       ) -> Iterator[tuple[str, np.ndarray, int]]:
    """Every patch of a sharded dataset in index order: its name
    (``shards/shard-000000.tar#000123.png``), its pixels as float32 in [0, 1] and its label.

    Examples
    --------
    >>> import tempfile
    >>> import synth
    >>> from synth import io
    >>> out = tempfile.mkdtemp()
    >>> _ = synth.write_dataset(synth.SceneConfig(), out, 4, resolution_um=100, seed=0,
    ...                         dataset_format="shards")
    >>> for name, image, label in io.iter_shard_patches(out):
    ...     print(name, image.shape, image.dtype, label)
    shards/shard-000000.tar#000000.png (100, 100) float32 0
    shards/shard-000000.tar#000001.png (100, 100) float32 0
    shards/shard-000000.tar#000002.png (100, 100) float32 1
    shards/shard-000000.tar#000003.png (100, 100) float32 0
    """
    root = Path(folder)
    index = read_shard_index(root, field=field)
    width = key_width(int(index.get("n", 1)))
    for entry in index["shards"]:
        data = (root / entry["path"]).read_bytes()
        first = int(entry.get("first", 0))
        for k, (offset, size, label) in enumerate(zip(entry["png_offsets"], entry["png_sizes"],
                                                      entry["labels"], strict=True)):
            name = f"{entry['path']}#{first + k:0{width}d}.png"
            if offset < 0 or offset + size > len(data):
                raise ValueError(f"`{field}`: {name} lies outside its shard (a truncated "
                                 "file? `mcc synth verify` checks it).")
            image = read_grey_image(data[offset:offset + size], field=field)
            yield name, image.unit, int(label)
