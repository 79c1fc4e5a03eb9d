"""Scan: a whole mammogram (an uploaded PNG, TIFF or DICOM at any pixel spacing, or a synthetic
one) brought to the model's resolution and scored in 1 cm windows with a model, shown as the
papers' case-study view and as a probability heat map, with counters read at any threshold
without a rescan, the true cluster boxes when known, a full-resolution zoom, and the four files
`mcc scan` writes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import streamlit as st

import synth
from mcc_app import (
    IMAGE_SUFFIXES,
    Job,
    colour_bar,
    draw_boxes,
    for_display,
    model_caption,
    read_upload,
)
from mcc_app import _controls as c
from mcc_app import _live as live
from mcc_app import _state as state

_RESULT, _JOB = "scan_result", "scan_job"
_VIEWS = ("Case study: negatives grey", "Case study: positives tinted", "Original",
          "Probability heat map")
_UPLOAD = "Upload an image"
_ZOOMS = (1, 2, 4, 8, 16)
_SIDE = 1600  # the longest side of a picture sent to the browser


@dataclass(frozen=True)
class Source:
    """The mammogram to scan, at the model's resolution, and what is known of it."""

    image: np.ndarray
    resolution_um: int
    label: str
    boxes: pd.DataFrame | None  # true cluster boxes (X1, Y1, X2, Y2) in `image`'s pixels
    fields: dict[str, Any]  # `mcc_core.scanning.scan_summary`'s, but the model and stride


@dataclass(frozen=True)
class ScanRun:
    image: np.ndarray
    result: Any  # mcc_core.ScanResult
    source: str
    model: str
    boxes: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    # the last pictures drawn (by what each depends on) and the last files, bounded
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def remember(self, key: Any, make: Any, *, keep: int) -> Any:
        """``make()`` memoised under `key`, keeping the last `keep` of its kind (key[0])."""
        if key in self.memo:
            self.memo[key] = self.memo.pop(key)  # the newest again
            return self.memo[key]
        mine = [k for k in self.memo if k[0] == key[0]]
        for old in mine[:max(len(mine) - keep + 1, 0)]:
            del self.memo[old]
        self.memo[key] = make()
        return self.memo[key]

    def files(self, threshold: float, mode: Literal["grey", "tint"]) -> dict[str, bytes]:
        """The four files `mcc scan --threshold T --mode M` writes for this scan."""
        import mcc_core

        return self.remember(  # type: ignore[no-any-return]
            ("files", float(threshold), mode),
            lambda: mcc_core.scanning.render_scan_files(
                self.image, self.result.at_threshold(threshold), mode=mode,
                summary=self.summary), keep=1)


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


def synthetic_source() -> Source | None:
    a, b, d, e = st.columns(4)
    res = a.selectbox("Pixel spacing (µm)", synth.RESOLUTIONS_UM,
                      index=synth.RESOLUTIONS_UM.index(c.DEFAULT_RESOLUTION_UM), key="scan_res",
                      help="The synthetic mammogram's pixel spacing: 50, 70 or 100 µm, the "
                           "bundled model's of the same resolution scans it.")
    seed = b.number_input("Seed", 0, 2**31 - 1, 0, key="scan_seed",
                          help="Mammogram seed (0 – 2³¹−1).")
    height = d.number_input("Height (mm)", 20, 400, 240, key="scan_h",
                            help="Image height, 20 – 400 mm.")
    width = e.number_input("Width (mm)", 20, 400, 300, key="scan_w",
                           help="Image width, 20 – 400 mm.")
    try:
        mammogram = synthetic_mammogram(state.scenario().to_json(), res, int(seed),
                                        (float(height), float(width)))
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "No synthetic mammogram: ")
        return None
    label = (f"synthetic mammogram, seed {seed}, {height} × {width} mm, "
             f"{len(mammogram.annotations)} annotated clusters")
    fields = {"image": label, "pixels": mammogram.image, "image_format": "synthetic",
              "spacing_um": float(res)}
    return Source(mammogram.image, res, label, mammogram.annotations, fields)


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


def annotation_boxes(name: str, ready: synth.Resampled) -> pd.DataFrame | None:
    """The uploaded annotations CSV's boxes of image `name` (`mcc_core.read_annotations`,
    the format of `mcc extract`), in the pixels of the resampled image."""
    import mcc_core

    upload = st.file_uploader("Annotations CSV (optional): image, X1, Y1, X2, Y2 per box, in "
                              "the file's own pixels", type=["csv", "txt"], key="scan_boxes",
                              help="The format of `mcc extract` and synthetic mammogram sets; "
                                   "its boxes are drawn on the views.")
    if upload is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mcc_boxes_") as tmp:
        path = Path(tmp) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        try:
            table = mcc_core.read_annotations(path)
        except ValueError as exc:
            state.show_error(exc, paths={str(path): upload.name})
            return None
    mine = table[table["image"] == name]
    if mine.empty:
        st.info(f"{upload.name} has no box for {name} (it names "
                f"{', '.join(sorted(set(table['image']))[:3])}…).")
        return None
    return mcc_core.scanning.scale_boxes(mine, ready.scale, ready.pixels.shape)


def upload_source() -> Source | None:
    upload = st.file_uploader("Mammogram: PNG or TIFF (8 or 16 bit grey), or DICOM",
                              type=[s.lstrip(".") for s in IMAGE_SUFFIXES], key="scan_file",
                              help="Read as `mcc scan` reads it: colour images are refused, "
                                   f"at most {synth.io.MAX_PIXELS:,} pixels.")
    if upload is None:
        st.info("Upload a mammogram, or make a synthetic one.")
        return None
    digest = state.uploads_digest([upload])
    try:
        grey = uploaded_image(digest, upload)
    except ValueError as exc:
        state.show_error(exc)
        return None
    spacing, resolution = spacing_input(grey, digest)
    if spacing is None:
        problem = grey.spacing_problem or f"is a {grey.format} file, which declares no spacing"
        st.info(f"{upload.name} {problem}: enter its pixel spacing (µm) to scan it.")
        return None
    try:
        ready = at_model_resolution(digest, float(spacing), resolution, upload)
    except ValueError as exc:
        state.show_error(exc)
        return None
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
    fields = {"image": upload.name, "pixels": grey.pixels, "image_format": grey.format,
              "spacing_um": ready.spacing_um, "resampled": ready.resampled,
              "scale": ready.scale}  # as `mcc scan` run in the file's folder writes them
    return Source(ready.pixels, ready.resolution_um, label, annotation_boxes(upload.name, ready),
                  fields)


def image_source() -> Source | None:
    """The mammogram to scan at the model's resolution (None after an error or before an
    upload)."""
    source = st.radio("Mammogram", ("Synthetic", _UPLOAD), horizontal=True, key="scan_image",
                      help="A synthetic mammogram of the session's scenario (its clusters' "
                           "boxes known), or your own image.")
    if source == "Synthetic":
        return synthetic_source()
    return upload_source()


def run_scan(source: Source | None, choice: state.ModelChoice | None) -> None:
    """The stride and the Scan button (kept, disabled, while the image or model is not
    usable); the scan runs on its own thread with progress and a Stop button."""
    import mcc_core

    model = state.keras_for(choice) if choice is not None and source is not None else None
    if choice is not None and not choice.is_keras:
        st.error("Scanning needs a Keras model (.keras or .h5).")
    predictor = state.predictor_for(choice) if model is not None and choice is not None else None
    if predictor is not None:
        st.caption(model_caption(predictor, bundled=choice is not None
                                 and choice.bundled is not None))
    stride = st.number_input("Stride (mm)", 0.5, 10.0, 1.5, step=0.5, key="scan_stride",
                             help="Step between 1 cm windows, 0.5 – 10 mm (the CLI's 1.5).")
    if live.running(_JOB) is not None:
        return
    if not st.button("Scan", type="primary", key="scan_go", disabled=model is None,
                     help="Scores every 1 cm window with the model, on its own thread: "
                          "progress and Stop appear here, other pages stay usable."):
        return
    assert source is not None and choice is not None  # the button is disabled without them
    res, image = source.resolution_um, source.image
    name = choice.name
    model_label = mcc_core.scanning.scan_model_label(name, bundled=choice.bundled is not None)

    def work(job: Job) -> ScanRun:
        result = mcc_core.scan(model, image, resolution_um=res, stride_mm=float(stride),
                               progress=lambda done, total: job.step(done, total))
        summary = mcc_core.scanning.scan_summary(**source.fields, model=model_label,
                                                 stride_mm=float(stride))
        return ScanRun(image, result, source.label, name, source.boxes, summary)

    live.launch(_JOB, "scan", work, unit="window",
                stop_help="Stops at the next batch of windows; nothing is kept of this scan.")
    live.running(_JOB)


def picture(run: ScanRun, result: Any, view: str, boxes: bool) -> np.ndarray:
    """The view at full resolution, memoised by what it depends on (the threshold only for
    the case studies), the last three kept."""
    import mcc_core

    def make() -> np.ndarray:
        if view == _VIEWS[2]:
            rgb = np.repeat(for_display(run.image, max_side=10**9)[..., None], 3, axis=-1)
        elif view == _VIEWS[3]:
            rgb = mcc_core.render_heatmap(run.image, result)
        else:
            rgb = mcc_core.render_case_study(run.image, result, mode=_mode(view))
        if boxes and run.boxes is not None:
            rgb = draw_boxes(rgb, run.boxes, width=max(2, min(rgb.shape[:2]) // 400))
        return rgb

    threshold = result.threshold if view in _VIEWS[:2] else None
    return run.remember(("picture", view, threshold, boxes), make,  # type: ignore[no-any-return]
                        keep=3)


def _mode(view: str) -> Literal["grey", "tint"]:
    """The case-study mode of a view (the tinted one's, else the paper's grey)."""
    return "tint" if view == _VIEWS[1] else "grey"


def zoomed(rgb: np.ndarray) -> tuple[np.ndarray, str]:
    """The zoom controls and the crop they select, at full resolution from 4× on."""
    a, b, d = st.columns(3)
    zoom = a.select_slider("Zoom", _ZOOMS, key="scan_zoom", format_func=lambda z: f"{z}×",
                           help=f"1×: the whole image, shrunk to at most {_SIDE} px a side; a crop "
                                "is shown at the same cap, so it is pixel for pixel once it "
                                "fits (about 4× for a full-field mammogram) and single MCs are "
                                "visible.")
    if zoom == 1:
        return for_display(rgb, max_side=_SIDE), "whole image"
    cx = b.slider("Centre across (%)", 0, 100, 50, key="scan_cx",
                  help="Where the crop is centred, from the left edge (0) to the right (100).")
    cy = d.slider("Centre down (%)", 0, 100, 50, key="scan_cy",
                  help="Where the crop is centred, from the top (0) to the bottom (100).")
    height, width = rgb.shape[:2]
    h, w = max(height // zoom, 1), max(width // zoom, 1)
    top = min(max(height * cy // 100 - h // 2, 0), height - h)
    left = min(max(width * cx // 100 - w // 2, 0), width - w)
    crop = rgb[top:top + h, left:left + w]
    scale = ("pixel for pixel" if max(h, w) <= _SIDE
             else f"shrunk to {_SIDE} px a side; zoom in more for pixel for pixel")
    return (for_display(crop, max_side=_SIDE),
            f"{zoom}× crop: rows {top}–{top + h}, columns {left}–{left + w}, {scale}")


@st.fragment
def show_scan(run: ScanRun) -> None:
    import mcc_core

    st.subheader(f"{run.source} — {run.model}")
    threshold = st.slider("Threshold", 0.0, 1.0, float(run.result.threshold), step=0.01,
                          key="scan_threshold",
                          help="A window is positive at or above this probability (0 – 1); the "
                               "counters and views follow at once, without a rescan.")
    r = run.result.at_threshold(threshold)
    cols = st.columns(4)
    cols[0].metric("Positive patches", r.n_positive)
    cols[1].metric("Negative patches", r.n_negative)
    cols[2].metric("Background (not scored)", r.n_background)
    cols[3].metric("Scan time", f"{r.seconds:.2f} s", help=f"{r.method}, stride {r.stride_px} px")
    if r.n_positive + r.n_negative == 0:
        st.warning("Every window is background (more than half its pixels exactly black): "
                   "nothing was scored. Is the image all black, or its breast too small?")
    a, b = st.columns((4, 1), vertical_alignment="bottom")
    view = a.radio("View", _VIEWS, horizontal=True, key="scan_view",
                   help="The case study greys the negative windows and keeps (or tints) the "
                        "positive ones; the heat map colours each pixel by its highest window "
                        "probability; Original is the image as scanned.")
    boxes = b.toggle("True cluster boxes", True, key="scan_show_boxes",
                     disabled=run.boxes is None,
                     help="Cyan outlines: the known clusters (synthetic mammogram, or your "
                          "annotations CSV).")
    shown, where = zoomed(picture(run, r, view, boxes and run.boxes is not None))
    st.image(shown, caption=f"{view} · {where}", width="stretch")
    if view == _VIEWS[3]:
        st.image(colour_bar("inferno"), width="stretch",
                 caption="Heat: the highest window probability covering each pixel, 0 (left) "
                         "to 1 (right), blended over the image.")
    mode = _mode(view)

    def data(name: str) -> Any:
        return lambda: run.files(threshold, mode)[name]

    st.caption(f"The files `mcc scan --threshold {threshold:g} --mode {mode}` writes (the "
               "case study in the mode shown, grey unless the tinted view is shown):")
    cols = st.columns(4)
    for col, name in zip(cols, mcc_core.scanning.SCAN_FILES, strict=True):
        col.download_button(name, data(name), file_name=name, on_click="ignore",
                            key=f"scan_file_{name}",
                            help=f"{name} of this scan at threshold {threshold:g}, as "
                                 "`mcc scan` writes it.")
    st.session_state["scan_summary"] = {**run.summary, **r.to_dict()}


def loaded_scan() -> None:
    """The scan summary of a loaded session file, while this session has no scan."""
    summary = st.session_state.get(live.LOADED_SCAN)
    if summary is None or st.session_state.get(_RESULT) is not None:
        return
    st.subheader("Last scan, from a loaded session")
    st.caption("Its scan.json as saved (the session file holds no image, so no views); a "
               "scan here replaces it.")
    st.dataframe(pd.DataFrame({"field": list(summary),
                               "value": [str(v) for v in summary.values()]}),
                 hide_index=True)


def main() -> None:
    st.title("Scan a mammogram")
    st.caption("What you are looking at: every 1 cm window of a whole mammogram scored by a "
               "model (probability of an MC cluster); the case study greys the negatives, the "
               "heat map colours each window's probability, the cyan boxes are the true "
               "clusters when known.")
    job = live.finished(_JOB)
    if job is not None and job.result is not None:
        st.session_state[_RESULT] = job.result
    live.show_notices()
    source = image_source()
    # before the image's resolution is known, the bundled model offered is the default's
    res = source.resolution_um if source is not None else c.DEFAULT_RESOLUTION_UM
    choice = state.pick_model("scan", resolution_um=res, suffixes=(".keras", ".h5"))
    run_scan(source, choice)
    run = st.session_state.get(_RESULT)
    if run is not None:
        show_scan(run)
    else:
        loaded_scan()


main()
