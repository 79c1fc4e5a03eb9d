"""The dashboard's plain functions, without Streamlit."""

import io
import json
import re
import shlex
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import evalkit
import synth
from mcc_app import (
    PAGES,
    SWEEP_SUGGESTIONS,
    ProbeSettings,
    config_from_controls,
    controls_from_config,
    cross_resolution_matrix,
    for_display,
    load_negatives,
    overlay_mask,
    parse_values,
    probe_command,
    read_png,
    read_scenario,
    read_upload,
    store_upload,
    sweep_chart,
)
from mcc_app._controls import DETECTOR, PLACEMENTS, RANGES, SCALARS, key, widget_args
from mcc_cli._main import build_parser
from mcc_cli._probe import _sweeps


@pytest.mark.parametrize("config", [
    synth.SceneConfig(),
    synth.SceneConfig(distribution="linear", acquisition=None, placement="center",
                      mc_count_range=(5, 40), cluster_min_count=4, lumpy_strength=0.3),
    synth.SceneConfig(acquisition=synth.Acquisition(blur_sigma_um=None, dose=None,
                                                    electronic_noise=None, bit_depth=None)),
    synth.SceneConfig(distribution={"segmental": 2.0, "diffuse": 1.0},
                      morphology_weights={"amorphous": 1.0}, orientation_range_deg=(-30, 250),
                      acquisition=synth.ACQUISITION_PRESETS["CsI 100um"]),
])
def test_controls_round_trip_every_field(config):
    controls = controls_from_config(config)
    assert all(name.startswith("sc_") for name in controls)
    back = config_from_controls(controls)
    assert back == config
    assert back.to_json() == config.to_json()


def test_a_changed_control_changes_its_field_and_bad_values_name_the_field():
    controls = controls_from_config(synth.SceneConfig())
    controls[key("mc_count_range")] = (20, 30)
    controls[key("dose_on")] = controls[key("electronic_noise_on")] = False
    config = config_from_controls(controls)
    assert config.mc_count_range == (20, 30) and config.acquisition.dose is None
    assert config.acquisition.electronic_noise is None and config.acquisition.blur_sigma_um == 20
    with pytest.raises(ValueError, match="electronic_noise"):  # noise needs a dose
        config_from_controls({**controls, key("electronic_noise_on"): True})
    with pytest.raises(ValueError, match="mc_count_range"):
        config_from_controls({**controls, key("mc_count_range"): (1, 5)})
    with pytest.raises(ValueError, match="contrast_range"):
        del controls[key("contrast_range")]
        config_from_controls(controls)


def _at(side):
    """A valid config with every numeric field at its `side` ("low" or "high") bound."""
    changes, detector = {}, {}
    for name, spec in {**synth.field_specs(synth.SceneConfig),
                       **synth.field_specs(synth.Acquisition)}.items():
        if spec.kind in ("number", "range"):
            bound = getattr(spec, side)
            bound = int(bound) if spec.integer else float(bound)
            target = detector if name in DETECTOR or name == "bit_depth" else changes
            target[name] = (bound, bound) if spec.kind == "range" else bound
    if side == "low":
        changes["hard_negative_fraction"] = 0.0  # cluster_min_count 1 leaves no hard negatives
    return synth.SceneConfig(**changes, acquisition=synth.Acquisition(**detector))


HEAVY = synth.SceneConfig(distribution={"clustered": 200.0, "linear": 1.0},
                          morphology_weights={"punctate": 150.0, "amorphous": 0.5})


@pytest.mark.parametrize("config", [HEAVY, _at("low"), _at("high")],
                         ids=["weights of 200", "low bounds", "high bounds"])
def test_every_control_value_fits_its_widget(config):
    """A widget resets a value outside its limits: every valid value must fit them."""
    controls = controls_from_config(config)
    assert config_from_controls(controls) == config
    widgets = {name: name for name in (*RANGES, *SCALARS, *DETECTOR, "cluster_min_count")}
    widgets |= {f"dist_{n}": "distribution" for n in synth.DISTRIBUTIONS}
    widgets |= {f"morph_{n}": "morphology_weights" for n in synth.MORPHOLOGIES}
    for control, field in widgets.items():
        args = widget_args(field, slider=field in RANGES or field in SCALARS)
        value = controls[key(control)]
        for v in value if isinstance(value, tuple) else (value,):
            assert type(v) is type(args["min_value"]) is type(args["step"]), control
            assert args["min_value"] <= v, control
            assert args["max_value"] is None or v <= args["max_value"], control


def test_widget_limits_and_help_are_the_configs():
    spec = synth.field_spec("mc_size_range_mm")
    args = widget_args("mc_size_range_mm", slider=True)
    assert (args["min_value"], args["max_value"], args["step"]) == (spec.low, spec.high,
                                                                    spec.step)
    assert spec.help in args["help"] and "[0.1, 1] mm" in args["help"]
    assert widget_args("mc_count_range")["min_value"] == 1 and widget_args(
        "mc_count_range")["format"] == "%d"
    assert widget_args("distribution")["max_value"] is None  # weights: no cap at 100
    assert widget_args("dose")["max_value"] == synth.field_spec("dose").high
    with pytest.raises(ValueError, match="no upper bound"):
        widget_args("morphology_weights", slider=True)
    with pytest.raises(ValueError, match="numeric"):
        widget_args("placement")


def test_placements_are_the_configs():
    for placement in PLACEMENTS:
        assert synth.SceneConfig(placement=placement).placement == placement
    with pytest.raises(ValueError):
        synth.SceneConfig(placement="nowhere")


def test_parse_values():
    assert parse_values("0.1 0.3, 2  linear") == [0.1, 0.3, 2, "linear"]
    with pytest.raises(ValueError, match="at least one value"):
        parse_values("  ,")


def test_probe_command_is_what_mcc_probe_parses():
    settings = ProbeSettings(model=None, resolution_um=100,
                             sweeps=[("contrast", [0.1, 0.6])], n=64, seed=3, n_bootstrap=100,
                             behaviour=True, cross_resolution=False, thresholds=False)
    line = probe_command(settings)
    argv = shlex.split(line)
    assert argv[:2] == ["mcc", "probe"]
    args = build_parser().parse_args(argv[1:])
    assert args.model is None and args.resolution == 100 and args.n == 64 and args.seed == 3
    assert args.bootstrap == 100 and args.no_cross_resolution and args.no_thresholds
    assert not args.no_behaviour and str(args.scenario) == "scenario.json"
    assert _sweeps(args) == [("contrast", [0.1, 0.6])]
    uploaded = probe_command(ProbeSettings(model="my model.keras", resolution_um=70))
    assert "--model 'my model.keras'" in uploaded and "--resolution" not in uploaded
    assert "--backgrounds" not in line + uploaded
    mine = build_parser().parse_args(shlex.split(probe_command(ProbeSettings(
        model=None, resolution_um=70, backgrounds="my negatives", spacing_um=85.5)))[1:])
    assert str(mine.backgrounds) == "my negatives" and mine.spacing_um == 85.5


def test_every_suggested_sweep_is_valid_for_the_default_scenario():
    import evalkit

    for name, text in SWEEP_SUGGESTIONS.items():
        for value in parse_values(text):
            evalkit.condition_config(synth.SceneConfig(), name, value)


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_read_png_8_and_16_bit_and_colour():
    grey8 = np.array([[0, 255], [51, 102]], np.uint8)
    assert np.allclose(read_png(_png(grey8)), grey8 / 255.0)
    grey16 = np.array([[0, 65535], [4095, 30000]], np.uint16)
    out = read_png(_png(grey16))
    assert out.dtype == np.float32 and np.allclose(out, grey16 / 65535.0)
    grey_as_rgb = np.repeat(grey8[..., None], 3, axis=2)
    assert np.array_equal(read_png(_png(grey_as_rgb)), read_png(_png(grey8)))
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 1] = 200
    with pytest.raises(ValueError, match="channels differ"):
        read_png(_png(colour))


def test_the_dashboard_refuses_what_mcc_scan_refuses_with_the_same_sentence(tmp_path, capsys):
    from mcc_cli import main

    colour = np.zeros((300, 300, 3), np.uint8)
    colour[..., 1] = 200
    path = tmp_path / "colour.png"
    path.write_bytes(_png(colour))
    with pytest.raises(ValueError) as raised:
        read_png(path.read_bytes(), str(path))
    assert main(["scan", str(path), "--resolution", "100", "--out", str(tmp_path / "o")]) == 2
    cli = capsys.readouterr().err
    assert str(raised.value).split("; ", 1)[1] in cli


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n broken", b""])
def test_read_png_refuses_what_is_not_an_image(data):
    with pytest.raises(ValueError, match="cannot be read"):
        read_png(data, "scan.png")


def test_read_png_refuses_other_formats():
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="JPEG")
    with pytest.raises(ValueError, match="JPEG"):
        read_png(buffer.getvalue())


def test_read_upload_reads_tiff_and_dicom_with_their_metadata():
    grey16 = np.array([[0, 65535], [4095, 30000]], np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(grey16).save(buffer, format="TIFF")
    tiff = read_upload(buffer.getvalue(), "m.tif")
    assert tiff.format == "TIFF" and tiff.spacing_um is None
    assert np.array_equal(tiff.pixels, grey16)
    data = synth.io.encode_dicom(grey16, spacing_um=85, laterality="R", view="MLO")
    dicom = read_upload(data, "m.dcm")
    assert (dicom.format, dicom.spacing_um, dicom.laterality, dicom.view) == (
        "DICOM", 85.0, "R", "MLO")
    assert np.array_equal(dicom.pixels, grey16)
    assert np.array_equal(read_png(data, "m.dcm"), dicom.unit)  # the old name reads DICOM too


def _tissue(seed: int, side: int = 150) -> bytes:
    noise = np.random.default_rng(seed).normal(30000, 600, (side, side))
    return _png(noise.astype(np.uint16))


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_load_negatives_from_a_zip_keeps_its_paths_and_skips_what_is_not_an_image():
    data = _zip({"negs/b.png": _tissue(1), "negs/a.png": _tissue(0), "negs/notes.txt": b"hi",
                 "__MACOSX/negs/._a.png": b"resource fork", "negs/.hidden.png": b"x"})
    bg = load_negatives([("mine.zip", data)], spacing_um=100, resolution_um=100)
    assert bg.names == ("negs/a.png", "negs/b.png") and bg.resolution_um == 100
    assert bg.images[0].shape == (150, 150)
    same = load_negatives(data, spacing_um=100, resolution_um=100)  # bare bytes: a zip
    assert same.sha256 == bg.sha256
    files = load_negatives([("b.png", _tissue(1)), ("a.png", _tissue(0))], spacing_um=100,
                           resolution_um=70)
    assert files.names == ("a.png", "b.png") and files.sha256 == bg.sha256  # sorted, same bytes
    assert files.images[0].shape[0] > 150  # resampled to 70 µm


@pytest.mark.parametrize(("name", "needle"), [
    ("../escape.png", "names stay inside it; got mine.zip, which holds '../escape.png'"),
    ("negs/../../escape.png", "names stay inside it"),
    ("/etc/escape.png", "names stay inside it"),
    ("C:/escape.png", "names stay inside it"),
    ("negs\\..\\escape.png", "names stay inside it"),
])
def test_load_negatives_refuses_names_outside_the_zip(name, needle):
    with pytest.raises(ValueError, match="`backgrounds` must be a zip") as raised:
        load_negatives([("mine.zip", _zip({"ok.png": _tissue(0), name: _tissue(1)}))],
                       spacing_um=100)
    assert needle in str(raised.value)


def test_load_negatives_refuses_too_many_files_or_bytes_before_unpacking():
    many = _zip({f"{k}.png": b"" for k in range(1001)})
    with pytest.raises(ValueError, match="at most 1,000 files; got mine.zip, which holds 1,001"):
        load_negatives([("mine.zip", many)], spacing_um=100)
    bomb = _zip({"a.png": _tissue(0), "zeros.png": bytes(4_000_000)})  # 4 MB in a few kB
    assert len(bomb) < 200_000
    with pytest.raises(ValueError, match="unpack to at most 1,000,000 bytes; got mine.zip"):
        load_negatives([("mine.zip", bomb)], spacing_um=100, max_bytes=1_000_000)
    with pytest.raises(ValueError, match="at most 2 files; got the upload, which holds 3"):
        load_negatives([(f"{k}.png", _tissue(k)) for k in range(3)], spacing_um=100,
                       max_files=2)


@pytest.mark.parametrize(("files", "needle"), [
    ([("mine.zip", b"not a zip at all")], "got mine.zip, which is not a readable zip"),
    ([("mine.zip", _zip({"readme.txt": b"hi"}))], "got mine.zip, which holds none"),
    ([("a.png", b"x"), ("b.zip", b"y")], "one .zip of them; got 2 files with b.zip among them"),
    ([("notes.txt", b"hi")], "one .zip of them; got 'notes.txt'"),
    ([("a.png", b"x"), ("a.png", b"y")], "distinct names; got 'a.png' twice"),
    ([("a.png", b"not an image")], "`backgrounds` must be a readable PNG, TIFF or DICOM image; "
                                   "got a.png"),
    ([("a.png", _tissue(0, side=60))], "must be at least one patch"),
], ids=["not a zip", "no image", "zip among files", "not an image suffix", "same name twice",
        "unreadable", "smaller than a patch"])
def test_load_negatives_refuses_in_one_line(files, needle):
    with pytest.raises(ValueError) as raised:
        load_negatives(files, spacing_um=100, resolution_um=100)
    message = str(raised.value)
    assert needle in message and "\n" not in message and "mcc_negatives_" not in message


def test_load_negatives_needs_a_spacing_except_for_dicom():
    with pytest.raises(ValueError, match="`spacing_um` is needed: a.png is a PNG or TIFF file"):
        load_negatives([("a.png", _tissue(0))])
    with pytest.raises(ValueError, match="`spacing_um` must be a pixel spacing"):
        load_negatives([("a.png", _tissue(0))], spacing_um=0)
    tissue = np.random.default_rng(0).normal(0.45, 0.01, (120, 120)).astype(np.float32)
    bg = load_negatives([("m.dcm", synth.io.encode_dicom(tissue, spacing_um=85))])
    assert bg.spacing_um == (85.0,) and bg.resolution_um == 100  # its own, then the nearest


def test_read_scenario():
    config = synth.SceneConfig(distribution="diffuse")
    assert read_scenario(config.to_json().encode()) == config
    for data, needle in ((b"\xff\xfe\x00", "not a text file"), (b"{oops", "valid JSON"),
                         (b'{"colour": 1}', "colour"), (b"[1, 2]", "JSON object")):
        with pytest.raises(ValueError, match=needle):
            read_scenario(data, "s.json")


def test_store_upload_keeps_the_name_and_stores_once(tmp_path):
    zipped = b"PK\x03\x04abc"  # a .keras file is a zip archive
    first = store_upload(zipped, "My Model.keras", tmp_path)
    again = store_upload(zipped, "My Model.keras", tmp_path)
    other = store_upload(zipped + b"d", "My Model.keras", tmp_path)
    assert first == again != other
    assert first.name == "My_Model.keras" and first.read_bytes() == zipped
    with pytest.raises(ValueError, match="not a model file"):
        store_upload(b"abc", "notes.txt", tmp_path)
    with pytest.raises(ValueError, match="is not a readable Keras model: an .h5 file is an HDF5"):
        store_upload(b"abc", "old.h5", tmp_path)


def test_overlay_mask_paints_only_the_mask():
    image = np.full((4, 5), 0.5, np.float32)
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = True
    out = overlay_mask(image, mask, color=(255, 0, 0), alpha=1.0)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert tuple(out[1, 2]) == (255, 0, 0) and tuple(out[0, 0]) == (128, 128, 128)
    assert np.array_equal(out[~mask], overlay_mask(image, np.zeros_like(mask))[~mask])
    with pytest.raises(ValueError, match="mask"):
        overlay_mask(image, mask[:2])


def test_for_display_shrinks_big_pictures_only():
    small = np.full((10, 20), 0.5, np.float32)
    assert for_display(small).shape == (10, 20) and for_display(small).dtype == np.uint8
    big = np.zeros((3000, 1500, 3), np.uint8)
    assert for_display(big, max_side=1000).shape == (1000, 500, 3)


def test_sweep_chart_has_a_band_and_a_line_per_metric():
    rows = [(c, m, v, v - 0.1, v + 0.1, 10, "")
            for c, v in (("0.6", 0.9), ("0.1", 0.4)) for m in ("recall", "specificity",
                                                                 "roc_auc", "accuracy")]
    frame = pd.DataFrame(rows, columns=["condition", "metric", "value", "ci_low", "ci_high",
                                        "n", "note"])
    sweep = evalkit.SweepResult(parameter="contrast", metrics=frame, seed=0, resolution_um=70,
                                predictions=pd.DataFrame({"condition": ["0.6"]}), n_bootstrap=0)
    spec = sweep_chart(sweep).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]
    assert marks == ["area", "line"]
    values = next(iter(spec["datasets"].values()))
    assert {v["metric"] for v in values} == {"Sensitivity", "Specificity", "ROC AUC"}  # tiles
    x = spec["layer"][1]["encoding"]["x"]
    assert x["title"] == "contrast" and x["sort"] == ["0.6", "0.1"]  # the order run
    colour = spec["layer"][1]["encoding"]["color"]
    assert colour["scale"]["domain"] == ["Sensitivity", "Specificity", "ROC AUC"]
    assert len(set(colour["scale"]["range"])) == 3 and colour["legend"]["orient"] == "bottom"
    with_accuracy = sweep_chart(sweep, ("accuracy", "recall")).to_dict()
    assert {v["metric"] for v in next(iter(with_accuracy["datasets"].values()))} == {
        "Accuracy", "Sensitivity"}


def test_a_link_and_a_session_file_round_trip():
    from mcc_app import SessionFile, read_session, scenario_query, session_file, view_from_query

    config = synth.SceneConfig(distribution="segmental", contrast_range=(0.2, 0.4),
                               acquisition=None)
    view = view_from_query(scenario_query(config, resolution_um=50, seed=9))
    assert (view.scenario, view.resolution_um, view.seed) == (config, 50, 9)
    with pytest.raises(ValueError, match="the link's `scenario` is not a valid scenario"):
        view_from_query({"scenario": '{"contrast_range": [0.2, 1.5]}'})
    saved = SessionFile(config, 100, 2, scan={"n_windows": 4})
    assert read_session(session_file(saved)) == saved
    with pytest.raises(ValueError, match="not readable JSON"):
        read_session(b"{", "bad.json")


def test_a_job_reports_progress_and_stops_when_asked():
    import threading

    from mcc_app import start_job

    gate = threading.Event()

    def work(job):
        for k in range(1000):
            gate.wait(5)
            job.step(k, 1000, "patches")
        return "all"

    job = start_job("export", work)
    job.stop()
    gate.set()
    assert job.wait(10) and job.cancelled and job.result is None and job.error is None


def test_cross_resolution_matrix():
    frame = pd.DataFrame({"resolution_um": [50, 70, 50, 70], "metric": ["a", "a", "b", "b"],
                          "value": [1.0, 2.0, 3.0, 4.0]})
    table = cross_resolution_matrix(frame)
    assert list(table.columns) == ["metric", "50 µm", "70 µm"]
    assert table.set_index("metric").loc["b", "70 µm"] == 4.0


def test_pages_exist():
    from mcc_app import APP_SCRIPT

    assert APP_SCRIPT.is_file()
    for page in PAGES:
        assert (APP_SCRIPT.parent / page.path).is_file()
    assert [p.url_path for p in PAGES] == ["generate", "probe", "scan", "report"]


# --------------------------------------------------------------------------- session files


def _session_doc(**change):
    """A valid session file's document (one probe), with `change` applied."""
    from mcc_app import SessionFile, session_file
    from mcc_app._session import SavedProbe

    predictor = evalkit.as_predictor(lambda x: x.max(axis=(1, 2, 3)), resolution_um=100)
    results = evalkit.run_probe(predictor, synth.SceneConfig(contrast_range=(0.3, 0.6)), n=8,
                                seed=0, behaviour=False, resolutions=False, thresholds=False,
                                n_bootstrap=0)
    report = json.loads(evalkit.render_report(results)["report.json"])
    probe = SavedProbe({"name": "m.onnx", "sha256": "ab", "bundled": None},
                       {"model": "m.onnx", "resolution_um": 0, "sweeps": [], "n": 8},
                       report)
    doc = json.loads(session_file(SessionFile(synth.SceneConfig(), 70, 1, (probe,))))
    for path, value in change.items():
        *head, last = path.split("__")
        target = doc
        for part in head:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return doc


def _dumped(doc) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("change", "needle"), [
    ({"generate": [1]}, "`generate` must be an object"),
    ({"generate": {"seed": -5}}, "`generate.seed` must be an integer within [0, 2**31 - 1]"),
    ({"generate": {"seed": "abc"}}, "`generate.seed` must be an integer; got 'abc'"),
    ({"generate": {"seed": 2.0}}, "`generate.seed` must be an integer"),
    ({"generate": {"resolution_um": 60}}, "`generate.resolution_um`: `resolution_um` must be"),
    ({"generate": {"resolution_um": 70.5}}, "`generate.resolution_um` must be an integer"),
    ({"scenario": {"contrast_range": [0.2, 1.5]}}, "`scenario` is not a valid scenario"),
    ({"probes__0__report__metrics__values": [1, 2]},
     "`probes[0].report`: `metrics.values` must be an object"),
    ({"probes__0__report__n": "8"}, "`probes[0].report`: `n` must be an integer"),
    ({"probes__0__report__scenario": {"mc_count_range": [9, 2]}},
     "`probes[0].report.scenario` is not a valid scenario"),
    ({"probes__0__settings__n": "many"}, "`probes[0].settings.n` is of the wrong type"),
    ({"probes__0__settings__colour": 1}, "`probes[0].settings` has unknown fields"),
    ({"probes__0__model": [1]}, "`probes[0].model` must be an object"),
    ({"probes": {"a": 1}}, "`probes` must be a list"),
    ({"probes": [1]}, "`probes[0]` must be an object"),
    ({"version": 2}, "`version` must be 1"),
    ({"scan": [1]}, "`scan` must be an object"),
])
def test_a_bad_session_file_is_one_line_naming_the_field(change, needle):
    from mcc_app import read_session

    with pytest.raises(ValueError, match=re.escape(needle)) as info:
        read_session(_dumped(_session_doc(**change)), "mine.json")
    assert str(info.value).startswith("mine.json is not a valid session: ")
    assert "\n" not in str(info.value)


def test_session_files_refuse_what_would_crash_the_app():
    from mcc_app import MAX_SESSION_BYTES, read_session

    head = b'{"format": "mcc-dashboard-session", "version": 1, "scenario": {}, '
    cases = {
        head + b'"generate": {"seed": Infinity}}': "Infinity, which JSON does not allow",
        head + b'"scan": ' + b"[" * 100_000 + b"]" * 100_000 + b"}": "nests deeper than",
        head + b'"scan": ' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}": "nests deeper than",
        b" " * (MAX_SESSION_BYTES + 1): "a session file holds at most 4 MiB",
    }
    for data, needle in cases.items():
        with pytest.raises(ValueError, match=needle):
            read_session(data, "mine.json")


def test_a_read_session_holds_each_probe_read_with_its_own_scenario():
    from mcc_app import read_session, session_file

    session = read_session(_dumped(_session_doc()), "mine.json")
    probe = session.probes[0]
    assert session.scenario == synth.SceneConfig()
    assert probe.scenario == synth.SceneConfig(contrast_range=(0.3, 0.6))  # the report's own
    assert probe.probe_settings.n == 8 and probe.results.metrics.n == 8
    again = session_file(session)  # saved again: the same file
    assert read_session(again) == session


def test_a_session_with_nan_is_saved_with_null_and_read_back():
    from mcc_app import SessionFile, read_session, session_file

    saved = SessionFile(synth.SceneConfig(), 70, 0, scan={"seconds": float("nan"), "n": 3})
    data = session_file(saved)
    assert b'"seconds": null' in data
    assert read_session(data).scan == {"seconds": None, "n": 3}


# --------------------------------------------------------------------------- jobs


def test_a_stop_during_the_last_step_keeps_nothing_and_a_finished_job_reaches_n_of_n():
    import threading

    from mcc_app import start_job

    inside = threading.Event()
    release = threading.Event()

    def last_stage(job):
        job.stage("clean metrics")
        job.stage("sweep contrast")  # the last stage: no progress call after it
        inside.set()
        release.wait(10)
        return "results"

    job = start_job("probe", last_stage, total=2, unit="stage")
    assert inside.wait(10)
    assert job.status().startswith("sweep contrast · 1 of 2 stages done")
    job.stop()
    release.set()
    assert job.wait(10) and job.cancelled and job.result is None
    done = start_job("probe", lambda job: (job.stage("clean metrics"), "r")[1], total=1,
                     unit="stage")
    assert done.wait(10) and done.result == "r" and done.status().startswith(
        "clean metrics · 1 of 1 stages done")


def test_a_job_stops_when_its_session_ends_and_errors_keep_their_traceback(caplog):
    from mcc_app import start_job

    def forever(job):
        for k in range(10**6):
            job.step(k, 10**6)

    orphan = start_job("scan", forever, alive=lambda: False)
    assert orphan.wait(10) and orphan.cancelled

    def broken(job):
        raise RuntimeError("inside the model")

    with caplog.at_level("ERROR", logger="mcc_app._jobs"):
        failed = start_job("probe", broken)
        assert failed.wait(10)
    assert isinstance(failed.error, RuntimeError)
    assert "inside the model" in caplog.text and "Traceback" in caplog.text
    refused = start_job("probe", lambda job: (_ for _ in ()).throw(ValueError("one line")))
    assert refused.wait(10) and "one line" not in caplog.text.split("inside the model")[1]


def test_the_server_runs_a_few_jobs_at_most():
    import threading

    from mcc_app._jobs import MAX_SERVER_JOBS, Busy, start_job

    gate = threading.Event()
    jobs = [start_job(f"job {k}", lambda job: gate.wait(10)) for k in range(MAX_SERVER_JOBS)]
    try:
        with pytest.raises(Busy, match=f"already runs {MAX_SERVER_JOBS} probes"):
            start_job("export", lambda job: None)
    finally:
        gate.set()
    assert all(job.wait(10) for job in jobs)
    assert start_job("export", lambda job: "ok").wait(10)  # room again


def test_detector_settings_do_not_count_while_the_detector_is_off():
    from mcc_app import controls_from_config, unapplied

    off = synth.SceneConfig(acquisition=None)
    controls = controls_from_config(off)
    changed = {**controls, "sc_dose": 5.0, "sc_dose_on": False, "sc_bit_depth": 8,
               "sc_acq_output": synth.field_spec("output").options[-1]}
    assert unapplied(changed, off) == []
    assert unapplied({**changed, "sc_detector": True}, off) == [  # on: they count again
        "acquisition", "bit_depth", "dose", "output"]
