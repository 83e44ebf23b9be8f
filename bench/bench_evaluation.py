"""Throughput of the evaluation suite: a clean pass and the robustness table (images/s).

Uses ../shared/data/generators-dev when present (240 px JPEGs), else 320 generated 240 px
PNGs in a temporary folder. The detector is a tiny CNN, so the figures measure decoding,
perturbing and resizing, the part the suite adds on top of a model's own speed.

    python bench/bench_evaluation.py [--image-size 64] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "generators-dev"


def image_paths(folder: Path) -> list[str]:
    if SHARED.is_dir():
        return sorted(str(p) for p in SHARED.rglob("*.jpg"))
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(320):
        pixels = rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index}.png")
    return sorted(str(p) for p in folder.glob("*.png"))


def tiny_detector(image_size: int):
    import keras

    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64, help="model input side, pixels")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
    args = parser.parse_args()

    from deepguard.evaluation.inputs import image_dataset, predict_probabilities
    from deepguard.evaluation.robustness import DEFAULT_PERTURBATIONS, robustness_table

    with tempfile.TemporaryDirectory() as tmp:
        paths = image_paths(Path(tmp))
        labels = np.arange(len(paths)) % 2
        model = tiny_detector(args.image_size)
        source = "generators-dev JPEGs" if SHARED.is_dir() else "generated PNGs"
        print(f"{len(paths)} {source}, model input {args.image_size} px, batch {args.batch_size}")

        predict_probabilities(model, image_dataset(paths[:64], args.image_size, 32))  # warm-up
        start = time.perf_counter()
        clean = predict_probabilities(model, image_dataset(paths, args.image_size, args.batch_size))
        clean_s = time.perf_counter() - start
        print(f"clean pass:        {clean_s:6.2f} s  {len(paths) / clean_s:7.0f} images/s")

        start = time.perf_counter()
        robustness_table(
            model, paths, labels, batch_size=args.batch_size, clean_probabilities=clean
        )
        table_s = time.perf_counter() - start
        passes = len(DEFAULT_PERTURBATIONS)
        print(
            f"robustness table:  {table_s:6.2f} s  {passes * len(paths) / table_s:7.0f} images/s "
            f"over {passes} perturbed passes ({table_s / clean_s:.1f}x a clean pass)"
        )


if __name__ == "__main__":
    main()
