import json

import numpy as np
import pytest

import mcc_core
import synth
from mcc_core.training import _study_data
from mcc_core.training._study_arms import plan_arms

BUDGET = mcc_core.StudyBudget(n_patches=24, epochs=1, batch_size=16)
TINY = mcc_core.StudyScale(name="test", families=("shallow",), n_bootstrap=50,
                           budgets={"shallow": BUDGET, "mobilenet": BUDGET})
TWO_EPOCHS = mcc_core.StudyScale(name="test-2", families=("shallow",), n_bootstrap=20, budgets={
    "shallow": mcc_core.StudyBudget(n_patches=24, epochs=2, batch_size=16),
    "mobilenet": BUDGET})
LABELS = {"Source-70", "Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
          "Transfer-100", "Fine-tune-50", "Fine-tune-70", "Fine-tune-100", "Mixed-50",
          "Mixed-70", "Mixed-100", "Eval-70", "Resample-50", "Resample-100"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return out, mcc_core.run_study(out, scale=TINY, models=("shallow",))


def test_the_study_runs_every_arm_end_to_end(study):
    out, record = study
    assert {r["label"] for r in record["rows"]} == LABELS
    for row in record["rows"]:
        acc = row["metrics"]["accuracy"]
        assert acc["low"] <= acc["value"] <= acc["high"]
        assert sum(row["counts"].values()) == row["n"] > 0
        findings = {b["group"]: b["n"] for b in row["breakdown"] if b["by"] == "finding"}
        assert sum(findings.values()) == row["n"]
        assert {"dprime", "size_mm"} <= {b["by"] for b in row["breakdown"]}
    # one shared test set per resolution: every arm tested at 50 µm saw the same patches
    n50 = {r["n"] for r in record["rows"] if r["label"].endswith("-50")}
    assert len(n50) == 1
    kinds = {(c["label_a"], c["label_b"]) for c in record["comparisons"]}
    assert ("Transfer-50", "Scratch-50") in kinds and ("Resample-100", "Transfer-100") in kinds
    assert all(0 <= c["mcnemar_p"] <= 1 for c in record["comparisons"])
    for arm in plan_arms("shallow", 0):
        folder = out / arm.model / arm.name / "seed-0"
        assert json.loads((folder / "manifest.json").read_text())["status"] == "finished"
        assert (folder / "results.json").exists() and not (folder / "checkpoint.npz").exists()
    assert json.loads((out / "study.json").read_text())["rows"] == record["rows"]


def test_transfer_keeps_the_frozen_backbone_and_fine_tune_changes_it(study):
    arms = {a["arm"]: a for a in study[1]["arms"]}
    source = arms["Source-70"]["backbone_sha256"]
    for res in (50, 70, 100):
        assert arms[f"Transfer-{res}"]["backbone_sha256"] == source
        assert arms[f"Transfer-{res}"]["n_trainable_params"] == 17  # the output unit only
        assert arms[f"Fine-tune-{res}"]["backbone_sha256"] != source
        assert arms[f"Fine-tune-{res}"]["n_trainable_params"] == 8301
    assert arms["Eval-70"]["backbone_sha256"] == source


def test_resample_scores_the_70um_model_on_antialiased_resampled_patches(study, monkeypatch):
    out, record = study
    calls = []
    original = synth.resample
    monkeypatch.setattr(synth, "resample", lambda *a: calls.append(a[1:]) or original(*a))
    test = _study_data.StudyData(BUDGET.n_patches, 0).subset("target-50@70", "test")
    assert calls and set(calls) == {(50, 70)} and test.images.shape[1:] == (144, 144, 1)
    raw = _study_data.StudyData(BUDGET.n_patches, 0).subset("target-50", "test").images
    expected = np.pad(original(raw[0, ..., 0], 50, 70), 1, mode="reflect")
    np.testing.assert_array_equal(test.images[0, ..., 0], expected)
    donor = mcc_core.load_model(out / "shallow" / "Scratch-70" / "seed-0" / "model.keras").model
    with np.load(out / "shallow" / "Resample-50" / "seed-0" / "predictions.npz") as saved:
        prob = saved["Resample-50"]
    np.testing.assert_allclose(prob, donor.predict(test.images, verbose=0)[:, 0], atol=1e-6)


def test_a_rerun_skips_finished_arms(study):
    out, record = study
    lines: list[str] = []
    again = mcc_core.run_study(out, scale=TINY, models=("shallow",), progress=lines.append)
    assert lines and all(line.endswith("finished earlier, skipped") for line in lines)
    assert again["rows"] == record["rows"] and again["comparisons"] == record["comparisons"]


def test_resume_after_an_interrupted_arm_gives_the_same_final_metrics(tmp_path):
    whole = mcc_core.run_study(tmp_path / "a", scale=TWO_EPOCHS, models=("shallow-mpl2-5x5",))

    def stop(arm_id, epoch):
        if arm_id == "shallow-mpl2-5x5/Scratch-50/seed-0" and epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mcc_core.run_study(tmp_path / "b", scale=TWO_EPOCHS, models=("shallow-mpl2-5x5",),
                           on_epoch=stop)
    folder = tmp_path / "b" / "shallow-mpl2-5x5" / "Scratch-50" / "seed-0"
    assert (folder / "checkpoint.npz").exists() and not (folder / "results.json").exists()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "running"
    resumed = mcc_core.run_study(tmp_path / "b", scale=TWO_EPOCHS, models=("shallow-mpl2-5x5",))
    assert json.loads((folder / "results.json").read_text())["resumed_from_epoch"] == 1
    assert resumed["rows"] == whole["rows"]
    assert resumed["comparisons"] == whole["comparisons"]


def test_the_results_page_regenerates_identically_from_the_json(study, tmp_path):
    out, record = study
    first = mcc_core.render_study(out / "study.json", tmp_path / "one" / "study.md")
    second = mcc_core.render_study(record, tmp_path / "two" / "study.md")
    assert first.read_bytes() == second.read_bytes()
    png = "study_accuracy.png"
    assert (tmp_path / "one" / png).read_bytes() == (tmp_path / "two" / png).read_bytes()
    text = first.read_text()
    assert "## What the data say" in text and "Transfer-50 " in text
    assert "0.983" in text  # seed 000's Transfer-50 accuracy beside ours
    verdict = next(line for line in text.splitlines() if line.startswith("- shallow: Transfer-50"))
    assert "Scratch-50" in verdict and "Δ accuracy" in verdict


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"scale": "huge"}, "scale"), ({"families": ("vgg",)}, "families"),
    ({"models": ("lenet",)}, "models"), ({"seeds": 0}, "seeds"), ({"seed": -1}, "seed")])
def test_bad_arguments_write_nothing(tmp_path, kwargs, field):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=field):
        mcc_core.run_study(out, **kwargs)
    assert not out.exists()


def test_an_arm_of_another_recipe_is_refused(study, tmp_path):
    out, _ = study
    other = mcc_core.StudyScale(name="other", families=("shallow",), n_bootstrap=50, budgets={
        "shallow": mcc_core.StudyBudget(n_patches=26, epochs=1, batch_size=16),
        "mobilenet": BUDGET})
    with pytest.raises(ValueError, match="another recipe"):
        mcc_core.run_study(out, scale=other, models=("shallow",))


@pytest.mark.parametrize(("field", "value"), [("n_patches", 10), ("epochs", 0), ("seeds", 0),
                                              ("learning_rate", 0.0)])
def test_budget_validation(field, value):
    kwargs = {"n_patches": 30, "epochs": 1, "batch_size": 8, field: value}
    with pytest.raises(ValueError, match=field):
        mcc_core.StudyBudget(**kwargs)
