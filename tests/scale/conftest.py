"""One MLflow server on a throw-away PostgreSQL cluster for the whole session.

It is started the way users start theirs, `scripts/tracking_server.py` (`make
tracking-server`), on free loopback ports. Without PostgreSQL's binaries or driver the
fixture skips with the reason; CI installs both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.servers import free_port, wait_for_health

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = (
    600  # the server's first start creates MLflow's tables (minutes on a busy 2-core box)
)


@dataclass(frozen=True)
class TrackingServer:
    url: str
    log: Path  # everything the server printed
    artifacts: Path


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # the script stops MLflow, then PostgreSQL
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def postgres_tracking_server(tmp_path_factory) -> TrackingServer:
    from deepguard.tracking.server import postgres_missing_reason

    reason = postgres_missing_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("tracking_server")
    # Directly under the system temp folder: when the tests run as root, PostgreSQL runs as
    # the `postgres` account, which cannot enter pytest's private temp folders.
    cluster = Path(tempfile.mkdtemp(prefix="deepguard-pg-"))
    port = free_port()
    command = [
        sys.executable,
        "scripts/tracking_server.py",
        "backend=postgres",
        f"port={port}",
        "workers=1",
        f"postgres.port={free_port()}",
        f"postgres.root={cluster}",
        f"artifacts_destination={base / 'artifacts'}",
        f"paths.root_dir={base}",
    ]
    log = base / "server.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("MLFLOW_BACKEND_STORE_URI", None)  # the throw-away cluster, whatever the shell says
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(url, process, log, START_TIMEOUT_S)
            yield TrackingServer(url, log, base / "artifacts")
        finally:
            stop(process)
            shutil.rmtree(cluster, ignore_errors=True)
