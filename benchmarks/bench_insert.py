"""Real images in: MC insertion into 1 cm patches, and reading + resampling a full-field DICOM.

Prints, in one run on this machine:

- insertion (`synth.insert`) into 1 cm patches at 70 µm, patches/s, best of 5 batches of 2,048
  (the default scene: half positives, a quarter hard negatives), against the target of
  500 patches/s; and synthetic generation (`synth.generate`) of the same batch, for scale;
- reading a 70 µm full-field DICOM (24 × 30 cm, 3429 × 4286 px, 16 bit, uncompressed) with
  `synth.read_grey_image` and resampling it to 100 µm with `synth.at_resolution`, seconds,
  best of 5, against the target of 1 s; and the same image as a 16-bit PNG, for scale.

The backgrounds are 64 16-bit PNG patches of a breast-like texture (a 1/f³ field with white
noise), written to a temporary folder and read back with `synth.load_backgrounds`.

Usage: python benchmarks/bench_insert.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import synth
from synth import io

RES = 70
SHAPE = (3429, 4286)  # 24 × 30 cm at 70 µm


def texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A 1/f³ field scaled to tissue-like values, with white quantum-like noise, in [0, 1]."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(shape[0]), np.fft.rfftfreq(shape[1]),
                              indexing="ij"))
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) * f ** -1.5
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape)
    field = 0.45 + 0.05 * field / field.std() + rng.normal(0.0, 0.01, shape)
    return np.clip(field, 0.01, 1.0)


def best(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batch and image")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = 256 if args.quick else 2048
    n = synth.patch_size_px(RES)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "negatives"
        root.mkdir()
        for i in range(64):
            unit = texture((n, n), rng)
            Image.fromarray(np.rint(unit * 65535).astype(np.uint16)).save(root / f"{i:02d}.png")
        backgrounds = synth.load_backgrounds(root, resolution_um=RES, spacing_um=RES)
        config = synth.SceneConfig()
        synth.insert(backgrounds, config, 64, seed=0)  # warm-up
        t_insert = best(5, lambda: synth.insert(backgrounds, config, batch, seed=1))
        t_generate = best(3, lambda: synth.generate(config, batch, resolution_um=RES, seed=1))
        print(f"insertion at {RES} µm: {batch / t_insert:,.0f} patches/s "
              f"(target >= 500: {'met' if batch / t_insert >= 500 else 'NOT met'}); "
              f"synthetic generation {batch / t_generate:,.0f} patches/s")

        shape = (SHAPE[0] // 3, SHAPE[1] // 3) if args.quick else SHAPE
        image = texture(shape, rng).astype(np.float32)
        dicom = Path(tmp) / "full_field.dcm"
        dicom.write_bytes(io.encode_dicom(image, spacing_um=RES, intent="processing"))
        png = Path(tmp) / "full_field.png"
        png.write_bytes(io.encode_png(image, 16))

        def read_and_resample(path: Path) -> None:
            grey = synth.read_grey_image(path)
            synth.at_resolution(grey, 100, spacing_um=None if path == dicom else RES)

        read_and_resample(dicom)  # warm-up (imports pydicom)
        t_dicom = best(5, lambda: read_and_resample(dicom))
        t_png = best(3, lambda: read_and_resample(png))
        t_read = best(5, lambda: synth.read_grey_image(dicom))
        print(f"{shape[0]} × {shape[1]} px DICOM at {RES} µm read and resampled to 100 µm: "
              f"{t_dicom:.2f} s (read {t_read:.2f} s; target < 1 s: "
              f"{'met' if t_dicom < 1.0 else 'NOT met'}); the same as a 16-bit PNG "
              f"{t_png:.2f} s")


if __name__ == "__main__":
    main()
