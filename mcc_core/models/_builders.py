"""Builders for the papers' classifiers and the Table 6 baselines.

Every builder returns an *uncompiled* ``keras.Model`` with named layers, in the style of
``keras.applications``. Inputs are single-channel patches of shape ``(size, size, 1)`` with
values in [0, 1]; outputs are the probability of class 1 (the patch holds a microcalcification
cluster), of shape ``(batch, 1)``.

No builder downloads anything: every backbone is created with ``weights=None``. Pre-trained
backbone weights can only come from a local ``.weights.h5`` file or from another model
(:func:`transfer`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import synth
from mcc_core._tf import keras

__all__ = [
    "BaselineName",
    "PATCH_SIZES",
    "build_baseline",
    "build_mobilenet_classifier",
    "build_shallow_cnn",
    "transfer",
]

PATCH_SIZES: tuple[int, ...] = tuple(synth.patch_size_px(r) for r in synth.RESOLUTIONS_UM)
"""Patch sides in pixels used by the papers: 50 µm, 70 µm and 100 µm per pixel (1 cm patches)."""

BaselineName = Literal["vgg16", "resnet50", "densenet121"]
"""Backbones compared with MobileNetV2 in Table 6 of the transfer-learning paper."""

_BASELINES: dict[str, Callable[..., keras.Model]] = {
    "vgg16": keras.applications.VGG16,
    "resnet50": keras.applications.ResNet50,
    "densenet121": keras.applications.DenseNet121,
}

_HEAD_UNITS = 2048
_BACKBONE = "backbone"


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int (bools excluded), else raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int; got {name}={value!r} ({type(value).__name__}).")
    return value


def _check_patch_size(input_size: object) -> int:
    """Validate ``input_size`` for the papers' fixed-size builders."""
    size = _check_int("input_size", input_size)
    if size not in PATCH_SIZES:
        raise ValueError(f"`input_size` must be one of {PATCH_SIZES}; got input_size={size}.")
    return size


def _check_dropout(dropout: object) -> float:
    """Validate a dropout rate, which must lie in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, int | float):
        raise TypeError(
            f"`dropout` must be a float; got dropout={dropout!r} ({type(dropout).__name__})."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must lie within [0, 1); got dropout={dropout}.")
    return float(dropout)


def _check_pair(name: str, value: object) -> tuple[int, int]:
    """Validate a pair of positive ints such as ``filters`` or ``kernel_sizes``."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(
            f"`{name}` must be a pair of ints; got {name}={value!r} ({type(value).__name__})."
        )
    if len(value) != 2:
        raise ValueError(f"`{name}` must hold exactly 2 values; got {name}={tuple(value)!r}.")
    first, second = (_check_int(name, item) for item in value)
    if first < 1 or second < 1:
        raise ValueError(f"`{name}` must hold positive ints; got {name}={(first, second)!r}.")
    return first, second


def _check_weights_path(backbone_weights: object) -> Path | None:
    """Validate ``backbone_weights``: None or an existing local ``.weights.h5`` file."""
    if backbone_weights is None:
        return None
    if not isinstance(backbone_weights, str | os.PathLike):
        raise TypeError(
            "`backbone_weights` must be a path or None; "
            f"got backbone_weights={backbone_weights!r} ({type(backbone_weights).__name__})."
        )
    path = Path(backbone_weights)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(
            "`backbone_weights` must be a local file ending in '.weights.h5' "
            f"(downloads are never made); got backbone_weights={str(path)!r}."
        )
    if not path.is_file():
        raise ValueError(
            f"`backbone_weights` must name an existing file; got backbone_weights={str(path)!r}."
        )
    return path


# --------------------------------------------------------------------------- building blocks


def _mobilenet_backbone(input_size: int) -> keras.Model:
    """Return a randomly initialised MobileNetV2 feature extractor named ``"backbone"``."""
    return keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 1),
        alpha=1.0,
        include_top=False,
        weights=None,
        name=_BACKBONE,
    )


def _classifier_head(
    backbone: keras.Model, input_size: int, dropout: float, name: str
) -> keras.Model:
    """Put the papers' head (Flatten → Dense 2048 → Dropout → Dense 1) on ``backbone``."""
    inputs = keras.Input(shape=(input_size, input_size, 1), name="patch")
    x = backbone(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(_HEAD_UNITS, activation="relu", name="dense_2048")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def _load_backbone_weights(backbone: keras.Model, path: Path) -> None:
    """Load ``path`` into ``backbone``, turning any Keras failure into one ValueError."""
    try:
        backbone.load_weights(path)
    except Exception as error:  # Keras raises many types for bad or mismatched files.
        raise ValueError(
            f"`backbone_weights` could not be loaded into a MobileNetV2 backbone; "
            f"got backbone_weights={str(path)!r} ({error})."
        ) from error


# --------------------------------------------------------------------------- public builders


def build_mobilenet_classifier(
    input_size: int,
    *,
    dropout: float = 0.2,
    backbone_weights: str | os.PathLike[str] | None = None,
) -> keras.Model:
    """Build Model A: a MobileNetV2 backbone with the papers' dense head.

    Layers: ``patch`` (input) → ``backbone`` (MobileNetV2, alpha 1.0, no top, one-channel first
    convolution, nested ``keras.Model``) → ``flatten`` → ``dense_2048`` (ReLU) → ``dropout`` →
    ``output`` (one sigmoid unit). At 144 px the model has 67,797,505 parameters (34,112
    non-trainable batch-norm statistics); the head grows with the input size (7 × 7, 5 × 5 and
    4 × 4 backbone outputs at 200, 144 and 100 px).

    Parameters
    ----------
    input_size : int
        Patch side in pixels, one of 200, 144, 100 (1 cm at 50, 70, 100 µm per pixel).
    dropout : float, optional
        Dropout rate before the output unit, in [0, 1). The paper keeps 80 % (rate 0.2).
    backbone_weights : str or path-like, optional
        Local ``.weights.h5`` file saved from a MobileNetV2 backbone (for example
        ``model.get_layer("backbone").save_weights(...)``). None keeps the random
        initialisation. ImageNet weights are never downloaded.

    Returns
    -------
    model : keras.Model
        Uncompiled model mapping ``(batch, input_size, input_size, 1)`` float32 in [0, 1] to
        ``(batch, 1)`` probabilities of class 1.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``input_size`` is not a paper size, ``dropout`` is outside [0, 1), or
        ``backbone_weights`` is not an existing loadable ``.weights.h5`` file.

    Examples
    --------
    >>> model = build_mobilenet_classifier(144)
    >>> model.count_params()
    67797505
    >>> model.input_shape, model.output_shape
    ((None, 144, 144, 1), (None, 1))
    >>> [layer.name for layer in model.layers]
    ['patch', 'backbone', 'flatten', 'dense_2048', 'dropout', 'output']

    Only the papers' three patch sizes are accepted:

    >>> build_mobilenet_classifier(128)
    Traceback (most recent call last):
    ...
    ValueError: `input_size` must be one of (200, 144, 100); got input_size=128.
    """
    size = _check_patch_size(input_size)
    rate = _check_dropout(dropout)
    weights_path = _check_weights_path(backbone_weights)
    backbone = _mobilenet_backbone(size)
    if weights_path is not None:
        _load_backbone_weights(backbone, weights_path)
    return _classifier_head(backbone, size, rate, name="mobilenet_classifier")


def build_shallow_cnn(
    input_size: int,
    *,
    filters: tuple[int, int] = (6, 16),
    kernel_sizes: tuple[int, int] = (9, 9),
    dropout: float = 0.2,
) -> keras.Model:
    """Build Model B: the lightweight full-scale CNN (8,301 parameters with the defaults).

    Layers: ``patch`` (input) → ``conv1`` (``filters[0]`` × ``kernel_sizes[0]``², ReLU) →
    ``conv2`` (``filters[1]`` × ``kernel_sizes[1]``², ReLU) → ``gmp`` (global max pooling) →
    ``dropout`` → ``output`` (one sigmoid unit). Convolutions use 'valid' padding and no pooling
    sits between them, so the parameter count does not depend on ``input_size``.

    Parameters
    ----------
    input_size : int
        Patch side in pixels; any size at least the receptive field
        ``kernel_sizes[0] + kernel_sizes[1] - 1`` (17 px with the defaults).
    filters : tuple of int, optional
        Number of filters of ``conv1`` and ``conv2``. Paper best: (6, 16).
    kernel_sizes : tuple of int, optional
        Square kernel sides of ``conv1`` and ``conv2``. Paper best: (9, 9); Table 1 also lists
        (5, 5) with (6, 16) filters, 2,589 parameters.
    dropout : float, optional
        Dropout rate before the output unit, in [0, 1). The paper keeps 80 % (rate 0.2).

    Returns
    -------
    model : keras.Model
        Uncompiled model mapping ``(batch, input_size, input_size, 1)`` float32 in [0, 1] to
        ``(batch, 1)`` probabilities of class 1.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``input_size`` is smaller than the receptive field, a filter count or kernel side is
        not positive, or ``dropout`` is outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> model = build_shallow_cnn(144)
    >>> model.count_params()
    8301
    >>> [layer.name for layer in model.layers]
    ['patch', 'conv1', 'conv2', 'gmp', 'dropout', 'output']
    >>> model.predict(np.zeros((2, 144, 144, 1), np.float32), verbose=0).shape
    (2, 1)

    The count does not depend on the input size; Table 1's 5 × 5 variant:

    >>> build_shallow_cnn(100, kernel_sizes=(5, 5)).count_params()
    2589
    >>> build_shallow_cnn(16)
    Traceback (most recent call last):
    ...
    ValueError: `input_size` must be at least the receptive field of 17 px for kernel_sizes=(9, 9);
    got input_size=16.
    """
    size = _check_int("input_size", input_size)
    n_filters = _check_pair("filters", filters)
    kernels = _check_pair("kernel_sizes", kernel_sizes)
    rate = _check_dropout(dropout)
    receptive_field = kernels[0] + kernels[1] - 1
    if size < receptive_field:
        raise ValueError(
            f"`input_size` must be at least the receptive field of {receptive_field} px "
            f"for kernel_sizes={kernels}; got input_size={size}."
        )
    inputs = keras.Input(shape=(size, size, 1), name="patch")
    x = keras.layers.Conv2D(n_filters[0], kernels[0], activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(n_filters[1], kernels[1], activation="relu", name="conv2")(x)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    x = keras.layers.Dropout(rate, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name="shallow_cnn")


def build_baseline(name: BaselineName, input_size: int, *, dropout: float = 0.2) -> keras.Model:
    """Build a Table 6 baseline: a ``keras.applications`` backbone with Model A's head.

    Layers: ``patch`` → ``backbone`` (VGG16, ResNet50 or DenseNet121; no top, random weights,
    one-channel first convolution) → ``flatten`` → ``dense_2048`` → ``dropout`` → ``output``.

    Parameters
    ----------
    name : {"vgg16", "resnet50", "densenet121"}
        Backbone family.
    input_size : int
        Patch side in pixels, one of 200, 144, 100.
    dropout : float, optional
        Dropout rate before the output unit, in [0, 1).

    Returns
    -------
    model : keras.Model
        Uncompiled model mapping ``(batch, input_size, input_size, 1)`` float32 in [0, 1] to
        ``(batch, 1)`` probabilities of class 1; it is named ``f"{name}_classifier"``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``name`` is unknown, ``input_size`` is not a paper size or ``dropout`` is outside
        [0, 1).

    Examples
    --------
    >>> from typing import get_args
    >>> get_args(BaselineName)
    ('vgg16', 'resnet50', 'densenet121')
    >>> model = build_baseline("vgg16", 100)
    >>> model.name, model.count_params()
    ('vgg16_classifier', 24154817)
    >>> build_baseline("mobilenet", 100)
    Traceback (most recent call last):
    ...
    ValueError: `name` must be one of ('vgg16', 'resnet50', 'densenet121'); got name='mobilenet'.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; got name={name!r} ({type(name).__name__}).")
    if name not in _BASELINES:
        raise ValueError(f"`name` must be one of {get_args(BaselineName)}; got name={name!r}.")
    size = _check_patch_size(input_size)
    rate = _check_dropout(dropout)
    backbone = _BASELINES[name](
        include_top=False, weights=None, input_shape=(size, size, 1), name=_BACKBONE
    )
    return _classifier_head(backbone, size, rate, name=f"{name}_classifier")


def transfer(
    source_model: keras.Model,
    input_size: int,
    *,
    freeze_backbone: bool = True,
    dropout: float = 0.2,
) -> keras.Model:
    """Build a Model A classifier at ``input_size`` whose backbone comes from ``source_model``.

    MobileNetV2's convolution and batch-norm weights do not depend on the input size, so a
    backbone trained at 144 px (70 µm) fits a 200 px or 100 px classifier unchanged. The new
    head (``dense_2048``, ``output``) is freshly initialised. With ``freeze_backbone`` the
    backbone is frozen: only the head is trained and batch norm runs in inference mode, as in
    the paper's Transfer-50/70/100 experiments. ``source_model`` is not modified.

    Parameters
    ----------
    source_model : keras.Model
        A model from :func:`build_mobilenet_classifier` (or :func:`transfer`), typically
        trained; it must hold a MobileNetV2 sub-model named ``"backbone"``.
    input_size : int
        Patch side of the new model in pixels, one of 200, 144, 100.
    freeze_backbone : bool, optional
        Freeze the copied backbone (``trainable=False``). Default True.
    dropout : float, optional
        Dropout rate of the new head, in [0, 1).

    Returns
    -------
    model : keras.Model
        Uncompiled classifier, as from :func:`build_mobilenet_classifier`.

    Raises
    ------
    TypeError
        If ``source_model`` is not a ``keras.Model`` or another argument has the wrong type.
    ValueError
        If ``source_model`` has no ``"backbone"`` layer or its backbone weights do not fit a
        MobileNetV2 (for example a VGG16 baseline), or ``input_size``/``dropout`` is invalid.

    Examples
    --------
    A backbone built (and, in practice, trained) at 144 px (70 µm) moves to 100 px (100 µm):

    >>> import numpy as np
    >>> source = build_mobilenet_classifier(144)
    >>> model = transfer(source, 100)
    >>> model.input_shape, model.get_layer("backbone").trainable
    ((None, 100, 100, 1), False)
    >>> pairs = zip(source.get_layer("backbone").get_weights(),
    ...             model.get_layer("backbone").get_weights())
    >>> all(np.array_equal(a, b) for a, b in pairs)
    True

    All 44,204,545 parameters but the backbone's are trained (the new head):

    >>> model.count_params(), sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    (44204545, 41947137)
    """
    if not isinstance(source_model, keras.Model):
        raise TypeError(
            "`source_model` must be a keras.Model; "
            f"got source_model of type {type(source_model).__name__}."
        )
    if not isinstance(freeze_backbone, bool):
        raise TypeError(
            f"`freeze_backbone` must be a bool; got freeze_backbone={freeze_backbone!r}."
        )
    names = [layer.name for layer in source_model.layers]
    if _BACKBONE not in names:
        raise ValueError(
            f"`source_model` must hold a layer named {_BACKBONE!r}; "
            f"got source_model={source_model.name!r} with layers {names}."
        )
    size = _check_patch_size(input_size)
    rate = _check_dropout(dropout)
    backbone = _mobilenet_backbone(size)
    _copy_backbone(source_model, backbone)
    backbone.trainable = not freeze_backbone
    return _classifier_head(backbone, size, rate, name="mobilenet_classifier")


def _copy_backbone(source_model: keras.Model, target: keras.Model) -> None:
    """Copy the weights of ``source_model``'s backbone into ``target``, checking shapes."""
    weights: list[Any] = source_model.get_layer(_BACKBONE).get_weights()
    expected = [tuple(w.shape) for w in target.weights]
    received = [tuple(w.shape) for w in weights]
    if received != expected:
        raise ValueError(
            "`source_model` must have a MobileNetV2 backbone (alpha 1.0, one channel); "
            f"got source_model={source_model.name!r} whose backbone weights ({len(received)} "
            f"arrays) do not match MobileNetV2's shapes ({len(expected)} arrays)."
        )
    target.set_weights(weights)
