"""Sweeps end to end: a tiny Hydra app (no training) that uses the repository's conf/logger,
conf/hydra/callbacks, conf/hydra/launcher and conf/hparams_search, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from deepguard.tracking.sweep import comparison_table, to_markdown

REPO = Path(__file__).resolve().parents[2]

APP = """
import hydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

import os
import signal

from deepguard.tracking.run_status import tracked_run
from deepguard.tracking.sweep import job_tags_from_hydra


@hydra.main(config_path="conf", config_name="app", version_base="1.3")
def main(cfg):
    logger = instantiate(cfg.logger)
    config = OmegaConf.to_container(cfg, resolve=True)
    job = f"{cfg.a}-{cfg.b}"
    with tracked_run(logger, run_name=f"job-{job}", config=config, tags=job_tags_from_hydra()):
        if cfg.fail_job == job:
            raise ValueError("this job was made to fail")
        if cfg.kill_job == job:
            os.kill(os.getpid(), signal.SIGTERM)
        score = cfg.a / 10 + (0.05 if cfg.b == "y" else 0.0) + cfg.optimizer.learning_rate
        # The validation score picks the job; the test score is only reported beside it.
        logger.log_metrics({"val_auc": score, "test_roc_auc": 1 - score, "test_accuracy": 0.5})
    return score


if __name__ == "__main__":
    main()
"""

CONFIG = """
defaults:
  - logger: mlflow
  - augmentation: none
  - _self_
  - hparams_search: null
  - override hydra/callbacks: mlflow_sweep

a: 1
b: x
fail_job: null
kill_job: null
optimized_metric: val_auc
optimizer:
  learning_rate: 0.0
backbone:
  dropout: 0.1
logger:
  tracking_uri: {tracking_uri}
hydra:
  searchpath:
    - file://{repo_conf}
  sweep:
    dir: {sweep_root}/${{now:%Y-%m-%d_%H-%M-%S-%f}}
    subdir: ${{hydra.job.num}}
"""


@pytest.fixture
def app(tmp_path, tracking_uri):
    """Write the tiny app; returns `run(*overrides) -> CompletedProcess`."""
    (tmp_path / "conf" / "augmentation").mkdir(parents=True)
    for name in ("none", "light", "standard", "robust"):
        (tmp_path / "conf" / "augmentation" / f"{name}.yaml").write_text(f"name: {name}\n")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "conf" / "app.yaml").write_text(
        CONFIG.format(
            tracking_uri=tracking_uri, repo_conf=REPO / "conf", sweep_root=tmp_path / "multirun"
        )
    )

    def run(*overrides):
        env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "0"}
        return subprocess.run(
            [sys.executable, str(tmp_path / "app.py"), "-m", *overrides],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    return run


def sweep_runs(tracking_uri):
    """(parent run, child runs) of the one sweep in the store."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("deepguard")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("deepguard.role") == "sweep"]
    assert len(parents) == 1, f"expected one parent run, found {len(parents)}"
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return client, parent, children


def test_grid_sweep_groups_children_and_prints_table(app, tracking_uri):
    result = app("a=1,2", "b=x,y")
    assert result.returncode == 0, result.stderr[-3000:]
    client, parent, children = sweep_runs(tracking_uri)
    assert parent.info.status == "FINISHED"
    assert sorted(r.info.status for r in children) == ["FINISHED"] * 4
    assert {r.data.tags["deepguard.overrides"] for r in children} == {
        "a=1 b=x",
        "a=1 b=y",
        "a=2 b=x",
        "a=2 b=y",
    }
    assert {r.data.tags["override.b"] for r in children} == {"x", "y"}
    assert {r.data.tags["deepguard.sweep_id"] for r in children} == {
        parent.data.tags["deepguard.sweep_id"]
    }
    # the table: printed, sorted best first, logged on the parent run
    assert "Sweep comparison" in result.stdout
    table_md = Path(client.download_artifacts(parent.info.run_id, "comparison.md")).read_text()
    rows = [line for line in table_md.splitlines() if line.startswith("| ") and "job" not in line]
    assert [row.split("|")[3].strip() for row in rows] == [
        "a=2 b=y",
        "a=2 b=x",
        "a=1 b=y",
        "a=1 b=x",
    ]
    # chosen on validation, test reported beside it (sorting on test would reverse the rows)
    header = table_md.splitlines()[0]
    assert header.index("val_auc") < header.index("test_accuracy") < header.index("test_roc_auc")
    best = max(children, key=lambda r: r.data.metrics["val_auc"])
    parent = client.get_run(parent.info.run_id)
    assert parent.data.tags["deepguard.best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_val_auc"] == pytest.approx(0.25)
    assert "best_test_roc_auc" not in parent.data.metrics


def test_a_sweep_selecting_on_a_test_metric_is_refused_before_any_job(app, tracking_uri):
    result = app("a=1,2", "optimized_metric=test_roc_auc")
    assert result.returncode != 0
    assert "optimized_metric=test_roc_auc cannot select models" in result.stderr
    assert "optimistic" in result.stderr and "val_auc" in result.stderr
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("deepguard")
    assert experiment is None or not client.search_runs([experiment.experiment_id])


def test_a_job_stopped_by_sigterm_ends_killed_and_stops_the_sweep(app, tracking_uri):
    result = app("a=1,2", "kill_job=1-x")
    assert result.returncode != 0
    client, parent, children = sweep_runs(tracking_uri)
    assert [r.info.status for r in children] == ["KILLED"]  # the sweep stopped there
    assert client.get_run(parent.info.run_id).info.status == "KILLED"


def test_failing_job_recorded_failed_others_kept(app, tracking_uri):
    result = app("a=1,2", "b=x,y", "fail_job=2-y")
    # Hydra's sweeper raises after the batch (every job ran): non-zero exit, table still printed.
    assert result.returncode != 0
    assert "this job was made to fail" in result.stderr
    assert "Sweep comparison" in result.stdout
    client, parent, children = sweep_runs(tracking_uri)
    assert sorted(r.info.status for r in children) == ["FAILED", "FINISHED", "FINISHED", "FINISHED"]
    parent = client.get_run(parent.info.run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["deepguard.failed_jobs"] == "1"
    table_csv = Path(client.download_artifacts(parent.info.run_id, "comparison.csv")).read_text()
    assert table_csv.splitlines()[-1].split(",")[1] == "FAILED"  # failed jobs listed last


@pytest.mark.slow
def test_joblib_two_workers_default_store_no_lock_errors(app, tracking_uri):
    result = app("hydra/launcher=joblib", "a=1,2", "b=x,y")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database is locked" not in result.stderr + result.stdout
    _client, parent, children = sweep_runs(tracking_uri)
    assert sorted(r.info.status for r in children) == ["FINISHED"] * 4
    assert parent.info.status == "FINISHED"
    assert len({r.info.run_id for r in children}) == 4


@pytest.mark.slow
def test_optuna_search_runs_trials_as_children(app, tracking_uri):
    result = app(
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _client, parent, children = sweep_runs(tracking_uri)
    assert len(children) == 3 and parent.info.status == "FINISHED"
    rates = {float(r.data.params["optimizer.learning_rate"]) for r in children}
    assert all(1e-5 <= rate <= 1e-2 for rate in rates) and len(rates) == 3
    assert {r.data.params["augmentation.name"] for r in children} <= {
        "none",
        "light",
        "standard",
        "robust",
    }


def test_comparison_table_without_children(tracking_uri):
    client = MlflowClient(tracking_uri)
    from deepguard.tracking.store import ensure_experiment

    parent = client.create_run(ensure_experiment("deepguard", tracking_uri))
    table = comparison_table(client, parent.info.run_id, "val_auc")
    assert "(no runs)" in to_markdown(table)


def test_launcher_configs_compose_and_validate(tmp_path):
    """The SLURM and joblib launcher files compose and fit the plugins' schemas."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
    from omegaconf import OmegaConf

    (tmp_path / "root.yaml").write_text("x: 1\n")
    search = f"hydra.searchpath=[file://{REPO / 'conf'}]"
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        slurm = compose("root", [search, "hydra/launcher=submitit_slurm"], return_hydra_config=True)
        joblib = compose("root", [search, "hydra/launcher=joblib"], return_hydra_config=True)
        with pytest.raises(ConfigCompositionException, match="not_a_key"):  # against the schema
            compose("root", [search, "hydra/launcher=submitit_slurm", "hydra.launcher.not_a_key=1"])
    values = OmegaConf.to_container(slurm.hydra.launcher)
    merged = OmegaConf.merge(OmegaConf.structured(SlurmQueueConf), values)
    assert merged.cpus_per_task == 8 and merged._target_.endswith("SlurmLauncher")
    assert joblib.hydra.launcher.n_jobs == 2 and joblib.hydra.launcher.backend == "loky"


def test_job_tags_outside_hydra_are_empty():
    from deepguard.tracking.sweep import job_tags_from_hydra

    assert job_tags_from_hydra() == {}


@pytest.mark.slow
def test_joblib_sweep_against_mlflow_server(app, mlflow_server):
    uri = f"logger.tracking_uri={mlflow_server.url}"
    result = app("hydra/launcher=joblib", "a=1,2", "b=x,y", uri)
    assert result.returncode == 0, result.stderr[-3000:]
    _client, parent, children = sweep_runs(mlflow_server.url)
    assert sorted(r.info.status for r in children) == ["FINISHED"] * 4
    assert parent.info.status == "FINISHED"


def test_default_store_is_in_launch_dir_even_with_chdir(app, tmp_path):
    """No URI configured: parent and jobs share <launch dir>/mlruns, although jobs chdir."""
    result = app("a=1,2", "logger.tracking_uri=null", "hydra.job.chdir=true")
    assert result.returncode == 0, result.stderr[-3000:]
    from deepguard.tracking.store import default_tracking_uri

    _client, parent, children = sweep_runs(default_tracking_uri(tmp_path))
    assert len(children) == 2 and parent.info.status == "FINISHED"
    assert not list((tmp_path / "multirun").rglob("mlflow.db"))
