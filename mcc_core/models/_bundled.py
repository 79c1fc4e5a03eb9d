"""The small lightweight-CNN models shipped inside the package (see weights/README.md)."""

from __future__ import annotations

from pathlib import Path

from mcc_core.models._io import LoadedModel, load_model

__all__ = ["MODELS_DIR", "bundled_model_path", "load_bundled_model"]

MODELS_DIR = Path(__file__).parent / "weights"
"""Folder of the bundled ``shallow_{50,70,100}um.keras`` models and their JSON sidecars."""


def bundled_model_path(resolution_um: int) -> Path:
    """Path of the bundled lightweight CNN for 50, 70 or 100 µm patches.

    Parameters
    ----------
    resolution_um : {50, 70, 100}
        Pixel spacing in µm; the models take 200, 144 and 100 px patches.

    Returns
    -------
    path : pathlib.Path
        ``MODELS_DIR / f"shallow_{resolution_um}um.keras"`` (its sidecar is the ``.json`` beside).

    Raises
    ------
    ValueError
        If `resolution_um` is not 50, 70 or 100.
    FileNotFoundError
        If the model file is missing from the installed package.
    """
    if isinstance(resolution_um, bool) or resolution_um not in (50, 70, 100):
        raise ValueError(f"`resolution_um` must be one of (50, 70, 100); "
                         f"got resolution_um={resolution_um!r}.")
    path = MODELS_DIR / f"shallow_{resolution_um}um.keras"
    if not path.is_file():
        raise FileNotFoundError(f"the bundled model {path.name} is missing from {MODELS_DIR}; "
                                "reinstall the package.")
    return path


def load_bundled_model(resolution_um: int) -> LoadedModel:
    """Load the bundled lightweight CNN for `resolution_um` with its sidecar metadata.

    Parameters
    ----------
    resolution_um : {50, 70, 100}

    Returns
    -------
    loaded : LoadedModel
        The Keras model (8,301 parameters) and its metadata: builder, input size, resolution,
        training configuration, synthetic dataset description and test metrics.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`bundled_model_path`.
    """
    return load_model(bundled_model_path(resolution_um))
