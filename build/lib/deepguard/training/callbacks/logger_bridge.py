"""Sends each epoch's logs to the run's Logger (MLflow, CSV or none)."""

from __future__ import annotations

import math

import keras

from deepguard.tracking.logger import Logger


class LoggerBridge(keras.callbacks.Callback):
    """Records every finite scalar of the epoch logs with the epoch number as step.

    Args:
        logger: the run's logger.
    """

    def __init__(self, logger: Logger):
        super().__init__()
        self.logger = logger

    def on_epoch_end(self, epoch, logs=None):
        scalars = {}
        for name, value in (logs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue  # non-scalar entries (none by default) are not metrics
            if math.isfinite(number):
                scalars[name] = number
        if scalars:
            self.logger.log_metrics(scalars, step=epoch)
