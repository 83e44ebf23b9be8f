"""Scale-out: a real `mlflow server` on loopback with a SQLite backend and proxied artifacts.
Log a run with MLflowLogger, register it, load it back by alias, stop the server."""

from __future__ import annotations

import numpy as np
import pytest

from deepguard.tracking.loading import load_model
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import register_model


@pytest.mark.slow
def test_log_register_load_through_server(mlflow_server, tmp_path, make_tiny_model, monkeypatch):
    server, artifacts = mlflow_server
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path / "cache"))
    logger = MLflowLogger(tracking_uri=server)
    logger.start("served", {"backbone": {"name": "small_cnn"}}, tags={})
    logger.log_metrics({"test_roc_auc": 0.9})
    logger.log_model(make_tiny_model(tmp_path / "m.keras"), input_example=np.zeros((1, 8, 8, 3)))
    logger.finish()
    assert logger.describe().startswith(f"MLflow run {logger.run_id}")
    assert server in logger.describe()
    # artifacts went through the server's proxy into its own folder
    assert list(artifacts.rglob(f"*{logger.run_id}*/**/model.keras"))

    result = register_model(logger.run_id, tracking_uri=server)
    assert result["aliases_moved"] == ["challenger", "champion"]
    loaded = load_model("models:/deepguard@champion", tracking_uri=server)
    assert loaded.version == "1" and loaded.metadata["backbone"] == "small_cnn"
    assert loaded.model.predict(np.zeros((2, 8, 8, 3), np.float32), verbose=0).shape == (2, 1)
