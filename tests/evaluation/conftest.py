"""Fixtures: small image folders and a saved tiny detector in tmp_path."""

import pytest
from evaluation_helpers import tiny_detector, write_records


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    tiny_detector().save(path)
    return path


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    """A fresh SQLite store in tmp_path; MLFLOW_TRACKING_URI cleared so nothing leaks in."""
    from deepguard.tracking.store import default_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path / "cache"))
    return default_tracking_uri(tmp_path / "project")
