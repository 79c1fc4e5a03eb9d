"""Past one machine: generation, sweeps and probes on a 2-process Dask LocalCluster give the
bytes and numbers of a local run, also when a worker is killed mid-run, when the workers
return bytes instead of writing, and when a local run interrupted by a kill is resumed on the
cluster; WebDataset-style shards are written, verified and read back."""

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import evalkit
import synth
from synth import io

distributed = pytest.importorskip("distributed")

RES, SEED = 100, 3
N = 600  # three chunks of 256
SHARDED = dict(dataset_format="shards", shard_size=256)  # three shards of N


def files_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".mcc-lock"}


@pytest.fixture(scope="module")
def client():
    with synth.cluster.connect("local:2") as client:
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.fixture(scope="module")
def local_png(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "png"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                        masks=True)
    return files_of(out)


@pytest.fixture(scope="module")
def local_shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "shards"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED, **SHARDED)
    return out


@pytest.mark.parametrize("storage", ["auto", "client"])
def test_png_folders_on_the_cluster_are_the_local_bytes(tmp_path, client, local_png, storage):
    said = []
    out = tmp_path / "png"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                        masks=True, client=client, storage=storage, message=said.append)
    assert files_of(out) == local_png
    assert synth.verify_dataset(out).ok
    where = "the workers write into" if storage == "auto" else "the workers return the files"
    assert len(said) == 1 and said[0].startswith("dask: 2 worker(s)") and where in said[0]


def test_shards_on_the_cluster_are_the_local_bytes(tmp_path, client, local_shards):
    out = tmp_path / "shards"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                        client=client, **SHARDED)
    assert files_of(out) == files_of(local_shards)
    assert sorted(p.name for p in (out / "shards").iterdir()) == [
        "shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]


def test_a_worker_killed_mid_run_changes_nothing(tmp_path, client, local_png):
    pids = client.run(os.getpid)
    killed = []

    def progress(done):
        if 0 < done < N and not killed:  # a first task has finished, others under way
            busy = [w for w, tasks in client.processing().items() if tasks] or list(pids)
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    out = tmp_path / "png"
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                        masks=True, client=client, progress=progress)
    assert killed and files_of(out) == local_png
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the tests after


def test_a_storage_probe_left_by_a_killed_run_is_not_a_foreign_file(tmp_path, client,
                                                                     local_png):
    out = tmp_path / "png"
    out.mkdir()
    (out / f"{synth.cluster.PROBE_PREFIX}123-abcdef").write_text("token")
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED, masks=True,
                        client=client)
    assert files_of(out) == local_png


def test_a_killed_local_run_resumes_on_the_cluster(tmp_path, client, local_png):
    out = tmp_path / "png"
    script = textwrap.dedent(f"""
        import os, signal
        import synth._dataset as d
        original, done = d._write_chunk, []
        def chunk(job):
            n = original(job)
            done.append(n)
            if len(done) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return n
        d._write_chunk = chunk
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, {N}, resolution_um={RES},
                            seed={SEED}, masks=True)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    assert len(list((out / ".mcc-partial").glob("chunk_*.json"))) == 2
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED,
                        masks=True, client=client)
    assert files_of(out) == local_png


def test_insertion_into_backgrounds_on_the_cluster_is_the_local_bytes(tmp_path, client):
    tissue = np.random.default_rng(1).normal(0.45, 0.02, (2, 400, 400)).astype(np.float32)
    backgrounds = synth.backgrounds_from_arrays(np.clip(tissue, 0, 1), ["a", "b"],
                                                resolution_um=RES)
    for where, extra in (("here", {}), ("there", {"client": client, "storage": "client"})):
        synth.write_dataset(synth.SceneConfig(), tmp_path / where, 300, resolution_um=RES,
                            seed=SEED, backgrounds=backgrounds, **extra)
    assert files_of(tmp_path / "here") == files_of(tmp_path / "there")


def _mean(x):
    return x.mean(axis=(1, 2, 3))


def test_a_probe_on_the_cluster_reports_the_local_numbers(tmp_path, client):
    predictor = evalkit.as_predictor(functools.partial(np.mean, axis=(1, 2, 3)),
                                     resolution_um=RES)
    kwargs = dict(n=260, seed=SEED, sweeps=[("contrast", [0.2, 0.6])], thresholds=False,
                  n_bootstrap=50)
    here = evalkit.run_probe(predictor, synth.SceneConfig(), **kwargs)
    there = evalkit.run_probe(predictor, synth.SceneConfig(), client=client, **kwargs)
    reports = []
    for name, results in (("here", here), ("there", there)):
        evalkit.build_report(results, tmp_path / name)
        report = json.loads((tmp_path / name / "report.json").read_text())
        report.pop("provenance", None)
        reports.append(report)
    assert reports[0] == reports[1]
    for a, b in zip(here.gallery, there.gallery, strict=True):  # re-rendered: the same pixels
        assert np.array_equal(a["image"], b["image"])


def test_a_sweep_on_the_cluster_with_an_unpicklable_model_is_refused(client):
    class Model:  # stands for an in-memory Keras model
        pass

    predictor = evalkit.as_predictor(_mean, resolution_um=RES)
    predictor.recipe = None
    with pytest.raises(ValueError, match="give the model as a file"):
        evalkit.run_sweep(predictor, synth.SceneConfig(), "contrast", [0.2], n_per_condition=4,
                          seed=0, client=client)
    with pytest.raises(TypeError, match="`client` must be a distributed.Client"):
        synth.write_dataset(synth.SceneConfig(), "/nonexistent/x", 4, resolution_um=RES,
                            seed=0, client=Model())


def test_an_unreachable_scheduler_is_one_value_error():
    with pytest.raises(ValueError, match=r"`dask` scheduler 'tcp://127.0.0.1:9' did not "
                                         r"answer within 1 s"):
        with synth.cluster.connect("tcp://127.0.0.1:9", timeout_s=1):
            pass


@pytest.mark.parametrize("address", ["local:0", "local:x", "", "localhost", 3])
def test_bad_addresses_name_the_field(address):
    with pytest.raises(ValueError, match="`dask` must be 'local:K'"):
        synth.cluster.check_address(address)


def test_shards_are_webdataset_tars_with_an_offset_index(local_shards):
    wds = pytest.importorskip("webdataset")
    index = io.read_shard_index(local_shards)
    patches = {int(row.split(",")[0]): row for row in
               (local_shards / "patches.csv").read_text().splitlines()[1:]}
    first = index["shards"][0]
    data = (local_shards / first["path"]).read_bytes()
    samples = list(wds.WebDataset(str(local_shards / first["path"]), shardshuffle=False))
    assert len(samples) == first["count"] == 256
    for k in (0, 1, 255):
        sample = samples[k]
        assert sample["__key__"] == f"{k:06d}"
        offset, size = first["png_offsets"][k], first["png_sizes"][k]
        assert sample["png"] == data[offset:offset + size]
        record = json.loads(sample["json"])
        assert record["index"] == k and record["label"] == first["labels"][k]
        assert record["shard"] == first["path"] and str(k) == patches[k].split(",")[0]
    with tarfile.open(local_shards / first["path"]) as tar:
        member = tar.getmembers()[0]
        assert (member.mtime, member.uid, member.uname) == (0, 0, "")  # bytes from content


def test_shards_hold_the_pixels_of_png_folders(tmp_path, local_shards):
    png = tmp_path / "png"
    synth.write_dataset(synth.SceneConfig(), png, N, resolution_um=RES, seed=SEED)
    from_png = {}
    for row in (png / "patches.csv").read_text().splitlines()[1:]:
        index, rel = row.split(",")[:2]
        from_png[int(index)] = synth.read_grey_image(png / rel).unit
    names = []
    for name, image, _label in io.iter_shard_patches(local_shards):
        index = int(name.rsplit("#", 1)[1].split(".")[0])
        assert np.array_equal(image, from_png[index])
        names.append(name)
    assert len(names) == N and names[-1].startswith("shards/shard-000002.tar#")


def test_verify_checks_the_shard_index(tmp_path):
    out = tmp_path / "s"
    synth.write_dataset(synth.SceneConfig(), out, 12, resolution_um=RES, seed=0,
                        dataset_format="shards")
    assert synth.verify_dataset(out).ok
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "shards" and set(manifest["files"]) == {
        "patches.csv", "calcifications.csv", "shards.json", "shards/shard-000000.tar"}
    index = json.loads((out / "shards.json").read_text())
    index["shards"][0]["class_1"] += 1  # an edited index: its SHA-256 and its counts disagree
    (out / "shards.json").write_text(json.dumps(index))
    report = synth.verify_dataset(out)
    assert report.altered == ("shards.json",)
    assert any("shards.json is missing, altered" in line for line in report.inconsistent)
    with open(out / "shards" / "shard-000000.tar", "ab") as fh:
        fh.write(b"\0" * 512)
    assert "shards/shard-000000.tar" in synth.verify_dataset(out).altered


def test_a_killed_sharded_run_resumes_byte_identical(tmp_path, local_shards):
    out = tmp_path / "shards"
    script = textwrap.dedent(f"""
        import os, signal
        import synth._dataset as d
        original = d._write_chunk
        def unit(job):
            n = original(job)
            os.kill(os.getpid(), signal.SIGKILL)
        d._write_chunk = unit
        import synth
        synth.write_dataset(synth.SceneConfig(), {str(out)!r}, {N}, resolution_um={RES},
                            seed={SEED}, dataset_format="shards", shard_size=256)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    assert (out / "shards" / "shard-000000.tar").exists()
    assert not (out / "shards.json").exists()
    synth.write_dataset(synth.SceneConfig(), out, N, resolution_um=RES, seed=SEED, **SHARDED)
    assert files_of(out) == files_of(local_shards)


def test_bad_format_and_storage_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="`dataset_format` must be one of"):
        synth.write_dataset(synth.SceneConfig(), tmp_path / "a", 4, resolution_um=RES, seed=0,
                            dataset_format="zip")
    with pytest.raises(ValueError, match="`shard_size` must be a multiple of 256"):
        synth.write_dataset(synth.SceneConfig(), tmp_path / "a", 4, resolution_um=RES, seed=0,
                            dataset_format="shards", shard_size=1000)
    with pytest.raises(ValueError, match="`storage` must be one of"):
        synth.write_dataset(synth.SceneConfig(), tmp_path / "a", 4, resolution_um=RES, seed=0,
                            storage="nfs")
    assert not (tmp_path / "a").exists()


def test_a_sharded_folder_is_never_taken_for_a_png_dataset(tmp_path):
    out = tmp_path / "s"
    synth.write_dataset(synth.SceneConfig(), out, 12, resolution_um=RES, seed=0, **SHARDED)
    for kwargs in ({}, {"dataset_format": "shards", "shard_size": 512}):
        with pytest.raises(ValueError, match="holds another dataset"):
            synth.write_dataset(synth.SceneConfig(), out, 12, resolution_um=RES, seed=0,
                                **kwargs)
    png = tmp_path / "p"
    synth.write_dataset(synth.SceneConfig(), png, 12, resolution_um=RES, seed=0)
    with pytest.raises(ValueError, match="holds another dataset"):
        synth.write_dataset(synth.SceneConfig(), png, 12, resolution_um=RES, seed=0, **SHARDED)


def test_workers_writing_where_the_client_cannot_see_is_one_line(tmp_path, client,
                                                                 monkeypatch):
    from synth import _dataset

    def elsewhere(jobs, backgrounds):  # a worker whose mount differs: files go nowhere
        return [(job[2], _dataset._render_unit(job, backgrounds, serial=True)[1])
                for job in jobs]

    monkeypatch.setattr(_dataset, "_write_units", elsewhere)
    with pytest.raises(OSError, match="is not on storage every worker shares; run again "
                                      "with --storage client"):
        synth.write_dataset(synth.SceneConfig(), tmp_path / "x", 300, resolution_um=RES,
                            seed=0, client=client, storage="shared")


@pytest.mark.parametrize("edit", [
    lambda e: e.update(png_offsets=[10**9] + e["png_offsets"][1:]),
    lambda e: e.update(png_sizes=["5"] + e["png_sizes"][1:]),
    lambda e: e.update(labels=[5] + e["labels"][1:]),
])
def test_an_edited_shard_index_is_refused_in_one_line(tmp_path, edit):
    out = tmp_path / "s"
    synth.write_dataset(synth.SceneConfig(), out, 12, resolution_um=RES, seed=0, **SHARDED)
    index = json.loads((out / "shards.json").read_text())
    edit(index["shards"][0])
    (out / "shards.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="`path`: .*shards.json gives"):
        list(io.iter_shard_patches(out))


def test_workers_with_another_software_stack_are_refused_before_any_work(tmp_path, client,
                                                                         monkeypatch):
    assert synth.cluster.stack_mismatch(synth.cluster.software_stack(),
                                        client.run(synth.cluster.software_stack)) is None
    other = {**synth.cluster.software_stack(), "numpy": "0.0.1"}
    monkeypatch.setattr(client, "run", lambda fn, *args, **kwargs: {"tcp://w:1": other})
    with pytest.raises(ValueError, match="`dask` workers must run the same software as this "
                                         "process.*numpy"):
        synth.write_dataset(synth.SceneConfig(), tmp_path / "x", 8, resolution_um=RES,
                            seed=0, client=client)
    assert not (tmp_path / "x" / "class_0").exists()
