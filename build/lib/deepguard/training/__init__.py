"""Training: the generic trainer, its callbacks and learning-rate plans, and `train(cfg)`."""

from deepguard.training.train import train
from deepguard.training.trainer import Trainer

__all__ = ["Trainer", "train"]
