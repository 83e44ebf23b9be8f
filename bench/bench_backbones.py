"""Training throughput of DeepGuard backbones on in-memory tensors: float32 vs mixed_bfloat16.

Each case builds the detector from conf/backbone/<name>.yaml (from scratch), compiles it with
Adam and binary cross-entropy (jit_compile off, as on CPU by default), runs a few warm-up steps
(graph tracing), then times `fit` over a finite dataset of one repeated in-memory batch, so no
input pipeline is measured. Prints a table of images/s. Takes a few minutes on 2 cores.

    python bench/bench_backbones.py
    python bench/bench_backbones.py --cases small_cnn:64:40 vgg16:128:4 --precisions float32
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from hydra.utils import instantiate
from omegaconf import OmegaConf

BACKBONE_DIR = Path(__file__).resolve().parents[1] / "conf" / "backbone"
# backbone:image size in pixels:timed steps (about 10 s of float32 training each on 2 cores)
DEFAULT_CASES = ("small_cnn:64:40", "vgg16:64:8", "xception:96:8")
PRECISIONS = ("float32", "mixed_bfloat16")


def images_per_second(
    backbone: str, image_size: int, steps: int, precision: str, batch_size: int, warmup: int
) -> float:
    """Build, compile, warm up, then time `steps` training steps; return images per second."""
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(precision)
    try:
        cfg = OmegaConf.load(BACKBONE_DIR / f"{backbone}.yaml")
        model = instantiate(cfg, image_size=image_size)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", jit_compile=False
        )
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32")
        y = (rng.uniform(size=batch_size) > 0.5).astype("float32")
        batch = tf.data.Dataset.from_tensors((x, y))
        model.fit(batch.repeat(warmup), epochs=1, shuffle=False, verbose=0)  # traces the step
        start = time.perf_counter()
        model.fit(batch.repeat(steps), epochs=1, shuffle=False, verbose=0)
        elapsed = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return steps * batch_size / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+", default=list(DEFAULT_CASES), help="backbone:image_size:steps entries"
    )
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--batch-size", type=int, default=32, help="images per step")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    args = parser.parse_args(argv)

    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, batch {args.batch_size}"
    )
    header = f"{'backbone':<20}{'px':>5}" + "".join(f"{p:>16}" for p in args.precisions)
    if len(args.precisions) == 2:
        header += f"{'speed-up':>10}"
    print(header)
    for case in args.cases:
        backbone, size, steps = case.split(":")
        rates = [
            images_per_second(backbone, int(size), int(steps), p, args.batch_size, args.warmup)
            for p in args.precisions
        ]
        row = f"{backbone:<20}{size:>5}" + "".join(f"{r:>12.1f} i/s" for r in rates)
        if len(rates) == 2:
            row += f"{rates[1] / rates[0]:>9.2f}x"
        print(row, flush=True)


if __name__ == "__main__":
    main()
