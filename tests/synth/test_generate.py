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


def _same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.patches.equals(b.patches) and a.calcifications.equals(b.calcifications)


def test_default_threaded_and_pooled_calls_give_the_same_bytes(monkeypatch):
    import threading

    import synth._generate as gen
    config = SceneConfig(mc_shape="solid")
    forked = generate(config, 300, resolution_um=100, seed=4, processes=2)
    # a running thread makes forking unsafe: the same call falls back to threads, then a pool
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not gen.fork_is_safe()
        threaded = generate(config, 300, resolution_um=100, seed=4)
    finally:
        stop.set()
        thread.join()
    monkeypatch.setattr(gen, "fork_is_safe", lambda: False)
    pooled = generate(config, 300, resolution_um=100, seed=4, processes=2)
    synth.close_pools()
    _same(forked, threaded)
    _same(forked, pooled)
    alone = generate_indices(config, [299, 64], resolution_um=100, seed=4)
    np.testing.assert_array_equal(alone.images, forked.images[[299, 64]])


def test_fork_is_refused_with_a_thread_library_loaded(monkeypatch):
    import types

    import synth._generate as gen
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    assert not gen.fork_is_safe()


_FORK_CHECK = """
import os, numpy as np, synth
import synth._generate as gen
assert gen.fork_is_safe()  # a fresh interpreter with synth alone can fork
config = synth.SceneConfig()
forked = synth.generate(config, 300, resolution_um=70, seed=2)
for k in range(0, 300, 64):  # the same bytes as each chunk rendered here
    images, masks, _, rows = gen._render_chunk(config, list(range(k, min(k + 64, 300))), 70, 2)
    assert np.array_equal(forked.images[k:k + 64], images)
    assert np.array_equal(forked.masks[k:k + 64], masks)
    assert forked.labels[k:k + 64].tolist() == [r[0] for r in rows]

def children():
    pids = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids |= set(f.read().split())
    return pids

real = gen._render_chunk
def failing(config, indices, res, seed):
    if indices[0] >= 128:
        raise ArithmeticError("worker failed on purpose")
    return real(config, indices, res, seed)
gen._render_chunk = failing
try:
    synth.generate(config, 300, resolution_um=100, seed=0)
except ArithmeticError as error:
    assert "on purpose" in str(error)
else:
    raise AssertionError("the worker's error was not raised")
assert children() == set()  # every forked child was waited for
print("fork ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forking is Linux-only")
def test_forked_workers_match_in_process_rendering_and_report_failures():
    # in a fresh interpreter: this test process may have TensorFlow loaded (then no fork)
    done = subprocess.run([sys.executable, "-c", _FORK_CHECK], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fork ok" in done.stdout


def test_a_fork_that_fails_falls_back_to_rendering_here(monkeypatch):
    import synth._generate as gen

    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(gen, "fork_is_safe", lambda: True)
    monkeypatch.setattr(gen, "_fork", no_fork)
    batch = generate(SceneConfig(), 300, resolution_um=100, seed=5)
    images, masks, _, _ = gen._render_chunk(SceneConfig(), list(range(256, 300)), 100, 5)
    np.testing.assert_array_equal(batch.images[256:], images)
    np.testing.assert_array_equal(batch.masks[256:], masks)
