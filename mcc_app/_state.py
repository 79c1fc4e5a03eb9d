"""What the pages share: the session's scenario and last probe, cached loaders and generators,
the model picker, and one-line error messages. Imports Streamlit; TensorFlow only when a model
is loaded."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import synth

from ._command import ProbeSettings
from ._controls import controls_from_config
from ._uploads import MODEL_SUFFIXES, store_upload

SCENARIO = "scenario"
"""Session-state key of the current `synth.SceneConfig` (set on the Generate page)."""
PROBE = "probe_run"
COMPARE = "compare_run"
"""Session-state key of the last `ProbeRun`."""
LOAD_ERRORS = (ValueError, TypeError, OSError)


def one_line(exc: BaseException) -> str:
    """An exception as one short sentence for ``st.error`` (never a traceback)."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def show_error(exc: BaseException, context: str = "", *, paths: dict[str, str] | None = None
               ) -> None:
    """``st.error`` with `exc` in one line; `paths` maps file paths to the names to show."""
    text = one_line(exc)
    for path, name in (paths or {}).items():
        text = text.replace(path, name)
    st.error(f"{context}{text}", icon=":material/error:")


# --------------------------------------------------------------------------- scenario


def scenario() -> synth.SceneConfig:
    """The session's scenario (the defaults until the Generate page applies another)."""
    if SCENARIO not in st.session_state:
        st.session_state[SCENARIO] = synth.SceneConfig()
    config: synth.SceneConfig = st.session_state[SCENARIO]
    return config


def set_scenario(config: synth.SceneConfig, *, controls: bool) -> None:
    """Make `config` the session's scenario; with `controls`, also move the widgets to it
    (only before they are drawn in this run)."""
    st.session_state[SCENARIO] = config
    if controls:
        st.session_state.update(controls_from_config(config))


def ensure_controls() -> None:
    """Give every scenario widget its value from the scenario where it has none yet (first
    visit, or after another page: Streamlit drops the state of widgets not drawn)."""
    for name, value in controls_from_config(scenario()).items():
        if name not in st.session_state:
            st.session_state[name] = value


# --------------------------------------------------------------------------- generated arrays


@st.cache_data(max_entries=16, show_spinner=False)
def preview(config_json: str, seed: int, index: int) -> list[synth.Batch]:
    """Patch `index` of dataset `seed` at 50, 70 and 100 µm (the same scene)."""
    config = synth.SceneConfig.from_json(config_json)
    return [synth.generate_indices(config, [index], resolution_um=r, seed=seed)
            for r in synth.RESOLUTIONS_UM]


@st.cache_data(max_entries=16, show_spinner=False)
def one_patch(config_json: str, resolution_um: int, seed: int, index: int) -> synth.Batch:
    """Patch `index` of dataset `seed` alone."""
    return synth.generate_indices(synth.SceneConfig.from_json(config_json), [index],
                                  resolution_um=resolution_um, seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def samples(config_json: str, resolution_um: int, seed: int, n: int) -> synth.Batch:
    """The first `n` patches of dataset `seed`."""
    return synth.generate(synth.SceneConfig.from_json(config_json), n,
                          resolution_um=resolution_um, seed=seed)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelChoice:
    """A model picked on a page: bundled (``bundled`` is its resolution) or uploaded."""

    path: str
    name: str
    sha256: str
    bundled: int | None

    @property
    def is_keras(self) -> bool:
        return Path(self.path).suffix in (".keras", ".h5")


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_predictor(path: str, sha256: str) -> Any:
    """`evalkit.as_predictor` of a model file, loaded once per file content."""
    import evalkit

    return evalkit.as_predictor(path)


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_keras(path: str, sha256: str) -> Any:
    """The Keras model in a ``.keras`` or ``.h5`` file (for the explainability views)."""
    import mcc_core

    if path.endswith(".keras"):
        return mcc_core.load_model(path, require_metadata=False).model
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for files that are not models
        raise ValueError(f"{Path(path).name} is not a readable Keras model "
                         f"({type(exc).__name__}).") from None


@dataclass(frozen=True)
class ProbeRun:
    """A finished probe, kept in the session for the Probe, Report and Scan pages."""

    results: Any  # evalkit.ProbeResults
    settings: ProbeSettings
    scenario: synth.SceneConfig
    model: ModelChoice
    run_id: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Unique across sessions: what caches of this run are keyed by."""


@dataclass(frozen=True)
class CompareRun:
    """A finished comparison of two models (`evalkit.compare`), kept for the Report page."""

    result: Any  # evalkit.ComparisonResult
    settings: ProbeSettings
    run_id: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pick_model(prefix: str, *, resolution_um: int | None = None,
               suffixes: tuple[str, ...] = MODEL_SUFFIXES) -> ModelChoice | None:
    """The model picker: a bundled lightweight CNN or an uploaded model file.

    With `resolution_um` the bundled model is that resolution's; otherwise a selectbox picks
    it. Returns None (after an ``st.error`` for a bad file) when there is no usable model."""
    source = st.radio("Model", ("Bundled lightweight CNN", "Upload a model"), horizontal=True,
                      key=f"{prefix}_source")
    if source == "Bundled lightweight CNN":
        res = resolution_um or st.selectbox(
            "Resolution of the bundled model (µm per pixel)", synth.RESOLUTIONS_UM, index=2,
            key=f"{prefix}_bundled_res")
        import mcc_core

        try:
            path = mcc_core.bundled_model_path(res)
        except LOAD_ERRORS as exc:
            show_error(exc)
            return None
        return ModelChoice(str(path), path.name, _bundled_digest(str(path)), res)
    upload = st.file_uploader("Model file", type=[s.lstrip(".") for s in suffixes],
                              key=f"{prefix}_upload")
    if upload is None:
        st.info(f"Upload a {', '.join(suffixes)} model, or use a bundled one.")
        return None
    try:
        path = store_upload(upload.getvalue(), upload.name)
    except LOAD_ERRORS as exc:
        show_error(exc)
        return None
    return ModelChoice(str(path), upload.name, _sha256(path), None)


@st.cache_data(max_entries=4, show_spinner=False)
def _bundled_digest(path: str) -> str:
    return _sha256(Path(path))


def predictor_for(choice: ModelChoice) -> Any | None:
    """The choice's predictor, or None after an ``st.error`` naming what is wrong."""
    try:
        return load_predictor(choice.path, choice.sha256)
    except LOAD_ERRORS as exc:
        show_error(exc, paths={choice.path: choice.name})
        return None


def keras_for(choice: ModelChoice) -> Any | None:
    """The choice's Keras model (None for ONNX, or after an ``st.error``)."""
    if not choice.is_keras:
        return None
    try:
        return load_keras(choice.path, choice.sha256)
    except LOAD_ERRORS as exc:
        show_error(exc, paths={choice.path: choice.name})
        return None


def image_grid(images: Sequence[np.ndarray], captions: list[str], *, width: int = 120) -> None:
    """Patches side by side (float images in [0, 1])."""
    st.image([np.clip(im, 0, 1) for im in images], caption=captions, width=width)
