"""MLflowLogger against a real SQLite store: statuses, params, lineage, model artifact."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from deepguard.tracking.loading import file_sha256
from deepguard.tracking.mlflow_logger import MLflowLogger, flatten_config
from deepguard.tracking.run_status import (
    RunKilled,
    ended_run_guard,
    install_sigterm_handler,
    mark_stale_run_killed,
)

CONFIG = {"backbone": {"name": "small_cnn", "dropout": 0.2}, "trainer": {"max_epochs": 2}}


def records(tmp_path, n=4):
    return pd.DataFrame(
        {
            "path": [str(tmp_path / "data" / f"{i}.png") for i in range(n)],
            "label": [i % 2 for i in range(n)],
            "generator": ["unknown"] * n,
            "split": ["train"] * n,
            "sha256": [f"{i:064x}" for i in range(n)],
        }
    )


def test_run_finishes_with_flat_params_config_and_metrics(tracking_uri):
    logger = MLflowLogger(tracking_uri=tracking_uri, tags={"team": "a"})
    with ended_run_guard(logger):
        logger.start("run-a", CONFIG, tags={"purpose": "test"})
        for epoch, loss in enumerate([0.9, float("nan"), 0.5]):
            logger.log_metrics({"val_loss": loss, "lr@x": 0.1}, step=epoch)
    client = MlflowClient(tracking_uri)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["backbone.name"] == "small_cnn"
    assert run.data.params["trainer.max_epochs"] == "2"
    assert run.data.tags["team"] == "a" and run.data.tags["purpose"] == "test"
    history = client.get_metric_history(logger.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (2, 0.5)]  # NaN skipped
    assert "lr_x" in run.data.metrics  # sanitized name
    config_file = client.download_artifacts(logger.run_id, "config.yaml")
    assert "small_cnn" in Path(config_file).read_text()
    assert "mlflow ui --backend-store-uri sqlite:///" in logger.describe()


def test_exception_ends_run_failed_and_reraises(tracking_uri):
    logger = MLflowLogger(tracking_uri=tracking_uri)
    with pytest.raises(ZeroDivisionError), ended_run_guard(logger):
        logger.start("boom", CONFIG, tags={})
        1 / 0  # noqa: B018
    assert MlflowClient(tracking_uri).get_run(logger.run_id).info.status == "FAILED"


def test_sigterm_ends_run_killed(tracking_uri, tmp_path):
    """A real SIGTERM sent to a training-like process: the run ends KILLED, not RUNNING."""
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import time
            from deepguard.tracking.mlflow_logger import MLflowLogger
            from deepguard.tracking.run_status import tracked_run
            logger = MLflowLogger(tracking_uri={tracking_uri!r})
            with tracked_run(logger, run_name="long", config={{}}, tags={{}}):
                print(logger.run_id, flush=True)
                time.sleep(120)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    run_id = process.stdout.readline().strip()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    assert MlflowClient(tracking_uri).get_run(run_id).info.status == "KILLED"


def test_sigterm_handler_raises_run_killed():
    previous = install_sigterm_handler()
    try:
        with pytest.raises(RunKilled):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_stale_run_marked_killed_and_resumed(tracking_uri):
    first = MLflowLogger(tracking_uri=tracking_uri)
    first.start("crashed", CONFIG, tags={})
    first.log_metrics({"val_loss": 0.7}, step=0)
    # kill -9: the process vanished and the run is left RUNNING.
    assert mark_stale_run_killed(first.run_id, tracking_uri) is True
    client = MlflowClient(tracking_uri)
    assert client.get_run(first.run_id).info.status == "KILLED"
    assert mark_stale_run_killed(first.run_id, tracking_uri) is False

    resumed = MLflowLogger(tracking_uri=tracking_uri)
    resumed.start("crashed", {**CONFIG, "trainer": {"max_epochs": 5}}, tags={}, run_id=first.run_id)
    resumed.log_metrics({"val_loss": 0.4}, step=1)
    resumed.finish("FINISHED")
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.max_epochs"] == "2"  # write-once, change recorded
    assert "trainer.max_epochs" in run.data.tags["deepguard.changed_params_on_resume"]
    assert len(client.get_metric_history(first.run_id, "val_loss")) == 2


def test_long_param_values_truncated_with_note(tracking_uri):
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("long", {"notes": "x" * 7000}, tags={})
    logger.finish()
    run = MlflowClient(tracking_uri).get_run(logger.run_id)
    assert len(run.data.params["notes"]) == 6000
    assert run.data.params["notes"].endswith("[truncated]")
    assert "notes" in run.data.tags["deepguard.truncated_params"]


def test_flatten_config_nested_and_lists():
    flat = flatten_config({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": None})
    assert flat == {"a.b.c": "1", "a.d": "[1, 2]", "e": "None"}


def test_dataset_input_logged_with_digest(tracking_uri, tmp_path):
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("lineage", CONFIG, tags={})
    logger.log_dataset(records(tmp_path), name="synthetic", digest="abc123", context="train")
    logger.finish()
    run = MlflowClient(tracking_uri).get_run(logger.run_id)
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == "abc123"
    assert dataset_input.dataset.name == "synthetic"
    assert str(tmp_path / "data") in dataset_input.dataset.source
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "train"
    assert run.data.tags["deepguard.data_digest"] == "abc123"


def test_model_artifact_sha256_signature_and_example(tracking_uri, tiny_model_file):
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("model", CONFIG, tags={})
    example = np.zeros((1, 8, 8, 3), dtype=np.float32)
    logger.log_model(tiny_model_file, input_example=example)
    logger.finish()
    client = MlflowClient(tracking_uri)
    run = client.get_run(logger.run_id)
    assert run.data.tags["deepguard.model_sha256"] == file_sha256(tiny_model_file)
    names = {a.path for a in client.list_artifacts(logger.run_id, "model")}
    assert names == {"model/model.keras", "model/signature.json", "model/input_example.npy"}
    signature = json.loads(
        Path(client.download_artifacts(logger.run_id, "model/signature.json")).read_text()
    )
    assert "-1, 8, 8, 3" in signature["inputs"]
    stored = client.download_artifacts(logger.run_id, "model/input_example.npy")
    assert np.load(stored, allow_pickle=False).shape == (1, 8, 8, 3)


def test_log_model_rejects_non_keras(tracking_uri, tmp_path):
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("bad", {}, tags={})
    weights = tmp_path / "model.h5"
    weights.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"'\.keras' file"):
        logger.log_model(weights)
    logger.finish("FAILED")


def test_git_commit_tag_when_in_repo(tracking_uri, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("git", {}, tags={})
    logger.finish()
    assert (
        MlflowClient(tracking_uri).get_run(logger.run_id).data.tags["mlflow.source.git.commit"]
        == commit
    )

    monkeypatch.chdir(tmp_path)  # not a repository: no tag, no failure
    outside = MLflowLogger(tracking_uri=tracking_uri)
    outside.start("nogit", {}, tags={})
    outside.finish()
    assert (
        "mlflow.source.git.commit"
        not in MlflowClient(tracking_uri).get_run(outside.run_id).data.tags
    )


def test_csv_logger_writes_files(tmp_path):
    from deepguard.tracking.csv_logger import CSVLogger

    logger = CSVLogger(tmp_path / "run")
    with pytest.raises(RuntimeError), ended_run_guard(logger):
        logger.start("csv", CONFIG, tags={})
        logger.log_metrics({"val_loss": 0.5, "bad": math.nan}, step=1)
        raise RuntimeError("boom")
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines() == [
        "step,name,value",
        "1,val_loss,0.5",
    ]
    assert (
        json.loads((tmp_path / "run" / "params.json").read_text())["backbone.name"] == "small_cnn"
    )
    assert json.loads((tmp_path / "run" / "run_record.json").read_text())["status"] == "FAILED"
    assert not (tmp_path / "run" / "run.json").exists()  # the entry point's file, not the logger's


def test_explicit_parent_run_links_child_and_copies_sweep_id(tracking_uri):
    parent = MLflowLogger(tracking_uri=tracking_uri, tags={"deepguard.sweep_id": "s9"})
    parent.start("parent", {}, tags={})
    child = MLflowLogger(tracking_uri=tracking_uri)
    child.start("child", {}, tags={}, parent_run_id=parent.run_id)
    child.finish()
    parent.finish()
    tags = MlflowClient(tracking_uri).get_run(child.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.run_id
    assert tags["deepguard.sweep_id"] == "s9"
