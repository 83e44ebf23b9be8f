"""Callbacks that simulate failures, for the crash-recovery tests only."""

from __future__ import annotations

import os
import signal

import keras


class KillAtEpochBegin(keras.callbacks.Callback):
    """Sends SIGKILL to its own process when epoch `epoch` (0-based) begins, once.

    A marker file makes the kill happen on the first attempt only, so the re-run of the
    same command can finish.
    """

    def __init__(self, epoch: int, marker: str):
        super().__init__()
        self.epoch = epoch
        self.marker = marker

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch and not os.path.exists(self.marker):
            with open(self.marker, "w") as handle:
                handle.write(str(epoch))
            os.kill(os.getpid(), signal.SIGKILL)
