"""Many patches at once: patch i of seed s comes from ``default_rng([s, i])`` alone."""

from __future__ import annotations

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
_CHUNK = 128


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


def generate(config: SceneConfig, n: int, *, resolution_um: int, seed: int) -> Batch:
    """Generate `n` patches of `config` at `resolution_um`.

    Parameters
    ----------
    config : SceneConfig
    n : int
        Number of patches (>= 1).
    resolution_um : int
        50, 70 or 100.
    seed : int
        Patch i depends only on (seed, i): ``generate(c, 1, ...)`` of `generate_indices`
        with index i gives the same bytes as patch i of a larger batch.

    Returns
    -------
    Batch
    """
    return generate_indices(config, range(check_count("n", n)), resolution_um=resolution_um,
                            seed=seed)


def generate_indices(config: SceneConfig, indices: range | list[int], *, resolution_um: int,
                     seed: int) -> Batch:
    """Generate the patches of the given dataset indices (see `generate`)."""
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    res = check_resolution(resolution_um)
    seed = check_seed(seed)
    indices = list(indices)
    scenes = sample_scenes(config, [np.random.default_rng([seed, i]) for i in indices])
    n_px = patch_size_px(res)
    images = np.empty((len(scenes), n_px, n_px), dtype=np.float32)
    masks = np.empty((len(scenes), n_px, n_px), dtype=bool)
    parts = []
    for k in range(0, len(scenes), _CHUNK):
        chunk = slice(k, k + _CHUNK)
        parts.append(render_arrays(scenes[chunk], res, out=(images[chunk], masks[chunk]))[2])
    mcs = _mc_frame(parts, indices)
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


def _mc_frame(parts: list[dict[str, np.ndarray]], indices: list[int]) -> pd.DataFrame:
    index = np.asarray(indices, dtype=np.int64)
    frames = []
    offset = 0
    for part in parts:
        local = part["patch"]
        frame = pd.DataFrame({"index": index[offset + local] if len(local) else local})
        frame["mc"] = frame.groupby("index").cumcount() if len(frame) else []
        for name in MC_COLUMNS:
            frame[name] = part[name]
        frames.append(frame)
        offset += _CHUNK
    if not frames:
        return pd.DataFrame(columns=["index", "mc", *MC_COLUMNS])
    return pd.concat(frames, ignore_index=True)
