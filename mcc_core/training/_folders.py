"""Reading patch folders: the `synth` dataset layout and plain ``class_0/`` ``class_1/`` PNGs."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import synth
from mcc_core._validation import _check_int

__all__ = ["CLASS_DIRS", "PatchSet", "load_patch_folder"]

CLASS_DIRS = ("class_0", "class_1")
_PARTIAL = ".mcc-partial"  # bookkeeping folder of an unfinished `synth.write_dataset` run
"""PIL modes of 8- and 16-bit grayscale PNGs, with the value that maps to 1.0."""

@dataclass(frozen=True, eq=False)
class PatchSet:
    """Patches read from one folder by `load_patch_folder`.

    Attributes
    ----------
    images : ndarray of shape (N, H, W, 1), float32 in [0, 1]
        8-bit PNGs divided by 255, 16-bit PNGs by 65535.
    labels : ndarray of shape (N,), int64
        1 when the patch holds a microcalcification cluster.
    paths : list of str
        Each patch's file, relative to `source` (e.g. ``"class_1/000001.png"``).
    source : str
        The folder read, as an absolute path.
    """

    images: np.ndarray
    labels: np.ndarray
    paths: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_patch_folder(path: str | os.PathLike[str], *, input_size: int | None = None
                      ) -> PatchSet:
    """Read a folder of grayscale PNG patches, one subfolder (``class_0/``, ``class_1/``) per class.

    A `synth` dataset is read in the order of its ``patches.csv`` (a sharded one, in index
    order from its tars without unpacking them); plain class folders (such as the MEXBreast
    patch release) in file-name order, class 0 first.

    Parameters
    ----------
    path : str or path-like
    input_size : int, optional
        Side in pixels the model expects (200, 144 or 100 at 50, 70 or 100 µm); patches are
        never resized, so one of another size is refused.

    Returns
    -------
    PatchSet

    Raises
    ------
    ValueError
        If the folder is missing, has no class subfolders, no PNG or one class only; if a PNG
        is unreadable or not 8/16-bit grayscale; if the patches differ in size or from
        `input_size`.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp() + "/patches"
    >>> _ = synth.write_dataset(synth.SceneConfig(), folder, 6, resolution_um=100, seed=0)
    >>> patches = load_patch_folder(folder, input_size=100)
    >>> len(patches), patches.images.shape, patches.images.dtype
    (6, (6, 100, 100, 1), dtype('float32'))
    >>> patches.labels.tolist(), patches.paths[:2]
    ([0, 0, 1, 0, 0, 1], ['class_0/000000.png', 'class_0/000001.png'])

    Patches are never resized:

    >>> load_patch_folder(folder, input_size=144)
    Traceback (most recent call last):
    ...
    ValueError: `input_size`: patches in ... are 100×100 px but the model expects 144×144
    (class_0/000000.png).
    """
    root = _check_folder(path)
    if input_size is not None:
        input_size = _check_int("input_size", input_size, 1)
    if (root / _PARTIAL).exists():
        raise ValueError(f"`path`: {root} holds an unfinished synth dataset ({_PARTIAL}/); "
                         "run the same `mcc synth` command again to finish it.")
    if synth.io.is_sharded(root):
        return _load_shards(root, input_size)
    entries = _list_patches(root)
    first = _read_png(root / entries[0][0])
    shape = first.shape if input_size is None else (input_size, input_size)
    images = np.empty((len(entries), *shape, 1), dtype=np.float32)
    for k, (rel, _) in enumerate(entries):
        image = first if k == 0 else _read_png(root / rel)
        if image.shape != shape:
            raise ValueError(_size_message(root, rel, image.shape, shape, entries[0][0],
                                           input_size is not None))
        images[k, ..., 0] = image
    labels = np.array([label for _, label in entries], dtype=np.int64)
    return PatchSet(images, labels, [rel for rel, _ in entries], str(root))


def _load_shards(root: Path, input_size: int | None) -> PatchSet:
    """A sharded `synth` dataset (``shards.json``), read without unpacking its tars."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    for name, image, label in synth.io.iter_shard_patches(root):
        shape = image.shape if not images else images[0].shape
        if input_size is not None:
            shape = (input_size, input_size)
        if image.shape != shape:
            raise ValueError(_size_message(root, name, image.shape, shape,
                                           names[0] if names else name, input_size is not None))
        images.append(image)
        labels.append(label)
        names.append(name)
    counts = np.bincount(labels, minlength=2)
    if counts.min() == 0:
        raise ValueError(f"`path`: {root} holds patches of one class only (class "
                         f"{int(counts.argmin())} has none); both classes are needed.")
    return PatchSet(np.stack(images)[..., None], np.asarray(labels, dtype=np.int64), names,
                    str(root))


def _check_folder(path: object) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a str or path-like; got {type(path).__name__}.")
    root = Path(path).expanduser()
    if not root.exists():
        raise ValueError(f"`path`: there is no folder {root}.")
    if not root.is_dir():
        raise ValueError(f"`path`: {root} is a file, not a folder of patches.")
    return root.resolve()


def _list_patches(root: Path) -> list[tuple[str, int]]:
    """(relative path, label) of every patch, from ``patches.csv`` or the class folders."""
    if (root / "patches.csv").is_file():
        entries = _entries_from_csv(root)
    else:
        entries = _entries_from_folders(root)
    if not entries:
        raise ValueError(f"`path`: {root} holds no PNG patches in class_0/ or class_1/.")
    counts = np.bincount([label for _, label in entries], minlength=2)
    if counts.min() == 0:
        raise ValueError(f"`path`: {root} holds patches of one class only (class_"
                         f"{int(counts.argmin())}/ has none); both classes are needed.")
    return entries


def _entries_from_folders(root: Path) -> list[tuple[str, int]]:
    if not any((root / name).is_dir() for name in CLASS_DIRS):
        raise ValueError(f"`path`: {root} has neither a class_0/ nor a class_1/ subfolder "
                         "(one folder of PNG patches per class is expected).")
    entries: list[tuple[str, int]] = []
    for label, name in enumerate(CLASS_DIRS):
        folder = root / name
        if folder.is_dir():
            files = sorted(p.name for p in folder.iterdir() if p.is_file()
                           and p.suffix.lower() == ".png" and not p.name.startswith("."))
            entries += [(f"{name}/{file}", label) for file in files]
    return entries


def _entries_from_csv(root: Path) -> list[tuple[str, int]]:
    table = root / "patches.csv"
    try:
        with open(table, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"`path`: cannot read {table} ({err}).") from err
    if not {"path", "label"} <= set(columns):
        raise ValueError(f"`path`: {table} needs the columns path and label; got {columns}.")
    entries = []
    for line, row in enumerate(rows, start=2):
        rel, label = row["path"], row["label"]
        if label not in ("0", "1"):
            raise ValueError(f"`path`: {table}, line {line}: the label must be 0 or 1; "
                             f"got label={label!r}.")
        if not (root / rel).is_file():
            raise ValueError(f"`path`: {table} lists {rel}, which is missing from {root}.")
        entries.append((rel, int(label)))
    return entries


def _read_png(file: Path) -> np.ndarray:
    """One 8- or 16-bit grey PNG as float32 in [0, 1], shape (H, W) (`synth.read_grey_image`)."""
    return synth.read_grey_image(file, field="path").unit


def _size_message(root: Path, rel: str, found: tuple[int, ...], expected: tuple[int, ...],
                  first: str, from_input_size: bool) -> str:
    size, want = "×".join(map(str, found)), "×".join(map(str, expected))
    if from_input_size:
        return (f"`input_size`: patches in {root} are {size} px but the model expects "
                f"{want} ({rel}).")
    return (f"`path`: patches in {root} must all share one size; {rel} is {size} px but "
            f"{first} is {want}.")
