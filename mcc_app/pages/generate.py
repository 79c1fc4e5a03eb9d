"""Generate: every SceneConfig field as a control, a preview at 50/70/100 µm, sample patches of
both classes, dataset export and the scenario as JSON; optionally on the user's own MC-free
backgrounds (the scenario's MCs inserted into them, `synth.insert`) instead of synthetic
tissue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

import synth
from mcc_app import (
    Job,
    config_from_controls,
    draw_boxes,
    for_display,
    overlay_mask,
    read_scenario,
    unapplied,
)
from mcc_app import _controls as c
from mcc_app import _live as live
from mcc_app import _state as state

_PATCHES = state.GENERATE_VIEW  # (resolution, seed) last applied; survives other pages
_EXPORT_JOB = "export_job"
_LABELS: dict[str, str] = {"distribution": "Distribution", "acquisition": "Detector model",
                           "morphology_weights": "Morphologies", "material_weights": "Materials",
                           "cluster_min_count": "Cluster min count"}
# ^ the control's words for each field, for the "changed, not applied" line
_MC_COLUMNS = ["x_mm", "y_mm", "col_px", "row_px", "size_mm", "morphology", "material", "contrast",
               "thickness_mm", "dprime", "orientation_deg", "inside"]


def load_scenario_upload() -> None:
    """A scenario JSON restores the controls (once per uploaded file)."""
    upload = st.file_uploader("Restore a scenario (JSON)", type=["json"], key="scenario_upload",
                              help="A scenario.json downloaded here, or read by `mcc synth "
                                   "--config` and `mcc probe --scenario`.")
    if upload is None or st.session_state.get("scenario_upload_id") == upload.file_id:
        return
    st.session_state["scenario_upload_id"] = upload.file_id
    try:
        config = read_scenario(upload.getvalue(), upload.name)
    except ValueError as exc:
        state.show_error(exc)
        return
    state.set_scenario(config, controls=True)
    live.write_url()
    st.success(f"Scenario restored from {upload.name}.")


def slider(name: str, label: str) -> None:
    """The slider of a range (two handles) or scalar field; limits, step and help from synth."""
    _LABELS[name] = label
    st.slider(c.label(name, label), key=c.key(name), **c.widget_args(name, slider=True))


def weights(field: str, prefix: str) -> None:
    """One number input per option of weights field `field`; no upper cap but the config's."""
    args = c.widget_args(field)
    cols = st.columns(2)
    for k, name in enumerate(synth.field_spec(field).options):
        cols[k % 2].number_input(name.replace("_", " "), key=c.key(prefix + name), **args)


def detector_controls() -> None:
    st.toggle("Detector model (off: ideal image)", key=c.key("detector"),
              help="On: blur, quantum and electronic noise, quantisation of the detector "
                   "below; off: the ideal image.")
    st.selectbox("Converter", synth.field_spec("detector").options, key=c.key("acq_detector"),
                 help=synth.field_spec("detector").help)
    st.selectbox("Beam", synth.field_spec("beam").options, key=c.key("acq_beam"),
                 help=synth.field_spec("beam").help)
    st.selectbox("Output", synth.field_spec("output").options, key=c.key("acq_output"),
                 help=synth.field_spec("output").help)
    for name, label in (("blur_sigma_um", "Blur σ"), ("dose", "Dose"),
                        ("electronic_noise", "Electronic noise"),
                        ("energy_kev", "Energy (else the beam's)"),
                        ("scatter_to_primary", "Scatter-to-primary"),
                        ("heel_gradient", "Heel gradient")):
        _LABELS[name] = label
        on, number = st.columns((1, 3), vertical_alignment="bottom")
        on.checkbox("on", key=c.key(f"{name}_on"), help=f"Off: no {label.lower()}.")
        number.number_input(c.label(name, label), key=c.key(name), **c.widget_args(name))
    st.selectbox("Bit depth", c.BIT_DEPTHS, key=c.key("bit_depth"),
                 help=synth.field_spec("bit_depth").help,
                 format_func=lambda b: "none (float)" if b is None else f"{b} bit")


def optional(name: str, label: str) -> None:
    _LABELS[name] = label
    on, number = st.columns((1, 3), vertical_alignment="bottom")
    on.checkbox("on", key=c.key(f"{name}_on"), help=f"Off: no {label.lower()} rule.")
    number.number_input(c.label(name, label), key=c.key(name), **c.widget_args(name))


def physics_controls() -> None:
    for name, label in (("contrast_model", "Contrast model"), ("mc_shape", "MC shape"),
                        ("mc_count_distribution", "MC count distribution"),
                        ("texture", "Texture")):
        _LABELS[name] = label
        st.selectbox(label, synth.field_spec(name).options, key=c.key(name),
                     help=synth.field_spec(name).help)
    slider("breast_thickness_range_mm", "Breast thickness")
    slider("mc_count_mean", "Mean MC count (before truncation)")
    slider("pleomorphism", "Pleomorphism")
    slider("curvature_range_per_mm", "Curvature of linear paths")
    optional("mc_min_spacing_mm", "Least MC spacing")
    optional("label_dprime_threshold", "Label only MCs with d′ ≥")


def scenario_form() -> None:
    with st.form("scenario_form"):
        tabs = st.tabs(["Cluster", "MCs", "Tissue", "Detector", "Physics", "Weights",
                        "Patches"])
        with tabs[0]:
            st.selectbox("Distribution", (c.MIXED, *synth.DISTRIBUTIONS),
                         key=c.key("distribution"), help=synth.field_spec("distribution").help)
            slider("mc_count_range", "MCs per cluster")
            st.number_input("Cluster min count (label 1 from)", key=c.key("cluster_min_count"),
                            **c.widget_args("cluster_min_count"))
            slider("cluster_extent_mm", "Cluster extent")
            slider("orientation_range_deg", "Orientation")
            _LABELS["placement"] = "Placement"
            st.selectbox("Placement", c.PLACEMENTS, key=c.key("placement"),
                         help=synth.field_spec("placement").help)
            slider("margin_mm", "Margin")
        with tabs[1]:
            slider("mc_size_range_mm", "MC size")
            slider("contrast_range", "Contrast")
            slider("positive_fraction", "Positive fraction")
            slider("hard_negative_fraction", "Hard-negative fraction (of negatives)")
        with tabs[2]:
            slider("beta_range", "β (1/f^β spectrum)")
            slider("density_range", "Density (glandular fraction)")
            slider("lumpy_strength", "Lumpy background")
        with tabs[3]:
            detector_controls()
        with tabs[4]:
            physics_controls()
        with tabs[5]:
            st.caption("Distributions (used by a weighted mix)")
            weights("distribution", "dist_")
            st.caption("Morphologies")
            weights("morphology_weights", "morph_")
            st.caption("MC materials (attenuation model)")
            weights("material_weights", "mat_")
        with tabs[6]:
            st.selectbox("Resolution (µm per pixel)", synth.RESOLUTIONS_UM, key="gen_resolution",
                         help=f"Pixel spacing of the patches in µm: {c.RESOLUTION_WORDS} "
                              f"({c.PATCH_WORDS} px for the 1 cm patch).")
            st.number_input("Seed", 0, 2**31 - 1, key="gen_seed",
                            help="Dataset seed (0 – 2³¹−1): patch i of a seed is always the "
                                 "same scene.")
        submitted = st.form_submit_button("Apply", type="primary",
                                          help="The preview, samples and exports use the "
                                               "scenario as last applied.")
    if submitted:  # the resolution and seed are applied with the scenario, or not at all
        try:
            config = config_from_controls(st.session_state.to_dict())
        except (ValueError, TypeError) as exc:
            state.show_error(exc, "Scenario not applied: ")
        else:
            state.set_scenario(config, controls=False)
            st.session_state[_PATCHES] = (int(st.session_state.gen_resolution),
                                          int(st.session_state.gen_seed))
        live.write_url()


def unapplied_note() -> None:
    """Name the controls whose values differ from the applied scenario (a refused Apply, or
    a restored file not applied yet)."""
    names = [_LABELS.get(f, f.replace("_", " ")) for f in
             unapplied(st.session_state.to_dict(), state.scenario())]
    res, seed = (int(v) for v in st.session_state[_PATCHES])
    if st.session_state.get("gen_resolution", res) != res:
        names.append("Resolution")
    if st.session_state.get("gen_seed", seed) != seed:
        names.append("Seed")
    if names:
        st.warning(f"Changed, not applied: {', '.join(names)}. The preview, the MC table and "
                   "the exports show the scenario as last applied.", icon=":material/edit:")


def scene_caption(row: dict) -> str:
    """One patch's scene in words: its tissue (synthetic, or the user's background) and MCs."""
    if "background" in row:
        tissue = (f"on {row['background']} (crop at row {int(row['row_px'])}, column "
                  f"{int(row['col_px'])} px; {row['intent']} image, noise σ "
                  f"{row['noise_sd']:.4f})")
    else:
        tissue = f"density {row['density']:.2f}, β {row['beta']:.2f}"
    return (f"{row['kind'].replace('_', ' ')} scene, {int(row['n_mcs'])} MCs "
            f"({int(row['n_inside'])} inside), distribution {row['distribution'] or '—'}, "
            f"{tissue}.")


@st.fragment
def preview_panel(config: synth.SceneConfig, seed: int, resolution: int,
                  backgrounds: synth.Backgrounds | None) -> None:
    st.subheader("Preview")
    if "preview_index" not in st.session_state:  # start on a patch with a cluster
        labels = state.samples(config.to_json(), resolution, seed, 32, backgrounds).labels
        st.session_state.preview_index = next((i for i, y in enumerate(labels) if y == 1), 0)
    a, b = st.columns(2)
    index = a.number_input("Patch index", 0, 10**6, key="preview_index",
                           help="patch i of the dataset with this seed"
                                + (", at every resolution" if backgrounds is None else ""))
    overlay = b.toggle("Show MC mask", key="preview_mask",
                       help="Red: the pixels where an MC reaches half its peak.")
    if backgrounds is None:
        batches = state.preview(config.to_json(), seed, index)
        chosen = batches[synth.RESOLUTIONS_UM.index(resolution)]
    else:  # the backgrounds are at one resolution: the patch at that one
        chosen = state.one_patch(config.to_json(), resolution, seed, index, backgrounds)
        batches = [chosen]
    cols = st.columns(3)
    for col, batch in zip(cols, batches, strict=False):
        image = batch.images[0]
        shown = overlay_mask(image, batch.masks[0]) if overlay else image
        where = (f" · {batch.patches['background'].iloc[0]}" if backgrounds is not None
                 else "")
        col.image(shown, width="stretch", output_format="PNG",
                  caption=f"{batch.resolution_um} µm · {image.shape[0]} px · label "
                          f"{int(batch.labels[0])}{where}")
    st.caption(f"{scene_caption(chosen.patches.iloc[0].to_dict())} MC table at {resolution} µm:")
    st.dataframe(chosen.calcifications[_MC_COLUMNS], hide_index=True, height=220)


@st.fragment
def samples_panel(config: synth.SceneConfig, seed: int, resolution: int,
                  backgrounds: synth.Backgrounds | None) -> None:
    st.subheader(f"Sample patches at {resolution} µm")
    batch = state.samples(config.to_json(), resolution, seed, 32, backgrounds)
    patches = batch.patches
    for label in (1, 0):
        picked = [i for i in range(len(batch)) if batch.labels[i] == label][:6]
        if not picked:
            st.caption(f"No class-{label} patch in the first 32 of this scenario.")
            continue
        st.image([batch.images[i] for i in picked], width=110, output_format="PNG",
                 caption=[f"class {label} · #{i} · {int(patches['n_mcs'].iloc[i])} MCs"
                          + (f" · {patches['background'].iloc[i]}" if backgrounds is not None
                             else "") for i in picked])


_FINDING_COLUMNS = ["finding", "kind", "label", "distribution", "x_mm", "y_mm", "extent_mm",
                    "n_calcifications", "n_boxes"]
_OUTLINES = {"mcc": ("cyan", "MCC boxes (class 1)", (0, 255, 255)),
             "lookalike": ("amber", "benign look-alikes (class 0)", (255, 200, 0)),
             "hard": ("magenta", "hard negatives of 1–2 MCs (class 0)", (255, 0, 255))}


@st.fragment
def mammogram_panel(config: synth.SceneConfig) -> None:
    st.subheader("A whole anatomical mammogram")
    if not st.toggle("Show a synthetic mammogram with anatomy", key="gen_mammo",
                     help=f"A breast phantom (24 × 30 cm at {state.MAMMOGRAM_PREVIEW_UM} µm, "
                          "about 2 s) with the scenario's clusters at their BI-RADS scale and "
                          "benign look-alikes; the same as mcc synth mammogram --anatomy."):
        return
    a, b, d = st.columns(3)
    view = a.selectbox("View", synth.VIEWS, key="gen_mammo_view",
                       help="CC: cranio-caudal; MLO: medio-lateral oblique, with the pectoral "
                            "muscle as a dense wedge at the chest wall.")
    density = b.selectbox("Density category", synth.DENSITY_CATEGORIES, index=1,
                          key="gen_mammo_density",
                          help="BI-RADS breast density: a almost entirely fatty, b scattered "
                               "fibroglandular, c heterogeneously dense, d extremely dense.")
    seed = d.number_input("Mammogram seed", 0, 2**31 - 1, 0, key="gen_mammo_seed",
                          help="Every random draw of the phantom and its findings.")
    kinds = st.multiselect("Benign look-alikes", synth.LOOKALIKE_KINDS,
                           default=list(synth.LOOKALIKE_KINDS), key="gen_mammo_lookalikes",
                           help="Hard negatives drawn into the breast, each labelled 0 with a "
                                "kind of its own in the findings table.")
    try:
        mammogram = state.anatomical_mammogram(config.to_json(), int(seed), view, density,
                                               tuple(kinds))
    except ValueError as exc:
        st.error(" ".join(str(exc).split()))
        return
    findings = mammogram.findings
    assert findings is not None  # an anatomical mammogram always has its findings table
    grey = np.rint(mammogram.image * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    lookalike = findings["kind"].isin(synth.LOOKALIKE_KINDS)
    hard = (findings["label"] == 0) & ~lookalike
    for boxes, key in ((findings[hard], "hard"), (findings[lookalike], "lookalike"),
                       (mammogram.annotations, "mcc")):
        rgb = draw_boxes(rgb, boxes, color=_OUTLINES[key][2], width=4)
    st.image(for_display(rgb), width="stretch", output_format="PNG",
             caption=f"{view}, density {density}, {state.MAMMOGRAM_PREVIEW_UM} µm · "
                     + ", ".join(f"{colour}: {what}" for colour, what, _ in _OUTLINES.values()))
    st.caption(f"{len(mammogram.annotations)} MCC boxes (groups of at least "
               f"{config.cluster_min_count} MCs within 1 cm), {int(lookalike.sum())} "
               f"look-alikes, {int(hard.sum())} hard negatives. Findings:")
    st.dataframe(findings[[c for c in _FINDING_COLUMNS if c in findings.columns]],
                 hide_index=True, height=220)


EXPORT_FOLDER = "~/mcc-data/synth"  # the export's default: under the home, never the repository


def export_message(exc: BaseException) -> str:
    """A writer's refusal in the words of this form's controls (not its Python arguments)."""
    text = " ".join(str(exc).split())
    return (text.replace("pass overwrite=True (CLI: --overwrite) to replace it",
                         "tick “Replace another dataset in this folder” to replace it")
            .replace("`out_dir`", "“Output folder”").replace("out_dir=", "")
            .replace("`n`", "“Patches”"))


def export_panel(config: synth.SceneConfig, seed: int, resolution: int,
                 backgrounds: synth.Backgrounds | None) -> None:
    st.subheader("Export")
    st.download_button("Download the scenario (JSON)", config.to_json(),
                       file_name="scenario.json", mime="application/json", on_click="ignore",
                       help="The applied scenario as scenario.json: `mcc synth --config` and "
                            "`mcc probe --scenario` read it, and it restores these controls.")
    with st.form("export_form"):
        a, b, d = st.columns(3)
        out = a.text_input("Output folder", EXPORT_FOLDER, key="export_out",
                           help="A new or empty folder (~ is your home); with all three "
                                "resolutions, one sub-folder each ("
                                + ", ".join(f"{r}um" for r in synth.RESOLUTIONS_UM) + ").")
        n = b.number_input("Patches", 1, 1_000_000, 200, key="export_n",
                           help="Patches per resolution.")
        bits = d.selectbox("Bit depth", (8, 16), key="export_bits",
                           help="PNG bits per pixel: 8 or 16.")
        every = st.checkbox("At all three resolutions, from the same scenes",
                            key="export_all", disabled=backgrounds is not None,
                            help="As `mcc synth --resolution all`; not with your backgrounds, "
                                 "which are at one resolution.")
        masks = st.checkbox("Also write MC masks", key="export_masks",
                            help="masks/000001.png …: the pixels of each patch's MCs.")
        overwrite = st.checkbox("Replace another dataset in this folder", key="export_overwrite",
                                help="Off: a folder holding another dataset is refused.")
        go = st.form_submit_button("Write the dataset",
                                   help="Writes the patches of the applied scenario and seed "
                                        "on its own thread, with progress and Stop; a stopped "
                                        "or interrupted run resumes when written again.")
    export_outcome()
    if live.running(_EXPORT_JOB) is not None:
        return
    if not go:
        return
    if not out.strip():
        st.error("Dataset not written: “Output folder” is blank; name a folder.")
        return
    root = Path(out.strip()).expanduser()
    targets = ([(r, root / f"{r}um") for r in synth.RESOLUTIONS_UM]
               if every and backgrounds is None else [(resolution, root)])

    def work(job: Job) -> str:
        manifest: dict = {}
        job.info.update(folder=str(root), complete=[], many=len(targets) > 1)
        for k, (res, folder) in enumerate(targets):
            def advance(done: int, k: int = k, res: int = res) -> None:
                job.step(k * int(n) + done, len(targets) * int(n), note=f"{res} µm")

            try:
                manifest = synth.write_dataset(
                    config, folder, int(n), resolution_um=res, seed=seed, bit_depth=bits,
                    masks=masks, overwrite=overwrite, progress=advance,
                    backgrounds=backgrounds if res == resolution else None)
            except (ValueError, TypeError, OSError) as exc:
                raise ValueError(f"Dataset not written: {export_message(exc)}") from None
            job.info["complete"].append(folder.name)
        into = f" inserted into your {len(backgrounds)} backgrounds" if backgrounds else ""
        where = (f"{root} ({', '.join(f.name for _, f in targets)})" if len(targets) > 1
                 else str(root))
        at = (", ".join(str(r) for r, _ in targets[:-1]) + f" and {targets[-1][0]}"
              if len(targets) > 1 else str(resolution))
        return (f"Wrote {manifest['n']} patches at {at} µm{into} to {where} "
                "(manifest.json lists every file).")

    live.launch(_EXPORT_JOB, "export", work, total=len(targets) * int(n), unit="patch",
                stop_help="Stops after the chunk being written: what is written stays, and "
                          "writing again with the same settings resumes there.")
    live.running(_EXPORT_JOB)


def stopped_message(job: Job) -> str:
    """What a stopped export left: `synth.write_dataset` keeps every finished chunk, so the
    folder is partly written and writing again resumes; which folders are complete."""
    info = job.info
    complete = info.get("complete", [])
    if info.get("many"):
        done = (f"complete: {', '.join(complete)}" if complete
                else "no resolution's folder is complete yet")
        state_of = f"{info['folder']} is partly written ({done})"
    elif complete:
        state_of = f"{info['folder']} is complete (the stop came as the last chunk was written)"
    else:
        state_of = f"{info.get('folder', 'the folder')} is partly written"
    return (f"Export stopped after {job.elapsed():.0f} s: {state_of}. Press “Write the "
            "dataset” again with the same settings to resume where it stopped (the finished "
            "chunks are kept).")


def export_outcome() -> None:
    """The finished export's line (once): written, refused, or stopped."""
    job = st.session_state.get(_EXPORT_JOB)
    if job is None or job.running or job.collected:
        return
    job.collected = True
    if job.cancelled:
        st.warning(stopped_message(job))
    elif isinstance(job.error, ValueError) and str(job.error).startswith("Dataset not"):
        st.error(str(job.error))
    elif job.error is not None:
        state.show_error(job.error, "Dataset not written: ")
    else:
        st.success(job.result)


def main() -> None:
    st.title("Generate synthetic patches")
    st.caption("What you are looking at: one synthetic 1 cm patch of the scenario at 50, 70 "
               "and 100 µm (the same scene), its MCs' table, and samples of both classes. Set "
               "the scenario on the left and press Apply; the link in the address bar "
               "restores it.")
    with st.expander("Restore a scenario from a JSON file"):
        load_scenario_upload()
    state.ensure_controls()
    resolution, seed = st.session_state.setdefault(_PATCHES, (c.DEFAULT_RESOLUTION_UM, 0))
    st.session_state.setdefault("gen_resolution", resolution)
    st.session_state.setdefault("gen_seed", seed)
    left, right = st.columns((2, 3), gap="large")
    with left:
        scenario_form()
        resolution, seed = (int(v) for v in st.session_state[_PATCHES])
        backgrounds, usable = state.pick_backgrounds("gen", resolution_um=resolution)
    config = state.scenario()
    with right:
        unapplied_note()
    if backgrounds is not None:
        st.info(f"The patches below are the scenario's MCs inserted into your "
                f"{state.describe_backgrounds(backgrounds)} (synth.insert), not synthetic "
                "tissue.", icon=":material/layers:")
    elif not usable:
        return
    with right:
        preview_panel(config, seed, resolution, backgrounds)
    samples_panel(config, seed, resolution, backgrounds)
    if backgrounds is None:
        mammogram_panel(config)
    export_panel(config, seed, resolution, backgrounds)


main()
