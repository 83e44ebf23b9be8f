"""Fixtures: a real MLflow store per test in tmp_path, tiny Keras models saved as `.keras`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.servers import free_port, wait_for_health

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    """A fresh SQLite store; MLFLOW_TRACKING_URI cleared so nothing leaks in from outside."""
    from deepguard.tracking.store import default_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path / "cache"))
    return default_tracking_uri(tmp_path / "project")


def save_tiny_model(path, seed: int = 0, image_size: int = 8):
    """A two-layer detector (input float32 RGB, output p_fake) saved as a `.keras` file."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.fixture
def make_tiny_model():
    """`save_tiny_model(path, seed=0, image_size=8)` for tests that need several models."""
    return save_tiny_model


@pytest.fixture
def tiny_model_file(tmp_path):
    return save_tiny_model(tmp_path / "best.keras")


class MlflowServer(NamedTuple):
    url: str
    artifacts: Path  # where the server keeps the artifacts it proxies


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on SQLite, started once, as `make tracking-server` starts it
    (deepguard.tracking.server): about ten seconds to come up."""
    from deepguard.tracking.server import mlflow_server_command, server_environment

    tmp_path = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    command = mlflow_server_command(str(tmp_path / "server-artifacts"), port=port, workers=1)
    log_file = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed in teardown)
    process = subprocess.Popen(
        command,
        env=server_environment(f"sqlite:///{tmp_path / 'server.db'}"),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_health(url, process, tmp_path / "server.log", timeout_s=120)
    yield MlflowServer(url, tmp_path / "server-artifacts")
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()
