"""Time of one full-field synthetic mammogram (240 × 300 mm) and of cutting its patches.

Prints, per resolution, the median over `--repeats` runs (different seeds) of
`synth.render_mammogram` with the default config, the image size and the peak memory of the
process; then the time of `mcc_core.extract_patches` on the rendered image (pure numpy;
importing mcc_core loads Keras once, outside the timings).

Then the same for mammograms with anatomy (`anatomy=True`: phantom, findings at BI-RADS
scale, look-alikes; target: 24 × 30 cm at 70 µm in at most 3 s), and the rate of patches
from phantoms (`SceneConfig(patch_source="phantom")`, target >= 200/s at 70 µm), in index
order and in random access (shuffled indices of a 100,000-patch set, batches of 64, as a
shuffling loader asks), beside the texture source's, in the same run.

Usage: python benchmarks/bench_mammogram.py [--repeats 3] [--anatomy-only]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

import synth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anatomy-only", action="store_true",
                        help="only the anatomy renders and the phantom patch rates")
    args = parser.parse_args()
    if not args.anatomy_only:
        first_wave(args.repeats)
    anatomy(args.repeats)


def anatomy(repeats: int) -> None:
    config = synth.SceneConfig()
    synth.render_mammogram(config, resolution_um=100, seed=0, size_mm=(40, 40), anatomy=True)
    for res in (100, 70, 50):
        times = []
        for seed in range(repeats):
            start = time.perf_counter()
            m = synth.render_mammogram(config, resolution_um=res, seed=seed, anatomy=True)
            times.append(time.perf_counter() - start)
        print(f"anatomy {res:>3} µm {m.image.shape[0]}×{m.image.shape[1]} px: render "
              f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})")
    for res in (100, 70, 50):
        rates = {}
        for source in ("texture", "phantom"):
            cfg = config.replace(patch_source=source)
            synth.generate(cfg, 16, resolution_um=res, seed=0)  # warm caches
            start = time.perf_counter()
            synth.generate(cfg, 1024, resolution_um=res, seed=1)
            rates[source] = 1024 / (time.perf_counter() - start)
        rates["random"] = random_access(config.replace(patch_source="phantom"), res)
        print(f"patches {res:>3} µm: texture {rates['texture']:.0f}/s, phantom "
              f"{rates['phantom']:.0f}/s sequential, {rates['random']:.0f}/s random access")


def random_access(config: synth.SceneConfig, res: int, n: int = 1024, batch: int = 64
                  ) -> float:
    """Patches/s of `generate_indices` over shuffled indices of a 100,000-patch set in
    batches of `batch` (a shuffling data loader), after 512 other shuffled indices (which
    draw the pool's phantoms in this process; batches of 64 run in threads, not forks)."""
    order = np.random.default_rng(0).permutation(100_000)[:n + 512]
    for k in range(n, n + 512, batch):  # other indices: the pool's phantoms, in this process
        synth.generate_indices(config, [int(i) for i in order[k:k + batch]],
                               resolution_um=res, seed=2)
    start = time.perf_counter()
    for k in range(0, n, batch):
        synth.generate_indices(config, [int(i) for i in order[k:k + batch]],
                               resolution_um=res, seed=2)
    return n / (time.perf_counter() - start)


def first_wave(repeats: int) -> None:
    from mcc_core import extract_patches

    config = synth.SceneConfig()
    synth.render_mammogram(config, resolution_um=100, seed=0, size_mm=(40, 40))  # warm caches
    for res in (100, 70, 50):
        render, extract = [], []
        for seed in range(repeats):
            start = time.perf_counter()
            m = synth.render_mammogram(config, resolution_um=res, seed=seed)
            render.append(time.perf_counter() - start)
            start = time.perf_counter()
            patches = extract_patches(m.image, m.annotations, resolution_um=res)
            extract.append(time.perf_counter() - start)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{res:>3} µm {m.image.shape[0]}×{m.image.shape[1]} px: render "
              f"{statistics.median(render):.2f} s (min {min(render):.2f}), extract "
              f"{statistics.median(extract):.2f} s ({len(patches)} patches), "
              f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
