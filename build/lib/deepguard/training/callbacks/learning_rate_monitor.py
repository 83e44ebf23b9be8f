"""Adds the learning rate in effect to each epoch's logs, so loggers and History record it."""

from __future__ import annotations

import keras


class LearningRateMonitor(keras.callbacks.Callback):
    """Puts ``learning_rate`` (the value at the current step, schedules included) in the logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        learning_rate = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(learning_rate))
