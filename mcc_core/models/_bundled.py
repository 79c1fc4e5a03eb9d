"""The small lightweight-CNN models shipped inside the package (see weights/README.md)."""

from __future__ import annotations

from pathlib import Path

import synth
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

    Examples
    --------
    >>> path = bundled_model_path(100)
    >>> path.name, path.with_suffix(".json").is_file()
    ('shallow_100um.keras', True)
    >>> bundled_model_path(60)
    Traceback (most recent call last):
    ...
    ValueError: `resolution_um` must be one of (50, 70, 100); got resolution_um=60.
    """
    synth.check_resolution(resolution_um)
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

    Examples
    --------
    >>> loaded = load_bundled_model(70)
    >>> loaded.n_params, loaded.model.input_shape
    (8301, (None, 144, 144, 1))
    >>> loaded.metadata["builder"], loaded.metadata["input_size"], loaded.metadata["resolution_um"]
    ('shallow', 144, 70)
    """
    return load_model(bundled_model_path(resolution_um))
