"""Writes that survive kills and neighbours: kill -9 at each write phase then a rerun that ends
byte-identical to an uninterrupted run, two writers at once, --overwrite that deletes only our
own files, stale locks and staging folders, a full disk named; the image reader fuzzed."""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import synth
from synth import io

N, RES, SEED = 600, 100, 5  # three chunks of 256


def files_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "set"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED)
    return files_of(out)


KILLERS = {
    # after the second chunk's PNGs and record: mid-way through the images
    "png chunks": """
        import synth._dataset as d
        original, done = d._write_chunk, []
        def chunk(job):
            n = original(job)
            done.append(n)
            if len(done) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return n
        d._write_chunk = chunk
    """,
    # while the CSV tables are written: their temporary files are left behind
    "csv tables": """
        import synth._atomic as a
        original = a.HashedAtomicFile.write
        def write(self, data):
            original(self, data)
            if self.path.name == "calcifications.csv":
                self.fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        a.HashedAtomicFile.write = write
    """,
    # just after manifest.json appears, before the bookkeeping is removed
    "manifest": """
        import synth._dataset as d
        original = d.shutil.rmtree
        def rmtree(path, *args, **kwargs):
            if str(path).endswith(".mcc-partial"):
                os.kill(os.getpid(), signal.SIGKILL)
            return original(path, *args, **kwargs)
        d.shutil.rmtree = rmtree
    """,
}


@pytest.mark.parametrize("phase", list(KILLERS))
def test_a_kill_at_any_write_phase_then_a_rerun_gives_the_same_bytes(tmp_path, reference,
                                                                      phase):
    out = tmp_path / "set"
    script = "import os, signal\n" + textwrap.dedent(KILLERS[phase]) + textwrap.dedent(f"""
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, {N}, resolution_um={RES},
                            seed={SEED})
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    left = {p.name for p in out.iterdir()}
    assert ".mcc-lock" in left  # the killed writer's lock: stale now, taken over below
    if phase == "manifest":
        assert "manifest.json" in left and ".mcc-partial" in left
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED)
    assert files_of(out) == reference
    assert synth.verify_dataset(out).ok


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path, reference):
    out = tmp_path / "set"
    slow = textwrap.dedent(f"""
        import time
        import synth._dataset as d
        original = d._write_chunk
        def chunk(job):
            time.sleep(1.0)
            return original(job)
        d._write_chunk = chunk
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, {N}, resolution_um={RES},
                            seed={SEED})
    """)
    first = subprocess.Popen([sys.executable, "-c", slow], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        lock = out / ".mcc-lock"
        while not (lock.exists() and lock.read_text().strip()):  # held, its PID written
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        for overwrite in (False, True):  # an identical writer, and one that would overwrite
            with pytest.raises(ValueError, match=r"being written by another mcc run \(PID "
                                                 rf"{first.pid} "):
                synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                                    overwrite=overwrite)
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    assert files_of(out) == reference and not (out / ".mcc-lock").exists()


def test_a_stale_lock_is_taken_over(tmp_path, reference):
    out = tmp_path / "set"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (out / ".mcc-lock").write_text(f"{dead} {os.uname().nodename}\n")
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED)
    assert files_of(out) == reference


def test_overwrite_deletes_only_what_a_manifest_of_ours_lists(tmp_path):
    mine = tmp_path / "mine"  # the plain layout `mcc train` accepts: no manifest
    for rel in ("class_0/a.png", "class_1/b.png"):
        (mine / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (100, 100), 90).save(mine / rel)
    before = files_of(mine)
    with pytest.raises(ValueError, match="no manifest of ours lists.*class_0/a.png"):
        synth.write_dataset(synth.SceneConfig(), mine, 8, resolution_um=RES, seed=0,
                            overwrite=True)
    assert files_of(mine) == before
    # a dataset of ours with a user's file slipped into it: refused, nothing deleted
    ours = tmp_path / "ours"
    synth.write_dataset(synth.SceneConfig(), ours, 8, resolution_um=RES, seed=0)
    Image.new("L", (100, 100), 90).save(ours / "class_1" / "precious.png")
    before = files_of(ours)
    with pytest.raises(ValueError, match="precious.png"):
        synth.write_dataset(synth.SceneConfig(), ours, 8, resolution_um=RES, seed=1,
                            overwrite=True)
    assert files_of(ours) == before
    # without it, overwrite replaces our dataset
    (ours / "class_1" / "precious.png").unlink()
    manifest = synth.write_dataset(synth.SceneConfig(), ours, 8, resolution_um=RES, seed=1,
                                   overwrite=True)
    assert manifest["seed"] == 1 and synth.verify_dataset(ours).ok


def test_staging_folders_of_killed_runs_are_removed_by_the_next(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    leftover = tmp_path / f".set.partial-{dead}"
    (leftover / "big").mkdir(parents=True)
    (leftover / "big" / "mammogram_0000.png").write_bytes(b"\0" * 1000)
    synth.write_mammograms(synth.SceneConfig(), tmp_path / "set", 1, resolution_um=100, seed=0,
                           size_mm=(30.0, 30.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_a_full_disk_names_the_file(tmp_path):
    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        io.write_atomic(tmp_path / "manifest.json", full)
    assert caught.value.filename == str(tmp_path / "manifest.json")
    assert not list(tmp_path.iterdir())


IMAGE_HEADS = [b"", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"\0" * 128 + b"DICM"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from(IMAGE_HEADS), body=st.binary(max_size=600),
       name=st.sampled_from(["x.png", "x.tif", "x.dcm", "upload"]))
def test_random_bytes_never_give_a_traceback_from_the_image_reader(head, body, name):
    for read in (synth.read_grey_image, io.probe_grey_image, io.probe_image):
        try:
            read(head + body, field="upload", name=name)
        except ValueError as exc:
            assert "`upload`" in str(exc) and "\n" not in str(exc).strip()


def test_a_valid_image_with_random_tail_bytes_reads_or_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    good = io.encode_png(rng.random((50, 60), dtype=np.float32), 16)
    dicom = io.encode_dicom(rng.random((50, 60), dtype=np.float32), spacing_um=70)
    for data in (good, dicom):
        for cut in (len(data) // 3, len(data) - 40):  # compressed or pixel data cut short
            with pytest.raises(ValueError, match="`upload`"):
                synth.read_grey_image(data[:cut], field="upload", name="cut")
    assert json.dumps(synth.read_grey_image(dicom).spacing_um) == "70.0"


def test_an_overwrite_killed_while_deleting_is_finished_by_the_next_run(tmp_path):
    out = tmp_path / "set"
    synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=RES, seed=0)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        calls = []
        original = Path.unlink
        def unlink(self, *args, **kwargs):
            original(self, *args, **kwargs)
            if self.suffix == ".png":
                calls.append(self)
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
        Path.unlink = unlink
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, 8, resolution_um={RES}, seed=1,
                            overwrite=True)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert not (out / "manifest.json").exists()  # nothing claims to be complete
    synth.write_dataset(synth.SceneConfig(), out, 8, resolution_um=RES, seed=0)
    assert synth.verify_dataset(out).ok
    fresh = tmp_path / "fresh"
    synth.write_dataset(synth.SceneConfig(), fresh, 8, resolution_um=RES, seed=0)
    assert files_of(out) == files_of(fresh)


def test_overwrite_after_a_kill_inside_a_chunk(tmp_path):
    """PNGs of a chunk that was never recorded, and their temporaries, are ours too."""
    out = tmp_path / "set"
    script = "import os, signal\n" + textwrap.dedent(f"""
        import synth._dataset as d
        original, written = d.write_atomic, []
        def write(path, data, *args, **kwargs):
            result = original(path, data, *args, **kwargs)
            if path.suffix == ".png":
                written.append(path)
            if len(written) == 5:
                (path.parent / ".000009.abc123.tmp.png").write_bytes(b"half")
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        d.write_atomic = write
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, 20, resolution_um={RES}, seed=0)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    synth.write_dataset(synth.SceneConfig(), out, 20, resolution_um=RES, seed=4, overwrite=True)
    fresh = tmp_path / "fresh"
    synth.write_dataset(synth.SceneConfig(), fresh, 20, resolution_um=RES, seed=4)
    assert files_of(out) == files_of(fresh)


def test_a_dataset_of_inserted_patches_is_not_taken_for_a_synthetic_one(tmp_path):
    root = tmp_path / "negatives"
    root.mkdir()
    unit = np.random.default_rng(0).normal(0.45, 0.01, (150, 150))
    Image.fromarray(np.rint(unit * 65535).astype(np.uint16)).save(root / "n.png")
    backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES)
    out = tmp_path / "set"
    synth.write_dataset(synth.SceneConfig(), out, 6, resolution_um=RES, seed=0,
                        backgrounds=backgrounds)
    with pytest.raises(ValueError, match="holds another dataset"):
        synth.write_dataset(synth.SceneConfig(), out, 6, resolution_um=RES, seed=0)


def test_a_killed_mammogram_set_resumes_to_the_same_bytes(tmp_path):
    args = dict(n=4, resolution_um=100, seed=3, size_mm=(40.0, 50.0))
    reference = tmp_path / "reference"
    synth.write_mammograms(synth.SceneConfig(), reference, **args)
    out = tmp_path / "set"
    script = textwrap.dedent(f"""
        import os, signal
        import synth._mammogram_io as m
        original, made = m.render_mammogram_scene, []
        def render(scene, res):
            made.append(1)
            if len(made) == 3:  # two mammograms finished, the third under way
                os.kill(os.getpid(), signal.SIGKILL)
            return original(scene, res)
        m.render_mammogram_scene = render
        import synth
        synth.write_mammograms(synth.SceneConfig(), {str(out)!r}, **{args!r})
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert not out.exists()
    import synth._mammogram_io as m

    rendered = []
    original = m.render_mammogram_scene

    def counting(scene, res):
        rendered.append(1)
        return original(scene, res)

    m.render_mammogram_scene = counting
    try:
        synth.write_mammograms(synth.SceneConfig(), out, **args)
    finally:
        m.render_mammogram_scene = original
    assert len(rendered) == 2  # resumed: only the two unfinished mammograms were made
    assert files_of(out) == files_of(reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference", "set"]
    assert synth.verify_dataset(out).ok
