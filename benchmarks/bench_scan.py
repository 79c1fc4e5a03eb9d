"""Whole-mammogram scanning: fully-convolutional path against patch-by-patch scoring.

Prints, for a full-field 70 µm mammogram of about 24 × 30 cm (3429 × 4286 px) scanned with the
bundled lightweight CNN at a 1.5 mm stride (22 px steps of 144 px windows): the number
of grid windows and of scored (non-background) ones, the seconds of each path, their ratio
(target >= 10, docs/architecture.md) and the maximum absolute difference of their
probabilities (target
<= 1e-4). After a small warm-up scan, each path is timed best of 3 (fully convolutional) and
best of 2 (patches) in the same process, so that a burst of other work on the machine does
not decide the ratio.

The mammogram comes from `synth.render_mammogram` when the installed `synth` has it; otherwise
a breast-shaped stand-in is drawn here with NumPy (smooth tissue texture inside a half
ellipse on a black background, with a few bright dots).

Usage: python benchmarks/bench_scan.py [--quick] [--once]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

import mcc_core
import synth

RESOLUTION_UM = 70
SHAPE = (3429, 4286)  # 24 × 30 cm at 70 µm


def stand_in_mammogram(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A breast-shaped float32 image in [0, 1]: textured half ellipse, black outside."""
    rng = np.random.default_rng(seed)
    height, width = shape
    coarse = gaussian_filter(rng.standard_normal((height // 8, width // 8)), 6.0)
    texture = zoom(coarse, (height / coarse.shape[0], width / coarse.shape[1]), order=1)
    texture = 0.5 + 0.12 * texture / texture.std()
    texture += 0.02 * rng.standard_normal(shape)
    y, x = np.mgrid[0:height, 0:width]
    inside = (x / (0.8 * width)) ** 2 + ((y - height / 2) / (0.47 * height)) ** 2 <= 1.0
    for cy, cx in rng.uniform((0.3 * height, 0.1 * width), (0.7 * height, 0.5 * width), (12, 2)):
        texture[int(cy) - 2:int(cy) + 2, int(cx) - 2:int(cx) + 2] += 0.3
    return np.where(inside, np.clip(texture, 0.01, 1.0), 0.0).astype(np.float32)


def mammogram(quick: bool) -> tuple[np.ndarray, str]:
    if hasattr(synth, "render_mammogram") and not quick:
        shot = synth.render_mammogram(synth.SceneConfig(), resolution_um=RESOLUTION_UM, seed=0)
        image = getattr(shot, "image", shot)
        return np.asarray(image, np.float32), "synth.render_mammogram"
    shape = (SHAPE[0] // 3, SHAPE[1] // 3) if quick else SHAPE
    return stand_in_mammogram(shape), "NumPy stand-in"


def best_of(repeats: int, model: object, image: np.ndarray,
            method: str) -> tuple[mcc_core.ScanResult, float]:
    """The scan and its shortest wall-clock time over `repeats` runs (the machine is shared)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = mcc_core.scan(model, image, resolution_um=RESOLUTION_UM, method=method)
        times.append(time.perf_counter() - t)
    return result, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 3× smaller stand-in image")
    parser.add_argument("--once", action="store_true", help="time the patch path once, not twice")
    args = parser.parse_args()
    image, source = mammogram(args.quick)
    model = mcc_core.load_bundled_model(RESOLUTION_UM)
    mcc_core.scan(model, image[:400, :400], resolution_um=RESOLUTION_UM, method="patches")
    mcc_core.scan(model, image[:400, :400], resolution_um=RESOLUTION_UM,
                  method="fully_convolutional")
    conv, conv_s = best_of(3, model, image, "fully_convolutional")
    patches, patch_s = best_of(1 if args.once else 2, model, image, "patches")
    diff = float(np.nanmax(np.abs(conv.probabilities - patches.probabilities)))
    scored = conv.n_windows - conv.n_background
    print(f"{source}, {image.shape[0]} × {image.shape[1]} px at {RESOLUTION_UM} µm, bundled "
          f"lightweight CNN, stride {conv.stride_px} px (1.5 mm), window {conv.patch_px} px")
    print(f"windows: {conv.n_windows} in the grid, {scored} scored, {conv.n_background} "
          f"background; {conv.n_positive} positive")
    print(f"fully convolutional {conv_s:8.2f} s   ({scored / conv_s:8.0f} windows/s)")
    print(f"patch by patch      {patch_s:8.2f} s   ({scored / patch_s:8.0f} windows/s)")
    print(f"speed-up {patch_s / conv_s:.1f}x (target >= 10), max abs difference {diff:.2e} "
          "(target <= 1e-4)")


if __name__ == "__main__":
    main()
