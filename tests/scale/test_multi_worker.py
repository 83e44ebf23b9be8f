"""`trainer.strategy=multi_worker`: two worker processes on 127.0.0.1 train one model.

Each worker is `scripts/train.py` with the same overrides and its own ``TF_CONFIG``, as on a
cluster. Worker 0 is the chief: it alone records the MLflow run, writes checkpoints and
registers. A killed worker makes the chief's run end FAILED with a message instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepguard.data.synthetic import generate_synthetic
from deepguard.tracking.store import default_tracking_uri, make_client
from tests.helpers.servers import free_port
from tests.scale.conftest import REPO_ROOT

TINY = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.batch_size=16",  # the global batch: 8 images per worker and step
    "data.synthetic.n_per_class=32",
    "data.synthetic.image_size=32",
    "augmentation=none",
    "trainer.strategy=multi_worker",
]
RUN_TIMEOUT_S = 900  # two TensorFlow processes on a shared 2-core machine
FAILURE_TIMEOUT_S = 240  # a lost worker is noticed within seconds; this bounds the test


def start_workers(root: Path, *overrides: str) -> list[tuple[subprocess.Popen, Path]]:
    """Start worker 0 (the chief) and worker 1; each with its log file."""
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    env = {**os.environ, "DEEPGUARD_ROOT": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONUNBUFFERED"] = "1"  # the test reads the logs while the workers run
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    env.pop("MLFLOW_TRACKING_URI", None)  # the project store under root
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        log = root / f"worker-{index}.log"
        process = subprocess.Popen(
            [sys.executable, "scripts/train.py", *TINY, *overrides],
            cwd=REPO_ROOT,
            env=env | {"TF_CONFIG": json.dumps(tf_config)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        workers.append((process, log))
    return workers


def wait_all(workers, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    codes = []
    for process, log in workers:
        try:
            codes.append(process.wait(timeout=max(deadline - time.monotonic(), 1)))
        except subprocess.TimeoutExpired:
            for other, _ in workers:
                other.kill()
            pytest.fail(f"a worker hung; its log:\n{log.read_text()[-3000:]}")
    return codes


def runs_in(root: Path) -> list:
    client = make_client(default_tracking_uri(root))
    experiment = client.get_experiment_by_name("deepguard")
    return client.search_runs([experiment.experiment_id])


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder with the tiny synthetic set already written (both workers read it)."""
    generate_synthetic(tmp_path / "data" / "synthetic" / "32px", n_per_class=32, image_size=32)
    return tmp_path


@pytest.mark.slow
def test_two_workers_train_one_model_recorded_once_by_the_chief(project):
    weights_dir = project / "final-weights"
    workers = start_workers(
        project,
        "trainer.max_epochs=2",
        "trainer.multi_worker_timeout_s=120",
        "+callbacks.final_weights._target_=tests.scale.callbacks.SaveWeightsAtTrainEnd",
        f"+callbacks.final_weights.directory={weights_dir}",
    )
    codes = wait_all(workers, RUN_TIMEOUT_S)
    logs = [log.read_text() for _, log in workers]
    assert codes == [0, 0], "\n\n".join(text[-3000:] for text in logs)

    first, second = (np.load(path) for path in sorted(weights_dir.glob("weights-*.npz")))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:  # every step's gradients were summed across both workers
        np.testing.assert_allclose(first[name], second[name], rtol=0, atol=1e-6)

    runs = runs_in(project)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert "Registry:" in logs[0] and "Registry:" not in logs[1]
    worker_folders = list((project / "outputs").rglob("worker-1"))
    assert len(worker_folders) == 1  # the worker kept its files apart from the chief's
    assert not list(worker_folders[0].rglob("*.keras"))  # and wrote no checkpoint
    assert list((project / "outputs").rglob("checkpoints/best.keras"))


@pytest.mark.slow
def test_killing_a_worker_fails_the_run_with_a_message_instead_of_hanging(project):
    # Both workers are past their first (traced) steps when one is killed, so a step that
    # waits 60 s for its peer has lost it; the chief must then fail, not wait for ever.
    workers = start_workers(
        project,
        "trainer.max_epochs=200",
        "callbacks.early_stopping=null",
        "trainer.multi_worker_timeout_s=60",
    )
    (chief, chief_log), (worker, worker_log) = workers
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while "Epoch 2/" not in worker_log.read_text():  # training is under way on both
        assert worker.poll() is None and time.monotonic() < deadline, worker_log.read_text()
        time.sleep(1)
    worker.send_signal(signal.SIGTERM)  # `kill`: TensorFlow must not swallow it
    try:
        assert worker.wait(timeout=FAILURE_TIMEOUT_S) != 0
    except subprocess.TimeoutExpired:
        worker.kill()
        pytest.fail("the worker ignored SIGTERM")
    try:
        code = chief.wait(timeout=FAILURE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        chief.kill()
        pytest.fail(f"the chief hung after losing a worker:\n{chief_log.read_text()[-3000:]}")
    output = chief_log.read_text()
    assert code != 0
    assert "WorkerLostError" in output and "lost a worker" in output, output[-3000:]
    assert [run.info.status for run in runs_in(project)] == ["FAILED"]
