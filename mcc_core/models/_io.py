"""Saving and loading models together with a JSON metadata sidecar.

A model saved to ``model.keras`` gets a sidecar ``model.json`` next to it::

    {
      "format": "mcc_core.model",
      "format_version": 1,
      "keras_version": "3.15.1",
      "saved_at": "2025-01-31T12:00:00+00:00",
      "n_params": 8301,
      "metadata": {...}          # the caller's dict, unchanged
    }

The caller's ``metadata`` (builder name, input size, resolution in µm per pixel, training
configuration, dataset manifest hash, ...) is stored under its own key, so it never collides
with the provenance fields the toolkit adds and round-trips exactly.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mcc_core._tf import keras
from synth.io import write_atomic

__all__ = ["LoadedModel", "load_model", "save_model", "sidecar_path"]

SIDECAR_FORMAT = "mcc_core.model"
SIDECAR_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class LoadedModel:
    """A model read by :func:`load_model`, with its sidecar metadata.

    Attributes
    ----------
    model : keras.Model
        The uncompiled model; compile it again before training or ``evaluate``.
    metadata : dict
        The ``metadata`` mapping given to :func:`save_model` (after a JSON round trip: tuples
        become lists, NumPy scalars become Python numbers). Empty when the sidecar is missing
        and ``require_metadata=False``.
    path : pathlib.Path
        The ``.keras`` file the model was read from.
    keras_version : str or None
        Keras version that saved the model; None without a sidecar.
    saved_at : str or None
        ISO 8601 UTC time of saving; None without a sidecar.
    n_params : int or None
        Parameter count recorded at saving; None without a sidecar.
    """

    model: keras.Model
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path
    keras_version: str | None = None
    saved_at: str | None = None
    n_params: int | None = None


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Return the metadata sidecar of a model file: ``model.keras`` → ``model.json``.

    Parameters
    ----------
    path : str or path-like
        Path of the ``.keras`` model file.

    Returns
    -------
    sidecar : pathlib.Path
        The same path with the ``.json`` suffix.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    ValueError
        If ``path`` does not end in ``.keras``.

    Examples
    --------
    >>> sidecar_path("runs/shallow_70um/model.keras").as_posix()
    'runs/shallow_70um/model.json'
    >>> sidecar_path("model.h5")
    Traceback (most recent call last):
    ...
    ValueError: `path` must end in '.keras'; got path='model.h5'.
    """
    return _check_keras_path(path).with_suffix(".json")


def save_model(
    model: keras.Model, path: str | os.PathLike[str], *, metadata: Mapping[str, Any]
) -> None:
    """Save ``model`` to ``path`` and its metadata to the JSON sidecar, atomically.

    Both files are first written to temporary files in the destination folder and then moved
    into place with :func:`os.replace`, so a failed save leaves no half-written file and never
    damages an existing model at ``path``. Existing files are overwritten.

    Parameters
    ----------
    model : keras.Model
        Model to save (compiled or not; the optimizer state is saved with it if present).
    path : str or path-like
        Destination ending in ``.keras``; its folder must exist. The sidecar goes to
        ``path.with_suffix(".json")``.
    metadata : mapping of str to JSON-serializable values
        Anything the caller wants to keep with the model (builder name, ``input_size``,
        ``resolution_um``, training configuration, dataset manifest hash, ...). NumPy scalars
        and arrays are converted to Python numbers and lists; NaN and infinity are refused so
        that the sidecar is strict JSON. ``keras_version``, ``saved_at`` and ``n_params`` are
        added next to it by this function.

    Raises
    ------
    TypeError
        If ``model`` is not a ``keras.Model``, ``metadata`` is not a mapping with str keys, or
        a value cannot be written as JSON.
    ValueError
        If ``path`` does not end in ``.keras``, its folder does not exist, or ``metadata``
        holds NaN or infinity.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mcc_core import build_shallow_cnn
    >>> path = Path(tempfile.mkdtemp()) / "model.keras"
    >>> save_model(build_shallow_cnn(100), path, metadata={"builder": "shallow", "input_size": 100})
    >>> sorted(file.name for file in path.parent.iterdir())
    ['model.json', 'model.keras']
    >>> save_model(build_shallow_cnn(100), path, metadata={"val_accuracy": float("nan")})
    Traceback (most recent call last):
    ...
    ValueError: `metadata` must be strict JSON (no NaN, infinity or cycles); Out of range float
    values are not JSON compliant...
    """
    target = _check_keras_path(path)
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; got model of type {type(model).__name__}.")
    if not target.parent.is_dir():
        raise ValueError(f"`path` must be in an existing folder; got path={str(target)!r}.")
    text = _sidecar_text(model, metadata)
    write_atomic(target, model.save)
    write_atomic(target.with_suffix(".json"), text.encode("utf-8"))


def load_model(path: str | os.PathLike[str], *, require_metadata: bool = True) -> LoadedModel:
    """Load a model saved by :func:`save_model`, with its sidecar metadata.

    The model is loaded with ``compile=False`` and Keras' safe mode; no custom objects are
    needed for the toolkit's builders.

    Parameters
    ----------
    path : str or path-like
        The ``.keras`` file.
    require_metadata : bool, optional
        If True (default) a missing sidecar is an error. If False, a model without a sidecar
        (for example one saved by plain ``model.save``) loads with empty metadata. A sidecar
        that exists but is unreadable is always an error.

    Returns
    -------
    loaded : LoadedModel
        The model, the caller's metadata and the recorded provenance.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like, or ``require_metadata`` is not a bool.
    ValueError
        If ``path`` does not end in ``.keras`` or does not exist, the file is not a readable
        Keras model, the sidecar is missing (with ``require_metadata``) or corrupt, or the
        sidecar's ``n_params`` does not match the model (the sidecar belongs to another model).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mcc_core import build_shallow_cnn
    >>> path = Path(tempfile.mkdtemp()) / "model.keras"
    >>> save_model(build_shallow_cnn(100), path, metadata={"builder": "shallow", "input_size": 100})
    >>> loaded = load_model(path)
    >>> loaded.metadata, loaded.n_params, loaded.model.input_shape
    ({'builder': 'shallow', 'input_size': 100}, 8301, (None, 100, 100, 1))

    Without its sidecar the model loads only on request, with empty metadata:

    >>> path.with_suffix(".json").unlink()
    >>> load_model(path, require_metadata=False).metadata
    {}
    """
    source = _check_keras_path(path)
    if not isinstance(require_metadata, bool):
        raise TypeError(
            f"`require_metadata` must be a bool; got require_metadata={require_metadata!r}."
        )
    if not source.is_file():
        raise ValueError(f"`path` must name an existing model file; got path={str(source)!r}.")
    if not zipfile.is_zipfile(source):
        raise ValueError(
            f"`path` must be a Keras model archive (a .keras zip file); got path={str(source)!r}, "
            "which is not a zip archive."
        )
    sidecar = source.with_suffix(".json")
    record = _read_sidecar(sidecar, required=require_metadata)
    try:
        model = keras.saving.load_model(source, compile=False)
    except Exception as error:  # Keras raises many types for files it cannot read.
        raise ValueError(
            f"`path` must be a readable Keras model archive; got path={str(source)!r} "
            f"({type(error).__name__}: {error})."
        ) from error
    if record is None:
        return LoadedModel(model=model, path=source)
    if record["n_params"] != model.count_params():
        raise ValueError(
            f"`n_params` in the sidecar must match the model; got n_params={record['n_params']} "
            f"in {str(sidecar)!r} but the model at {str(source)!r} has {model.count_params()}."
        )
    return LoadedModel(
        model=model,
        metadata=record["metadata"],
        path=source,
        keras_version=record.get("keras_version"),
        saved_at=record.get("saved_at"),
        n_params=record["n_params"],
    )


# --------------------------------------------------------------------------- helpers


def _check_keras_path(path: object) -> Path:
    """Return ``path`` as a Path after checking its type and the ``.keras`` suffix."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"`path` must be a str or path-like; got path of type {type(path).__name__}."
        )
    result = Path(path)
    if result.suffix != ".keras":
        raise ValueError(f"`path` must end in '.keras'; got path={str(result)!r}.")
    return result


def _json_default(value: object) -> Any:
    """Convert NumPy values for :func:`json.dumps`; refuse everything else."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(
        "`metadata` must hold only JSON-serializable values; "
        f"got a value of type {type(value).__name__}: {value!r}."
    )


def _sidecar_text(model: keras.Model, metadata: Mapping[str, Any]) -> str:
    """Validate ``metadata`` and return the sidecar's JSON text."""
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"`metadata` must be a mapping; got metadata of type {type(metadata).__name__}."
        )
    bad_keys = [key for key in metadata if not isinstance(key, str)]
    if bad_keys:
        raise TypeError(f"`metadata` keys must be str; got metadata keys {bad_keys!r}.")
    record = {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "keras_version": keras.__version__,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_params": int(model.count_params()),
        "metadata": dict(metadata),
    }
    try:
        return json.dumps(record, indent=2, allow_nan=False, default=_json_default) + "\n"
    except ValueError as error:  # NaN, infinity or a circular reference.
        raise ValueError(
            f"`metadata` must be strict JSON (no NaN, infinity or cycles); {error}."
        ) from error


def _read_sidecar(sidecar: Path, *, required: bool) -> dict[str, Any] | None:
    """Read and check a sidecar; None if it is missing and not ``required``."""
    if not sidecar.is_file():
        if required:
            raise ValueError(
                f"`path` must have a metadata sidecar next to it; no file at {str(sidecar)!r} "
                "(pass require_metadata=False to load without one)."
            )
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"The metadata sidecar must be valid JSON; got {str(sidecar)!r} ({error})."
        ) from error
    if (
        not isinstance(record, dict)
        or record.get("format") != SIDECAR_FORMAT
        or record.get("format_version") != SIDECAR_VERSION
        or not isinstance(record.get("metadata"), dict)
        or not isinstance(record.get("n_params"), int)
    ):
        raise ValueError(
            f"The metadata sidecar must be a {SIDECAR_FORMAT!r} version {SIDECAR_VERSION} "
            f"record; got {str(sidecar)!r}, which is not."
        )
    return record
