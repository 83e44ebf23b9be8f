"""Wall time of a 4-job sweep: Hydra's basic launcher (sequential) against the joblib launcher
with 2 workers, on the same small config. Prints both times and their ratio.

    python bench/bench_sweep.py
    python bench/bench_sweep.py --sweep "optimizer=adam,sgd" "backbone.dropout=0.1,0.3" \
        --config backbone=small_cnn trainer.max_epochs=2 --threads-per-job 1

Each job trains a small CNN for a couple of epochs; each runs in a fresh MLflow store under a
temporary folder, so the project's own store is left alone. Why the ratio is what it is: one
TensorFlow job already uses every core for its matrix maths, so on 2 cores two parallel jobs
mostly share the same cores; what parallelism wins back is the single-threaded part of each job
(Python and TensorFlow import, about 5 s, data set-up, graph tracing, evaluation, MLflow writes).
`--threads-per-job 1` pins each job to one intra-op thread so two workers split the cores
instead of fighting over them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SWEEP = ["optimizer=adam,sgd", "backbone.dropout=0.1,0.3"]  # 2 x 2 = 4 jobs
DEFAULT_CONFIG = ["backbone=small_cnn", "trainer.max_epochs=2", "data.image_size=64"]


def run_sweep(label: str, launcher: list[str], args: argparse.Namespace, work: Path) -> float:
    """Run one multirun in a subprocess; returns its wall time in seconds."""
    store = work / label / "mlruns" / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.threads_per_job:
        threads = str(args.threads_per_job)
        env.update(
            TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS=threads
        )
    command = [
        sys.executable,
        str(REPO / "scripts" / "train.py"),
        "-m",
        *args.config,
        *args.sweep,
        *launcher,
        f"hydra.sweep.dir={work / label / 'multirun'}",
    ]
    print(f"== {label}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{label} sweep failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    locked = "database is locked" in result.stdout + result.stderr
    print(f"   {elapsed:7.1f} s   'database is locked' seen: {locked}", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sweep", nargs="+", default=DEFAULT_SWEEP, help="sweep overrides (4 jobs)"
    )
    parser.add_argument("--config", nargs="*", default=DEFAULT_CONFIG, help="fixed overrides")
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib workers")
    parser.add_argument("--threads-per-job", type=int, default=0, help="0 = TensorFlow default")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        work = Path(tmp)
        sequential = run_sweep("sequential", [], args, work)
        parallel = run_sweep(
            f"joblib-{args.n_jobs}",
            ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"],
            args,
            work,
        )
    print(
        f"\nsequential {sequential:.1f} s | joblib x{args.n_jobs} {parallel:.1f} s | "
        f"speed-up {sequential / parallel:.2f}x (wall-time ratio joblib/sequential "
        f"{parallel / sequential:.2f})"
    )


if __name__ == "__main__":
    main()
