"""Benchmark the REST API against a real gunicorn server on 127.0.0.1.

    python bench/bench_api.py                   # short run (5 s per level, 2,000 requests)
    python bench/bench_api.py --full            # 30 s per level, 10,000 requests for memory
    python bench/bench_api.py --model run/model.keras --image face.jpg

Prints three tables:
1. latency overhead at concurrency 1: p50 of POST /v1/predict with one 300x300 JPEG divided
   by the p50 of decode + resize + model.predict on the same image in this process, and by
   decode + resize + predict_on_batch (the server's own path); CPU seconds per image of both;
2. concurrency 1/4/16: throughput, p50/p95/p99 latency, error rate;
3. the worker's resident memory (RSS) sampled across many requests with bad inputs mixed in,
   and the trend of the second half (MiB per 1,000 requests).
Without --model it builds a model with random weights (speed only): --arch small_cnn (4 conv
blocks at 64 px, the cheapest model and so the largest relative overhead) or efficientnet_b0
(224 px, a realistic detector).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from deepguard.images import decode_image, to_model_input
from deepguard.tracking.loading import load_model

REPO = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help=".keras file (default: see --arch)")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="small_cnn")
    parser.add_argument("--image", type=Path, help="a JPEG to send (default: a synthetic 300x300)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each concurrency level"
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests of the memory run")
    parser.add_argument(
        "--full", action="store_true", help="30 s per level, 10,000 memory requests"
    )
    parser.add_argument(
        "--levels", type=int, nargs="+", default=[1, 4, 16], help="concurrency levels"
    )
    parser.add_argument("--max-concurrency", type=int, default=2, help="server prediction slots")
    args = parser.parse_args()
    if args.full:
        args.seconds, args.requests = 30.0, 10_000
    return args


ARCHITECTURES = {"small_cnn": 64, "efficientnet_b0": 224}  # name -> input side in px


def build_model(path: Path, arch: str) -> Path:
    """A detector-shaped model with random weights (nothing downloads): speed only."""
    import keras

    size = ARCHITECTURES[arch]
    inputs = keras.Input((size, size, 3))
    if arch == "small_cnn":  # 4 conv blocks at 64 px
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1)(inputs)
        for filters in (32, 64, 128, 256):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:  # EfficientNetB0 rescales inside; weights=None keeps it offline
        backbone = keras.applications.EfficientNetB0(
            include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg"
        )
        x = backbone(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    keras.Model(inputs, outputs).save(path)
    return path


def sample_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:300, 0:300]
    base = np.stack([x * 0.8, y * 0.8, (x + y) * 0.4], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def bad_payloads() -> list[bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    tiny = buffer.getvalue()
    good = sample_jpeg()
    bomb = _png_header(20000, 20000)
    return [b"", b"plain text, not an image" * 20, good[: len(good) // 2], tiny, bomb]


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def percentiles_ms(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(np.asarray(values) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def latency_overhead(server: Server, model_path: Path, jpeg: bytes, loops: int = 200) -> dict:
    """p50 (seconds) of the API and of in-process decode + predict, measured alternately so
    that load from other processes on the machine hits both alike; then the CPU seconds per
    image of the server worker and of this process (robust to a busy machine)."""
    base = server.base
    model = load_model(model_path).model
    size = int(model.input_shape[1])
    session = requests.Session()

    def decode() -> np.ndarray:
        return to_model_input(decode_image(jpeg), size)[None]

    for _ in range(10):  # warm-up: graph tracing, connection, caches
        model.predict(decode(), verbose=0)
        model.predict_on_batch(decode())
        post(session, base, jpeg)
    timings: dict[str, list[float]] = {"api": [], "decode": [], "predict": [], "on_batch": []}
    for _ in range(loops):
        timings["api"].append(post(session, base, jpeg)[1])
        started = time.perf_counter()
        batch = decode()
        decoded = time.perf_counter()
        model.predict_on_batch(batch)
        timings["decode"].append(decoded - started)
        timings["on_batch"].append(time.perf_counter() - started)
    for _ in range(max(loops // 4, 10)):  # model.predict is slow: fewer loops
        started = time.perf_counter()
        model.predict(decode(), verbose=0)
        timings["predict"].append(time.perf_counter() - started)
    result = {name: float(np.median(values)) for name, values in timings.items()}
    cpu_before = server.cpu_seconds()
    for _ in range(loops):
        post(session, base, jpeg)
    result["api_cpu"] = (server.cpu_seconds() - cpu_before) / loops
    cpu_before = time.process_time()
    for _ in range(loops):
        model.predict_on_batch(decode())
    result["on_batch_cpu"] = (time.process_time() - cpu_before) / loops
    return result


class Server:
    """scripts/serve.py (gunicorn, one worker) on a free loopback port."""

    def __init__(self, model_path: Path, max_concurrency: int, workdir: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
        command = [
            sys.executable,
            str(REPO / "scripts" / "serve.py"),
            f"model={model_path}",
            "host=127.0.0.1",
            f"port={self.port}",
            "workers=1",
            "threads=32",
            f"max_concurrency={max_concurrency}",
            "queue_timeout_s=10",
        ]
        self.log = (workdir / "server.log").open("w")
        self.process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}; see {self.log.name}"
                )
            try:
                if requests.get(f"{self.base}/v1/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # refused, or slow while TensorFlow imports
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout_s} s; see {self.log.name}")

    def worker_pid(self) -> int:
        children = (
            Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        )
        return int(children[0])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker (all its threads), from /proc."""
        fields = Path(f"/proc/{self.worker_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the worker in MiB, from /proc."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def post(session: requests.Session, base: str, data: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    response = session.post(f"{base}/v1/predict", files={"file": ("face.jpg", data)}, timeout=120)
    return response.status_code, time.perf_counter() - started


def run_level(base: str, jpeg: bytes, concurrency: int, seconds: float) -> dict[str, float]:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while time.perf_counter() < deadline:
            status, latency = post(session, base, jpeg)
            with lock:
                statuses.append(status)
                latencies.append(latency)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ok = [latency for latency, status in zip(latencies, statuses, strict=True) if status == 200]
    p50, p95, p99 = percentiles_ms(ok)
    return {
        "concurrency": concurrency,
        "requests": len(statuses),
        "throughput": len(ok) / elapsed,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "errors": sum(status != 200 for status in statuses) / max(len(statuses), 1),
        "shed_503": sum(status == 503 for status in statuses),
    }


def memory_run(
    server: Server, jpeg: bytes, total: int, samples: int = 10
) -> list[tuple[int, float, float]]:
    """Send ``total`` requests from 4 threads, one in four a bad input; sample RSS."""
    bads = bad_payloads()
    rows = [(0, *server.rss_mib())]
    sent = 0
    unexpected = 0
    step = max(total // samples, 1)
    lock = threading.Lock()

    def client(count: int, offset: int) -> None:
        nonlocal unexpected
        session = requests.Session()
        for i in range(count):
            n = offset + i
            data = bads[(n // 4) % len(bads)] if n % 4 == 3 else jpeg
            status, _ = post(session, server.base, data)
            if (status == 200) != (n % 4 != 3):
                with lock:
                    unexpected += 1

    while sent < total:
        batch = min(step, total - sent)
        threads = [
            threading.Thread(target=client, args=(batch // 4 + (k < batch % 4), sent + k * 10**6))
            for k in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent += batch
        rows.append((sent, *server.rss_mib()))
    if unexpected:
        print(f"WARNING: {unexpected} answers were not the expected 200 / 4xx")
    return rows


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="deepguard-bench-api-"))
    model_path = args.model or build_model(workdir / f"{args.arch}.keras", args.arch)
    jpeg = args.image.read_bytes() if args.image else sample_jpeg()
    shape = decode_image(jpeg).shape
    print(f"model {model_path}  image {len(jpeg):,} bytes {shape}  work dir {workdir}")

    server = Server(model_path, args.max_concurrency, workdir)
    try:
        server.wait_ready()
        p50 = latency_overhead(server, model_path, jpeg)
        print("\n1. latency at concurrency 1 (p50, ms; API and in-process measured alternately)")
        print(f"{'measure':<50}{'p50 ms':>9}{'API / it':>10}")
        rows = [
            ("POST /v1/predict (HTTP, gunicorn)", p50["api"], False),
            ("in-process decode + resize + predict_on_batch", p50["on_batch"], True),
            ("in-process decode + resize + model.predict", p50["predict"], True),
            ("in-process decode + resize only", p50["decode"], False),
        ]
        for label, value, compare in rows:
            ratio = f"{p50['api'] / value:>10.2f}" if compare else ""
            print(f"{label:<50}{value * 1000:>9.2f}{ratio}")
        cpu_ratio = p50["api_cpu"] / p50["on_batch_cpu"]
        print(f"{'CPU ms per image: server worker (all threads)':<50}{p50['api_cpu'] * 1000:>9.2f}")
        print(
            f"{'CPU ms per image: in-process predict_on_batch':<50}"
            f"{p50['on_batch_cpu'] * 1000:>9.2f}{cpu_ratio:>10.2f}"
        )

        slots = args.max_concurrency
        print(f"\n2. concurrency levels, {args.seconds:g} s each (1 worker, {slots} slots)")
        names = ("requests", "img/s", "p50 ms", "p95 ms", "p99 ms", "errors", "503")
        print(f"{'conc':>5}" + "".join(f"{name:>9}" for name in names))
        for level in args.levels:
            row = run_level(server.base, jpeg, level, args.seconds)
            print(
                f"{row['concurrency']:>5}{row['requests']:>9}{row['throughput']:>9.1f}"
                f"{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}{row['errors']:>9.1%}"
                f"{row['shed_503']:>9}"
            )

        print(f"\n3. worker memory over {args.requests:,} requests (1 in 4 a bad input)")
        samples = memory_run(server, jpeg, args.requests)
        print(f"{'requests':>9}{'RSS MiB':>10}{'peak MiB':>10}")
        for sent, rss, peak in samples:
            print(f"{sent:>9}{rss:>10.1f}{peak:>10.1f}")
        half = samples[len(samples) // 2 :]
        slope = np.polyfit([r[0] for r in half], [r[1] for r in half], 1)[0] * 1000
        print(f"trend over the second half: {slope:+.2f} MiB per 1,000 requests")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
