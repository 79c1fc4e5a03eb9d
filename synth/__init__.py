"""Physically grounded synthetic mammogram patches with microcalcification clusters.

Two stages: `sample_scene` draws every random number of a scene (in mm, resolution-free);
`render` turns a scene into pixels at 50, 70 or 100 µm. `generate` and `write_dataset` do this
for many patches, reproducibly per (seed, index). `sample_mammogram` and
`render_mammogram_scene` do the same for full-field mammograms (`render_mammogram`,
`write_mammograms`). `SceneConfig` and `Acquisition` carry each field's bounds, unit and help
(`field_spec`, `field_specs`: `FieldSpec` records). This package never imports TensorFlow.
"""

from . import io
from ._config import (
    ACQUISITION_PRESETS,
    DISTRIBUTIONS,
    MORPHOLOGIES,
    RESOLUTIONS_UM,
    Acquisition,
    SceneConfig,
    check_resolution,
    field_spec,
    field_specs,
    patch_size_px,
)
from ._dataset import VerifyReport, verify_dataset, write_dataset
from ._fields import FieldSpec
from ._generate import Batch, generate, generate_indices
from ._images import GreyImage, read_grey_image
from ._mammogram import Mammogram, render_mammogram, render_mammogram_scene
from ._mammogram_io import write_mammograms
from ._mammogram_scene import MammogramScene, sample_mammogram
from ._patch_dataset import PatchDataset
from ._render import Patch, render
from ._scene import Calcification, Lumps, Scene, sample_scene

__all__ = [
    "ACQUISITION_PRESETS",
    "DISTRIBUTIONS",
    "MORPHOLOGIES",
    "RESOLUTIONS_UM",
    "Acquisition",
    "Batch",
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
    "VerifyReport",
    "check_resolution",
    "field_spec",
    "field_specs",
    "generate",
    "generate_indices",
    "io",
    "patch_size_px",
    "read_grey_image",
    "render",
    "render_mammogram",
    "render_mammogram_scene",
    "sample_mammogram",
    "sample_scene",
    "verify_dataset",
    "write_dataset",
    "write_mammograms",
]
