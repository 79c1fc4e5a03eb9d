"""Stage two of a full-field mammogram: render a `MammogramScene` at 50, 70 or 100 µm. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._attenuation import _dprimes, _mc_boxes_full
from ._background import texture_level
from ._breast import breast_profile, render_texture, texture_units
from ._calcifications import _components_px, _profiles, _scatter, relative_noise_var
from ._config import SceneConfig, check_resolution, patch_size_px
from ._detector import apply_noise, blur_mm, quantise
from ._generate import check_seed
from ._images import pixel_limit
from ._mammogram_scene import MammogramScene, sample_mammogram
from ._physics import Chain, mc_delta_mu, texture_std

BOX_MARGIN_MM = 1.0
"""Annotation boxes enclose every MC of their cluster (centre ± half its size) plus this."""
ANNOTATION_COLUMNS = ("X1", "Y1", "X2", "Y2", "cluster", "distribution", "n_calcifications")
CALCIFICATION_COLUMNS = ("cluster", "x_mm", "y_mm", "x_px", "y_px", "size_mm", "morphology",
                         "contrast", "local_tissue", "integrated_signal", "material",
                         "thickness_mm", "dprime")


@dataclass(frozen=True, eq=False)
class Mammogram:
    """A rendered full-field mammogram.

    Attributes
    ----------
    image : ndarray of shape (H, W), float32 in [0, 1]
        Exactly 0.0 outside the breast, above 0 inside.
    breast_mask : ndarray of shape (H, W), bool
        Pixels whose centre lies inside the skin line.
    mc_mask : ndarray of shape (H, W), bool
        Pixels where an MC reaches half its own peak.
    annotations : DataFrame
        One row per MCC (`ANNOTATION_COLUMNS`): the box ``image[Y1:Y2, X1:X2]`` (int pixel
        corners, X = column, Y = row, X2 and Y2 exclusive) encloses all the cluster's MCs with
        a 1 mm margin, clipped to the image; then the cluster's index, distribution and MC count.
        With anatomy, a finding can span centimetres: its boxes are groups of at least
        `cluster_min_count` MCs within 1 cm, each at most 1 cm a side (`synth._phantom_boxes`),
        so a finding has none, one or several; its whole extent is in `findings`.
    calcifications : DataFrame
        One row per MC (`CALCIFICATION_COLUMNS`): cluster (-1 for hard negatives), centre in mm
        from the image's top-left corner and in px (``x_px = x_mm / spacing - 0.5``: pixel
        centres at integers), size, morphology, contrast, local tissue level, integrated signal.
    resolution_um : int
    scene : MammogramScene
    """

    image: np.ndarray
    breast_mask: np.ndarray
    mc_mask: np.ndarray
    annotations: pd.DataFrame
    calcifications: pd.DataFrame
    resolution_um: int
    scene: MammogramScene = field(repr=False)
    findings: pd.DataFrame | None = field(default=None, repr=False)
    """Anatomy only: one row per finding (`FINDING_COLUMNS`): each MCC (label 1), each hard
    negative, benign look-alike and detector defect (label 0, `kind` naming it); None for
    the first-wave half ellipse."""


def image_shape(size_mm: tuple[float, float], resolution_um: int) -> tuple[int, int]:
    """Pixels (H, W) of a `size_mm` image at `resolution_um` (rounded to whole pixels);
    a ValueError naming `size_mm` when that is over the pixel limit of the image reader
    (`synth.io.MAX_PIXELS`, or ``MCC_MAX_PIXELS``), checked before any memory is taken: a
    mammogram is about 12 bytes a pixel while it is rendered.

    Examples
    --------
    >>> from synth._mammogram import image_shape
    >>> image_shape((240.0, 300.0), 70)
    (3429, 4286)
    >>> image_shape((5000.0, 5000.0), 70)
    Traceback (most recent call last):
    ...
    ValueError: `size_mm` (5000, 5000) at 70 µm is 71429 × 71429 = 5,102,102,041 pixels; ...
    """
    shape = (int(round(size_mm[0] * 1000.0 / resolution_um)),
             int(round(size_mm[1] * 1000.0 / resolution_um)))
    limit = pixel_limit()
    if shape[0] * shape[1] > limit:
        raise ValueError(f"`size_mm` ({size_mm[0]:g}, {size_mm[1]:g}) at {resolution_um} µm is "
                         f"{shape[0]} × {shape[1]} = {shape[0] * shape[1]:,} pixels; at most "
                         f"{limit:,} are made (set MCC_MAX_PIXELS to allow more).")
    return shape


def render_mammogram(
    config: SceneConfig,
    *,
    resolution_um: int,
    seed: int,
    size_mm: tuple[float, float] | None = None,
    n_clusters_range: tuple[int, int] = (2, 5),
    n_hard_negatives_range: tuple[int, int] = (2, 6),
    anatomy: bool | None = None,
    view: str | None = None,
    density_category: str | None = None,
    lookalikes: Sequence[str] | None = None,
) -> Mammogram:
    """A synthetic full-field mammogram with microcalcification clusters and hard negatives.

    ``sample_mammogram(config, size_mm=size_mm, rng=numpy.random.default_rng(seed))`` then
    `render_mammogram_scene`: the same seed gives the same breast, tissue and MCs (in mm) at
    every resolution.

    Parameters
    ----------
    config : SceneConfig
    resolution_um : int
        50, 70 or 100 (a 240 × 300 mm image is 4800 × 6000, 3429 × 4286 or 2400 × 3000 px).
    seed : int
    size_mm : (float, float), optional
        (height, width) in mm, at least 20 each; default 240 × 300 mm.
    n_clusters_range, n_hard_negatives_range : (int, int)
        See `sample_mammogram`.
    anatomy, view, density_category, lookalikes
        The anatomical breast (CC or MLO, BI-RADS density a–d, benign look-alikes); see
        `sample_mammogram`. Off by default (the first-wave half ellipse, byte for byte).

    Returns
    -------
    Mammogram

    Examples
    --------
    A small 40 × 50 mm image keeps the example fast:

    >>> import synth
    >>> mammogram = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                    size_mm=(40.0, 50.0))
    >>> mammogram.image.shape, mammogram.image.dtype.name
    ((400, 500), 'float32')
    >>> float(mammogram.image[~mammogram.breast_mask].max())  # background is exactly 0
    0.0
    >>> print(mammogram.annotations.to_string(index=False))
     X1  Y1  X2  Y2  cluster distribution  n_calcifications
    235 135 310 192        0    segmental                10
    420 105 465 141        1    clustered                 3
    """
    res = check_resolution(resolution_um)
    scene = sample_mammogram(config, size_mm=size_mm, rng=np.random.default_rng(check_seed(seed)),
                             n_clusters_range=n_clusters_range,
                             n_hard_negatives_range=n_hard_negatives_range, anatomy=anatomy,
                             view=view, density_category=density_category,
                             lookalikes=lookalikes)
    return render_mammogram_scene(scene, res)


def render_mammogram_scene(scene: MammogramScene, resolution_um: int) -> Mammogram:
    """Render a full-field scene at `resolution_um`; pure (same scene → same bytes).

    Tissue: level and 1/f^beta texture of the scene's density (as for patches), times the
    breast's thickness profile, 0 outside the skin line. MCs: pixel-integrated Gaussian sums
    with contrast relative to the local tissue, rendered on the pixels near each MC only. Then
    the detector (blur in the texture spectrum and MC covariances, noise, quantisation) and the
    background set to exactly 0. `SceneConfig.lumpy_strength` is not rendered at full field.

    Examples
    --------
    The same scene at two resolutions: the boxes scale with the pixel size.

    >>> import numpy as np
    >>> import synth
    >>> scene = synth.sample_mammogram(synth.SceneConfig(), size_mm=(40.0, 50.0),
    ...                                rng=np.random.default_rng(0))
    >>> at_100 = synth.render_mammogram_scene(scene, 100)
    >>> at_50 = synth.render_mammogram_scene(scene, 50)
    >>> at_100.image.shape, at_50.image.shape
    ((400, 500), (800, 1000))
    >>> at_100.annotations[["X1", "Y1", "X2", "Y2"]].values.tolist()
    [[235, 135, 310, 192], [420, 105, 465, 141]]
    >>> at_50.annotations[["X1", "Y1", "X2", "Y2"]].values.tolist()
    [[470, 271, 620, 383], [841, 210, 929, 281]]
    >>> len(at_100.calcifications), int(at_100.calcifications["cluster"].eq(-1).sum())
    (15, 2)
    """
    if not isinstance(scene, MammogramScene):
        raise TypeError(f"`scene` must be a MammogramScene; got {type(scene).__name__}.")
    res = check_resolution(resolution_um)
    if scene.phantom is not None:
        return _render_anatomy(scene, res)
    if scene.contrast_model == "attenuation":
        return _render_attenuation(scene, res)
    px = res / 1000.0
    shape = image_shape(scene.size_mm, res)
    blur = blur_mm(scene.acquisition)
    level, std = texture_level(np.array(scene.density))
    image = render_texture(scene.background_key, beta=scene.beta, std=float(std), blur_mm=blur,
                           units=(texture_units(scene.size_mm[0]),
                                  texture_units(scene.size_mm[1])),
                           shape=shape, resolution_um=res)
    image += np.float32(level)
    x = ((np.arange(shape[1], dtype=np.float32) + np.float32(0.5)) * np.float32(px))[None, :]
    y = ((np.arange(shape[0], dtype=np.float32) + np.float32(0.5)) * np.float32(px))[:, None]
    distance = scene.skin_distance_mm(x, y)
    breast = distance > 0
    image *= breast_profile(distance, scene.skin_falloff_mm)
    del distance
    mc_mask = np.zeros(shape, dtype=bool)
    table = _add_calcifications(scene, image, mc_mask, px, blur)
    if scene.acquisition is not None:
        apply_noise(image[None], [scene.acquisition], [scene.noise_key], px)
    np.clip(image, 0.0, 1.0, out=image)
    quantise(image[None], [scene.acquisition])
    image[~breast] = 0.0
    return Mammogram(image, breast, mc_mask, _annotations(scene, table, shape, px), table, res,
                     scene)


def _add_calcifications(scene: MammogramScene, image: np.ndarray, mc_mask: np.ndarray,
                        px: float, blur: float) -> pd.DataFrame:
    """Add every MC to `image` (only the pixels it reaches) and return the per-MC table.

    The local tissue level is read at each MC's centre pixel before any MC is added.
    """
    mcs = scene.calcifications
    x_mm = np.array([mc.x_mm for mc in mcs], dtype=float)
    y_mm = np.array([mc.y_mm for mc in mcs], dtype=float)
    x_px, y_px = x_mm / px - 0.5, y_mm / px - 0.5
    contrast = np.array([mc.contrast for mc in mcs], dtype=float)
    tissue, signal = np.zeros(len(mcs)), np.zeros(len(mcs))
    if mcs:
        comp, counts = _components_px([(0, mc) for mc in mcs], px, -0.5, np.array([blur]))
        rows = np.rint(y_px).astype(int).clip(0, image.shape[0] - 1)
        cols = np.rint(x_px).astype(int).clip(0, image.shape[1] - 1)
        tissue = image[rows, cols].astype(float)
        signal, sumsq = _scatter(_profiles(comp, counts), np.zeros(len(mcs), dtype=np.int64),
                                 contrast * tissue, image[None], mc_mask[None])
        signal *= px**2
        var = relative_noise_var(tissue, scene.acquisition, px)
        dprime = np.full(len(mcs), np.inf) if var is None else np.sqrt(sumsq / var)
        dprime[sumsq == 0] = 0.0
    else:
        dprime = np.zeros(0)
    return _table(scene, x_mm, y_mm, x_px, y_px, contrast, tissue, signal,
                  np.zeros(len(mcs)), dprime)


def _table(scene: MammogramScene, x_mm: np.ndarray, y_mm: np.ndarray, x_px: np.ndarray,
           y_px: np.ndarray, contrast: np.ndarray, tissue: np.ndarray, signal: np.ndarray,
           thickness: np.ndarray, dprime: np.ndarray) -> pd.DataFrame:
    mcs = scene.calcifications
    return pd.DataFrame({
        "cluster": np.array(scene.cluster, dtype=np.int64), "x_mm": x_mm, "y_mm": y_mm,
        "x_px": x_px, "y_px": y_px, "size_mm": np.array([mc.size_mm for mc in mcs], dtype=float),
        "morphology": np.array([mc.morphology for mc in mcs], dtype=object),
        "contrast": contrast, "local_tissue": tissue, "integrated_signal": signal,
        "material": np.array([mc.material for mc in mcs], dtype=object),
        "thickness_mm": thickness, "dprime": dprime,
    }, columns=list(CALCIFICATION_COLUMNS))


def _render_attenuation(scene: MammogramScene, res: int) -> Mammogram:
    """The attenuation model at full field: thickness T × the rounded-edge profile, glandular
    fraction from the scene's density and texture, MCs as solids, then the detector chain
    (scatter smoothed over 20 mm, heel effect along x away from the chest wall)."""
    px = res / 1000.0
    shape = image_shape(scene.size_mm, res)
    blur = blur_mm(scene.acquisition)
    chain = Chain(scene.acquisition, px)
    gland = render_texture(scene.background_key, beta=scene.beta, std=1.0, blur_mm=blur,
                           units=(texture_units(scene.size_mm[0]),
                                  texture_units(scene.size_mm[1])),
                           shape=shape, resolution_um=res)
    gland *= np.float32(texture_std(scene.density))
    gland += np.float32(scene.density)
    np.clip(gland, 0.0, 1.0, out=gland)
    x = ((np.arange(shape[1], dtype=np.float32) + np.float32(0.5)) * np.float32(px))[None, :]
    y = ((np.arange(shape[0], dtype=np.float32) + np.float32(0.5)) * np.float32(px))[:, None]
    distance = scene.skin_distance_mm(x, y)
    breast = distance > 0
    thick = breast_profile(distance, scene.skin_falloff_mm)
    thick *= np.float32(scene.thickness_mm)
    del distance
    mcs = scene.calcifications
    x_mm = np.array([mc.x_mm for mc in mcs], dtype=float)
    y_mm = np.array([mc.y_mm for mc in mcs], dtype=float)
    x_px, y_px = x_mm / px - 0.5, y_mm / px - 0.5
    rows = np.rint(y_px).astype(int).clip(0, shape[0] - 1)
    cols = np.rint(x_px).astype(int).clip(0, shape[1] - 1)
    local_gland = gland[rows, cols].astype(float)
    local_t = thick[rows, cols].astype(float)
    image = gland
    image *= np.float32(chain.mu_gf)
    image += np.float32(chain.mu_fat)
    image *= thick
    a_ref = scene.thickness_mm * (chain.mu_fat + chain.mu_gf * scene.density)
    mc_mask = np.zeros(shape, dtype=bool)
    contrast = np.array([mc.contrast for mc in mcs], dtype=float)
    signal = np.zeros(len(mcs))
    thickness = np.zeros(len(mcs))
    dprime = np.zeros(len(mcs))
    if mcs:
        owners = [(0, mc) for mc in mcs]
        solid = np.full(len(mcs), scene.mc_shape == "solid")
        boxes, thickness = _mc_boxes_full(owners, px, blur, solid, shape)
        scale = contrast * np.array([mc_delta_mu(mc.material, chain.energy) for mc in mcs])
        patch = np.zeros(len(mcs), dtype=np.int64)
        signal, _ = _scatter(boxes, patch, scale, image[None], mc_mask[None])
        signal *= px**2
        a_local = local_t * (chain.mu_fat + chain.mu_gf * local_gland)
        dprime = _dprimes(boxes, scale, patch, [chain], a_local, np.array([a_ref]),
                          np.array([scene.thickness_mm]))
    chest = np.abs(x - np.float32(scene.chest_x_mm))
    image = chain.render(image, float(a_ref), float(scene.thickness_mm), scene.noise_key,
                         heel_position_mm=chest, scatter_sigma_mm=SCATTER_SIGMA_MM,
                         thickness_map=thick)
    del thick
    np.maximum(image, np.float32(BREAST_FLOOR), out=image, where=breast)
    image[~breast] = 0.0
    table = _table(scene, x_mm, y_mm, x_px, y_px, contrast, local_gland, signal, thickness,
                   dprime)
    return Mammogram(image, breast, mc_mask, _annotations(scene, table, shape, px), table, res,
                     scene)


def _render_anatomy(scene: MammogramScene, res: int) -> Mammogram:
    """An anatomical scene (`synth._phantom_mammogram`): MCC boxes of groups of at least
    `cluster_min_count` MCs within 1 cm (`synth._phantom_boxes`), findings at full extent."""
    from ._phantom_boxes import mcc_boxes
    from ._phantom_mammogram import findings_table, render_anatomical

    image, breast, mc_mask, table, looks = render_anatomical(scene, res)
    px = res / 1000.0
    boxes = mcc_boxes(table, scene.distributions, image.shape, px, patch_size_px(res),
                      scene.cluster_min_count, BOX_MARGIN_MM, ANNOTATION_COLUMNS)
    findings = findings_table(scene, table, looks, boxes, image.shape, px, BOX_MARGIN_MM)
    return Mammogram(image, breast, mc_mask, boxes, table, res, scene, findings)


BREAST_FLOOR = 1.0 / 1024
"""The least value of a breast pixel, so the breast never merges with the exact-0 background."""
SCATTER_SIGMA_MM = 20.0
"""Width of the kernel the full-field scatter field is the primary fluence smoothed by."""


def _annotations(scene: MammogramScene, table: pd.DataFrame, shape: tuple[int, int],
                 px: float) -> pd.DataFrame:
    """One box per cluster around its MCs (± half size + margin), half-open, clipped."""
    rows = []
    for k, distribution in enumerate(scene.distributions):
        mcs = table[table["cluster"] == k]
        reach = (0.5 * mcs["size_mm"].to_numpy() + BOX_MARGIN_MM) / px
        x, y = mcs["x_px"].to_numpy(), mcs["y_px"].to_numpy()
        # Pixel j spans [j - 0.5, j + 0.5]: [X1, X2) covers [X1 - 0.5, X2 - 0.5].
        x1 = int(np.floor((x - reach).min() + 0.5))
        x2 = int(np.ceil((x + reach).max() + 0.5))
        y1 = int(np.floor((y - reach).min() + 0.5))
        y2 = int(np.ceil((y + reach).max() + 0.5))
        rows.append((max(x1, 0), max(y1, 0), min(x2, shape[1]), min(y2, shape[0]), k,
                     distribution, len(mcs)))
    frame = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
    return frame.astype({"X1": np.int64, "Y1": np.int64, "X2": np.int64, "Y2": np.int64,
                         "cluster": np.int64, "n_calcifications": np.int64})
