"""Stage one of a full-field mammogram: the breast, its tissue and where its MCs lie, in mm.

Coordinates: millimetres from the image's top-left corner, x to the right (columns), y down
(rows). The MCs come from the patch scene sampler: each cluster is a positive scene of the
config (its arrangement centred on the field) and each hard negative a scene of 1–2 isolated
MCs, moved to a place inside the breast.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._breast import skin_distance_mm
from ._config import Acquisition, SceneConfig
from ._fields import _check_range
from ._lookalikes import Lookalike
from ._phantom import Phantom
from ._random import Key
from ._scene import Calcification, Scene, sample_scenes

DEFAULT_SIZE_MM: tuple[float, float] = (240.0, 300.0)
"""(height, width) of the papers' full-field mammograms: 24 × 30 cm."""
MIN_SIDE_MM = 20.0
SKIN_CLEARANCE_MM = 5.0
"""Every MC centre lies at least this far inside the skin line."""
GROUP_GAP_MM = 11.0
"""MCs of different groups (clusters, hard negatives) are at least this far apart along x or
along y, so no 1 cm window holds MCs of two groups: a window without a cluster's MCs never
holds `cluster_min_count` MCs."""
_EDGE_MM = 2.0  # MC centres stay this far from the image border (the chest-wall side too)
_CANDIDATES = 64  # proposed places per group; a group that fits none is left out

ChestWall = Literal["left", "right"]


@dataclass(frozen=True, kw_only=True, eq=False)
class MammogramScene:
    """A full-field scene: every random draw fixed; `render_mammogram_scene` makes the pixels.

    The breast is the half of an ellipse (semi-axes `breast_semi_axes_mm` = (a along x, b along
    y)) centred on the chest-wall edge at height `breast_centre_y_mm`; its tissue level falls
    towards the skin line over `skin_falloff_mm`. `calcifications` are in mm from the image's
    top-left corner; `cluster` gives each MC's cluster (an index into `distributions`) or -1
    for the MCs of hard negatives.
    """

    size_mm: tuple[float, float]
    chest_wall: ChestWall
    breast_centre_y_mm: float
    breast_semi_axes_mm: tuple[float, float]
    skin_falloff_mm: float
    density: float
    beta: float
    background_key: Key
    noise_key: Key
    calcifications: tuple[Calcification, ...]
    cluster: tuple[int, ...]
    distributions: tuple[str, ...]
    acquisition: Acquisition | None
    cluster_min_count: int
    contrast_model: str = "relative"
    mc_shape: str = "gaussian"
    thickness_mm: float = 50.0
    phantom: Phantom | None = None
    """The anatomy (`synth._phantom.Phantom`), or None: the first-wave half ellipse."""
    lookalikes: tuple[Lookalike, ...] = ()
    """Benign look-alikes and detector defects (anatomy only)."""
    finding: tuple[int, ...] = ()
    """Anatomy only: each MC's finding (clusters first, then hard negatives)."""

    @property
    def chest_x_mm(self) -> float:
        """x of the chest wall: the left (0) or right image edge."""
        return 0.0 if self.chest_wall == "left" else float(self.size_mm[1])

    @property
    def n_clusters(self) -> int:
        return len(self.distributions)

    def skin_distance_mm(self, x_mm: Any, y_mm: Any) -> np.ndarray:
        """Distance (mm) inside the skin line at the given points (negative outside)."""
        if self.phantom is not None:
            return self.phantom.skin_distance_mm(x_mm, y_mm)
        return skin_distance_mm(np.asarray(x_mm), np.asarray(y_mm), chest_x_mm=self.chest_x_mm,
                                centre_y_mm=self.breast_centre_y_mm,
                                semi_axes_mm=self.breast_semi_axes_mm)


def check_size_mm(size_mm: Any) -> tuple[float, float]:
    """`size_mm` as (height, width) floats, or raise naming it."""
    if isinstance(size_mm, (str, bytes)) or not hasattr(size_mm, "__len__") or len(size_mm) != 2:
        raise TypeError(f"`size_mm` must be a pair (height, width) in mm; got size_mm={size_mm!r}.")
    for v in size_mm:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"`size_mm` must hold two numbers; got size_mm={tuple(size_mm)!r}.")
    h, w = float(size_mm[0]), float(size_mm[1])
    if not (math.isfinite(h) and math.isfinite(w) and h >= MIN_SIDE_MM and w >= MIN_SIDE_MM):
        raise ValueError(f"`size_mm` must be finite and at least {MIN_SIDE_MM:g} mm per side; "
                         f"got size_mm={tuple(size_mm)!r}.")
    return h, w


def sample_mammogram(
    config: SceneConfig,
    *,
    size_mm: tuple[float, float] | None = None,
    rng: np.random.Generator,
    n_clusters_range: tuple[int, int] = (2, 5),
    n_hard_negatives_range: tuple[int, int] = (2, 6),
    anatomy: bool | None = None,
    view: str | None = None,
    density_category: str | None = None,
    lookalikes: Sequence[str] | None = None,
) -> MammogramScene:
    """Draw a full-field mammogram scene from `config`: breast, tissue, clusters, hard negatives.

    Parameters
    ----------
    config : SceneConfig
        MC counts, sizes, morphologies, contrasts, distributions, tissue ranges and detector,
        as for patches. Each cluster is a positive scene of `config` (`placement` "center")
        and each hard negative a scene of 1–2 MCs (none when `cluster_min_count` is 1).
    size_mm : (float, float), optional
        (height, width) in mm, at least 20 each; default 240 × 300 mm.
    rng : numpy.random.Generator
        The only source of randomness.
    n_clusters_range, n_hard_negatives_range : (int, int)
        How many of each to draw (uniformly), within [0, 50]. A group that finds no place inside
        the breast (at least 5 mm inside the skin, 11 mm from other groups' MCs along x or y)
        is left out, so small images may hold fewer.
    anatomy : bool, optional
        Draw an anatomical breast (`synth._phantom`): outline with a thickness falloff, skin,
        nipple, fibroglandular region of a BI-RADS density category, fat lobules,
        ligaments, ducts, vessels, the pectoral muscle in MLO; MC findings at their BI-RADS
        scale; benign look-alikes. Default: on when any of `view`, `density_category`,
        `lookalikes` is given, else off (the first-wave half ellipse, byte for byte).
        Needs ``contrast_model="attenuation"``.
    view : {"CC", "MLO"}, optional
        Drawn with equal odds when None.
    density_category : {"a", "b", "c", "d"}, optional
        BI-RADS density; drawn with the screening shares 10/40/40/10 % when None.
    lookalikes : sequence of str, optional
        Kinds of benign look-alikes (`LOOKALIKE_KINDS`); None: all of them; (): none.

    Returns
    -------
    MammogramScene

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> scene = synth.sample_mammogram(synth.SceneConfig(), size_mm=(40.0, 50.0),
    ...                                rng=np.random.default_rng(0))
    >>> scene.size_mm, scene.chest_wall, scene.distributions
    ((40.0, 50.0), 'right', ('segmental', 'clustered'))
    >>> len(scene.calcifications), scene.cluster.count(-1)  # 2 of the 15 MCs: hard negatives
    (15, 2)
    >>> one = synth.sample_mammogram(synth.SceneConfig(), size_mm=(40.0, 50.0),
    ...                              rng=np.random.default_rng(0), n_clusters_range=(1, 1),
    ...                              n_hard_negatives_range=(0, 0))
    >>> one.n_clusters, set(one.cluster)
    (1, {0})
    """
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    h, w = check_size_mm(DEFAULT_SIZE_MM if size_mm is None else size_mm)
    clusters_lo, clusters_hi = _check_range("n_clusters_range", n_clusters_range, 0, 50,
                                            integer=True)
    hard_lo, hard_hi = _check_range("n_hard_negatives_range", n_hard_negatives_range, 0, 50,
                                    integer=True)
    if anatomy is None:
        anatomy = view is not None or density_category is not None or lookalikes is not None
    elif not isinstance(anatomy, bool):
        raise TypeError(f"`anatomy` must be True, False or None; got anatomy={anatomy!r}.")
    elif not anatomy and (view, density_category, lookalikes) != (None, None, None):
        raise ValueError("`anatomy` must be on to set view, density_category or lookalikes; "
                         f"got anatomy={anatomy!r}.")
    if anatomy:
        from ._phantom_mammogram import sample_anatomical

        return sample_anatomical(config, (h, w), rng, (clusters_lo, clusters_hi),
                                 (hard_lo, hard_hi), view, density_category, lookalikes)
    u = rng.random(8)
    keys = rng.bit_generator.random_raw(8)
    n_clusters = int(rng.integers(clusters_lo, clusters_hi + 1))
    n_hard = int(rng.integers(hard_lo, hard_hi + 1)) if config.cluster_min_count > 1 else 0
    seeds = rng.integers(0, 2**63, size=n_clusters + n_hard)
    group_rngs = [np.random.default_rng(int(s)) for s in seeds]
    groups = sample_scenes(config.replace(positive_fraction=1.0, placement="center"),
                           group_rngs[:n_clusters])
    if n_hard:
        groups += sample_scenes(config.replace(positive_fraction=0.0, hard_negative_fraction=1.0),
                                group_rngs[n_clusters:])
    proposals = rng.random((len(groups), _CANDIDATES, 2))
    thickness = _lerp(config.breast_thickness_range_mm, float(rng.random()))  # drawn last
    b = h * (0.38 + 0.09 * u[2])
    room = 0.5 * h - b - 0.01 * h
    scene = MammogramScene(
        size_mm=(h, w), chest_wall="left" if u[0] < 0.5 else "right",
        breast_centre_y_mm=0.5 * h + (2.0 * u[3] - 1.0) * room,
        breast_semi_axes_mm=(w * (0.55 + 0.3 * u[1]), b),
        skin_falloff_mm=6.0 + 8.0 * u[4],
        density=_lerp(config.density_range, u[5]), beta=_lerp(config.beta_range, u[6]),
        background_key=tuple(int(k) for k in keys[:4]),  # type: ignore[arg-type]
        noise_key=tuple(int(k) for k in keys[4:]),  # type: ignore[arg-type]
        calcifications=(), cluster=(), distributions=(), acquisition=config.acquisition,
        cluster_min_count=config.cluster_min_count, contrast_model=config.contrast_model,
        mc_shape=config.mc_shape, thickness_mm=thickness,
    )
    return _place(scene, groups, n_clusters, proposals)


def _lerp(bounds: tuple[float, float], u: float) -> float:
    return float(bounds[0] + u * (bounds[1] - bounds[0]))


def _place(scene: MammogramScene, groups: list[Scene], n_clusters: int,
           proposals: np.ndarray) -> MammogramScene:
    """Move each group to its first proposed place that fits; clusters first, in order."""
    placed = np.zeros((0, 2))
    mcs: list[Calcification] = []
    owner: list[int] = []
    distributions: list[str] = []
    for g, group in enumerate(groups):
        offsets = np.array([(mc.x_mm, mc.y_mm) for mc in group.calcifications])
        centre = _fit(scene, offsets, placed, proposals[g])
        if centre is None:
            continue
        label = len(distributions) if g < n_clusters else -1
        if g < n_clusters:
            distributions.append(group.distribution or "clustered")
        for mc in group.calcifications:
            mcs.append(dataclasses.replace(mc, x_mm=float(centre[0] + mc.x_mm),
                                           y_mm=float(centre[1] + mc.y_mm)))
            owner.append(label)
        placed = np.concatenate([placed, centre + offsets])
    return dataclasses.replace(scene, calcifications=tuple(mcs), cluster=tuple(owner),
                               distributions=tuple(distributions))


def _fit(scene: MammogramScene, offsets: np.ndarray, placed: np.ndarray,
         proposals: np.ndarray) -> np.ndarray | None:
    """The first proposal (uniform over the breast's bounding box) where the group fits."""
    a, b = scene.breast_semi_axes_mm
    side = 1.0 if scene.chest_wall == "left" else -1.0
    cx = scene.chest_x_mm + side * a * proposals[:, 0]
    cy = scene.breast_centre_y_mm + b * (2.0 * proposals[:, 1] - 1.0)
    points = np.stack([cx, cy], axis=-1)[:, None, :] + offsets[None, :, :]  # (C, k, 2)
    h, w = scene.size_mm
    ok = scene.skin_distance_mm(points[..., 0], points[..., 1]) >= SKIN_CLEARANCE_MM
    ok &= (points[..., 0] >= _EDGE_MM) & (points[..., 0] <= w - _EDGE_MM)
    ok &= (points[..., 1] >= _EDGE_MM) & (points[..., 1] <= h - _EDGE_MM)
    fits = ok.all(axis=1)
    if len(placed):
        gap = np.abs(points[:, :, None, :] - placed[None, None, :, :]).max(axis=-1)
        fits &= gap.min(axis=(1, 2)) >= GROUP_GAP_MM
    hits = np.flatnonzero(fits)
    return None if not len(hits) else np.array([cx[hits[0]], cy[hits[0]]])
