"""MC findings in a phantom at their BI-RADS scale (stage one, in mm).

Each finding takes its MCs' sizes, morphologies, materials and contrasts from scenes of the
config (so the MC statistics are those of the patches) and its layout from the anatomy:

- ``clustered`` (grouped): the scene's own compact arrangement, within 1 cm;
- ``linear``: along 8–18 mm of one of the phantom's ducts, a little jitter across it;
- ``segmental``: along 20–45 mm of a duct towards the nipple, spreading across it with the
  distance from the nipple (a wedge with its apex at the nipple);
- ``regional``: scattered over a disc 24–50 mm across (BI-RADS: more than 2 cm) inside the
  breast, not following a duct;
- ``diffuse``: 25–70 MCs drawn (fewer, down to ~18, when the six source scenes hold
  fewer) scattered through the whole breast.

Hard negatives are scenes of 1–2 MCs, anywhere in the breast. Every MC lies at least
`SKIN_CLEARANCE_MM` inside the skin and outside the pectoral muscle; clustered, linear and
segmental findings and hard negatives keep `GROUP_GAP_MM` apart (along x or y) from each
other's MCs, so no 1 cm window holds MCs of two of them; regional and diffuse findings
overlap others by nature.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._config import SceneConfig
from ._phantom import Phantom
from ._scene import Calcification, sample_scenes

SKIN_CLEARANCE_MM = 5.0
GROUP_GAP_MM = 11.0
WIDE = ("regional", "diffuse")


def sample_findings(config: SceneConfig, ph: Phantom, rng: np.random.Generator,
                    n_clusters: int, n_hard: int
                    ) -> tuple[tuple[Calcification, ...], tuple[int, ...], tuple[int, ...],
                               tuple[str, ...]]:
    """(MCs, each MC's cluster index or -1, each MC's finding index (clusters first, then
    hard negatives), each cluster's distribution)."""
    names = list(config.distribution_weights)
    cum = config.distribution_cumulative
    dists = [names[min(int(np.searchsorted(cum, rng.random())), len(names) - 1)]
             for _ in range(n_clusters)]
    mcs: list[Calcification] = []
    owner: list[int] = []
    finding: list[int] = []
    kept: list[str] = []
    placed = np.zeros((0, 2))
    base = config.replace(positive_fraction=1.0, placement="center")
    for dist in dists:
        seeds = rng.integers(0, 2**63, size=6 if dist in WIDE else 2)
        scenes = sample_scenes(base.replace(distribution="clustered" if dist in WIDE else dist),
                               [np.random.default_rng(int(s)) for s in seeds])
        group = list(scenes[0].calcifications)
        if dist == "segmental":
            group += scenes[1].calcifications
        elif dist in WIDE:
            n_wide = int(rng.integers(12, 41) if dist == "regional" else rng.integers(25, 71))
            group = [mc for s in scenes for mc in s.calcifications][:n_wide]
        xy = _layout(dist, ph, group, rng, placed)
        if xy is None:
            continue
        for mc, (x, y) in zip(group, xy, strict=True):
            mcs.append(dataclasses.replace(mc, x_mm=float(x), y_mm=float(y)))
            owner.append(len(kept))
            finding.append(len(kept))
        kept.append(dist)
        if dist not in WIDE:
            placed = np.concatenate([placed, xy])
    n_found = len(kept)
    if n_hard:
        seeds = rng.integers(0, 2**63, size=n_hard)
        hard = sample_scenes(config.replace(positive_fraction=0.0, hard_negative_fraction=1.0),
                             [np.random.default_rng(int(s)) for s in seeds])
        for scene in hard:
            offsets = np.array([(mc.x_mm, mc.y_mm) for mc in scene.calcifications])
            xy = _fit(ph, offsets, placed, rng)
            if xy is None:
                continue
            for mc, (x, y) in zip(scene.calcifications, xy, strict=True):
                mcs.append(dataclasses.replace(mc, x_mm=float(x), y_mm=float(y)))
                owner.append(-1)
                finding.append(n_found)
            n_found += 1
            placed = np.concatenate([placed, xy])
    return tuple(mcs), tuple(owner), tuple(finding), tuple(kept)


def _ok(ph: Phantom, xy: np.ndarray) -> np.ndarray:
    """MC places: `SKIN_CLEARANCE_MM` inside the skin, in the image, not in the muscle."""
    h, w = ph.size_mm
    ok = ((ph.skin_distance_mm(xy[..., 0], xy[..., 1]) >= SKIN_CLEARANCE_MM)
          & (xy[..., 0] >= 2) & (xy[..., 0] <= w - 2) & (xy[..., 1] >= 2)
          & (xy[..., 1] <= h - 2))
    pec = ph.pectoral_distance_mm(xy[..., 0], xy[..., 1])
    return ok if pec is None else ok & (pec < 0)


def _apart(xy: np.ndarray, placed: np.ndarray) -> bool:
    if not len(placed):
        return True
    gap = np.abs(xy[:, None, :] - placed[None, :, :]).max(axis=-1)
    return bool(gap.min() >= GROUP_GAP_MM)


def _fit(ph: Phantom, offsets: np.ndarray, placed: np.ndarray, rng: np.random.Generator
         ) -> np.ndarray | None:
    """The group's offsets moved to the first of 64 uniform places where they fit."""
    h, w = ph.size_mm
    for c in rng.random((64, 2)) * [w, h]:
        xy = c + offsets
        if _ok(ph, xy).all() and _apart(xy, placed):
            return xy
    return None


def _layout(dist: str, ph: Phantom, group: list[Calcification], rng: np.random.Generator,
            placed: np.ndarray) -> np.ndarray | None:
    n = len(group)
    if dist == "clustered":
        return _fit(ph, np.array([(mc.x_mm, mc.y_mm) for mc in group]), placed, rng)
    if dist == "diffuse":
        h, w = ph.size_mm
        cand = rng.random((40 * n, 2)) * [w, h]
        cand = cand[_ok(ph, cand)]
        return cand[:n] if len(cand) >= n else None
    if dist == "regional":
        for _ in range(32):
            centre = rng.random(2) * ph.size_mm[::-1]
            radius = rng.uniform(12.0, 25.0)
            angle = rng.uniform(0, 2 * np.pi, n)
            rho = radius * np.sqrt(rng.random(n))
            rho[:2] = 0.9 * radius  # the region spans at least 1.8 radii
            angle[1] = angle[0] + np.pi
            xy = centre + rho[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
            if _ok(ph, xy).all():
                return xy
        return None
    return _along_duct(dist, ph, n, rng, placed)


def _along_duct(dist: str, ph: Phantom, n: int, rng: np.random.Generator,
                placed: np.ndarray) -> np.ndarray | None:
    """MCs along a stretch of a duct: a line (linear) or a wedge towards the nipple."""
    lines = ph.structures
    ducts = [i for i in range(len(lines)) if lines.kind[i] == "duct"]
    for i in rng.permutation(ducts)[:24]:
        path = lines.path(int(i))
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        length = rng.uniform(8.0, 18.0) if dist == "linear" else rng.uniform(20.0, 45.0)
        if arc[-1] < length + 8.0:
            continue
        start = rng.uniform(8.0, arc[-1] - length)
        at = np.sort(start + length * rng.random(n))
        at[0], at[-1] = start, start + length
        x, y = np.interp(at, arc, path[:, 0]), np.interp(at, arc, path[:, 1])
        tx, ty = np.gradient(x), np.gradient(y)
        norm = np.maximum(np.hypot(tx, ty), 1e-9)
        spread = 0.25 if dist == "linear" else 0.6 + 0.08 * (at - start)
        off = rng.normal(0, 1, n) * spread
        xy = np.column_stack([x - ty / norm * off, y + tx / norm * off])
        if _ok(ph, xy).all() and _apart(xy, placed):
            return xy
    return None
