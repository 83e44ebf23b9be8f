"""Learning-rate plans, picked by `conf/scheduler/`.

Each plan turns the optimizer's peak learning rate into what Keras needs once the number of
steps is known, and may add callbacks (ReduceLROnPlateau works through a callback).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras


@dataclass
class Constant:
    """The peak learning rate throughout."""

    def build(self, peak: float, total_steps: int, steps_per_epoch: int):
        return peak

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return []


@dataclass
class Cosine(Constant):
    """Cosine decay from the peak to `final_fraction` x peak over all steps."""

    final_fraction: float = 0.01

    def build(self, peak: float, total_steps: int, steps_per_epoch: int):
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=peak, decay_steps=max(total_steps, 1), alpha=self.final_fraction
        )


@dataclass
class WarmupCosine(Constant):
    """Linear warm-up from zero over `warmup_fraction` of the steps, then cosine decay."""

    warmup_fraction: float = 0.1
    final_fraction: float = 0.01

    def build(self, peak: float, total_steps: int, steps_per_epoch: int):
        warmup_steps = int(total_steps * self.warmup_fraction)
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            warmup_target=peak,
            warmup_steps=warmup_steps,
            decay_steps=max(total_steps - warmup_steps, 1),
            alpha=self.final_fraction,
        )


@dataclass
class Step(Constant):
    """Multiply the learning rate by `gamma` every `step_epochs` epochs."""

    step_epochs: int = 2
    gamma: float = 0.5

    def build(self, peak: float, total_steps: int, steps_per_epoch: int):
        return keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=peak,
            decay_steps=max(self.step_epochs * steps_per_epoch, 1),
            decay_rate=self.gamma,
            staircase=True,
        )


@dataclass
class ReduceOnPlateau(Constant):
    """The peak learning rate until `monitor` stalls for `patience` epochs, then x `factor`."""

    monitor: str = "val_auc"
    mode: str = "max"
    factor: float = 0.5
    patience: int = 2
    min_learning_rate: float = 1e-6

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=self.monitor,
                mode=self.mode,
                factor=self.factor,
                patience=self.patience,
                min_lr=self.min_learning_rate,
            )
        ]
