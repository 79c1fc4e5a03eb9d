"""Scene configuration: what to vary, validated at construction, JSON round trip."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

RESOLUTIONS_UM: tuple[int, int, int] = (50, 70, 100)
"""Pixel spacings of the papers' datasets, in µm."""

_PATCH_SIZE_PX = {50: 200, 70: 144, 100: 100}

SCENE_HALF_WIDTH_MM = 5.0
"""MCs of a scene live in the square [-5, 5] mm × [-5, 5] mm around the patch centre: the field
every resolution covers (the 70 µm patch is 10.08 mm wide, the others 10.00 mm)."""

DISTRIBUTIONS: tuple[str, ...] = ("clustered", "linear", "segmental", "regional", "diffuse")
MORPHOLOGIES: tuple[str, ...] = (
    "punctate",
    "amorphous",
    "coarse_heterogeneous",
    "fine_pleomorphic",
    "fine_linear_branching",
)
PLACEMENTS: tuple[str, ...] = ("random", "center")

Placement = Literal["random", "center"]


def patch_size_px(resolution_um: int) -> int:
    """Side of a 1 cm patch in pixels: 200, 144 or 100 at 50, 70 or 100 µm.

    Raises
    ------
    ValueError
        If `resolution_um` is not one of `RESOLUTIONS_UM`.
    """
    check_resolution(resolution_um)
    return _PATCH_SIZE_PX[int(resolution_um)]


def check_resolution(resolution_um: Any) -> int:
    """Return `resolution_um` as an int, or raise a `ValueError` naming it."""
    if isinstance(resolution_um, bool) or resolution_um not in _PATCH_SIZE_PX:
        raise ValueError(
            f"`resolution_um` must be one of {RESOLUTIONS_UM}; got resolution_um={resolution_um!r}."
        )
    return int(resolution_um)


def _fail(name: str, rule: str, value: Any) -> ValueError:
    return ValueError(f"`{name}` {rule}; got {name}={value!r}.")


def _check_number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number; got {name}={value!r}.")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise _fail(name, f"must lie within [{lo:g}, {hi:g}]", value)
    return float(value)


def _check_range(name: str, value: Any, lo: float, hi: float, *, integer: bool = False) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"`{name}` must be a pair (low, high); got {name}={value!r}.")
    a, b = value
    for v in (a, b):
        bad_type = isinstance(v, bool) or not isinstance(v, (int, float))
        if bad_type or (integer and float(v) != int(v)):
            kind = "integers" if integer else "numbers"
            raise TypeError(f"`{name}` must hold two {kind}; got {name}={tuple(value)!r}.")
        if not (math.isfinite(v) and lo <= v <= hi):
            raise _fail(name, f"must lie within [{lo:g}, {hi:g}]", tuple(value))
    if a > b:
        raise _fail(name, "must have low <= high", tuple(value))
    return (int(a), int(b)) if integer else (float(a), float(b))


def _check_weights(name: str, value: Any, allowed: tuple[str, ...]) -> dict[str, float]:
    if isinstance(value, str):
        value = {value: 1.0}
    if not isinstance(value, Mapping) or not value:
        raise TypeError(
            f"`{name}` must be one of {allowed} or a non-empty mapping of them to weights; "
            f"got {name}={value!r}."
        )
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _fail(name, f"may only name {allowed}", dict(value))
    out = {}
    for key in allowed:
        w = value.get(key, 0.0)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise _fail(name, "must map to finite weights >= 0", dict(value))
        out[key] = float(w)
    if sum(out.values()) <= 0:
        raise _fail(name, "must have at least one positive weight", dict(value))
    return out


@dataclass(frozen=True, kw_only=True)
class Acquisition:
    """Detector model applied after the scene is formed. Each `None` switches that effect off.

    Parameters
    ----------
    blur_sigma_um : float or None
        Standard deviation of the Gaussian detector PSF in µm, on top of the pixel aperture
        (a-Se 70 µm ≈ 20 µm, CsI 100 µm ≈ 41 µm).
    dose : float or None
        Detected X-ray quanta per mm² behind no attenuation. Sets Poisson (quantum) noise, whose
        per-pixel level grows as the pixel shrinks. Clinical full-field detectors: ~1e5–1e6.
    electronic_noise : float or None
        Standard deviation of the additive electronic noise, in quanta per pixel.
    bit_depth : int or None
        Quantisation of the detector output (8–16 bits).
    """

    blur_sigma_um: float | None = 20.0
    dose: float | None = 1.0e6
    electronic_noise: float | None = 5.0
    bit_depth: int | None = 12

    def __post_init__(self) -> None:
        if self.blur_sigma_um is not None:
            _check_number("blur_sigma_um", self.blur_sigma_um, 0.0, 500.0)
        if self.dose is not None:
            _check_number("dose", self.dose, 1e2, 1e9)
        if self.electronic_noise is not None:
            _check_number("electronic_noise", self.electronic_noise, 0.0, 1e4)
            if self.dose is None and self.electronic_noise > 0:
                raise _fail("electronic_noise",
                            "needs a `dose` (it is counted in quanta per pixel)",
                            self.electronic_noise)
        if self.bit_depth is not None and (
            isinstance(self.bit_depth, bool)
            or not isinstance(self.bit_depth, int)
            or not 8 <= self.bit_depth <= 16
        ):
            raise _fail("bit_depth", "must be an integer within [8, 16] or None", self.bit_depth)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


ACQUISITION_PRESETS: dict[str, Acquisition] = {
    "a-Se 70um": Acquisition(blur_sigma_um=20.0, dose=5.0e5, electronic_noise=5.0, bit_depth=14),
    "CsI 100um": Acquisition(blur_sigma_um=41.0, dose=4.0e5, electronic_noise=8.0, bit_depth=14),
    "CsI 50um": Acquisition(blur_sigma_um=30.0, dose=6.0e5, electronic_noise=6.0, bit_depth=14),
}
"""Detector presets (blur from DESIGN.md; dose and noise typical of full-field digital units)."""


@dataclass(frozen=True, kw_only=True)
class SceneConfig:
    """Everything a synthetic scene may vary; frozen, validated, JSON round trip.

    Ranges are ``(low, high)`` and are drawn uniformly per scene (per MC for MC properties).
    Lengths are in mm, angles in degrees.

    Parameters
    ----------
    distribution : str or mapping
        One of `DISTRIBUTIONS`, or a mapping of them to weights (drawn per positive scene).
    positive_fraction : float
        Share of scenes that hold a cluster (label 1).
    hard_negative_fraction : float
        Share of the *negative* scenes that hold 1 or 2 MCs (below `cluster_min_count`).
    mc_count_range : (int, int)
        Number of MCs in a positive scene; the low end must be >= `cluster_min_count`.
    mc_size_range_mm : (float, float)
        MC size (longest extent, mm) within [0.1, 1]; drawn log-uniformly.
    morphology_weights : mapping
        Weights of `MORPHOLOGIES`; coarse heterogeneous MCs are drawn >= 0.5 mm and fine
        pleomorphic ones < 0.5 mm where `mc_size_range_mm` allows it.
    contrast_range : (float, float)
        Peak MC contrast relative to the local tissue level (0.15 = 15 % brighter).
    cluster_extent_mm : (float, float)
        Diameter of the group (clustered), length of the line (linear) or of the duct tree
        (segmental); regional and diffuse scenes spread over the whole field.
    orientation_range_deg : (float, float)
        Orientation of linear/segmental arrangements and of elongated clusters.
    placement : {"random", "center"}
        Where the arrangement's centre lies: anywhere it fits, or the patch centre.
    margin_mm : float
        Distance kept between every MC centre and the patch border.
    beta_range : (float, float)
        Exponent of the tissue power spectrum 1/f^beta (f in cycles/mm), within [1.5, 3.5].
    density_range : (float, float)
        Glandular fraction in [0, 1]: sets the mean level and the texture contrast.
    lumpy_strength : float
        Amplitude of an added clustered lumpy background (0 switches it off).
    acquisition : Acquisition or None
        Detector model; `None` renders an ideal image (pixel aperture only).
    cluster_min_count : int
        A patch is class 1 when at least this many MC centres lie inside it.
    """

    distribution: str | Mapping[str, float] = field(
        default_factory=lambda: {
            "clustered": 0.6, "linear": 0.1, "segmental": 0.1, "regional": 0.1, "diffuse": 0.1
        }
    )
    positive_fraction: float = 0.5
    hard_negative_fraction: float = 0.4
    mc_count_range: tuple[int, int] = (3, 12)
    mc_size_range_mm: tuple[float, float] = (0.1, 0.6)
    morphology_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "punctate": 0.35,
            "amorphous": 0.15,
            "coarse_heterogeneous": 0.1,
            "fine_pleomorphic": 0.3,
            "fine_linear_branching": 0.1,
        }
    )
    contrast_range: tuple[float, float] = (0.15, 0.6)
    cluster_extent_mm: tuple[float, float] = (2.0, 6.0)
    orientation_range_deg: tuple[float, float] = (0.0, 180.0)
    placement: Placement = "random"
    margin_mm: float = 0.5
    beta_range: tuple[float, float] = (2.5, 3.1)
    density_range: tuple[float, float] = (0.2, 0.8)
    lumpy_strength: float = 0.0
    acquisition: Acquisition | None = field(default_factory=Acquisition)
    cluster_min_count: int = 3

    def __post_init__(self) -> None:
        put = object.__setattr__
        dist = self.distribution
        if isinstance(dist, str):
            if dist not in DISTRIBUTIONS:
                raise _fail("distribution", f"must be one of {DISTRIBUTIONS} or a weighting", dist)
        else:
            put(self, "distribution", _check_weights("distribution", dist, DISTRIBUTIONS))
        put(self, "positive_fraction",
            _check_number("positive_fraction", self.positive_fraction, 0, 1))
        put(self, "hard_negative_fraction",
            _check_number("hard_negative_fraction", self.hard_negative_fraction, 0, 1))
        cmin = self.cluster_min_count
        if isinstance(cmin, bool) or not isinstance(cmin, int) or not 1 <= cmin <= 20:
            raise _fail("cluster_min_count", "must be an integer within [1, 20]", cmin)
        counts = _check_range("mc_count_range", self.mc_count_range, 1, 60, integer=True)
        if counts[0] < cmin:
            raise _fail("mc_count_range", f"must start at cluster_min_count={cmin} or above",
                        counts)
        put(self, "mc_count_range", counts)
        if self.hard_negative_fraction > 0 and cmin < 2:
            raise _fail("hard_negative_fraction",
                        "must be 0 when cluster_min_count is 1 (no MC count is below it)",
                        self.hard_negative_fraction)
        put(self, "mc_size_range_mm", _check_range("mc_size_range_mm", self.mc_size_range_mm,
                                                    0.1, 1.0))
        put(self, "morphology_weights",
            _check_weights("morphology_weights", self.morphology_weights, MORPHOLOGIES))
        put(self, "contrast_range", _check_range("contrast_range", self.contrast_range, 0, 1))
        put(self, "cluster_extent_mm",
            _check_range("cluster_extent_mm", self.cluster_extent_mm, 0.5, 10.0))
        put(self, "orientation_range_deg",
            _check_range("orientation_range_deg", self.orientation_range_deg, -360, 360))
        if self.placement not in PLACEMENTS:
            raise _fail("placement", f"must be one of {PLACEMENTS}", self.placement)
        put(self, "margin_mm", _check_number("margin_mm", self.margin_mm, 0, 2.5))
        put(self, "beta_range", _check_range("beta_range", self.beta_range, 1.5, 3.5))
        put(self, "density_range", _check_range("density_range", self.density_range, 0, 1))
        put(self, "lumpy_strength", _check_number("lumpy_strength", self.lumpy_strength, 0, 1))
        acq = self.acquisition
        if isinstance(acq, Mapping):
            put(self, "acquisition", acquisition_from_dict(acq))
        elif acq is not None and not isinstance(acq, Acquisition):
            raise TypeError(
                f"`acquisition` must be an Acquisition, a mapping or None; got acquisition={acq!r}."
            )

    # -- views -----------------------------------------------------------------------------
    @property
    def distribution_weights(self) -> dict[str, float]:
        """The distribution as normalised weights over `DISTRIBUTIONS`."""
        return _normalise(_check_weights("distribution", self.distribution, DISTRIBUTIONS))

    @property
    def morphology_probabilities(self) -> dict[str, float]:
        return _normalise(dict(self.morphology_weights))

    @functools.cached_property
    def distribution_cumulative(self) -> np.ndarray:
        """Cumulative distribution weights, normalised (for drawing)."""
        return np.cumsum(list(self.distribution_weights.values()))

    @functools.cached_property
    def morphology_cumulative(self) -> np.ndarray:
        return np.cumsum(list(self.morphology_probabilities.values()))

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Acquisition):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceneConfig:
        """Build a config from `to_dict` output; unknown keys raise `ValueError`."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a scene config must be a JSON object; got {type(data).__name__}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown scene config field(s) {unknown}; known fields are {sorted(names)}."
            )
        kwargs: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()
        }
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SceneConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"a scene config must be valid JSON: {exc}.") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> SceneConfig:
        """A copy with fields changed; ``acquisition__dose=...`` changes a detector field."""
        acq_changes = {k.split("__", 1)[1]: v for k, v in changes.items() if "__" in k}
        plain = {k: v for k, v in changes.items() if "__" not in k}
        if acq_changes:
            if not set(acq_changes) <= {f.name for f in dataclasses.fields(Acquisition)}:
                raise ValueError(f"unknown acquisition field(s) in {sorted(acq_changes)}.")
            base = plain.get("acquisition", self.acquisition) or Acquisition(
                blur_sigma_um=None, dose=None, electronic_noise=None, bit_depth=None
            )
            plain["acquisition"] = dataclasses.replace(base, **acq_changes)
        return dataclasses.replace(self, **plain)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))


def acquisition_from_dict(data: Mapping[str, Any]) -> Acquisition:
    names = {f.name for f in dataclasses.fields(Acquisition)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"unknown acquisition field(s) {unknown}; known fields are {sorted(names)}."
        )
    return Acquisition(**data)


def _normalise(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}
