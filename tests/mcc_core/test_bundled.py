import numpy as np
import pytest

import mcc_core
import synth
from mcc_core.models import _bundled


@pytest.mark.parametrize("resolution", [50, 70, 100])
def test_bundled_models_load_and_beat_chance(resolution):
    loaded = mcc_core.load_bundled_model(resolution)
    size = synth.patch_size_px(resolution)
    assert loaded.model.count_params() == 8301
    assert tuple(loaded.model.input_shape[1:]) == (size, size, 1)
    meta = loaded.metadata
    assert meta["resolution_um"] == resolution and meta["builder"] == "shallow"
    assert meta["input_size"] == size and meta["dataset"]["source"] == "synthetic"
    metrics = meta["test_metrics"]
    assert metrics["accuracy"] > 0.75  # the README table: 0.77 on the attenuation physics
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 400
    easy = synth.SceneConfig(contrast_range=(0.5, 0.8), mc_size_range_mm=(0.3, 0.6),
                             mc_count_range=(8, 12), hard_negative_fraction=0.0)
    batch = synth.generate(easy, 40, resolution_um=resolution, seed=11)
    prob = loaded.model.predict(batch.images[..., None], verbose=0)[:, 0]
    assert np.mean((prob >= 0.5) == batch.labels) > 0.75


@pytest.mark.parametrize("resolution", [60, 0, True, "70"])
def test_bundled_paths_refuse_other_resolutions(resolution):
    with pytest.raises(ValueError, match="resolution_um"):
        mcc_core.bundled_model_path(resolution)


def test_a_missing_bundled_model_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(_bundled, "MODELS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="shallow_70um.keras"):
        mcc_core.load_bundled_model(70)
