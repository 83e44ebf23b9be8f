"""What `make tracking-server` costs with MLflow's job runner off (the default) and on:
seconds until ``/health`` answers, then, after a settling time, the server's processes, their
resident memory and the CPU they have used.

    python bench/bench_tracking_server_start.py
    python bench/bench_tracking_server_start.py --settle 60

Each server is `scripts/tracking_server.py backend=sqlite` on a free loopback port with a
throw-away store. The job runner (huey worker processes for MLflow's GenAI jobs) starts in the
background after the server answers, so its cost shows only after the settling time.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

import psutil
from bench_scaling_tracking import start_tracking_server


def tree_cost(root: psutil.Process) -> tuple[int, float, float]:
    """Processes, resident MB and CPU seconds (user + system) of `root` and all below it."""
    processes, rss, cpu = 0, 0, 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            with process.oneshot():
                rss += process.memory_info().rss
                times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue  # ended meanwhile
        processes, cpu = processes + 1, cpu + times.user + times.system
    return processes, rss / 2**20, cpu


def measure(job_execution: bool, settle_s: float, work: Path) -> dict[str, float]:
    os.environ.pop(
        "MLFLOW_BACKEND_STORE_URI", None
    )  # the throw-away store, whatever the shell says
    server, _, _, ready_s = start_tracking_server(
        work,
        "backend=sqlite",
        "workers=1",
        f"job_execution={str(job_execution).lower()}",
        f"paths.root_dir={work}",
    )
    try:
        time.sleep(settle_s)
        processes, rss_mb, cpu_s = tree_cost(psutil.Process(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)  # the script stops MLflow and its children
        server.wait(timeout=60)
    return {"ready_s": ready_s, "processes": processes, "rss_mb": rss_mb, "cpu_s": cpu_s}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--settle", type=float, default=30.0, help="seconds after /health")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; figures {args.settle:.0f} s after /health answered")
    print(f"{'job_execution':>13} {'ready s':>8} {'processes':>9} {'RSS MB':>8} {'CPU s':>7}")
    for job_execution in (False, True):
        with tempfile.TemporaryDirectory(prefix="bench-tracking-server-") as tmp:
            row = measure(job_execution, args.settle, Path(tmp))
        print(
            f"{str(job_execution).lower():>13} {row['ready_s']:8.1f} {row['processes']:9d} "
            f"{row['rss_mb']:8.0f} {row['cpu_s']:7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
