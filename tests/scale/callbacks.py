"""A callback for the multi-worker tests: every worker saves the weights it ended with."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np


class SaveWeightsAtTrainEnd(keras.callbacks.Callback):
    """Writes ``<directory>/weights-<pid>.npz`` (every weight array) when `fit` ends."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = Path(directory)

    def on_train_end(self, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        weights = {f"w{index}": value for index, value in enumerate(self.model.get_weights())}
        np.savez(self.directory / f"weights-{os.getpid()}.npz", **weights)
