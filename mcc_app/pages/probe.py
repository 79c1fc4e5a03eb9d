"""Probe: a robustness probe of a bundled or uploaded model on the session's scenario —
metric curves with CI bands, behavioural tests, the cross-resolution matrix, the worst errors,
the explainability views, and the equivalent `mcc probe` command; the clean condition and the
sweeps optionally on the user's own MC-free backgrounds."""

from __future__ import annotations

from typing import Any

import streamlit as st

import synth
from mcc_app import (
    METRIC_NAMES,
    SWEEP_SUGGESTIONS,
    Job,
    ProbeSettings,
    comparison_chart,
    cross_resolution_matrix,
    model_caption,
    parse_values,
    probe_command,
    sweep_chart,
)
from mcc_app import _live as live
from mcc_app import _state as state
from mcc_app._views import SWEEP_METRICS

_NO_SWEEP = "(none)"
_JOB, _COMPARE_JOB = live.PROBE_JOB, live.COMPARE_JOB
_TILES = ("accuracy", "recall", "specificity", "roc_auc")
_FOLDER = "negatives"  # where the exported `mcc probe` command expects the backgrounds


def settings_form(choice: state.ModelChoice, backgrounds: synth.Backgrounds | None
                  ) -> tuple[ProbeSettings, bool]:
    with st.form("probe_form"):
        a, b, d = st.columns(3)
        parameter = a.selectbox("Sweep", (*SWEEP_SUGGESTIONS, _NO_SWEEP), key="probe_param",
                                help="The scenario property set to each value in turn, on the "
                                     "same scenes (paired conditions).")
        text = b.text_input("Values (blank: suggested)", key="probe_values",
                            help="Numbers or names, in the property's unit; suggested: "
                                 + "; ".join(f"{k}: {v}" for k, v in SWEEP_SUGGESTIONS.items()))
        n = d.number_input("Patches per condition", 8, 5000, 200, step=8, key="probe_n",
                           help="Patches of each condition (8 – 5000); the clean condition "
                                "too. More: narrower intervals, longer runs.")
        a, b, d = st.columns(3)
        seed = a.number_input("Seed", 0, 2**31 - 1, 0, key="probe_seed",
                              help="Dataset seed (0 – 2³¹−1): the same seed, the same patches.")
        boot = b.number_input("Bootstrap resamples", 100, 5000, 200, step=50, key="probe_boot",
                              help="Resamples of each 95 % interval (100 – 5000).")
        behaviour = d.checkbox("Behavioural tests", True, key="probe_behaviour",
                               help="Minimum-functionality, invariance and direction tests.")
        cross = d.checkbox("Cross-resolution matrix", True, key="probe_cross",
                           help="The same scenes at 50, 70 and 100 µm, resampled to the "
                                "model's input.")
        limits = d.checkbox("Failure thresholds (slower)", False, key="probe_thresholds",
                            help="Per positive scene, the least contrast at which it is found.")
        go = st.form_submit_button("Run the probe", type="primary",
                                   help="Runs on its own thread, stage by stage, with "
                                        "progress and Stop; other pages stay usable.")
    sweeps: list[tuple[str, list[Any]]] = []
    if parameter != _NO_SWEEP:
        sweeps = [(parameter, parse_values(text or SWEEP_SUGGESTIONS[parameter]))]
    spacing = st.session_state.get("probe_negatives_spacing")  # pick_backgrounds("probe")
    settings = ProbeSettings(
        model=None if choice.bundled else choice.name, resolution_um=choice.bundled or 0,
        sweeps=sweeps, n=int(n), seed=int(seed), n_bootstrap=int(boot), behaviour=behaviour,
        cross_resolution=cross, thresholds=limits,
        backgrounds=None if backgrounds is None else _FOLDER,
        spacing_um=None if backgrounds is None or spacing is None else float(spacing))
    return settings, go


def check_sweeps(settings: ProbeSettings, config: synth.SceneConfig,
                 backgrounds: synth.Backgrounds | None) -> None:
    """Refuse bad sweep values, and sweeps that cannot change patches inserted into the
    user's backgrounds, before any work."""
    import evalkit

    for name, values in settings.sweeps:
        evalkit.check_background_sweep(name, backgrounds)
        for value in values:
            evalkit.condition_config(config, name, value)


def _stages(job: Job) -> Any:
    """`evalkit`'s stage names as the job's progress (a stop takes effect between stages)."""
    return job.stage


_STOP_HELP = ("The probe reports by stage (clean metrics, each sweep, each test): Stop takes "
              "effect when the stage under way ends; nothing is kept of this run.")


def run(choice: state.ModelChoice, predictor: Any, settings: ProbeSettings,
        config: synth.SceneConfig, backgrounds: synth.Backgrounds | None) -> None:
    """Start the probe on its own thread: it goes on while the user visits other pages."""
    import evalkit

    check_sweeps(settings, config, backgrounds)
    stages = (1 + len(settings.sweeps) + settings.behaviour + settings.cross_resolution
              + settings.thresholds)
    run_id = st.session_state.get("probe_counter", 0) + 1
    st.session_state["probe_counter"] = run_id

    def work(job: Job) -> state.ProbeRun:
        results = evalkit.run_probe(
            predictor, config, n=settings.n, seed=settings.seed, sweeps=settings.sweeps,
            behaviour=settings.behaviour, resolutions=settings.cross_resolution,
            thresholds=settings.thresholds, n_bootstrap=settings.n_bootstrap,
            progress=_stages(job), backgrounds=backgrounds)
        return state.ProbeRun(results, settings, config, choice, run_id)

    live.launch(_JOB, f"probe #{run_id}", work, total=stages, unit="stage",
                stop_help=_STOP_HELP)


def show_results(probe: state.ProbeRun) -> None:
    r = probe.results
    m = r.metrics
    st.subheader(f"Results: {r.model['name']} on {m.n} patches at {r.resolution_um} µm")
    st.caption(f"Model: {probe.model.name} (SHA-256 {probe.model.sha256[:12]}…). The tiles are "
               f"the clean condition's rates at threshold {m.threshold:g}; hover for the "
               f"{m.confidence:.0%} interval.")
    cols = st.columns(4)
    for col, name in zip(cols, _TILES, strict=True):
        low, high = m.ci.get(name, (float("nan"), float("nan")))
        col.metric(METRIC_NAMES[name], f"{m[name]:.3f}", help=f"95 % CI {low:.3f} – {high:.3f}")
    if r.backgrounds is not None:
        st.caption(f"Clean metrics and sweeps: the scenario's MCs inserted into your "
                   f"{state.describe_backgrounds(r.backgrounds)}; the behavioural tests, "
                   "cross-resolution matrix and failure thresholds are on synthetic tissue.")
    with st.expander("All clean metrics"):
        st.dataframe(m.to_frame(), hide_index=True)
    if r.sweeps:
        chosen = st.multiselect("Metrics on the sweep charts", tuple(METRIC_NAMES),
                                default=list(SWEEP_METRICS), format_func=METRIC_NAMES.__getitem__,
                                key="probe_chart_metrics",
                                help="Each metric in its own colour; bands: 95 % intervals.")
        st.caption("Each sweep: the metric at each value of the property, on the same scenes; "
                   "the x axis is spaced by value.")
        for sweep in r.sweeps:
            st.altair_chart(sweep_chart(sweep, tuple(chosen) or SWEEP_METRICS),
                            width="stretch")
    if r.behaviour is not None:
        st.markdown("**Behavioural tests**")
        st.dataframe(r.behaviour.table, hide_index=True)
    if r.cross_resolution is not None:
        st.markdown("**Cross-resolution** (the same scenes at each resolution, resampled to "
                    "the model's input)")
        st.dataframe(cross_resolution_matrix(r.cross_resolution), hide_index=True)
    if r.thresholds is not None:
        st.markdown("**Failure thresholds**: smallest contrast at which each positive scene "
                    "is detected")
        st.dataframe(r.thresholds, hide_index=True)
    st.markdown("**Worst errors**")
    if r.gallery and probe.saved is not None:
        st.dataframe([{k: v for k, v in g.items() if k != "scene"} for g in r.gallery],
                     hide_index=True)
        st.caption("Loaded from a session file: the report holds no patch images.")
    elif r.gallery:
        state.image_grid([g["image"] for g in r.gallery],
                         [f"{g['kind']} #{g['index']} p={g['probability']:.2f}"
                          + (f" · {g['scene']['background']}" if "background" in g["scene"]
                             else "") for g in r.gallery])
    else:
        st.caption("No errors at this threshold.")


def _zero_maps(maps: Any, name: str) -> list[str]:
    return [f"{name}{k + 1}" for k in range(maps.shape[-1]) if not maps[..., k].any()]


def feature_view(model: Any, patch: Any) -> None:
    import mcc_core

    fm = mcc_core.feature_maps(model, patch)
    fig = mcc_core.plot_feature_maps(fm)
    for ax in fig.axes[1:]:  # each map has its own grey scale: give each its bar
        fig.colorbar(ax.images[0], ax=ax, fraction=0.08, pad=0.02).ax.tick_params(labelsize=5)
    st.caption("The patch, then every conv1 (F0) and conv2 (F1) activation map after ReLU; "
               "each map on its own grey scale, its bar gives the activation values.")
    st.pyplot(fig)
    zero = _zero_maps(fm.f0, "F0 #") + _zero_maps(fm.f1, "F1 #")
    if zero:
        st.info(f"All zero on this patch (the filter's ReLU is off everywhere): "
                f"{', '.join(zero)}.", icon=":material/info:")


def spectra_view(model: Any, resolution_um: int) -> None:
    import mcc_core

    spectra = mcc_core.filter_frequency_response(model, resolution_um=resolution_um)
    low, high = mcc_core.mc_band_cyc_per_mm()
    nyquist = float(abs(spectra.frequencies_cyc_per_mm).max())
    st.caption(f"Magnitude of each conv1 filter's frequency response. Dashed circles and "
               f"shaded band: the MC band, {low:g}–{high:g} cycles/mm (MCs of 0.1–1 mm); at "
               f"{resolution_um} µm the images hold frequencies up to {nyquist:.2f} cycles/mm "
               "(Nyquist), so the band is cut there.")
    st.pyplot(mcc_core.plot_filter_spectra(spectra))


def grad_cam_view(model: Any, patch: Any, mask: Any) -> None:
    import mcc_core

    cam = mcc_core.grad_cam(model, patch[None])
    fig = mcc_core.plot_grad_cam(patch[None], cam)
    ax = fig.axes[1]
    fig.colorbar(ax.images[-1], ax=ax, fraction=0.05, pad=0.02, label="Grad-CAM (0 – 1)")
    if mask is not None and mask.any():
        ax.contour(mask, levels=[0.5], colors="white", linewidths=0.8)
    st.caption("Where the model looks: Grad-CAM of the last convolution, 0 (blue) to 1 (red), "
               "over the patch; white outlines: the MCs' true mask.")
    st.pyplot(fig)
    if not cam.any():
        st.info("The Grad-CAM map is all zero on this patch: no positive gradient reaches the "
                "last convolution (the model's score does not rise anywhere).",
                icon=":material/info:")


@st.fragment
def explain_panel(probe: state.ProbeRun, uploaded: synth.Backgrounds | None) -> None:
    """The explainability views of the probe's model on one of its patches; a probe on the
    user's backgrounds needs them uploaded (the history keeps their record, not their
    pixels)."""
    if not st.toggle("Show the explainability views", key="explain_on",
                     help="Feature maps, filter spectra and Grad-CAM of the probe's model on "
                          "one of its patches (Keras models only)."):
        return
    model = state.keras_for(probe.model) if probe.saved is None else None
    if model is None:
        st.info("The explainability views need a Keras model (.keras or .h5)"
                + (", and a probe of this session (not loaded from a file)."
                   if probe.saved is not None else "."))
        return
    r = probe.results
    backgrounds = None
    if r.backgrounds is not None:
        if (uploaded is None or uploaded.record() != r.backgrounds
                or uploaded.resolution_um != r.resolution_um):
            st.info("This probe ran on backgrounds that are not uploaded now: upload the same "
                    f"{state.describe_backgrounds(r.backgrounds)} above to explain its "
                    "patches.")
            return
        backgrounds = uploaded
    options = [f"worst error: {g['kind']} #{g['index']}" for g in r.gallery]
    sample = "a sample patch of the scenario"
    options += [sample if backgrounds is None else f"{sample} on your backgrounds"]
    pick = st.selectbox("Patch", options, key="explain_pick",
                        help="One of the worst errors of the clean condition, or any patch "
                             "of the probe's dataset by its index.")
    if pick == options[-1]:
        index = int(st.number_input("Patch index", 0, 10**6, 0, key="explain_index",
                                    help="Patch i of the probe's dataset (its seed)."))
    else:
        index = int(r.gallery[options.index(pick)]["index"])
    batch = state.one_patch(probe.scenario.to_json(), r.resolution_um, probe.settings.seed,
                            index, backgrounds)
    patch, mask = batch.images[0], batch.masks[0]
    views = st.tabs(["Feature maps", "Filter spectra", "Grad-CAM"])
    try:
        with views[0]:
            feature_view(model, patch)
        with views[1]:
            spectra_view(model, r.resolution_um)
        with views[2]:
            grad_cam_view(model, patch, mask)
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "Explainability views unavailable: ")


def export_panel(probe: state.ProbeRun) -> None:
    st.markdown("The same probe from the command line (save the scenario beside it"
                + (f", and your backgrounds in `{_FOLDER}/`" if probe.settings.backgrounds
                   else "") + "):")
    st.code(probe_command(probe.settings), language="bash")
    st.download_button("Download the scenario (JSON)", probe.scenario.to_json(),
                       file_name="scenario.json", mime="application/json", on_click="ignore",
                       help="The probe's scenario, to save beside the command above.",
                       key="probe_scenario_download")


def compare_run(predictors: list[Any], settings: ProbeSettings, config: synth.SceneConfig,
                backgrounds: synth.Backgrounds | None) -> None:
    """Both models on the same patches of every condition (`evalkit.compare`), on a thread."""
    import evalkit

    evalkit.check_pairable(predictors)
    check_sweeps(settings, config, backgrounds)
    stages = 1 + sum(len(values) for _, values in settings.sweeps)
    run_id = st.session_state.get("compare_counter", 0) + 1
    st.session_state["compare_counter"] = run_id

    def work(job: Job) -> state.CompareRun:
        result = evalkit.compare(predictors, config, n=settings.n, seed=settings.seed,
                                 sweeps=settings.sweeps, n_bootstrap=settings.n_bootstrap,
                                 progress=_stages(job), backgrounds=backgrounds)
        return state.CompareRun(result, settings, run_id)

    live.launch(_COMPARE_JOB, f"comparison #{run_id}", work, total=stages, unit="stage",
                stop_help=_STOP_HELP.replace("each sweep, each test", "each condition"))


def show_comparison(run: state.CompareRun) -> None:
    result = run.result
    st.subheader(f"Comparison #{run.run_id}: {' vs '.join(result.names)} on the same "
                 f"{run.settings.n} patches per condition")
    st.caption("ROC AUC by DeLong's test; sensitivity and specificity by paired bootstrap "
               "intervals and McNemar's exact test on that class; verdicts at alpha = "
               f"{result.alpha:g}.")
    record = result.results[0].backgrounds
    if record is not None:
        st.caption(f"Every condition on your {len(record['files'])} backgrounds (the same crop "
                   "of the same background for patch i in every condition and model).")
    st.dataframe(result.verdicts(), hide_index=True)
    for parameter, _ in run.settings.sweeps:
        st.altair_chart(comparison_chart(result, parameter), width="stretch")
    with st.expander("Every difference"):
        st.dataframe(result.table, hide_index=True)


def probe_controls(config: synth.SceneConfig) -> synth.Backgrounds | None:
    """The model, backgrounds and settings, and the run; the backgrounds uploaded."""
    choice = state.pick_model("probe")
    predictor = state.predictor_for(choice) if choice is not None else None
    if choice is None or predictor is None:
        return None
    st.caption(model_caption(predictor, bundled=choice.bundled is not None))
    backgrounds, usable = state.pick_backgrounds("probe", resolution_um=predictor.resolution_um)
    other = None
    if st.checkbox("Compare with a second model (the same patches, paired tests)",
                   key="probe_compare",
                   help="Both models on the same patches of every condition: DeLong and "
                        "McNemar tests of their difference."):
        second = state.pick_model("probe_b")
        other = state.predictor_for(second) if second is not None else None
        if other is None:
            return backgrounds
        st.caption(model_caption(other, bundled=second is not None
                                 and second.bundled is not None))
    if not usable:
        return None
    busy = live.running(_JOB) or live.running(_COMPARE_JOB)
    if busy is not None:
        st.caption("The probe goes on if you visit another page; its results wait here.")
        return backgrounds
    try:
        settings, go = settings_form(choice, backgrounds)
        if go and other is not None:
            compare_run([predictor, other], settings, config, backgrounds)
        elif go:
            run(choice, predictor, settings, config, backgrounds)
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "Probe not run: ")
        return backgrounds
    if go and live.running(_JOB) is None:
        live.running(_COMPARE_JOB)
    return backgrounds


def main() -> None:
    st.title("Probe a model")
    st.caption("What you are looking at: how a model's sensitivity, specificity and AUC hold "
               "up on synthetic patches of the session's scenario, as one property is varied "
               "on the same scenes; the results stay in this session across pages.")
    live.show_notices()
    config = state.scenario()
    with st.expander("Scenario (set it on the Generate page)"):
        st.code(config.to_json(), language="json")
    uploaded = probe_controls(config)
    comparison = st.session_state.get(state.COMPARE)
    if comparison is not None and st.session_state.get("probe_compare"):
        show_comparison(comparison)
        return
    probe = st.session_state.get(state.PROBE)
    if probe is None:
        st.info("Choose a model and run a probe: the results appear here.")
        return
    live.history_picker()
    probe = st.session_state[state.PROBE]
    show_results(probe)
    st.subheader("Explain")
    explain_panel(probe, uploaded)
    with st.expander("Export: the equivalent `mcc probe` command"):
        export_panel(probe)


main()
