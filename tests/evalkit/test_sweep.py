import dataclasses

import numpy as np
import pytest

import synth
from evalkit import SweepResult, as_predictor, compute_metrics, condition_config, run_sweep

BASE = synth.SceneConfig(acquisition=None)


def brightness(x):
    """A toy detector: how much the brightest pixels stand out (no Keras needed)."""
    flat = x.reshape(len(x), -1)
    peak = np.sort(flat, axis=1)[:, -20:].mean(axis=1) - np.median(flat, axis=1)
    return np.clip(peak * 4.0, 0.0, 1.0)


PREDICTOR = as_predictor(brightness, input_size=100)


def test_sweep_is_tidy_and_covers_every_condition():
    out = run_sweep(PREDICTOR, BASE, "contrast", [0.0, 0.3, 0.8], n_per_condition=60, seed=2,
                    n_bootstrap=100)
    assert isinstance(out, SweepResult)
    assert (out.parameter, out.seed, out.resolution_um, out.n_bootstrap) == ("contrast", 2, 100,
                                                                              100)
    assert list(out.metrics.columns) == ["condition", "setting", "metric", "value", "ci_low",
                                         "ci_high", "n", "dprime_k", "note"]
    assert out.conditions == ["0.0", "0.3", "0.8"] and set(out.metrics.n) == {60}
    auc = out.metrics[out.metrics.metric == "roc_auc"].set_index("condition")["value"]
    assert auc["0.8"] > auc["0.0"] + 0.1  # brighter MCs are easier
    assert list(out.predictions.columns) == ["condition", "index", "label", "probability"]
    assert out.predictions.groupby("condition").size().to_dict() == dict.fromkeys(
        out.conditions, 60)
    tidy = out.to_frame()
    assert list(tidy.columns) == ["parameter", *out.metrics.columns]
    assert set(tidy.parameter) == {"contrast"} and len(tidy) == len(out.metrics)
    assert not out.metrics.attrs and not out.predictions.attrs  # no results in `.attrs`


def test_sweep_predictions_are_the_metrics_inputs():
    out = run_sweep(PREDICTOR, BASE, "contrast", [0.2, 0.6], n_per_condition=40, seed=4,
                    n_bootstrap=0)
    for condition, part in out.predictions.groupby("condition"):
        again = compute_metrics(part.label, part.probability, n_bootstrap=0)
        rows = out.metrics[out.metrics.condition == condition].set_index("metric")
        assert rows.loc["tp", "value"] == again["tp"]
        assert rows.loc["roc_auc", "value"] == pytest.approx(again["roc_auc"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.seed = 5  # type: ignore[misc]


def test_conditions_are_paired():
    configs = [condition_config(BASE, "contrast", v) for v in (0.1, 0.6)]
    a, b = (synth.generate(c, 40, resolution_um=100, seed=5) for c in configs)
    cols = ["index", "label", "kind", "density", "beta", "n_mcs"]
    assert a.patches[cols].equals(b.patches[cols])
    empty = (a.patches.n_mcs == 0).to_numpy()
    np.testing.assert_array_equal(a.images[empty], b.images[empty])  # same tissue, same noise
    mcs = ["x_mm", "y_mm", "size_mm", "morphology"]
    assert a.calcifications[mcs].equals(b.calcifications[mcs])


def test_short_names_and_detector_fields():
    assert condition_config(BASE, "mc_size", 0.4).mc_size_range_mm == (0.4, 0.4)
    assert condition_config(BASE, "morphology", "punctate").morphology_probabilities[
        "punctate"] == 1.0
    assert condition_config(BASE, "dose", 2e5).acquisition.dose == 2e5
    assert condition_config(synth.SceneConfig(), "blur", 40.0).acquisition.blur_sigma_um == 40.0
    assert condition_config(BASE, "distribution", "linear").distribution == "linear"


@pytest.mark.parametrize(("parameter", "values", "needle"), [
    ("colour", [1], "parameter"),
    ("contrast", [0.2, 1.5], "contrast_range"),
    ("mc_count", [1, 5], "mc_count_range"),
    ("contrast", [], "values"),
])
def test_bad_sweeps_are_refused_before_any_work(parameter, values, needle):
    with pytest.raises(ValueError, match=needle):
        run_sweep(PREDICTOR, BASE, parameter, values, n_per_condition=10, seed=0)


def test_sweep_settings_stay_numbers_and_carry_a_physical_axis(tmp_path):
    import json

    from evalkit import build_report, run_probe

    noisy = BASE.replace(acquisition=synth.Acquisition())  # d′ needs a detector's noise
    results = run_probe(PREDICTOR, noisy, n=40, seed=1, sweeps=[("contrast", [0.2, 0.9])],
                        behaviour=False, resolutions=False, thresholds=False, n_bootstrap=0)
    sweep = results.sweeps[0]
    assert sweep.numeric_settings() == [0.2, 0.9]
    assert sweep.metrics["setting"].map(type).eq(float).all()
    dprime = sweep.metrics.drop_duplicates("condition")["dprime_k"].tolist()
    assert 0 < dprime[0] < dprime[1]  # a fuller MC is more detectable
    build_report(results, tmp_path)
    rows = json.loads((tmp_path / "report.json").read_text())["sweeps"][0]
    assert {row["setting"] for row in rows} == {0.2, 0.9}
    assert all(isinstance(row["dprime_k"], float) for row in rows)
