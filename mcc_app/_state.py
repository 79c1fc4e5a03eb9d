"""What the pages share: the session's scenario and last probe, cached loaders and generators,
the model picker, the uploader of the user's own MC-free backgrounds, and one-line error
messages. Imports Streamlit; TensorFlow only when a model is loaded."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import synth

from ._command import ProbeSettings
from ._controls import (
    DEFAULT_RESOLUTION_UM,
    PATCH_WORDS,
    RESOLUTION_WORDS,
    controls_from_config,
)
from ._uploads import IMAGE_SUFFIXES, MODEL_SUFFIXES, load_negatives, store_upload

SCENARIO = "scenario"
"""Session-state key of the current `synth.SceneConfig` (set on the Generate page)."""
PROBE = "probe_run"
"""Session-state key of the `ProbeRun` shown (the last one, or the one picked in the history)."""
HISTORY = "probe_history"
"""Session-state key of the session's probes, oldest first (at most `_session.MAX_PROBES`)."""
COMPARE = "compare_run"
GENERATE_VIEW = "gen_patches"
"""Session-state key of the Generate page's applied (resolution, seed)."""
LOAD_ERRORS = (ValueError, TypeError, OSError)


def one_line(exc: BaseException) -> str:
    """An exception as one short sentence for ``st.error`` (never a traceback)."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) <= 1000:
        return text
    return text[:1000].rsplit(" ", 1)[0].rstrip(",;:") + " …"  # never cut mid-word


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


def backgrounds_token(backgrounds: synth.Backgrounds) -> str:
    """What caches of patches inserted into `backgrounds` are keyed by: every file's name,
    SHA-256, spacing and intent, the region, the gain and the resolution."""
    record = json.dumps([backgrounds.record(), backgrounds.resolution_um], sort_keys=True)
    return hashlib.sha256(record.encode()).hexdigest()


_ON_BACKGROUNDS: dict[str | type[Any], Callable[[Any], Any]] = {
    synth.Backgrounds: backgrounds_token}


MAMMOGRAM_PREVIEW_UM = 100
"""Pixel spacing of the Generate page's anatomical mammogram (a 24 × 30 cm breast in ~1.5 s)."""


@st.cache_resource(max_entries=2, show_spinner="Rendering the mammogram…")
def anatomical_mammogram(config_json: str, seed: int, view: str, density_category: str,
                         lookalikes: tuple[str, ...]) -> synth.Mammogram:
    """The anatomical mammogram of `seed` (`synth.render_mammogram` with a phantom) at
    `MAMMOGRAM_PREVIEW_UM`; a resource (read-only arrays, not copied per rerun)."""
    config = synth.SceneConfig.from_json(config_json)
    return synth.render_mammogram(config, resolution_um=MAMMOGRAM_PREVIEW_UM, seed=seed,
                                  view=view, density_category=density_category,
                                  lookalikes=list(lookalikes))


@st.cache_data(max_entries=16, show_spinner=False)
def preview(config_json: str, seed: int, index: int) -> list[synth.Batch]:
    """Patch `index` of dataset `seed` at 50, 70 and 100 µm (the same scene)."""
    config = synth.SceneConfig.from_json(config_json)
    return [synth.generate_indices(config, [index], resolution_um=r, seed=seed)
            for r in synth.RESOLUTIONS_UM]


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_ON_BACKGROUNDS)
def one_patch(config_json: str, resolution_um: int, seed: int, index: int,
              backgrounds: synth.Backgrounds | None = None) -> synth.Batch:
    """Patch `index` of dataset `seed` alone (inserted into `backgrounds` when given: they are
    at `resolution_um`)."""
    config = synth.SceneConfig.from_json(config_json)
    if backgrounds is not None:
        return synth.insert_indices(backgrounds, config, [index], seed=seed)
    return synth.generate_indices(config, [index], resolution_um=resolution_um, seed=seed)


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=_ON_BACKGROUNDS)
def samples(config_json: str, resolution_um: int, seed: int, n: int,
            backgrounds: synth.Backgrounds | None = None) -> synth.Batch:
    """The first `n` patches of dataset `seed` (inserted into `backgrounds` when given)."""
    config = synth.SceneConfig.from_json(config_json)
    if backgrounds is not None:
        return synth.insert(backgrounds, config, n, seed=seed)
    return synth.generate(config, n, resolution_um=resolution_um, seed=seed)


# --------------------------------------------------------------------------- backgrounds


def uploads_digest(uploads: Sequence[Any]) -> str:
    """The SHA-256 of uploaded files' names and contents (Streamlit ``UploadedFile``s), what
    caches of what is read from them are keyed by; hashed once per upload, not per rerun."""
    ids = tuple(u.file_id for u in uploads)
    memo: dict[tuple[str, ...], str] = st.session_state.setdefault("_upload_digests", {})
    if ids not in memo:
        digest = hashlib.sha256()
        for upload in uploads:
            digest.update(hashlib.sha256(upload.name.encode()).digest()
                          + hashlib.sha256(upload.getvalue()).digest())
        if len(memo) >= 8:
            memo.clear()
        memo[ids] = digest.hexdigest()
    return memo[ids]


@st.cache_resource(max_entries=4, show_spinner="Reading your backgrounds…")
def _negatives(digest: str, spacing_um: float | None, resolution_um: int,
               _uploads: Sequence[Any]) -> synth.Backgrounds:
    """`load_negatives` once per uploaded content (`digest`), spacing and resolution; a
    resource, not data: read-only arrays shared without a copy per rerun."""
    return load_negatives([(u.name, u.getvalue()) for u in _uploads], spacing_um=spacing_um,
                          resolution_um=resolution_um)


def pick_backgrounds(prefix: str, *, resolution_um: int
                     ) -> tuple[synth.Backgrounds | None, bool]:
    """The optional uploader of the user's own MC-free images (files, or one zip of them)
    and their pixel spacing, loaded at `resolution_um`.

    Returns the backgrounds (None without an upload) and whether the page may go on: False
    after an ``st.error`` saying why the upload cannot be used."""
    key = f"{prefix}_negatives"
    with st.expander("Backgrounds: your own MC-free images",
                     expanded=bool(st.session_state.get(key))):
        st.caption("Negatives (patches or whole mammograms without MCs): the scenario's MCs "
                   "are inserted into them, with the physics, instead of synthetic tissue.")
        a, b = st.columns((3, 1))
        uploads = a.file_uploader(
            "PNG, TIFF or DICOM images, or one .zip of them",
            type=[*(s.lstrip(".") for s in IMAGE_SUFFIXES), "zip"], accept_multiple_files=True,
            key=key, help="MC-free patches or mammograms (at most 1,000 files, 1 GiB); PNG and "
                          "TIFF need their pixel spacing.")
        spacing = b.number_input(
            "Their pixel spacing (µm)", value=None, step=1.0, placeholder="each DICOM's own",
            key=f"{prefix}_negatives_spacing",
            help=f"Required for PNG and TIFF; empty: each DICOM's own. They are resampled "
                 f"to {resolution_um} µm.")
    if not uploads:
        return None, True
    try:
        backgrounds = _negatives(uploads_digest(uploads),
                                 None if spacing is None else float(spacing), resolution_um,
                                 uploads)
    except LOAD_ERRORS as exc:
        show_error(exc, "Backgrounds not read: ")
        return None, False
    return backgrounds, True


def describe_backgrounds(backgrounds: synth.Backgrounds | dict[str, Any], *,
                         limit: int = 3) -> str:
    """A caption such as "3 backgrounds (a.png, b.png, c.png) at 70 µm", of backgrounds or
    of their record (`synth.Backgrounds.record`, which a probe's results keep)."""
    if isinstance(backgrounds, synth.Backgrounds):
        all_names, at = list(backgrounds.names), f" at {backgrounds.resolution_um} µm"
    else:
        all_names, at = [str(f["name"]) for f in backgrounds["files"]], ""
    names = ", ".join(all_names[:limit]) + (", …" if len(all_names) > limit else "")
    many = "s" if len(all_names) != 1 else ""
    return f"{len(all_names)} background{many} ({names}){at}"


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
    saved: Any = None
    """For a probe loaded from a session file: its `SavedProbe` (the report.json it came
    from); its results then hold no predictions and no gallery images."""


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
                      key=f"{prefix}_source",
                      help="The toolkit's lightweight CNN trained at each resolution (the caption "
                           "below gives its parameters), or your own .keras, .h5 or .onnx "
                           "model.")
    if source == "Bundled lightweight CNN":
        res = resolution_um or st.selectbox(
            "Resolution of the bundled model (µm per pixel)", synth.RESOLUTIONS_UM,
            index=synth.RESOLUTIONS_UM.index(DEFAULT_RESOLUTION_UM),
            key=f"{prefix}_bundled_res",
            help=f"The bundled model of {RESOLUTION_WORDS} µm per pixel (patches of "
                 f"{PATCH_WORDS} px).")
        import mcc_core

        try:
            path = mcc_core.bundled_model_path(res)
        except LOAD_ERRORS as exc:
            show_error(exc)
            return None
        return ModelChoice(str(path), path.name, _bundled_digest(str(path)), res)
    upload = st.file_uploader("Model file", type=[s.lstrip(".") for s in suffixes],
                              key=f"{prefix}_upload",
                              help=f"A model whose input is one resolution's patch ({PATCH_WORDS} "
                                   "px), grey.")
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
