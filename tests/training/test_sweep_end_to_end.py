"""`scripts/train.py -m`: a real 2x2 sweep, every job an MLflow child run, one comparison table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from deepguard.tracking.store import default_tracking_uri, make_client

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "data.synthetic.n_per_class=40",
    "data.synthetic.image_size=32",
    "callbacks=minimal",
    "trainer.max_epochs=1",
]


def sweep(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEEPGUARD_ROOT": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "scripts/train.py", "-m", *TINY, *overrides],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )


def runs_of_last_sweep(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    client = make_client(default_tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("deepguard")
    runs = client.search_runs([experiment.experiment_id])
    table = pd.DataFrame(
        {
            "run_id": run.info.run_id,
            "status": run.info.status,
            "parent": run.data.tags.get("mlflow.parentRunId"),
            "overrides": run.data.tags.get("deepguard.overrides", ""),
        }
        for run in runs
    )
    parents = table[table["parent"].isna()]
    return table[table["parent"].notna()], parents


@pytest.mark.slow
def test_a_2x2_sweep_then_one_failing_job_keeps_the_others(tmp_path):
    # Backbone x optimizer as in the README, at an odd side: NPR's residual of a 33-pixel
    # image has a last row and column of its own (tests/models/test_npr.py).
    result = sweep(
        tmp_path,
        "backbone=small_cnn,npr",
        "optimizer=adam,sgd",
        "data.image_size=33",
        "data.batch_size=16",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    children, parents = runs_of_last_sweep(tmp_path)
    assert len(parents) == 1 and len(children) == 4
    assert set(children["status"]) == {"FINISHED"}
    assert "Sweep comparison" in result.stdout
    comparison = pd.read_csv(next((tmp_path / "outputs").rglob("comparison.csv")))
    assert len(comparison) == 4
    assert set(comparison["overrides"].str.extract(r"backbone=(\w+)")[0]) == {"small_cnn", "npr"}

    # One value fails only once its job runs: batch size 0 is refused by the data module.
    failing = sweep(tmp_path / "second", "data.image_size=32", "data.batch_size=0,16")
    assert failing.returncode != 0
    assert "Sweep comparison" in failing.stdout  # the table is printed all the same
    children, _ = runs_of_last_sweep(tmp_path / "second")
    assert sorted(children["status"]) == ["FAILED", "FINISHED"]  # the job after it still ran
