"""Scale-out: a real `mlflow server` on loopback with a SQLite backend and proxied artifacts.
Log a run with MLflowLogger, register it, load it back by alias, stop the server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from deepguard.tracking.loading import load_model
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import register_model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    log_file = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed in teardown)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()


@pytest.mark.slow
def test_log_register_load_through_server(mlflow_server, tmp_path, make_tiny_model, monkeypatch):
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path / "cache"))
    logger = MLflowLogger(tracking_uri=mlflow_server)
    logger.start("served", {"backbone": {"name": "small_cnn"}}, tags={})
    logger.log_metrics({"test_roc_auc": 0.9})
    logger.log_model(make_tiny_model(tmp_path / "m.keras"), input_example=np.zeros((1, 8, 8, 3)))
    logger.finish()
    assert logger.describe().startswith(f"MLflow run {logger.run_id}")
    assert mlflow_server in logger.describe()
    # artifacts went through the server's proxy into its own folder
    assert list((tmp_path / "server-artifacts").rglob("model.keras"))

    result = register_model(logger.run_id, tracking_uri=mlflow_server)
    assert result["aliases_moved"] == ["challenger", "champion"]
    loaded = load_model("models:/deepguard@champion", tracking_uri=mlflow_server)
    assert loaded.version == "1" and loaded.metadata["backbone"] == "small_cnn"
    assert loaded.model.predict(np.zeros((2, 8, 8, 3), np.float32), verbose=0).shape == (2, 1)
