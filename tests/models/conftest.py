"""Shared fixtures for the model tests: tiny random images, a clean Keras state."""

from __future__ import annotations

import keras
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def clean_keras_state():
    """Each test starts and ends with the float32 policy and a fresh name scope.

    Without the full garbage collection `clear_session` forces by default: 2 to 5 s each
    time once a session holds many models, and the name scope is all these tests need.
    """
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)
    yield
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def images():
    """Return a function giving `n` random float32 RGB images in [0, 255] of side `size`."""

    def make(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.uniform(0, 255, size=(n, size, size, 3)).astype("float32")

    return make
