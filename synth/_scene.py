"""Stage one: draw every random number of a scene into a resolution-free record (mm)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.special import gammaln, ndtr, ndtri

from ._config import (
    DISTRIBUTIONS,
    MC_MATERIALS,
    MORPHOLOGIES,
    SCENE_HALF_WIDTH_MM,
    Acquisition,
    SceneConfig,
)
from ._geometry import (
    CANDIDATE_DRAWS,
    SCENE_DRAWS,
    candidate_count,
    place_candidates,
    roomy_extent,
    thin,
    thin_spaced,
)
from ._morphology import SHAPE_DRAWS, build_components, sample_sizes

_MATERIAL_DRAW = 7  # a shape draw no outline uses (slot 0, last of its 8)

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
    material: str = "hydroxyapatite"

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
    contrast_model: str = "relative"
    mc_shape: str = "gaussian"
    texture: str = "periodic"
    thickness_mm: float = 50.0
    label_dprime_threshold: float | None = None

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
    ('positive', 'regional', 15, 1)
    >>> mc = scene.calcifications[0]
    >>> mc.morphology, -5 <= mc.x_mm <= 5  # centres in mm from the patch centre
    ('fine_pleomorphic', True)
    >>> again = synth.sample_scene(config, rng=np.random.default_rng(0))
    >>> [m.x_mm for m in again.calcifications] == [m.x_mm for m in scene.calcifications]
    True
    """
    if isinstance(config, SceneConfig) and config.patch_source == "phantom":
        raise ValueError("`patch_source` must be 'texture' for a single scene (a Scene holds "
                         "no phantom, so `render` would draw the texture; patches from "
                         "phantoms come from synth.generate, write_dataset or PatchDataset); "
                         "got patch_source='phantom'.")
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
    n = np.where(positive, _positive_counts(config, u[:, 5]),
                 np.where(hard, 1 + np.floor(u[:, 5] * min(2, config.cluster_min_count - 1)), 0))
    n = n.astype(int)
    names = np.array(DISTRIBUTIONS + ("",), dtype=object)
    distribution = np.where(positive, names[_pick(config.distribution_cumulative, u[:, 4])], "")
    m = candidate_count(n, positive)
    if config.mc_min_spacing_mm is not None:  # strict spacing: more candidates to choose from
        m = np.where(n > 0, 4 * n + 8, 0)
    blocks, cand = [], np.zeros((len(rngs), int(m.max(initial=0)), CANDIDATE_DRAWS))
    lumps, tail = [], np.empty((len(rngs), _TAIL))
    for b, rng in enumerate(rngs):
        if n[b]:
            blocks.append(rng.random((n[b], 4 + SHAPE_DRAWS)))
            cand[b, : m[b]] = rng.random((m[b], CANDIDATE_DRAWS))
        lumps.append(_sample_lumps(config, rng=rng) if config.lumpy_strength > 0 else None)
        tail[b] = rng.random(_TAIL)
    mcs = _calcifications(config, n, distribution, u, g, cand, m, blocks, tail)
    kinds = np.where(positive, "positive", np.where(hard, "hard_negative", "negative"))
    thickness = _lerp(config.breast_thickness_range_mm, tail[:, 0])
    return [
        Scene(
            calcifications=mcs[b],
            kind=str(kinds[b]),  # type: ignore[arg-type]
            distribution=str(distribution[b]) or None,
            density=_lerp(config.density_range, u[b, 2]),
            beta=_lerp(config.beta_range, u[b, 3]),
            background_key=tuple(int(w) for w in keys[b][:4]),  # type: ignore[arg-type]
            noise_key=tuple(int(w) for w in keys[b][4:]),  # type: ignore[arg-type]
            lumps=lumps[b],
            acquisition=config.acquisition,
            cluster_min_count=config.cluster_min_count,
            contrast_model=config.contrast_model,
            mc_shape=config.mc_shape,
            texture=config.texture,
            thickness_mm=float(thickness[b]),
            label_dprime_threshold=config.label_dprime_threshold,
        )
        for b in range(len(rngs))
    ]


_TAIL = 2  # drawn last (after the lumps): thickness, the scene's shared size deviate
_DISPERSION = 2.0  # negative-binomial shape of the long-tailed MC count


def count_probabilities(config: SceneConfig) -> tuple[np.ndarray, np.ndarray]:
    """The MC counts a positive scene of `config` may hold, and their probabilities.

    Parameters
    ----------
    config : SceneConfig

    Returns
    -------
    counts : ndarray of int
        Every count of `config.mc_count_range`.
    probabilities : ndarray of float
        Uniform, or a negative binomial of mean `mc_count_mean` and dispersion 2 truncated to
        the range (`mc_count_distribution`).

    Examples
    --------
    >>> import synth
    >>> counts, p = synth.count_probabilities(synth.SceneConfig())
    >>> int(counts[0]), int(counts[-1]), round(float((counts * p).sum()), 1)
    (3, 30, 8.0)
    >>> counts, p = synth.count_probabilities(synth.SceneConfig(mc_count_distribution="uniform",
    ...                                                         mc_count_range=(3, 5)))
    >>> p.round(3).tolist()
    [0.333, 0.333, 0.333]
    """
    lo, hi = config.mc_count_range
    counts = np.arange(lo, hi + 1)
    if config.mc_count_distribution == "uniform":
        return counts, np.full(len(counts), 1.0 / len(counts))
    r, mean = _DISPERSION, config.mc_count_mean
    q = mean / (mean + r)  # NB(r, q): P(k) ∝ Γ(k + r) / k! q^k
    log_p = gammaln(counts + r) - gammaln(counts + 1.0) + counts * np.log(q)
    p = np.exp(log_p - log_p.max())
    return counts, p / p.sum()


def _positive_counts(config: SceneConfig, u: np.ndarray) -> np.ndarray:
    """MC counts of positive scenes from uniforms `u` (the first-wave formula when uniform)."""
    lo, hi = config.mc_count_range
    if config.mc_count_distribution == "uniform":
        return lo + np.floor(u * (hi - lo + 1))
    counts, p = count_probabilities(config)
    return counts[np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), len(counts) - 1)]


def _lerp(bounds: tuple[float, float], u: np.ndarray | float) -> Any:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _pick(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices drawn from normalised cumulative weights (zero weights are never drawn)."""
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1)


def _calcifications(config: SceneConfig, n: np.ndarray, distribution: np.ndarray,
                    u: np.ndarray, g: np.ndarray, cand: np.ndarray, m: np.ndarray,
                    blocks: list[np.ndarray], tail: np.ndarray
                    ) -> list[tuple[Calcification, ...]]:
    """Every MC of every scene: morphology, size, contrast, outline draws, then positions."""
    out: list[tuple[Calcification, ...]] = [() for _ in n]
    act = np.flatnonzero(n > 0)
    if not len(act):
        return out
    block = np.concatenate(blocks)
    owner = np.repeat(np.arange(len(n)), n)
    morph = _pick(config.morphology_cumulative, block[:, 0])
    size_u = block[:, 1]
    if config.pleomorphism < 1.0:  # a shared deviate per scene: sizes correlate within it
        p = config.pleomorphism
        z = np.sqrt(p) * ndtri(np.clip(size_u, 1e-12, 1 - 1e-12))
        z += np.sqrt(1.0 - p) * ndtri(np.clip(tail[owner, 1], 1e-12, 1 - 1e-12))
        size_u = ndtr(z)
    sizes = sample_sizes(morph, config.mc_size_range_mm, size_u)
    contrast = _lerp(config.contrast_range, block[:, 2])
    material = _pick(config.material_cumulative, block[:, 4 + _MATERIAL_DRAW])
    orientation = _lerp(config.orientation_range_deg, u[:, 6])
    along = np.isin(distribution, ("linear", "segmental"))[owner]
    own = np.where(along, orientation[owner], 180.0 * block[:, 3])
    extent = _lerp(config.cluster_extent_mm, u[:, 7])
    curvature = _lerp(config.curvature_range_per_mm, g[:, 4]) * np.where(g[:, 5] < 0.5, -1, 1)
    valid = np.arange(cand.shape[1])[None, :] < m[act, None]
    if config.mc_min_spacing_mm is None:  # the first-wave rule
        biggest = np.zeros(len(n))
        np.maximum.at(biggest, owner, sizes)
        spacing = np.where(distribution != "", 0.15 + 0.6 * biggest, 1.0)
        points = place_candidates(distribution[act], extent[act], orientation[act],
                                  config.placement == "center", config.margin_mm, g[act],
                                  cand[act], curvature[act])
        chosen = thin(points, valid, n[act], spacing[act])
    else:
        biggest = np.zeros(len(n))
        np.maximum.at(biggest, owner, sizes)
        room = roomy_extent(distribution, n, np.maximum(config.mc_min_spacing_mm, biggest))
        extent = np.maximum(extent, room)
        points = place_candidates(distribution[act], extent[act], orientation[act],
                                  config.placement == "center", config.margin_mm, g[act],
                                  cand[act], curvature[act])
        first_mc = np.concatenate([[0], np.cumsum(n)])
        scene_sizes = np.zeros((len(act), int(n.max())))
        for k, b in enumerate(act):
            scene_sizes[k, : n[b]] = sizes[first_mc[b]: first_mc[b + 1]]
        chosen, kept = thin_spaced(points, valid, n[act], scene_sizes, config.mc_min_spacing_mm)
        n = n.copy()
        keep_mc = np.ones(len(block), dtype=bool)
        for k, b in enumerate(act):
            keep_mc[first_mc[b] + kept[k]: first_mc[b + 1]] = False
            n[b] = kept[k]
        block, morph, sizes, contrast, material, own = (
            x[keep_mc] for x in (block, morph, sizes, contrast, material, own))
    xy = np.concatenate([points[k, chosen[k, : n[b]]] for k, b in enumerate(act)])
    mcs = [
        Calcification(
            x_mm=float(xy[i, 0]), y_mm=float(xy[i, 1]), size_mm=float(sizes[i]),
            morphology=MORPHOLOGIES[morph[i]], contrast=float(contrast[i]),
            orientation_deg=float(own[i]), shape_draws=block[i, 4:],
            material=MC_MATERIALS[material[i]],
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
