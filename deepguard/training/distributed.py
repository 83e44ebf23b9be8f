"""Multi-worker training: the cluster, the strategy, and which process records the run.

``trainer.strategy=multi_worker`` trains one model in several processes (machines, or SLURM
tasks) with `tf.distribute.MultiWorkerMirroredStrategy`: each worker holds a replica and
reads its share of every batch, gradients are summed across workers at each step, so all
workers end with identical weights. The cluster comes from ``TF_CONFIG``, or from SLURM's
variables when the job was started by SLURM (the submitit launcher).

Only the chief (the ``chief`` task, else worker 0) records: the MLflow run, checkpoints, the
final model, the test and the registration. The other workers train with `worker_config`: their
own output and backup folders (Keras' BackupAndRestore needs one per worker), no logger.

Example, two processes on one machine::

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]},
                "task": {"type": "worker", "index": 0}}' \\
        python scripts/train.py trainer.strategy=multi_worker     # and index 1 in another shell
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from omegaconf import DictConfig, open_dict

from deepguard.errors import ConfigError, DeepGuardError

log = logging.getLogger(__name__)

CHECKPOINT_CALLBACK = "keras.callbacks.ModelCheckpoint"
# What TensorFlow raises in the surviving workers when a peer dies or stops answering.
PEER_FAILURES = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)


class WorkerLostError(DeepGuardError):
    """A worker of a multi-worker training stopped answering; the training cannot go on."""


@dataclass(frozen=True)
class WorkerCluster:
    """The processes of one multi-worker training, and which one this process is.

    Args:
        jobs: addresses (``host:port``) by task type: ``{"worker": [...]}``, optionally with
            one ``"chief"``.
        task_type: this process's type, ``worker`` or ``chief``.
        task_index: this process's index within its type.
    """

    jobs: Mapping[str, list[str]]
    task_type: str
    task_index: int

    def __post_init__(self):
        unknown = sorted(set(self.jobs) - {"chief", "worker"})
        if unknown or self.task_type not in self.jobs:
            raise ConfigError(
                f"a multi-worker cluster has 'worker' (and optionally 'chief') tasks; got task "
                f"types {sorted(self.jobs)} and this task '{self.task_type}'; fix TF_CONFIG"
            )
        if not 0 <= self.task_index < len(self.jobs[self.task_type]):
            raise ConfigError(
                f"task index {self.task_index} is outside the {len(self.jobs[self.task_type])} "
                f"'{self.task_type}' addresses of the cluster; fix TF_CONFIG's task.index"
            )

    @property
    def num_workers(self) -> int:
        return sum(len(addresses) for addresses in self.jobs.values())

    @property
    def is_chief(self) -> bool:
        """The chief task if there is one, else worker 0 (TensorFlow's rule)."""
        if "chief" in self.jobs:
            return self.task_type == "chief"
        return self.task_index == 0

    @property
    def rank(self) -> int:
        """This process's position among all workers, the chief first."""
        chiefs = len(self.jobs.get("chief", []))
        return self.task_index if self.task_type == "chief" else chiefs + self.task_index

    def describe(self) -> str:
        addresses = ", ".join(address for group in self.jobs.values() for address in group)
        return (
            f"{self.num_workers} workers ({addresses}); this is {self.task_type} {self.task_index}"
        )

    def resolver(self) -> tf.distribute.cluster_resolver.ClusterResolver:
        """The cluster as TensorFlow takes it (no environment variable written)."""
        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({job: list(addresses) for job, addresses in self.jobs.items()}),
            task_type=self.task_type,
            task_id=self.task_index,
            rpc_layer="grpc",
        )


def cluster_from_tf_config(text: str) -> WorkerCluster:
    """The cluster a ``TF_CONFIG`` JSON document describes."""
    try:
        spec = json.loads(text)
        return WorkerCluster(
            jobs={job: list(addresses) for job, addresses in spec["cluster"].items()},
            task_type=str(spec["task"]["type"]),
            task_index=int(spec["task"]["index"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(
            'TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:12345", '
            f'"host2:12345"]}}, "task": {{"type": "worker", "index": 0}}}}; got {text!r} ({error})'
        ) from error


def cluster_from_slurm(port: int) -> WorkerCluster | None:
    """The cluster of a SLURM job with more than one task, None otherwise.

    Reads SLURM_JOB_NODELIST (expanded as submitit does), SLURM_NTASKS, SLURM_JOB_NUM_NODES and
    SLURM_PROCID. Tasks are ranked node by node (SLURM's default block distribution); the
    tasks of one node listen on consecutive ports from `port`.
    """
    from submitit.slurm.slurm import SlurmJobEnvironment

    if "SLURM_JOB_ID" not in os.environ:
        return None
    slurm = SlurmJobEnvironment()
    if slurm.num_tasks < 2:
        return None
    hosts = slurm.hostnames
    tasks_per_node = slurm.num_tasks // max(len(hosts), 1)
    if tasks_per_node * len(hosts) != slurm.num_tasks:
        raise ConfigError(
            f"SLURM gave {slurm.num_tasks} tasks on {len(hosts)} nodes ({', '.join(hosts)}); "
            "multi-worker training needs the same number of tasks on every node "
            "(hydra.launcher.tasks_per_node)"
        )
    workers = [f"{host}:{port + local}" for host in hosts for local in range(tasks_per_node)]
    return WorkerCluster({"worker": workers}, "worker", slurm.global_rank)


def current_cluster(port: int) -> WorkerCluster | None:
    """This process's cluster: from ``TF_CONFIG``, else from SLURM; None for a lone process."""
    tf_config = os.environ.get("TF_CONFIG")
    if tf_config:
        return cluster_from_tf_config(tf_config)
    return cluster_from_slurm(port)


def training_cluster(trainer_cfg: Mapping[str, Any]) -> WorkerCluster | None:
    """The cluster a `conf/trainer` node trains on: None unless ``strategy=multi_worker``."""
    if trainer_cfg.get("strategy") != "multi_worker":
        return None
    return current_cluster(int(trainer_cfg.get("multi_worker_port", 12345)))


class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`tf.distribute.MultiWorkerMirroredStrategy` as Keras 3's ``fit`` uses it.

    Two adaptations for Keras 3 (keras-team/keras#20585), both in `reduce`:

    - Before training (and validating) Keras reduces a whole first ``(images, labels)`` batch
      only to learn its shapes and dtypes. The workers' shares of a batch may differ in size
      (a partial batch splits unevenly), which an all-reduce refuses, and the values are not
      used: a structure gets this worker's own values back.
    - Keras reduces each scalar metric with ``axis=0``, which the strategy refuses on a
      scalar: scalars are reduced across workers without an axis.

    Datasets are sharded by element (``AutoShardPolicy.DATA``): DeepGuard's datasets read a list
    of file paths, which TensorFlow's file-based sharding cannot split. Each worker then reads
    its share of every global batch (``data.batch_size`` images over all workers).
    """

    def reduce(self, reduce_op, value, axis):
        if tf.nest.is_nested(value):  # Keras' sample batch: shapes and dtypes are what it needs
            return tf.nest.map_structure(self._local_value, value)
        scalar = tf.convert_to_tensor(self._local_value(value)).shape.rank == 0
        return super().reduce(reduce_op, value, axis=None if scalar else axis)

    def _local_value(self, value):
        return self.experimental_local_results(value)[0]

    def experimental_distribute_dataset(self, dataset, options=None):
        sharding = tf.data.Options()
        sharding.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return super().experimental_distribute_dataset(dataset.with_options(sharding), options)


class AverageWorkerStatistics(keras.callbacks.Callback):
    """Averages the non-trainable weights (BatchNorm's moving statistics) over the workers at
    the end of every epoch.

    Gradients are summed across workers at every step, so the trainable weights stay
    identical; but Keras updates BatchNorm's moving mean and variance from each worker's own
    share of the batch, so those drift apart. Run before the checkpoint callbacks, this gives
    every worker, and the chief's saved model, the same statistics.
    """

    def on_epoch_end(self, epoch, logs=None):
        strategy = self.model.distribute_strategy
        for variable in self.model.non_trainable_variables:
            if not keras.backend.is_float_dtype(variable.dtype):
                continue  # counters and seed states are the same on every worker
            local = tf.convert_to_tensor(variable.value)
            variable.assign(strategy.reduce("MEAN", local, axis=None))


def multi_worker_callbacks(trainer_cfg: Mapping[str, Any]) -> list[keras.callbacks.Callback]:
    """The callbacks multi-worker training needs ahead of the configured ones (none otherwise)."""
    if trainer_cfg.get("strategy") != "multi_worker":
        return []
    return [AverageWorkerStatistics()]


def multi_worker_strategy(
    cluster: WorkerCluster | None, timeout_s: float | None
) -> tf.distribute.Strategy:
    """The strategy for `cluster` (None: this process alone, on its local devices).

    Args:
        cluster: the workers, from `current_cluster`.
        timeout_s: longest wait of one collective for the other workers before the step fails
            (a worker that hangs); None waits for ever. A worker that dies is noticed sooner.

    Raises:
        ConfigError: TensorFlow already ran operations in this process; the strategy must be
            created first.
    """
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_s)
    if cluster is None:
        log.info("trainer.strategy=multi_worker without TF_CONFIG or SLURM tasks: one worker")
        return KerasMultiWorkerMirroredStrategy(communication_options=options)
    print(f"Multi-worker training: {cluster.describe()}", flush=True)
    sigterm_handler = signal.getsignal(signal.SIGTERM)
    try:
        strategy = KerasMultiWorkerMirroredStrategy(
            cluster_resolver=cluster.resolver(), communication_options=options
        )
    except RuntimeError as error:
        raise ConfigError(
            "trainer.strategy=multi_worker must be set up before TensorFlow runs anything in "
            f"the process ({error}); build the Trainer first"
        ) from error
    restore_sigterm_handler(sigterm_handler)
    return strategy


def restore_sigterm_handler(handler: Any) -> None:
    """Give SIGTERM back to Python's `handler` after TensorFlow's cluster set-up took it.

    TensorFlow's coordination service catches SIGTERM as a preemption notice (which DeepGuard
    does not use) and the process then ignores ``kill``; with the handler back, SIGTERM ends
    the run KILLED as in single-process training (`deepguard.tracking.run_status`).
    """
    if handler is None or threading.current_thread() is not threading.main_thread():
        return  # no Python-level handler to restore, or not allowed outside the main thread
    signal.signal(signal.SIGTERM, handler)


def worker_config(cfg: DictConfig, cluster: WorkerCluster | None) -> DictConfig:
    """`cfg` as this process trains with it.

    The chief (and a process without a cluster) gets `cfg` unchanged. Another worker gets a
    copy with its own output folder (``<output_dir>/worker-<rank>``) and backup folder
    (``<resume_dir>.worker-<rank>``), no logger, no registration and no checkpoint callbacks:
    the chief records the run, and workers sharing a file system must not write its files.
    """
    if cluster is None or cluster.is_chief:
        return cfg
    cfg = copy.deepcopy(cfg)
    suffix = f"worker-{cluster.rank}"
    with open_dict(cfg):
        cfg.paths.output_dir = str(Path(cfg.paths.output_dir) / suffix)
        cfg.paths.resume_dir = f"{cfg.paths.resume_dir}.{suffix}"
        cfg.logger = None
        cfg.registry.enabled = False
        for name, node in (cfg.get("callbacks") or {}).items():
            if node and node.get("_target_") == CHECKPOINT_CALLBACK:
                cfg.callbacks[name] = None
    return cfg


@contextlib.contextmanager
def reported_worker_loss(cluster: WorkerCluster | None) -> Iterator[None]:
    """Re-raise TensorFlow's error for a lost peer as a `WorkerLostError` saying what to do.

    Example:
        >>> with reported_worker_loss(cluster):  # doctest: +SKIP
        ...     trainer.fit(model, datamodule, optimizer, scheduler)
    """
    if cluster is None or cluster.num_workers < 2:
        yield
        return
    try:
        yield
    except PEER_FAILURES as error:
        raise WorkerLostError(
            f"multi-worker training lost a worker ({type(error).__name__}: "
            f"{peer_failure_reason(str(error.message))}). "
            f"The cluster: {cluster.describe()}. Every worker must run for training to go on: "
            "find why the worker stopped (its log, the scheduler), then start all workers again "
            "with the same command; with backup_and_restore they resume from the last "
            "finished epoch"
        ) from error


def peer_failure_reason(message: str) -> str:
    """The line of a TensorFlow collective error that says why (``... aborted by: ...``)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if "aborted by" in line:
            return line.split("aborted by:", 1)[-1].strip()[:300]
    return (lines[0] if lines else "no message")[:300]
