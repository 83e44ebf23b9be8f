"""Multi-worker training on one machine: wall time of 1 worker against 2 workers, and the
time per step each reports, so a cluster user knows what the communication costs.

    python bench/bench_scaling_workers.py
    python bench/bench_scaling_workers.py --epochs 4 --images-per-class 400 --batch-size 64

Both runs are `scripts/train.py` on the same data with the same global batch
(``data.batch_size``): 1 worker is ``trainer.strategy=auto``; 2 workers are two processes with
``trainer.strategy=multi_worker`` and a ``TF_CONFIG`` on 127.0.0.1. The time per step is what
Keras prints for the last epoch (its tracing is in the first). On one machine the two workers
share its cores, so each step computes the same work as one worker does alone: the difference
of the two step times is what synchronizing the workers costs per step (the all-reduce of the
gradients and the metrics over gRPC, and the two processes contending for the cores). On
separate machines the computation halves while that cost stays.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deepguard.data.synthetic import generate_synthetic

REPO = Path(__file__).resolve().parents[1]
# Keras' line after an epoch with verbose=2: "4/4 - 5s - 597ms/step - accuracy: ...".
EPOCH_LINE = re.compile(r"(\d+)/\1 - \d+s - ([\d.]+)(ms|s)/step")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def overrides(args: argparse.Namespace) -> list[str]:
    size = args.image_size
    return [
        "backbone=small_cnn",
        f"data.image_size={size}",
        f"data.synthetic.image_size={size}",
        f"data.synthetic.n_per_class={args.images_per_class}",
        f"data.batch_size={args.batch_size}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.verbose=2",
        "augmentation=none",
        "callbacks=minimal",
        "logger=none",
        "registry.enabled=false",
    ]


def last_step_seconds(log: str) -> tuple[float, int]:
    """Seconds per step of the last epoch, and the steps per epoch, from Keras' output."""
    steps, value, unit = EPOCH_LINE.findall(log)[-1]
    return float(value) / (1000 if unit == "ms" else 1), int(steps)


def run(label: str, workers: int, args: argparse.Namespace, root: Path) -> dict:
    """Start `workers` training processes and wait for all; wall time and step time."""
    env = {**os.environ, "DEEPGUARD_ROOT": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, str(REPO / "scripts" / "train.py"), *overrides(args)]
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(workers)]
    logs = [root / f"{label}-{index}.log" for index in range(workers)]
    print(f"== {label}", flush=True)
    start = time.perf_counter()
    processes = []
    for index, log in enumerate(logs):
        extra, worker_env = [], env
        if workers > 1:
            extra = ["trainer.strategy=multi_worker"]
            task = {"type": "worker", "index": index}
            tf_config = json.dumps({"cluster": {"worker": addresses}, "task": task})
            worker_env = env | {"TF_CONFIG": tf_config}
        processes.append(
            subprocess.Popen(
                [*command, *extra],
                cwd=REPO,
                env=worker_env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    codes = [process.wait() for process in processes]
    elapsed = time.perf_counter() - start
    if any(codes):
        sys.exit(f"{label} failed {codes}:\n{logs[codes.index(max(codes))].read_text()[-3000:]}")
    step_s, steps = last_step_seconds(logs[0].read_text())
    return {"label": label, "wall_s": elapsed, "step_s": step_s, "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images-per-class", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch, all workers")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-scaling-workers-") as tmp:
        root = Path(tmp)
        folder = root / "data" / "synthetic" / f"{args.image_size}px"
        generate_synthetic(folder, n_per_class=args.images_per_class, image_size=args.image_size)
        one = run("1 worker", 1, args, root)
        two = run("2 workers", 2, args, root)
    print(f"\n{'':<10} {'wall s':>8} {'s/step':>8} {'steps/epoch':>12}")
    for row in (one, two):
        print(f"{row['label']:<10} {row['wall_s']:8.1f} {row['step_s']:8.3f} {row['steps']:12d}")
    print(
        f"\nwall-time ratio 2 workers / 1 worker: {two['wall_s'] / one['wall_s']:.2f}; "
        f"synchronization per step: {1000 * (two['step_s'] - one['step_s']):.0f} ms "
        f"({two['step_s'] / one['step_s']:.2f}x the single worker's step)"
    )


if __name__ == "__main__":
    main()
