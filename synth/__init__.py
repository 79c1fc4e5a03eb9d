"""Physically grounded synthetic mammogram patches with microcalcification clusters.

Two stages: `sample_scene` draws every random number of a scene (in mm, resolution-free);
`render` turns a scene into pixels at 50, 70 or 100 µm, by default through the attenuation
model (tissue and MC line integrals of μ from tabulated attenuation coefficients, then the
detector chain; `validate` measures it). `generate` and `write_dataset` do this
for many patches, reproducibly per (seed, index). `sample_mammogram` and
`render_mammogram_scene` do the same for full-field mammograms (`render_mammogram`,
`write_mammograms`). `load_backgrounds` and `insert` put the same MCs into a user's own
MC-free images (`write_dataset(..., backgrounds=...)`), and `resample` moves any image between
pixel spacings without aliasing. `SceneConfig` and `Acquisition` carry each field's bounds,
unit and help (`field_spec`, `field_specs`: `FieldSpec` records). This package never imports
TensorFlow.
"""

from . import cluster, io
from ._config import (
    ACQUISITION_PRESETS,
    CONTRAST_MODELS,
    DISTRIBUTIONS,
    MAX_CONFIG_CHARS,
    MC_MATERIALS,
    MORPHOLOGIES,
    RESOLUTIONS_UM,
    SCENE_CONFIG_VERSION,
    Acquisition,
    SceneConfig,
    check_resolution,
    field_spec,
    field_specs,
    patch_size_px,
)
from ._dataset import VerifyReport, verify_dataset, write_dataset
from ._extras import MissingExtraError
from ._fields import FieldSpec
from ._generate import Batch, close_pools, generate, generate_indices
from ._images import GreyImage, read_grey_image
from ._insert import (
    INTENTS,
    REGIONS,
    Backgrounds,
    backgrounds_from_arrays,
    insert,
    insert_indices,
    load_backgrounds,
)
from ._lookalikes import LOOKALIKE_KINDS
from ._mammogram import Mammogram, render_mammogram, render_mammogram_scene
from ._mammogram_io import write_mammograms
from ._mammogram_scene import MammogramScene, sample_mammogram
from ._materials import (
    BEAMS,
    Beam,
    effective_energy_kev,
    linear_attenuation_per_mm,
    mass_attenuation,
)
from ._patch_dataset import PatchDataset
from ._phantom import DENSITY_CATEGORIES, VIEWS, Phantom
from ._phantom_mammogram import FINDING_COLUMNS
from ._phantom_sample import sample_phantom
from ._realism import compute_realism
from ._render import Patch, render
from ._scene import Calcification, Lumps, Scene, count_probabilities, sample_scene
from ._spacing import (
    Resampled,
    at_resolution,
    check_spacing,
    image_spacing,
    nearest_resolution,
    resample,
)
from ._validate import ValidationReport, validate, write_validation

__all__ = [
    "ACQUISITION_PRESETS",
    "DENSITY_CATEGORIES",
    "FINDING_COLUMNS",
    "LOOKALIKE_KINDS",
    "VIEWS",
    "Phantom",
    "compute_realism",
    "sample_phantom",
    "INTENTS",
    "REGIONS",
    "Backgrounds",
    "Resampled",
    "at_resolution",
    "backgrounds_from_arrays",
    "check_spacing",
    "image_spacing",
    "insert",
    "insert_indices",
    "load_backgrounds",
    "nearest_resolution",
    "resample",
    "BEAMS",
    "CONTRAST_MODELS",
    "DISTRIBUTIONS",
    "MC_MATERIALS",
    "MORPHOLOGIES",
    "RESOLUTIONS_UM",
    "MAX_CONFIG_CHARS",
    "SCENE_CONFIG_VERSION",
    "Acquisition",
    "Batch",
    "Beam",
    "Calcification",
    "FieldSpec",
    "GreyImage",
    "Lumps",
    "Mammogram",
    "MammogramScene",
    "Patch",
    "PatchDataset",
    "Scene",
    "SceneConfig",
    "ValidationReport",
    "VerifyReport",
    "check_resolution",
    "close_pools",
    "count_probabilities",
    "effective_energy_kev",
    "field_spec",
    "field_specs",
    "generate",
    "generate_indices",
    "cluster",
    "io",
    "MissingExtraError",
    "linear_attenuation_per_mm",
    "mass_attenuation",
    "patch_size_px",
    "read_grey_image",
    "render",
    "render_mammogram",
    "render_mammogram_scene",
    "sample_mammogram",
    "sample_scene",
    "validate",
    "verify_dataset",
    "write_dataset",
    "write_mammograms",
    "write_validation",
]
