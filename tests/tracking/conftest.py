"""Fixtures: a real MLflow store per test in tmp_path, tiny Keras models saved as `.keras`."""

from __future__ import annotations

import os

import pytest

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
