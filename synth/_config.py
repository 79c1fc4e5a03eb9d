"""Scene configuration: what to vary, validated at construction, JSON round trip."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from ._fields import (
    DOC_KEY,
    FieldSpec,
    _check_weights,
    _fail,
    parameters_doc,
    spec_field,
    specs_of,
)
from ._materials import BEAMS, MATERIALS

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
Placement = Literal["random", "center"]
PLACEMENTS: tuple[str, ...] = get_args(Placement)
CONTRAST_MODELS: tuple[str, ...] = ("attenuation", "relative")
MC_SHAPES: tuple[str, ...] = ("gaussian", "solid")
MC_MATERIALS: tuple[str, ...] = MATERIALS
"""MC minerals of the attenuation model (`synth.mass_attenuation` holds their coefficients)."""
COUNT_DISTRIBUTIONS: tuple[str, ...] = ("long_tailed", "uniform")
TEXTURES: tuple[str, ...] = ("non_periodic", "periodic")
DETECTORS: tuple[str, ...] = ("direct", "indirect")
OUTPUTS: tuple[str, ...] = ("presentation", "processing")
PATCH_SOURCES: tuple[str, ...] = ("texture", "phantom")
"""Backgrounds of generated patches: the stationary 1/f^β texture (the default) or 1 cm
windows of anatomical breast phantoms (`synth._phantom_patches`)."""
BEAM_NAMES: tuple[str, ...] = tuple(BEAMS)
"""Beam presets (`synth.BEAMS` holds their half-value layers and effective energies)."""

SCENE_CONFIG_VERSION = 2
"""Version of the scene-config format. Version 1 (no ``version`` key: files written before the
attenuation model) loads as the first-wave generator: ``contrast_model="relative"``, uniform MC
counts, the old spacing rule, independent sizes, straight lines and periodic texture."""

LEGACY_V1: dict[str, Any] = {
    "contrast_model": "relative", "mc_count_distribution": "uniform",
    "mc_min_spacing_mm": None, "pleomorphism": 1.0, "curvature_range_per_mm": (0.0, 0.0),
    "texture": "periodic",
}
"""The values a version-1 config file gets for the fields added in version 2."""

_DEFAULT_CONTRAST = {"attenuation": (0.6, 1.0), "relative": (0.15, 0.6)}


def patch_size_px(resolution_um: int) -> int:
    """Side of a 1 cm patch in pixels: 200, 144 or 100 at 50, 70 or 100 µm.

    Raises
    ------
    ValueError
        If `resolution_um` is not one of `RESOLUTIONS_UM`.

    Examples
    --------
    >>> import synth
    >>> {res: synth.patch_size_px(res) for res in synth.RESOLUTIONS_UM}
    {50: 200, 70: 144, 100: 100}
    >>> synth.patch_size_px(70) * 70 / 1000  # mm: the 70 µm patch is slightly wider than 1 cm
    10.08
    """
    check_resolution(resolution_um)
    return _PATCH_SIZE_PX[int(resolution_um)]


def check_resolution(resolution_um: Any) -> int:
    """Return `resolution_um` as an int, or raise a `ValueError` naming it.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> synth.check_resolution(np.int64(100))
    100
    >>> synth.check_resolution(60)
    Traceback (most recent call last):
    ...
    ValueError: `resolution_um` must be one of (50, 70, 100); got resolution_um=60.
    """
    if isinstance(resolution_um, bool) or resolution_um not in _PATCH_SIZE_PX:
        raise ValueError(
            f"`resolution_um` must be one of {RESOLUTIONS_UM}; got resolution_um={resolution_um!r}."
        )
    return int(resolution_um)


@dataclass(frozen=True, kw_only=True)
class Acquisition:
    """Detector model applied after the scene is formed. Each `None` switches that effect off.

    Bounds, units and help of every field: `field_specs(Acquisition)`.
    """

    blur_sigma_um: float | None = spec_field(
        20.0, kind="number", low=0.0, high=500.0, optional=True, unit="µm", step=1.0,
        help="Standard deviation of the Gaussian detector PSF, on top of the pixel aperture "
             "(a-Se 70 µm ≈ 20 µm, CsI 100 µm ≈ 41 µm).")
    dose: float | None = spec_field(
        1.0e6, kind="number", low=1e2, high=1e9, optional=True, unit="quanta/mm²", step=1e4,
        help="Detected X-ray quanta per mm² behind no attenuation; sets the Poisson (quantum) "
             "noise, which grows per pixel as the pixel shrinks (clinical detectors: ~1e5–1e6).")
    electronic_noise: float | None = spec_field(
        5.0, kind="number", low=0.0, high=1e4, optional=True, unit="quanta/pixel", step=1.0,
        help="Standard deviation of the additive electronic noise (needs a `dose`).")
    bit_depth: int | None = spec_field(
        12, kind="number", low=8, high=16, integer=True, optional=True, unit="bit", step=1,
        help="Quantisation of the detector output (the ADC, before any log transform).")
    detector: str = spec_field(
        "direct", kind="choice", options=DETECTORS,
        help="Converter: 'direct' (a-Se: the blur hardly shapes the quantum noise, which stays "
             "white) or 'indirect' (CsI: the scintillator blurs the quanta, NPS shaped by MTF²). "
             "Attenuation model only.")
    beam: str = spec_field(
        "W/Rh 29kV", kind="choice", options=BEAM_NAMES,
        help="Tube anode/filter and kV; sets the effective energy (from its half-value layer) "
             "unless `energy_kev` is given. Attenuation model only.")
    energy_kev: float | None = spec_field(
        None, kind="number", low=15.0, high=40.0, optional=True, unit="keV", step=0.5,
        help="Effective (monoenergetic) beam energy; None takes the beam preset's. "
             "Attenuation model only.")
    output: str = spec_field(
        "presentation", kind="choice", options=OUTPUTS,
        help="'presentation': log-transformed and windowed (like the papers' 8-bit PNGs); "
             "'processing': linear in the detected fluence (like raw DICOM). Attenuation "
             "model only.")
    scatter_to_primary: float | None = spec_field(
        None, kind="number", low=0.0, high=3.0, optional=True, step=0.05,
        help="Scatter-to-primary ratio, added as a smooth field (about 0.1–0.2 with a grid, "
             "0.3–0.6 without). Attenuation model only.")
    heel_gradient: float | None = spec_field(
        None, kind="number", low=-0.5, high=0.5, optional=True, unit="1/cm", step=0.01,
        help="Heel effect: fractional change of the fluence per cm down the image (rows), "
             "e.g. -0.05 = 5 % less per cm towards the nipple. Attenuation model only.")

    def __post_init__(self) -> None:
        for name, spec in specs_of(type(self)).items():
            spec.check(getattr(self, name))
        noise = self.electronic_noise
        if self.dose is None and noise is not None and noise > 0:
            raise _fail("electronic_noise",
                        "needs a `dose` (it is counted in quanta per pixel)", noise)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


ACQUISITION_PRESETS: dict[str, Acquisition] = {
    "a-Se 70um": Acquisition(blur_sigma_um=20.0, dose=5.0e5, electronic_noise=5.0, bit_depth=14,
                             detector="direct"),
    "CsI 100um": Acquisition(blur_sigma_um=41.0, dose=4.0e5, electronic_noise=8.0, bit_depth=14,
                             detector="indirect"),
    "CsI 50um": Acquisition(blur_sigma_um=30.0, dose=6.0e5, electronic_noise=6.0, bit_depth=14,
                            detector="indirect"),
}
"""Detector presets (blur as in docs/architecture.md; dose and noise typical of
full-field digital units)."""


@dataclass(frozen=True, kw_only=True)
class SceneConfig:
    """Everything a synthetic scene may vary; frozen, validated, JSON round trip.

    Ranges are ``(low, high)`` and are drawn uniformly per scene (per MC for MC properties).
    Lengths are in mm, angles in degrees. Bounds, units and help of every field:
    `field_specs(SceneConfig)`; `__post_init__` validates with them.
    """

    distribution: str | Mapping[str, float] = spec_field(
        factory=lambda: {
            "clustered": 0.6, "linear": 0.1, "segmental": 0.1, "regional": 0.1, "diffuse": 0.1
        },
        kind="choice_or_weights", options=DISTRIBUTIONS, low=0.0, high=float("inf"), step=0.05,
        help="Arrangement of a positive scene's MCs: one distribution, or a mapping of them "
             "to weights (drawn per positive scene).")
    positive_fraction: float = spec_field(
        0.5, kind="number", low=0.0, high=1.0, step=0.05,
        help="Share of scenes that hold a cluster (label 1).")
    hard_negative_fraction: float = spec_field(
        0.4, kind="number", low=0.0, high=1.0, step=0.05,
        help="Share of the negative scenes that hold 1 or 2 MCs (below `cluster_min_count`).")
    mc_count_range: tuple[int, int] = spec_field(
        (3, 30), kind="range", low=1, high=60, integer=True, step=1,
        help="Number of MCs in a positive scene; the low end must be >= `cluster_min_count`.")
    mc_count_distribution: str = spec_field(
        "long_tailed", kind="choice", options=COUNT_DISTRIBUTIONS,
        help="How the MC count of a positive scene is drawn within `mc_count_range`: "
             "'long_tailed' (a negative binomial of mean `mc_count_mean` and dispersion 2, "
             "truncated to the range) or 'uniform'.")
    mc_count_mean: float = spec_field(
        6.5, kind="number", low=0.5, high=60.0, step=0.5,
        help="Mean of the long-tailed count distribution before its truncation to "
             "`mc_count_range` (6.5 on (3, 30) gives counts of mean about 8, median 7).")
    mc_size_range_mm: tuple[float, float] = spec_field(
        (0.1, 0.6), kind="range", low=0.1, high=1.0, unit="mm", step=0.01,
        help="MC size (longest extent), drawn log-uniformly per MC.")
    morphology_weights: Mapping[str, float] = spec_field(
        factory=lambda: {
            "punctate": 0.35,
            "amorphous": 0.15,
            "coarse_heterogeneous": 0.1,
            "fine_pleomorphic": 0.3,
            "fine_linear_branching": 0.1,
        },
        kind="weights", options=MORPHOLOGIES, low=0.0, high=float("inf"), step=0.05,
        help="Weights of the MC morphologies; coarse heterogeneous MCs are drawn >= 0.5 mm and "
             "fine pleomorphic ones < 0.5 mm where `mc_size_range_mm` allows it.")
    contrast_range: tuple[float, float] = spec_field(
        None, kind="range", low=0.0, high=1.0, step=0.01,
        help="Scale of each MC's signal, drawn per MC. Attenuation model: the mineral's fill "
             "fraction (1 = a solid particle; default (0.6, 1)). Relative model: peak contrast "
             "relative to the local tissue level (0.15 = 15 % brighter; default (0.15, 0.6)).")
    contrast_model: str = spec_field(
        "attenuation", kind="choice", options=CONTRAST_MODELS,
        help="'attenuation': the image is formed from line integrals of μ (tissue, and each MC's "
             "material × its projected thickness) through the detector chain; 'relative': the "
             "first-wave model (contrast × local tissue level; earlier datasets regenerate byte "
             "for byte).")
    mc_shape: str = spec_field(
        "gaussian", kind="choice", options=MC_SHAPES,
        help="Attenuation model: each MC as Gaussians sized from solids of the same volume "
             "('gaussian'), or the exact projected chord length of those solids ('solid', "
             "sharp edges, slower).")
    material_weights: Mapping[str, float] = spec_field(
        factory=lambda: {"hydroxyapatite": 0.9, "calcium_oxalate": 0.1},
        kind="weights", options=MC_MATERIALS, low=0.0, high=float("inf"), step=0.05,
        help="Weights of the MC materials: hydroxyapatite (type II, most malignant-associated "
             "MCs) and calcium oxalate (type I). Attenuation model only.")
    breast_thickness_range_mm: tuple[float, float] = spec_field(
        (40.0, 60.0), kind="range", low=10.0, high=120.0, unit="mm", step=1.0,
        help="Compressed breast thickness, drawn per scene (attenuation model).")
    pleomorphism: float = spec_field(
        0.5, kind="number", low=0.0, high=1.0, step=0.05,
        help="How independently the MCs of a scene vary in size: 0 = all one size, "
             "1 = independent draws (each MC's size keeps its log-uniform marginal).")
    mc_min_spacing_mm: float | None = spec_field(
        0.2, kind="number", low=0.0, high=5.0, optional=True, unit="mm", step=0.05,
        help="Least distance between two MC centres, honoured by every distribution (and "
             "never less than half their summed sizes); a scene with no room for all its MCs "
             "keeps fewer. None: the first-wave rule (0.15 mm + 0.6 × the largest size, "
             "relaxed when crowded).")
    curvature_range_per_mm: tuple[float, float] = spec_field(
        (0.0, 0.15), kind="range", low=0.0, high=1.0, unit="1/mm", step=0.01,
        help="Curvature of linear arrangements, drawn per scene (0 = a straight line; "
             "0.1/mm = an arc of 10 mm radius, like a duct).")
    texture: str = spec_field(
        "non_periodic", kind="choice", options=TEXTURES,
        help="Background synthesis: 'non_periodic' (opposite edges uncorrelated) or "
             "'periodic' (the first-wave tile, which wraps across the border).")
    label_dprime_threshold: float | None = spec_field(
        None, kind="number", low=0.0, high=1e3, optional=True, step=0.5,
        help="If set, the label counts only MCs whose detectability d′ reaches it (d′ depends "
             "on the resolution and detector, so the label may too).")
    cluster_extent_mm: tuple[float, float] = spec_field(
        (2.0, 6.0), kind="range", low=0.5, high=10.0, unit="mm", step=0.1,
        help="Diameter of the group (clustered), length of the line (linear) or of the duct "
             "tree (segmental); regional and diffuse scenes spread over the whole field.")
    orientation_range_deg: tuple[float, float] = spec_field(
        (0.0, 180.0), kind="range", low=-360.0, high=360.0, unit="°", step=1.0,
        help="Orientation of linear and segmental arrangements and of elongated clusters.")
    placement: Placement = spec_field(
        "random", kind="choice", options=PLACEMENTS,
        help="Where the arrangement's centre lies: anywhere it fits, or the patch centre.")
    margin_mm: float = spec_field(
        0.5, kind="number", low=0.0, high=2.5, unit="mm", step=0.1,
        help="Distance kept between every MC centre and the patch border.")
    beta_range: tuple[float, float] = spec_field(
        (2.5, 3.1), kind="range", low=1.5, high=3.5, step=0.05,
        help="Exponent β of the tissue power spectrum 1/f^β (f in cycles/mm).")
    density_range: tuple[float, float] = spec_field(
        (0.2, 0.8), kind="range", low=0.0, high=1.0, step=0.01,
        help="Glandular fraction: sets the mean tissue level and the texture contrast.")
    lumpy_strength: float = spec_field(
        0.0, kind="number", low=0.0, high=1.0, step=0.05,
        help="Amplitude of an added clustered lumpy background (0 switches it off).")
    acquisition: Acquisition | None = field(
        default_factory=Acquisition,
        metadata={DOC_KEY: ("Acquisition or None", "Detector model; `None` renders an ideal "
                                                   "image (pixel aperture only).")})
    cluster_min_count: int = spec_field(
        3, kind="number", low=1, high=20, integer=True, step=1,
        help="A patch is class 1 when at least this many MC centres lie inside it.")
    patch_source: str = spec_field(
        "texture", kind="choice", options=PATCH_SOURCES,
        help="Background of generated patches: 'texture' (the stationary 1/f^β field) or "
             "'phantom' (1 cm windows of anatomical breast phantoms: skin, fibroglandular "
             "region, lobules, ligaments, ducts, vessels, pectoral muscle; a pool of 64 "
             "phantoms per seed, consecutive patches from different ones; split by seed to "
             "keep anatomies apart). With 'phantom', texture, lumpy_strength and "
             "density_range are ignored (the phantom sets tissue and density; beta_range and "
             "breast_thickness_range_mm still apply). Attenuation model only; honoured by "
             "generate, write_dataset and PatchDataset; refused by sample_scene, validate and "
             "real backgrounds; full-field mammograms ignore it.")
    version: int = spec_field(
        SCENE_CONFIG_VERSION, kind="number", low=SCENE_CONFIG_VERSION,
        high=SCENE_CONFIG_VERSION, integer=True, step=1,
        help="Scene-config format version (files without one are version 1).")

    def __post_init__(self) -> None:
        put = object.__setattr__
        specs_of(type(self))["contrast_model"].check(self.contrast_model)
        if self.contrast_range is None:
            put(self, "contrast_range", _DEFAULT_CONTRAST[self.contrast_model])
        for name, spec in specs_of(type(self)).items():
            put(self, name, spec.check(getattr(self, name)))
        cmin = self.cluster_min_count
        if self.mc_count_range[0] < cmin:
            raise _fail("mc_count_range", f"must start at cluster_min_count={cmin} or above",
                        self.mc_count_range)
        if self.hard_negative_fraction > 0 and cmin < 2:
            raise _fail("hard_negative_fraction",
                        "must be 0 when cluster_min_count is 1 (no MC count is below it)",
                        self.hard_negative_fraction)
        if self.patch_source == "phantom" and self.contrast_model != "attenuation":
            raise _fail("patch_source", "must be 'texture' with contrast_model='relative' "
                        "(phantoms are rendered by the attenuation model)", self.patch_source)
        if self.contrast_model == "relative" and self.mc_shape != "gaussian":
            raise _fail("mc_shape", "must be 'gaussian' with contrast_model='relative' (solids "
                        "have a thickness only in the attenuation model)", self.mc_shape)
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
    def material_cumulative(self) -> np.ndarray:
        return np.cumsum(list(_normalise(dict(self.material_weights)).values()))

    @functools.cached_property
    def distribution_cumulative(self) -> np.ndarray:
        """Cumulative distribution weights, normalised (for drawing)."""
        return np.cumsum(list(self.distribution_weights.values()))

    @functools.cached_property
    def morphology_cumulative(self) -> np.ndarray:
        return np.cumsum(list(self.morphology_probabilities.values()))

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists). `patch_source` is left out at its
        default, so configs (and the manifests and digests made from them) of the texture
        source read as before the field existed."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "patch_source" and value == "texture":
                continue
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
        version = kwargs.pop("version", 1)
        if version == 1:
            added = sorted(set(kwargs) & (set(LEGACY_V1) | _V2_ONLY))
            if added:
                raise ValueError(
                    f"`version` is missing (version 1) but the config sets {added}, which "
                    f"version 1 does not have: add \"version\": {SCENE_CONFIG_VERSION}.")
            kwargs = {**LEGACY_V1, **kwargs}
            acq = kwargs.get("acquisition")
            if isinstance(acq, Mapping) and set(acq) & _V2_ACQUISITION:
                raise ValueError(
                    f"`version` is missing (version 1) but the acquisition sets "
                    f"{sorted(set(acq) & _V2_ACQUISITION)}: add \"version\": "
                    f"{SCENE_CONFIG_VERSION}.")
        elif version != SCENE_CONFIG_VERSION:
            raise ValueError(
                f"`version` must be 1 or {SCENE_CONFIG_VERSION} (this toolkit reads scene "
                f"configs up to version {SCENE_CONFIG_VERSION}); got version={version!r}.")
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SceneConfig:
        if len(text) > MAX_CONFIG_CHARS:
            raise ValueError(f"a scene config must be at most {MAX_CONFIG_CHARS} characters; "
                             f"got {len(text)}.")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"a scene config must be valid JSON: {exc}.") from None
        except RecursionError:
            raise ValueError("a scene config must be valid JSON: it is nested too deeply."
                             ) from None
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


MAX_CONFIG_CHARS = 1_000_000
"""The longest scene-config JSON accepted (a real one is about 2 kB)."""

_V2_ONLY = {"mc_count_mean", "mc_shape", "material_weights", "breast_thickness_range_mm",
             "label_dprime_threshold"}
_V2_ACQUISITION = {"detector", "beam", "energy_kev", "output", "scatter_to_primary",
                   "heel_gradient"}


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


def field_specs(cls: type[SceneConfig] | type[Acquisition]) -> dict[str, FieldSpec]:
    """The `FieldSpec` of every validated field of `SceneConfig` or `Acquisition`.

    Parameters
    ----------
    cls : SceneConfig or Acquisition (the class)

    Returns
    -------
    dict of str to FieldSpec
        In declaration order. `SceneConfig`'s ``acquisition`` has none (it holds an
        `Acquisition`, whose fields have theirs).

    Examples
    --------
    >>> import synth
    >>> specs = synth.field_specs(synth.Acquisition)
    >>> len(specs), list(specs)[:5]
    (10, ['blur_sigma_um', 'dose', 'electronic_noise', 'bit_depth', 'detector'])
    >>> specs["blur_sigma_um"].unit, specs["blur_sigma_um"].high
    ('µm', 500.0)
    """
    if cls is not SceneConfig and cls is not Acquisition:
        raise TypeError(f"`cls` must be SceneConfig or Acquisition; got cls={cls!r}.")
    return dict(specs_of(cls))


def field_spec(name: str) -> FieldSpec:
    """The `FieldSpec` of the `SceneConfig` or `Acquisition` field called `name`.

    Parameters
    ----------
    name : str
        A field name (the two classes share none); ``"acquisition__dose"`` (the spelling of
        `SceneConfig.replace`) names a detector field too.

    Returns
    -------
    FieldSpec

    Raises
    ------
    ValueError
        If no field of that name has a spec.

    Examples
    --------
    >>> import synth
    >>> spec = synth.field_spec("mc_size_range_mm")
    >>> spec.low, spec.high, spec.unit
    (0.1, 1.0, 'mm')
    >>> spec.check((0.2, 0.05))
    Traceback (most recent call last):
    ...
    ValueError: `mc_size_range_mm` must lie within [0.1, 1]; got mc_size_range_mm=(0.2, 0.05).
    """
    specs = {**specs_of(SceneConfig), **specs_of(Acquisition)}
    key = name.removeprefix("acquisition__") if isinstance(name, str) else None
    if key not in specs:
        raise ValueError(f"`name` must be one of {list(specs)}; got name={name!r}.")
    return specs[key]


for _cls in (Acquisition, SceneConfig):  # the Parameters section, written from the specs
    if _cls.__doc__:
        _cls.__doc__ += "\n" + "\n".join(
            "    " + line if line else "" for line in parameters_doc(_cls).splitlines()) + "\n"
