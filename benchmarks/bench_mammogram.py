"""Time of one full-field synthetic mammogram (240 × 300 mm) and of cutting its patches.

Prints, per resolution, the median over `--repeats` runs (different seeds) of
`synth.render_mammogram` with the default config, the image size and the peak memory of the
process; then the time of `mcc_core.extract_patches` on the rendered image (pure numpy;
importing mcc_core loads Keras once, outside the timings).

Usage: python benchmarks/bench_mammogram.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import synth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from mcc_core import extract_patches

    config = synth.SceneConfig()
    synth.render_mammogram(config, resolution_um=100, seed=0, size_mm=(40, 40))  # warm caches
    for res in (100, 70, 50):
        render, extract = [], []
        for seed in range(args.repeats):
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
