"""Benign look-alikes and artefacts of a full-field phantom mammogram: hard negatives a
detector meets in real images. Each is a `Lookalike` record (stage one, in mm) rendered as
a solid of its material (hydroxyapatite, aluminium for dust) projected, pixel-integrated and
blurred (stage two), or, for detector defects, written onto the output.

- ``vascular``: calcified vessel walls: pieces of a cylindrical shell along one of the
  phantom's vessels, whose projection is the parallel tram-track lines;
- ``skin``: small shells (lucent centres) near the skin line;
- ``rim``: an eggshell: one large thin shell;
- ``coarse``: popcorn: a clump of solid lobes, several mm across;
- ``round``: solid spheres of 1–3 mm;
- ``dust``: tiny dense specks (aluminium-like);
- ``dead_pixel``, ``dead_line``: stuck detector pixels and a stuck column segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ._phantom import Phantom

LOOKALIKE_KINDS: tuple[str, ...] = ("vascular", "skin", "rim", "coarse", "round", "dust",
                                    "dead_pixel", "dead_line")
DETECTOR_DEFECTS = ("dead_pixel", "dead_line")
SUBSAMPLE_MM = 0.025
"""Look-alike solids are sampled at this spacing or finer before pixel averaging."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Lookalike:
    """One look-alike. `parts` rows: spheres/shells (x, y, R, R_inner) mm; vascular pieces
    (x0, y0, x1, y1, R, R_inner) mm; dead_line (x, y0, y1); dead_pixel (x, y)."""

    kind: str
    x_mm: float
    y_mm: float
    size_mm: float
    parts: np.ndarray
    material: str
    fill: float


def check_lookalikes(value: object) -> tuple[str, ...]:
    """None → every kind; a sequence (or set) of kind names → those, in `LOOKALIKE_KINDS`
    order whatever the order given (a set's order changes with the process's string
    hashing); () → none."""
    if value is None:
        return LOOKALIKE_KINDS
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"`lookalikes` must be a sequence of kinds or None; got "
                        f"lookalikes={value!r}.")
    kinds = tuple(value)  # type: ignore[call-overload]
    bad = [k for k in kinds if k not in LOOKALIKE_KINDS]
    if bad:
        raise ValueError(f"`lookalikes` must hold kinds among {LOOKALIKE_KINDS}; got "
                         f"lookalikes={kinds!r}.")
    return tuple(k for k in LOOKALIKE_KINDS if k in kinds)


def sample_lookalikes(ph: Phantom, kinds: tuple[str, ...], *, rng: np.random.Generator
                      ) -> tuple[Lookalike, ...]:
    """One to a few of each kind in `kinds`, placed in the phantom's breast."""
    out: list[Lookalike] = []
    for kind in kinds:
        for _ in range(1 if kind in ("rim", "coarse", "dead_line") else int(rng.integers(1, 3))):
            made = _SAMPLERS[kind](ph, rng)
            if made is not None:
                out.append(made)
    return tuple(out)


IMAGE_CLEARANCE_MM = 3.0
"""Look-alikes keep this far inside the image's edges."""


def in_image(ph: Phantom, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points at least `IMAGE_CLEARANCE_MM` inside the image (the MLO outline leaves it)."""
    h, w = ph.size_mm
    c = IMAGE_CLEARANCE_MM
    return (x > c) & (x < w - c) & (y > c) & (y < h - c)


def _inside(ph: Phantom, rng: np.random.Generator, lo: float, hi: float = 1e9
            ) -> np.ndarray | None:
    """A point in the image whose skin distance lies in [lo, hi] mm (first of 256 uniform
    proposals), None when none is (the look-alike is then left out)."""
    h, w = ph.size_mm
    pts = rng.random((256, 2)) * [w, h]
    d = ph.skin_distance_mm(pts[:, 0], pts[:, 1])
    ok = np.flatnonzero((d >= lo) & (d <= hi) & in_image(ph, pts[:, 0], pts[:, 1]))
    return pts[ok[0]] if len(ok) else None


def _spheres(kind: str, centres: np.ndarray, r: np.ndarray, inner: np.ndarray,
             material: str, fill: float) -> Lookalike:
    parts = np.column_stack([centres, r, inner])
    lo, hi = (centres - r[:, None]).min(axis=0), (centres + r[:, None]).max(axis=0)
    mid = 0.5 * (lo + hi)
    return Lookalike(kind=kind, x_mm=float(mid[0]), y_mm=float(mid[1]),
                     size_mm=float((hi - lo).max()), parts=parts, material=material, fill=fill)


def _vascular(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    lines = ph.structures
    vessels = [i for i in range(len(lines)) if lines.kind[i] == "vessel"]
    for i in rng.permutation(vessels):
        path = lines.path(int(i))
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        ok = ((ph.skin_distance_mm(path[:, 0], path[:, 1]) > 8.0)
              & in_image(ph, path[:, 0], path[:, 1]))
        lo, hi = _longest_run(ok)
        if hi - lo < 2 or arc[hi - 1] - arc[lo] < 12.0:
            continue
        first, last = arc[lo], arc[hi - 1]
        start = rng.uniform(first, last - 10.0)
        length = min(rng.uniform(10.0, 30.0), last - start)
        cuts = np.sort(rng.uniform(start, start + length, 2 * int(rng.integers(2, 5))))
        radius = 1.6 * float(lines.sigma_mm[i])
        wall = rng.uniform(0.08, 0.2)
        xs, ys = np.interp(cuts, arc, path[:, 0]), np.interp(cuts, arc, path[:, 1])
        parts = np.column_stack([xs[0::2], ys[0::2], xs[1::2], ys[1::2],
                                 np.full(len(cuts) // 2, radius),
                                 np.full(len(cuts) // 2, max(radius - wall, 0.0))])
        mid = np.interp(start + 0.5 * length, arc, path[:, 0]), np.interp(
            start + 0.5 * length, arc, path[:, 1])
        return Lookalike(kind="vascular", x_mm=float(mid[0]), y_mm=float(mid[1]),
                         size_mm=float(length), parts=parts, material="hydroxyapatite",
                         fill=float(rng.uniform(0.5, 1.0)))
    return None


def _longest_run(ok: np.ndarray) -> tuple[int, int]:
    """[lo, hi) of the longest run of True in `ok` ((0, 0) when none)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    if not len(edges):
        return 0, 0
    starts, stops = edges[0::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return int(starts[k]), int(stops[k])


def _kept(ph: Phantom, centres: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Which parts of a group to keep: wholly inside the breast, centred in the image (the
    first, placed by `_inside`, always)."""
    keep = ((ph.skin_distance_mm(centres[:, 0], centres[:, 1]) >= r)
            & in_image(ph, centres[:, 0], centres[:, 1]))
    keep[0] = True
    return keep


def _skin(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    centre = _inside(ph, rng, 1.0, 6.0)
    k = int(rng.integers(1, 5))
    r = rng.uniform(0.3, 0.9, k)
    offsets = np.concatenate([[[0.0, 0.0]], rng.normal(0, 1.5, (k - 1, 2))])
    inner = r * rng.uniform(0.55, 0.7, k)
    fill = float(rng.uniform(0.6, 1.0))
    if centre is None:
        return None
    keep = _kept(ph, centre + offsets, r)
    return _spheres("skin", (centre + offsets)[keep], r[keep], inner[keep], "hydroxyapatite",
                    fill)


def _rim(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    r = np.array([rng.uniform(2.0, 6.0)])
    centre = _inside(ph, rng, 10.0)
    wall = rng.uniform(0.1, 0.3)
    fill = float(rng.uniform(0.6, 1.0))
    if centre is None:
        return None
    return _spheres("rim", centre[None, :], r, r - wall, "hydroxyapatite", fill)


def _coarse(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    k = int(rng.integers(4, 10))
    spread = rng.uniform(1.0, 2.5)
    centre = _inside(ph, rng, 10.0)
    offsets = rng.normal(0, spread, (k, 2)).clip(-3, 3)
    r, fill = rng.uniform(0.4, 1.2, k), float(rng.uniform(0.8, 1.0))
    if centre is None:
        return None
    keep = _kept(ph, centre + offsets, r)
    return _spheres("coarse", (centre + offsets)[keep], r[keep], np.zeros(keep.sum()),
                    "hydroxyapatite", fill)


def _round(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    k = int(rng.integers(1, 4))
    centre = _inside(ph, rng, 10.0)
    offsets = np.concatenate([[[0.0, 0.0]], rng.uniform(-5, 5, (k - 1, 2))])
    r, fill = rng.uniform(0.5, 1.5, k), float(rng.uniform(0.7, 1.0))
    if centre is None:
        return None
    keep = _kept(ph, centre + offsets, r)
    return _spheres("round", (centre + offsets)[keep], r[keep], np.zeros(keep.sum()),
                    "hydroxyapatite", fill)


def _dust(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    k = int(rng.integers(1, 3))
    centre = _inside(ph, rng, 3.0)
    offsets = rng.uniform(-0.3, 0.3, (k, 2)) * (np.arange(k) > 0)[:, None]
    r = rng.uniform(0.03, 0.12, k)
    if centre is None:
        return None
    return _spheres("dust", centre + offsets, r, np.zeros(k), "aluminium", 1.0)


def _dead_pixel(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    p = _inside(ph, rng, 3.0)
    if p is None:
        return None
    return Lookalike(kind="dead_pixel", x_mm=float(p[0]), y_mm=float(p[1]), size_mm=0.0,
                     parts=p[None, :], material="", fill=1.0)


def _dead_line(ph: Phantom, rng: np.random.Generator) -> Lookalike | None:
    p = _inside(ph, rng, 3.0)
    length = rng.uniform(10.0, 60.0)
    if p is None:
        return None
    y0 = float(np.clip(p[1] - 0.5 * length, 0.0, ph.size_mm[0]))
    y1 = float(np.clip(p[1] + 0.5 * length, 0.0, ph.size_mm[0]))
    return Lookalike(kind="dead_line", x_mm=float(p[0]), y_mm=0.5 * (y0 + y1),
                     size_mm=y1 - y0, parts=np.array([[p[0], y0, y1]]), material="",
                     fill=float(rng.uniform(0.1, 0.3)))


_SAMPLERS = {"vascular": _vascular, "skin": _skin, "rim": _rim, "coarse": _coarse,
             "round": _round, "dust": _dust, "dead_pixel": _dead_pixel,
             "dead_line": _dead_line}


def lookalike_thickness(lk: Lookalike, px: float, blur_mm: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(origin (row, col), profile) of a solid look-alike: its mineral's projected thickness
    (mm) averaged over each pixel, blurred by the detector PSF; pixel (r, c) spans
    [c, c + 1) × [r, r + 1) pixel spacings from the image corner."""
    p = lk.parts
    if lk.kind == "vascular":
        lo = np.minimum(p[:, [0, 1]], p[:, [2, 3]]).min(axis=0) - p[:, 4].max()
        hi = np.maximum(p[:, [0, 1]], p[:, [2, 3]]).max(axis=0) + p[:, 4].max()
    else:
        lo, hi = (p[:, :2] - p[:, 2:3]).min(axis=0), (p[:, :2] + p[:, 2:3]).max(axis=0)
    reach = 4.0 * blur_mm + px
    c0, r0 = np.floor((lo - reach) / px).astype(int)
    c1, r1 = np.ceil((hi + reach) / px).astype(int)
    sub = max(1, int(np.ceil(px / SUBSAMPLE_MM)))
    step = px / sub
    xs = (c0 * px + step * (np.arange((c1 - c0) * sub) + 0.5))[None, :]
    ys = (r0 * px + step * (np.arange((r1 - r0) * sub) + 0.5))[:, None]
    t = np.zeros((ys.shape[0], xs.shape[1]))
    for row in p:
        if lk.kind == "vascular":
            t += _tube(xs, ys, *row)
        else:
            rho2 = (xs - row[0]) ** 2 + (ys - row[1]) ** 2
            t += 2 * np.sqrt(np.maximum(row[2] ** 2 - rho2, 0))
            t -= 2 * np.sqrt(np.maximum(row[3] ** 2 - rho2, 0))
    if blur_mm > 0:
        t = gaussian_filter(t, blur_mm / step, mode="constant", truncate=4.0)
    prof = t.reshape(r1 - r0, sub, c1 - c0, sub).mean(axis=(1, 3))
    return np.array([r0, c0]), prof


def _tube(xs: np.ndarray, ys: np.ndarray, x0: float, y0: float, x1: float, y1: float,
          r: float, inner: float) -> np.ndarray:
    """Projected wall thickness of a cylindrical shell from (x0, y0) to (x1, y1)."""
    length = max(float(np.hypot(x1 - x0, y1 - y0)), 1e-6)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    along = (xs - x0) * ux + (ys - y0) * uy
    across2 = ((xs - x0) * -uy + (ys - y0) * ux) ** 2
    t = 2 * np.sqrt(np.maximum(r * r - across2, 0)) - 2 * np.sqrt(np.maximum(inner**2 - across2,
                                                                             0))
    return t * ((along >= 0) & (along <= length))


def apply_defects(image: np.ndarray, lookalikes: tuple[Lookalike, ...], px: float) -> None:
    """Write the detector defects onto the output `image` (in place): a stuck-high pixel
    (and its right neighbour) per dead pixel; a column segment raised by `fill`."""
    h, w = image.shape
    for lk in lookalikes:
        if lk.kind == "dead_pixel":
            r, c = int(lk.y_mm / px), int(lk.x_mm / px)
            image[min(r, h - 1), min(c, w - 1): min(c + 2, w)] = 1.0
        elif lk.kind == "dead_line":
            x, y0, y1 = lk.parts[0]
            c = min(int(x / px), w - 1)
            rows = slice(int(y0 / px), max(int(y1 / px), int(y0 / px) + 1))
            image[rows, c] = np.minimum(image[rows, c] + np.float32(lk.fill), 1.0)
