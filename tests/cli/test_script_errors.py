"""Every script ends an expected failure with one clear message and a non-zero exit, without a
Python traceback; ``HYDRA_FULL_ERROR=1`` still shows everything. Run as real subprocesses."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_every_script_reports_user_errors(script):
    spec = importlib.util.spec_from_file_location(f"script_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert getattr(module.main, "reports_user_errors", False), (
        f"{script.name}: wrap main with @reports_user_errors (deepguard.cli) under @hydra.main"
    )


def run_script(name, *overrides, cwd, **env):
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "DEEPGUARD_ROOT": str(cwd),
        "DEEPGUARD_CACHE": str(cwd / "cache"),
        **env,
    }
    environment.pop("HYDRA_FULL_ERROR", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *overrides],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_one_clear_message(result, message):
    assert result.returncode == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert 'File "' not in result.stderr  # no stack frames either


def test_a_bad_config_value_prints_the_reason_only(tmp_path):
    result = run_script("register.py", "run_id=no-such-run", cwd=tmp_path)
    assert_one_clear_message(result, "ConfigError: run 'no-such-run' not found")


def test_full_error_still_shows_the_traceback(tmp_path):
    result = run_script("register.py", "run_id=no-such-run", cwd=tmp_path, HYDRA_FULL_ERROR="1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "registry.py" in result.stderr
    assert "run 'no-such-run' not found" in result.stderr


def test_a_missing_model_file_prints_the_reason_only(tmp_path):
    result = run_script("evaluate.py", f"model={tmp_path / 'absent.keras'}", cwd=tmp_path)
    assert_one_clear_message(
        result, f"ModelIntegrityError: model file '{tmp_path / 'absent.keras'}'"
    )


def tiny_model(path: Path) -> Path:
    """A two-layer detector saved as `.keras` (input float32 RGB, output p_fake)."""
    import keras

    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled)).save(path)
    return path


def test_a_tampered_model_prints_the_reason_only(tmp_path):
    from mlflow.tracking import MlflowClient
    from PIL import Image

    from deepguard.tracking.mlflow_logger import MLflowLogger
    from deepguard.tracking.store import default_tracking_uri

    tracking_uri = default_tracking_uri(tmp_path)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("tampered", {}, tags={})
    logger.log_model(tiny_model(tmp_path / "tiny.keras"))
    logger.finish()
    artifact = MlflowClient(tracking_uri).get_run(logger.run_id).info.artifact_uri
    stored = Path(artifact.removeprefix("file://")) / "model" / "model.keras"
    stored.write_bytes(stored.read_bytes() + b"tampered")
    Image.new("RGB", (16, 16), (120, 90, 60)).save(tmp_path / "face.png")
    result = run_script(
        "predict.py",
        f"model=runs:/{logger.run_id}/model",
        f"inputs={tmp_path / 'face.png'}",
        f"tracking_uri={tracking_uri}",
        cwd=tmp_path,
    )
    assert_one_clear_message(result, "ModelIntegrityError: the model of 'runs:/")
    assert "stored artifact changed after registration" in result.stderr


@pytest.mark.slow
def test_a_bad_trainer_value_prints_the_reason_only(tmp_path):
    result = run_script("train.py", "trainer.max_epochs=0", "logger=none", cwd=tmp_path)
    assert_one_clear_message(result, "ConfigError: trainer.max_epochs must be at least 1, got 0")
