import subprocess
import sys

import numpy as np
import pytest

import synth
from synth import SceneConfig, generate
from synth._generate import generate_indices


def test_same_seed_gives_identical_images_and_other_seed_differs():
    config = SceneConfig()
    a = generate(config, 12, resolution_um=100, seed=5)
    b = generate(config, 12, resolution_um=100, seed=5)
    c = generate(config, 12, resolution_um=100, seed=6)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.patches.equals(b.patches) and a.calcifications.equals(b.calcifications)
    assert not np.array_equal(a.images, c.images)


def test_patch_i_is_reproducible_alone():
    config = SceneConfig()
    batch = generate(config, 30, resolution_um=70, seed=2)
    for i in (0, 13, 29):
        alone = generate_indices(config, [i], resolution_um=70, seed=2)
        np.testing.assert_array_equal(alone.images[0], batch.images[i])
        np.testing.assert_array_equal(alone.masks[0], batch.masks[i])
        assert alone.labels[0] == batch.labels[i]


def test_batch_contents_and_tables():
    batch = generate(SceneConfig(), 40, resolution_um=50, seed=1)
    assert batch.images.shape == (40, 200, 200) and batch.images.dtype == np.float32
    assert batch.masks.shape == (40, 200, 200) and batch.masks.dtype == bool
    assert batch.labels.shape == (40,) and set(np.unique(batch.labels)) <= {0, 1}
    assert len(batch) == 40
    assert list(batch.patches["index"]) == list(range(40))
    counts = batch.calcifications.groupby("index").size()
    for i, row in batch.patches.iterrows():
        assert counts.get(i, 0) == row.n_mcs
        assert row.label == int(row.n_inside >= 3)
    assert {"x_mm", "y_mm", "col_px", "row_px", "size_mm", "morphology",
            "contrast"} <= set(batch.calcifications.columns)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"n": 0}, "n"), ({"n": 2.5}, "n"), ({"seed": -1}, "seed"),
    ({"resolution_um": 60}, "resolution_um"),
])
def test_generate_validates_its_arguments(kwargs, field):
    args = {"n": 2, "resolution_um": 70, "seed": 0} | kwargs
    n = args.pop("n")
    with pytest.raises(ValueError, match=field):
        generate(SceneConfig(), n, **args)


def test_synth_never_imports_tensorflow():
    code = "import sys, synth; synth.generate(synth.SceneConfig(), 2, resolution_um=70, seed=0);" \
           "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_names():
    for name in ("RESOLUTIONS_UM", "patch_size_px", "SceneConfig", "Scene", "Patch", "Batch",
                 "sample_scene", "render", "generate", "write_dataset", "verify_dataset"):
        assert hasattr(synth, name) and name in synth.__all__


def test_processes_do_not_change_a_byte():
    config = SceneConfig()
    one = generate(config, 300, resolution_um=100, seed=8, processes=1)
    three = generate(config, 300, resolution_um=100, seed=8, processes=3)
    np.testing.assert_array_equal(one.images, three.images)
    np.testing.assert_array_equal(one.masks, three.masks)
    assert one.patches.equals(three.patches)
    assert one.calcifications.equals(three.calcifications)
    with pytest.raises(ValueError, match="processes"):
        generate(config, 2, resolution_um=100, seed=0, processes=0)
