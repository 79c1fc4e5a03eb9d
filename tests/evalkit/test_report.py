import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import synth
from evalkit import as_predictor, build_report, render_report, run_probe


def brightness(x):
    flat = x.reshape(len(x), -1)
    peak = np.sort(flat, axis=1)[:, -20:].mean(axis=1) - np.median(flat, axis=1)
    return np.clip(peak * 4.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def results():
    predictor = as_predictor(brightness, input_size=100)
    return run_probe(predictor, synth.SceneConfig(acquisition=None), n=40, seed=1,
                     sweeps=[("contrast", [0.1, 0.5])], n_bootstrap=100)


def test_report_files_numbers_and_provenance(tmp_path, results):
    page = build_report(results, tmp_path / "rep")
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"report.html", "report.json", "metrics.csv", "sweeps.csv", "behaviour.csv",
            "cross_resolution.csv", "predictions.csv", "paper_reference.csv",
            "failure_thresholds.csv"} == names
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["metrics"]["values"]["tp"] == results.metrics["tp"]
    assert doc["seed"] == 1 and "numpy" in doc["provenance"]["versions"]
    assert doc["scenario"]["acquisition"] is None
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_html_is_self_contained(tmp_path, results):
    text = build_report(results, tmp_path / "r").read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", text)
    assert "http://" not in text and "https://" not in text
    assert text.count("data:image/png;base64,") >= 3
    for section in ("Behavioural tests", "Cross-resolution", "Worst errors", "Sweep: contrast",
                    "reference values", "Failure thresholds"):
        assert section in text
    from html.parser import HTMLParser

    class Images(HTMLParser):
        count = 0

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                Images.count += 1
                assert dict(attrs)["src"].startswith("data:image/png;base64,")

    Images().feed(text)
    assert Images.count >= 4


def test_a_failed_report_leaves_nothing(tmp_path, results, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    # the module build_report runs in (a doctest run may have imported a second copy)
    monkeypatch.setitem(build_report.__globals__, "_json", broken)
    with pytest.raises(RuntimeError):
        build_report(results, tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    assert list(tmp_path.iterdir()) == []


def test_render_report_is_what_build_report_writes(tmp_path, results):
    files = render_report(results)
    assert all(isinstance(data, bytes) for data in files.values())
    build_report(results, tmp_path / "rep")
    written = {p.name: p.read_bytes() for p in (tmp_path / "rep").iterdir()}
    assert written.keys() == files.keys()
    assert written["report.json"] == files["report.json"]
    for name in files:
        if name.endswith(".csv"):
            assert written[name] == files[name], name
    assert list(tmp_path.iterdir()) == [tmp_path / "rep"]  # no staging folder left behind


def test_report_tables_come_from_the_result_dataclasses(results):
    files = render_report(results)
    sweeps = pd.read_csv(io.BytesIO(files["sweeps.csv"]))
    (sweep,) = results.sweeps
    assert list(sweeps.columns) == ["parameter", *sweep.metrics.columns]
    assert set(sweeps.parameter) == {"contrast"} and len(sweeps) == len(sweep.metrics)
    behaviour = pd.read_csv(io.BytesIO(files["behaviour.csv"]))
    assert behaviour.test.tolist() == results.behaviour.table.test.tolist()
    doc = json.loads(files["report.json"])
    assert {row["parameter"] for row in doc["sweeps"][0]} == {"contrast"}
    assert [row["test"] for row in doc["behaviour"]] == behaviour.test.tolist()


def test_render_report_refuses_what_is_not_a_probe(results):
    with pytest.raises(TypeError, match="results"):
        render_report(results.metrics)
    with pytest.raises(TypeError, match="froc"):
        render_report(results, froc=results.predictions)


def test_read_report_gives_back_every_number_of_report_json(results):
    from evalkit import read_report

    doc = json.loads(render_report(results)["report.json"])
    back = read_report(doc)
    m, b = results.metrics, back.metrics
    assert (b.n, b.n_positive, b.threshold, b.confidence, b.n_bootstrap) == (
        m.n, m.n_positive, m.threshold, m.confidence, m.n_bootstrap)
    assert b.values.keys() == m.values.keys() and b.reasons == m.reasons
    np.testing.assert_array_equal(list(b.values.values()), list(m.values.values()))
    np.testing.assert_array_equal(list(b.ci.values()), list(m.ci.values()))
    assert [s.parameter for s in back.sweeps] == [s.parameter for s in results.sweeps]
    pd.testing.assert_frame_equal(  # JSON has no infinity: null, read back as NaN
        back.sweeps[0].metrics, results.sweeps[0].metrics.replace(np.inf, np.nan),
        check_dtype=False)
    pd.testing.assert_frame_equal(back.behaviour.table, results.behaviour.table,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(back.cross_resolution, results.cross_resolution,
                                  check_dtype=False)
    assert (back.model, back.scenario, back.seed, back.n, back.resolution_um) == (
        results.model, results.scenario, results.seed, results.n, results.resolution_um)
    assert json.loads(json.dumps(doc)) == doc  # what was read is what a session saves


@pytest.mark.parametrize(("change", "needle"), [
    ({"metrics": {"values": [1, 2]}}, "`metrics.values` must be an object"),
    ({"seed": float("inf")}, "`seed` must be an integer"),
    ({"n": -3}, "`n` must be an integer >= 0"),
    ({"sweeps": [[1]]}, r"`sweeps\[0\]\[0\]` must be an object"),
    ({"behaviour": "yes"}, "`behaviour` must be a list"),
])
def test_read_report_names_the_field_it_refuses(results, change, needle):
    from evalkit import read_report

    doc = {**json.loads(render_report(results)["report.json"]), **change}
    if "metrics" in change:
        doc["metrics"] = {**json.loads(render_report(results)["report.json"])["metrics"],
                          **change["metrics"]}
    with pytest.raises(ValueError, match=needle):
        read_report(doc)
