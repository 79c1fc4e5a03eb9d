"""Explainability: Model B's feature maps F0/F1/F2 (Figs. 3, 5), filter spectra (Fig. 4), Grad-CAM.

Functions return NumPy arrays; the ``plot_*`` helpers draw them as ``matplotlib.figure.Figure``
objects built without ``pyplot`` (no global state, nothing to close; they render with Agg and
can go to ``st.pyplot`` or ``savefig``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import synth
from mcc_core._tf import keras, tf

__all__ = [
    "FeatureMaps",
    "FilterSpectra",
    "feature_maps",
    "filter_frequency_response",
    "grad_cam",
    "mc_band_cyc_per_mm",
    "mean_f2",
]

_SHALLOW_LAYERS = ("conv1", "conv2", "gmp")
_RESOLUTIONS_UM = synth.RESOLUTIONS_UM
_MC_SIZE_RANGE_MM = (0.1, 1.0)
_BACKBONE = "backbone"
_BACKBONE_TARGET = "out_relu"
_BATCH = 64


@dataclass(frozen=True)
class FeatureMaps:
    """Activations of Model B for one patch (Fig. 3 and one term of Eq. 4 of the paper).

    Attributes
    ----------
    patch : ndarray of shape (H, W), float32 in [0, 1]
        The input patch.
    f0 : ndarray of shape (H0, W0, n_conv1), float32
        ``conv1`` activations (after ReLU); ``H0 = H - k1 + 1`` ('valid' convolution).
    f1 : ndarray of shape (H1, W1, n_conv2), float32
        ``conv2`` activations (after ReLU); ``H1 = H0 - k2 + 1``.
    f2 : ndarray of shape (n_conv2,), float32
        Global max pooling of ``f1``: the largest value of each F1 map.
    """

    patch: np.ndarray
    f0: np.ndarray
    f1: np.ndarray
    f2: np.ndarray


@dataclass(frozen=True)
class FilterSpectra:
    """Magnitude of the 2-D frequency response of a layer's filters.

    Attributes
    ----------
    frequencies_cyc_per_mm : ndarray of shape (n_fft,), float64
        Centred frequency axis (``fftshift(fftfreq(n_fft, d=pixel_mm))``), shared by both axes.
    magnitude : ndarray of shape (n_filters, n_fft, n_fft), float64
        ``|FFT2|`` of each zero-padded kernel, centred with ``fftshift``; axis 1 is the vertical
        frequency, axis 2 the horizontal one. For a layer with several input channels the
        kernels of one output filter are summed over the input channels first (see
        :func:`filter_frequency_response`).
    resolution_um : int
        Pixel size in µm (50, 70 or 100).
    layer : str
        Name of the convolution layer.
    """

    frequencies_cyc_per_mm: np.ndarray
    magnitude: np.ndarray
    resolution_um: int
    layer: str

    @property
    def nyquist_cyc_per_mm(self) -> float:
        """Highest representable frequency, ``1 / (2 * pixel_mm)`` (10, 7.14, 5 cycles/mm)."""
        return 1000.0 / (2.0 * self.resolution_um)


# --------------------------------------------------------------------------- validation


def _check_model(model: object) -> keras.Model:
    """Return ``model`` if it is a ``keras.Model``, else raise TypeError."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; got model of type {type(model).__name__}.")
    return model


def _layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers]


def _shallow_model(model: object) -> keras.Model:
    """Validate that ``model`` is a Model B network with ``conv1``, ``conv2`` and ``gmp``."""
    checked = _check_model(model)
    names = _layer_names(checked)
    if not all(name in names for name in _SHALLOW_LAYERS):
        raise ValueError(
            f"`model` must hold layers {_SHALLOW_LAYERS} (a build_shallow_cnn model); "
            f"got model={checked.name!r} with layers {names}."
        )
    return checked


def _as_batch(name: str, images: object, model: keras.Model, *, single: bool) -> np.ndarray:
    """Return ``images`` as float32 ``(N, H, W, 1)`` after checking shape and range."""
    array = np.asarray(images, dtype=np.float32)
    received = array.shape
    ndim = 2 if single else 3
    if array.ndim == ndim + 1 and array.shape[-1] == 1:
        array = array[..., 0]
    expected = tuple(model.inputs[0].shape[1:3])
    if array.ndim != ndim or (None not in expected and array.shape[-2:] != expected):
        form = "(H, W) or (H, W, 1)" if single else "(N, H, W) or (N, H, W, 1)"
        raise ValueError(
            f"`{name}` must have shape {form} with (H, W) = {expected} for model "
            f"{model.name!r}; got {name} of shape {received}."
        )
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty; got {name} of shape {array.shape}.")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"`{name}` must hold finite values within [0, 1]; got {name} with values in "
            f"[{array.min()}, {array.max()}]."
        )
    return (array[None] if single else array)[..., None]


# --------------------------------------------------------------------------- Model B maps


def feature_maps(model: keras.Model, patch: np.ndarray) -> FeatureMaps:
    """Compute the feature maps F0, F1 and the vector F2 of Model B for one patch.

    Parameters
    ----------
    model : keras.Model
        A model from :func:`~mcc_core.build_shallow_cnn` (any filter counts or kernel sizes):
        it must hold layers ``conv1``, ``conv2`` and ``gmp``.
    patch : ndarray of shape (H, W) or (H, W, 1), float in [0, 1]
        One patch of the model's input size.

    Returns
    -------
    FeatureMaps
        ``f0`` (``conv1``), ``f1`` (``conv2``) and ``f2`` (``gmp``), inference mode.

    Raises
    ------
    TypeError
        If ``model`` is not a ``keras.Model``.
    ValueError
        If ``model`` lacks those layers, or ``patch`` is misshapen or outside [0, 1].

    Examples
    --------
    The bundled 100 µm model (9 × 9 kernels, 6 and 16 filters) on one synthetic patch:

    >>> import synth
    >>> from mcc_core import load_bundled_model, synthetic_arrays
    >>> model = load_bundled_model(100).model
    >>> images, _ = synthetic_arrays(synth.SceneConfig(), 1, resolution_um=100, seed=0)
    >>> maps = feature_maps(model, images[0])
    >>> maps.patch.shape, maps.f0.shape, maps.f1.shape, maps.f2.shape
    ((100, 100), (92, 92, 6), (84, 84, 16), (16,))
    >>> bool(np.allclose(maps.f2, maps.f1.max(axis=(0, 1))))
    True
    """
    checked = _shallow_model(model)
    batch = _as_batch("patch", patch, checked, single=True)
    outputs = [checked.get_layer(name).output for name in _SHALLOW_LAYERS]
    probe = keras.Model(checked.input, outputs)
    f0, f1, f2 = (keras.ops.convert_to_numpy(t)[0] for t in probe(batch, training=False))
    return FeatureMaps(patch=batch[0, ..., 0], f0=f0, f1=f1, f2=f2)


def mean_f2(
    model: keras.Model, positives: np.ndarray, negatives: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Average the F2 vectors of positive and negative patches (Fig. 5, Eq. 4 of the paper).

    Parameters
    ----------
    model : keras.Model
        A model from :func:`~mcc_core.build_shallow_cnn`.
    positives, negatives : ndarray of shape (N, H, W) or (N, H, W, 1), float in [0, 1]
        Patches with and without microcalcification clusters (the paper uses 100 of each).

    Returns
    -------
    mean_pos, mean_neg : ndarray of shape (n_conv2,), float32
        Element-wise mean of the ``gmp`` output over each group.

    Raises
    ------
    TypeError, ValueError
        As :func:`feature_maps`; also if a group is empty.

    Examples
    --------
    With the bundled 100 µm model, patches with clusters activate F2 more on average:

    >>> import synth
    >>> from mcc_core import load_bundled_model, synthetic_arrays
    >>> model = load_bundled_model(100).model
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 40, resolution_um=100, seed=0)
    >>> mean_pos, mean_neg = mean_f2(model, images[labels == 1], images[labels == 0])
    >>> mean_pos.shape, mean_neg.shape
    ((16,), (16,))
    >>> bool(mean_pos.mean() > mean_neg.mean())
    True
    """
    checked = _shallow_model(model)
    probe = keras.Model(checked.input, checked.get_layer("gmp").output)
    means = []
    for name, images in (("positives", positives), ("negatives", negatives)):
        batch = _as_batch(name, images, checked, single=False)
        f2 = probe.predict(batch, batch_size=_BATCH, verbose=0)
        means.append(np.asarray(f2, dtype=np.float32).mean(axis=0))
    return means[0], means[1]


# --------------------------------------------------------------------------- filter spectra


def mc_band_cyc_per_mm() -> tuple[float, float]:
    """Return the spatial-frequency band of microcalcifications, in cycles/mm.

    MCs measure 0.1 to 1 mm, so the band is ``(1 / 1.0, 1 / 0.1) = (1.0, 10.0)``. The Nyquist
    frequency is 10, 7.14 and 5 cycles/mm at 50, 70 and 100 µm per pixel, so at coarse pixels
    only part of the band is representable.

    Returns
    -------
    low, high : float
        Band edges in cycles/mm.

    Examples
    --------
    >>> mc_band_cyc_per_mm()
    (1.0, 10.0)
    """
    return 1.0 / _MC_SIZE_RANGE_MM[1], 1.0 / _MC_SIZE_RANGE_MM[0]


def filter_frequency_response(
    model: keras.Model, *, resolution_um: int, layer: str = "conv1", n_fft: int = 64
) -> FilterSpectra:
    """Compute the magnitude of the frequency response of each filter of a convolution layer.

    Each kernel is zero-padded to ``n_fft × n_fft`` and transformed with ``np.fft.fft2``; the
    result is centred with ``fftshift``. Keras convolutions are cross-correlations, which flips
    the kernel; the magnitude is unchanged. For a layer with several input channels (``conv2``)
    the kernels of each output filter are **summed over the input channels** first: the result
    is the response of that filter to a pattern present identically in every input map.
    The bias and the ReLU are left out (they are not linear-shift-invariant).

    Parameters
    ----------
    model : keras.Model
        Model holding a ``Conv2D`` layer named ``layer`` (e.g. a Model B network).
    resolution_um : {50, 70, 100}
        Pixel size in µm, used to express frequencies in cycles/mm.
    layer : str, optional
        Name of the convolution layer. Default ``"conv1"`` (the paper's Fig. 4).
    n_fft : int, optional
        FFT side in pixels, at least the kernel side. Default 64.

    Returns
    -------
    FilterSpectra
        Frequency axis in cycles/mm and magnitudes of shape ``(n_filters, n_fft, n_fft)``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``keras.Model`` or ``n_fft`` is not an int.
    ValueError
        If ``resolution_um`` is not 50/70/100, ``layer`` is not a Conv2D layer of ``model``, or
        ``n_fft`` is smaller than the kernel.

    Examples
    --------
    >>> from mcc_core import load_bundled_model
    >>> model = load_bundled_model(100).model
    >>> spectra = filter_frequency_response(model, resolution_um=100)
    >>> spectra.magnitude.shape, spectra.nyquist_cyc_per_mm
    ((6, 64, 64), 5.0)
    >>> spectra.frequencies_cyc_per_mm[[0, 32]]
    array([-5.,  0.])
    >>> filter_frequency_response(model, resolution_um=100, layer="conv2").magnitude.shape
    (16, 64, 64)
    """
    checked = _check_model(model)
    if isinstance(resolution_um, bool) or resolution_um not in _RESOLUTIONS_UM:
        raise ValueError(
            f"`resolution_um` must be one of {_RESOLUTIONS_UM}; "
            f"got resolution_um={resolution_um!r}."
        )
    if layer not in _layer_names(checked) or not isinstance(
        checked.get_layer(layer), keras.layers.Conv2D
    ):
        raise ValueError(
            f"`layer` must name a Conv2D layer of model {checked.name!r}; got layer={layer!r}."
        )
    if isinstance(n_fft, bool) or not isinstance(n_fft, int):
        raise TypeError(f"`n_fft` must be an int; got n_fft={n_fft!r} ({type(n_fft).__name__}).")
    kernel = keras.ops.convert_to_numpy(checked.get_layer(layer).kernel).astype(np.float64)
    if n_fft < max(kernel.shape[:2]):
        raise ValueError(
            f"`n_fft` must be at least the kernel side {max(kernel.shape[:2])}; got n_fft={n_fft}."
        )
    summed = kernel.sum(axis=2).transpose(2, 0, 1)  # (out, kh, kw)
    spectrum = np.fft.fft2(summed, s=(n_fft, n_fft), axes=(1, 2))
    magnitude = np.abs(np.fft.fftshift(spectrum, axes=(1, 2)))
    pixel_mm = resolution_um / 1000.0
    frequencies = np.fft.fftshift(np.fft.fftfreq(n_fft, d=pixel_mm))
    return FilterSpectra(frequencies, magnitude, int(resolution_um), layer)


# --------------------------------------------------------------------------- Grad-CAM


def _grad_cam_parts(
    model: keras.Model, layer: str | None
) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """Split ``model`` into a probe (input → [target map, head input]) and its head layers.

    For a model with a nested ``"backbone"`` the probe is re-wired inside the backbone and the
    head is the chain of layers after it; otherwise the probe outputs the target map and the
    input of the last layer, and the head is that last layer alone.
    """
    names = _layer_names(model)
    nested = _BACKBONE in names and isinstance(model.get_layer(_BACKBONE), keras.Model)
    inner = model.get_layer(_BACKBONE) if nested else model
    target = layer if layer is not None else (_BACKBONE_TARGET if nested else "conv2")
    if target not in _layer_names(inner) or len(inner.get_layer(target).output.shape) != 4:
        raise ValueError(
            f"`layer` must name a layer of {inner.name!r} in model {model.name!r} with 2-D "
            f"feature maps upstream of the output; got layer={target!r}."
        )
    if nested:
        probe = keras.Model(inner.input, [inner.get_layer(target).output, inner.output])
        return probe, list(model.layers[names.index(_BACKBONE) + 1 :])
    last = model.layers[-1]
    return keras.Model(model.input, [model.get_layer(target).output, last.input]), [last]


def _logit(head: Sequence[keras.layers.Layer], features: tf.Tensor) -> tf.Tensor:
    """Run ``head`` in inference mode; a final sigmoid ``Dense`` gives its pre-activation."""
    x = features
    for layer in head[:-1]:
        x = layer(x, training=False)
    last = head[-1]
    if isinstance(last, keras.layers.Dense):
        return keras.ops.matmul(x, last.kernel) + last.bias
    return last(x, training=False)


def _cam_batch(probe: keras.Model, head: list[keras.layers.Layer], batch: np.ndarray) -> tf.Tensor:
    """Return ReLU'd class-activation maps ``(n, h, w)`` for one batch."""
    x = tf.convert_to_tensor(batch)
    with tf.GradientTape() as tape:
        maps, features = probe(x, training=False)
        score = tf.reduce_sum(_logit(head, features))
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))


def grad_cam(model: keras.Model, images: np.ndarray, *, layer: str | None = None) -> np.ndarray:
    """Compute Grad-CAM heat maps of the class-1 score, upsampled to the input size.

    The score is the pre-sigmoid logit of the output unit (the normalised map equals the one of
    the probability, but does not vanish when the sigmoid saturates). Channel weights are the
    spatial means of its gradient; the weighted sum of the maps is passed through ReLU,
    bilinearly resized to the input size and divided by its per-image maximum. An all-zero map
    stays zero. 'valid' convolutions (Model B) shrink the map; it is stretched to the input,
    so it is offset by at most the receptive-field half width (8 px with the defaults).

    Parameters
    ----------
    model : keras.Model
        A MobileNetV2 classifier (:func:`~mcc_core.build_mobilenet_classifier`, nested
        ``"backbone"``) or any functional model whose last layer gives the score, such as
        Model B.
    images : ndarray of shape (N, H, W) or (N, H, W, 1), float in [0, 1]
        Patches of the model's input size.
    layer : str, optional
        Target layer: a layer of the backbone for a nested model (default ``"out_relu"``, the
        last convolutional activation), else a layer of ``model`` (default ``"conv2"``).

    Returns
    -------
    heatmaps : ndarray of shape (N, H, W), float32 in [0, 1]

    Raises
    ------
    TypeError, ValueError
        If ``model`` is not a ``keras.Model``; if ``layer`` is unknown or ``images`` is
        misshapen or outside [0, 1].

    Examples
    --------
    >>> import synth
    >>> from mcc_core import load_bundled_model, synthetic_arrays
    >>> model = load_bundled_model(100).model
    >>> images, _ = synthetic_arrays(synth.SceneConfig(), 3, resolution_um=100, seed=0)
    >>> heatmaps = grad_cam(model, images)
    >>> heatmaps.shape, heatmaps.dtype
    ((3, 100, 100), dtype('float32'))
    >>> bool(heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0)
    True
    >>> grad_cam(model, images, layer="dense")
    Traceback (most recent call last):
    ...
    ValueError: `layer` must name a layer of 'shallow_cnn' in model 'shallow_cnn' with 2-D feature
    maps upstream of the output; got layer='dense'.
    """
    checked = _check_model(model)
    batch = _as_batch("images", images, checked, single=False)
    probe, head = _grad_cam_parts(checked, layer)
    cams = []
    for start in range(0, len(batch), _BATCH):
        cam = _cam_batch(probe, head, batch[start : start + _BATCH])
        resized = tf.image.resize(cam[..., None], batch.shape[1:3], method="bilinear")
        cams.append(tf.nn.relu(resized[..., 0]).numpy())
    heat = np.concatenate(cams).astype(np.float32)
    peak = heat.max(axis=(1, 2), keepdims=True)
    return np.divide(heat, peak, out=np.zeros_like(heat), where=peak > 0)
