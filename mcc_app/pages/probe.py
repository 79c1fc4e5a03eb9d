"""Probe: a robustness probe of a bundled or uploaded model on the session's scenario —
metric curves with CI bands, behavioural tests, the cross-resolution matrix, the worst errors,
the explainability views, and the equivalent `mcc probe` command; the clean condition and the
sweeps optionally on the user's own MC-free backgrounds."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

import synth
from mcc_app import (
    SWEEP_SUGGESTIONS,
    ProbeSettings,
    comparison_chart,
    cross_resolution_matrix,
    parse_values,
    probe_command,
    sweep_chart,
)
from mcc_app import _state as state

_NO_SWEEP = "(none)"
_FOLDER = "negatives"
"""Where the exported `mcc probe` command expects the uploaded backgrounds (unzipped)."""


def settings_form(choice: state.ModelChoice, backgrounds: synth.Backgrounds | None
                  ) -> tuple[ProbeSettings, bool]:
    with st.form("probe_form"):
        a, b, d = st.columns(3)
        parameter = a.selectbox("Sweep", (*SWEEP_SUGGESTIONS, _NO_SWEEP), key="probe_param")
        text = b.text_input("Values (blank: suggested)", key="probe_values",
                            help="; ".join(f"{k}: {v}" for k, v in SWEEP_SUGGESTIONS.items()))
        n = d.number_input("Patches per condition", 8, 5000, 200, step=8, key="probe_n")
        a, b, d = st.columns(3)
        seed = a.number_input("Seed", 0, 2**31 - 1, 0, key="probe_seed")
        boot = b.number_input("Bootstrap resamples", 100, 5000, 200, step=50, key="probe_boot")
        behaviour = d.checkbox("Behavioural tests", True, key="probe_behaviour")
        cross = d.checkbox("Cross-resolution matrix", True, key="probe_cross")
        limits = d.checkbox("Failure thresholds (slower)", False, key="probe_thresholds")
        go = st.form_submit_button("Run the probe", type="primary")
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


@contextlib.contextmanager
def progress_bar(stages: int) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced by stage names; whatever the user's model raises inside
    becomes one line (a ValueError)."""
    bar = st.progress(0.0, text="starting…")
    done = [0]

    def advance(stage: str) -> None:
        bar.progress(min(done[0] / stages, 1.0), text=f"{stage}…")
        done[0] += 1

    try:
        yield advance
    except Exception as exc:  # the model is the user's: whatever it raises becomes one line
        raise ValueError(state.one_line(exc)) from None
    finally:
        bar.empty()


def check_sweeps(settings: ProbeSettings, config: synth.SceneConfig,
                 backgrounds: synth.Backgrounds | None) -> None:
    """Refuse bad sweep values, and sweeps that cannot change patches inserted into the
    user's backgrounds, before any work."""
    import evalkit

    for name, values in settings.sweeps:
        evalkit.check_background_sweep(name, backgrounds)
        for value in values:
            evalkit.condition_config(config, name, value)


def run(choice: state.ModelChoice, predictor: Any, settings: ProbeSettings,
        config: synth.SceneConfig, backgrounds: synth.Backgrounds | None) -> None:
    import evalkit

    check_sweeps(settings, config, backgrounds)
    stages = (1 + len(settings.sweeps) + settings.behaviour + settings.cross_resolution
              + settings.thresholds)
    with progress_bar(stages) as advance:
        results = evalkit.run_probe(
            predictor, config, n=settings.n, seed=settings.seed, sweeps=settings.sweeps,
            behaviour=settings.behaviour, resolutions=settings.cross_resolution,
            thresholds=settings.thresholds, n_bootstrap=settings.n_bootstrap, progress=advance,
            backgrounds=backgrounds)
    run_id = st.session_state.get("probe_counter", 0) + 1
    st.session_state["probe_counter"] = run_id
    st.session_state[state.PROBE] = state.ProbeRun(results, settings, config, choice, run_id,
                                                   backgrounds)


def show_results(probe: state.ProbeRun) -> None:
    r = probe.results
    m = r.metrics
    st.subheader(f"Results: {r.model['name']} on {m.n} patches at {r.resolution_um} µm")
    cols = st.columns(4)
    for col, (label, name) in zip(cols, (("Accuracy", "accuracy"), ("Sensitivity", "recall"),
                                         ("Specificity", "specificity"),
                                         ("ROC AUC", "roc_auc")), strict=True):
        low, high = m.ci.get(name, (float("nan"), float("nan")))
        col.metric(label, f"{m[name]:.3f}", help=f"95 % CI {low:.3f} – {high:.3f}")
    if probe.backgrounds is not None:
        st.caption(f"Clean metrics and sweeps: the scenario's MCs inserted into your "
                   f"{state.describe_backgrounds(probe.backgrounds)}; the behavioural tests, "
                   "cross-resolution matrix and failure thresholds are on synthetic tissue.")
    with st.expander("All clean metrics"):
        st.dataframe(m.to_frame(), hide_index=True)
    for sweep in r.sweeps:
        st.altair_chart(sweep_chart(sweep), width="stretch")
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
    if r.gallery:
        state.image_grid([g["image"] for g in r.gallery],
                         [f"{g['kind']} #{g['index']} p={g['probability']:.2f}"
                          + (f" · {g['scene']['background']}" if "background" in g["scene"]
                             else "") for g in r.gallery])
    else:
        st.caption("No errors at this threshold.")


@st.fragment
def explain_panel(probe: state.ProbeRun) -> None:
    import mcc_core

    if not st.toggle("Show the explainability views", key="explain_on"):
        return
    model = state.keras_for(probe.model)
    if model is None:
        st.info("The explainability views need a Keras model (.keras or .h5).")
        return
    r = probe.results
    options = [f"worst error: {g['kind']} #{g['index']}" for g in r.gallery]
    sample = "a sample patch of the scenario"
    options += [sample if probe.backgrounds is None else f"{sample} on your backgrounds"]
    pick = st.selectbox("Patch", options, key="explain_pick")
    if pick == options[-1]:
        index = st.number_input("Patch index", 0, 10**6, 0, key="explain_index")
        patch = state.one_patch(probe.scenario.to_json(), r.resolution_um,
                                probe.settings.seed, int(index), probe.backgrounds).images[0]
    else:
        patch = r.gallery[options.index(pick)]["image"]
    views = st.tabs(["Feature maps", "Filter spectra", "Grad-CAM"])
    try:
        with views[0]:
            st.pyplot(mcc_core.plot_feature_maps(mcc_core.feature_maps(model, patch)))
        with views[1]:
            spectra = mcc_core.filter_frequency_response(model, resolution_um=r.resolution_um)
            st.pyplot(mcc_core.plot_filter_spectra(spectra))
        with views[2]:
            st.pyplot(mcc_core.plot_grad_cam(patch[None], mcc_core.grad_cam(model, patch[None])))
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "Explainability views unavailable: ")


def export_panel(probe: state.ProbeRun) -> None:
    st.markdown("The same probe from the command line (save the scenario beside it"
                + (f", and your backgrounds in `{_FOLDER}/`" if probe.settings.backgrounds
                   else "") + "):")
    st.code(probe_command(probe.settings), language="bash")
    st.download_button("Download the scenario (JSON)", probe.scenario.to_json(),
                       file_name="scenario.json", mime="application/json", on_click="ignore",
                       key="probe_scenario_download")


def compare_run(predictors: list[Any], settings: ProbeSettings, config: synth.SceneConfig,
                backgrounds: synth.Backgrounds | None) -> None:
    """Both models on the same patches of every condition (`evalkit.compare`)."""
    import evalkit

    evalkit.check_pairable(predictors)
    check_sweeps(settings, config, backgrounds)
    stages = 1 + sum(len(values) for _, values in settings.sweeps)
    with progress_bar(stages) as advance:
        result = evalkit.compare(predictors, config, n=settings.n, seed=settings.seed,
                                 sweeps=settings.sweeps, n_bootstrap=settings.n_bootstrap,
                                 progress=advance, backgrounds=backgrounds)
    run_id = st.session_state.get("compare_counter", 0) + 1
    st.session_state["compare_counter"] = run_id
    st.session_state[state.COMPARE] = state.CompareRun(result, settings, run_id)


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


def probe_controls(config: synth.SceneConfig) -> None:
    choice = state.pick_model("probe")
    predictor = state.predictor_for(choice) if choice is not None else None
    if choice is None or predictor is None:
        return
    st.caption(f"{choice.name}: {predictor!r}")
    backgrounds, usable = state.pick_backgrounds("probe", resolution_um=predictor.resolution_um)
    other = None
    if st.checkbox("Compare with a second model (the same patches, paired tests)",
                   key="probe_compare"):
        second = state.pick_model("probe_b")
        other = state.predictor_for(second) if second is not None else None
        if other is None:
            return
        st.caption(f"{second.name if second else ''}: {other!r}")
    if not usable:
        return
    try:
        settings, go = settings_form(choice, backgrounds)
        if go and other is not None:
            compare_run([predictor, other], settings, config, backgrounds)
        elif go:
            run(choice, predictor, settings, config, backgrounds)
    except (ValueError, TypeError) as exc:
        state.show_error(exc, "Probe not run: ")


def main() -> None:
    st.title("Probe a model")
    config = state.scenario()
    with st.expander("Scenario (set it on the Generate page)"):
        st.code(config.to_json(), language="json")
    probe_controls(config)
    comparison = st.session_state.get(state.COMPARE)
    if comparison is not None and st.session_state.get("probe_compare"):
        show_comparison(comparison)
        return
    probe = st.session_state.get(state.PROBE)
    if probe is None:
        st.info("Choose a model and run a probe: the results appear here.")
        return
    show_results(probe)
    st.subheader("Explain")
    explain_panel(probe)
    with st.expander("Export: the equivalent `mcc probe` command"):
        export_panel(probe)


main()
