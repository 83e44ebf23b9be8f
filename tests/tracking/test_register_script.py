"""scripts/register.py: the doorway composes conf/register.yaml and calls the registry."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from deepguard.errors import ConfigError
from deepguard.tracking.mlflow_logger import MLflowLogger

REPO = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "register_script", REPO / "scripts" / "register.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose_register(overrides):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("register", [*overrides, "root_dir=."])


def test_run_id_or_sweep_required():
    register = load_script().register
    with pytest.raises(ConfigError, match="exactly one of run_id"):
        register(compose_register([]))
    with pytest.raises(ConfigError, match="exactly one of run_id"):
        register(compose_register(["run_id=a", "sweep=b"]))


def test_register_cli_registers_sweep_best(tracking_uri, tmp_path, make_tiny_model):
    run_ids = []
    for seed, auc in enumerate([0.6, 0.8]):
        logger = MLflowLogger(tracking_uri=tracking_uri)
        logger.start(f"job{seed}", {}, tags={"deepguard.sweep_id": "sw1"})
        logger.log_metrics({"test_roc_auc": auc})
        logger.log_model(make_tiny_model(tmp_path / f"m{seed}.keras", seed=seed))
        logger.finish()
        run_ids.append(logger.run_id)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": tracking_uri}
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "register.py"), "sweep=sw1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["run_id"] == run_ids[1] and summary["aliases_moved"] == [
        "challenger",
        "champion",
    ]
