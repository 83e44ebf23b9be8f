"""scripts/register.py: a doorway to `register_from_config`, which picks a sweep's best job on
a validation metric and refuses to pick on a test metric."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from deepguard.errors import ConfigError
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import register_from_config

REPO = Path(__file__).resolve().parents[2]


def compose_register(overrides):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("register", [*overrides, "root_dir=."])
    return OmegaConf.to_container(cfg, resolve=True)


def test_run_id_or_sweep_required():
    with pytest.raises(ConfigError, match="exactly one of run_id"):
        register_from_config(compose_register([]))
    with pytest.raises(ConfigError, match="exactly one of run_id"):
        register_from_config(compose_register(["run_id=a", "sweep=b"]))


def test_selecting_a_sweep_job_on_a_test_metric_is_refused():
    with pytest.raises(ConfigError, match="select_metric=test_roc_auc cannot select models"):
        register_from_config(compose_register(["sweep=sw1", "select_metric=test_roc_auc"]))


def log_sweep_jobs(tracking_uri, tmp_path, make_tiny_model, scores):
    """One finished run with a model per (val_auc, test_roc_auc) pair, all in sweep sw1."""
    run_ids = []
    for seed, (val_auc, test_auc) in enumerate(scores):
        logger = MLflowLogger(tracking_uri=tracking_uri)
        logger.start(f"job{seed}", {}, tags={"deepguard.sweep_id": "sw1"})
        logger.log_metrics({"val_auc": val_auc, "test_roc_auc": test_auc})
        logger.log_model(make_tiny_model(tmp_path / f"m{seed}.keras", seed=seed))
        logger.finish()
        run_ids.append(logger.run_id)
    return run_ids


def test_register_cli_registers_the_sweep_job_best_on_validation(
    tracking_uri, tmp_path, make_tiny_model
):
    # The job best on validation is the worse on test: the registry must follow validation.
    run_ids = log_sweep_jobs(tracking_uri, tmp_path, make_tiny_model, [(0.6, 0.9), (0.8, 0.7)])
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": tracking_uri}
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "register.py"), "sweep=sw1", "out=outcome.json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["run_id"] == run_ids[1]
    assert summary["aliases_moved"] == ["challenger", "champion"]
    assert json.loads((tmp_path / "outcome.json").read_text()) == summary
