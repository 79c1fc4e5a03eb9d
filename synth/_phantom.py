"""Stage one of an anatomical breast: a `Phantom` record in mm, every random draw fixed.

Coordinates are millimetres from the image's top-left corner, x to the right (columns), y
down (rows), as for `MammogramScene`. The breast is described in its own frame: depth
u >= 0 from the chest wall (the left or right image edge) and v = y - `origin_y_mm`; in polar
form (ρ, θ) about the point (u, v) = (0, 0), θ in [-π/2, π/2] (negative: up). The skin line
is ρ = r(θ), tabulated in `radius_mm` on `THETA`; the nipple sits on it at θ = `axis_rad`.

What the record holds (all rendered by `synth._phantom_render`, which is pure):

- the compressed thickness T, the width of the rounded edge over which the thickness falls
  to 0 at the skin line (what makes the periphery dark), and the skin's thickness;
- the fibroglandular region: a cone behind the nipple (angular half-width `gland_spread_rad`
  about the nipple axis, radially between the retromammary fat and the subareolar region),
  kept `fat_margin_mm` away from the skin, its edge made irregular by a smooth random field
  (`lowfreq_key`), its glandular fraction `gland_peak`, holed by fat lobules;
- curvilinear structures as polylines: Cooper's ligaments, ducts converging on the nipple,
  vessels; each with a Gaussian width and a glandular-equivalent thickness;
- in MLO only, the pectoral muscle: a wedge with its base on the top edge and its apex down
  the chest-wall edge, its free edge slightly convex.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ._random import Key

VIEWS: tuple[str, ...] = ("CC", "MLO")
DENSITY_CATEGORIES: tuple[str, ...] = ("a", "b", "c", "d")
DENSITY_SHARES: tuple[float, ...] = (0.1, 0.4, 0.4, 0.1)
"""Shares of the four BI-RADS density categories in a screening population (ACR, about
10 / 40 / 40 / 10 %), used when no category is asked for."""
THETA = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 1025)
"""Angles (rad) of the skin-line table `Phantom.radius_mm`."""
LOWFREQ_MM = 1.0
"""Grid spacing of the smooth random field that shapes the fibroglandular region."""

# per density category a..d: glandular fraction at the core, angular half-width of the cone
# (rad), subcutaneous fat kept free of gland (mm), share of the region holed by fat lobules
_GLAND_PEAK = (0.22, 0.42, 0.62, 0.82)
_GLAND_SPREAD = (0.45, 0.7, 0.95, 1.2)
_FAT_MARGIN = (16.0, 11.0, 7.0, 4.0)
_LOBULE_COVER = (0.6, 0.45, 0.3, 0.15)
_THRESHOLD = (0.6, 0.45, 0.15, -0.2)


@dataclass(frozen=True, kw_only=True, eq=False)
class Polylines:
    """Curvilinear structures: polyline i is ``points[offsets[i]:offsets[i + 1]]`` (x, y mm).

    `sigma_mm`: the Gaussian half-width of its cross-section; `amplitude_mm`: the glandular-
    equivalent thickness it adds on its centre line where it runs through fat; `kind`:
    "ligament", "duct" or "vessel".
    """

    points: np.ndarray
    offsets: np.ndarray
    sigma_mm: np.ndarray
    amplitude_mm: np.ndarray
    kind: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.kind)

    def path(self, i: int) -> np.ndarray:
        return self.points[self.offsets[i]: self.offsets[i + 1]]


@dataclass(frozen=True, kw_only=True, eq=False)
class Phantom:
    """An anatomical breast in mm (see the module text); `synth._phantom_render`
    (`tissue_attenuation`) makes its pixels."""

    size_mm: tuple[float, float]
    view: str
    chest_wall: str
    density_category: str
    thickness_mm: float
    edge_mm: float
    skin_mm: float
    origin_y_mm: float
    axis_rad: float
    radius_mm: np.ndarray
    nipple_radius_mm: float
    pectoral: tuple[float, float, float] | None
    gland_peak: float
    gland_spread_rad: float
    gland_threshold: float
    fat_margin_mm: float
    lobules: np.ndarray
    structures: Polylines
    beta: float
    lowfreq_key: Key
    texture_key: Key

    @cached_property
    def _log_slope(self) -> np.ndarray:
        return _log_slope(self.radius_mm)

    @property
    def chest_x_mm(self) -> float:
        return 0.0 if self.chest_wall == "left" else float(self.size_mm[1])

    @property
    def side(self) -> float:
        """+1 when the breast extends towards +x (chest wall on the left), else -1."""
        return 1.0 if self.chest_wall == "left" else -1.0

    @property
    def nipple_mm(self) -> tuple[float, float]:
        """(x, y) of the nipple's tip on the skin line."""
        r = float(np.interp(self.axis_rad, THETA, self.radius_mm))
        return (self.chest_x_mm + self.side * r * np.cos(self.axis_rad),
                self.origin_y_mm + r * np.sin(self.axis_rad))

    def frame(self, x_mm: Any, y_mm: Any) -> tuple[np.ndarray, np.ndarray]:
        """Breast-frame coordinates (u, v) in mm of image points."""
        u = (np.asarray(x_mm, dtype=np.float32) - np.float32(self.chest_x_mm)) * np.float32(
            self.side)
        return u, np.asarray(y_mm, dtype=np.float32) - np.float32(self.origin_y_mm)

    def polar(self, x_mm: Any, y_mm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ρ, θ, r(θ)) at image points: radius, angle and the skin line's radius there."""
        u, v = self.frame(x_mm, y_mm)
        rho = np.hypot(u, v)
        theta = np.arctan2(v, np.maximum(u, np.float32(0.0)))
        r = np.interp(theta, THETA, self.radius_mm).astype(np.float32)
        return rho, theta, r

    def skin_distance_mm(self, x_mm: Any, y_mm: Any) -> np.ndarray:
        """Signed distance (mm, > 0 inside) to the skin line, the nipple included.

        First order in the distance: (r(θ) − ρ) projected on the skin line's normal, exact
        on the line; deeper inside it errs by up to a few mm (p95 1–2.4 mm, max ≈ 5 mm
        measured in review), which the placement margins (≥ 3 mm) and the smooth
        thickness roll-off tolerate.
        """
        rho, theta, r = self.polar(x_mm, y_mm)
        slope = np.interp(theta, THETA, self._log_slope).astype(np.float32)
        d = (r - rho) / np.sqrt(np.float32(1.0) + slope * slope)
        nx, ny = self.nipple_mm
        back = self.nipple_radius_mm * 0.35  # the nipple's centre, a little inside the line
        cx = nx - self.side * back * np.cos(self.axis_rad)
        cy = ny - back * np.sin(self.axis_rad)
        nip = np.float32(self.nipple_radius_mm) - np.hypot(
            np.asarray(x_mm, dtype=np.float32) - np.float32(cx),
            np.asarray(y_mm, dtype=np.float32) - np.float32(cy))
        return np.maximum(d, nip)

    def pectoral_distance_mm(self, x_mm: Any, y_mm: Any) -> np.ndarray | None:
        """Signed distance (mm, > 0 inside the muscle) to the pectoral's free edge; None in CC.

        The edge runs from (depth `top`, top edge) to (depth 0, `down` mm down the chest wall)
        and bulges by `bulge` × its length towards the breast.
        """
        if self.pectoral is None:
            return None
        top, down, bulge = self.pectoral
        u, v = self.frame(x_mm, y_mm)
        y = v + np.float32(self.origin_y_mm)  # mm from the top edge
        length = float(np.hypot(top, down))
        # unit normal pointing to the corner (u, y) = (0, 0)
        nu, ny = -down / length, -top / length
        dist = (u - np.float32(top)) * np.float32(nu) + y * np.float32(ny)
        t = np.clip(((u - np.float32(top)) * np.float32(-top) + y * np.float32(down))
                    / np.float32(length**2), 0.0, 1.0)
        return dist + np.float32(4.0 * bulge * length) * t * (1 - t)

    def envelope(self, x_mm: Any, y_mm: Any, distance_mm: Any = None) -> np.ndarray:
        """The smooth glandular fraction (no lobules, no texture) at image points."""
        rho, theta, r = self.polar(x_mm, y_mm)
        s = rho / np.maximum(r, np.float32(1.0))
        a = (theta - np.float32(self.axis_rad)) / np.float32(self.gland_spread_rad)
        score = np.float32(1.0) - a * a
        score -= (np.maximum(np.float32(0.25) - s, 0) * np.float32(6.0)) ** 2  # retromammary
        score += np.float32(0.45) * self.lowfreq_at(x_mm, y_mm)
        score -= np.float32(self.gland_threshold)
        env = np.clip(score * np.float32(1.4), 0.0, 1.0)
        d = self.skin_distance_mm(x_mm, y_mm) if distance_mm is None else distance_mm
        margin = np.clip((np.asarray(d, np.float32) - np.float32(0.5 * self.fat_margin_mm))
                         / np.float32(self.fat_margin_mm), 0.0, 1.0)
        env *= margin * margin * (np.float32(3.0) - np.float32(2.0) * margin)
        env *= np.float32(self.gland_peak)
        return env

    def lowfreq_at(self, x_mm: Any, y_mm: Any) -> np.ndarray:
        """The smooth unit random field that shapes the region, bilinear on its 1 mm grid."""
        from ._phantom_render import bilinear, lowfreq_grid

        grid = lowfreq_grid(self.lowfreq_key, self.size_mm)
        return bilinear(grid, LOWFREQ_MM, np.asarray(x_mm, np.float32),
                        np.asarray(y_mm, np.float32))


def _log_slope(radius: np.ndarray) -> np.ndarray:
    """r'(θ) / r(θ) of the skin-line table."""
    return np.gradient(radius, THETA) / radius


def category_index(category: str) -> int:
    return DENSITY_CATEGORIES.index(category)


def gland_parameters(category: str, u: np.ndarray) -> dict[str, float]:
    """The fibroglandular region's parameters of a density category, jittered by `u` (3)."""
    k = category_index(category)
    return {"gland_peak": float(np.clip(_GLAND_PEAK[k] + 0.08 * (u[0] - 0.5), 0.05, 0.95)),
            "gland_spread_rad": _GLAND_SPREAD[k] * (0.85 + 0.3 * u[1]),
            "gland_threshold": _THRESHOLD[k] + 0.1 * (u[2] - 0.5),
            "fat_margin_mm": _FAT_MARGIN[k]}


def lobule_cover(category: str) -> float:
    return _LOBULE_COVER[category_index(category)]
