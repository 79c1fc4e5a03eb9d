"""The small lightweight-CNN models shipped inside the package (see models/README.md)."""

from __future__ import annotations

from pathlib import Path

from ._io import LoadedModel, load_model

MODELS_DIR = Path(__file__).parent / "models"


def bundled_model_path(resolution_um: int) -> Path:
    """Path of the bundled lightweight CNN for 50, 70 or 100 µm patches."""
    if resolution_um not in (50, 70, 100):
        raise ValueError(f"`resolution_um` must be one of (50, 70, 100); "
                         f"got resolution_um={resolution_um!r}.")
    path = MODELS_DIR / f"shallow_{resolution_um}um.keras"
    if not path.exists():
        raise ValueError(f"the bundled model {path.name} is missing from {MODELS_DIR}; "
                         "reinstall the package.")
    return path


def load_bundled_model(resolution_um: int) -> LoadedModel:
    """The bundled lightweight CNN for `resolution_um`, with its sidecar metadata."""
    return load_model(bundled_model_path(resolution_um))
