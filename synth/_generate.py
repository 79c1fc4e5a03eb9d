"""Many patches at once: patch i of seed s comes from ``default_rng([s, i])`` alone."""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import pandas as pd

from ._calcifications import MC_COLUMNS
from ._config import SceneConfig, check_resolution, patch_size_px
from ._render import patch_labels, render_arrays
from ._scene import sample_scenes

PATCH_COLUMNS = (
    "index", "seed", "label", "kind", "distribution", "n_mcs", "n_inside", "density", "beta",
    "thickness_mm", "dprime_k", "resolution_um",
)
"""Columns of the per-patch table; ``dprime_k`` is the d′ of the patch's k-th most detectable
MC inside it (k = `cluster_min_count`, 0 when fewer lie inside)."""
_CHUNK = 64
PARALLEL_FROM = 256
"""Batches smaller than this stay in the calling process whatever `processes` says."""


@dataclass(frozen=True, eq=False)
class Batch:
    """Patches generated together.

    Attributes
    ----------
    images : ndarray of shape (N, H, W), float32 in [0, 1]
    labels : ndarray of shape (N,), int64
    masks : ndarray of shape (N, H, W), bool
    patches : DataFrame — one row per patch (`PATCH_COLUMNS`)
    calcifications : DataFrame — one row per MC, with the patch's `index`
    resolution_um : int
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    patches: pd.DataFrame
    calcifications: pd.DataFrame
    resolution_um: int

    def __len__(self) -> int:
        return len(self.labels)


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0; got seed={seed!r}.")
    return int(seed)


MEMORY_FRACTION = 0.8
"""A batch may take at most this share of the machine's physical memory."""


def check_memory(n: int, resolution_um: int, name: str = "n") -> int:
    """Refuse (ValueError naming `name`) `n` patches whose arrays (float32 images and bool
    masks) would not fit in `MEMORY_FRACTION` of this machine's memory; return their bytes.

    Examples
    --------
    >>> from synth._generate import check_memory
    >>> check_memory(1000, 100)  # 1000 × 100 × 100 × 5 bytes
    50000000
    >>> check_memory(10**9, 70)
    Traceback (most recent call last):
    ...
    ValueError: `n`=1000000000 patches at 70 µm need ... of memory at once; ...
    """
    need = int(n) * patch_size_px(resolution_um) ** 2 * 5
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound known
        return need
    if need > MEMORY_FRACTION * have:
        raise ValueError(f"`{name}`={n} patches at {resolution_um} µm need {need / 1e9:.3g} GB "
                         f"of memory at once; this machine has {have / 1e9:.3g} GB (write them "
                         "with synth.write_dataset / mcc synth, which streams, or in parts).")
    return need


def check_count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {name}={n!r}.")
    return int(n)


def generate(config: SceneConfig, n: int, *, resolution_um: int, seed: int,
             processes: int = 1) -> Batch:
    """Generate `n` patches of `config` at `resolution_um`.

    Parameters
    ----------
    config : SceneConfig
    n : int
        Number of patches (>= 1).
    resolution_um : int
        50, 70 or 100.
    seed : int
        Patch i is drawn from ``numpy.random.default_rng([seed, i])`` alone, so it is the same
        in any batch, alone (`generate_indices`), and whatever the number of processes.
    processes : int
        Workers sharing batches of `PARALLEL_FROM` patches or more; default 1: one per core
        (`THREADS`). Where the process can be forked safely (Linux, no other
        thread running, no TensorFlow, PyTorch or JAX loaded) the workers are children forked
        for the call, writing into shared memory: a few milliseconds of start-up and no
        entry-point guard needed. Otherwise ``processes=1`` renders on threads and
        ``processes > 1`` on a lasting fork-server pool (which, like any multiprocessing,
        needs the script's entry point guarded by ``if __name__ == "__main__":`` and pays
        about a second of start-up once; `close_pools` ends it).

    Returns
    -------
    Batch

    Examples
    --------
    >>> import synth
    >>> batch = synth.generate(synth.SceneConfig(), 8, resolution_um=100, seed=0)
    >>> len(batch), batch.images.shape, batch.masks.dtype.name
    (8, (8, 100, 100), 'bool')
    >>> batch.labels.tolist()
    [0, 0, 1, 0, 0, 1, 1, 1]
    >>> print(batch.patches[["index", "label", "kind", "n_mcs"]].head(3).to_string(index=False))
     index  label          kind  n_mcs
         0      0 hard_negative      2
         1      0      negative      0
         2      1      positive      5
    >>> len(batch.calcifications)  # one row per MC of the batch
    42
    """
    return generate_indices(config, range(check_count("n", n)), resolution_um=resolution_um,
                            seed=seed, processes=processes)


def generate_indices(config: SceneConfig, indices: range | list[int], *, resolution_um: int,
                     seed: int, processes: int = 1, serial: bool = False) -> Batch:
    """Generate the patches of the given dataset indices (see `generate`).

    `serial` renders in the calling thread only, with no forked children and no threads: what
    a task on a Dask worker wants (its worker is already one of many single-threaded
    processes). The patches are the same either way.

    Examples
    --------
    Patch 5 of seed 0 is the same whether it is made alone or in a batch:

    >>> import numpy as np
    >>> import synth
    >>> config = synth.SceneConfig()
    >>> some = synth.generate_indices(config, [5, 2], resolution_um=100, seed=0)
    >>> some.patches["index"].tolist(), some.labels.tolist()
    ([5, 2], [1, 1])
    >>> batch = synth.generate(config, 6, resolution_um=100, seed=0)
    >>> np.array_equal(some.images[0], batch.images[5])
    True
    """
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    res = check_resolution(resolution_um)
    seed = check_seed(seed)
    if isinstance(indices, range):
        check_memory(len(indices), res)
    indices = list(indices)
    check_memory(len(indices), res)
    workers = _check_processes(processes, len(indices))
    chunks = [indices[k:k + _CHUNK] for k in range(0, len(indices), _CHUNK)]
    args = ([config] * len(chunks), chunks, [res] * len(chunks), [seed] * len(chunks))
    forked = None
    if serial:
        workers = 1
    elif len(chunks) > 1 and len(indices) >= PARALLEL_FROM:  # forked children, when safe
        forked = _forked(config, chunks, res, seed, workers if workers > 1 else THREADS)
    if forked is not None:
        images, masks, parts = forked
    else:
        if len(chunks) == 1 or serial:
            parts = [_render_chunk(*a) for a in zip(*args, strict=True)]
        elif workers == 1:  # threads: numpy and scipy.fft release the GIL on the heavy parts
            with ThreadPoolExecutor(THREADS, thread_name_prefix="synth") as threads:
                parts = list(threads.map(_render_chunk, *args))
        else:
            parts = list(_pool(workers).map(_render_chunk, *args))
        images = np.concatenate([p[0] for p in parts])
        masks = np.concatenate([p[1] for p in parts])
    rows = [row for p in parts for row in p[3]]
    mcs = _mc_frame([p[2] for p in parts], indices)
    patches = pd.DataFrame(rows, columns=list(PATCH_COLUMNS[2:-1]))
    patches.insert(0, "index", np.array(indices, dtype=np.int64))
    patches.insert(1, "seed", seed)
    patches["resolution_um"] = res
    return Batch(images, patches["label"].to_numpy(), masks, patches, mcs, res)


def _render_chunk(config: SceneConfig, indices: list[int], res: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[tuple]]:
    """Sample and render some patches: images, masks, MC columns and patch-table rows."""
    if config.patch_source == "phantom":
        from ._phantom_patches import render_phantom_chunk

        return render_phantom_chunk(config, indices, res, seed)
    scenes = sample_scenes(config, [np.random.default_rng([seed, i]) for i in indices])
    images, masks, mcs = render_arrays(scenes, res)
    labels, kth = patch_labels(scenes, mcs)
    rows = [(int(labels[b]), s.kind, s.distribution or "", len(s.calcifications), s.n_inside,
             s.density, s.beta, s.thickness_mm, float(kth[b])) for b, s in enumerate(scenes)]
    return images, masks, mcs, rows


def _check_processes(processes: int, n: int) -> int:
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"`processes` must be an integer >= 1; got processes={processes!r}.")
    if n < PARALLEL_FROM or multiprocessing.current_process().daemon:
        return 1  # small batches are not worth it; a pool's worker cannot start processes
    return processes


_POOLS: dict[int, ProcessPoolExecutor] = {}
THREADS = min(os.cpu_count() or 1, 8)
"""Workers a call with ``processes=1`` spreads its chunks over (one per core, at most 8)."""
_THREAD_LIBRARIES = ("tensorflow", "torch", "jax", "keras")
"""Libraries that run threads of their own: with one loaded, `generate` never forks."""


def close_pools() -> int:
    """Shut down the worker processes `generate` keeps for ``processes > 1``; return how many
    pools were closed. The next parallel call starts a fresh pool (and pays its start-up).

    Examples
    --------
    >>> import synth
    >>> synth.close_pools()  # none were open
    0
    """
    closed = len(_POOLS)
    for pool in _POOLS.values():
        pool.shutdown()
    _POOLS.clear()
    return closed


def fork_is_safe() -> bool:
    """Whether this process can be forked without risk: Linux, no other Python thread
    running, none of `_THREAD_LIBRARIES` loaded, not a daemonic worker.

    The thread pools numpy's OpenBLAS and scipy.fft start are not counted: both register
    ``pthread_atfork`` handlers, so a child starts with them reset (on Python 3.12+, which
    warns about forking any multi-threaded process, that warning is silenced for this fork
    only)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if threading.active_count() > 1 or multiprocessing.current_process().daemon:
        return False
    return not any(name in sys.modules for name in _THREAD_LIBRARIES)


def _fork() -> int:
    """os.fork, without Python 3.12's warning about the (fork-safe) BLAS and FFT pools."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*multi-threaded.*fork",
                                category=DeprecationWarning)
        return os.fork()


def _die_with_parent() -> None:
    """In a forked child: be killed if the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _forked(config: SceneConfig, chunks: list[list[int]], res: int, seed: int, workers: int
            ) -> tuple[np.ndarray, np.ndarray, list[tuple]] | None:
    """Render `chunks` in `workers` forked children writing into shared memory (a fork costs
    milliseconds where a pool's start-up costs a second); None when forking is not safe.

    Child w renders chunks w, w + workers, …; images and masks go straight into an
    anonymous shared mapping, the small tables back through a pipe. A child that fails
    sends its exception, which is raised here.
    """
    if workers < 2 or not fork_is_safe():
        return None
    _render_chunk(config, chunks[0][:1], res, seed)  # fill this process's caches once
    n = patch_size_px(res)
    total = sum(len(c) for c in chunks)
    starts = np.concatenate([[0], np.cumsum([len(c) for c in chunks])])
    pixels = total * n * n
    shared = mmap.mmap(-1, pixels * 5)  # float32 images, then bool masks
    images = np.frombuffer(shared, np.float32, pixels).reshape(total, n, n)
    masks = np.frombuffer(shared, np.bool_, pixels, offset=pixels * 4).reshape(total, n, n)
    results: dict[int, tuple] = {}
    failure: BaseException | None = None
    waiting: dict[int, int] = {}  # child pid: its pipe's read end while still open, else -1
    try:
        for w in range(min(workers, len(chunks))):
            read, write = os.pipe()
            try:
                pid = _fork()
            except OSError:  # no process to spare (EAGAIN, ENOMEM): render here instead
                os.close(read)
                os.close(write)
                return None
            if pid == 0:  # the child: render, write, report, and leave without cleanup
                _child(config, chunks, starts, w, workers, res, seed, images, masks, read,
                       write)
            waiting[pid] = read
            os.close(write)
        for pid, read in list(waiting.items()):
            pipe = os.fdopen(read, "rb")
            waiting[pid] = -1  # the file object owns the descriptor now
            with pipe:
                data = pipe.read()
            os.waitpid(pid, 0)
            del waiting[pid]
            try:
                status, value = pickle.loads(data)
            except Exception:  # noqa: BLE001 - a child killed before it could report
                status, value = "error", RuntimeError(f"a generate worker (pid {pid}) died")
            if status == "error":
                failure = failure or value
            else:
                for k, mcs, rows in value:
                    results[k] = (None, None, mcs, rows)
    finally:  # interrupted or failed: no child outlives the call
        for pid, read in waiting.items():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            if read >= 0:
                with contextlib.suppress(OSError):
                    os.close(read)
    if failure is not None:
        raise failure
    return images, masks, [results[k] for k in range(len(chunks))]


def _child(config: SceneConfig, chunks: list[list[int]], starts: np.ndarray, w: int,
           workers: int, res: int, seed: int, images: np.ndarray, masks: np.ndarray,
           read: int, write: int) -> NoReturn:
    """A forked worker of `_forked`: render chunks w, w + workers, … into the shared arrays,
    send the tables (or the error) through the pipe `write`, and exit at once."""
    code = 1
    try:
        _die_with_parent()
        os.close(read)
        out = []
        for k in range(w, len(chunks), workers):
            im, ma, mcs, rows = _render_chunk(config, chunks[k], res, seed)
            images[starts[k]:starts[k + 1]] = im
            masks[starts[k]:starts[k + 1]] = ma
            out.append((k, mcs, rows))
        payload, code = pickle.dumps(("ok", out)), 0
    except BaseException as error:  # noqa: BLE001 - sent to the parent
        try:
            payload = pickle.dumps(("error", error))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            payload = pickle.dumps(("error", RuntimeError(repr(error))))
    finally:
        try:
            with os.fdopen(write, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(code)


def _pool(workers: int) -> ProcessPoolExecutor:
    """A lasting pool of `workers` processes, started from a clean fork server (safe even when
    the caller has TensorFlow or threads running) and reused by later calls."""
    pool = _POOLS.get(workers)
    if pool is None:
        context = multiprocessing.get_context("forkserver")
        pool = _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=context)
    return pool


def _mc_frame(parts: list[dict[str, np.ndarray]], indices: list[int]) -> pd.DataFrame:
    """One row per MC, with the dataset index of its patch and its number within the patch."""
    index = np.asarray(indices, dtype=np.int64)
    owner = np.concatenate([p["patch"] + k * _CHUNK for k, p in enumerate(parts)]
                           ) if parts else np.zeros(0, dtype=np.int64)
    counts = np.bincount(owner, minlength=len(index))
    within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    columns = {"index": index[owner], "mc": within}
    for name in MC_COLUMNS:
        columns[name] = (np.concatenate([p[name] for p in parts]) if parts
                         else np.zeros(0))
    return pd.DataFrame(columns)
