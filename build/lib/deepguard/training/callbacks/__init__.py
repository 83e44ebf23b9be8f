"""Keras callbacks DeepGuard adds to the ones Keras ships; one class a file."""

from deepguard.training.callbacks.learning_rate_monitor import LearningRateMonitor
from deepguard.training.callbacks.logger_bridge import LoggerBridge

__all__ = ["LearningRateMonitor", "LoggerBridge"]
