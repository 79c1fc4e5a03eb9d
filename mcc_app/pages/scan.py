"""Scan: a whole mammogram (an uploaded PNG, TIFF or DICOM at any pixel spacing, or a synthetic
one) brought to the model's resolution and scored in 1 cm windows with a model, shown as the
papers' case-study view and as a probability heat map, with counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import streamlit as st

import synth
from mcc_app import IMAGE_SUFFIXES, for_display, read_upload
from mcc_app import _state as state

_RESULT = "scan_result"
_VIEWS = ("Case study: negatives grey", "Case study: positives tinted", "Original",
          "Probability heat map")
_UPLOAD = "Upload an image"


@dataclass(frozen=True)
class ScanRun:
    image: np.ndarray
    result: Any  # mcc_core.ScanResult
    source: str
    model: str


@st.cache_data(max_entries=4, show_spinner="Rendering a synthetic mammogram…")
def synthetic_mammogram(config_json: str, resolution_um: int, seed: int,
                        size_mm: tuple[float, float]) -> Any:
    return synth.render_mammogram(synth.SceneConfig.from_json(config_json),
                                  resolution_um=resolution_um, seed=seed, size_mm=size_mm)


# Resources, not data: a full-field mammogram is not copied on every rerun (read-only).
@st.cache_resource(max_entries=2, show_spinner="Reading the image…")
def uploaded_image(digest: str, _upload: Any) -> synth.GreyImage:
    """`read_upload` once per uploaded content (`digest`, `state.uploads_digest`)."""
    return read_upload(_upload.getvalue(), _upload.name)


@st.cache_resource(max_entries=2, show_spinner="Resampling to the model's resolution…")
def at_model_resolution(digest: str, spacing_um: float, resolution_um: int | None,
                        _upload: Any) -> synth.Resampled:
    """The upload at the model's resolution (`synth.at_resolution`; None: the nearest)."""
    return synth.at_resolution(uploaded_image(digest, _upload), resolution_um,
                               spacing_um=spacing_um, field="spacing_um")


def synthetic_source() -> tuple[np.ndarray | None, int, str]:
    a, b, d, e = st.columns(4)
    res = a.selectbox("Pixel spacing (µm)", synth.RESOLUTIONS_UM, index=2, key="scan_res")
    seed = b.number_input("Seed", 0, 2**31 - 1, 0, key="scan_seed")
    height = d.number_input("Height (mm)", 20, 400, 240, key="scan_h")
    width = e.number_input("Width (mm)", 20, 400, 300, key="scan_w")
    try:
        mammogram = synthetic_mammogram(state.scenario().to_json(), res, int(seed),
                                        (float(height), float(width)))
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "No synthetic mammogram: ")
        return None, res, ""
    label = (f"synthetic mammogram, seed {seed}, {height} × {width} mm, "
             f"{len(mammogram.annotations)} annotated clusters")
    return mammogram.image, res, label


def spacing_input(grey: synth.GreyImage, digest: str) -> tuple[float | None, int | None]:
    """The image's pixel spacing (pre-filled from a DICOM header; None until given) and the
    model resolution picked (None: the nearest to the spacing)."""
    if st.session_state.get("scan_file_digest") != digest or "scan_spacing" not in st.session_state:
        st.session_state["scan_file_digest"] = digest  # a new file: its own spacing, or none
        st.session_state["scan_spacing"] = grey.spacing_um
    label = "Pixel spacing (µm)"
    if grey.spacing_um is not None:
        label += (", from the DICOM header" if st.session_state["scan_spacing"] == grey.spacing_um
                  else f", yours (the DICOM header says {grey.spacing_um:g})")
    a, b = st.columns(2)
    spacing = a.number_input(
        label, step=1.0, key="scan_spacing", placeholder="required: the file declares none",
        help=(f"{grey.spacing_source} of {grey.name}; change it if you know better."
              if grey.spacing_um is not None else "The size of one pixel of this image, in µm."))
    resolution = b.selectbox(
        "Model resolution (µm)", (None, *synth.RESOLUTIONS_UM), key="scan_model_res",
        format_func=lambda r: "nearest the spacing" if r is None else f"{r} µm",
        help="The image is resampled (anti-aliased) to the model's pixel spacing.")
    return spacing, resolution


def upload_source() -> tuple[np.ndarray | None, int | None, str]:
    upload = st.file_uploader("Mammogram: PNG or TIFF (8 or 16 bit grey), or DICOM",
                              type=[s.lstrip(".") for s in IMAGE_SUFFIXES], key="scan_file")
    if upload is None:
        st.info("Upload a mammogram, or make a synthetic one.")
        return None, None, ""
    digest = state.uploads_digest([upload])
    try:
        grey = uploaded_image(digest, upload)
    except ValueError as exc:
        state.show_error(exc)
        return None, None, ""
    spacing, resolution = spacing_input(grey, digest)
    if spacing is None:
        problem = grey.spacing_problem or f"is a {grey.format} file, which declares no spacing"
        st.info(f"{upload.name} {problem}: enter its pixel spacing (µm) to scan it.")
        return None, resolution, ""
    try:
        ready = at_model_resolution(digest, float(spacing), resolution, upload)
    except ValueError as exc:
        state.show_error(exc)
        return None, resolution, ""
    shape = ready.pixels.shape
    if ready.resampled:
        st.caption(f"Resampled from {ready.spacing_um:g} µm to {ready.resolution_um} µm "
                   f"(anti-aliased): {grey.pixels.shape[0]} × {grey.pixels.shape[1]} px → "
                   f"{shape[0]} × {shape[1]} px.")
    else:
        st.caption(f"Already at {ready.resolution_um} µm: not resampled.")
    tags = " ".join(t for t in (grey.laterality, grey.view) if t)
    label = (f"{upload.name} ({grey.format}{', ' + tags if tags else ''}, "
             f"{grey.pixels.shape[0]} × {grey.pixels.shape[1]} px at {ready.spacing_um:g} µm)")
    return ready.pixels, ready.resolution_um, label


def image_source() -> tuple[np.ndarray | None, int | None, str]:
    """The mammogram to scan at the model's resolution (None after an error or before an
    upload), that resolution (None: not known yet) and a description."""
    source = st.radio("Mammogram", ("Synthetic", _UPLOAD), horizontal=True, key="scan_image")
    if source == "Synthetic":
        return synthetic_source()
    return upload_source()


def run_scan(image: np.ndarray, res: int, source: str, choice: state.ModelChoice) -> None:
    import mcc_core

    model = state.keras_for(choice)
    if model is None:
        if not choice.is_keras:
            st.error("Scanning needs a Keras model (.keras or .h5).")
        return
    a, b = st.columns(2)
    stride = a.number_input("Stride (mm)", 0.5, 10.0, 1.5, step=0.5, key="scan_stride")
    threshold = b.slider("Threshold", 0.0, 1.0, 0.5, step=0.05, key="scan_threshold")
    if not st.button("Scan", type="primary", key="scan_go"):
        return
    bar = st.progress(0.0, text="scanning…")

    def advance(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"{done} / {total} windows")

    try:
        result = mcc_core.scan(model, image, resolution_um=res, stride_mm=float(stride),
                               threshold=threshold, progress=advance)
    except Exception as exc:  # ValueError for bad input; a user's model may raise anything
        state.show_error(exc, "Not scanned: ")
        return
    finally:
        bar.empty()
    st.session_state[_RESULT] = ScanRun(image, result, source, choice.name)


@st.fragment
def show_scan(run: ScanRun) -> None:
    import mcc_core

    r = run.result
    st.subheader(f"{run.source} — {run.model}")
    cols = st.columns(4)
    cols[0].metric("Positive patches", r.n_positive)
    cols[1].metric("Negative patches", r.n_negative)
    cols[2].metric("Background (not scored)", r.n_background)
    cols[3].metric("Scan time", f"{r.seconds:.2f} s", help=f"{r.method}, stride {r.stride_px} px")
    view = st.radio("View", _VIEWS, horizontal=True, key="scan_view")
    if view == _VIEWS[2]:
        picture = for_display(run.image)
    elif view == _VIEWS[3]:
        picture = for_display(mcc_core.render_heatmap(run.image, r))
    else:
        mode: Literal["grey", "tint"] = "grey" if view == _VIEWS[0] else "tint"
        picture = for_display(mcc_core.render_case_study(run.image, r, mode=mode))
    st.image(picture, caption=view, width="stretch")


def main() -> None:
    st.title("Scan a mammogram")
    image, res, source = image_source()
    # before the image's resolution is known, the bundled model offered is the coarsest's
    choice = state.pick_model("scan", resolution_um=res or synth.RESOLUTIONS_UM[-1],
                              suffixes=(".keras", ".h5"))
    if image is not None and res is not None and choice is not None:
        run_scan(image, res, source, choice)
    run = st.session_state.get(_RESULT)
    if run is not None:
        show_scan(run)


main()
