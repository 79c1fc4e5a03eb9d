import json
import subprocess
import sys

import pytest

from mcc_cli import main
from synth import SceneConfig


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcc_cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_round_trip_through_the_command_line(tmp_path):
    out = tmp_path / "data"
    result = run("synth", "--resolution", "100", "--n", "12", "--seed", "3", "--out", str(out),
                 "--masks", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "12 patches at 100 µm" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 12 and manifest["masks"] is True
    ok = run("synth", "verify", str(out))
    assert ok.returncode == 0 and "OK" in ok.stdout
    victim = sorted(out.rglob("class_*/*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:-5])
    bad = run("synth", "verify", str(out))
    assert bad.returncode == 1 and "altered" in bad.stdout


def test_all_resolutions_share_the_scenes(tmp_path):
    assert main(["synth", "--resolution", "all", "--n", "6", "--seed", "1", "--out",
                 str(tmp_path), "--no-progress"]) == 0
    tables = [(tmp_path / f"{r}um" / "patches.csv").read_text().splitlines()
              for r in (50, 70, 100)]
    labels = [[line.split(",")[3] for line in t[1:]] for t in tables]
    assert labels[0] == labels[1] == labels[2]


def test_config_file_and_distribution_override(tmp_path):
    scene = tmp_path / "scene.json"
    scene.write_text(SceneConfig(contrast_range=(0.3, 0.4), positive_fraction=1.0).to_json())
    assert main(["synth", "--n", "5", "--out", str(tmp_path / "d"), "--config", str(scene),
                 "--distribution", "linear", "--resolution", "100", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["config"]["distribution"] == "linear"
    assert manifest["config"]["contrast_range"] == [0.3, 0.4]


@pytest.mark.parametrize(("args", "needle"), [
    (["--n", "0"], "`n`"),
    (["--n", "3", "--distribution", "spiral"], "`distribution`"),
    (["--n", "3", "--workers", "0"], "`workers`"),
    (["--n", "3", "--config", "missing.json"], "cannot read the scene config"),
    (["--out", "x"], "--n"),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, args, needle):
    argv = ["synth", "--no-progress", *args]
    if "--out" not in args:
        argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_json_config_is_one_line(tmp_path, capsys):
    scene = tmp_path / "scene.json"
    scene.write_text('{"contrast_range": [0.5, 2.0]}')
    assert main(["synth", "--n", "2", "--out", str(tmp_path / "o"), "--config", str(scene)]) == 2
    assert "contrast_range" in capsys.readouterr().err
    scene.write_text("{oops")
    assert main(["synth", "--n", "2", "--out", str(tmp_path / "o"), "--config", str(scene)]) == 2


def test_other_dataset_in_out_is_refused_without_overwrite(tmp_path, capsys):
    base = ["synth", "--n", "4", "--out", str(tmp_path), "--resolution", "100", "--no-progress"]
    assert main([*base, "--seed", "1"]) == 0
    assert main([*base, "--seed", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*base, "--seed", "2", "--overwrite"]) == 0


def test_verify_of_a_plain_folder_is_an_error(tmp_path, capsys):
    assert main(["synth", "verify", str(tmp_path)]) == 2
    assert "manifest" in capsys.readouterr().err


def test_unknown_resolution_is_rejected_by_the_parser():
    result = run("synth", "--n", "2", "--out", "x", "--resolution", "60")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_the_cli_starts_without_tensorflow():
    code = ("import sys, mcc_cli; mcc_cli._main.build_parser(); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("command", [["synth"], ["synth", "mammogram"]])
def test_help_lists_every_config_field_from_its_spec(capsys, command):
    import synth

    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    specs = {**synth.field_specs(synth.SceneConfig), **synth.field_specs(synth.Acquisition)}
    for name, spec in specs.items():
        assert f"{name}: {spec.rule()}. {spec.help}" in text, name
    assert "[0.1, 1] mm" in text and "quanta/mm²" in text and "[-360, 360] °" in text
    distribution = synth.field_spec("distribution")
    assert (f"one of {', '.join(distribution.options)} (overrides --config). "
            f"{distribution.help}") in text
