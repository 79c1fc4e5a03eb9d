"""Draw a `Phantom`: the breast's outline, thickness, fibroglandular region, lobules and
curvilinear structures, every random number from one generator (stage one; pure rendering
is `synth._phantom_render`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._fields import _check_range
from ._mammogram_scene import check_size_mm
from ._phantom import (
    DENSITY_CATEGORIES,
    DENSITY_SHARES,
    THETA,
    VIEWS,
    Phantom,
    Polylines,
    gland_parameters,
    lobule_cover,
)
from ._random import Key

CHEST_WALLS: tuple[str, ...] = ("left", "right")
TUBE_PEAK = 2.0 * np.sqrt(2.0 * np.log(2.0))
"""Ducts and vessels are tubes of diameter D = their profile's FWHM (2.355 σ): the
glandular-equivalent chord on the axis is D, so the amplitude is 2.355 σ."""


def check_view(view: Any) -> str | None:
    if view is not None and view not in VIEWS:
        raise ValueError(f"`view` must be 'CC' or 'MLO'; got view={view!r}.")
    return view


def check_density_category(category: Any) -> str | None:
    if category is not None and category not in DENSITY_CATEGORIES:
        raise ValueError("`density_category` must be one of 'a', 'b', 'c', 'd' (BI-RADS); got "
                         f"density_category={category!r}.")
    return category


def _key(rng: np.random.Generator) -> Key:
    return tuple(int(k) for k in rng.bit_generator.random_raw(4))  # type: ignore[return-value]


def sample_phantom(*, size_mm: tuple[float, float], rng: np.random.Generator,
                   view: str | None = None, density_category: str | None = None,
                   thickness_range_mm: tuple[float, float] = (40.0, 60.0),
                   beta_range: tuple[float, float] = (2.5, 3.1),
                   chest_wall: str | None = None) -> Phantom:
    """Draw an anatomical breast filling an image of `size_mm` (height, width) in mm.

    Parameters
    ----------
    size_mm : (float, float)
        (height, width) in mm, at least 20 each.
    rng : numpy.random.Generator
    view : {"CC", "MLO"}, optional
        Drawn with equal odds when None. MLO adds the pectoral muscle.
    density_category : {"a", "b", "c", "d"}, optional
        BI-RADS density; drawn with the population shares `DENSITY_SHARES` when None.
    thickness_range_mm, beta_range : (float, float)
        Compressed thickness (mm, within [10, 120]) and the texture's spectral exponent
        (within [1.5, 3.5]), drawn uniformly; low <= high.
    chest_wall : {"left", "right"}, optional
        Drawn with equal odds when None.

    Returns
    -------
    Phantom

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> ph = synth.sample_phantom(size_mm=(240.0, 300.0), rng=np.random.default_rng(0),
    ...                           view="MLO", density_category="b")
    >>> ph.view, ph.density_category, ph.pectoral is not None
    ('MLO', 'b', True)
    >>> sorted(set(ph.structures.kind))
    ['duct', 'ligament', 'vessel']
    """
    view = check_view(view)
    category = check_density_category(density_category)
    h, w = check_size_mm(size_mm)
    thickness_range_mm = _check_range("thickness_range_mm", thickness_range_mm, 10.0, 120.0)
    beta_range = _check_range("beta_range", beta_range, 1.5, 3.5)
    if chest_wall is not None and chest_wall not in CHEST_WALLS:
        raise ValueError(f"`chest_wall` must be 'left' or 'right'; got chest_wall={chest_wall!r}.")
    u = rng.random(24)
    view = view or VIEWS[int(u[0] < 0.5)]
    category = category or DENSITY_CATEGORIES[int(np.searchsorted(np.cumsum(DENSITY_SHARES),
                                                                  u[1] * 0.999999))]
    wall = chest_wall or ("left" if u[2] < 0.5 else "right")
    thickness = float(thickness_range_mm[0] + u[3] * (thickness_range_mm[1]
                                                      - thickness_range_mm[0]))
    depth = w * (0.5 + 0.28 * u[4])
    if view == "CC":
        origin = h * (0.5 + 0.08 * (u[5] - 0.5))
        b_down = h * (0.36 + 0.08 * u[6])
        b_up = b_down * (0.92 + 0.16 * u[7])
        b_up = min(b_up, origin - 3.0)
        b_down = min(b_down, h - origin - 3.0)
        axis = 0.12 * (u[8] - 0.5)
        pectoral = None
    else:
        origin = h * (0.42 + 0.1 * u[5])
        b_up = h * (0.95 + 0.3 * u[6])  # the outline leaves through the top edge (the axilla)
        b_down = min(h * (0.32 + 0.1 * u[7]), h - origin - 4.0)
        axis = 0.08 + 0.2 * u[8]
        pectoral = (depth * (0.22 + 0.16 * u[9]), h * (0.38 + 0.22 * u[10]), 0.06 * u[11])
    phi = THETA - axis
    b = np.where(phi < 0, b_up, b_down)
    radius = 1.0 / np.sqrt((np.cos(phi) / depth) ** 2 + (np.sin(phi) / b) ** 2)
    harmonics = 0.025 * (2 * rng.random((3, 1)) - 1)
    phases = 2 * np.pi * rng.random((3, 1))
    radius *= 1.0 + (harmonics * np.cos(np.arange(2, 5)[:, None] * THETA + phases)).sum(axis=0)
    gland = gland_parameters(category, u[12:15])
    nipple_r = 3.5 + 2.0 * u[15]
    lowfreq_key, texture_key = _key(rng), _key(rng)
    frame = _Frame(radius, axis, depth)
    lobules = _lobules(rng, frame, lobule_cover(category), wall, w, origin)
    structures = _structures(rng, frame, category, wall, w, origin, pectoral)
    return Phantom(
        size_mm=(h, w), view=view, chest_wall=wall, density_category=category,
        thickness_mm=thickness, edge_mm=thickness * (0.5 + 0.3 * u[16]),
        skin_mm=1.2 + 0.8 * u[17], origin_y_mm=origin, axis_rad=axis,
        radius_mm=radius.astype(np.float64), nipple_radius_mm=nipple_r, pectoral=pectoral,
        lobules=lobules, structures=structures,
        beta=float(beta_range[0] + u[18] * (beta_range[1] - beta_range[0])),
        lowfreq_key=lowfreq_key, texture_key=texture_key, **gland)


class _Frame:
    """The outline in the breast frame, for drawing points and walks."""

    def __init__(self, radius: np.ndarray, axis: float, depth: float) -> None:
        self.radius, self.axis, self.depth = radius, axis, depth

    def r(self, theta: np.ndarray) -> np.ndarray:
        return np.interp(theta, THETA, self.radius)

    def point(self, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
        """(u, v) at angle `theta`, fraction `s` of the way to the skin line."""
        rho = s * self.r(theta)
        return np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=-1)

    @property
    def nipple(self) -> np.ndarray:
        return self.point(np.array(self.axis), np.array(1.0))

    @property
    def area(self) -> float:
        return float(0.5 * np.trapezoid(self.radius**2, THETA))


def _to_image(uv: np.ndarray, wall: str, width: float, origin: float) -> np.ndarray:
    chest, side = (0.0, 1.0) if wall == "left" else (width, -1.0)
    return np.stack([chest + side * uv[..., 0], origin + uv[..., 1]], axis=-1)


def _lobules(rng: np.random.Generator, frame: _Frame, cover: float, wall: str, width: float,
             origin: float) -> np.ndarray:
    """Fat lobules (x, y, radius, depth), mm: round lucencies within the gland."""
    n = int(frame.area * cover / (np.pi * 3.2**2))
    theta = rng.uniform(-0.5 * np.pi, 0.5 * np.pi, n)
    s = np.sqrt(rng.uniform(0.02, 0.95, n))
    xy = _to_image(frame.point(theta, s), wall, width, origin)
    radius = np.exp(rng.uniform(np.log(1.5), np.log(5.5), n))
    depth = rng.uniform(0.55, 1.0, n)
    return np.column_stack([xy, radius, depth])


def _walk(start: np.ndarray, heading: float, length: float, step: float, turn_sd: float,
          curvature: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random walk (u, v) of `length` mm from `start`."""
    n = max(2, int(length / step) + 1)
    turns = curvature * step + turn_sd * rng.standard_normal(n - 1)
    angles = heading + np.concatenate([[0.0], np.cumsum(turns[:-1])])
    steps = step * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return np.concatenate([start[None, :], start + np.cumsum(steps, axis=0)])


def _structures(rng: np.random.Generator, frame: _Frame, category: str, wall: str,
                width: float, origin: float, pectoral: tuple[float, float, float] | None
                ) -> Polylines:
    """Ducts from the nipple, Cooper's ligaments, vessels from the chest wall or axilla."""
    paths: list[np.ndarray] = []
    sigma: list[float] = []
    amp: list[float] = []
    kind: list[str] = []

    def add(path: np.ndarray, s: float, a: float, k: str) -> None:
        paths.append(path)
        sigma.append(s)
        amp.append(a)
        kind.append(k)

    nipple = frame.nipple
    back = frame.axis + np.pi
    for _ in range(int(rng.integers(10, 19))):  # lobar ducts and their branches
        s = rng.uniform(0.22, 0.38)
        duct = _walk(nipple, back + rng.uniform(-0.75, 0.75), frame.depth * rng.uniform(0.2, 0.5),
                     1.5, 0.07, 0.0, rng)
        add(duct, s, TUBE_PEAK * s, "duct")
        for _ in range(int(rng.integers(1, 4))):
            j = int(rng.integers(len(duct) // 3, max(len(duct) // 3 + 1, len(duct) - 1)))
            heading = float(np.arctan2(*(duct[j] - duct[j - 1])[::-1]))
            branch = _walk(duct[j], heading + rng.choice([-1, 1]) * rng.uniform(0.3, 0.7),
                           frame.depth * rng.uniform(0.06, 0.18), 1.2, 0.08, 0.0, rng)
            add(branch, 0.6 * s, 0.6 * TUBE_PEAK * s, "duct")
    n_lig = int(frame.area / 220.0 * rng.uniform(0.8, 1.2))
    for _ in range(n_lig):  # Cooper's ligaments: thin arcs, mostly in the anterior fat
        theta = rng.uniform(-0.5 * np.pi + 0.1, 0.5 * np.pi - 0.1)
        start = frame.point(np.array(theta), np.array(rng.uniform(0.35, 0.97)))
        heading = theta + rng.choice([-1, 1]) * 0.5 * np.pi + rng.uniform(-0.6, 0.6)
        add(_walk(start, heading, rng.uniform(6.0, 26.0), 1.0, 0.03, rng.uniform(-0.1, 0.1),
                  rng), rng.uniform(0.06, 0.13), rng.uniform(3.0, 8.0), "ligament")
    for _ in range(int(rng.integers(3, 8))):  # vessels: long, smooth, from the chest wall
        if pectoral is not None and rng.random() < 0.5:  # MLO: some come from the axilla
            start = np.array([rng.uniform(0.2, 0.6) * pectoral[0], -origin])
        else:
            start = frame.point(np.array(rng.uniform(-1.2, 1.0)), np.array(0.98)) * [0.0, 1.0]
        to_nipple = nipple + rng.uniform(-0.25, 0.25, 2) * frame.depth - start
        heading = float(np.arctan2(to_nipple[1], to_nipple[0])) + rng.uniform(-0.3, 0.3)
        s = rng.uniform(0.3, 0.6)
        vessel = _walk(start, heading, float(np.hypot(*to_nipple)) * rng.uniform(0.6, 1.0),
                       2.0, 0.06, 0.0, rng)
        add(vessel, s, TUBE_PEAK * s, "vessel")
        for _ in range(int(rng.integers(0, 3))):
            j = int(rng.integers(1, len(vessel) - 1))
            heading = float(np.arctan2(*(vessel[j] - vessel[j - 1])[::-1]))
            add(_walk(vessel[j], heading + rng.choice([-1, 1]) * rng.uniform(0.3, 0.8),
                      frame.depth * rng.uniform(0.1, 0.3), 2.0, 0.06, 0.0, rng),
                0.65 * s, 0.65 * TUBE_PEAK * s, "vessel")
    points = np.concatenate([_to_image(p, wall, width, origin) for p in paths])
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in paths])]).astype(np.int64)
    return Polylines(points=points, offsets=offsets, sigma_mm=np.array(sigma),
                     amplitude_mm=np.array(amp), kind=tuple(kind))
