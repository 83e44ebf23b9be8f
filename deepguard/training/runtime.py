"""Process-wide training settings: seeds, determinism, precision policy, device strategy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf

from deepguard.errors import ConfigError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("auto", "mirrored", "multi_worker")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; optionally make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(
    name: str, multi_worker_port: int = 12345, multi_worker_timeout_s: float | None = None
) -> tf.distribute.Strategy:
    """The device strategy a trainer builds and compiles its model under.

    Args:
        name: ``auto``: the default single-device strategy; ``mirrored``: data parallel over
            the local GPUs; ``multi_worker``: data parallel over several processes, the
            cluster read from ``TF_CONFIG`` or SLURM (`deepguard.training.distributed`).
        multi_worker_port: port of each worker when the cluster comes from SLURM.
        multi_worker_timeout_s: longest wait of a collective for the other workers.
    """
    if name == "auto":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        from deepguard.training.distributed import current_cluster, multi_worker_strategy

        return multi_worker_strategy(current_cluster(multi_worker_port), multi_worker_timeout_s)
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
