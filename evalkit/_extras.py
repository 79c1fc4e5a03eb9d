"""Optional parts of the install (`pip install 'mcc-toolkit[tf]'` and so on), checked in one place.

The core install (numpy, scipy, pillow, pandas, matplotlib, tqdm) runs `synth`, `evalkit` with
ONNX-free predictors, and the TensorFlow-free commands. Everything that needs an extra asks for
it here, so a missing one is reported the same way everywhere: one line naming the extra.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile

from synth import MissingExtraError

__all__ = ["EXTRAS", "MissingExtraError", "check_extra", "has_extra", "require_extra"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "tf": ("tensorflow", "keras", "keras_tuner", "tensorboard"),
    "onnx": ("onnxruntime",),
    "app": ("streamlit", "tensorflow", "keras"),
    "dask": ("dask", "distributed"),
}
"""Each extra of the `mcc-toolkit` distribution and the modules it provides."""


def has_extra(extra: str) -> bool:
    """Whether every module of `extra` can be imported, without importing any of them.

    Examples
    --------
    >>> has_extra("tf") in (True, False)
    True
    >>> has_extra("gpu")
    Traceback (most recent call last):
    ...
    ValueError: `extra` must be one of ('tf', 'onnx', 'app', 'dask'); got extra='gpu'.
    """
    return _missing(_modules(extra)) is None


def check_extra(extra: str) -> None:
    """Raise :class:`MissingExtraError` if `extra` is not installed, without importing it.

    Examples
    --------
    >>> try:
    ...     check_extra("onnx")
    ... except MissingExtraError as exc:
    ...     print(exc)  # what a user without onnxruntime sees
    ... else:
    ...     print("needs the 'onnx' extra: pip install 'mcc-toolkit[onnx]'")
    needs the 'onnx' extra: pip install 'mcc-toolkit[onnx]'
    """
    missing = _missing(_modules(extra))
    if missing is not None:
        raise MissingExtraError(extra, missing)


def require_extra(extra: str) -> None:
    """Import the modules of `extra`, or raise :class:`MissingExtraError` naming it.

    TensorFlow prints start-up lines when it is imported (absl's "All log messages before
    absl::InitializeLog()", oneDNN and CUDA probes) before its own logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. They are kept off the terminal here: file
    descriptor 2 points at a scratch file during the import, and what was printed is written
    to stderr after all if the import fails.

    Raises
    ------
    MissingExtraError
        If a module of the extra is not installed.
    ValueError
        If `extra` is not one of :data:`EXTRAS`.

    Examples
    --------
    Where an ONNX model may be given, import onnxruntime only when it is there:

    >>> import sys
    >>> if has_extra("onnx"):
    ...     require_extra("onnx")
    ...     assert "onnxruntime" in sys.modules

    Without it (here: onnxruntime blocked for the example), the error names the extra:

    >>> from unittest import mock
    >>> with mock.patch.dict(sys.modules, {"onnxruntime": None}):
    ...     require_extra("onnx")
    Traceback (most recent call last):
    ...
    synth._extras.MissingExtraError: needs the 'onnx' extra: pip install 'mcc-toolkit[onnx]'
    >>> require_extra("gpu")
    Traceback (most recent call last):
    ...
    ValueError: `extra` must be one of ('tf', 'onnx', 'app', 'dask'); got extra='gpu'.
    """
    check_extra(extra)
    modules = _modules(extra)
    if "tensorflow" in modules and "tensorflow" not in sys.modules:
        _import_quietly("tensorflow")
    for module in modules:
        importlib.import_module(module)


def _modules(extra: str) -> tuple[str, ...]:
    if extra not in EXTRAS:
        raise ValueError(f"`extra` must be one of {tuple(EXTRAS)}; got extra={extra!r}.")
    return EXTRAS[extra]


def _missing(modules: tuple[str, ...]) -> str | None:
    for module in modules:
        if module in sys.modules:  # None there means "blocked": importing it raises
            if sys.modules[module] is None:
                return module
        elif importlib.util.find_spec(module) is None:
            return module
    return None


def _import_quietly(module: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            importlib.import_module(module)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
