import numpy as np
import pytest

import synth
from evalkit import Predictor, compare, mcnemar_test, run_probe

BASE = synth.SceneConfig()


def _scorer(fn, name, size=100, resolution=100):
    return Predictor(fn, input_size=size, channels=1, resolution_um=resolution, name=name)


BRIGHT = _scorer(lambda x: x.max(axis=(1, 2, 3)), "max")
MEAN = _scorer(lambda x: x.mean(axis=(1, 2, 3)), "mean")


def test_a_model_against_itself_shows_no_difference():
    result = compare([BRIGHT, BRIGHT], BASE, n=60, seed=0, n_bootstrap=100)
    assert result.names == ["max", "max (2)"]
    t = result.table
    assert (t["difference"] == 0).all() and (t["verdict"] == "no difference").all()
    assert (t["p_value"] == 1.0).all()


def test_the_better_model_wins_and_the_tests_match_their_functions():
    result = compare([MEAN, BRIGHT], BASE, n=120, seed=3, n_bootstrap=200,
                     sweeps=[("contrast", [1.0])])
    auc = result.verdicts().set_index("condition")
    assert auc.loc["clean", "verdict"] == "max higher" and auc.loc["clean", "difference"] < 0
    assert auc.loc["clean", "ci_low"] < auc.loc["clean", "difference"] < auc.loc["clean",
                                                                                  "ci_high"]
    # McNemar's p on all decisions, recomputed from the shared patches
    batch = synth.generate(BASE, 120, resolution_um=100, seed=3)
    da = (MEAN(batch.images) >= 0.5).astype(int)
    db = (BRIGHT(batch.images) >= 0.5).astype(int)
    row = result.table.query("condition == 'clean' and metric == 'accuracy'").iloc[0]
    assert row.p_value == pytest.approx(mcnemar_test(batch.labels, da, db).p_value)
    assert row.a == pytest.approx((da == batch.labels).mean())


def test_shared_patches_give_each_model_its_own_probe_numbers():
    result = compare([MEAN, BRIGHT], BASE, n=50, seed=1, n_bootstrap=100,
                     sweeps=[("contrast", [0.3, 0.9])])
    for model, mine in zip([MEAN, BRIGHT], result.results, strict=True):
        alone = run_probe(model, BASE, n=50, seed=1, n_bootstrap=100,
                          sweeps=[("contrast", [0.3, 0.9])], behaviour=False,
                          resolutions=False, thresholds=False)
        for name, value in alone.metrics.values.items():  # NaN where undefined, in both
            assert mine.metrics.values[name] == pytest.approx(value, nan_ok=True)
            assert mine.metrics.ci.get(name) == pytest.approx(alone.metrics.ci.get(name),
                                                              nan_ok=True)
        a, b = mine.sweeps[0].metrics, alone.sweeps[0].metrics
        np.testing.assert_array_equal(a["value"].to_numpy(float), b["value"].to_numpy(float))


@pytest.mark.parametrize("models, field", [
    ([BRIGHT], "at least two"),
    ([BRIGHT, _scorer(lambda x: x.max(axis=(1, 2, 3)), "70", size=144, resolution=70)],
     "one resolution"),
])
def test_models_that_cannot_be_paired_are_refused(models, field):
    with pytest.raises(ValueError, match=field):
        compare(models, BASE, n=10, seed=0)


def test_a_model_of_another_input_size_scores_the_same_patches_resampled():
    big = Predictor(lambda x: x.max(axis=(1, 2, 3)), input_size=224, channels=1,
                    resolution_um=100, name="big")
    result = compare([BRIGHT, big], BASE, n=40, seed=0, n_bootstrap=100)
    assert result.names == ["max", "big"] and len(result.verdicts()) == 1
