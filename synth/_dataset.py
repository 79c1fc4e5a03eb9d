"""Datasets on disk: PNG class folders, CSV tables and a manifest; atomic and resumable.

Layout (see docs/architecture.md)::

    out/manifest.json          config, seed, counts, SHA-256 of every file (written last)
    out/patches.csv            one row per patch
    out/calcifications.csv     one row per MC
    out/class_0/000000.png …   8- or 16-bit grayscale
    out/class_1/000001.png …
    out/masks/000001.png       optional, 0/255

or, with ``dataset_format="shards"`` (millions of patches, shared storage, streaming reads),
WebDataset-style tar shards of `SHARD` patches in place of the class and mask folders::

    out/shards/shard-000000.tar   000000.png, 000000.json (the patch's row and MCs),
                                  000000.mask.png (optional), 000001.png, …
    out/shards.json               the shard index: each shard's patches, labels, SHA-256 and
                                  the byte offset and size of every PNG inside it

While a run is under way its bookkeeping lives in ``out/.mcc-partial/``: one record per finished
chunk of patches. Every file is written under a temporary name and renamed into place, so an
interrupted run leaves no half-written file, and running it again redoes only the missing chunks
and ends with exactly the bytes of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import multiprocessing
import os
import shutil
import signal
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from . import _cluster
from ._atomic import LOCK_NAME, HashedAtomicFile, folder_lock, write_atomic
from ._config import SceneConfig, check_resolution, patch_size_px
from ._generate import check_count, check_seed, generate_indices
from ._insert import Backgrounds, insert_indices

FORMAT_VERSION = 1
CHUNK = 256
"""Patches per unit of work (one record in the bookkeeping) of a PNG-folder dataset."""
SHARD = 2048
"""The default patches per tar shard (and per unit of work) of a sharded dataset: about 10, 25
and 50 MB at 100, 70 and 50 µm and 8 bits."""
MAX_SHARD = 65536
SHARDS = "shards"
SHARD_INDEX = "shards.json"
DATASET_FORMATS = ("png", "shards")
STORAGE = ("auto", "shared", "client")
TASK_PATCHES = 2048
"""On a cluster, consecutive PNG chunks are grouped into tasks of up to this many patches, so
the scheduler handles about one task per second per worker (docs/architecture.md)."""
PARTIAL = ".mcc-partial"
_OWN = ("manifest.json", "patches.csv", "calcifications.csv", "class_0", "class_1", "masks",
        SHARDS, SHARD_INDEX, PARTIAL, LOCK_NAME, ".mcc-replacing.json")
_FOLDERS = ("class_0", "class_1", "masks", SHARDS)
REPLACING = ".mcc-replacing.json"
"""While `overwrite` deletes a dataset: the files it deletes (so a kill midway is finished by
the next run, and never leaves a folder that claims to be complete)."""

Progress = Callable[[int], None]


def write_dataset(
    config: SceneConfig,
    out_dir: str | os.PathLike[str],
    n: int,
    *,
    resolution_um: int,
    seed: int,
    workers: int = 1,
    bit_depth: int = 8,
    masks: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    backgrounds: Backgrounds | None = None,
    dataset_format: str = "png",
    shard_size: int = SHARD,
    client: Any = None,
    storage: str = "auto",
    message: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write `n` patches of `config` to `out_dir` and return the manifest.

    Parameters
    ----------
    config : SceneConfig
    out_dir : path
        Empty or missing folder, or one holding this same dataset (complete: nothing is done;
        interrupted: the run resumes). Another dataset there is refused unless `overwrite`.
    n : int
    resolution_um : int
        50, 70 or 100.
    seed : int
        Patch i is ``synth.generate`` of (seed, i): the files do not depend on `workers`.
    workers : int
        Processes that render and encode chunks in parallel.
    bit_depth : {8, 16}
    masks : bool
        Also write each patch's MC mask to ``masks/``.
    overwrite : bool
        Replace a dataset of another config or seed found in `out_dir`.
    progress : callable, optional
        Called with the number of patches finished so far (after each chunk).
    backgrounds : synth.Backgrounds, optional
        Insert `config`'s MCs into these (the user's MC-free images, `synth.load_backgrounds`)
        instead of rendering synthetic tissue: patch i is ``synth.insert_indices`` of
        (seed, i), and the manifest names every background by file name and SHA-256, so the
        dataset can be rebuilt given the same files. `resolution_um` must be theirs.
    dataset_format : {"png", "shards"}
        Class folders of PNG files, or WebDataset-style tar shards of `shard_size` patches
        (``shards/`` and the index ``shards.json``; the tables and manifest as for PNGs).
    shard_size : int
        Patches per shard (a multiple of 256, at most 65536), with ``"shards"``.
    client : distributed.Client, optional
        Render and encode on this Dask cluster (`synth.cluster.connect`; the `dask` extra).
        The files are byte-identical to a local run whatever the number of workers and the
        order their tasks finish in; a task whose worker dies is run again elsewhere.
    storage : {"auto", "shared", "client"}
        With `client`: whether the workers write into `out_dir` themselves ("shared": it is on
        storage they all see) or return the bytes for this process to write ("client").
        "auto" writes a probe file and asks every worker whether it sees it.
    message : callable, optional
        Called with one line saying how a cluster run writes (workers, storage).

    Returns
    -------
    dict
        The manifest (also in ``out_dir/manifest.json``).

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import synth
    >>> out = tempfile.mkdtemp()
    >>> manifest = synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=100, seed=0,
    ...                                masks=True)
    >>> manifest["counts"], len(manifest["files"])  # 8 PNGs, 8 masks, 2 CSV tables
    ({'class_0': 4, 'class_1': 4}, 18)
    >>> sorted(os.listdir(out))
    ['calcifications.csv', 'class_0', 'class_1', 'manifest.json', 'masks', 'patches.csv']
    >>> sorted(os.listdir(os.path.join(out, "class_1")))
    ['000002.png', '000005.png', '000006.png', '000007.png']

    Running it again finds the dataset complete and writes nothing:

    >>> done = []
    >>> again = synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=100, seed=0,
    ...                             masks=True, progress=done.append)
    >>> again == manifest, done
    (True, [8])
    """
    identity = _identity(config, n, resolution_um, seed, bit_depth, masks)
    if dataset_format not in DATASET_FORMATS:
        raise ValueError(f"`dataset_format` must be one of {DATASET_FORMATS}; got "
                         f"dataset_format={dataset_format!r}.")
    if dataset_format == "shards":  # PNG datasets keep the identity they always had
        if isinstance(shard_size, bool) or not isinstance(shard_size, int) or not (
                CHUNK <= shard_size <= MAX_SHARD and shard_size % CHUNK == 0):
            raise ValueError(f"`shard_size` must be a multiple of {CHUNK} from {CHUNK} to "
                             f"{MAX_SHARD} patches; got shard_size={shard_size!r}.")
        identity["format"] = "shards"
        identity["shard_size"] = shard_size
    if storage not in STORAGE:
        raise ValueError(f"`storage` must be one of {STORAGE}; got storage={storage!r}.")
    if client is not None:
        _cluster.check_client(client)
    if backgrounds is not None:
        if not isinstance(backgrounds, Backgrounds):
            raise TypeError("`backgrounds` must be synth.Backgrounds (synth.load_backgrounds); "
                            f"got {type(backgrounds).__name__}.")
        if backgrounds.resolution_um != identity["resolution_um"]:
            raise ValueError(f"`resolution_um` must be the backgrounds' "
                             f"({backgrounds.resolution_um} µm); got "
                             f"resolution_um={resolution_um!r}.")
        if config.contrast_model != "attenuation":  # before anything is deleted or written
            raise ValueError("`contrast_model` must be 'attenuation' to insert MCs into real "
                             "images; got contrast_model="
                             f"{config.contrast_model!r}.")
        if config.patch_source != "texture":  # real backgrounds replace any patch source
            raise ValueError("`patch_source` must be 'texture' with `backgrounds`; got "
                             f"patch_source={config.patch_source!r}.")
        identity["backgrounds"] = backgrounds.record()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"`workers` must be an integer >= 1; got workers={workers!r}.")
    out = Path(out_dir)
    check_space(out, identity["n"], identity["resolution_um"], identity["bit_depth"],
                identity["masks"])
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got out_dir={str(out)!r}, a file.")
    with folder_lock(out):  # one writer at a time: a second is refused in one line
        done = _prepare(out, identity, overwrite)
        if done is not None:
            if progress:
                progress(n)
            return done
        unit = _unit(identity)
        todo = [k for k in range(0, n, unit)
                if not (out / PARTIAL / _chunk_name(k)).exists()]
        finished = n - sum(min(unit, n - k) for k in todo)
        if progress:
            progress(finished)
        jobs = [(config, str(out.resolve()), k, min(k + unit, n), identity) for k in todo]
        counts = (_run(jobs, workers, backgrounds) if client is None else
                  _run_on_cluster(client, jobs, out, backgrounds, storage, message))
        for count in counts:
            finished += count
            if progress:
                progress(finished)
        return _finish(out, identity)


PNG_FRACTION = 0.4
"""A lower bound of a patch PNG's size over its raw pixel bytes (measured 0.55–0.59: the
texture and noise compress poorly), so `check_space` refuses only what cannot fit."""
TABLE_BYTES_PER_PATCH = 300


def check_space(out: Path, n: int, resolution_um: int, bit_depth: int, masks: bool) -> int:
    """Refuse (ValueError naming `n`) a dataset that cannot fit on the disk holding `out`,
    before anything is written; return the estimated bytes.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synth.io import check_space
    >>> check_space(Path(tempfile.mkdtemp()), 1000, 100, 8, False) // 1000  # bytes per patch
    4300
    >>> check_space(Path(tempfile.mkdtemp()), 10**13, 100, 8, False)
    Traceback (most recent call last):
    ...
    ValueError: `n`=10000000000000 patches at 100 µm need at least 43000 TB on disk; ...
    """
    pixels = patch_size_px(resolution_um) ** 2
    per_patch = pixels * bit_depth / 8 * PNG_FRACTION + TABLE_BYTES_PER_PATCH
    if masks:
        per_patch += pixels * 0.02
    need = int(n * per_patch)
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if need > free:
        raise ValueError(f"`n`={n} patches at {resolution_um} µm need at least "
                         f"{_size(need)} on disk; {_size(free)} are free at {str(probe)!r}.")
    return need


def _size(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.5g} TB"


def _identity(config: SceneConfig, n: int, resolution_um: int, seed: int, bit_depth: int,
              masks: bool) -> dict[str, Any]:
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    if bit_depth not in (8, 16) or isinstance(bit_depth, bool):
        raise ValueError(f"`bit_depth` must be 8 or 16; got bit_depth={bit_depth!r}.")
    return {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "n": check_count("n", n),
        "resolution_um": check_resolution(resolution_um),
        "seed": check_seed(seed),
        "bit_depth": int(bit_depth),
        "masks": bool(masks),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _prepare(out: Path, identity: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """Check what `out` holds; return the manifest if this dataset is already complete.

    What an interrupted run of this same dataset left (temporary files, the bookkeeping of
    finished chunks, or the bookkeeping left beside a finished manifest) is recognised and
    cleaned, so a rerun resumes or ends as one uninterrupted run. `overwrite` deletes only
    files a manifest (or the bookkeeping) of ours lists, and refuses a folder holding others.
    """
    out.mkdir(parents=True, exist_ok=True)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN
                     and not _temporary(p.name))
    if foreign:
        listed = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise ValueError(
            f"`out_dir` holds files that are not part of an mcc dataset ({listed}); "
            f"choose an empty folder; got out_dir={str(out)!r}."
        )
    for path in out.glob(f"{_cluster.PROBE_PREFIX}*"):  # left by a run killed while probing
        path.unlink(missing_ok=True)
    _finish_replacing(out)  # an --overwrite killed while it deleted: complete it first
    manifest = _read_json(out / "manifest.json")
    state = _read_json(out / PARTIAL / "state.json")
    existing = manifest or state
    keys = set(identity) | {"backgrounds", "format", "shard_size"}  # a recipe on either side
    if existing is not None and _same(_recipe(existing, keys), _recipe(identity, keys)):
        _sweep_temporaries(out)
        if manifest is not None:
            shutil.rmtree(out / PARTIAL, ignore_errors=True)  # killed after the manifest
            return manifest
        return None
    present = any((out / name).exists() for name in _OWN if name != LOCK_NAME)
    if present and not overwrite:
        what = "another dataset (other config, seed, count or format)" if existing else (
            "an unreadable dataset")
        raise ValueError(
            f"`out_dir` holds {what}; pass overwrite=True (CLI: --overwrite) to replace it; "
            f"got out_dir={str(out)!r}."
        )
    if present:
        _delete_ours(out, manifest)
    (out / PARTIAL).mkdir()
    write_atomic(out / PARTIAL / "state.json", json.dumps(identity, indent=2).encode())
    return None


def _recipe(identity: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """The recipe keys of an identity or manifest, a PNG dataset's format spelled out (its
    identity has no ``format``: written before shards existed), so a sharded dataset is never
    taken for a PNG one or the other way round."""
    recipe = {k: identity.get(k) for k in keys}
    recipe["format"] = recipe["format"] or "png"
    return recipe


def _temporary(name: str) -> bool:
    """A temporary file of `write_atomic` / `HashedAtomicFile` for one of our names, or the
    shared-storage probe of a cluster run (`synth.cluster.storage_is_shared`)."""
    if name.startswith(_cluster.PROBE_PREFIX):
        return True
    return name.startswith(".") and ".tmp" in name and any(
        name.startswith(f".{Path(own).stem}.") for own in _OWN)


def _listed_files(out: Path, manifest: dict[str, Any] | None) -> set[str] | None:
    """The files of `out` that our manifest, or our chunk records, list (None: no record)."""
    if manifest is not None and isinstance(manifest.get("files"), dict):
        return set(manifest["files"])
    chunks = sorted((out / PARTIAL).glob("chunk_*.json")) if (out / PARTIAL).is_dir() else []
    if (out / PARTIAL / "state.json").exists():
        files: set[str] = set()
        for chunk in chunks:
            record = _read_json(chunk) or {}
            files.update(record.get("files", {}))
        return files
    return None


def _delete_ours(out: Path, manifest: dict[str, Any] | None) -> None:
    """Delete the dataset in `out` for `overwrite`: only what our records list; refuse (before
    deleting anything) when the class or mask folders hold a file they do not.

    The list is written first (`REPLACING`) and the manifest removed next, so a kill midway
    leaves a folder the next run finishes deleting, never one that claims to be complete.
    """
    listed = _listed_files(out, manifest)
    unrecorded = (out / PARTIAL / "state.json").exists()  # our run, its last chunk unrecorded
    held = sorted(p.relative_to(out).as_posix() for folder in _FOLDERS
                  if (out / folder).is_dir() for p in (out / folder).rglob("*")
                  if not p.is_dir() and not _our_temporary(p))
    strangers = [p for p in held if (listed is None or p not in listed)
                 and not (unrecorded and _our_name(p))]
    if strangers:
        shown = ", ".join(strangers[:3]) + (" …" if len(strangers) > 3 else "")
        raise ValueError(
            f"`out_dir` holds files that no manifest of ours lists ({shown}); overwrite "
            f"deletes only what an mcc dataset wrote: move them, or choose another folder; "
            f"got out_dir={str(out)!r}.")
    write_atomic(out / REPLACING, json.dumps(held).encode())
    _finish_replacing(out)


def _finish_replacing(out: Path) -> None:
    """Delete what `REPLACING` lists, our tables, manifest and bookkeeping, then the list."""
    record = out / REPLACING
    if not record.exists():
        return
    try:
        held = json.loads(record.read_text())
    except (OSError, ValueError):
        held = []
    (out / "manifest.json").unlink(missing_ok=True)  # first: nothing claims completeness
    for rel in held:
        if isinstance(rel, str) and rel.split("/", 1)[0] in _FOLDERS and ".." not in rel:
            (out / rel).unlink(missing_ok=True)
    _sweep_temporaries(out)
    for folder in _FOLDERS:
        path = out / folder
        if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
            shutil.rmtree(path)
    for name in ("patches.csv", "calcifications.csv", SHARD_INDEX):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    record.unlink()


def _our_temporary(path: Path) -> bool:
    """A temporary file our writers leave in the class or mask folders (``.NAME.*.tmp*``)."""
    return path.name.startswith(".") and ".tmp" in path.name


def _our_name(rel: str) -> bool:
    """A file name our writer gives (``class_1/000123.png``, ``masks/000123.png``)."""
    folder, _, name = rel.partition("/")
    stem, _, suffix = name.partition(".")
    if folder == SHARDS:
        return suffix == "tar" and stem.startswith("shard-") and stem[6:].isdigit()
    return folder in _FOLDERS and suffix == "png" and stem.isdigit() and len(stem) >= 6


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _sweep_temporaries(out: Path) -> None:
    for folder in (out, *(out / f for f in _FOLDERS), out / PARTIAL):
        if folder.is_dir():
            for path in folder.glob(".*.tmp*"):
                if path.is_file() and (folder != out or _temporary(path.name)):
                    path.unlink(missing_ok=True)


def _chunk_name(start: int) -> str:
    return f"chunk_{start:09d}.json"


_BACKGROUNDS: list[Backgrounds | None] = [None]
"""The backgrounds of the insertion run under way in this process (sent to each worker once,
not with every chunk: a set of mammograms is hundreds of MB)."""


def _set_backgrounds(backgrounds: Backgrounds | None) -> None:
    _BACKGROUNDS[0] = backgrounds


def _run(jobs: list[tuple], workers: int, backgrounds: Backgrounds | None) -> Iterator[int]:
    if workers == 1 or len(jobs) <= 1:
        _set_backgrounds(backgrounds)
        try:
            for job in jobs:
                yield _write_chunk(job)
        finally:
            _set_backgrounds(None)
        return
    ctx = multiprocessing.get_context("spawn")  # safe even if the caller has TensorFlow loaded
    with ctx.Pool(min(workers, len(jobs)), initializer=_start_worker,
                  initargs=(backgrounds,)) as pool:
        yield from pool.imap_unordered(_write_chunk, jobs)


def _run_on_cluster(client: Any, jobs: list[tuple], out: Path, backgrounds: Backgrounds | None,
                    storage: str, message: Callable[[str], None] | None) -> Iterator[int]:
    """The jobs as Dask tasks; the workers write into `out` or return the bytes to write."""
    if not jobs:
        return
    workers = max(1, _cluster.n_workers(client))
    _cluster.check_stack(client)
    shared = storage == "shared" or (storage == "auto" and _cluster.storage_is_shared(client,
                                                                                      out))
    if message:
        where = (f"the workers write into {out} (storage they all see)" if shared else
                 f"the workers return the files and this process writes them into {out}")
        message(f"dask: {workers} worker(s) at {client.scheduler.address}; {where}")
    per_task = max(1, min(TASK_PATCHES // (jobs[0][3] - jobs[0][2]),
                          -(-len(jobs) // (4 * workers))))
    tasks = [jobs[k:k + per_task] for k in range(0, len(jobs), per_task)]
    task = _write_units if shared else _render_units
    for result in _cluster.run_tasks(client, task, tasks, backgrounds, name="mcc-synth"):
        if shared:
            for start, record in result:
                unseen = [rel for rel in record["files"] if not (out / rel).is_file()]
                if unseen:
                    raise OSError(f"a Dask worker wrote {unseen[0]} where this process does "
                                  f"not see it: {out} is not on storage every worker shares; "
                                  "run again with --storage client (storage='client').")
                _record_unit(out, start, record)
                yield len(record["patches"]["index"])
            continue
        for start, files, record in result:
            _store_unit(out, start, files, record)
            yield len(record["patches"]["index"])


def _write_units(jobs: list[tuple], backgrounds: Backgrounds | None
                 ) -> list[tuple[int, dict[str, Any]]]:
    """A cluster task on shared storage: render and write its units' files; return their
    records, which the client writes once it has seen the files (so no record exists for
    files a worker wrote where the client cannot see them)."""
    out = []
    for job in jobs:
        files, record = _render_unit(job, backgrounds, serial=True)
        for rel, data in files.items():
            write_atomic(Path(job[1]) / rel, data)
        out.append((job[2], record))
    return out


def _render_units(jobs: list[tuple], backgrounds: Backgrounds | None
                  ) -> list[tuple[int, dict[str, bytes], dict[str, Any]]]:
    """A cluster task without shared storage: its units' file bytes and records."""
    return [(job[2], *_render_unit(job, backgrounds, serial=True)) for job in jobs]


def _start_worker(backgrounds: Backgrounds | None) -> None:
    """A worker leaves Ctrl-C to the parent (which ends the pool and prints one line)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_backgrounds(backgrounds)


def _write_chunk(job: tuple) -> int:
    """Render, encode and write one unit (a chunk of PNGs or a shard) in this process; record
    it last. Returns its patch count."""
    files, record = _render_unit(job, _BACKGROUNDS[0])
    _store_unit(Path(job[1]), job[2], files, record)
    return job[3] - job[2]


def _store_unit(out: Path, start: int, files: dict[str, bytes], record: dict[str, Any]) -> None:
    """Write a unit's files, each atomically, then its record (which marks it done)."""
    for rel, data in files.items():
        write_atomic(out / rel, data)
    _record_unit(out, start, record)


def _record_unit(out: Path, start: int, record: dict[str, Any]) -> None:
    """Mark the unit starting at `start` done: its record, written last."""
    write_atomic(out / PARTIAL / _chunk_name(start), json.dumps(record).encode())


def _unit(identity: dict[str, Any]) -> int:
    return int(identity.get("shard_size", SHARD)) if identity.get("format") == "shards" else CHUNK


def _render_unit(job: tuple, backgrounds: Backgrounds | None, *, serial: bool = False
                 ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The encoded files of one unit (by path relative to the dataset) and its record: its
    rows of the two tables and the SHA-256 of each file. Pure: no file is touched. `serial`:
    render in this thread only (a cluster task)."""
    config, _, start, stop, identity = job
    if identity.get("format") == "shards":
        return _render_shard(config, start, stop, identity, backgrounds, serial)
    batch = _batch(config, range(start, stop), identity, backgrounds, serial)
    width = _width(identity)
    rows = batch.patches.copy()
    files: dict[str, bytes] = {}
    paths, mask_paths = [], []
    for k, index in enumerate(rows["index"]):
        rel = f"class_{int(rows['label'].iat[k])}/{index:0{width}d}.png"
        files[rel] = encode_png(batch.images[k], identity["bit_depth"])
        paths.append(rel)
        if identity["masks"]:
            mrel = f"masks/{index:0{width}d}.png"
            files[mrel] = encode_png(batch.masks[k].astype(np.float32), 8)
            mask_paths.append(mrel)
    rows.insert(1, "path", paths)
    if identity["masks"]:
        rows.insert(2, "mask_path", mask_paths)
    record = {
        "patches": rows.to_dict(orient="list"),
        "calcifications": batch.calcifications.to_dict(orient="list"),
        "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()},
    }
    return files, record


def _batch(config: SceneConfig, indices: range, identity: dict[str, Any],
           backgrounds: Backgrounds | None, serial: bool = False) -> Any:
    if "backgrounds" in identity:
        if backgrounds is None:
            raise ValueError("`backgrounds` are needed to resume this dataset: it inserts MCs "
                             "into backgrounds (its manifest names them).")
        return insert_indices(backgrounds, config, indices, seed=identity["seed"])
    return generate_indices(config, indices, resolution_um=identity["resolution_um"],
                            seed=identity["seed"], processes=1, serial=serial)


def _width(identity: dict[str, Any]) -> int:
    return key_width(identity["n"])


def key_width(n: int) -> int:
    """Digits of the patch keys of an `n`-patch dataset (file names, shard members)."""
    return max(6, len(str(n - 1)))


def shard_name(start: int, shard_size: int = SHARD) -> str:
    """The shard holding the patches from index `start` (a multiple of `shard_size`).

    Examples
    --------
    >>> from synth import io
    >>> io.shard_name(0), io.shard_name(3 * io.SHARD), io.shard_name(512, 256)
    ('shards/shard-000000.tar', 'shards/shard-000003.tar', 'shards/shard-000002.tar')
    """
    return f"{SHARDS}/shard-{start // shard_size:06d}.tar"


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> tuple[int, int]:
    """Append a file with fixed metadata (so the tar's bytes depend on its content only);
    return the byte offset and size of its data in the archive."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    offset = tar.offset + tarfile.BLOCKSIZE  # a USTAR header is one block before its data
    tar.addfile(info, io.BytesIO(data))
    return offset, len(data)


def _render_shard(config: SceneConfig, start: int, stop: int, identity: dict[str, Any],
                  backgrounds: Backgrounds | None, serial: bool = False
                  ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """One tar shard: for each patch ``KEY.png``, ``KEY.json`` (its table row and its MCs)
    and, with masks, ``KEY.mask.png``, in index order (the WebDataset convention)."""
    width = _width(identity)
    rel = shard_name(start, _unit(identity))
    buffer = io.BytesIO()
    patches, calcifications = [], []
    offsets, sizes, mask_offsets, mask_sizes = [], [], [], []
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for k in range(start, stop, CHUNK):  # bounded memory: a chunk of images at a time
            batch = _batch(config, range(k, min(k + CHUNK, stop)), identity, backgrounds,
                           serial)
            rows = batch.patches.copy()
            keys = [f"{index:0{width}d}" for index in rows["index"]]
            rows.insert(1, "shard", rel)
            rows.insert(2, "key", keys)
            mcs = batch.calcifications
            own: dict[int, list[dict[str, Any]]] = {}
            for mc in _records(mcs):
                own.setdefault(mc["index"], []).append(mc)
            for j, (key, row) in enumerate(zip(keys, _records(rows), strict=True)):
                offset, size = _tar_member(tar, f"{key}.png",
                                           encode_png(batch.images[j], identity["bit_depth"]))
                offsets.append(offset)
                sizes.append(size)
                text = json.dumps({**row, "calcifications": own.get(row["index"], [])},
                                  sort_keys=True)
                _tar_member(tar, f"{key}.json", text.encode())
                if identity["masks"]:
                    offset, size = _tar_member(tar, f"{key}.mask.png", encode_png(
                        batch.masks[j].astype(np.float32), 8))
                    mask_offsets.append(offset)
                    mask_sizes.append(size)
            patches.append(rows)
            calcifications.append(mcs)
    data = buffer.getvalue()
    table = pd.concat(patches, ignore_index=True)
    labels = [int(v) for v in table["label"]]
    entry: dict[str, Any] = {
        "path": rel, "first": start, "count": stop - start,
        "class_0": labels.count(0), "class_1": labels.count(1),
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "labels": labels, "png_offsets": offsets, "png_sizes": sizes,
    }
    if identity["masks"]:
        entry.update(mask_offsets=mask_offsets, mask_sizes=mask_sizes)
    record = {
        "patches": table.to_dict(orient="list"),
        "calcifications": pd.concat(calcifications, ignore_index=True).to_dict(orient="list"),
        "files": {rel: entry["sha256"]},
        "shard": entry,
    }
    return {rel: data}, record


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as dicts of Python values (``tolist``: no numpy scalars), fast."""
    columns = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def encode_png(image: np.ndarray, bit_depth: int) -> bytes:
    """PNG bytes of a float image in [0, 1] at 8 or 16 bits (grayscale).

    Examples
    --------
    >>> from io import BytesIO
    >>> import numpy as np
    >>> from PIL import Image
    >>> from synth import io
    >>> image = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    >>> data = io.encode_png(image, 8)
    >>> data[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    >>> np.asarray(Image.open(BytesIO(data))).tolist()
    [[0, 128, 255]]
    >>> np.asarray(Image.open(BytesIO(io.encode_png(image, 16)))).tolist()
    [[0, 32768, 65535]]
    """
    if bit_depth == 8:
        pixels = np.rint(image * 255.0).astype(np.uint8)
    else:
        pixels = np.rint(image * 65535.0).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _version() -> str:
    try:
        return importlib.metadata.version("mcc-toolkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _finish(out: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """Join the chunk records into the CSVs and the manifest; drop the bookkeeping.

    The CSVs are streamed chunk by chunk, so memory does not grow with the dataset's size.
    Temporary files are swept first: a cluster worker killed while it wrote a file leaves
    one, and its task was run again elsewhere.
    """
    _sweep_temporaries(out)
    files: dict[str, str] = {}
    counts = {"class_0": 0, "class_1": 0}
    tables = {"patches.csv": "patches", "calcifications.csv": "calcifications"}
    handles = {name: HashedAtomicFile(out / name) for name in tables}
    shards: list[dict[str, Any]] = []
    try:
        for k, start in enumerate(range(0, identity["n"], _unit(identity))):
            record = json.loads((out / PARTIAL / _chunk_name(start)).read_text())
            files.update(record["files"])
            if "shard" in record:
                shards.append(record["shard"])
            for name, key in tables.items():
                frame = pd.DataFrame(record[key])
                handles[name].write(frame.to_csv(index=False, header=k == 0,
                                                 float_format="%.6g").encode())
            labels = np.asarray(record["patches"]["label"])
            counts["class_0"] += int((labels == 0).sum())
            counts["class_1"] += int((labels == 1).sum())
        for name, handle in handles.items():
            files[name] = handle.commit()
    finally:
        for handle in handles.values():
            handle.discard()
    if identity.get("format") == "shards":
        index = {"format": "webdataset", "patches_per_shard": _unit(identity),
                 "bit_depth": identity["bit_depth"], "resolution_um": identity["resolution_um"],
                 "masks": identity["masks"], "n": identity["n"], "counts": counts,
                 "shards": shards}
        data = json.dumps(index).encode()
        write_atomic(out / SHARD_INDEX, data)
        files[SHARD_INDEX] = hashlib.sha256(data).hexdigest()
    manifest = {
        "tool": "mcc-toolkit synth",
        "version": _version(),
        **identity,
        "counts": counts,
        "files": dict(sorted(files.items())),
    }
    manifest["digest"] = manifest_digest(manifest)
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=2).encode())
    shutil.rmtree(out / PARTIAL)
    return manifest


PATCH_TOOLS = ("mcc-toolkit synth", "mcc-toolkit extract")
"""Writers of patch datasets (class folders and patches.csv), whose counts verify checks."""


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's own content (its keys sorted, without ``digest``): written
    into it, so an edited manifest no longer matches.

    Examples
    --------
    >>> from synth.io import manifest_digest
    >>> a = manifest_digest({"n": 8, "seed": 0})
    >>> a == manifest_digest({"seed": 0, "n": 8, "digest": "anything"}), a[:12]
    (True, 'f665338ccc82')
    """
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    """What `verify_dataset` found: files listed but missing, present but unlisted, or altered;
    a manifest that disagrees with itself or the tables (``inconsistent``); symbolic links."""

    path: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    altered: tuple[str, ...]
    checked: int
    inconsistent: tuple[str, ...] = ()
    symlinks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.altered or self.inconsistent
                    or self.symlinks)

    def summary(self) -> str:
        if self.ok:
            return f"{self.path}: OK, {self.checked} files match the manifest."
        kinds = (("missing", self.missing), ("extra", self.extra), ("altered", self.altered),
                 ("inconsistent", self.inconsistent), ("symlinks", self.symlinks))
        parts = [f"{len(v)} {k}" for k, v in kinds if v]
        lines = [f"{self.path}: {', '.join(parts)} (of {self.checked} files in the manifest)."]
        for kind, items in kinds:
            lines += [f"  {kind}: {item}" for item in items[:20]]
            if len(items) > 20:
                lines.append(f"  … and {len(items) - 20} more {kind}")
        return "\n".join(lines)


def verify_dataset(path: str | os.PathLike[str]) -> VerifyReport:
    """Compare a dataset folder with its manifest's SHA-256 list.

    Raises
    ------
    ValueError
        If `path` is not a folder or holds no readable ``manifest.json`` (an interrupted run
        has none yet: run the same command again to finish it).

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import synth
    >>> out = tempfile.mkdtemp()
    >>> _ = synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=100, seed=0)
    >>> report = synth.verify_dataset(out)
    >>> report.ok, report.checked
    (True, 10)
    >>> with open(os.path.join(out, "class_1", "000002.png"), "ab") as fh:
    ...     _ = fh.write(b"one byte more")
    >>> os.remove(os.path.join(out, "patches.csv"))
    >>> report = synth.verify_dataset(out)
    >>> report.ok, report.missing, report.altered
    (False, ('patches.csv',), ('class_1/000002.png',))
    >>> print(report.summary())
    /...: 1 missing, 1 altered (of 10 files in the manifest).
      missing: patches.csv
      altered: class_1/000002.png
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"`path` must be a dataset folder; got path={str(root)!r}.")
    manifest = _read_json(root / "manifest.json")
    if manifest is None or not isinstance(manifest.get("files"), dict):
        hint = " (an interrupted run: run it again to finish)" if (root / PARTIAL).exists() else ""
        raise ValueError(f"`path` holds no readable manifest.json{hint}; got path={str(root)!r}.")
    listed: dict[str, str] = manifest["files"]
    links = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_symlink())
    found = {p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.is_file() and not p.is_symlink()}
    found.discard("manifest.json")
    missing = sorted(set(listed) - found)
    extra = sorted(found - set(listed))
    altered = sorted(rel for rel in set(listed) & found if _sha256(root / rel) != listed[rel])
    return VerifyReport(str(root), tuple(missing), tuple(extra), tuple(altered), len(listed),
                        tuple(_inconsistencies(root, manifest, listed, altered)), tuple(links))


def _inconsistencies(root: Path, manifest: dict[str, Any], listed: dict[str, str],
                     altered: list[str]) -> list[str]:
    """How the manifest disagrees with its own digest, its counts, its file list and
    patches.csv (an edited seed or count, an entry removed with its file, ``files={}``)."""
    out = []
    if "digest" not in manifest:
        out.append("manifest.json has no digest (written before digests, or edited)")
    elif manifest["digest"] != manifest_digest(manifest):
        out.append("manifest.json was edited: its content no longer matches its digest")
    if manifest.get("tool") not in PATCH_TOOLS:  # a mammogram set: its own counts
        return out
    raw = manifest.get("counts")
    counts: dict[str, Any] = raw if isinstance(raw, dict) else {}
    n = manifest.get("n")
    if manifest.get("format") == "shards":
        per_class = _shard_counts(root, listed, altered, out)
        what = "patches the shard index lists"
    else:
        per_class = {c: sum(1 for rel in listed if rel.startswith(f"{c}/")) for c in
                     ("class_0", "class_1")}
        what = "PNGs the manifest lists"
    if per_class != {c: counts.get(c) for c in per_class}:
        out.append(f"counts {counts} do not match the {per_class} {what}")
    if not isinstance(n, int) or sum(per_class.values()) != n:
        out.append(f"n={n!r} does not match the {sum(per_class.values())} {what}")
    table = root / "patches.csv"
    if "patches.csv" in listed and table.is_file() and "patches.csv" not in altered:
        try:
            labels = pd.read_csv(table, usecols=["label"])["label"]
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            out.append(f"patches.csv is unreadable ({type(exc).__name__})")
        else:
            if len(labels) != n or {f"class_{k}": int((labels == k).sum())
                                    for k in (0, 1)} != counts:
                out.append(f"patches.csv has {len(labels)} rows "
                           f"({int((labels == 1).sum())} positive), the manifest n={n!r} "
                           f"and counts {counts}")
    return out


def _shard_counts(root: Path, listed: dict[str, str], altered: list[str], out: list[str]
                  ) -> dict[str, int]:
    """Patches per class the shard index lists; how it disagrees with the manifest's list of
    shards (a shard missing from either, another SHA-256) is added to `out`."""
    index = _read_json(root / SHARD_INDEX) if SHARD_INDEX in listed and \
        SHARD_INDEX not in altered else None
    if index is None or not isinstance(index.get("shards"), list):
        out.append(f"{SHARD_INDEX} is missing, altered or unreadable")
        return {"class_0": 0, "class_1": 0}
    entries = [e for e in index["shards"] if isinstance(e, dict)]
    indexed = {e.get("path"): e.get("sha256") for e in entries}
    tars = {rel: digest for rel, digest in listed.items() if rel.startswith(f"{SHARDS}/")}
    if indexed != tars:
        out.append(f"{SHARD_INDEX} lists shards {sorted(map(str, indexed))[:3]} …, the "
                   f"manifest {sorted(tars)[:3]} … (or other SHA-256)")
    return {c: sum(int(e.get(c, 0)) for e in entries) for c in ("class_0", "class_1")}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
