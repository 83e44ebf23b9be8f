"""Where a multi-worker cluster comes from (TF_CONFIG, SLURM) and what each worker records."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from deepguard.errors import ConfigError
from deepguard.training.distributed import (
    WorkerCluster,
    WorkerLostError,
    cluster_from_slurm,
    cluster_from_tf_config,
    current_cluster,
    reported_worker_loss,
    training_cluster,
    worker_config,
)
from tests.conftest import CONF_DIR


def tf_config(index: int, task_type: str = "worker", chief: bool = False) -> str:
    cluster = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}
    if chief:
        cluster["chief"] = ["10.0.0.9:2222"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.fixture
def no_cluster_env(monkeypatch):
    for name in ("TF_CONFIG", "SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_JOB_NODELIST"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_tf_config_names_the_chief_and_the_rank():
    first, second = (cluster_from_tf_config(tf_config(index)) for index in (0, 1))
    assert first.is_chief and not second.is_chief
    assert (first.num_workers, first.rank, second.rank) == (2, 0, 1)
    with_chief = cluster_from_tf_config(tf_config(0, chief=True))
    assert not with_chief.is_chief and with_chief.rank == 1
    assert cluster_from_tf_config(tf_config(0, "chief", chief=True)).is_chief


def test_the_resolver_carries_the_cluster_without_touching_the_environment(no_cluster_env):
    resolver = cluster_from_tf_config(tf_config(1)).resolver()
    assert resolver.cluster_spec().as_dict() == {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"cluster": {"worker": ["a:1"]}}),
        json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}),
        json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
    ],
)
def test_a_malformed_tf_config_is_refused_with_the_expected_shape(text):
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        cluster_from_tf_config(text)


def test_slurm_tasks_become_workers_node_by_node(no_cluster_env):
    no_cluster_env.setenv("SLURM_JOB_ID", "42")
    no_cluster_env.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    no_cluster_env.setenv("SLURM_JOB_NUM_NODES", "2")
    no_cluster_env.setenv("SLURM_NTASKS", "4")
    no_cluster_env.setenv("SLURM_PROCID", "3")
    cluster = cluster_from_slurm(port=29500)
    assert cluster.jobs == {"worker": ["gpu07:29500", "gpu07:29501", "gpu08:29500", "gpu08:29501"]}
    assert cluster.task_index == 3 and not cluster.is_chief
    no_cluster_env.setenv("SLURM_NTASKS", "3")
    with pytest.raises(ConfigError, match="same number of tasks on every node"):
        cluster_from_slurm(port=29500)


def test_a_single_slurm_task_or_no_scheduler_means_no_cluster(no_cluster_env):
    assert current_cluster(port=12345) is None
    no_cluster_env.setenv("SLURM_JOB_ID", "42")
    no_cluster_env.setenv("SLURM_NTASKS", "1")
    assert current_cluster(port=12345) is None


def test_tf_config_wins_over_slurm_and_only_multi_worker_reads_either(no_cluster_env):
    no_cluster_env.setenv("SLURM_JOB_ID", "42")
    no_cluster_env.setenv("SLURM_NTASKS", "2")
    no_cluster_env.setenv("SLURM_JOB_NODELIST", "n[1-2]")
    no_cluster_env.setenv("TF_CONFIG", tf_config(1))
    assert training_cluster({"strategy": "multi_worker"}).jobs["worker"][0] == "10.0.0.1:2222"
    assert training_cluster({"strategy": "auto"}) is None


def test_a_worker_trains_into_its_own_folders_and_records_nothing(compose_train):
    cfg = compose_train("trainer.strategy=multi_worker")
    worker = worker_config(cfg, cluster_from_tf_config(tf_config(1)))
    assert worker.paths.output_dir == f"{cfg.paths.output_dir}/worker-1"
    assert worker.paths.resume_dir == f"{cfg.paths.resume_dir}.worker-1"
    assert worker.logger is None and not worker.registry.enabled
    assert worker.callbacks.best_checkpoint is None and worker.callbacks.last_checkpoint is None
    # the backup follows the worker's own resume folder, as Keras needs one per worker
    assert worker.callbacks.backup_and_restore.backup_dir == worker.paths.resume_dir
    assert cfg.logger is not None  # the chief's config is left as it was
    assert worker_config(cfg, cluster_from_tf_config(tf_config(0))) is cfg
    assert worker_config(cfg, None) is cfg


def test_a_lost_peer_becomes_an_error_that_says_what_to_do():
    cluster = cluster_from_tf_config(tf_config(0))
    message = (
        "Graph execution error:\n\nDetected at node CollectiveReduceV2\n"
        "Collective ops is aborted by: recvmsg: Connection reset by peer"
    )
    failure = tf.errors.UnavailableError(None, None, message)
    with (
        pytest.raises(WorkerLostError, match="start all workers again") as caught,
        reported_worker_loss(cluster),
    ):
        raise failure
    assert "10.0.0.2:2222" in str(caught.value)
    assert "(UnavailableError: recvmsg: Connection reset by peer)" in str(caught.value)
    with pytest.raises(ValueError), reported_worker_loss(cluster):
        raise ValueError("not a peer failure: left alone")


def test_a_cluster_must_name_worker_tasks():
    with pytest.raises(ConfigError, match="'worker'"):
        WorkerCluster({"evaluator": ["a:1"]}, "evaluator", 0)


def test_the_documented_n_node_slurm_job_composes():
    """docs/scaling.md's 4-node command: the launcher fits the plugin's schema."""
    from hydra import compose, initialize_config_dir
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
    from omegaconf import OmegaConf

    overrides = [
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.nodes=4",
        "hydra.launcher.tasks_per_node=1",
        "hydra.launcher.gpus_per_node=1",
        "hydra.launcher.partition=gpu",
        "trainer.strategy=multi_worker",
        "data.batch_size=256",
        "backbone=xception",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    launcher = OmegaConf.merge(
        OmegaConf.structured(SlurmQueueConf), OmegaConf.to_container(cfg.hydra.launcher)
    )
    assert (launcher.nodes, launcher.tasks_per_node, launcher.partition) == (4, 1, "gpu")
    assert cfg.trainer.strategy == "multi_worker" and cfg.trainer.multi_worker_port == 12345
