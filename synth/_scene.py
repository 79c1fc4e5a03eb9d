"""Stage one: draw every random number of a scene into a resolution-free record (mm)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._config import DISTRIBUTIONS, MORPHOLOGIES, SCENE_HALF_WIDTH_MM, Acquisition, SceneConfig
from ._geometry import CANDIDATE_DRAWS, SCENE_DRAWS, candidate_count, place_candidates, thin
from ._morphology import SHAPE_DRAWS, build_components, sample_sizes

SceneKind = Literal["positive", "hard_negative", "negative"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Calcification:
    """One MC: centre in mm from the patch centre (x right, y down), size, look, contrast.

    Its outline is fixed by `shape_draws` (uniforms); `components` gives the Gaussians.
    """

    x_mm: float
    y_mm: float
    size_mm: float
    morphology: str
    contrast: float
    orientation_deg: float
    shape_draws: np.ndarray = field(repr=False)

    @property
    def components(self) -> np.ndarray:
        """Gaussian components, shape (k, 6): (dx, dy, σ major, σ minor, angle, weight), mm."""
        comps, counts = build_components(
            np.array([MORPHOLOGIES.index(self.morphology)]), np.array([self.size_mm]),
            np.array([np.radians(self.orientation_deg)]), self.shape_draws[None, :])
        return comps[0, : counts[0]]

    @property
    def inside(self) -> bool:
        h = SCENE_HALF_WIDTH_MM
        return -h <= self.x_mm <= h and -h <= self.y_mm <= h


@dataclass(frozen=True, kw_only=True, eq=False)
class Lumps:
    """Clustered lumpy background: blob centres (mm), blob width and amplitude."""

    centres_mm: np.ndarray = field(repr=False)
    sigma_mm: float
    amplitude: float


@dataclass(frozen=True, kw_only=True, eq=False)
class Scene:
    """A physical scene: every random draw fixed; `synth.render` turns it into pixels.

    The background texture and the detector noise are fixed by `background_key` and
    `noise_key` (SFC64 states, four 64-bit words each), from which `render` regenerates
    exactly the same fields.
    """

    calcifications: tuple[Calcification, ...]
    kind: SceneKind
    distribution: str | None
    density: float
    beta: float
    background_key: tuple[int, int, int, int]
    noise_key: tuple[int, int, int, int]
    lumps: Lumps | None
    acquisition: Acquisition | None
    cluster_min_count: int

    @property
    def n_inside(self) -> int:
        return sum(mc.inside for mc in self.calcifications)

    @property
    def label(self) -> int:
        """1 when at least `cluster_min_count` MC centres lie inside the patch, else 0."""
        return int(self.n_inside >= self.cluster_min_count)


_HEADER = 8  # kind ×2, density, beta, distribution, count, orientation, extent


def sample_scene(config: SceneConfig, *, rng: np.random.Generator) -> Scene:
    """Draw one scene from `config`.

    Parameters
    ----------
    config : SceneConfig
    rng : numpy.random.Generator
        The only source of randomness; the same generator state gives the same scene.

    Returns
    -------
    Scene

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> config = synth.SceneConfig(positive_fraction=1.0)
    >>> scene = synth.sample_scene(config, rng=np.random.default_rng(0))
    >>> scene.kind, scene.distribution, len(scene.calcifications), scene.label
    ('positive', 'regional', 12, 1)
    >>> mc = scene.calcifications[0]
    >>> mc.morphology, -5 <= mc.x_mm <= 5  # centres in mm from the patch centre
    ('fine_pleomorphic', True)
    >>> again = synth.sample_scene(config, rng=np.random.default_rng(0))
    >>> [m.x_mm for m in again.calcifications] == [m.x_mm for m in scene.calcifications]
    True
    """
    return sample_scenes(config, [rng])[0]


def sample_scenes(config: SceneConfig, rngs: Sequence[np.random.Generator]) -> list[Scene]:
    """Draw one scene per generator, vectorised; scene b depends on `rngs[b]` alone.

    Each generator gives, in order: a header of scene-level uniforms and two stream keys; for scenes
    with MCs, a block of per-MC uniforms and one of candidate positions; then the lumps.
    """
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    heads = np.array([rng.random(_HEADER + SCENE_DRAWS) for rng in rngs]).reshape(
        len(rngs), _HEADER + SCENE_DRAWS)
    keys = [rng.bit_generator.random_raw(8) for rng in rngs]
    u, g = heads[:, :_HEADER], heads[:, _HEADER:]
    positive = u[:, 0] < config.positive_fraction
    hard = ~positive & (u[:, 1] < config.hard_negative_fraction)
    lo, hi = config.mc_count_range
    n = np.where(positive, lo + np.floor(u[:, 5] * (hi - lo + 1)),
                 np.where(hard, 1 + np.floor(u[:, 5] * min(2, config.cluster_min_count - 1)), 0))
    n = n.astype(int)
    names = np.array(DISTRIBUTIONS + ("",), dtype=object)
    distribution = np.where(positive, names[_pick(config.distribution_cumulative, u[:, 4])], "")
    m = candidate_count(n, positive)
    blocks, cand = [], np.zeros((len(rngs), int(m.max(initial=0)), CANDIDATE_DRAWS))
    for b, rng in enumerate(rngs):
        if n[b]:
            blocks.append(rng.random((n[b], 4 + SHAPE_DRAWS)))
            cand[b, : m[b]] = rng.random((m[b], CANDIDATE_DRAWS))
    mcs = _calcifications(config, n, distribution, u, g, cand, m, blocks)
    kinds = np.where(positive, "positive", np.where(hard, "hard_negative", "negative"))
    return [
        Scene(
            calcifications=mcs[b],
            kind=str(kinds[b]),  # type: ignore[arg-type]
            distribution=str(distribution[b]) or None,
            density=_lerp(config.density_range, u[b, 2]),
            beta=_lerp(config.beta_range, u[b, 3]),
            background_key=tuple(int(w) for w in keys[b][:4]),  # type: ignore[arg-type]
            noise_key=tuple(int(w) for w in keys[b][4:]),  # type: ignore[arg-type]
            lumps=_sample_lumps(config, rng=rng) if config.lumpy_strength > 0 else None,
            acquisition=config.acquisition,
            cluster_min_count=config.cluster_min_count,
        )
        for b, rng in enumerate(rngs)
    ]


def _lerp(bounds: tuple[float, float], u: np.ndarray | float) -> Any:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _pick(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices drawn from normalised cumulative weights (zero weights are never drawn)."""
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


def _calcifications(config: SceneConfig, n: np.ndarray, distribution: np.ndarray,
                    u: np.ndarray, g: np.ndarray, cand: np.ndarray, m: np.ndarray,
                    blocks: list[np.ndarray]) -> list[tuple[Calcification, ...]]:
    """Every MC of every scene: morphology, size, contrast, outline draws, then positions."""
    out: list[tuple[Calcification, ...]] = [() for _ in n]
    act = np.flatnonzero(n > 0)
    if not len(act):
        return out
    block = np.concatenate(blocks)
    owner = np.repeat(np.arange(len(n)), n)
    morph = _pick(config.morphology_cumulative, block[:, 0])
    sizes = sample_sizes(morph, config.mc_size_range_mm, block[:, 1])
    contrast = _lerp(config.contrast_range, block[:, 2])
    orientation = _lerp(config.orientation_range_deg, u[:, 6])
    along = np.isin(distribution, ("linear", "segmental"))[owner]
    own = np.where(along, orientation[owner], 180.0 * block[:, 3])
    biggest = np.zeros(len(n))
    np.maximum.at(biggest, owner, sizes)
    spacing = np.where(distribution != "", 0.15 + 0.6 * biggest, 1.0)
    points = place_candidates(distribution[act], _lerp(config.cluster_extent_mm, u[act, 7]),
                              orientation[act], config.placement == "center", config.margin_mm,
                              g[act], cand[act])
    valid = np.arange(cand.shape[1])[None, :] < m[act, None]
    chosen = thin(points, valid, n[act], spacing[act])
    xy = np.concatenate([points[k, chosen[k, : n[b]]] for k, b in enumerate(act)])
    mcs = [
        Calcification(
            x_mm=float(xy[i, 0]), y_mm=float(xy[i, 1]), size_mm=float(sizes[i]),
            morphology=MORPHOLOGIES[morph[i]], contrast=float(contrast[i]),
            orientation_deg=float(own[i]), shape_draws=block[i, 4:],
        )
        for i in range(len(block))
    ]
    first = np.concatenate([[0], np.cumsum(n)])
    for b in act:
        out[b] = tuple(mcs[first[b]: first[b + 1]])
    return out


def _sample_lumps(config: SceneConfig, *, rng: np.random.Generator) -> Lumps:
    """Clustered lumps (Bochud et al. 1999): Poisson clusters of Gaussian blobs."""
    h = SCENE_HALF_WIDTH_MM
    n_clusters = max(1, int(rng.poisson(6)))
    parents = rng.uniform(-h, h, size=(n_clusters, 2))
    per = rng.poisson(8, size=n_clusters) + 1
    blobs = np.repeat(parents, per, axis=0) + rng.normal(0.0, 0.8, size=(int(per.sum()), 2))
    blobs = (blobs + h) % (2 * h) - h  # the texture tile is periodic
    return Lumps(centres_mm=blobs, sigma_mm=float(rng.uniform(0.3, 0.7)),
                 amplitude=config.lumpy_strength)
