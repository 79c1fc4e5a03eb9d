"""Full-field mammograms with anatomy: a `Phantom` with MC findings at their BI-RADS scale and
benign look-alikes (stage one: `sample_anatomical`), rendered through the attenuation model
and the detector chain (stage two: `render_anatomical`, pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._attenuation import _dprimes, _mc_boxes_full
from ._breast import render_texture, texture_units
from ._calcifications import _scatter
from ._config import SceneConfig
from ._detector import blur_mm
from ._lookalikes import (
    DETECTOR_DEFECTS,
    Lookalike,
    apply_defects,
    check_lookalikes,
    lookalike_thickness,
    sample_lookalikes,
)
from ._mammogram_scene import MammogramScene
from ._phantom_findings import sample_findings
from ._phantom_render import fibroglandular_fraction, tissue_attenuation
from ._phantom_sample import check_density_category, check_view, sample_phantom
from ._physics import Chain, dprime, mc_delta_mu
from ._random import Key

EQUALISATION = 0.75
"""Presentation of an anatomical mammogram: this share of the fat of the local thickness is
subtracted (peripheral equalisation in part), so fat is dark grey, the thin periphery darker
and the background black."""
FINDING_COLUMNS = ("finding", "kind", "label", "distribution", "X1", "Y1", "X2", "Y2", "x_mm",
                   "y_mm", "extent_mm", "n_calcifications", "n_boxes", "material",
                   "local_tissue", "integrated_signal", "dprime")
"""Columns of `Mammogram.findings`: one row per finding, MCCs (label 1) and every hard
negative (label 0: isolated MCs, each look-alike and each detector defect). The box
(X1, Y1, X2, Y2) spans the whole finding (its BI-RADS extent); ``n_boxes``: the MCC
annotation boxes (groups of at least `cluster_min_count` MCs within 1 cm) it yields;
``local_tissue``: the glandular fraction at its MCs (mean) or at the look-alike's centre;
``material``, ``integrated_signal``, ``dprime``: look-alikes only (per-MC figures are in
the calcifications table)."""


def check_anatomy_config(config: SceneConfig) -> None:
    """A ValueError naming `contrast_model` unless anatomy can render `config`."""
    if config.contrast_model != "attenuation":
        raise ValueError("`contrast_model` must be 'attenuation' for a mammogram with anatomy; "
                         f"got contrast_model={config.contrast_model!r}.")


def sample_anatomical(config: SceneConfig, size_mm: tuple[float, float],
                      rng: np.random.Generator, clusters: tuple[int, int],
                      hard: tuple[int, int], view: str | None, density_category: str | None,
                      lookalikes: Sequence[str] | None) -> MammogramScene:
    """Stage one with anatomy (see `sample_mammogram`); every draw from `rng`."""
    check_view(view)
    check_density_category(density_category)
    kinds = check_lookalikes(lookalikes)
    check_anatomy_config(config)
    ph = sample_phantom(size_mm=size_mm, rng=rng, view=view, density_category=density_category,
                        thickness_range_mm=config.breast_thickness_range_mm,
                        beta_range=config.beta_range)
    n_clusters = int(rng.integers(clusters[0], clusters[1] + 1))
    n_hard = int(rng.integers(hard[0], hard[1] + 1)) if config.cluster_min_count > 1 else 0
    mcs, owner, finding, dists = sample_findings(config, ph, rng, n_clusters, n_hard)
    looks = sample_lookalikes(ph, kinds, rng=rng)
    noise_key = tuple(int(k) for k in rng.bit_generator.random_raw(4))
    density = fibroglandular_fraction(ph, 2.0)["volumetric"]
    return MammogramScene(
        size_mm=size_mm, chest_wall=ph.chest_wall,  # type: ignore[arg-type]
        breast_centre_y_mm=ph.origin_y_mm,
        breast_semi_axes_mm=(float(ph.radius_mm[len(ph.radius_mm) // 2]),
                             float(0.5 * (ph.radius_mm[0] + ph.radius_mm[-1]))),
        skin_falloff_mm=ph.edge_mm, density=density, beta=ph.beta,
        background_key=ph.texture_key, noise_key=noise_key,  # type: ignore[arg-type]
        calcifications=mcs, cluster=owner, distributions=dists,
        acquisition=config.acquisition, cluster_min_count=config.cluster_min_count,
        contrast_model="attenuation", mc_shape=config.mc_shape, thickness_mm=ph.thickness_mm,
        phantom=ph, lookalikes=looks, finding=finding)


class _Presentation(Chain):
    """The detector chain with the anatomical presentation window (`EQUALISATION`)."""

    def __init__(self, acquisition: object, px: float, thickness: float) -> None:
        super().__init__(acquisition, px)  # type: ignore[arg-type]
        self.window = thickness * ((1 - EQUALISATION) * self.mu_fat + self.mu_gf) / 0.95

    def render_equalised(self, a: np.ndarray, a_ref: float, total: np.ndarray, key: Key, *,
                         heel_position_mm: np.ndarray | None,
                         scatter_sigma_mm: float | None) -> np.ndarray:
        """The output image from `a` (overwritten) and the tissue thickness `total` (mm,
        read only): the ADC's full scale from the thinnest tissue (`adc_thinnest_mm`), the
        presentation window subtracting `EQUALISATION` × the fat of the local thickness."""
        fat = total * np.float32(EQUALISATION)
        return self._run(a[None], [a_ref], [adc_thinnest_mm(total)], [key], fat,
                         heel_position_mm, scatter_sigma_mm)[0]


def adc_thinnest_mm(total: np.ndarray) -> float:
    """The thinnest tissue (mm) the ADC's range must reach: the least positive thickness."""
    return float(max(np.min(total[total > 0], initial=float(total.max(initial=1.0))), 1e-3))


def render_anatomical(scene: MammogramScene, res: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """(image, breast mask, MC mask, MC table, look-alike rows) of an anatomical scene at
    `res` µm. Pure."""
    from ._mammogram import BREAST_FLOOR, SCATTER_SIGMA_MM, _table, image_shape

    ph = scene.phantom
    assert ph is not None
    px = res / 1000.0
    shape = image_shape(scene.size_mm, res)
    blur = blur_mm(scene.acquisition)
    chain = _Presentation(scene.acquisition, px, ph.thickness_mm)
    texture = render_texture(ph.texture_key, beta=ph.beta, std=1.0, blur_mm=blur,
                             units=(texture_units(scene.size_mm[0]),
                                    texture_units(scene.size_mm[1])),
                             shape=shape, resolution_um=res)
    mcs = scene.calcifications
    x_mm = np.array([mc.x_mm for mc in mcs], dtype=float)
    y_mm = np.array([mc.y_mm for mc in mcs], dtype=float)
    x_px, y_px = x_mm / px - 0.5, y_mm / px - 0.5
    look_xy = np.array([(lk.x_mm, lk.y_mm) for lk in scene.lookalikes], dtype=float
                       ).reshape(-1, 2)
    rows = np.rint(np.concatenate([y_px, look_xy[:, 1] / px - 0.5])).astype(int)
    cols = np.rint(np.concatenate([x_px, look_xy[:, 0] / px - 0.5])).astype(int)
    rows, cols = rows.clip(0, shape[0] - 1), cols.clip(0, shape[1] - 1)
    a, total, distance, _, g_at = tissue_attenuation(
        ph, mu_fat=chain.mu_fat, mu_gf=chain.mu_gf, x0=0.0, y0=0.0, px=px, shape=shape,
        texture=texture, blur_mm=blur, coarse=True, probe=(rows, cols))
    breast = distance > 0
    del distance
    a_local = a[rows[:len(mcs)], cols[:len(mcs)]].astype(float)
    a_ref = ph.thickness_mm * (chain.mu_fat + chain.mu_gf * scene.density)
    mc_mask = np.zeros(shape, dtype=bool)
    contrast = np.array([mc.contrast for mc in mcs], dtype=float)
    signal, thickness, dprimes = np.zeros(len(mcs)), np.zeros(len(mcs)), np.zeros(len(mcs))
    if mcs:
        owners = [(0, mc) for mc in mcs]
        boxes, thickness = _mc_boxes_full(owners, px, blur, np.full(len(mcs), scene.mc_shape
                                                                    == "solid"), shape)
        scale = contrast * np.array([mc_delta_mu(mc.material, chain.energy) for mc in mcs])
        patch = np.zeros(len(mcs), dtype=np.int64)
        signal, _ = _scatter(boxes, patch, scale, a[None], mc_mask[None])
        signal *= px**2
        dprimes = _dprimes(boxes, scale, patch, [chain], a_local, np.array([a_ref]),
                           np.array([ph.thickness_mm]))
    looks = _add_lookalikes(scene.lookalikes, a, chain, px, blur, a_ref, total,
                            g_at[len(mcs):])
    chest = np.abs((np.arange(shape[1], dtype=np.float32) + np.float32(0.5)) * np.float32(px)
                    - np.float32(scene.chest_x_mm))[None, :]
    image = chain.render_equalised(a, float(a_ref), total, scene.noise_key,
                                   heel_position_mm=chest, scatter_sigma_mm=SCATTER_SIGMA_MM)
    del total
    apply_defects(image, scene.lookalikes, px)
    np.maximum(image, np.float32(BREAST_FLOOR), out=image, where=breast)
    image[~breast] = 0.0
    table = _table(scene, x_mm, y_mm, x_px, y_px, contrast, g_at[:len(mcs)], signal, thickness,
                   dprimes)
    table["kind"] = np.where(table["cluster"].to_numpy() >= 0, "cluster", "hard_negative")
    table["finding"] = np.array(scene.finding, dtype=np.int64)
    n_found = len(scene.distributions) + len(set(f for f, c in zip(scene.finding, scene.cluster,
                                                                    strict=True) if c < 0))
    looks["finding"] = np.arange(n_found, n_found + len(looks), dtype=np.int64)
    return image, breast, mc_mask, table, looks


def clipped(origin: np.ndarray, shape: tuple[int, int], bounds: tuple[int, int]
            ) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """(image slices, profile slices) of a profile of `shape` whose pixel (0, 0) is image
    pixel `origin` (row, col), clipped to an image of `bounds`; None when nothing is left."""
    r0, c0 = int(origin[0]), int(origin[1])
    r1, c1 = min(r0 + shape[0], bounds[0]), min(c0 + shape[1], bounds[1])
    ra, ca = max(r0, 0), max(c0, 0)
    if ra >= r1 or ca >= c1:
        return None
    return ((slice(ra, r1), slice(ca, c1)),
            (slice(ra - r0, r1 - r0), slice(ca - c0, c1 - c0)))


LOOK_COLUMNS = ("kind", "x_mm", "y_mm", "size_mm", "material", "contrast", "local_tissue",
                "integrated_signal", "thickness_mm", "dprime")


def _add_lookalikes(looks: tuple[Lookalike, ...], a: np.ndarray, chain: Chain, px: float,
                    blur: float, a_ref: float, total: np.ndarray, gland: np.ndarray
                    ) -> pd.DataFrame:
    """Add each solid look-alike's line integral to `a`; one row per look-alike
    (`LOOK_COLUMNS`; `gland`: the glandular fraction at each one's centre)."""
    rows = []
    full = chain.full_scale(adc_thinnest_mm(total), a_ref)
    h, w = a.shape
    for lk, g in zip(looks, gland, strict=True):
        row = {"kind": lk.kind, "x_mm": lk.x_mm, "y_mm": lk.y_mm, "size_mm": lk.size_mm,
               "material": lk.material, "contrast": lk.fill, "local_tissue": float(g),
               "integrated_signal": 0.0, "thickness_mm": 0.0, "dprime": np.nan}
        if lk.kind not in DETECTOR_DEFECTS:
            origin, prof = lookalike_thickness(lk, px, blur)
            where = clipped(origin, prof.shape, (h, w))
            if where is not None:
                scale = lk.fill * mc_delta_mu(lk.material, chain.energy)
                part = prof[where[1]]
                r = int(np.clip(lk.y_mm / px, 0, h - 1))
                c = int(np.clip(lk.x_mm / px, 0, w - 1))
                local = float(a[r, c])
                a[where[0]] += (scale * part).astype(np.float32)
                qv, ov = chain.noise_variance(np.array([local]), np.array(a_ref),
                                              np.array(full))
                row.update(integrated_signal=float(scale * part.sum() * px * px),
                           thickness_mm=float(prof.max()),
                           dprime=float(dprime([prof], np.array([scale]), qv, ov,
                                               chain.kernel)[0]))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(LOOK_COLUMNS))
    floats = ["x_mm", "y_mm", "size_mm", "contrast", "local_tissue", "integrated_signal",
              "thickness_mm", "dprime"]
    return frame.astype(dict.fromkeys(floats, float))


def findings_table(scene: MammogramScene, table: pd.DataFrame, looks: pd.DataFrame,
                   boxes: pd.DataFrame, shape: tuple[int, int], px: float, margin_mm: float
                   ) -> pd.DataFrame:
    """One row per finding (`FINDING_COLUMNS`): a box around its MCs (its whole BI-RADS
    extent) or its look-alike; `boxes`: the MCC annotation boxes (`mcc_boxes`)."""
    out = []
    n_boxes = boxes["cluster"].value_counts()
    for f in sorted(set(scene.finding)):
        mine = table[table["finding"] == f]
        cluster = int(mine["cluster"].iloc[0])
        out.append((*_box(f, "cluster" if cluster >= 0 else "hard_negative", int(cluster >= 0),
                          scene.distributions[cluster] if cluster >= 0 else "",
                          mine["x_mm"].to_numpy(), mine["y_mm"].to_numpy(),
                          0.5 * mine["size_mm"].to_numpy(), shape, px, margin_mm),
                    int(n_boxes.get(cluster, 0)) if cluster >= 0 else 0, "",
                    float(mine["local_tissue"].mean()), np.nan, np.nan))
    for lk, row in zip(scene.lookalikes, looks.itertuples(), strict=True):
        reach = np.full(1, 0.5 * lk.size_mm if lk.kind != "dead_line" else 0.0)
        ys = np.array([lk.y_mm]) if lk.kind != "dead_line" else lk.parts[0, 1:]
        xs = np.full(len(ys), lk.x_mm)
        out.append((*_box(int(row.finding), lk.kind, 0, "", xs, ys, np.resize(reach, len(ys)),
                          shape, px, margin_mm),
                    0, lk.material, float(row.local_tissue), float(row.integrated_signal),
                    float(row.dprime)))
    return pd.DataFrame(out, columns=list(FINDING_COLUMNS))


def _box(f: int, kind: str, label: int, dist: str, x: np.ndarray, y: np.ndarray,
         reach: np.ndarray, shape: tuple[int, int], px: float, margin: float) -> tuple:
    x1, x2 = (x - reach).min() - margin, (x + reach).max() + margin
    y1, y2 = (y - reach).min() - margin, (y + reach).max() + margin
    return (f, kind, label, dist, max(int(np.floor(x1 / px)), 0), max(int(np.floor(y1 / px)), 0),
            min(int(np.ceil(x2 / px)), shape[1]), min(int(np.ceil(y2 / px)), shape[0]),
            float(x.mean()), float(y.mean()), float(max(x2 - x1, y2 - y1) - 2 * margin),
            len(x) if kind in ("cluster", "hard_negative") else 0)
