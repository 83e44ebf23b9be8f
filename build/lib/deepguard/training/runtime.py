"""Process-wide training settings: seeds, determinism, precision policy, device strategy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf

from deepguard.errors import ConfigError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("auto", "mirrored")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; optionally make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`auto`: the default single-device strategy; `mirrored`: data parallel over local GPUs."""
    if name == "auto":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise ConfigError(f"unknown trainer.strategy '{name}'; available: {', '.join(STRATEGIES)}")


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Build models under a dtype policy, restoring the previous global policy afterwards.

    Layers keep the policy they were built with, so the policy only needs to hold while the
    model is constructed.
    """
    if name not in PRECISIONS:
        raise ConfigError(f"unknown trainer.precision '{name}'; available: {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
