"""The study's data: the same scenes at 50, 70 and 100 µm, a second 70 µm source domain, and
the same patches brought to 70 µm by the anti-aliased resampler.

Everything is generated in memory from `synth` (patch *i* of seed *s* is the same scene at
every resolution), split once by the 70 µm labels (the labels do not depend on the
resolution), so the test set of a resolution is shared by every arm that is tested on it and
the test patches of 50, 70 and 100 µm are the same scenes. Keras-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

import synth
from mcc_core.training._data import split_indices

__all__ = ["STUDY_SOURCE_DOMAIN", "STUDY_TARGET_DOMAIN", "StudyData", "to_70um"]

RESOLUTIONS = synth.RESOLUTIONS_UM
MODEL_UM = 70
"""The resolution of the donor models (the papers' source model was trained at 70 µm)."""

STUDY_TARGET_DOMAIN = synth.SceneConfig()
"""Where Scratch, Transfer, Fine-tune, Resample and Mixed are trained and tested (the stand-in
for MEXBreast): the default scene and detector (β 2.5–3.1, density 0.2–0.8, blur σ 20 µm,
dose 1e6, 12 bits)."""

STUDY_SOURCE_DOMAIN = synth.SceneConfig(
    beta_range=(2.2, 2.6), density_range=(0.5, 0.9), lumpy_strength=0.3,
    acquisition=synth.ACQUISITION_PRESETS["CsI 100um"],
)
"""Where the donor Source-70 is trained (the stand-in for INbreast), rendered at 70 µm: another
detector and another texture, so that transfer crosses a real domain gap. The gap to
`STUDY_TARGET_DOMAIN`:

- detector: an indirect CsI converter (``synth.ACQUISITION_PRESETS["CsI 100um"]``) instead
  of direct a-Se: Gaussian blur σ 41 µm instead of 20 µm (the scintillator's light spread),
  noise shaped by the MTF², electronic noise 8 instead of 5 quanta per pixel, dose 4e5
  instead of 1e6 quanta/mm², 14 bits instead of 12;
- texture: coarser power-law background (β 2.2–2.6 instead of 2.5–3.1), denser breasts
  (density 0.5–0.9 instead of 0.2–0.8) and a lumpy background of strength 0.3;
- scenes: seed + 1 (no scene is shared with the target domain).
"""

SIZE_70 = synth.patch_size_px(MODEL_UM)


def to_70um(images: np.ndarray, from_um: int) -> np.ndarray:
    """Patches of `from_um` resampled to 70 µm with `synth.resample` (anti-aliased Lanczos).

    A 1 cm patch at 50 or 100 µm becomes 142 px at 70 µm (9.94 mm); it is padded by
    reflection to the 144 px model input (10.08 mm), one pixel on each side.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 1), float32 in [0, 1]
    from_um : int

    Returns
    -------
    ndarray of shape (N, 144, 144, 1), float32 in [0, 1]

    Examples
    --------
    >>> out = to_70um(np.full((2, 100, 100, 1), 0.5, np.float32), 100)
    >>> out.shape, float(out.min()), float(out.max())
    ((2, 144, 144, 1), 0.5, 0.5)
    """
    if from_um == MODEL_UM:
        return images
    out = np.empty((len(images), SIZE_70, SIZE_70, 1), np.float32)
    for i, image in enumerate(images):
        moved = synth.resample(image[..., 0], from_um, MODEL_UM)
        out[i, ..., 0] = _fit(moved, SIZE_70)
    return out


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-pad (by reflection) or centre-crop a square image to `size`."""
    gap = size - image.shape[0]
    if gap > 0:
        return np.pad(image, ((gap // 2, gap - gap // 2),) * 2, mode="reflect")
    start = -gap // 2
    return image[start:start + size, start:start + size]


@dataclass(frozen=True, eq=False)
class Subset:
    """Images, labels and the per-patch truth of one split of one dataset."""

    images: np.ndarray
    labels: np.ndarray
    truth: pd.DataFrame


def patch_truth(batch: synth.Batch) -> pd.DataFrame:
    """One row per patch: what the breakdowns group by.

    Columns ``index``, ``label``, ``finding`` (``negative``: no MC inside;
    ``hard_negative_1``: class 0 with one MC; ``hard_negative_2``: class 0 with two or more,
    which with a `label_dprime_threshold` includes patches of k or more MCs of which fewer
    than k reach the threshold; ``cluster``: class 1), ``n_inside``, ``dprime_k`` (d′ of
    the k-th most detectable MC inside, k = `cluster_min_count`), ``dprime_max`` (of the
    most detectable one) and ``size_mm`` (median size of the MCs inside; NaN without MCs).
    """
    patches = batch.patches
    mcs = batch.calcifications
    inside = mcs[mcs["inside"].astype(bool)] if len(mcs) else mcs
    grouped = inside.groupby("index") if len(inside) else None
    size = grouped["size_mm"].median() if grouped is not None else pd.Series(dtype=float)
    dmax = grouped["dprime"].max() if grouped is not None else pd.Series(dtype=float)
    n_inside = patches["n_inside"].to_numpy()
    finding = np.where(patches["label"].to_numpy() == 1, "cluster",
                       np.where(n_inside == 0, "negative",
                                np.where(n_inside == 1, "hard_negative_1", "hard_negative_2")))
    index = patches["index"].to_numpy()
    return pd.DataFrame({
        "index": index, "label": patches["label"].to_numpy().astype(np.int64),
        "finding": finding, "n_inside": n_inside,
        "dprime_k": patches["dprime_k"].to_numpy(np.float64),
        "dprime_max": dmax.reindex(index).fillna(0.0).to_numpy(np.float64),
        "size_mm": size.reindex(index).to_numpy(np.float64),
    })


class StudyData:
    """The study's datasets, generated once on first use and kept in memory.

    Keys: ``"target-50"``, ``"target-70"``, ``"target-100"`` (the same `n` scenes of
    `STUDY_TARGET_DOMAIN`, seed `seed`), ``"source-70"`` (`n` scenes of
    `STUDY_SOURCE_DOMAIN`, seed ``seed + 1``), ``"mixed"`` (train and validation only: the
    target training patches, position *k* taken at ``RESOLUTIONS[k % 3]`` and resampled to
    70 µm, so the mixed model gets the same number of patches as every other arm). A key
    ending in ``"@70"`` is that dataset resampled to 70 µm (`to_70um`).
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self._batches: dict[str, synth.Batch] = {}
        self._subsets: dict[tuple[str, str], Subset] = {}

    def _batch(self, key: str) -> synth.Batch:
        if key not in self._batches:
            domain, res = key.split("-")
            config = STUDY_SOURCE_DOMAIN if domain == "source" else STUDY_TARGET_DOMAIN
            seed = self.seed + 1 if domain == "source" else self.seed
            self._batches[key] = synth.generate(config, self.n, resolution_um=int(res),
                                                seed=seed)
        return self._batches[key]

    @cached_property
    def _splits(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        target = split_indices(self._batch("target-70").labels, seed=self.seed)
        source = split_indices(self._batch("source-70").labels, seed=self.seed + 1)
        return {"target": target, "source": source}

    def subset(self, key: str, part: str) -> Subset:
        """`part` (``"train"``, ``"val"``, ``"test"``) of dataset `key`."""
        if (key, part) not in self._subsets:
            self._subsets[key, part] = self._make(key, part)
        return self._subsets[key, part]

    def _make(self, key: str, part: str) -> Subset:
        which = ("train", "val", "test").index(part)
        if key == "mixed":
            return self._mixed(part)
        name, _, at = key.partition("@")
        domain, res = name.split("-")
        rows = self._splits[domain][which]
        batch = self._batch(name)
        images = batch.images[rows][..., np.newaxis]
        if at:
            images = to_70um(images, int(res))
        truth = patch_truth(batch).iloc[rows].reset_index(drop=True)
        return Subset(images, batch.labels[rows].astype(np.int64), truth)

    def _mixed(self, part: str) -> Subset:
        rows = self._splits["target"][("train", "val", "test").index(part)]
        pick = np.arange(len(rows)) % len(RESOLUTIONS)
        images = np.empty((len(rows), SIZE_70, SIZE_70, 1), np.float32)
        frames = []
        for k, res in enumerate(RESOLUTIONS):
            chosen = rows[pick == k]
            batch = self._batch(f"target-{res}")
            images[pick == k] = to_70um(batch.images[chosen][..., np.newaxis], res)
            frames.append(patch_truth(batch).iloc[chosen].assign(resolution_um=res))
        labels = self._batch("target-70").labels[rows].astype(np.int64)
        truth = pd.concat(frames).sort_values("index").reset_index(drop=True)
        return Subset(images, labels, truth)
