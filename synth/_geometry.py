"""Where the MCs of a scene lie: BI-RADS distributions inside the 1 cm² field, in mm.

Coordinates: origin at the patch centre, x to the right, y downwards (image rows), mm.
An orientation θ (degrees) points along (cos θ, -sin θ): 0° is to the right, 90° is up.

Everything here is a pure, vectorised function of uniforms drawn by the scene sampler, so many
scenes are placed at once and a scene placed alone lands exactly where it lands in a batch.
Each scene draws `SCENE_DRAWS` scene-level uniforms and `CANDIDATE_DRAWS` per candidate point;
candidates are thinned in order so that kept MCs stay a minimum distance apart.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from ._config import SCENE_HALF_WIDTH_MM

SCENE_DRAWS = 64
CANDIDATE_DRAWS = 4
_GENERATIONS = 4
_SEGMENTS = 2**_GENERATIONS - 1


def candidate_count(n: np.ndarray, arranged: np.ndarray) -> np.ndarray:
    """Candidates drawn for n MCs: arrangements (2n + 6) or isolated MCs (4n + 4); none for 0."""
    return np.where(arranged, 2 * n + 6, 4 * n + 4) * (n > 0)


def _normal(u: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def place_candidates(distribution: np.ndarray, extent: np.ndarray, orientation: np.ndarray,
                     centred: bool, margin: float, g: np.ndarray, c: np.ndarray,
                     curvature: np.ndarray | None = None) -> np.ndarray:
    """Candidate points of B scenes, each in the scene's own arrangement.

    Parameters
    ----------
    distribution : ndarray of shape (B,), str — a distribution name, or "" for isolated MCs
    extent, orientation : ndarray of shape (B,) — mm and degrees
    centred : bool — arrangements centred on the patch instead of anywhere they fit
    margin : float — mm kept clear along the border
    g : ndarray of shape (B, SCENE_DRAWS) — scene-level uniforms
    c : ndarray of shape (B, M, CANDIDATE_DRAWS) — per-candidate uniforms
    curvature : ndarray of shape (B,), optional — 1/mm, signed: linear arrangements bend
        along a parabola of that curvature at their centre (0 or None: straight)

    Returns
    -------
    ndarray of shape (B, M, 2): (x, y) mm, inside the field less the margin
    """
    bound = SCENE_HALF_WIDTH_MM - margin
    theta = np.radians(orientation)
    d = np.stack([np.cos(theta), -np.sin(theta)], axis=-1)[:, None, :]  # (B, 1, 2)
    normal = np.stack([np.sin(theta), np.cos(theta)], axis=-1)[:, None, :]
    regional = distribution == "regional"
    semi_regional = bound * (0.6 + 0.35 * g[:, 3])  # a region covers much of the field
    radius = np.where(np.isin(distribution, ("diffuse", "")), bound,
                      np.where(regional, semi_regional, 0.5 * extent))
    room = np.maximum(bound - radius, 0.0)
    centre = np.zeros((len(distribution), 1, 2))
    if not centred:
        centre[:, 0, :] = (2 * g[:, :2] - 1) * room[:, None]
    out = np.empty(c.shape[:2] + (2,))
    # Uniform in an ellipse: compact clusters, and regions spread over much of the field.
    semi_a = radius
    semi_b = semi_a * (0.5 + 0.5 * g[:, 2])
    r = np.sqrt(c[..., 0])
    phi = 2 * np.pi * c[..., 1]
    along, across = semi_a[:, None] * r * np.cos(phi), semi_b[:, None] * r * np.sin(phi)
    ellipse = centre + along[..., None] * d + across[..., None] * normal
    # A line with a little perpendicular jitter.
    t = (c[..., 0] - 0.5) * extent[:, None]
    offset = 0.08 * _normal(c[..., 1])
    if curvature is not None and np.any(curvature):
        offset = offset + 0.5 * curvature[:, None] * t * t
    line = centre + t[..., None] * d + offset[..., None] * normal
    scatter = (2 * c[..., :2] - 1) * bound
    for name, points in (("clustered", ellipse), ("regional", ellipse), ("linear", line),
                         ("diffuse", scatter), ("", scatter)):
        rows = distribution == name
        out[rows] = points[rows]
    seg = distribution == "segmental"
    if seg.any():
        out[seg] = _duct_tree(centre[seg], extent[seg], d[seg, 0], g[seg], c[seg])
    return np.clip(out, -bound, bound)


def _duct_tree(centre: np.ndarray, depth: np.ndarray, d: np.ndarray, g: np.ndarray,
               c: np.ndarray) -> np.ndarray:
    """Points along branching duct trees spreading as wedges from their apexes.

    A trunk starts at `centre - depth/2 · d`; every segment splits in two children turned by
    ±15–35° and 0.6–0.8 times as long, four generations, so a tree spans about `depth` along
    `d` and widens away from the apex (segmental distribution).
    """
    s = len(depth)
    turns = np.radians(15.0 + 20.0 * g[:, 4:4 + 2 * _SEGMENTS]).reshape(s, _SEGMENTS, 2)
    turns[..., 0] *= -1.0
    shrink = (0.6 + 0.2 * g[:, 34:34 + 2 * _SEGMENTS]).reshape(s, _SEGMENTS, 2)
    starts = [centre[:, 0, :] - 0.5 * depth[:, None] * d]
    dirs, lengths = [d], [0.4 * depth]
    a, b = [], []
    first = 0
    for gen in range(_GENERATIONS):
        start, direction, length = (np.stack(x, axis=1) for x in (starts, dirs, lengths))
        end = start + length[..., None] * direction
        a.append(start)
        b.append(end)
        count = 2**gen
        seg = slice(first, first + count)
        cos, sin = np.cos(turns[:, seg]), np.sin(turns[:, seg])  # (S, count, 2)
        dx, dy = direction[..., 0:1], direction[..., 1:2]
        child = np.stack([cos * dx - sin * dy, sin * dx + cos * dy], axis=-1)  # (S, count, 2, 2)
        starts = list(np.repeat(end, 2, axis=1).transpose(1, 0, 2))
        dirs = list(child.reshape(s, 2 * count, 2).transpose(1, 0, 2))
        lengths = list((length[..., None] * shrink[:, seg]).reshape(s, 2 * count).T)
        first += count
    a_all, b_all = np.concatenate(a, axis=1), np.concatenate(b, axis=1)  # (S, 15, 2)
    seg_len = np.linalg.norm(b_all - a_all, axis=-1)
    cum = np.cumsum(seg_len, axis=1)
    pick = c[..., 0] * cum[:, -1][:, None]
    idx = np.minimum((pick[..., None] > cum[:, None, :]).sum(axis=-1), _SEGMENTS - 1)
    rows = np.arange(s)[:, None]
    p0, p1 = a_all[rows, idx], b_all[rows, idx]
    jitter = 0.05 * _normal(c[..., 2:4])
    return p0 + c[..., 1:2] * (p1 - p0) + jitter


def thin(cand: np.ndarray, valid: np.ndarray, n: np.ndarray, min_distance: np.ndarray
         ) -> np.ndarray:
    """Pick n[b] candidates of each scene, in order, each `min_distance[b]` from those before.

    Where an arrangement is too crowded for that, the remaining places go to the earliest
    candidates not yet taken, so every scene gets its n points.

    Returns
    -------
    ndarray of shape (B, max n) — indices into the candidates (pad entries repeat index 0)
    """
    b, m, _ = cand.shape
    x, y = cand[..., 0].astype(np.float32), cand[..., 1].astype(np.float32)
    dx, dy = x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :]
    dx *= dx
    dy *= dy
    dx += dy
    close = dx < (min_distance.astype(np.float32) ** 2)[:, None, None]
    blocked = ~valid
    taken = np.zeros((b, m), dtype=bool)
    count = np.zeros(b, dtype=int)
    for j in range(m):
        take = ~blocked[:, j] & (count < n)
        taken[:, j] = take
        blocked |= close[:, j, :] & take[:, None]
        count += take
    order = np.argsort(~taken, axis=1, kind="stable")  # taken first, in order
    short = count < n
    if short.any():
        spare = np.argsort(taken | ~valid, axis=1, kind="stable")
        for row in np.flatnonzero(short):
            order[row, count[row]:n[row]] = spare[row, : n[row] - count[row]]
    width = int(n.max()) if len(n) else 0
    return order[:, :width]


def roomy_extent(distribution: np.ndarray, n: np.ndarray, spacing: np.ndarray | float
                 ) -> np.ndarray:
    """The least extent (mm) that holds n MCs `spacing` apart in each arrangement: a disc of
    area about 1.6 n spacing² (random packing) for clusters, n spacing along a line or a
    duct tree; 0 where the extent does not matter (regional, diffuse, isolated)."""
    disc = 2.0 * spacing * np.sqrt(1.6 * n / np.pi)
    line = 1.2 * spacing * n
    return np.where(distribution == "clustered", disc,
                    np.where(np.isin(distribution, ("linear", "segmental")), line, 0.0))


def thin_spaced(cand: np.ndarray, valid: np.ndarray, n: np.ndarray, sizes: np.ndarray,
                spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Pick up to n[b] candidates of each scene, in order, none closer to an earlier pick than
    max(`spacing`, half the two MCs' summed sizes); the k-th pick is the scene's k-th MC.

    Unlike `thin`, the spacing always holds: a scene whose candidates run out keeps fewer.

    Parameters
    ----------
    cand : ndarray of shape (B, M, 2) — candidate points, mm
    valid : ndarray of shape (B, M), bool
    n : ndarray of shape (B,), int
    sizes : ndarray of shape (B, max n) — each scene's MC sizes in order, mm
    spacing : float — mm

    Returns
    -------
    chosen : ndarray of shape (B, max n) — candidate indices (pad entries repeat index 0)
    kept : ndarray of shape (B,), int — how many MCs each scene keeps (<= n)
    """
    b, m, _ = cand.shape
    width = int(n.max()) if len(n) else 0
    taken_size = np.full((b, m), -1.0)  # size of the MC placed at a candidate, -1 if none
    chosen = np.zeros((b, max(width, 1)), dtype=int)
    count = np.zeros(b, dtype=int)
    # a scene stops being looked at once it is full or out of valid candidates
    last = np.where(valid.any(axis=1), m - 1 - np.argmax(valid[:, ::-1], axis=1), -1)
    live = np.flatnonzero((count < n) & (last >= 0))
    for j in range(m):
        live = live[(count[live] < n[live]) & (last[live] >= j)]
        if not len(live):
            break
        rows = live[valid[live, j]]
        if not len(rows):
            continue
        size = sizes[rows, np.minimum(count[rows], max(width - 1, 0))]
        if j:  # only earlier candidates can have been taken
            placed = taken_size[rows, :j]
            need = np.maximum(spacing, 0.5 * (size[:, None] + placed))
            diff = cand[rows, :j, :] - cand[rows, j, None, :]
            d2 = diff[..., 0] ** 2 + diff[..., 1] ** 2
            keep = ~((placed >= 0) & (d2 < need * need)).any(axis=1)
            rows, size = rows[keep], size[keep]
        taken_size[rows, j] = size
        chosen[rows, count[rows]] = j
        count[rows] += 1
    return chosen[:, :width], count
