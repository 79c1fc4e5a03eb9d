"""Sweeps, probes and comparisons on the user's own backgrounds (MCs inserted into them)."""

import numpy as np
import pytest
from PIL import Image

import evalkit
import synth


@pytest.fixture(scope="module")
def backgrounds(tmp_path_factory):
    root = tmp_path_factory.mktemp("negatives")
    rng = np.random.default_rng(0)
    for i in range(2):
        unit = np.clip(rng.normal(0.4 + 0.1 * i, 0.01, (260, 260)), 0, 1)
        Image.fromarray(np.rint(unit * 65535).astype(np.uint16)).save(root / f"n{i}.png")
    return synth.load_backgrounds(root, resolution_um=100, spacing_um=100)


def brightest(x):
    return x.max(axis=(1, 2, 3))


def test_a_sweep_on_backgrounds_is_paired_on_the_same_crops(backgrounds):
    sweep = evalkit.run_sweep(brightest, synth.SceneConfig(), "contrast", [0.2, 1.0],
                              n_per_condition=40, seed=3, resolution_um=100, n_bootstrap=0,
                              backgrounds=backgrounds)
    auc = sweep.metrics.query("metric == 'roc_auc'").set_index("condition")["value"]
    assert auc["1.0"] > auc["0.2"]  # brighter MCs on the user's tissue are easier
    a = synth.insert(backgrounds, synth.SceneConfig(contrast_range=(0.2, 0.2)), 40, seed=3)
    b = synth.insert(backgrounds, synth.SceneConfig(contrast_range=(1.0, 1.0)), 40, seed=3)
    assert a.patches[["background", "row_px", "col_px", "label"]].equals(
        b.patches[["background", "row_px", "col_px", "label"]])


def test_tissue_parameters_and_other_resolutions_are_refused(backgrounds):
    with pytest.raises(ValueError, match="'lumpy_strength' has no effect"):
        evalkit.run_sweep(brightest, synth.SceneConfig(), "lumpy_strength", [0.2],
                          n_per_condition=4, seed=0, resolution_um=100,
                          backgrounds=backgrounds)
    with pytest.raises(ValueError, match="'density' has no effect"):
        evalkit.run_sweep(brightest, synth.SceneConfig(), "density", [0.2], n_per_condition=4,
                          seed=0, resolution_um=100, backgrounds=backgrounds)
    with pytest.raises(ValueError, match="predictor's resolution"):
        evalkit.run_sweep(brightest, synth.SceneConfig(), "contrast", [0.2], n_per_condition=4,
                          seed=0, resolution_um=70, backgrounds=backgrounds)
    with pytest.raises(TypeError, match="synth.Backgrounds"):
        evalkit.run_sweep(brightest, synth.SceneConfig(), "contrast", [0.2], n_per_condition=4,
                          seed=0, resolution_um=100, backgrounds="folder/")


def test_probe_and_report_name_the_backgrounds(backgrounds, tmp_path):
    predictor = evalkit.as_predictor(brightest, resolution_um=100)
    results = evalkit.run_probe(predictor, synth.SceneConfig(), n=30, seed=0,
                                sweeps=[("mc_size", [0.2, 0.6])], behaviour=False,
                                resolutions=False, thresholds=False, n_bootstrap=0,
                                backgrounds=backgrounds)
    assert set(results.predictions["background"]) <= {"n0.png", "n1.png"}
    assert [f["name"] for f in results.backgrounds["files"]] == ["n0.png", "n1.png"]
    files = evalkit.render_report(results)
    page = files["report.html"].decode()
    assert "<h2>Backgrounds</h2>" in page and backgrounds.sha256[0] in page
    import json
    assert json.loads(files["report.json"])["backgrounds"]["files"][1]["name"] == "n1.png"


def test_compare_on_backgrounds(backgrounds):
    a = evalkit.Predictor(brightest, input_size=100, channels=1, resolution_um=100, name="max")
    b = evalkit.Predictor(lambda x: x.mean(axis=(1, 2, 3)), input_size=100, channels=1,
                          resolution_um=100, name="mean")
    result = evalkit.compare([a, b], synth.SceneConfig(), n=40, seed=0, n_bootstrap=100,
                             backgrounds=backgrounds)
    assert result.results[0].backgrounds["files"][0]["name"] == "n0.png"
    assert set(result.results[0].predictions["background"]) <= {"n0.png", "n1.png"}
