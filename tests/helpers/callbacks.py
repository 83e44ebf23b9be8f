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


class SignalAtEpochBegin(keras.callbacks.Callback):
    """Sends `signal_name` (``SIGTERM``, ``SIGINT`` for Ctrl-C) to its own process when epoch
    `epoch` (0-based) begins: the run must end KILLED."""

    def __init__(self, signal_name: str, epoch: int = 0):
        super().__init__()
        self.signal = signal.Signals[signal_name]
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            os.kill(os.getpid(), self.signal)


class FailAtEpochBegin(keras.callbacks.Callback):
    """Raises ValueError when epoch `epoch` (0-based) begins: the run must end FAILED."""

    def __init__(self, epoch: int = 0):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise ValueError(f"made to fail at epoch {epoch}")
