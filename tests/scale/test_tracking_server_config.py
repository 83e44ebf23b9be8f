"""How `make tracking-server` picks its backend and builds the `mlflow server` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepguard.config.compose import compose_config
from deepguard.errors import ConfigError
from deepguard.tracking import server
from tests.conftest import CONF_DIR


@pytest.fixture
def without_postgres(monkeypatch):
    monkeypatch.setattr(server, "find_postgres_bindir", lambda: None)


def test_auto_falls_back_to_sqlite_and_says_why(without_postgres):
    backend, reason = server.choose_backend("auto")
    assert backend == "sqlite" and "apt-get install postgresql" in reason


def test_asking_for_postgres_without_it_fails_with_the_fix(without_postgres):
    with pytest.raises(ConfigError, match="backend=sqlite"):
        server.choose_backend("postgres")
    with pytest.raises(ConfigError, match="available: auto, postgres, sqlite"):
        server.choose_backend("mysql")


@pytest.fixture
def tracking_server_config(tmp_path, monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.delenv("MLFLOW_BACKEND_STORE_URI", raising=False)
    yield compose_config(CONF_DIR, "tracking_server", [], tmp_path)
    HydraConfig.instance().cfg = None  # leave no Hydra context for later tests


def test_sqlite_backend_serves_the_project_store(
    without_postgres, tracking_server_config, tmp_path
):
    cfg = tracking_server_config
    with server.backend_store(cfg) as (uri, description):
        assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
        assert description.startswith("SQLite") and "not PostgreSQL" in description


def test_an_existing_database_from_the_environment_is_used_as_given(tmp_path, monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    uri = "postgresql+psycopg://mlflow:secret@db-host:5432/mlflow"
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", uri)
    cfg = compose_config(CONF_DIR, "tracking_server", [], tmp_path)
    HydraConfig.instance().cfg = None
    with server.backend_store(cfg) as (used, description):
        assert used == uri
        assert "db-host:5432/mlflow" in description and "secret" not in description


def test_the_command_keeps_the_database_password_off_the_command_line():
    command = server.mlflow_server_command("/srv/artifacts", port=5001, app_name="basic-auth")
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert "--backend-store-uri" not in command
    assert command[command.index("--port") + 1] == "5001"
    assert command[-2:] == ["--app-name", "basic-auth"]


def test_the_server_environment_carries_the_store_and_the_job_runner_switch(
    tracking_server_config, monkeypatch
):
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")  # the config decides
    assert tracking_server_config.job_execution is False
    env = server.server_environment("sqlite:///s.db", job_execution=False)
    assert env["MLFLOW_BACKEND_STORE_URI"] == "sqlite:///s.db"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    on = server.server_environment("sqlite:///s.db", job_execution=True)
    assert on["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"


def test_a_local_cluster_uri_names_its_driver_and_quotes_the_password(tmp_path):
    if server.find_postgres_bindir() is None:
        pytest.skip(server.INSTALL_HINT)
    cluster = server.LocalPostgres(tmp_path / "pg", port=5999)
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "password").write_text("a/b@c\n")
    assert cluster.uri == "postgresql+psycopg://mlflow:a%2Fb%40c@127.0.0.1:5999/mlflow"


def test_the_script_reports_a_bad_backend_before_starting_anything(tmp_path):
    command = ["scripts/tracking_server.py", "backend=mysql", f"paths.root_dir={tmp_path}"]
    result = subprocess.run(
        [sys.executable, *command],
        cwd=CONF_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "unknown backend 'mysql'" in result.stderr


def test_every_tracking_server_key_is_commented():
    for line in (CONF_DIR / "tracking_server.yaml").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "- ")) and ":" in line:
            assert "#" in line, f"key without a comment: {line}"
