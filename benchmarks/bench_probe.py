"""Cost of a paired sweep against bare `predict` on the same patches.

Prints, for the lightweight CNN at 70 µm (random weights: speed does not depend on them), the
time of `evalkit.run_sweep` over 4 contrast values, of generating the same patches with
`synth.generate`, and of bare `model.predict` on them, and the ratio
predict / (sweep - generation): how close the sweep's own work (adapter, metrics, bootstrap,
bookkeeping) stays to bare inference (target >= 0.8, docs/architecture.md).
Then the cost of comparing two such models (`evalkit.compare`, clean condition + the same
sweep) against the sum of their two separate probes (`run_probe` with that sweep): the
comparison generates each condition once for both (target <= 1.1).

Usage: python benchmarks/bench_probe.py [--n 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import evalkit
import mcc_core
import synth

VALUES = (0.1, 0.2, 0.4, 0.8)
SIZE = synth.patch_size_px(70)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="patches per condition")
    args = parser.parse_args()
    model = mcc_core.build_shallow_cnn(SIZE)
    predictor = evalkit.as_predictor(model, batch_size=256)
    base = synth.SceneConfig()
    predictor(np.zeros((8, SIZE, SIZE, 1), np.float32))  # warm up
    t = time.perf_counter()
    evalkit.run_sweep(predictor, base, "contrast", VALUES, n_per_condition=args.n, seed=0)
    sweep = time.perf_counter() - t
    t = time.perf_counter()
    images = [synth.generate(evalkit.condition_config(base, "contrast", v), args.n,
                             resolution_um=70, seed=0).images for v in VALUES]
    generation = time.perf_counter() - t
    t = time.perf_counter()
    for batch in images:
        model.predict(batch[..., None], batch_size=256, verbose=0)
    bare = time.perf_counter() - t
    total = args.n * len(VALUES)
    print(f"{len(VALUES)} conditions x {args.n} patches at 70 um, lightweight CNN")
    print(f"run_sweep        {sweep:7.2f} s  ({total / sweep:6.0f} patches/s)")
    print(f"  generation     {generation:7.2f} s")
    print(f"bare predict     {bare:7.2f} s  ({total / bare:6.0f} patches/s)")
    print(f"predict / (sweep - generation) = {bare / (sweep - generation):.2f}  (target >= 0.8)")
    other = evalkit.as_predictor(mcc_core.build_shallow_cnn(SIZE), batch_size=256)
    other(np.zeros((8, SIZE, SIZE, 1), np.float32))
    sweeps = [("contrast", list(VALUES))]
    t = time.perf_counter()
    for p in (predictor, other):
        evalkit.run_probe(p, base, n=args.n, seed=0, sweeps=sweeps, behaviour=False,
                          resolutions=False, thresholds=False)
    separate = time.perf_counter() - t
    t = time.perf_counter()
    evalkit.compare([predictor, other], base, n=args.n, seed=0, sweeps=sweeps)
    paired = time.perf_counter() - t
    print(f"two separate probes {separate:7.2f} s, compare {paired:7.2f} s: "
          f"compare / sum = {paired / separate:.2f}  (target <= 1.1)")


if __name__ == "__main__":
    main()
