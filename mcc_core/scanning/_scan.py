"""Whole-mammogram scanning: score every 1 cm window of an image, as the lightweight paper's web
application does, either patch by patch or fully convolutionally.

The fully-convolutional path runs a convolution-only model's convolutions once over the image
and takes, for each window, the maximum of the feature map over the window's region: a strided
max-pool with pool size ``patch - shrink`` (the feature-map side of one patch) and the window
stride. That is exactly what the model's global max pooling computes on each cut-out patch, so
both paths give the same probabilities (up to float32 round-off) while the convolutions of
overlapping windows are shared.

Memory and speed: the image is processed in tiles of up to 32 × 32 whole windows (826 px at
70 µm; neighbouring tiles overlap by ``patch - stride`` px and are aligned to the stride), all
of one shape, so one compiled graph serves the whole scan; tiles whose windows are all
background are skipped. The 16-channel feature map of a whole 24 × 30 cm image at 50 µm would
take about 1.8 GB; a tile's takes about 120 MB, fewer windows per tile when ``memory_mb`` asks.
Tiles measured faster than full-width strips of the same memory (their feature maps stay in
the CPU caches).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import synth
from mcc_core._tf import keras, tf
from mcc_core._validation import _check_int
from mcc_core.models._io import LoadedModel
from mcc_core.scanning._grid import (
    ScanMethod,
    ScanResult,
    as_unit_image,
    background_windows,
    windows_table,
)

__all__ = ["scan"]

_METHODS = ("auto", "fully_convolutional", "patches")
_HEAD_LAYERS = (keras.layers.Dropout, keras.layers.Dense)
_FEATURE_BYTES_OVERHEAD = 1.1  # measured peak: the input and all feature maps of a tile, +10 %
_TILE_WINDOWS = 32  # per tile side: shares most convolutions, yet small enough to run from cache

Progress = Callable[[int, int], None]


def scan(
    model: keras.Model | LoadedModel,
    image: np.ndarray,
    *,
    resolution_um: int,
    stride_mm: float = 1.5,
    threshold: float = 0.5,
    batch_size: int = 256,
    method: ScanMethod = "auto",
    background_fraction: float = 0.5,
    memory_mb: float = 256.0,
    progress: Progress | None = None,
) -> ScanResult:
    """Score every 1 cm window of a mammogram with a patch classifier.

    Windows of ``patch_px`` = 200, 144 or 100 px (at 50, 70, 100 µm) are placed with their
    top-left corners at ``0, s, 2s, ...`` in both directions while they fit in the image; no
    extra window is added flush with the right or bottom edge (see ``mcc_core._scan_grid``).
    The stride is ``s = round(stride_mm / 10 mm × patch_px)``, relative to the 1 cm patch: 30,
    22 and 15 px at 1.5 mm, the papers' sliding steps (1.54 mm at 70 µm, whose patch is
    10.08 mm). Windows with more than ``background_fraction`` of exactly-black pixels are
    background: not scored, probability NaN, counted in neither ``n_positive`` nor
    ``n_negative``.

    Parameters
    ----------
    model : keras.Model or LoadedModel
        Classifier of ``(N, patch_px, patch_px, 1)`` float32 in [0, 1] → ``(N, 1)``
        probabilities of class 1 (a :class:`LoadedModel` is used through its ``model``).
    image : ndarray of shape (H, W)
        Greyscale mammogram: float in [0, 1], or uint8 / uint16 (divided by 255 / 65535).
    resolution_um : {50, 70, 100}
        Pixel spacing of ``image`` in µm; the model must take that resolution's patches.
    stride_mm : float, optional
        Window step in mm (default 1.5 mm, the papers' class-1 extraction step).
    threshold : float, optional
        Probability at or above which a window is positive (default 0.5, as in the papers).
    batch_size : int, optional
        Patches per model call on the "patches" path.
    method : {"auto", "fully_convolutional", "patches"}, optional
        "auto" takes the fully-convolutional path for convolution-only models (input →
        Conv2D layers with 'valid' padding and stride 1 → GlobalMaxPooling2D → Dropout/Dense
        layers, such as :func:`build_shallow_cnn`) and cuts patches for any other model.
    background_fraction : float, optional
        Share in [0, 1] of exactly-zero pixels above which a window is background (default
        0.5, so the breast edge is scanned; 1.0 scans every window).
    memory_mb : float, optional
        Approximate memory budget (MiB) of one tile's feature maps on the fully-convolutional
        path (tiles of up to 32 × 32 windows, fewer when they would not fit). A 24 × 30 cm image
        at 50 µm would need about 1.8 GB of feature maps at once.
    progress : callable, optional
        Called as ``progress(done, total)`` with counts of scored windows.

    Returns
    -------
    result : ScanResult
        Per-window probabilities, the windows table, counts, and timing.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model or ``image`` has an unsupported dtype.
    ValueError
        If ``resolution_um`` is unknown, ``image`` is not 2-D, holds NaN or values outside
        [0, 1] or is smaller than one patch, the model's input size is not the resolution's
        patch size, ``method="fully_convolutional"`` is asked of a model that is not
        convolution-only, or another argument is out of range.

    Examples
    --------
    The bundled 100 µm model on a 60 × 80 mm synthetic mammogram: 34 × 47 windows of 100 px,
    15 px apart, 917 of them background.

    >>> from mcc_core import load_bundled_model
    >>> model = load_bundled_model(100)
    >>> image = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=0,
    ...                                size_mm=(60.0, 80.0)).image
    >>> result = scan(model, image, resolution_um=100)
    >>> result.method, result.probabilities.shape, result.patch_px, result.stride_px
    ('fully_convolutional', (34, 47), 100, 15)
    >>> result.n_background, result.n_positive + result.n_negative + result.n_background
    (917, 1598)
    >>> list(result.windows.columns)
    ['row', 'col', 'x1', 'y1', 'x2', 'y2', 'probability', 'background', 'positive']

    Cutting every patch gives the same probabilities, more slowly:

    >>> patches = scan(model, image, resolution_um=100, method="patches")
    >>> bool(np.allclose(patches.probabilities, result.probabilities, atol=1e-5, equal_nan=True))
    True
    """
    keras_model = _resolve_model(model)
    patch = synth.patch_size_px(resolution_um)
    stride = _stride_px(stride_mm, patch)
    _check_options(threshold, batch_size, background_fraction, memory_mb)
    unit = as_unit_image(image)
    if unit.shape[0] < patch or unit.shape[1] < patch:
        raise ValueError(f"`image` must be at least one patch ({patch} × {patch} px at "
                         f"{resolution_um} µm); got image of shape {unit.shape}.")
    _check_input_size(keras_model, patch, resolution_um)
    parts = _convolutional_parts(keras_model)
    chosen = _choose_method(method, parts)
    background = background_windows(unit, patch, stride, float(background_fraction))
    start = time.perf_counter()
    if parts is not None and chosen == "fully_convolutional":
        prob = _scan_convolutional(parts, unit, background, patch, stride, memory_mb, progress)
    else:
        prob = _scan_patches(keras_model, unit, background, patch, stride, batch_size, progress)
    seconds = time.perf_counter() - start
    _check_probabilities(keras_model, prob[~background])
    table = windows_table(prob, background, patch, stride, float(threshold))
    n_positive = int(table["positive"].sum())
    n_background = int(background.sum())
    return ScanResult(
        probabilities=prob, windows=table, n_positive=n_positive,
        n_negative=int(prob.size - n_background - n_positive), n_background=n_background,
        threshold=float(threshold), resolution_um=int(resolution_um), stride_px=stride,
        patch_px=patch, image_shape=(int(unit.shape[0]), int(unit.shape[1])),
        background_fraction=float(background_fraction), method=chosen, seconds=seconds,
    )


# --------------------------------------------------------------------------- validation


def _check_probabilities(model: keras.Model, prob: np.ndarray) -> None:
    """Refuse a scan whose scored windows are not probabilities (a broken model would
    otherwise read as "all negative"), naming the model."""
    bad = ~np.isfinite(prob)
    if bad.any():
        raise ValueError(f"the model `{model.name}` returned NaN or infinite probabilities "
                         f"for {int(bad.sum())} of {prob.size} windows; it cannot be scanned.")
    if prob.size and (prob.min() < 0 or prob.max() > 1):
        raise ValueError(f"the model `{model.name}` returned values outside [0, 1] "
                         f"({prob.min():.3g} to {prob.max():.3g}); expected probabilities.")


def _resolve_model(model: object) -> keras.Model:
    """The Keras model behind ``model`` (a LoadedModel gives its ``model``)."""
    if isinstance(model, LoadedModel):
        model = model.model
    if not isinstance(model, keras.Model):
        raise TypeError("`model` must be a keras.Model or an mcc_core.LoadedModel; "
                        f"got model of type {type(model).__name__}.")
    return model


def _check_number(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float in [low, high], or raise naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"`{name}` must be a number; got {name}={value!r} "
                        f"({type(value).__name__}).")
    if not low <= float(value) <= high:
        raise ValueError(f"`{name}` must lie within [{low:g}, {high:g}]; got {name}={value!r}.")
    return float(value)


def _stride_px(stride_mm: object, patch: int) -> int:
    """Window step in pixels: ``stride_mm`` as a share of the 1 cm patch, rounded half up."""
    value = _check_number("stride_mm", stride_mm, 0.0, math.inf)
    if not math.isfinite(value):
        raise ValueError(f"`stride_mm` must be a finite number of mm; got stride_mm={stride_mm!r}.")
    stride = int(math.floor(value / 10.0 * patch + 0.5))
    if stride < 1:
        raise ValueError(f"`stride_mm` must give a step of at least 1 px ({10.0 / patch:.3g} mm "
                         f"for {patch} px patches); got stride_mm={stride_mm!r}.")
    return stride


def _check_options(threshold: object, batch_size: object, background_fraction: object,
                   memory_mb: object) -> None:
    _check_number("threshold", threshold, 0.0, 1.0)
    _check_int("batch_size", batch_size, 1)
    _check_number("background_fraction", background_fraction, 0.0, 1.0)
    if _check_number("memory_mb", memory_mb, 0.0, math.inf) == 0.0:
        raise ValueError(f"`memory_mb` must be positive; got memory_mb={memory_mb!r}.")


def _check_input_size(model: keras.Model, patch: int, resolution_um: int) -> None:
    """Refuse a model whose input is not (patch, patch, 1) or whose output is not (N, 1)."""
    shape: Any = model.input_shape
    if isinstance(shape, list):
        raise ValueError(f"`model` must have one input; got {len(shape)} inputs.")
    if tuple(shape[1:3]) != (patch, patch):
        raise ValueError(
            f"`model` must take {patch} × {patch} px patches at resolution_um={resolution_um}; "
            f"got a model whose input is {shape[1]} × {shape[2]} px.")
    if shape[3] != 1:
        raise ValueError(f"`model` must take single-channel patches; got input shape {shape}.")
    if tuple(model.output_shape) != (None, 1):
        raise ValueError("`model` must output one probability per patch, shape (N, 1); "
                         f"got output shape {model.output_shape}.")


def _choose_method(method: object, parts: _ConvParts | None) -> Any:
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}; got method={method!r}.")
    if method == "fully_convolutional" and parts is None:
        raise ValueError("`method` 'fully_convolutional' needs a convolution-only model "
                         "(Conv2D layers, then GlobalMaxPooling2D, then Dropout/Dense); "
                         "got a model that is not: use method='patches' or 'auto'.")
    if method == "auto":
        return "patches" if parts is None else "fully_convolutional"
    return method


# --------------------------------------------------------------------------- patch path


def _scan_patches(model: keras.Model, image: np.ndarray, background: np.ndarray, patch: int,
                  stride: int, batch_size: int, progress: Progress | None) -> np.ndarray:
    """Cut every non-background window and score them ``batch_size`` at a time."""
    views = np.lib.stride_tricks.sliding_window_view(image, (patch, patch))[::stride, ::stride]
    rows, cols = np.nonzero(~background)
    out = np.full(background.shape, np.nan, np.float32)
    for start in range(0, len(rows), batch_size):
        r, c = rows[start:start + batch_size], cols[start:start + batch_size]
        batch = np.ascontiguousarray(views[r, c])[..., np.newaxis]
        out[r, c] = np.asarray(model.predict_on_batch(batch), np.float32).reshape(-1)
        if progress is not None:
            progress(start + len(r), len(rows))
    return out


# --------------------------------------------------------------------------- convolutional path


class _ConvParts:
    """A convolution-only model split into its convolutions and its per-vector head."""

    def __init__(self, convs: Sequence[keras.layers.Conv2D], head: Sequence[keras.layers.Layer]):
        self.convs = list(convs)
        self.head = list(head)
        self.shrink = tuple(
            sum(conv.dilation_rate[axis] * (conv.kernel_size[axis] - 1) for conv in self.convs)
            for axis in (0, 1))
        self.channels = sum(int(conv.filters) for conv in self.convs)


def _convolutional_parts(model: keras.Model) -> _ConvParts | None:
    """Split ``model`` if it is input → Conv2D* → GlobalMaxPooling2D → Dropout/Dense*."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    n_convs = 0
    while n_convs < len(layers) and _is_plain_conv(layers[n_convs]):
        n_convs += 1
    if n_convs == 0 or n_convs == len(layers):
        return None
    pool, head = layers[n_convs], layers[n_convs + 1:]
    if (type(pool) is not keras.layers.GlobalMaxPooling2D or pool.keepdims
            or pool.data_format != "channels_last"
            or not head or not all(type(layer) in _HEAD_LAYERS for layer in head)):
        return None
    if not _is_chain(model, layers):
        return None
    return _ConvParts(layers[:n_convs], head)


def _is_plain_conv(layer: keras.layers.Layer) -> bool:
    return (type(layer) is keras.layers.Conv2D and layer.padding == "valid"
            and tuple(layer.strides) == (1, 1) and layer.groups == 1
            and layer.data_format == "channels_last")


def _is_chain(model: keras.Model, layers: list[keras.layers.Layer]) -> bool:
    """True when each layer feeds only the next, from the model's input to its output."""
    try:
        pairs = zip(layers[:-1], layers[1:], strict=True)
        linked = all(later.input is earlier.output for earlier, later in pairs)
        ends = layers[0].input is model.inputs[0] and layers[-1].output is model.outputs[0]
    except (AttributeError, ValueError):  # a layer called more than once, or never built
        return False
    return bool(linked and ends and len(model.inputs) == 1 and len(model.outputs) == 1)


def _scan_convolutional(parts: _ConvParts, image: np.ndarray, background: np.ndarray,
                        patch: int, stride: int, memory_mb: float,
                        progress: Progress | None) -> np.ndarray:
    """Convolve each tile of whole windows once; max-pool per window; apply the head."""
    rows, cols = _tile_windows(parts, patch, stride, background.shape, memory_mb)
    shape = ((rows - 1) * stride + patch, (cols - 1) * stride + patch)
    pooled_fn = _pooled_features(parts, patch, stride, shape)
    live = ~background
    out = np.full(background.shape, np.nan, np.float32)
    total, done = int(live.sum()), 0
    for top in range(0, background.shape[0], rows):
        for left in range(0, background.shape[1], cols):
            here = live[top:top + rows, left:left + cols]
            if not here.any():
                continue
            tile = _cut(image, top * stride, left * stride, shape)
            probabilities = _apply_head(parts, pooled_fn(tile))
            out[top:top + rows, left:left + cols] = probabilities[:here.shape[0], :here.shape[1]]
            done += int(here.sum())
            if progress is not None:
                progress(done, total)
    out[background] = np.nan
    return out


def _tile_windows(parts: _ConvParts, patch: int, stride: int, grid: tuple[int, ...],
                  memory_mb: float) -> tuple[int, int]:
    """Windows per tile side: up to ``_TILE_WINDOWS``, fewer if the feature maps of a tile
    would exceed ``memory_mb``, and no more than the grid has."""
    per_pixel = (parts.channels + 1) * 4 * _FEATURE_BYTES_OVERHEAD
    side = _TILE_WINDOWS
    while side > 1 and ((side - 1) * stride + patch) ** 2 * per_pixel > memory_mb * 2**20:
        side -= 1
    return min(side, grid[0]), min(side, grid[1])


def _cut(image: np.ndarray, top: int, left: int, shape: tuple[int, int]) -> Any:
    """The tile of ``shape`` at (top, left) as a (1, h, w, 1) tensor, zero-padded past the
    image's edges (the windows there lie outside the grid and are dropped)."""
    part = image[top:top + shape[0], left:left + shape[1]]
    if part.shape != shape:
        padded = np.zeros(shape, np.float32)
        padded[:part.shape[0], :part.shape[1]] = part
        part = padded
    return tf.constant(part[np.newaxis, :, :, np.newaxis])


def _pooled_features(parts: _ConvParts, patch: int, stride: int,
                     shape: tuple[int, int]) -> Callable[[Any], Any]:
    """A compiled function: tile (1, h, w, 1) → per-window maxima (1, rows, cols, C)."""
    pool = (patch - parts.shrink[0], patch - parts.shrink[1])

    @tf.function(input_signature=[tf.TensorSpec([1, *shape, 1], tf.float32)])
    def pooled(x: Any) -> Any:
        for conv in parts.convs:
            x = conv(x, training=False)
        return tf.nn.max_pool2d(x, ksize=pool, strides=stride, padding="VALID")

    return pooled


def _apply_head(parts: _ConvParts, pooled: Any) -> np.ndarray:
    """Run the Dropout/Dense head (inference mode) on every pooled feature vector."""
    _, rows, cols, channels = pooled.shape
    x = tf.reshape(pooled, (rows * cols, channels))
    for layer in parts.head:
        x = layer(x, training=False)
    return np.asarray(x, np.float32).reshape(rows, cols)
