"""Many patches at once: patch i of seed s comes from ``default_rng([s, i])`` alone."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._calcifications import MC_COLUMNS
from ._config import SceneConfig, check_resolution, patch_size_px
from ._render import render_arrays
from ._scene import Scene, sample_scene, sample_scenes

PATCH_COLUMNS = (
    "index", "seed", "label", "kind", "distribution", "n_mcs", "n_inside", "density", "beta",
    "resolution_um",
)
_CHUNK = 64


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


def check_count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {name}={n!r}.")
    return int(n)


def scene_for(config: SceneConfig, seed: int, index: int) -> Scene:
    """The scene of patch `index` of a dataset with `seed` (independent of any other patch)."""
    return sample_scene(config, rng=np.random.default_rng([seed, index]))


def generate(config: SceneConfig, n: int, *, resolution_um: int, seed: int,
             threads: int | None = None) -> Batch:
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
        in any batch, alone (`generate_indices`), and whatever the number of threads.
    threads : int, optional
        Threads rendering chunks of patches at once (default: one per CPU core, at most 4).

    Returns
    -------
    Batch
    """
    return generate_indices(config, range(check_count("n", n)), resolution_um=resolution_um,
                            seed=seed, threads=threads)


def generate_indices(config: SceneConfig, indices: range | list[int], *, resolution_um: int,
                     seed: int, threads: int | None = None) -> Batch:
    """Generate the patches of the given dataset indices (see `generate`)."""
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    res = check_resolution(resolution_um)
    seed = check_seed(seed)
    threads = _check_threads(threads)
    indices = list(indices)
    n_px = patch_size_px(res)
    images = np.empty((len(indices), n_px, n_px), dtype=np.float32)
    masks = np.empty((len(indices), n_px, n_px), dtype=bool)

    def work(k: int) -> tuple[list[Scene], dict[str, np.ndarray]]:
        chunk = slice(k, k + _CHUNK)
        scenes = sample_scenes(config, [np.random.default_rng([seed, i]) for i in indices[chunk]])
        return scenes, render_arrays(scenes, res, out=(images[chunk], masks[chunk]))[2]

    starts = range(0, len(indices), _CHUNK)
    if threads == 1 or len(starts) == 1:
        done = [work(k) for k in starts]
    else:
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(work, starts))
    scenes = [scene for part, _ in done for scene in part]
    mcs = _mc_frame([cols for _, cols in done], indices)
    patches = pd.DataFrame({
        "index": np.array(indices, dtype=np.int64),
        "seed": seed,
        "label": np.array([s.label for s in scenes], dtype=np.int64),
        "kind": [s.kind for s in scenes],
        "distribution": [s.distribution or "" for s in scenes],
        "n_mcs": [len(s.calcifications) for s in scenes],
        "n_inside": [s.n_inside for s in scenes],
        "density": [s.density for s in scenes],
        "beta": [s.beta for s in scenes],
        "resolution_um": res,
    }, columns=list(PATCH_COLUMNS))
    return Batch(images, patches["label"].to_numpy(), masks, patches, mcs, res)


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return max(1, min(os.cpu_count() or 1, 4))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"`threads` must be an integer >= 1 or None; got threads={threads!r}.")
    return threads


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
