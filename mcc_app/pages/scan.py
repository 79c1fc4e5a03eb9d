"""Scan: a whole mammogram (uploaded PNG or synthetic) scored in 1 cm windows with a model, shown
as the papers' case-study view and as a probability heat map, with counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import streamlit as st

import synth
from mcc_app import _state as state
from mcc_app import for_display, read_png

_RESULT = "scan_result"
_VIEWS = ("Case study: negatives grey", "Case study: positives tinted", "Original",
          "Probability heat map")


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


def image_source() -> tuple[np.ndarray | None, int, str]:
    """The mammogram to scan (None after an error or before an upload), its pixel spacing
    and a description."""
    source = st.radio("Mammogram", ("Synthetic", "Upload a PNG"), horizontal=True,
                      key="scan_image")
    if source == "Synthetic":
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
    a, b = st.columns((3, 1))
    upload = a.file_uploader("Mammogram (PNG, 8 or 16 bit grey)", type=["png"],
                             key="scan_png")
    res = b.selectbox("Pixel spacing (µm)", synth.RESOLUTIONS_UM, index=1, key="scan_up_res")
    if upload is None:
        st.info("Upload a mammogram, or make a synthetic one.")
        return None, res, ""
    try:
        image = read_png(upload.getvalue(), upload.name)
    except ValueError as exc:
        state.show_error(exc)
        return None, res, ""
    return image, res, f"{upload.name} ({image.shape[0]} × {image.shape[1]} px)"


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
    choice = state.pick_model("scan", resolution_um=res, suffixes=(".keras", ".h5"))
    if image is not None and choice is not None:
        run_scan(image, res, source, choice)
    run = st.session_state.get(_RESULT)
    if run is not None:
        show_scan(run)


main()
