"""What `make tracking-server` costs with MLflow's job runner off (the default) and on:
seconds until ``/health`` answers, then, after a settling time, the server's processes, their
resident memory and the CPU they have used.

    python bench/bench_tracking_server_start.py
    python bench/bench_tracking_server_start.py --settle 60

Each server is `scripts/tracking_server.py backend=sqlite` on a free loopback port with a
throw-away store. The job runner (huey worker processes for MLflow's GenAI jobs) starts in the
background after the server answers, so its cost shows only after the settling time. Reads
the process tree from /proc (Linux).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(parents.get(pid, []))
    return tree


def cpu_seconds_and_rss_mb(pids: list[int]) -> tuple[float, float]:
    """CPU used (user + system) and resident memory of the live processes in `pids`."""
    ticks, rss_kb = 0, 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        rss_kb += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
    return ticks / CLOCK_TICKS, rss_kb / 1024


def measure(job_execution: bool, settle_s: float, work: Path) -> dict[str, float]:
    port = free_port()
    command = [
        sys.executable,
        str(REPO / "scripts" / "tracking_server.py"),
        "backend=sqlite",
        f"port={port}",
        "workers=1",
        f"job_execution={str(job_execution).lower()}",
        f"paths.root_dir={work}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_BACKEND_STORE_URI"}
    start = time.perf_counter()
    with (work / "server.log").open("w") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - start > 180:
                        sys.exit(f"the server did not start:\n{(work / 'server.log').read_text()}")
                    time.sleep(0.2)
            ready_s = time.perf_counter() - start
            time.sleep(settle_s)
            pids = process_tree(server.pid)
            cpu_s, rss_mb = cpu_seconds_and_rss_mb(pids)
        finally:
            server.send_signal(signal.SIGTERM)  # the script stops MLflow and its children
            server.wait(timeout=60)
    return {"ready_s": ready_s, "processes": len(pids), "rss_mb": rss_mb, "cpu_s": cpu_s}


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
