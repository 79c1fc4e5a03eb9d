"""The attenuation model: what the physics issue asks to be measured, measured."""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import synth
from synth import Acquisition, SceneConfig
from synth._physics import Chain, energy_kev, mc_delta_mu, window_width
from synth._validate import flat_field_nps, mc_log_signal, sphere_scene

LEGACY = json.loads((Path(__file__).parent / "data" / "legacy_v1.json").read_text())


@pytest.fixture(scope="module")
def report():
    return synth.validate(n=24, resolutions_um=(50, 100))


def test_every_physics_check_passes(report):
    failed = report.table[~report.table["passed"]]
    assert failed.empty, failed.drop(columns="how").to_string()
    checks = set(report.table["check"])
    for needed in ("texture β", "opposite-edge correlation", "MTF at 2 cycles/mm",
                   "MC integrated log signal / (Δμ × volume)", "integrated signal ∝ d^k",
                   "MC peak thickness / diameter", "hydroxyapatite / calcium oxalate signal",
                   "MC signal dense / fatty tissue", "solid / Gaussian integrated signal",
                   "NPS ∝ 1/dose", "NPS high/low frequency, direct",
                   "NPS high/low frequency, indirect", "MC count distribution (χ² p-value)",
                   "least MC centre distance"):
        assert needed in checks


def test_validation_is_written_as_markdown_csv_and_figures(report, tmp_path):
    files = synth.write_validation(report, tmp_path)
    names = {f.name for f in files}
    assert {"validation.md", "validation.csv", "texture_power.png", "nps.png"} <= names
    text = (tmp_path / "validation.md").read_text()
    assert f"{len(report.table)} of {len(report.table)} checks passed" in text
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_log_signal_of_an_mc_does_not_depend_on_the_tissue_behind_it():
    signals = [mc_log_signal(sphere_scene(0.3, density=d, thickness_mm=t), 70).sum()
               for d in (0.05, 0.5, 0.95) for t in (40.0, 60.0)]
    np.testing.assert_allclose(signals, signals[0], rtol=1e-3)


def test_a_small_mc_is_several_times_fainter_than_a_large_one_of_the_same_material():
    small = mc_log_signal(sphere_scene(0.1, x_mm=0.025, y_mm=0.025), 50).max()
    large = mc_log_signal(sphere_scene(0.5, x_mm=0.025, y_mm=0.025), 50).max()
    assert large / small > 4.0


def test_hydroxyapatite_is_brighter_than_calcium_oxalate_by_their_attenuation_ratio():
    e = energy_kev(None)
    ha = mc_log_signal(sphere_scene(0.4), 100).sum()
    ox = mc_log_signal(sphere_scene(0.4, material="calcium_oxalate"), 100).sum()
    ratio = mc_delta_mu("hydroxyapatite", e) / mc_delta_mu("calcium_oxalate", e)
    assert ha / ox == pytest.approx(ratio, rel=0.01) and ratio > 2


def test_indirect_noise_falls_to_the_electronic_floor_and_direct_noise_stays_flat():
    base = Acquisition(dose=2e5, electronic_noise=0.0, blur_sigma_um=80.0, bit_depth=None)
    f, direct, _ = flat_field_nps(dataclasses.replace(base, detector="direct"), 100, 24, 0)
    _, csi, _ = flat_field_nps(dataclasses.replace(base, detector="indirect"), 100, 24, 0)
    _, floor, _ = flat_field_nps(dataclasses.replace(base, detector="indirect",
                                                     electronic_noise=30.0), 100, 24, 0)
    low, high = (f > 0.3) & (f < 0.8), f > 3.5
    assert direct[high].mean() / direct[low].mean() == pytest.approx(1.0, abs=0.15)
    assert csi[high].mean() / csi[low].mean() < 0.05  # MTF² at 80 µm
    assert floor[high].mean() > 3 * csi[high].mean()  # the electronic floor shows there


def test_per_mc_dprime_grows_with_dose_and_size():
    config = SceneConfig(positive_fraction=1.0, morphology_weights="punctate",
                         material_weights="hydroxyapatite", contrast_range=(1.0, 1.0))
    low = synth.generate(config.replace(acquisition__dose=1e5), 8, resolution_um=70, seed=1)
    high = synth.generate(config.replace(acquisition__dose=4e5), 8, resolution_um=70, seed=1)
    ratio = high.calcifications["dprime"] / low.calcifications["dprime"]
    assert ratio.between(1.7, 2.1).all()  # √4 = 2, less a little electronic noise
    mcs = low.calcifications
    assert np.corrcoef(np.log(mcs["size_mm"]), np.log(mcs["dprime"]))[0, 1] > 0.8
    k = config.cluster_min_count
    for _, row in low.patches.iterrows():
        inside = mcs[(mcs["index"] == row["index"]) & mcs["inside"]]["dprime"]
        assert row["dprime_k"] == pytest.approx(np.sort(inside)[::-1][k - 1])


def test_a_dprime_threshold_relabels_faint_clusters():
    config = SceneConfig(positive_fraction=1.0, mc_size_range_mm=(0.1, 0.12),
                         contrast_range=(0.3, 0.3), label_dprime_threshold=50.0,
                         acquisition=Acquisition(dose=1e5))
    batch = synth.generate(config, 16, resolution_um=100, seed=2)
    assert (batch.labels == (batch.patches["dprime_k"] >= 50.0)).all()
    assert batch.labels.sum() < len(batch)


def test_an_ideal_detector_gives_infinite_dprime_and_no_mc_leaves_the_background():
    batch = synth.generate(SceneConfig(acquisition=None, positive_fraction=1.0), 4,
                           resolution_um=100, seed=0)
    assert np.isinf(batch.calcifications["dprime"]).all()
    scene = synth.sample_scene(SceneConfig(), rng=np.random.default_rng(3))
    bare = dataclasses.replace(scene, calcifications=())
    zero = dataclasses.replace(scene, calcifications=tuple(
        dataclasses.replace(mc, contrast=0.0) for mc in scene.calcifications))
    for res in synth.RESOLUTIONS_UM:
        np.testing.assert_array_equal(synth.render(bare, res).image,
                                      synth.render(zero, res).image)


@pytest.mark.parametrize("output", ["presentation", "processing"])
def test_outputs_for_presentation_and_processing(output):
    config = SceneConfig(acquisition=Acquisition(output=output), positive_fraction=1.0,
                         contrast_range=(1.0, 1.0), mc_size_range_mm=(0.4, 0.5),
                         morphology_weights="punctate", material_weights="hydroxyapatite")
    patch = synth.render(synth.sample_scene(config, rng=np.random.default_rng(4)), 70)
    mc = patch.calcifications.iloc[0]
    r, c = int(round(mc.row_px)), int(round(mc.col_px))
    around = np.median(patch.image)
    # an MC attenuates: brighter for presentation (log), darker in the raw fluence
    assert (patch.image[r, c] > around) == (output == "presentation")


def test_scatter_lowers_contrast_and_the_heel_effect_tilts_the_fluence():
    scene = sphere_scene(0.4, acquisition=Acquisition(dose=None, electronic_noise=None,
                                                      bit_depth=None, output="processing"))
    plain = synth.render(scene, 100).image

    def with_(**kw):
        return synth.render(dataclasses.replace(scene, acquisition=dataclasses.replace(
            scene.acquisition, **kw)), 100).image

    def contrast(image):
        return 1 - image[50, 50] / np.median(image)

    assert contrast(with_(scatter_to_primary=0.5)) == pytest.approx(contrast(plain) / 1.5,
                                                                    rel=0.03)
    heel = with_(heel_gradient=-0.1)
    rows = heel.mean(axis=1) / plain.mean(axis=1)
    assert rows[0] > rows[-1] and rows[-1] / rows[0] == pytest.approx(0.9, abs=0.02)


def test_the_relative_model_reproduces_first_wave_images_byte_for_byte():
    """Version-1 configs give the first wave's bytes: those of legacy_v1.json, or, on a CPU
    whose float32 kernels round differently, one whole set of legacy_v1_platforms.json."""
    got = {}
    for name in ("default", "csi_lumpy_linear"):
        config = SceneConfig.from_dict(LEGACY[name]["config"])  # a version-1 file
        assert config.contrast_model == "relative" and config.texture == "periodic"
        got[name] = {str(res): hashlib.sha256(synth.generate(
            config, 24, resolution_um=res, seed=7).images.tobytes()).hexdigest()
            for res in synth.RESOLUTIONS_UM}
    m = LEGACY["mammogram"]
    image = synth.render_mammogram(SceneConfig.from_dict(m["config"]), resolution_um=100,
                                   seed=m["seed"], size_mm=tuple(m["size_mm"])).image
    got["mammogram"] = hashlib.sha256(image.tobytes()).hexdigest()
    reference = {"default": LEGACY["default"]["images"],
                 "csi_lumpy_linear": LEGACY["csi_lumpy_linear"]["images"],
                 "mammogram": m["image"]}
    platforms = json.loads((Path(__file__).parent / "data" / "legacy_v1_platforms.json")
                           .read_text())["sets"]
    assert got == reference or got in platforms.values(), got


def test_config_versions():
    old = dict(LEGACY["default"]["config"])
    assert "version" not in old
    assert SceneConfig.from_dict(old).version == synth.SCENE_CONFIG_VERSION
    assert json.loads(SceneConfig().to_json())["version"] == 2
    with pytest.raises(ValueError, match=r"`version` must be 1 or 2 .*got version=3"):
        SceneConfig.from_dict({**old, "version": 3})
    with pytest.raises(ValueError, match=r"add \"version\": 2"):
        SceneConfig.from_dict({**old, "mc_shape": "solid"})
    with pytest.raises(ValueError, match=r"add \"version\": 2"):
        SceneConfig.from_dict({**old, "acquisition": {"beam": "Mo/Mo 28kV"}})


@pytest.mark.parametrize(("make", "field"), [
    (lambda: SceneConfig(material_weights={"bone": 1.0}), "material_weights"),
    (lambda: Acquisition(beam="Cu/Cu 30kV"), "beam"),
    (lambda: Acquisition(energy_kev=50.0), "energy_kev"),
    (lambda: Acquisition(energy_kev=10.0), "energy_kev"),
    (lambda: SceneConfig(breast_thickness_range_mm=(-5.0, 40.0)), "breast_thickness_range_mm"),
    (lambda: SceneConfig(contrast_model="absolute"), "contrast_model"),
    (lambda: SceneConfig(contrast_model="relative", mc_shape="solid"), "mc_shape"),
    (lambda: SceneConfig(mc_min_spacing_mm=-0.1), "mc_min_spacing_mm"),
    (lambda: synth.mass_attenuation("bone", 20.0), "material"),
    (lambda: synth.mass_attenuation("adipose", 41.0), "energy_kev"),
])
def test_bad_physics_input_names_its_field(make, field):
    with pytest.raises(ValueError, match=rf"^`{field}`"):
        make()


def test_the_window_and_the_chain_agree_on_an_ideal_image():
    chain = Chain(None, 0.1)
    level = chain.mu_fat * 50.0 + 0.5 * chain.mu_gf * 50.0  # half-glandular tissue
    a = np.full((4, 4), level, dtype=np.float32)
    out = chain.render(a, level, 50.0, (1, 2, 3, 4))
    expected = (level - chain.mu_fat * 50.0) / window_width(chain.energy)
    assert expected == pytest.approx(0.3)  # all-glandular 50 mm sits at 0.6
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_mcc_synth_validate_writes_the_table_and_refuses_a_bad_config(tmp_path, capsys):
    from mcc_cli import main

    assert main(["synth", "validate", "--out", str(tmp_path / "v"), "--n", "16"]) == 0
    assert "physics checks passed" in capsys.readouterr().out
    assert (tmp_path / "v" / "validation.csv").exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 2, "acquisition": {"energy_kev": 80}}')
    assert main(["synth", "validate", "--out", str(tmp_path / "w"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`energy_kev` must lie within [15, 40]" in err[0]
    assert not (tmp_path / "w").exists()
