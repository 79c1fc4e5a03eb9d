import json

import pytest

import synth
from evalkit import (
    Predictor,
    build_comparison_report,
    build_merged_report,
    build_report,
    compare,
    evaluate_gates,
    merge_reports,
    run_probe,
)
from mcc_cli import main


def _scorer(fn, name):
    return Predictor(fn, input_size=100, channels=1, resolution_um=100, name=name)


MAX = _scorer(lambda x: x.max(axis=(1, 2, 3)), "max")
MEAN = _scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")
SWEEP = [("contrast", [0.3, 0.9])]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    for model in (MAX, MEAN):
        results = run_probe(model, synth.SceneConfig(), n=30, seed=0, sweeps=SWEEP,
                            behaviour=False, resolutions=False, thresholds=False,
                            n_bootstrap=100)
        build_report(results, root / model.name,
                     gates=evaluate_gates(results, ["auc>=0.5"]))
    result = compare([MAX, MEAN], synth.SceneConfig(), n=30, seed=0, sweeps=SWEEP,
                     n_bootstrap=100)
    build_comparison_report(result, root / "cmp")
    return root


def test_the_merged_report_is_the_union_of_its_sources(sources, tmp_path):
    paths = [sources / "max", sources / "mean", sources / "cmp"]
    merged = merge_reports(paths)
    page = build_merged_report(merged, tmp_path / "merged")
    doc = json.loads((tmp_path / "merged" / "merged.json").read_text())
    originals = [json.loads((sources / "max" / "report.json").read_text()),
                 json.loads((sources / "mean" / "report.json").read_text()),
                 json.loads((sources / "cmp" / "comparison.json").read_text())]
    assert [s["document"] for s in doc["sources"]] == originals
    assert [s["kind"] for s in doc["sources"]] == ["probe", "probe", "comparison"]
    models = merged.models()
    assert models["model"].tolist() == ["max", "mean", "max", "mean"]
    assert models["gates"].tolist()[:2] == ["1/1", "1/1"]
    # the probe of a model and its side of the comparison saw the same patches
    assert models["roc_auc"].iloc[0] == pytest.approx(models["roc_auc"].iloc[2])
    sweeps = merged.sweeps()
    assert len(sweeps) == sum(len(r) for d in originals[:2] for r in d["sweeps"]) + sum(
        len(r) for m in originals[2]["per_model"] for r in m["sweeps"])
    text = page.read_text()
    assert "Sweep: contrast" in text and "Verdicts of" in text


def test_mcc_report_merges_and_refuses_bad_sources(sources, tmp_path, capsys):
    code = main(["report", "--from", str(sources / "max"), str(sources / "cmp"), "--out",
                 str(tmp_path / "m")])
    assert code == 0 and "2 sources, 3 models" in capsys.readouterr().out
    (tmp_path / "junk").mkdir()
    code = main(["report", "--from", str(tmp_path / "junk"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no report.json" in err and len(err.splitlines()) == 1
    code = main(["report", "--from", str(sources / "max"), "--out", str(sources / "max")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a source" in err
    assert not (tmp_path / "x").exists()


def test_incomplete_sources_are_refused_naming_them(tmp_path):
    from evalkit import MergedReport, render_merged

    bad = MergedReport((("x.json", "comparison", {"models": [], "table": [{"a": 1}]}),))
    with pytest.raises(ValueError, match="'x.json' is incomplete"):
        render_merged(bad)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text(json.dumps(
        {"model": {"name": "m"}, "metrics": {"values": {}, "ci": {}},
         "sweeps": [[{"condition": "0.1", "metric": "recall", "value": 0.5}]]}))
    with pytest.raises(ValueError, match="incomplete: no 'parameter'"):
        merge_reports([tmp_path / "r"])
