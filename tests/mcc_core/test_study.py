import copy
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import mcc_core
import synth
from mcc_core.training import _study, _study_data, _study_stats
from mcc_core.training._study_arms import plan_arms

BUDGET = mcc_core.StudyBudget(n_patches=24, epochs=1, batch_size=16)
TINY = mcc_core.StudyScale(name="test", families=("shallow",), n_bootstrap=50,
                           budgets={"shallow": BUDGET, "mobilenet": BUDGET})
TWO_EPOCHS = mcc_core.StudyScale(name="test-2", families=("shallow",), n_bootstrap=20, budgets={
    "shallow": mcc_core.StudyBudget(n_patches=24, epochs=2, batch_size=16),
    "mobilenet": BUDGET})
LABELS = {"Source-70", "Scratch-50", "Scratch-70", "Scratch-100", "Transfer-50", "Transfer-70",
          "Transfer-100", "Fine-tune-50", "Fine-tune-70", "Fine-tune-100", "Mixed-50",
          "Mixed-70", "Mixed-100", "Eval-70", "Resample-50", "Resample-100",
          "Resample-source-50", "Resample-source-100"}


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


def test_fine_tune_starts_from_the_trained_transfer_model_and_changes_it(study):
    out, record = study
    arms = {a["arm"]: a for a in record["arms"]}
    for res in (50, 70, 100):
        transfer, fine = arms[f"Transfer-{res}"], arms[f"Fine-tune-{res}"]
        assert fine["donor"] == f"Transfer-{res}" and fine["init"] == "fine-tune"
        # its starting weights are Transfer-R's final ones, head included
        assert fine["initial_weights_sha256"] == transfer["weights_sha256"]
        assert fine["weights_sha256"] != transfer["weights_sha256"]
        folder = out / "shallow" / f"Fine-tune-{res}" / "seed-0"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["recipe"]["donor_sha256"] == transfer["weights_sha256"]
        with np.load(folder / "predictions.npz") as a, np.load(
                out / "shallow" / f"Transfer-{res}" / "seed-0" / "predictions.npz") as b:
            assert np.max(np.abs(a[f"Fine-tune-{res}"] - b[f"Transfer-{res}"])) > 1e-6
    assert arms["Scratch-70"]["initial_weights_sha256"] != arms["Transfer-70"][
        "initial_weights_sha256"]


def test_resample_source_arms_score_source70_and_the_source_domain_is_csi(study):
    out, record = study
    arms = {a["arm"]: a for a in record["arms"]}
    for res in (50, 100):
        assert arms[f"Resample-source-{res}"]["donor"] == "Source-70"
        assert arms[f"Resample-{res}"]["donor"] == "Scratch-70"
        assert arms[f"Resample-source-{res}"]["weights_sha256"] == arms["Source-70"][
            "weights_sha256"]
    source, target = (record["domains"][k]["acquisition"] for k in ("source", "target"))
    assert source["detector"] == "indirect" != target["detector"]
    assert source["blur_sigma_um"] > 2 * target["blur_sigma_um"]
    assert source["electronic_noise"] > target["electronic_noise"]


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

    def state(record):
        return [(a["arm"], a["weights_sha256"], a["best_epoch"],
                 None if a["history"] is None else
                 [{k: v for k, v in row.items() if k != "time_s"} for row in a["history"]])
                for a in record["arms"]]

    # the whole history (epoch 2 trained after the resume) and the final variables agree
    assert state(resumed) == state(whole)
    assert all(len(a["history"]) == 2 for a in resumed["arms"])


def test_the_results_page_regenerates_identically_from_the_json(study, tmp_path):
    out, record = study
    first = mcc_core.render_study(out / "study.json", tmp_path / "one" / "study.md")
    second = mcc_core.render_study(record, tmp_path / "two" / "study.md")
    assert first.read_bytes() == second.read_bytes()
    png = "study_accuracy.png"
    assert (tmp_path / "one" / png).read_bytes() == (tmp_path / "two" / png).read_bytes()
    text = first.read_text()
    assert "## What the data say" in text and "Transfer-50 " in text
    assert "Table 9" not in text  # seed 000's MobileNetV2 numbers only beside MobileNetV2
    verdict = next(line for line in text.splitlines() if line.startswith("- shallow: Transfer-50"))
    assert "Scratch-50" in verdict and "Δ accuracy" in verdict and "Holm" in verdict
    assert "trained from scratch" in text and "best resolution" not in text
    assert "not converged" in text  # one epoch: the best epoch is the last
    assert "Resample-source-50 (from Source-70)" in text


def _verdict(record, tmp_path, **accuracy):
    changed = copy.deepcopy(record)
    test = next(t for t in changed["tests"] if t["label_a"] == "Transfer-50")
    test["accuracy"].update(accuracy)
    page = mcc_core.render_study(changed, tmp_path / "study.md").read_text()
    return next(line for line in page.splitlines() if line.startswith("- shallow: Transfer-50"))


def test_the_verdict_follows_the_sign_and_the_holm_adjusted_p(study, tmp_path):
    record = study[1]
    worse = _verdict(record, tmp_path, delta=-0.05, low=-0.08, high=-0.02, p_holm=0.01)
    assert "is less accurate than Scratch-50, significant after Holm" in worse
    assert "-0.050 [-0.080, -0.020]" in worse
    better = _verdict(record, tmp_path, delta=0.05, low=0.02, high=0.08, p_holm=0.01)
    assert "is more accurate than Scratch-50" in better
    unclear = _verdict(record, tmp_path, delta=-0.05, low=-0.12, high=0.02, p=0.01,
                       p_holm=0.2)
    assert "no significant difference in accuracy" in unclear and "more" not in unclear


def test_the_resolution_claim_comes_from_the_paired_scratch_tests(study, tmp_path):
    changed = copy.deepcopy(study[1])
    for t in changed["tests"]:
        if t["label_a"].startswith("Scratch-") and t["label_b"].startswith("Scratch-"):
            sign = 1 if t["label_a"] == "Scratch-50" else -1  # 50 µm beats both others
            t["accuracy"].update(delta=0.1 * sign, low=0.05 * sign, high=0.15 * sign,
                                 p_holm=0.001)
    page = mcc_core.render_study(changed, tmp_path / "study.md").read_text()
    assert "from scratch, 50 µm is more accurate than every other resolution" in page
    scratch = {(t["label_a"], t["label_b"]) for t in study[1]["tests"]
               if t["label_a"].startswith("Scratch-") and t["model_a"] == t["model_b"]}
    assert scratch == {("Scratch-50", "Scratch-70"), ("Scratch-70", "Scratch-100"),
                       ("Scratch-50", "Scratch-100")}


def test_mobilenet_alone_gets_seed_000s_tables_beside_it(study, tmp_path):
    text = json.dumps(study[1]).replace('"shallow"', '"mobilenet"')
    page = mcc_core.render_study(json.loads(text), tmp_path / "study.md").read_text()
    assert "seed 000's MobileNetV2 (Tables 8 and 9" in page
    assert "0.983" in page and "13200" in page  # Transfer-50: accuracy and training time


def test_the_study_record_keeps_the_training_history_and_real_intervals(study):
    record = study[1]
    trained = [a for a in record["arms"] if a["train_on"] is not None]
    assert trained and all(len(a["history"]) == 1 and a["converged"] is False for a in trained)
    assert all(a["history"] is None for a in record["arms"] if a["train_on"] is None)
    for entry in record["summary"]:
        for metric in ("accuracy", "recall", "specificity"):
            ci = entry["ci"][metric]
            assert ci["low"] < ci["high"] and ci["low"] <= ci["mean"] <= ci["high"]
        counts = {b["group"]: b["n"] for b in entry["breakdown"] if b["by"] == "finding"}
        assert sum(counts.values()) == record["tests"][0]["n_patches"] or entry[
            "label"] == "Source-70"
    holm = [t[m]["p_holm"] for t in record["tests"] for m in ("accuracy", "roc_auc")]
    raw = [t[m]["p"] for t in record["tests"] for m in ("accuracy", "roc_auc")]
    assert all(h is None or h >= p for h, p in zip(holm, raw, strict=True))


def test_a_new_study_version_refuses_old_finished_arms(study, monkeypatch):
    out, _ = study
    monkeypatch.setattr(_study, "STUDY_VERSION", _study.STUDY_VERSION + 1)
    with pytest.raises(ValueError, match="another recipe.*another --out"):
        mcc_core.run_study(out, scale=TINY, models=("shallow",))


def test_a_non_finite_loss_is_recorded_as_null():
    history = [{"epoch": 1, "loss": float("nan"), "val_accuracy": 0.5, "time_s": 1.0}]
    clean = _study._finite_history(history)
    assert clean[0]["loss"] is None and clean[0]["val_accuracy"] == 0.5
    json.dumps(clean, allow_nan=False)
    assert _study.converged(clean) is False


# --- the statistics, on inputs whose answer is known ---

Y = np.array([0, 1] * 100)


def test_a_clear_difference_is_significant_with_its_sign(rng):
    good = np.where(Y == 1, rng.uniform(0.6, 1, (3, 200)), rng.uniform(0, 0.4, (3, 200)))
    noise = rng.uniform(0, 1, (3, 200))
    result = _study_stats.compute_paired_bootstrap(Y, noise, good, n_bootstrap=400)
    acc, auc = result["accuracy"], result["roc_auc"]
    assert acc["delta"] < 0 and acc["high"] < 0 and acc["p"] < 0.01
    expected = np.mean([roc_auc_score(Y, n) for n in noise]) - 1.0
    assert auc["delta"] == pytest.approx(expected) and auc["p"] < 0.01
    assert result["n_patches"] == 200 and result["n_seeds"] == 3


def test_identical_predictions_give_no_difference(rng):
    prob = rng.uniform(0, 1, (3, 200))
    result = _study_stats.compute_paired_bootstrap(Y, prob, prob, n_bootstrap=200)
    for metric in ("accuracy", "roc_auc"):
        assert result[metric]["delta"] == 0 and result[metric]["p"] == 1.0
        assert result[metric]["low"] == result[metric]["high"] == 0


def test_holm_on_known_p_values():
    assert _study_stats.holm([0.01, 0.04, 0.03, None]) == pytest.approx(
        [0.03, 0.06, 0.06, None])
    assert _study_stats.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert _study_stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert _study_stats.holm([0.02, 0.04]) == pytest.approx([0.04, 0.04])


def test_seed_mean_intervals_use_patches_and_never_collapse(rng):
    perfect = np.tile(Y * 0.9 + 0.05, (3, 1))
    ci = _study_stats.compute_seed_mean_ci(Y, perfect, metrics=("accuracy", "recall"),
                                           n_bootstrap=200)
    assert ci["accuracy"]["mean"] == 1.0 and 0.97 < ci["accuracy"]["low"] < 1.0
    # exact lower bound of 200/200 and of 100/100
    assert ci["accuracy"]["low"] == pytest.approx(0.025 ** (1 / 200))
    assert ci["recall"]["low"] == pytest.approx(0.025 ** (1 / 100))
    coin = rng.uniform(0, 1, (3, 200))
    wide = _study_stats.compute_seed_mean_ci(Y, coin, metrics=("accuracy",), n_bootstrap=400)
    one = _study_stats.compute_seed_mean_ci(Y, coin[:1], metrics=("accuracy",),
                                            n_bootstrap=400)
    # three seeds on the same 200 patches are not 600 patches: about as wide as one seed
    width = wide["accuracy"]["high"] - wide["accuracy"]["low"]
    assert width > 0.6 * (one["accuracy"]["high"] - one["accuracy"]["low"])


def test_the_consensus_breakdown_counts_each_patch_once():
    truth = pd.DataFrame({"finding": ["cluster", "negative"] * 2, "dprime_k": 30.0,
                          "dprime_max": 0.0, "size_mm": 0.3})
    y = np.array([1, 0, 1, 0])
    probs = np.array([[0.9, 0.1, 0.2, 0.1], [0.9, 0.9, 0.8, 0.1], [0.1, 0.1, 0.2, 0.1]])
    rows = _study_stats.compute_consensus_breakdown(y, probs, truth)
    finding = {r["group"]: (r["correct"], r["n"]) for r in rows if r["by"] == "finding"}
    assert finding["cluster"] == (1, 2) and finding["negative"] == (2, 2)


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


def test_mobilenet_fine_tune_copies_the_whole_transfer_model_and_unfreezes_it():
    from mcc_core.models._builders import build_mobilenet_classifier
    from mcc_core.training._study_arms import Arm, backbone_sha256, build_arm_model, weights_sha256

    source = build_mobilenet_classifier(144)
    transfer = build_arm_model(Arm("mobilenet", "Transfer-100", 0, "target-100", 100,
                                   "transfer", "Source-70"), source)
    fine = build_arm_model(Arm("mobilenet", "Fine-tune-100", 0, "target-100", 100,
                               "fine-tune", "Transfer-100"), transfer)
    assert weights_sha256(fine) == weights_sha256(transfer)  # head included
    assert backbone_sha256(fine, "mobilenet") == backbone_sha256(source, "mobilenet")
    trainable = sum(int(np.prod(w.shape)) for w in fine.trainable_weights)
    assert trainable == fine.count_params() - 34112  # all but batch norm's moving statistics
