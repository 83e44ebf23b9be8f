"""MLflow on a real PostgreSQL: a parallel sweep of training runs, the registry, the API, the app.

Every test talks to the session's `postgres_tracking_server`, started by
`scripts/tracking_server.py` exactly as `make tracking-server` starts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from deepguard.data.synthetic import generate_synthetic
from deepguard.tracking.registry import register_model
from deepguard.tracking.store import make_client
from tests.helpers.servers import free_port
from tests.scale.conftest import REPO_ROOT

TINY = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.batch_size=16",
    "data.synthetic.n_per_class=32",
    "data.synthetic.image_size=32",
    "callbacks=minimal",
    "trainer.max_epochs=1",
]
# What SQLite or a racing client would have printed: none of it may appear.
RACE_MARKERS = (
    "database is locked",
    "UniqueViolation",
    "IntegrityError",
    "deadlock detected",
    "could not serialize access",
)
APP_DIR = REPO_ROOT / "app"


def synthetic_data(root: Path) -> None:
    """The data set TINY trains on, written once before any job starts."""
    generate_synthetic(root / "data" / "synthetic" / "32px", n_per_class=32, image_size=32)


def subprocess_env(root: Path, tracking_url: str) -> dict[str, str]:
    env = {**os.environ, "DEEPGUARD_ROOT": str(root), "MLFLOW_TRACKING_URI": tracking_url}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2", "DEEPGUARD_CACHE": str(root / "cache")}


@pytest.mark.slow
def test_a_parallel_sweep_is_registered_served_and_listed_from_postgres(
    postgres_tracking_server, tmp_path, monkeypatch
):
    # One end-to-end run of a team's day, as the tracking server sees it: a parallel sweep
    # whose jobs train and log concurrently, then the registry, the API and the app.
    url, name = postgres_tracking_server.url, "deepguard-on-postgres"
    children = parallel_sweep(tmp_path, postgres_tracking_server)

    first, second = (child.info.run_id for child in children[:2])
    assert register_model(first, name=name, tracking_uri=url)["version"] == "1"
    register_model(second, name=name, tracking_uri=url)
    client = make_client(url)
    assert client.get_model_version_by_alias(name, "challenger").version == "2"
    assert client.get_model_version_by_alias(name, "champion").version in ("1", "2")
    moved = register_model(second, name=name, force=True, tracking_uri=url)
    assert moved["version"] == "3" and moved["aliases_moved"] == ["challenger", "champion"]

    # A fresh process loads models:/<name>@champion from the server and serves it.
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path / "cache"))
    served = serve_champion(tmp_path, url, name)
    assert served["model"]["version"] == "3" and served["model"]["alias"] == "champion"
    assert 0.0 <= served["predictions"][0]["probability_fake"] <= 1.0

    home = app_home(monkeypatch, url, tmp_path)
    values = {metric.label: metric.value for metric in home.metric}
    assert values["Versions"] == "3"
    assert values["Champion"] == f"{name} v3 (challenger, champion)"


def parallel_sweep(root: Path, server) -> list:
    """A 2x2 sweep with two parallel jobs against `server`; its four finished children."""
    tracking_url = server.url
    synthetic_data(root)
    command = [
        sys.executable,
        "scripts/train.py",
        "-m",
        *TINY,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "optimizer=adam,sgd",
        "seed=1,2",
        "logger.experiment_name=sweep-on-postgres",
    ]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=subprocess_env(root, tracking_url),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    client = make_client(tracking_url)
    experiment = client.get_experiment_by_name("sweep-on-postgres")
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parents[0].info.run_id}
    assert {run.info.status for run in runs} == {"FINISHED"}
    printed = result.stdout + result.stderr + server.log.read_text()
    assert not [marker for marker in RACE_MARKERS if marker in printed]
    # the artifacts went through the server into its own folder
    assert len(list(server.artifacts.rglob("model.keras"))) == 4
    return children


def serve_champion(root: Path, tracking_url: str, name: str) -> dict:
    """Start `scripts/serve.py` for the champion, predict one image, stop it; the JSON reply."""
    port = free_port()
    command = [
        sys.executable,
        "scripts/serve.py",
        f"model=models:/{name}@champion",
        f"tracking_uri={tracking_url}",
        f"port={port}",
        "workers=1",
    ]
    log = root / "api.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=subprocess_env(root, tracking_url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, process, log)
            image = root / "face.png"
            Image.fromarray(np.full((48, 48, 3), 128, np.uint8)).save(image)
            with image.open("rb") as handle:
                reply = requests.post(f"{base}/v1/predict", files={"file": handle}, timeout=60)
            assert reply.status_code == 200, reply.text
            return reply.json()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)


def wait_ready(base: str, process: subprocess.Popen, log: Path, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base}/v1/health/ready", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"the API did not become ready:\n{log.read_text()[-4000:]}")


def app_home(monkeypatch, tracking_url: str, root: Path):
    """The app's home page, pointed at the server as a user would: environment variables."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_url)
    monkeypatch.setenv("DEEPGUARD_ROOT", str(root))
    monkeypatch.syspath_prepend(str(APP_DIR))  # the app imports its helpers as deepguard_app
    home = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=300)
    home.run()
    assert not home.exception, [error.value for error in home.exception]
    return home


@pytest.mark.slow
def test_the_server_starts_without_mlflow_job_runner(postgres_tracking_server):
    # conf/tracking_server.yaml: job_execution false. The runner would start about eight
    # huey worker processes beside the server (2 GB), for jobs DeepGuard never submits.
    log = postgres_tracking_server.log.read_text()
    assert "Uvicorn running" in log, log[-2000:]
    assert "mlflow.server.jobs" not in log, log[-2000:]
