"""Scaling past one process: patches/s of `synth.write_dataset` locally and on Dask clusters.

Prints, for one dataset of the default config at 70 µm written as PNG folders:

- patches/s of a local single-process run, of ``local:1`` and of ``local:2`` (LocalClusters of
  single-threaded worker processes), and the scaling efficiency
  rate(local:2) / (2 × rate(local:1)) (target >= 0.85 on a machine with 2 free cores);
- the Dask overhead per task in ms (no-op tasks through `synth.cluster.run_tasks`);
- shards against PNG folders, single process: patches/s of each and their ratio (target >= 2).

Every figure is measured in this one run; on a shared machine read the ratios, not the rates.

Usage: python benchmarks/bench_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import synth

RES = 70


def rate(out: Path, n: int, **kwargs: object) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    synth.write_dataset(synth.SceneConfig(), out, n, resolution_um=RES, seed=0, **kwargs)
    return n / (time.perf_counter() - start)


def _noop(job: int) -> int:
    return job


def overhead_ms(client: object, tasks: int) -> float:
    list(synth.cluster.run_tasks(client, _noop, list(range(20)), name="warm"))
    start = time.perf_counter()
    list(synth.cluster.run_tasks(client, _noop, list(range(tasks)), name="noop"))
    return (time.perf_counter() - start) / tasks * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer patches")
    args = parser.parse_args()
    n = 2048 if args.quick else 6144
    root = Path(tempfile.mkdtemp())
    print(f"{n} patches at {RES} µm of SceneConfig(), seed 0")
    local = rate(root / "local", n)
    print(f"local (forks renderers){local:7.0f} patches/s")
    rates = {}
    for workers in (1, 2):
        with synth.cluster.connect(f"local:{workers}") as client:
            client.wait_for_workers(workers, timeout=120)
            rate(root / "warm", 256, client=client)  # workers import and warm up
            rates[workers] = rate(root / f"dask{workers}", n, client=client)
            print(f"dask local:{workers}          {rates[workers]:8.0f} patches/s")
            if workers == 2:
                per_task = overhead_ms(client, 400)
    print(f"scaling efficiency    {rates[2] / (2 * rates[1]):8.2f}   (target >= 0.85)")
    print(f"dask overhead         {per_task:8.2f} ms per task (no-op round trip, 2 workers)")
    png = rate(root / "png", n)
    shards = rate(root / "shards", n, dataset_format="shards")
    print(f"PNG folders           {png:8.0f} patches/s")
    print(f"shards                {shards:8.0f} patches/s")
    print(f"shards / PNG          {shards / png:8.2f}   (target >= 2)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
