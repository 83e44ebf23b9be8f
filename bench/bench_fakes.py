"""Cost of synthesized fakes: milliseconds per fake, and the tf.data stream with and without.

Prints two tables:

  (a) CPU milliseconds per fake for each generator `FakeSynthesizer` makes (``sbi`` with a
      face ellipse and with landmarks, ``upsampling-*``), at each ``--sizes`` side, median
      over ``--repeats`` fakes, one thread;
  (b) images/s of iterating a decode -> synthesize stream (no model) over a folder of real
      JPEGs only, with ``fakes=none`` (the reals alone) and with ``sbi`` / ``upsampling`` /
      ``mixed`` at ratio 1 (twice the elements: every real plus one fake each).

Usage:
    python bench/bench_fakes.py                         # about a minute on 2 cores
    python bench/bench_fakes.py --sizes 128 256 --images 256 --repeats 40

The JPEGs are generated in a temporary folder (300x300, quality 90, like faces-hard-dev),
decoded and resized to the first of ``--sizes`` before synthesis, as a training loader does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a script, not the library: quiet TF logs

import numpy as np
from PIL import Image

from deepguard.data.synthetic import synthetic_image
from deepguard.fakes import FakeSynthesizer, SelfBlender, UpsamplingSimulator

# MTCNN-like landmarks as fractions of the image side: eyes, nose, mouth corners.
LANDMARKS = np.array([[0.35, 0.42], [0.65, 0.42], [0.5, 0.56], [0.38, 0.72], [0.62, 0.72]])


def synthesizer(kind: str) -> FakeSynthesizer:
    makers = {"sbi": SelfBlender(), "upsampling": UpsamplingSimulator()}
    shares = {"none": {}, "sbi": {"sbi": 1}, "upsampling": {"upsampling": 1}}
    shares["mixed"] = {"sbi": 1, "upsampling": 1}
    return FakeSynthesizer(makers, shares[kind], ratio=0.0 if kind == "none" else 1.0)


def ms_per_fake(size: int, repeats: int) -> list[tuple[str, float]]:
    fakes = synthesizer("mixed")
    image = synthetic_image(0, 0, size, seed=1).astype(np.float32)
    cases = [("sbi (ellipse)", "sbi", None), ("sbi (landmarks)", "sbi", LANDMARKS * size)]
    cases += [(g, g, None) for g in fakes.generator_shares if g != "sbi"]
    rows = []
    for name, generator, landmarks in cases:
        times = []
        for seed in range(repeats):
            start = time.process_time()
            fakes.make_fake(image, generator, seed, landmarks)
            times.append(time.process_time() - start)
        rows.append((name, 1000 * statistics.median(times)))
    return rows


def write_jpegs(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        path = folder / f"real_{index:05d}.jpg"
        Image.fromarray(synthetic_image(0, index, 300, seed=2)).save(path, quality=90)
        paths.append(str(path))
    return paths


def stream_rate(paths: list[str], kind: str, size: int) -> tuple[int, float]:
    import pandas as pd
    import tensorflow as tf

    from deepguard.fakes.stream import record_columns

    records = pd.DataFrame({"path": paths, "label": 0, "generator": "real", "split": "train"})
    records["sha256"] = records["path"]  # unique per file: enough to choose and seed here
    fakes = synthesizer(kind)
    records = fakes.extend_records(records)

    def load(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(image, [size, size], antialias=True)

    dataset = tf.data.Dataset.from_tensor_slices(record_columns(records))
    dataset = dataset.map(lambda p, *rest: (load(p), *rest), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = fakes.apply(dataset).batch(32).prefetch(tf.data.AUTOTUNE)
    start = time.perf_counter()
    count = sum(int(batch[0].shape[0]) for batch in dataset)
    return count, count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="image sides")
    parser.add_argument("--repeats", type=int, default=20, help="fakes timed per generator")
    parser.add_argument("--images", type=int, default=128, help="real JPEGs in the stream")
    args = parser.parse_args()

    print(f"(a) CPU ms per fake (median of {args.repeats}, one thread)")
    tables = {size: dict(ms_per_fake(size, args.repeats)) for size in args.sizes}
    print(f"{'generator':<30}" + "".join(f"{size:>10} px" for size in args.sizes))
    for name in tables[args.sizes[0]]:
        print(f"{name:<30}" + "".join(f"{tables[s][name]:>13.1f}" for s in args.sizes))

    size = args.sizes[0]
    print(f"\n(b) decode -> synthesize stream, {args.images} real JPEGs at {size} px, no model")
    print(f"{'fakes':<12}{'elements':>10}{'img/s':>10}")
    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(Path(folder), args.images)
        for kind in ("none", "sbi", "upsampling", "mixed"):
            count, rate = stream_rate(paths, kind, size)
            print(f"{kind:<12}{count:>10}{rate:>10.0f}")
    print(f"\ncores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
