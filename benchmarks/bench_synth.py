"""Throughput of `synth` against the FFT floor, dataset writing speed and memory.

Prints, per resolution, patches/s of `synth.generate` with the default config (attenuation
physics) called plainly and with `processes=2`, and of the "FFT floor" — bare 1/f^beta noise
for the same batch with scipy.fft (float32 white noise, rfft2, filter, irfft2, `workers=-1`) —
measured interleaved in this run, and the ratios (target >= 0.6). Each timed call pays the
start-up of its workers. Twice: in this plain script (generate forks its workers), and with a
thread running (as in a notebook or beside TensorFlow, where forking is unsafe: threads for the
plain call, a fresh fork-server pool for processes=2).
Then patches/s of `write_dataset` to PNG with 2 workers, and the peak memory of writing
2,000 and 20,000 patches (which must not grow with N).

Usage: python benchmarks/bench_synth.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import scipy.fft

import synth

BATCH = 2048
"""Patches per timed call (the physics issue measured batches of 1,500–6,000)."""


def fft_floor(n: int, size: int, rng: np.random.Generator, chunk: int = 128) -> np.ndarray:
    """Bare power-law noise: the least any generator of such a batch has to do.

    Done `chunk` patches at a time (the floor's best: a whole large batch at once runs slower,
    out of cache), written into one output array like `generate`'s.
    """
    f2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.rfftfreq(size)[None, :] ** 2
    f2[0, 0] = 1.0
    filt = (f2 ** (-2.8 / 4)).astype(np.float32)
    filt[0, 0] = 0.0
    out = np.empty((n, size, size), dtype=np.float32)
    for k in range(0, n, chunk):
        white = rng.standard_normal((min(chunk, n - k), size, size), dtype=np.float32)
        spectrum = scipy.fft.rfft2(white, workers=-1) * filt
        out[k:k + chunk] = scipy.fft.irfft2(spectrum, s=(size, size), workers=-1)
    return out


def _timed(config: synth.SceneConfig, res: int, seed: int, processes: int) -> float:
    synth.close_pools()  # a pooled call pays the pool's start-up, as a user's first call does
    t = time.perf_counter()
    synth.generate(config, BATCH, resolution_um=res, seed=seed, processes=processes)
    return time.perf_counter() - t


def throughput(repeats: int) -> None:
    """generate against the floor: as a script calls it (forked children), and in a process
    that cannot fork safely (a thread running, as in a notebook or beside TensorFlow): threads
    for the plain call, a fork-server pool started by the call for processes=2."""
    config = synth.SceneConfig()
    print(f"generate (default attenuation physics) vs FFT floor, batches of {BATCH}, "
          f"median of {repeats} interleaved runs; start-up of workers included")
    print(f"{'':>10} {'':>9} {'forking':>33} | {'a thread running (no fork)':>33}")
    print(f"{'resolution':>10} {'floor/s':>9} {'plain/s':>9} {'ratio':>6} {'2 proc/s':>9} "
          f"{'ratio':>6} | {'plain/s':>9} {'ratio':>6} {'2 proc/s':>9} {'ratio':>6}")
    for res in synth.RESOLUTIONS_UM:
        size = synth.patch_size_px(res)
        rng = np.random.default_rng(0)
        synth.generate(config, BATCH, resolution_um=res, seed=99)  # warm up caches
        times: dict[str, list[float]] = {k: [] for k in ("floor", "plain", "procs", "tplain",
                                                           "tprocs")}
        for r in range(repeats):
            t = time.perf_counter()
            fft_floor(BATCH, size, rng)
            times["floor"].append(time.perf_counter() - t)
            times["plain"].append(_timed(config, res, r, 1))
            times["procs"].append(_timed(config, res, r, 2))
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait)
            thread.start()
            try:
                times["tplain"].append(_timed(config, res, r, 1))
                times["tprocs"].append(_timed(config, res, r, 2))
            finally:
                stop.set()
                thread.join()
        f, *rest = (statistics.median(times[k]) for k in times)
        cells = " ".join(f"{BATCH / g:>9.0f} {f / g:>6.2f}" + (" |" if i == 1 else "")
                         for i, g in enumerate(rest))
        print(f"{res:>8}um {BATCH / f:>9.0f} {cells}")
    synth.close_pools()


def _write_job(out: str, n: int, res: int, workers: int) -> str:
    return (f"import synth; synth.write_dataset(synth.SceneConfig(), {out!r}, {n}, "
            f"resolution_um={res}, seed=0, workers={workers})")


def _run_child(code: str) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of the largest process of a child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


def writing(quick: bool) -> None:
    n = 1000 if quick else 4000
    print(f"\nwrite_dataset to PNG, 2 workers, {n} patches (process start-up included)")
    for res in synth.RESOLUTIONS_UM:
        with tempfile.TemporaryDirectory() as tmp:
            wall, _ = _run_child(_write_job(tmp, n, res, 2))
        print(f"{res:>8}um {n / wall:>8.0f} patches/s")
    print("\npeak memory of one process writing at 70 um, 1 worker")
    for n in (2000, 20000) if not quick else (500, 5000):
        with tempfile.TemporaryDirectory() as tmp:
            # Each measurement in a fresh grandchild so ru_maxrss is its own.
            code = ("import resource, subprocess, sys; "
                    f"subprocess.run([sys.executable, '-c', {_write_job(tmp, n, 70, 1)!r}], "
                    "check=True); "
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True).stdout
            wall = time.perf_counter() - t
        print(f"{n:>8} patches: peak RSS {int(out.split()[-1]) / 1024:.0f} MiB, {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    throughput(3 if args.quick else 7)
    writing(args.quick)


if __name__ == "__main__":
    main()
