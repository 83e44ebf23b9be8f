"""A 4-job sweep with 2 parallel jobs (joblib) against MLflow on PostgreSQL, through
`mlflow server`, and against the embedded SQLite store: wall time, finished jobs and lock or
race errors for each.

    python bench/bench_scaling_tracking.py
    python bench/bench_scaling_tracking.py --config backbone=small_cnn trainer.max_epochs=2

The PostgreSQL side is `scripts/tracking_server.py backend=postgres` (what `make
tracking-server` runs) on free loopback ports with a throw-away cluster; its start-up is timed
on its own and not counted in the sweep. Both sweeps read one synthetic data set, written
before either starts. Needs PostgreSQL's binaries and driver (`apt-get install postgresql`,
`pip install 'deepguard[postgres]'`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deepguard.data.synthetic import generate_synthetic
from deepguard.tracking.server import postgres_missing_reason
from deepguard.tracking.store import make_client

REPO = Path(__file__).resolve().parents[1]

DEFAULT_SWEEP = ["optimizer=adam,sgd", "seed=1,2"]  # 2 x 2 = 4 jobs
DEFAULT_CONFIG = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.synthetic.image_size=32",
    "data.synthetic.n_per_class=100",
    "trainer.max_epochs=2",
    "callbacks=minimal",
]
ERROR_MARKERS = (
    "database is locked",
    "UniqueViolation",
    "IntegrityError",
    "deadlock detected",
    "could not serialize access",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_tracking_server(work: Path, *overrides: str) -> tuple[subprocess.Popen, str, Path, float]:
    """`scripts/tracking_server.py` on a free port with `overrides`; returns the process, its
    URL, its log and the seconds until ``/health`` answered."""
    port = free_port()
    log = work / "server.log"
    command = [sys.executable, str(REPO / "scripts" / "tracking_server.py"), f"port={port}"]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, *overrides], cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5):
                break
        except OSError:
            if process.poll() is not None:
                sys.exit(f"the tracking server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
    return process, url, log, time.perf_counter() - start


def start_postgres_server(work: Path) -> tuple[subprocess.Popen, str, Path, Path, float]:
    """The tracking server on a fresh PostgreSQL cluster; returns it with its start-up time."""
    cluster = Path(tempfile.mkdtemp(prefix="deepguard-pg-"))  # reachable by `postgres` as root
    process, url, log, startup_s = start_tracking_server(
        work,
        "backend=postgres",
        "workers=2",
        f"postgres.port={free_port()}",
        f"postgres.root={cluster}",
        f"paths.root_dir={work / 'server'}",
    )
    return process, url, log, cluster, startup_s


def run_sweep(label: str, tracking_uri: str, args, work: Path) -> dict:
    """One 4-job joblib sweep against `tracking_uri`; wall time, statuses, error markers."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "DEEPGUARD_ROOT": str(work)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    experiment = f"bench-{label}"
    command = [
        sys.executable,
        str(REPO / "scripts" / "train.py"),
        "-m",
        *args.config,
        *args.sweep,
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={args.n_jobs}",
        f"logger.experiment_name={experiment}",
        f"hydra.sweep.dir={work / label / 'multirun'}",
    ]
    print(f"== {label}: {tracking_uri.split('@')[-1]}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    client = make_client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id]) if found else []
    jobs = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    printed = result.stdout + result.stderr
    return {
        "label": label,
        "wall_s": elapsed,
        "exit": result.returncode,
        "jobs": len(jobs),
        "finished": sum(run.info.status == "FINISHED" for run in jobs),
        "errors": {marker: printed.count(marker) for marker in ERROR_MARKERS},
        "printed": printed,
    }


def report(rows: list[dict], startup_s: float, server_log: str) -> None:
    print(f"\nPostgreSQL tracking server start-up (cluster + MLflow tables): {startup_s:.1f} s")
    print(f"{'store':<12} {'wall s':>8} {'exit':>5} {'finished/jobs':>14} {'lock/race errors':>17}")
    for row in rows:
        errors = sum(row["errors"].values())
        if row["label"] == "postgres":
            errors += sum(server_log.count(marker) for marker in ERROR_MARKERS)
        finished = f"{row['finished']}/{row['jobs']}"
        print(
            f"{row['label']:<12} {row['wall_s']:8.1f} {row['exit']:5d} {finished:>14} {errors:17d}"
        )
    by_label = {row["label"]: row for row in rows}
    ratio = by_label["postgres"]["wall_s"] / by_label["sqlite"]["wall_s"]
    print(f"\nwall-time ratio PostgreSQL server / embedded SQLite: {ratio:.2f}")
    for row in rows:
        if row["exit"]:
            print(f"\n{row['label']} sweep failed; its last output:\n{row['printed'][-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sweep", nargs="+", default=DEFAULT_SWEEP, help="sweep overrides")
    parser.add_argument("--config", nargs="*", default=DEFAULT_CONFIG, help="fixed overrides")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel joblib workers")
    args = parser.parse_args()
    reason = postgres_missing_reason()
    if reason:
        sys.exit(f"cannot run the PostgreSQL side: {reason}")
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-scaling-tracking-") as tmp:
        work = Path(tmp)
        size = next(o.split("=")[1] for o in args.config if o.startswith("data.image_size="))
        count = next(o.split("=")[1] for o in args.config if "n_per_class=" in o)
        generate_synthetic(
            work / "data" / "synthetic" / f"{size}px", n_per_class=int(count), image_size=int(size)
        )
        server, url, log, cluster, startup_s = start_postgres_server(work)
        try:
            rows = [
                run_sweep("sqlite", f"sqlite:///{work / 'sqlite' / 'mlflow.db'}", args, work),
                run_sweep("postgres", url, args, work),
            ]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
            shutil.rmtree(cluster, ignore_errors=True)
        report(rows, startup_s, log.read_text())


if __name__ == "__main__":
    main()
