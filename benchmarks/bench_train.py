"""Training input speed: on-the-fly synthetic data against pre-materialised tensors.

Prints, for the lightweight CNN and the MobileNetV2 classifier at 144 px (70 µm), training
steps/s fed by `mcc_core.synthetic_dataset` (patches generated while the model trains) and by
the same number of patches already in memory (`tf.data.Dataset.from_tensor_slices`), their
ratio (target >= 0.9, docs/architecture.md: the generator must not starve the model), then the
same for a sharded dataset on disk read by `mcc_core.shard_dataset` (target >= 0.95), and
inference patches/s. Random weights: speed does not depend on them.

Usage: python benchmarks/bench_train.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import keras
import tensorflow as tf

import mcc_core
import synth

BATCH = 16
SIZE = synth.patch_size_px(70)


def steps_per_second(model: keras.Model, dataset: tf.data.Dataset, steps: int) -> float:
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # warm up (graph, threads)
    t = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - t)


def measure(name: str, model: keras.Model, steps: int, rounds: int) -> None:
    """Alternate the two feeds `rounds` times: on a shared machine a burst of other work then
    slows both sides of one round alike, and the median ratio is the figure to quote."""
    config = synth.SceneConfig()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    n = (steps + 2) * BATCH
    x, y = mcc_core.synthetic_arrays(config, n, resolution_um=70, seed=1)
    tensors = tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).batch(BATCH).repeat()
    flowing = mcc_core.synthetic_dataset(config, resolution_um=70, seed=2, batch_size=BATCH)
    folder = tempfile.mkdtemp()
    synth.write_dataset(config, folder, n, resolution_um=70, seed=1, dataset_format="shards",
                        shard_size=256)
    sharded = mcc_core.shard_dataset(folder, batch_size=BATCH, shuffle_seed=0, repeat=True)
    ratios, shard_ratios = [], []
    for k in range(rounds):
        fixed = steps_per_second(model, tensors, steps)
        live = steps_per_second(model, flowing, steps)
        read = steps_per_second(model, sharded, steps)
        ratios.append(live / fixed)
        shard_ratios.append(read / fixed)
        print(f"{name:<22} {live:8.2f} {fixed:8.2f} {live / fixed:6.2f}   shards {read:8.2f} "
              f"{read / fixed:6.2f}   (round {k + 1})")
    model.predict(x[:64], batch_size=64, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=64, verbose=0)
    infer = len(x) / (time.perf_counter() - t)
    print(f"{name:<22} median ratio {statistics.median(ratios):.2f} on the fly, "
          f"{statistics.median(shard_ratios):.2f} from shards, over {rounds} rounds; "
          f"inference {infer:.0f} patches/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args()
    print(f"batch {BATCH}, 70 um ({SIZE} px); steps/s on the fly, on tensors, ratio "
          "(target >= 0.9); then inference patches/s")
    print(f"{'model':<22} {'on-fly':>8} {'tensors':>8} {'ratio':>6}   {'shards':>14} "
          f"{'ratio':>6}")
    rounds = 1 if args.quick else 3
    measure("lightweight CNN", mcc_core.build_shallow_cnn(SIZE), 40 if args.quick else 150, rounds)
    measure("MobileNetV2 classifier", mcc_core.build_mobilenet_classifier(SIZE),
            6 if args.quick else 20, rounds)


if __name__ == "__main__":
    main()
