"""Predictors: the only way evalkit talks to a model.

A predictor is a callable taking float32 patches (N, H, W, 1) in [0, 1] and returning float32
(N,) probabilities of class 1, with `input_size` and `resolution_um`. `as_predictor` adapts a
Keras model, a `.keras` / `.h5` file or SavedModel folder, an `.onnx` file (onnxruntime, an
optional extra) or any Python callable; 3-channel inputs and softmax outputs are adapted.
Keras and onnxruntime are imported only when such a model is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import zoom

import synth

from ._extras import require_extra

RESOLUTION_TO_SIZE = {r: synth.patch_size_px(r) for r in synth.RESOLUTIONS_UM}
SIZE_TO_RESOLUTION = {s: r for r, s in RESOLUTION_TO_SIZE.items()}


class Predictor:
    """Probabilities of class 1 for patches at `resolution_um`.

    Parameters
    ----------
    fn : callable
        Raw model call on float32 (N, S, S, C) → array of shape (N,), (N, 1) or (N, 2).
    input_size, channels : int
        The model's own input (S × S × C).
    resolution_um : int
        Pixel spacing of the patches this predictor takes; when it is not the model's, patches
        are resampled (only when asked for) from that resolution's size to `input_size`.
    """

    def __init__(self, fn: Callable[[np.ndarray], Any], *, input_size: int, channels: int,
                 resolution_um: int, name: str, sha256: str | None = None,
                 n_params: int | None = None, batch_size: int = 64,
                 recipe: tuple[Any, ...] | None = None) -> None:
        self._fn = fn
        self.model_input_size = input_size
        self.channels = channels
        self.resolution_um = resolution_um
        self.input_size = RESOLUTION_TO_SIZE.get(resolution_um, input_size)
        self.name = name
        self.sha256 = sha256
        self.n_params = n_params
        self.batch_size = batch_size
        self.recipe = recipe
        """How another process rebuilds this model (a Dask worker): ``("path", file,
        trust_saved_model)`` or ``("callable", fn, input_size)``; None for an in-memory
        Keras model."""

    def at(self, resolution_um: int) -> Predictor:
        """The same model taking patches of `resolution_um`, resampled to its input size
        (itself when that is already its resolution)."""
        if resolution_um == self.resolution_um:
            return self
        return Predictor(self._fn, input_size=self.model_input_size, channels=self.channels,
                         resolution_um=resolution_um, name=self.name, sha256=self.sha256,
                         n_params=self.n_params, batch_size=self.batch_size,
                         recipe=self.recipe)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[1:] != (self.input_size, self.input_size, 1):
            raise ValueError(
                f"`images` must have shape (N, {self.input_size}, {self.input_size}, 1); "
                f"got {x.shape}."
            )
        if self.input_size != self.model_input_size:
            factor = self.model_input_size / self.input_size
            x = zoom(x, (1, factor, factor, 1), order=1, grid_mode=True, mode="nearest")
        if self.channels == 3:
            x = np.repeat(x, 3, axis=-1)
        parts = [self._probabilities(x[k:k + self.batch_size])
                 for k in range(0, len(x), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(self._fn(x), dtype=np.float32)
        if out.ndim == 2 and out.shape[1] == 2:
            out = out[:, 1]  # softmax: probability of class 1
        elif out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.shape != (len(x),):
            raise ValueError(
                f"the model `{self.name}` returned shape {out.shape} for {len(x)} patches; "
                "expected (N,), (N, 1) sigmoid or (N, 2) softmax."
            )
        if not np.isfinite(out).all():
            raise ValueError(f"the model `{self.name}` returned NaN or infinite probabilities.")
        if out.min() < 0 or out.max() > 1:
            raise ValueError(f"the model `{self.name}` returned values outside [0, 1] "
                             f"({out.min():.3g} to {out.max():.3g}); expected probabilities.")
        return out

    def __repr__(self) -> str:
        return (f"Predictor({self.name!r}, input {self.input_size}px at "
                f"{self.resolution_um} um, model input {self.model_input_size}x"
                f"{self.model_input_size}x{self.channels})")


def as_predictor(model_or_path: Any, *, resolution_um: int | None = None,
                 resample: bool = False, input_size: int | None = None,
                 batch_size: int = 64, trust_saved_model: bool = False) -> Predictor:
    """Adapt a model to the predictor interface.

    Parameters
    ----------
    model_or_path : keras.Model, path, or callable
        A Keras model; a ``.keras`` / ``.h5`` file or a SavedModel folder; an ``.onnx`` file;
        or a callable on float32 (N, S, S, C) (give `input_size` or `resolution_um`, or set an
        ``input_size`` attribute on it).
    resolution_um : int, optional
        Pixel spacing of the patches to score. Inferred from the model's input size (200, 144,
        100 px → 50, 70, 100 µm) when omitted; one that disagrees is refused unless
        ``resample=True``, which rescales patches to the model's input.
    trust_saved_model : bool
        A SavedModel folder is a TensorFlow graph that runs its own ops when called, and
        those can read and write files (``tf.io.read_file``, ``tf.io.write_file``). It is
        refused unless this is True (``mcc probe --trust-model``): give it only for folders
        from a source you trust, or export the model as ``.keras`` (whose Lambda layers Keras
        refuses) or ``.onnx``.

    Examples
    --------
    A plain callable (here: the mean grey level as the "probability") at 100 µm:

    >>> import synth
    >>> from evalkit import as_predictor
    >>> predict = as_predictor(lambda x: x.mean(axis=(1, 2, 3)), resolution_um=100)
    >>> predict
    Predictor('<lambda>', input 100px at 100 um, model input 100x100x1)
    >>> batch = synth.generate(synth.SceneConfig(), 4, resolution_um=100, seed=0)
    >>> scores = predict(batch.images)
    >>> scores.shape, scores.dtype.name, [round(float(s), 3) for s in scores]
    ((4,), 'float32', [0.122, 0.388, 0.278, 0.221])

    The same 100 px model scoring 50 µm patches (200 px) only when asked to resample:

    >>> as_predictor(lambda x: x.mean(axis=(1, 2, 3)), input_size=100, resolution_um=50)
    Traceback (most recent call last):
    ...
    ValueError: `resolution_um`=50 means 200 px patches but the model takes 100 px; pass ...
    >>> as_predictor(lambda x: x.mean(axis=(1, 2, 3)), input_size=100, resolution_um=50,
    ...              resample=True)
    Predictor('<lambda>', input 200px at 50 um, model input 100x100x1)
    """
    size: Any
    recipe: tuple[Any, ...] | None = None
    if isinstance(model_or_path, (str, Path)):
        fn, size, channels, name, digest, n_params = _load(Path(model_or_path),
                                                           trust_saved_model)
        recipe = ("path", str(Path(model_or_path).resolve()), bool(trust_saved_model))
    elif _is_keras_model(model_or_path):
        fn, size, channels, name, digest, n_params = _from_keras(model_or_path)
    elif callable(model_or_path):
        size = input_size or getattr(model_or_path, "input_size", None) or (
            RESOLUTION_TO_SIZE.get(resolution_um) if resolution_um else None)
        if not size:
            raise ValueError("`input_size` is needed for a plain callable (or `resolution_um`).")
        fn, channels, name, digest, n_params = model_or_path, 1, _name(model_or_path), None, None
        recipe = ("callable", model_or_path, int(size))
    else:
        raise ValueError(f"`model_or_path` must be a model, a path or a callable; "
                         f"got {type(model_or_path).__name__}.")
    res = _resolution(int(size), resolution_um, resample)
    return Predictor(fn, input_size=int(size), channels=channels, resolution_um=res, name=name,
                     sha256=digest, n_params=n_params, batch_size=batch_size, recipe=recipe)


def _resolution(size: int, resolution_um: int | None, resample: bool) -> int:
    native = SIZE_TO_RESOLUTION.get(size)
    if resolution_um is None:
        if native is None:
            raise ValueError(
                f"the model's input is {size}x{size} px, which matches no resolution "
                f"(200, 144, 100 px → 50, 70, 100 um); give `resolution_um` and resample=True."
            )
        return native
    synth.check_resolution(resolution_um)
    if native != resolution_um and not resample:
        raise ValueError(
            f"`resolution_um`={resolution_um} means {RESOLUTION_TO_SIZE[resolution_um]} px "
            f"patches but the model takes {size} px; pass resample=True to rescale them."
        )
    return int(resolution_um)


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)


def _is_keras_model(obj: Any) -> bool:
    return any(c.__module__.startswith(("keras", "tf_keras")) and c.__name__ in (
        "Model", "Functional", "Sequential") for c in type(obj).__mro__)


def _from_keras(model: Any) -> tuple[Callable, int, int, str, str | None, int]:
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] not in (1, 3) or shape[1] is None:
        raise ValueError(f"the model's input must be (S, S, 1) or (S, S, 3); got {shape[1:]}.")

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(x))  # compiled: ~5x an eager call on CPU

    return call, int(shape[1]), int(shape[3]), model.name, None, int(model.count_params())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _load(path: Path, trust_saved_model: bool = False
          ) -> tuple[Callable, int, int, str, str | None, int | None]:
    if not path.exists():
        raise ValueError(f"no model at {str(path)!r}.")
    if path.is_dir() and not trust_saved_model:
        raise ValueError(f"{str(path)!r} is a SavedModel folder: its TensorFlow graph runs "
                         "its own ops, which can read and write files. Export it as .keras "
                         "or .onnx, or pass trust_saved_model=True (mcc probe --trust-model) "
                         "if you trust its source.")
    digest = _sha256(path)
    if path.suffix == ".onnx":
        fn, size, channels = _load_onnx(path)
        return fn, size, channels, path.name, digest, None
    if path.is_dir():
        fn, size, channels = _load_saved_model(path)
        return fn, size, channels, path.name, digest, None
    require_extra("tf")
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for files that are not models
        raise ValueError(f"{str(path)!r} is not a readable Keras model "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]}).") from None
    fn, size, channels, _, _, n_params = _from_keras(model)
    return fn, size, channels, path.name, digest, n_params


def _load_onnx(path: Path) -> tuple[Callable, int, int]:
    require_extra("onnx")
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValueError(f"{str(path)!r} is not a readable ONNX model ({exc}).") from None
    inp = session.get_inputs()[0]
    shape = inp.shape
    if len(shape) != 4 or not isinstance(shape[1], int):
        raise ValueError(f"the ONNX model's input must be (N, S, S, C); got {shape}.")

    def call(x: np.ndarray) -> np.ndarray:
        return session.run(None, {inp.name: x.astype(np.float32)})[0]

    return call, int(shape[1]), int(shape[3])


def _load_saved_model(path: Path) -> tuple[Callable, int, int]:
    """A TensorFlow SavedModel folder, called through its serving signature."""
    require_extra("tf")
    import tensorflow as tf

    try:
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    except Exception as exc:
        raise ValueError(f"{str(path)!r} is not a readable SavedModel ({type(exc).__name__}).") \
            from None
    (name, spec), = signature.structured_input_signature[1].items()
    shape = tuple(spec.shape)
    if len(shape) != 4 or shape[1] is None:
        raise ValueError(f"the SavedModel's input must be (N, S, S, C); got {shape}.")

    def call(x: np.ndarray) -> np.ndarray:
        out = signature(**{name: tf.constant(x, dtype=tf.float32)})
        return np.asarray(next(iter(out.values())))

    return call, int(shape[1]), int(shape[3])
