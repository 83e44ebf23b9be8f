"""Input-pipeline benchmark: does reading JPEG files from disk slow training down?

Prints four tables:

  (a) training images/s of one small CNN fed from JPEG files on disk (DeepGuard's tf.data
      pipeline) and from tensors already in memory, and their ratio (target: >= 0.9);
  (b) the same from ``keras.utils.image_dataset_from_directory`` (its defaults, except
      ``image_size`` set to the model's input so the same model can train on it);
  (c) peak resident memory of DataModule setup + one pass over the train split on 1k and on
      10k images (``--memory-train``: one training epoch), each in a fresh process: it should
      not grow with the number of images;
  (d) the input pipeline alone, no model: images/s and CPU ms per image of one pass over
      the JPEGs (DeepGuard's tf.data pipeline and ``image_dataset_from_directory``), the
      figure the decode path (Pillow inside ``tf.numpy_function``) changes directly.

Usage:
    python bench/bench_input_pipeline.py                       # about 4 minutes on 2 cores
    python bench/bench_input_pipeline.py --images 4096 --epochs 4 --repeats 3
    python bench/bench_input_pipeline.py --memory-sizes 1000 10000 50000
    python bench/bench_input_pipeline.py --jpeg-dir path/to/{real,fake}   # your own JPEGs
    python bench/bench_input_pipeline.py --decode-only --memory-sizes   # (d) alone, ~1 minute

The JPEGs are generated in a temporary folder (256x256, quality 90, like the 140k-faces
set) unless ``--jpeg-dir`` points at a folder in the generic ``{real,fake}`` layout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a script, not the library: quiet TF logs

import numpy as np
from PIL import Image


def write_jpegs(folder: Path, n: int, size: int = 256, seed: int = 0) -> Path:
    """`n` photo-like JPEGs (smooth colour fields, edges and noise) in folder/{real,fake}."""
    rng = np.random.default_rng(seed)
    for cls in ("real", "fake"):
        (folder / cls).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        coarse = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), float)
        for _ in range(4):  # a few hard edges, as objects in a photograph
            y, x = rng.integers(0, size, 2)
            h, w = rng.integers(size // 8, size // 2, 2)
            image[y : y + h, x : x + w] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 6, image.shape)
        pixels = np.clip(image, 0, 255).astype(np.uint8)
        cls = "fake" if i % 2 else "real"
        Image.fromarray(pixels).save(folder / cls / f"{i:06d}.jpg", quality=90)
    return folder


def small_cnn(image_size: int):
    """A 4-block CNN (the kind conf/backbone's small CNN is): conv-BN-ReLU-pool x 4, GAP."""
    import keras

    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    for filters in (32, 64, 128, 256):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


class EpochTimer:
    """Wall-clock and CPU seconds (all threads of this process) per epoch."""

    def __init__(self):
        import keras

        wall: list[float] = []
        cpu: list[float] = []
        self.wall, self.cpu = wall, cpu

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = (time.perf_counter(), time.process_time())

            def on_epoch_end(self, epoch, logs=None):
                wall.append(time.perf_counter() - self.start[0])
                cpu.append(time.process_time() - self.start[1])

        self.callback = _Callback()


def images_per_second(model, dataset, n_images: int, epochs: int) -> tuple[float, float]:
    """(images/s, CPU ms per image) over the epochs after the first (tracing, cold caches).

    CPU time per image does not depend on what else the machine runs; on a machine with
    nothing else to do, 2 cores / (CPU s per image) bounds the images/s.
    """
    timer = EpochTimer()
    model.fit(dataset, epochs=epochs + 1, verbose=0, callbacks=[timer.callback])
    wall, cpu = statistics.median(timer.wall[1:]), statistics.median(timer.cpu[1:])
    return n_images / wall, 1000 * cpu / n_images


def throughput(args, folder: Path, work: Path) -> list[dict]:
    import keras
    import tensorflow as tf

    from deepguard.data import discover
    from deepguard.data.pipeline import make_dataset

    records = discover(folder)
    records = records.sort_values("sha256").head(args.images)
    n = len(records)
    paths, labels = records["path"].tolist(), records["label"].astype("float32").to_numpy()
    size, batch = args.image_size, args.batch_size

    pixels = np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")
    in_memory = tf.data.Dataset.from_tensor_slices((pixels, labels))
    in_memory = in_memory.shuffle(n).batch(batch).prefetch(tf.data.AUTOTUNE)
    from_files = make_dataset(paths, labels, image_size=size, batch_size=batch, shuffle=True)
    keras_folder = work / "keras-layout"
    for cls in ("real", "fake"):  # the same files, in the layout keras expects
        (keras_folder / cls).mkdir(parents=True)
    for path, label in zip(paths, labels, strict=True):
        os.symlink(path, keras_folder / ("fake" if label else "real") / Path(path).name)
    keras_defaults = keras.utils.image_dataset_from_directory(
        keras_folder, image_size=(size, size), label_mode="binary", verbose=False
    )

    pipelines = {
        "in-memory tensors": in_memory,
        "DeepGuard tf.data from JPEG": from_files,
        "image_dataset_from_directory": keras_defaults,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
    for repeat in range(args.repeats):  # interleaved, so load from other processes hits all
        for name, dataset in pipelines.items():
            keras.utils.set_random_seed(repeat)
            speed, cpu_ms = images_per_second(small_cnn(size), dataset, n, args.epochs)
            results[name].append((speed, cpu_ms))
            print(
                f"  repeat {repeat + 1}: {name:30s} {speed:7.1f} img/s {cpu_ms:6.2f} CPU ms/img "
                f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return [
        {
            "pipeline": name,
            "img_per_s": statistics.median(s for s, _ in runs),
            "cpu_ms": statistics.median(c for _, c in runs),
        }
        for name, runs in results.items()
    ]


def decode_only(args, folder: Path, work: Path) -> list[dict]:
    """(d): one pass over the files per pipeline, no model; the median of the repeats."""
    import keras
    import tensorflow as tf

    from deepguard.data import discover
    from deepguard.data.pipeline import make_dataset

    records = discover(folder).sort_values("sha256").head(args.images)
    paths, labels = records["path"].tolist(), records["label"].astype("float32").tolist()
    size, batch = args.image_size, args.batch_size
    keras_folder = work / "keras-decode"
    for path, label in zip(paths, labels, strict=True):
        target = keras_folder / ("fake" if label else "real") / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, target)
    pipelines = {
        "DeepGuard tf.data from JPEG": lambda: make_dataset(
            paths, labels, image_size=size, batch_size=batch, shuffle=True
        ),
        "image_dataset_from_directory": lambda: keras.utils.image_dataset_from_directory(
            keras_folder, image_size=(size, size), label_mode="binary", verbose=False
        ).prefetch(tf.data.AUTOTUNE),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
    for _ in range(args.repeats + 1):  # the first pass warms caches and traces: not counted
        for name, build in pipelines.items():
            dataset = build()
            wall, cpu = time.perf_counter(), time.process_time()
            n = sum(int(images.shape[0]) for images, _ in dataset)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name].append((n / wall, 1000 * cpu / n))
    return [
        {
            "pipeline": name,
            "img_per_s": statistics.median(s for s, _ in runs[1:]),
            "cpu_ms": statistics.median(c for _, c in runs[1:]),
        }
        for name, runs in results.items()
    ]


def memory_child(folder: str, image_size: int, batch_size: int, train: bool) -> None:
    """DataModule setup and one pass over train (or one training epoch) in this process;
    prints the peak RSS as JSON."""
    from deepguard.data import DataModule

    start = time.perf_counter()
    data = DataModule(root=folder, image_size=image_size, batch_size=batch_size).setup()
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    if train:
        small_cnn(image_size).fit(data.train_dataset(), epochs=1, verbose=0)
    else:
        for _ in data.train_dataset():
            pass
    fit_s = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "images": len(data.records),
        "train": len(data.split_records("train")),
        "setup_s": setup_s,
        "epoch_s": fit_s,
        "peak_rss_mib": peak_kib / 1024,
    }
    print(json.dumps(result))


def memory(args, work: Path) -> list[dict]:
    rows = []
    for n in args.memory_sizes:
        folder = work / f"memory-{n}"
        if not folder.exists():
            print(f"  writing {n} JPEGs ...", flush=True)
            write_jpegs(folder, n, seed=n)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, __file__, "--memory-child", str(folder)]
        command += ["--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
        command += ["--memory-train"] if args.memory_train else []
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024, help="images per epoch in (a), (b)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after a warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats of (a), (b)")
    parser.add_argument("--image-size", type=int, default=64, help="model input side, pixels")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument(
        "--memory-train", action="store_true", help="(c) trains one epoch instead of iterating"
    )
    parser.add_argument("--jpeg-dir", type=Path, help="a {real,fake} folder of your own JPEGs")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--decode-only", action="store_true", help="only (d) (and (c) unless --memory-sizes)"
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.image_size, args.batch_size, args.memory_train)
        return

    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-input-") as tmp:
        work = Path(tmp)
        rows, decode_rows = [], []
        folder = args.jpeg_dir
        if folder is None and not (args.skip_throughput and not args.decode_only):
            print(f"writing {args.images} JPEGs 256x256 ...", flush=True)
            folder = write_jpegs(work / "throughput", args.images)
        if not (args.skip_throughput or args.decode_only):
            rows = throughput(args, folder, work)
        if folder is not None:
            decode_rows = decode_only(args, folder, work)
        mem_rows = memory(args, work) if args.memory_sizes else []

    size, batch = args.image_size, args.batch_size
    if rows:
        base, base_cpu = rows[0]["img_per_s"], rows[0]["cpu_ms"]
        print(f"\n(a, b) small CNN training, {size} px, batch {batch}, median of {args.repeats}")
        print(
            f"{'pipeline':30s} {'img/s':>7s} {'ratio':>6s} {'CPU ms/img':>11s} {'CPU ratio':>10s}"
        )
        for row in rows:
            print(
                f"{row['pipeline']:30s} {row['img_per_s']:7.1f} {row['img_per_s'] / base:6.2f} "
                f"{row['cpu_ms']:11.2f} {base_cpu / row['cpu_ms']:10.2f}"
            )
        ours, keras_dir = rows[1], rows[2]
        print(
            "DeepGuard / image_dataset_from_directory: "
            f"{ours['img_per_s'] / keras_dir['img_per_s']:.2f} (img/s), "
            f"{keras_dir['cpu_ms'] / ours['cpu_ms']:.2f} (CPU)"
        )
        print("ratio: img/s over in-memory; CPU ratio: in-memory CPU ms/img over this one's")
    if mem_rows:
        what = "training one epoch" if args.memory_train else "iterating train once"
        print(f"\n(c) DataModule setup + {what}, a fresh process each")
        print(f"{'images':>8s} {'train':>7s} {'setup s':>8s} {'pass s':>8s} {'peak RSS MiB':>13s}")
        for row in mem_rows:
            print(
                f"{row['images']:8d} {row['train']:7d} {row['setup_s']:8.1f} "
                f"{row['epoch_s']:8.1f} {row['peak_rss_mib']:13.0f}"
            )
    if decode_rows:
        print(f"\n(d) input pipeline alone (no model), {size} px, batch {batch}")
        print(f"{'pipeline':30s} {'img/s':>7s} {'CPU ms/img':>11s}")
        for row in decode_rows:
            print(f"{row['pipeline']:30s} {row['img_per_s']:7.1f} {row['cpu_ms']:11.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
