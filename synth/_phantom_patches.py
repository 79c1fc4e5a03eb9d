"""Patches cut from anatomical phantoms: ``SceneConfig(patch_source="phantom")``.

Patch i of seed s keeps its scene (MCs, label, noise) from ``default_rng([s, i])`` exactly as
the texture source does, so the label rule is unchanged (class 1 iff at least
`cluster_min_count` MC centres lie inside). Its background is a 1 cm window of one of a pool
of `PHANTOM_POOL` phantoms per seed — phantom j = `pool_index(i)` drawn from
``default_rng([s, PHANTOM_POOL, j, 1])`` alone, 240 × 300 mm, view and density category
drawn as for a mammogram — centred on a place drawn from the patch's own generator (after
its scene's draws) at least `PATCH_SKIN_CLEARANCE_MM` inside the skin and outside the
pectoral muscle. Any patch is rebuilt alone from (s, i); the pool is cached, so random
access costs what sequential access does.

Consecutive patches come from different phantoms (a batch mixes anatomies); every phantom
of a seed serves patches all through the set, so splits by index share phantoms (not
windows: each patch has its own place and its own texture and noise). Splits that must not
share anatomy take different seeds.

The window is rendered as the full-field mammogram renders it (thickness profile, skin,
envelope, lobules, pectoral muscle, ligaments, ducts and vessels, `synth._phantom_render`),
with the patch generator's non-periodic 1/f^β texture of the phantom's β, then the MCs and the
detector chain with the anatomical presentation window; the ADC's full scale reaches the
window's thinnest tissue (so in the full-thickness breast it is the texture source's), the
heel effect runs along the distance from the chest wall, as at full field."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._attenuation import _dprimes, add_mc_line_integrals
from ._background import unit_fields
from ._calcifications import _columns
from ._config import SceneConfig, patch_size_px
from ._detector import blur_mm
from ._mammogram_scene import DEFAULT_SIZE_MM
from ._phantom import Phantom
from ._phantom_mammogram import _Presentation
from ._phantom_render import tissue_attenuation
from ._phantom_sample import sample_phantom
from ._physics import Chain
from ._render import patch_labels
from ._scene import sample_scenes

PHANTOM_POOL = 64
"""Phantoms per dataset seed: patch i's background is a window of phantom `pool_index(i)`."""
PATCH_SKIN_CLEARANCE_MM = 7.0
_GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: Fibonacci hashing


def pool_index(i: int) -> int:
    """Which of the `PHANTOM_POOL` phantoms patch `i` is cut from: the top bits of i's
    Fibonacci hash, so consecutive patches come from different phantoms (any 64 consecutive
    indices reach nearly every phantom) and each phantom serves about 1 / 64 of the set."""
    return ((int(i) * _GOLDEN) % 2**64) * PHANTOM_POOL >> 64


@lru_cache(maxsize=2 * PHANTOM_POOL)
def phantom_of(seed: int, j: int, thickness: tuple[float, float],
               beta: tuple[float, float]) -> Phantom:
    """Phantom `j` of the pool of dataset seed `seed` (pure; cached)."""
    return sample_phantom(size_mm=DEFAULT_SIZE_MM,
                          rng=np.random.default_rng([seed, PHANTOM_POOL, j, 1]),
                          thickness_range_mm=thickness, beta_range=beta)


def _centre(ph: Phantom, rng: np.random.Generator) -> np.ndarray:
    """A window centre at least `PATCH_SKIN_CLEARANCE_MM` inside the skin and outside the
    pectoral muscle (first of 32 proposals; else the deepest proposal in the breast)."""
    h, w = ph.size_mm
    pts = rng.random((32, 2)) * [w - 12.0, h - 12.0] + 6.0
    d = ph.skin_distance_mm(pts[:, 0], pts[:, 1])
    pec = ph.pectoral_distance_mm(pts[:, 0], pts[:, 1])
    score = d if pec is None else np.minimum(d, -pec)
    ok = np.flatnonzero(score >= PATCH_SKIN_CLEARANCE_MM)
    return pts[ok[0]] if len(ok) else pts[int(np.argmax(score))]


def render_phantom_chunk(config: SceneConfig, indices: list[int], res: int, seed: int
                         ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[tuple]]:
    """`synth._generate._render_chunk` for the phantom source: images, masks, MC columns and
    patch-table rows."""
    rngs = [np.random.default_rng([seed, i]) for i in indices]
    scenes = sample_scenes(config, rngs)
    n, px = patch_size_px(res), res / 1000.0
    acq = config.acquisition
    blur = blur_mm(acq)
    phantoms = [phantom_of(seed, pool_index(i), config.breast_thickness_range_mm,
                           config.beta_range) for i in indices]
    # the texture of each phantom's β (the scenes' own β is the texture source's)
    images = unit_fields([s.background_key for s in scenes],
                         np.array([p.beta for p in phantoms]), np.full(len(scenes), blur), res,
                         periodic=np.zeros(len(scenes), dtype=bool))
    chains = {id(p): _Presentation(acq, px, p.thickness_mm) for p in phantoms}
    chain_of: list[_Presentation] = [chains[id(p)] for p in phantoms]
    owners = [(b, mc) for b, s in enumerate(scenes) for mc in s.calcifications]
    cols = _columns(owners, px, n)
    patch = cols["patch"]
    pix = np.rint(np.column_stack([cols["row_px"], cols["col_px"]])).astype(int).clip(0, n - 1)
    totals, gland = np.empty_like(images), np.zeros(len(scenes))
    a_ref, chest = np.zeros(len(scenes)), np.zeros((len(scenes), 1, n), dtype=np.float32)
    half = 0.5 * n * px
    for b, (ph, rng) in enumerate(zip(phantoms, rngs, strict=True)):
        cx, cy = _centre(ph, rng)
        chain = chain_of[b]
        here = patch == b
        a, total, _, env, g_at = tissue_attenuation(
            ph, mu_fat=chain.mu_fat, mu_gf=chain.mu_gf, x0=cx - half, y0=cy - half, px=px,
            shape=(n, n), texture=images[b], blur_mm=blur, coarse=False,
            probe=(pix[here, 0], pix[here, 1]))
        images[b], totals[b], gland[b] = a, total, float(env.mean())
        cols["local_tissue"][here] = g_at
        a_ref[b] = ph.thickness_mm * (chain.mu_fat + chain.mu_gf * gland[b])
        chest[b, 0] = np.abs(cx - half + (np.arange(n) + 0.5) * px - ph.chest_x_mm)
    masks = np.zeros(images.shape, dtype=bool)
    thickness = np.array([p.thickness_mm for p in phantoms])
    if owners:
        a_local = images[patch, pix[:, 0], pix[:, 1]].astype(float)
        energy = np.array([chain_of[b].energy for b in patch])
        boxes, scale, _ = add_mc_line_integrals(scenes, owners, cols, energy, px,
                                                np.full(len(scenes), blur), images, masks)
        chain_list: list[Chain] = list(chain_of)
        cols["dprime"][:] = _dprimes(boxes, scale, patch, chain_list, a_local, a_ref,
                                     thickness)
    for b, s in enumerate(scenes):
        images[b] = chain_of[b].render_equalised(images[b], float(a_ref[b]), totals[b],
                                                 s.noise_key, heel_position_mm=chest[b],
                                                 scatter_sigma_mm=None)
    labels, kth = patch_labels(scenes, cols)
    rows = [(int(labels[b]), s.kind, s.distribution or "", len(s.calcifications), s.n_inside,
             float(gland[b]), phantoms[b].beta, float(thickness[b]), float(kth[b]))
            for b, s in enumerate(scenes)]
    return images, masks, cols, rows
