"""Checks shared by the data functions: one ValueError or TypeError naming the field."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import synth


def _check_int(name: str, value: object, minimum: int) -> int:
    """Return `value` as an int >= `minimum`, or raise TypeError / ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"`{name}` must be an integer; got {name}={value!r} ({type(value).__name__})."
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {name}={value!r}.")
    return int(value)


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):  # 0/1 would hide a misplaced positional argument
        raise TypeError(f"`{name}` must be a bool; got {name}={value!r} ({type(value).__name__}).")
    return value


def _check_config(config: object) -> synth.SceneConfig:
    if not isinstance(config, synth.SceneConfig):
        raise TypeError(f"`config` must be a synth.SceneConfig; got {type(config).__name__}.")
    return config


def _check_fractions(fractions: object) -> tuple[float, float, float]:
    """Validate (train, validation, test) fractions: three numbers >= 0 summing to 1."""
    if isinstance(fractions, str) or not isinstance(fractions, Sequence) or not all(
        isinstance(f, int | float | np.floating) and not isinstance(f, bool) for f in fractions
    ):
        raise TypeError(f"`fractions` must be a sequence of three numbers; got "
                        f"fractions={fractions!r} ({type(fractions).__name__}).")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("`fractions` must be three numbers >= 0 (train, validation, test) that "
                         f"sum to 1; got fractions={tuple(fractions)!r}.")
    train, val, test = (float(f) for f in fractions)
    return train, val, test


def _check_labels(labels: object, n: int | None = None) -> np.ndarray:
    """Return `labels` as a 1-D integer array (of length `n` when given)."""
    array = np.asarray(labels)
    if array.dtype != bool and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"`labels` must hold integers; got dtype {array.dtype}.")
    expected = "(N,)" if n is None else f"(N,) = ({n},), one per image"
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValueError(f"`labels` must have shape {expected}; got shape {array.shape}.")
    return array.astype(np.int64)


def _check_images(images: object) -> np.ndarray:
    """Return `images` as an (N, H, W, 1) array; (N, H, W) gets its channel axis added."""
    array = np.asarray(images)
    if array.ndim != 3 and (array.ndim != 4 or array.shape[-1] != 1):
        raise ValueError("`images` must have shape (N, H, W) or (N, H, W, 1) (grayscale); "
                         f"got shape {array.shape}.")
    return array if array.ndim == 4 else array[..., np.newaxis]
