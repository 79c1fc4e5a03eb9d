"""Each dashboard page under `streamlit.testing.v1.AppTest` (uploads through AppTest's own
file_uploader support)."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

import synth

pytest.importorskip("streamlit.testing.v1")


def no_trouble(at):
    assert not at.exception, [e.message for e in at.exception]
    return at


def errors(at):
    return [e.value for e in at.error]


JOBS = ("probe_job", "compare_job", "scan_job", "export_job")


def settle(at):
    """Wait for the long work a click started on its own thread, then draw its result."""
    waited = False
    for key in JOBS:
        job = at.session_state[key] if key in at.session_state else None
        if job is not None and not job.collected:
            assert job.wait(300), f"{key} did not end"
            waited = True
    return at.run() if waited else at


def submit(at, form):
    for button in at.button:
        if button.proto.form_id == form:
            return settle(button.click().run())
    raise AssertionError(f"no submit button in form {form}")


def scan(at):
    return settle(at.button(key="scan_go").click().run())


def preview_state(at):
    urls = [img.url for element in at.get("image") for img in element.proto.imgs]
    return urls[:3], at.dataframe[0].value  # the MC table is the only table on the page


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def negatives(k=3, side=150):
    """`k` MC-free 16-bit noise patches (at 100 µm: 1.5 cm), as uploads."""
    rng = np.random.default_rng(7)
    return [(f"neg{i}.png", png(rng.normal(30000, 600, (side, side)).astype(np.uint16)),
             "image/png") for i in range(k)]


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, _ in files:
            archive.writestr(f"negatives/{name}", data)
    return buffer.getvalue()


def upload_image(at, name, data):
    at.radio(key="scan_image").set_value("Upload an image").run()
    at.file_uploader(key="scan_file").set_value((name, data, "application/octet-stream"))
    return no_trouble(at.run())


# --------------------------------------------------------------------------- Generate


def test_generate_page_shows_the_preview_and_samples(app):
    at = no_trouble(app())
    assert at.title[0].value == "Generate synthetic patches"
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert [c.split(" µm")[0] for c in captions[:3]] == ["50", "70", "100"]
    assert any(c.startswith("class 1") for c in captions)
    assert any(c.startswith("class 0") for c in captions)
    assert len(at.slider) >= 11 and not errors(at)
    assert at.get("download_button")[0].proto.label == "Download the scenario (JSON)"


def test_more_mcs_change_the_preview_and_the_mc_table(app):
    at = app()
    at.slider(key="sc_positive_fraction").set_value(1.0)
    at.slider(key="sc_mc_count_range").set_value((3, 4))
    at = no_trouble(submit(at, "scenario_form"))
    few_urls, few = preview_state(at)
    at.slider(key="sc_mc_count_range").set_value((30, 40))
    at = no_trouble(submit(at, "scenario_form"))
    many_urls, many = preview_state(at)
    assert 3 <= len(few) <= 4 and 30 <= len(many) <= 40
    assert all(a != b for a, b in zip(few_urls, many_urls, strict=True))
    assert at.session_state["scenario"].mc_count_range == (30, 40)
    at.toggle(key="preview_mask").set_value(True).run()  # the fragment: mask overlay
    assert preview_state(no_trouble(at))[0] != many_urls


def test_a_scenario_json_restores_the_controls(app):
    at = app()
    config = synth.SceneConfig(distribution="linear", mc_count_range=(7, 9),
                               contrast_range=(0.3, 0.5), acquisition=None)
    at.file_uploader(key="scenario_upload").set_value(
        ("mine.json", config.to_json().encode(), "application/json"))
    at = no_trouble(at.run())
    assert at.session_state["scenario"] == config
    assert at.selectbox(key="sc_distribution").value == "linear"
    assert at.slider(key="sc_mc_count_range").value == (7, 9)
    assert at.toggle(key="sc_detector").value is False
    assert "restored" in at.success[0].value
    at.file_uploader(key="scenario_upload").set_value(
        ("bad.json", b'{"mc_count_range": [1, 2], "colour": 3}', "application/json"))
    at = no_trouble(at.run())
    assert any("colour" in e for e in errors(at))
    assert at.session_state["scenario"] == config  # the last good one stays


def test_a_restored_scenario_is_applied_unchanged(app):
    """Weights far above any widget cap and values off the sliders' steps survive Apply."""
    config = synth.SceneConfig(
        distribution={"clustered": 200.0, "linear": 1.0},
        morphology_weights={"punctate": 150.0, "amorphous": 0.5}, contrast_range=(0.123, 0.4567),
        margin_mm=0.37, orientation_range_deg=(-30.5, 250.25),
        acquisition=synth.Acquisition(blur_sigma_um=20.5, dose=123456.7, electronic_noise=3.3,
                                      bit_depth=14))
    at = app()
    at.file_uploader(key="scenario_upload").set_value(
        ("heavy.json", config.to_json().encode(), "application/json"))
    at = no_trouble(at.run())
    assert at.number_input(key="sc_dist_clustered").value == 200.0
    assert at.number_input(key="sc_morph_punctate").value == 150.0
    assert at.number_input(key="sc_dose").value == 123456.7
    at = no_trouble(submit(at, "scenario_form"))
    assert not errors(at)
    applied = at.session_state["scenario"]
    assert applied == config and applied.to_json() == config.to_json()


def test_invalid_controls_give_an_error_and_keep_the_scenario(app):
    at = app()
    at.number_input(key="sc_cluster_min_count").set_value(5)
    at = no_trouble(submit(at, "scenario_form"))  # mc_count_range starts at 3 < 5
    assert any("mc_count_range" in e for e in errors(at))
    assert at.session_state["scenario"] == synth.SceneConfig()


def test_generate_on_uploaded_negatives_inserts_into_them(app, tmp_path):
    at = app()
    at.file_uploader(key="gen_negatives").set_value(negatives())
    at = no_trouble(at.run())
    assert errors(at) == ["Backgrounds not read: `spacing_um` is needed: neg0.png is a PNG or "
                          "TIFF file, which declares no pixel spacing; give the negatives' pixel "
                          "spacing in µm."]
    assert not at.get("image")  # no synthetic patches shown in their place
    at.number_input(key="gen_negatives_spacing").set_value(100.0)
    at = no_trouble(at.run())
    assert not errors(at)
    assert "inserted into your 3 backgrounds (neg0.png, neg1.png, neg2.png) at 70 µm" in (
        at.info[0].value)
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert captions[0].startswith("70 µm") and not captions[1].startswith(("50", "100"))
    samples = [c for c in captions if c.startswith("class ")]
    assert samples and all(c.rsplit(" · ", 1)[1] in {"neg0.png", "neg1.png", "neg2.png"}
                           for c in samples)
    assert any("crop at row" in c.value for c in at.caption)
    at.text_input(key="export_out").set_value(str(tmp_path / "ds"))
    at.number_input(key="export_n").set_value(4)
    at = no_trouble(submit(at, "export_form"))
    assert "inserted into your 3 backgrounds" in at.success[0].value
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert [f["name"] for f in manifest["backgrounds"]["files"]] == ["neg0.png", "neg1.png",
                                                                     "neg2.png"]


def test_export_writes_a_dataset(app, tmp_path):
    at = app()
    at.text_input(key="export_out").set_value(str(tmp_path / "ds"))
    at.number_input(key="export_n").set_value(6)
    at = no_trouble(submit(at, "export_form"))
    assert "Wrote 6 patches" in at.success[0].value
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["n"] == 6 and manifest["resolution_um"] == 70


def test_export_at_three_resolutions_defaults_to_home_and_names_its_controls(app, tmp_path):
    at = app()
    assert at.text_input(key="export_out").value.startswith("~/")  # never the repository
    at.text_input(key="export_out").set_value("   ")
    at = no_trouble(submit(at, "export_form"))
    assert errors(at) == ["Dataset not written: “Output folder” is blank; name a folder."]
    at.text_input(key="export_out").set_value(str(tmp_path / "all"))
    at.number_input(key="export_n").set_value(4)
    at.checkbox(key="export_all").check()
    at = no_trouble(submit(at, "export_form"))
    assert "at 50, 70 and 100 µm" in at.success[0].value
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["100um", "50um", "70um"]
    seeds = {json.loads((tmp_path / "all" / f"{r}um" / "manifest.json").read_text())["seed"]
             for r in (50, 70, 100)}
    assert len(seeds) == 1
    at.checkbox(key="export_all").uncheck()
    at.text_input(key="export_out").set_value(str(tmp_path / "all" / "70um"))
    at.number_input(key="export_n").set_value(5)  # another dataset in that folder
    at = no_trouble(submit(at, "export_form"))
    message = errors(at)[0]
    assert "“Replace another dataset in this folder”" in message and "overwrite=" not in message


def test_a_stopped_export_says_it_is_partly_written_and_that_writing_again_resumes(app,
                                                                                   tmp_path):
    at = app()
    at.text_input(key="export_out").set_value(str(tmp_path / "all"))
    at.number_input(key="export_n").set_value(3000)
    at.checkbox(key="export_all").check()
    button = next(b for b in at.button if b.proto.form_id == "export_form")
    at = button.click().run()
    job = at.session_state["export_job"]
    job.stop()
    assert job.wait(120) and job.cancelled
    warning = no_trouble(at.run()).warning[0].value
    assert f"{tmp_path / 'all'} is partly written (no resolution's folder is complete yet)" in (
        warning)
    assert "again with the same settings to resume" in warning and "nothing" not in warning


# --------------------------------------------------------------------------- Probe, Report


def test_probe_run_gives_charts_tables_explain_and_report(app):
    at = no_trouble(app("probe"))
    assert at.selectbox(key="probe_bundled_res").value == 70  # one default everywhere
    at.number_input(key="probe_n").set_value(64)
    at.selectbox(key="probe_param").set_value("contrast")
    at.text_input(key="probe_values").set_value("0.1 0.6")
    at.number_input(key="probe_boot").set_value(100)
    at.checkbox(key="probe_cross").set_value(False)
    at = no_trouble(submit(at, "probe_form"))
    assert not errors(at)
    chart = at.get("vega_lite_chart")
    assert len(chart) == 1 and "contrast" in chart[0].proto.spec
    tables = [d.value for d in at.dataframe]
    assert any("test" in t and "obvious clusters are found" in t["test"].values for t in tables)
    assert [m.label for m in at.metric] == ["Accuracy", "Sensitivity", "Specificity", "ROC AUC"]
    command = [c.value for c in at.code if c.value.startswith("mcc probe")]
    assert command and "--sweep contrast --values 0.1 0.6" in command[0]

    at.toggle(key="explain_on").set_value(True).run()
    no_trouble(at)
    assert len(at.get("image")) >= 3 and not errors(at)  # feature maps, spectra, Grad-CAM
    assert without_help(at) == [] and at.get("multiselect")  # the results' widgets too

    at.switch_page("mcc_app/pages/report.py").run()
    no_trouble(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"report.html", "report.json", "metrics.csv", "sweeps.csv"} <= set(labels)


def test_two_models_are_compared_and_the_report_page_merges(app):
    at = no_trouble(app("probe"))
    at.selectbox(key="probe_bundled_res").set_value(100).run()
    at.number_input(key="probe_n").set_value(48)
    at.number_input(key="probe_boot").set_value(100)
    at.selectbox(key="probe_param").set_value("contrast")
    at.text_input(key="probe_values").set_value("0.3 1.0")
    at = no_trouble(submit(at, "probe_form"))  # a probe of the 100 µm model alone first
    at.checkbox(key="probe_compare").set_value(True).run()
    at = no_trouble(submit(at, "probe_form"))
    assert errors(at) == ["Probe not run: `predictors` must share one resolution; got "
                          "'shallow_100um.keras' at 100 µm and 'shallow_70um.keras' at 70 µm."]
    at.selectbox(key="probe_b_bundled_res").set_value(100).run()
    at = no_trouble(submit(at, "probe_form"))
    assert not errors(at)
    verdicts = at.dataframe[0].value
    assert verdicts["condition"].tolist() == ["clean", "contrast=0.3", "contrast=1.0"]
    assert (verdicts["verdict"] == "no difference").all()  # a model against itself
    assert "vs" in at.get("vega_lite_chart")[0].proto.spec

    at.switch_page("mcc_app/pages/report.py").run()
    no_trouble(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"comparison.html", "comparison.json", "report.html", "merged.json"} <= set(labels)


def test_report_page_without_a_probe(app):
    at = no_trouble(app("report"))
    assert "No probe yet" in at.info[0].value
    assert [b.key for b in at.get("download_button")] == ["session_save"]  # the sidebar's


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("model.keras", b"this is not a model", "'model.keras' is not a readable Keras model"),
    ("model.onnx", b"\x00\x01", "ONNX"),
    ("odd64.keras", None, "matches no resolution"),
], ids=["text as keras", "junk onnx", "64 px input"])
def test_bad_model_uploads_give_an_error(app, odd_model, name, data, needle):
    at = app("probe")
    at.radio(key="probe_source").set_value("Upload a model").run()
    at.file_uploader(key="probe_upload").set_value(
        (name, data if data is not None else odd_model.read_bytes(), "application/octet-stream"))
    at = no_trouble(at.run())
    assert any(needle in e for e in errors(at)), errors(at)
    assert at.title[0].value == "Probe a model"  # the rest of the page still draws


def test_probe_on_uploaded_negatives_runs_there_and_refuses_tissue_sweeps(app):
    at = app("probe")
    at.file_uploader(key="probe_negatives").set_value(
        ("mine.zip", zipped(negatives()), "application/zip"))
    at.number_input(key="probe_negatives_spacing").set_value(100.0)
    at.number_input(key="probe_n").set_value(16)
    at.number_input(key="probe_boot").set_value(100)
    at.text_input(key="probe_values").set_value("0.3 0.9")
    at.checkbox(key="probe_behaviour").set_value(False)
    at.checkbox(key="probe_cross").set_value(False)
    at = no_trouble(submit(at, "probe_form"))
    assert not errors(at)
    run = at.session_state["probe_run"]
    names = [f["name"] for f in run.results.backgrounds["files"]]
    assert names == ["negatives/neg0.png", "negatives/neg1.png", "negatives/neg2.png"]
    assert set(run.results.predictions["background"]) <= set(names)
    assert any("inserted into your 3 backgrounds" in c.value for c in at.caption)
    command = next(c.value for c in at.code if c.value.startswith("mcc probe"))
    assert "--backgrounds negatives --spacing-um 100" in command
    at.selectbox(key="probe_param").set_value("density")
    at.text_input(key="probe_values").set_value("0.2 0.8")
    at = no_trouble(submit(at, "probe_form"))
    assert len(errors(at)) == 1 and errors(at)[0].startswith(
        "Probe not run: `parameter` 'density' has no effect on patches inserted into your "
        "backgrounds")
    assert at.session_state["probe_run"] is run  # the last good probe stays


def test_bad_sweep_values_give_an_error(app):
    at = app("probe")
    at.number_input(key="probe_n").set_value(16)
    at.text_input(key="probe_values").set_value("0.2 1.5")
    at = no_trouble(submit(at, "probe_form"))
    assert any("contrast_range" in e for e in errors(at))


# --------------------------------------------------------------------------- Scan


def test_scan_a_synthetic_mammogram(app):
    at = app("scan")
    at.number_input(key="scan_h").set_value(40)
    at.number_input(key="scan_w").set_value(50)
    at = no_trouble(at.run())
    at = no_trouble(scan(at))
    counts = {m.label: m.value for m in at.metric}
    result = at.session_state["scan_result"].result
    assert counts["Positive patches"] == str(result.n_positive)
    assert counts["Negative patches"] == str(result.n_negative)
    assert result.n_positive + result.n_negative > 0
    case_study = at.get("image")[-1].proto.imgs[0].url
    at.radio(key="scan_view").set_value("Probability heat map").run()
    assert at.get("image")[-1].proto.imgs[0].url != case_study


@pytest.mark.parametrize(("data", "spacing", "needle"), [
    (png(np.full((50, 60), 128, np.uint8)), 100.0, "at least one patch"),
    (png(np.full((50, 60), 128, np.uint8)), 5.0, "`spacing_um` must be a pixel spacing from"),
    (b"just text, not a PNG", None, "cannot be read"),
], ids=["smaller than a patch", "spacing out of range", "not an image"])
def test_bad_mammograms_give_an_error(app, data, spacing, needle):
    at = upload_image(app("scan"), "m.png", data)
    if spacing is not None:
        at.number_input(key="scan_spacing").set_value(spacing)
        at = no_trouble(at.run())
    if not errors(at):
        at = no_trouble(scan(at))
    assert len(errors(at)) == 1 and needle in errors(at)[0], errors(at)
    assert "scan_result" not in at.session_state


def test_a_png_needs_its_spacing_and_is_resampled_to_the_model(app):
    image = (np.random.default_rng(0).random((300, 240)) * 60000).astype(np.uint16)
    at = upload_image(app("scan"), "m16.png", png(image))
    spacing = at.number_input(key="scan_spacing")
    assert spacing.value is None and "from the DICOM header" not in spacing.label
    assert "m16.png is a PNG file, which declares no spacing" in at.info[0].value
    assert at.button(key="scan_go").disabled  # the button stays, disabled, until it can scan
    at.number_input(key="scan_spacing").set_value(70.0)
    at = no_trouble(at.run())
    assert "Already at 70 µm: not resampled." in [c.value for c in at.caption]
    at.selectbox(key="scan_model_res").set_value(100)
    at = no_trouble(at.run())
    assert "Resampled from 70 µm to 100 µm (anti-aliased): 300 × 240 px → 210 × 168 px." in [
        c.value for c in at.caption]


def test_scan_of_an_uploaded_dicom_at_its_own_spacing(app):
    image = np.random.default_rng(0).random((306, 272)).astype(np.float32)
    data = synth.io.encode_dicom(image, spacing_um=85, laterality="L", view="CC")
    at = upload_image(app("scan"), "m.dcm", data)
    spacing = at.number_input(key="scan_spacing")
    assert spacing.value == 85.0 and "from the DICOM header" in spacing.label
    assert at.selectbox(key="scan_model_res").value is None  # nearest the spacing: 100 µm
    assert "Resampled from 85 µm to 100 µm (anti-aliased): 306 × 272 px → 260 × 231 px." in [
        c.value for c in at.caption]
    at.number_input(key="scan_spacing").set_value(100.0)
    at = no_trouble(at.run())
    assert at.number_input(key="scan_spacing").label.endswith(
        "yours (the DICOM header says 85)")
    assert "Already at 100 µm: not resampled." in [c.value for c in at.caption]
    at.number_input(key="scan_spacing").set_value(85.0)
    at = no_trouble(scan(at))
    run = at.session_state["scan_result"]
    assert run.result.probabilities.shape == (11, 9)  # (260 - 100) // 15 + 1, (231 - 100) // 15 + 1
    assert run.source == "m.dcm (DICOM, L CC, 306 × 272 px at 85 µm)"
    assert {m.label for m in at.metric} >= {"Positive patches", "Negative patches"}
    at.radio(key="scan_view").set_value("Original").run()
    assert not no_trouble(at).error


def test_scan_with_a_model_of_another_input_gives_an_error(app, odd_model):
    at = app("scan")
    at.number_input(key="scan_h").set_value(30)
    at.number_input(key="scan_w").set_value(30)
    at.radio(key="scan_source").set_value("Upload a model").run()
    at.file_uploader(key="scan_upload").set_value(
        ("odd64.keras", odd_model.read_bytes(), "application/octet-stream"))
    at = no_trouble(at.run())
    at = no_trouble(scan(at))
    assert any("64 × 64" in e for e in errors(at)), errors(at)
    assert "scan_result" not in at.session_state


def test_an_uploaded_onnx_model_is_probed(app):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(  # probability = sigmoid(4 * max(x) - 2), per patch
        [helper.make_node("ReduceMax", ["x", "axes"], ["m"], keepdims=0),
         helper.make_node("Mul", ["m", "four"], ["s"]),
         helper.make_node("Sub", ["s", "two"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["p"])],
        "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 100, 100, 1])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
         helper.make_tensor("four", TensorProto.FLOAT, [], [4.0]),
         helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    at = app("probe")
    at.radio(key="probe_source").set_value("Upload a model").run()
    at.file_uploader(key="probe_upload").set_value(
        ("toy.onnx", model.SerializeToString(), "application/octet-stream"))
    at = no_trouble(at.run())
    at.number_input(key="probe_n").set_value(32)
    at.text_input(key="probe_values").set_value("0.1 0.8")
    at.checkbox(key="probe_behaviour").set_value(False)
    at.checkbox(key="probe_cross").set_value(False)
    at = no_trouble(submit(at, "probe_form"))
    assert not errors(at) and len(at.get("vega_lite_chart")) == 1
    assert at.session_state["probe_run"].results.model["name"] == "toy.onnx"
    assert any("--model toy.onnx" in c.value for c in at.code)
    at.toggle(key="explain_on").set_value(True).run()
    assert any("need a Keras model" in i.value for i in no_trouble(at).info)


# --------------------------------------------------------------------------- issue 16


def png_header(width, height):
    """A PNG whose header declares `width` × `height` 8-bit grey pixels (no pixel data)."""
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


WIDGETS = ("number_input", "selectbox", "text_input", "checkbox", "toggle", "radio", "slider",
           "select_slider", "button", "multiselect", "download_button", "file_uploader")


def without_help(at):
    """Every widget of every kind drawn that has no help text (its kind and label)."""
    return [(kind, w.proto.label) for kind in WIDGETS for w in at.get(kind) if not w.proto.help]


def test_one_default_resolution_on_every_page(app):
    at = app()
    assert at.selectbox(key="gen_resolution").value == 70
    assert without_help(at) == [] and len(at.get("toggle")) >= 2
    at.switch_page("mcc_app/pages/scan.py").run()
    assert at.selectbox(key="scan_res").value == 70
    assert without_help(at) == [] and at.get("button")
    at.switch_page("mcc_app/pages/probe.py").run()
    assert no_trouble(at).selectbox(key="probe_bundled_res").value == 70
    assert "8,301 parameters" in " ".join(c.value for c in at.caption)  # not a repr
    assert without_help(at) == []
    at.switch_page("mcc_app/pages/report.py").run()
    assert without_help(no_trouble(at)) == [] and at.get("file_uploader")


def test_the_scenario_survives_pages_and_lives_in_the_url(app):
    from streamlit.testing.v1 import AppTest

    at = app()
    at.slider(key="sc_contrast_range").set_value((0.2, 0.3))
    at = no_trouble(submit(at, "scenario_form"))
    assert at.session_state["scenario"].contrast_range == (0.2, 0.3)
    query = dict(at.query_params)
    assert '"contrast_range":[0.2,0.3]' in query["scenario"] and query["res"] == "70"
    at.switch_page("mcc_app/pages/scan.py").run()
    at.switch_page("mcc_app/pages/generate.py").run()
    assert no_trouble(at).slider(key="sc_contrast_range").value == (0.2, 0.3)
    fresh = AppTest.from_file(str(at._script_path), default_timeout=120)  # a reload, a link
    fresh.query_params.update({"scenario": query["scenario"], "res": "100", "seed": "5"})
    fresh = no_trouble(fresh.run())
    assert fresh.session_state["scenario"].contrast_range == (0.2, 0.3)
    assert fresh.slider(key="sc_contrast_range").value == (0.2, 0.3)
    assert (fresh.selectbox(key="gen_resolution").value, fresh.number_input(key="gen_seed").value
            ) == (100, 5)
    broken = AppTest.from_file(str(at._script_path), default_timeout=120)
    broken.query_params["res"] = "60"
    assert errors(no_trouble(broken.run())) == [
        "Link not restored: the link's `res` must be one of (50, 70, 100); got res='60'."]


def test_controls_changed_but_not_applied_are_named(app):
    at = app()
    at.number_input(key="sc_cluster_min_count").set_value(5)
    at.slider(key="sc_contrast_range").set_value((0.1, 0.2))
    at = no_trouble(submit(at, "scenario_form"))  # refused: mc_count_range starts at 3 < 5
    assert any("mc_count_range" in e for e in errors(at))
    warning = at.warning[0].value
    assert warning.startswith("Changed, not applied: ") and "Contrast" in warning
    assert "Cluster min count" in warning
    at.number_input(key="gen_seed").set_value(5)  # refused again: the seed waits too
    at = no_trouble(submit(at, "scenario_form"))
    assert at.session_state["gen_patches"] == (70, 0) and "Seed" in at.warning[0].value
    assert at.query_params["seed"] == "0"
    at.number_input(key="sc_cluster_min_count").set_value(3)
    at.toggle(key="sc_detector").set_value(False)
    at.number_input(key="sc_dose").set_value(5000.0)  # ignored while the detector is off
    at = no_trouble(submit(at, "scenario_form"))
    assert at.session_state["scenario"].acquisition is None
    assert at.session_state["gen_patches"] == (70, 5) and not at.warning


def probe_small(at, values="0.2 0.8"):
    at.number_input(key="probe_n").set_value(16)
    at.number_input(key="probe_boot").set_value(100)
    at.text_input(key="probe_values").set_value(values)
    at.checkbox(key="probe_behaviour").set_value(False)
    at.checkbox(key="probe_cross").set_value(False)
    for button in at.button:
        if button.proto.form_id == "probe_form":
            return button.click().run()
    raise AssertionError("no probe form")


def test_a_probe_survives_a_page_switch_joins_the_history_and_a_session_file(app):
    from mcc_app import SessionFile, session_file
    from mcc_app._live import _saved_probe

    at = probe_small(app("probe"))
    job = at.session_state["probe_job"]
    at.switch_page("mcc_app/pages/generate.py").run()  # while it runs
    assert job.wait(300) and job.error is None
    at.switch_page("mcc_app/pages/probe.py").run()
    first = no_trouble(at).session_state["probe_run"]
    assert first.run_id == 1 and [m.label for m in at.metric][:2] == ["Accuracy", "Sensitivity"]
    chart = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert "Sensitivity" in json.dumps(chart) and "recall" not in json.dumps(chart)
    at = no_trouble(settle(probe_small(at, "0.1 0.9")))
    history = at.session_state["probe_history"]
    assert [r.run_id for r in history] == [1, 2]
    at.selectbox(key="probe_pick").set_value(1).run()
    assert no_trouble(at).session_state["probe_run"] is history[0]

    saved = session_file(SessionFile(synth.SceneConfig(mc_count_range=(4, 9)), 100, 3,
                                     tuple(_saved_probe(r) for r in history)))
    fresh = no_trouble(app("probe"))
    fresh.sidebar.file_uploader(key="session_upload").set_value(
        ("mine.json", saved, "application/json"))
    fresh = no_trouble(fresh.run())
    assert fresh.session_state["scenario"].mc_count_range == (4, 9)
    loaded = fresh.session_state["probe_history"]
    assert [r.results.metrics.values for r in loaded] == [r.results.metrics.values
                                                          for r in history]
    assert [r.scenario for r in loaded] == [r.scenario for r in history]  # each its own
    assert "(loaded)" in fresh.selectbox(key="probe_pick").format_func(2)
    fresh.switch_page("mcc_app/pages/report.py").run()
    labels = [b.proto.label for b in no_trouble(fresh).get("download_button")]
    assert "report.json" in labels

    doc = json.loads(saved)  # a bad file changes nothing: not the scenario, not the history
    doc["probes"][1]["report"]["metrics"]["values"] = [1, 2]
    doc["scenario"] = synth.SceneConfig(mc_count_range=(5, 6)).to_dict()
    fresh.sidebar.file_uploader(key="session_upload").set_value(
        ("bad.json", json.dumps(doc).encode(), "application/json"))
    fresh = no_trouble(fresh.run())
    assert errors(fresh) == ["Session not loaded: bad.json is not a valid session: "
                             "`probes[1].report`: `metrics.values` must be an object; got "
                             "metrics.values=[1, 2]."]
    assert fresh.session_state["scenario"].mc_count_range == (4, 9)
    assert len(fresh.session_state["probe_history"]) == 2


def test_a_loaded_scan_summary_is_shown(app):
    from mcc_app import SessionFile, session_file

    scan = {"image": "left.dcm", "n_windows": 120, "n_positive": 7}
    saved = session_file(SessionFile(synth.SceneConfig(), 70, 0, scan=scan))
    at = app("scan")
    at.sidebar.file_uploader(key="session_upload").set_value(
        ("mine.json", saved, "application/json"))
    at = no_trouble(at.run())
    assert any(h.value == "Last scan, from a loaded session" for h in at.subheader)
    assert list(at.dataframe[0].value["value"]) == ["left.dcm", "120", "7"]
    assert at.session_state["scan_summary_loaded"] == scan


def test_saving_again_keeps_a_loaded_scan_summary(monkeypatch):
    import streamlit as st

    from mcc_app import read_session
    from mcc_app._live import session_bytes

    scan = {"image": "left.dcm", "n_windows": 120}
    monkeypatch.setattr(st, "session_state", {"scan_summary_loaded": scan})
    assert read_session(session_bytes()()).scan == scan
    monkeypatch.setattr(st, "session_state", {"scan_summary_loaded": scan,
                                              "scan_summary": {"image": "new.png"}})
    assert read_session(session_bytes()()).scan == {"image": "new.png"}  # this session's


def test_scan_threshold_boxes_zoom_and_the_cli_files(app):
    at = app("scan")
    at.number_input(key="scan_h").set_value(40)
    at.number_input(key="scan_w").set_value(50)
    at = no_trouble(scan(no_trouble(at.run())))
    run = at.session_state["scan_result"]
    at.slider(key="scan_threshold").set_value(0.0).run()
    counts = {m.label: m.value for m in no_trouble(at).metric}
    assert at.session_state["scan_result"] is run  # no rescan
    assert counts["Positive patches"] == str(run.result.n_positive + run.result.n_negative)
    assert counts["Negative patches"] == "0"
    labels = [b.proto.label for b in at.get("download_button") if b.key.startswith("scan_")]
    assert labels == ["case_study.png", "heatmap.png", "scores.csv", "scan.json"]
    at.radio(key="scan_view").set_value("Probability heat map").run()
    assert any("0 (left) to 1 (right)" in img.caption for e in no_trouble(at).get("image")
               for img in e.proto.imgs)
    at.select_slider(key="scan_zoom").set_value(4).run()
    assert any("4× crop" in img.caption for e in no_trouble(at).get("image")
               for img in e.proto.imgs)
    assert not at.toggle(key="scan_show_boxes").disabled  # a synthetic mammogram's boxes
    assert without_help(at) == []  # the view, zoom, threshold and download widgets
    pictures = [k for k in run.memo if k[0] == "picture"]  # bounded, keyed by what they use
    assert 0 < len(pictures) <= 3
    assert ("picture", "Probability heat map", None, True) in pictures
    at.slider(key="scan_threshold").set_value(0.3).run()
    assert ("picture", "Probability heat map", None, True) in run.memo  # not redrawn


def test_bad_uploads_give_one_line_and_the_page_keeps_working(app):
    at = upload_image(app("scan"), "huge.png", png_header(20000, 20000))
    assert len(errors(at)) == 1 and "pixels" in errors(at)[0], errors(at)
    assert at.button(key="scan_go").disabled and at.radio(key="scan_source")
    colour = np.zeros((200, 200, 3), np.uint8)
    colour[..., 0] = 200
    at = upload_image(at, "rgb.png", png(colour))
    assert len(errors(at)) == 1 and "colour" in errors(at)[0].lower(), errors(at)
    at = upload_image(at, "black.png", png(np.zeros((300, 300), np.uint8)))
    at.number_input(key="scan_spacing").set_value(100.0)
    at = no_trouble(scan(no_trouble(at.run())))
    assert "Every window is background" in at.warning[0].value
    at.radio(key="scan_source").set_value("Upload a model").run()
    at.file_uploader(key="scan_upload").set_value(
        ("model.keras", b"this is not a model", "application/octet-stream"))
    scan_message = errors(no_trouble(at.run()))
    probe = app("probe")
    probe.radio(key="probe_source").set_value("Upload a model").run()
    probe.file_uploader(key="probe_upload").set_value(
        ("model.keras", b"this is not a model", "application/octet-stream"))
    assert errors(no_trouble(probe.run())) == scan_message == [
        "'model.keras' is not a readable Keras model: a .keras file is a zip archive, and this "
        "one is not."]
    generate = app()
    generate.file_uploader(key="scenario_upload").set_value(
        ("typo.json", b'{"contrast_rnge": [0.1, 0.2]}', "application/json"))
    message = errors(no_trouble(generate.run()))[0]
    assert message.endswith("'version'].") and "contrast_rnge" in message  # never cut


def test_the_scan_downloads_are_what_mcc_scan_writes(app, tmp_path, monkeypatch):
    """The same PNG scanned on the page and by `mcc scan` run in its folder: the same four
    files (scan.json's ``seconds`` aside; ``image`` is the name the image was given by: the
    upload's file name, the path typed, here the same)."""
    from mcc_cli import main

    image = synth.render_mammogram(synth.SceneConfig(), resolution_um=100, seed=3,
                                   size_mm=(30.0, 40.0)).image
    data = png(np.rint(np.clip(image, 0, 1) * 65535).astype(np.uint16))
    (tmp_path / "m.png").write_bytes(data)
    at = upload_image(app("scan"), "m.png", data)
    at.number_input(key="scan_spacing").set_value(100.0)
    at = no_trouble(scan(no_trouble(at.run())))
    at.radio(key="scan_view").set_value("Case study: positives tinted").run()
    assert any("--mode tint" in c.value for c in no_trouble(at).caption)
    assert any("bundled with the toolkit" in c.value for c in at.caption)  # the model's caption
    ours = at.session_state["scan_result"].files(0.5, "tint")
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "m.png", "--spacing-um", "100", "--out", "out", "--mode", "tint",
                 "--no-progress"]) == 0
    for name in ("case_study.png", "heatmap.png", "scores.csv"):
        assert ours[name] == (tmp_path / "out" / name).read_bytes(), name
    mine = json.loads(ours["scan.json"])
    theirs = json.loads((tmp_path / "out" / "scan.json").read_text())
    mine.pop("seconds"), theirs.pop("seconds")
    assert mine == theirs and mine["model"] == "bundled:shallow_100um.keras"


def test_generate_shows_an_anatomical_mammogram_with_its_findings(app):
    at = no_trouble(app())
    assert not [i for e in at.get("image") for i in e.proto.imgs
                if "density" in i.caption]  # off by default: no cost at first paint
    at = no_trouble(at.toggle(key="gen_mammo").set_value(True).run())
    at.selectbox(key="gen_mammo_view").set_value("MLO")
    at.selectbox(key="gen_mammo_density").set_value("c")
    at.multiselect(key="gen_mammo_lookalikes").set_value(["vascular", "dust"])
    at = no_trouble(at.run())
    captions = [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert any(c.startswith("MLO, density c, 100 µm · cyan: MCC boxes") for c in captions)
    table = at.dataframe[-1].value
    looks = table[table["kind"].isin(["vascular", "dust"])]
    assert len(looks) and (looks["label"] == 0).all()
    assert not table["kind"].isin(["skin", "rim", "coarse"]).any()  # only those chosen
    assert (table.loc[table["label"] == 1, "n_boxes"] >= 0).all() and not errors(at)
