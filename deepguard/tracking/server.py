"""A shared MLflow tracking server: ``mlflow server`` on PostgreSQL when it is installed, else
on the project's SQLite store.

`scripts/tracking_server.py` (``make tracking-server``) and the PostgreSQL tests start it
through `run_tracking_server`. Without an external database (``backend_store_uri``) it runs a
PostgreSQL cluster of its own, `LocalPostgres`: created on first use in a folder of the project,
listening on 127.0.0.1 only, with password authentication.

PostgreSQL refuses to run as root. Started by root (CI, containers), the cluster runs as the
``postgres`` account that Debian's ``postgresql`` package creates.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deepguard.errors import ConfigError, DeepGuardError

BACKENDS = ("auto", "postgres", "sqlite")
# Debian and Ubuntu keep the server binaries off PATH, one folder per major version.
DEBIAN_POSTGRES_BINDIRS = "/usr/lib/postgresql/*/bin"
POSTGRES_DRIVER = "psycopg"  # psycopg 3, named in the URIs: postgresql+psycopg://
INSTALL_HINT = "apt-get install postgresql (the server) and pip install 'deepguard[postgres]'"


class PostgresError(DeepGuardError):
    """A PostgreSQL command failed; the message carries its output."""


def find_postgres_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: from PATH, else Debian's newest version."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = [Path(folder) for folder in glob.glob(DEBIAN_POSTGRES_BINDIRS)]
    candidates = [folder for folder in candidates if (folder / "initdb").is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda folder: _major_version(folder.parent.name))


def _major_version(name: str) -> int:
    return int(name) if name.isdigit() else -1


def postgres_driver_installed() -> bool:
    return importlib.util.find_spec(POSTGRES_DRIVER) is not None


def postgres_missing_reason() -> str | None:
    """Why a local PostgreSQL backend cannot run here, or None when it can."""
    if find_postgres_bindir() is None:
        return f"the PostgreSQL server binaries (initdb, pg_ctl) are not installed: {INSTALL_HINT}"
    if not postgres_driver_installed():
        return f"the PostgreSQL driver ({POSTGRES_DRIVER}) is not installed: {INSTALL_HINT}"
    return None


def service_account() -> str | None:
    """The account PostgreSQL runs as: None (the current user) unless this process is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ConfigError(
            "PostgreSQL refuses to run as root and there is no 'postgres' account to run it "
            f"as; run as a normal user, or install Debian's package ({INSTALL_HINT})"
        ) from None
    return "postgres"


@dataclass
class LocalPostgres:
    """A PostgreSQL cluster of its own in `root`, on 127.0.0.1:`port`, for one MLflow database.

    `root` holds ``data/`` (the cluster), ``password`` (the database user's, mode 0600),
    and ``postgres.log``. The cluster is created on the first `start`
    and reused afterwards.

    Args:
        root: folder of the cluster's files (created when missing).
        port: TCP port on 127.0.0.1.
        user: database user MLflow connects as (the cluster's superuser).
        database: database MLflow stores its runs in (created when missing).
        bindir: folder of ``initdb`` and ``pg_ctl``; None finds it (`find_postgres_bindir`).

    Example:
        >>> with LocalPostgres("/tmp/pg", port=5433) as postgres:  # doctest: +SKIP
        ...     print(postgres.uri)
    """

    root: Path
    port: int = 5433
    user: str = "mlflow"
    database: str = "mlflow"
    bindir: Path | None = None

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        bindir = Path(self.bindir) if self.bindir else find_postgres_bindir()
        if bindir is None:
            raise ConfigError(f"PostgreSQL is not installed: {INSTALL_HINT}")
        self.bindir = bindir
        self.account = service_account()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    @property
    def uri(self) -> str:
        """The SQLAlchemy URI MLflow's ``--backend-store-uri`` takes, naming its driver."""
        password = quote(self.password, safe="")
        return f"postgresql+psycopg://{self.user}:{password}@127.0.0.1:{self.port}/{self.database}"

    def describe(self) -> str:
        version = subprocess.run(
            [str(self._binary("pg_ctl")), "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[-1:]
        return f"PostgreSQL {' '.join(version)} (cluster in {self.root}, port {self.port})"

    def _binary(self, name: str) -> Path:
        return Path(str(self.bindir)) / name

    def start(self, timeout_s: int = 120) -> None:
        """Create the cluster if needed, start it and create the database; waits until ready."""
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initialize()
        # TCP on loopback only; no Unix socket (its path length is limited to 107 bytes).
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        self._pg_ctl("start", "-w", "-t", str(timeout_s), "-l", "postgres.log", "-o", options)
        self._create_database()

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are closed)."""
        if (self.data_dir / "postmaster.pid").is_file():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _initialize(self) -> None:
        if self.account:
            self._check_reachable_by_account()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        password_file = self.root / "password"
        password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o600)
        if self.account:
            account = pwd.getpwnam(self.account)
            for path in (self.root, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(
            self._binary("initdb"),
            *("-D", str(self.data_dir), "-U", self.user, "--pwfile", str(password_file)),
            *("--auth", "scram-sha-256", "--encoding", "UTF8", "--no-instructions"),
        )

    def _check_reachable_by_account(self) -> None:
        """Fail early, naming the folder, when the service account cannot reach `root`."""
        account = pwd.getpwnam(str(self.account))
        for folder in reversed(self.root.parents):
            if not folder.exists():
                break
            status = folder.stat()
            if status.st_uid != account.pw_uid and not status.st_mode & stat.S_IXOTH:
                raise ConfigError(
                    f"PostgreSQL runs as '{self.account}' here (it refuses root), and that "
                    f"account cannot enter '{folder}' on the way to '{self.root}'; set "
                    "postgres.root to a folder it can reach (e.g. under /var/tmp), or "
                    f"chmod o+x '{folder}'"
                )

    def _pg_ctl(self, *args: str) -> None:
        self._run(self._binary("pg_ctl"), "-D", str(self.data_dir), *args)

    def _run(self, *command: str | Path) -> None:
        account = pwd.getpwnam(self.account) if self.account else None
        result = subprocess.run(
            [str(part) for part in command],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            # as the service account (PostgreSQL refuses root), without root's groups
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )
        if result.returncode != 0:
            log_file = self.root / "postgres.log"
            server_log = log_file.read_text()[-2000:] if log_file.is_file() else ""
            raise PostgresError(
                f"{Path(command[0]).name} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}\n{server_log}\n"
                f"Check that {self.root} is writable by {self.account or 'you'} and that port "
                f"{self.port} is free (postgres.port=...)"
            )

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,  # CREATE DATABASE cannot run inside a transaction
        ) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                )


def choose_backend(backend: str) -> tuple[str, str | None]:
    """The backend to run (``postgres`` or ``sqlite``) and, for a fallback, why.

    Args:
        backend: ``auto`` (PostgreSQL when installed, else SQLite), ``postgres`` or ``sqlite``.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; available: {', '.join(BACKENDS)}")
    missing = postgres_missing_reason() if backend != "sqlite" else None
    if backend == "postgres" and missing:
        raise ConfigError(f"backend=postgres, but {missing}; or use backend=sqlite")
    if backend == "auto" and missing:
        return "sqlite", missing
    return ("sqlite", None) if backend == "sqlite" else ("postgres", None)


def mlflow_server_command(
    artifacts_destination: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 2,
    app_name: str | None = None,
) -> list[str]:
    """The ``mlflow server`` command line, artifacts proxied by the server.

    The backend store goes in the ``MLFLOW_BACKEND_STORE_URI`` environment variable rather
    than the command line, where every local user could read its password (``ps``). With
    ``--artifacts-destination`` clients never need the artifact store's credentials:
    artifacts travel through the server (``mlflow-artifacts:/`` URIs).
    """
    command = [sys.executable, "-m", "mlflow", "server"]
    command += ["--artifacts-destination", str(artifacts_destination)]
    command += ["--host", host, "--port", str(port), "--workers", str(workers)]
    if app_name:
        command += ["--app-name", app_name]
    return command


def server_environment(backend_store_uri: str, *, job_execution: bool = False) -> dict[str, str]:
    """The environment ``mlflow server`` runs in: this one, plus its backend store and whether
    MLflow's job runner starts.

    The job runner (huey consumer processes for MLflow's GenAI jobs) starts with every server
    unless switched off: about eight processes, 2 GB resident and half a minute of CPU before
    it is ready. DeepGuard submits no jobs, so it is off unless asked for.
    """
    return {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": backend_store_uri,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true" if job_execution else "false",
    }


@contextlib.contextmanager
def backend_store(cfg: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The backend store URI the server should use and a line saying what it is.

    A local PostgreSQL cluster is started here and stopped when the block ends.
    """
    if cfg.get("backend_store_uri"):
        uri = str(cfg["backend_store_uri"])
        yield uri, f"the database {uri.split('@')[-1]} (backend_store_uri)"
        return
    backend, fallback_reason = choose_backend(str(cfg.get("backend", "auto")))
    if backend == "sqlite":
        db_path = Path(cfg["sqlite_path"]).resolve()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        why = f"; not PostgreSQL: {fallback_reason}" if fallback_reason else ""
        yield f"sqlite:///{db_path}", f"SQLite ({db_path}){why}"
        return
    postgres = cfg.get("postgres") or {}
    with LocalPostgres(
        root=Path(postgres["root"]),
        port=int(postgres.get("port", 5433)),
        user=str(postgres.get("user", "mlflow")),
        database=str(postgres.get("database", "mlflow")),
    ) as cluster:
        yield cluster.uri, cluster.describe()


def run_tracking_server(cfg: Mapping[str, Any]) -> int:
    """Serve MLflow as `cfg` (``conf/tracking_server.yaml``) says until interrupted.

    Says which backend it runs on. Ctrl-C or SIGTERM stops the server, then the local
    PostgreSQL cluster. Returns the server's exit code.
    """
    from deepguard.tracking.run_status import install_sigterm_handler

    install_sigterm_handler()  # SIGTERM raises here too, so the finally blocks below run
    host, port = str(cfg.get("host", "127.0.0.1")), int(cfg.get("port", 5000))
    artifacts = Path(cfg["artifacts_destination"]).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    with backend_store(cfg) as (uri, description):
        print(f"MLflow tracking server on {description}", flush=True)
        print(f"Artifacts in {artifacts}", flush=True)
        print(f"Clients: export MLFLOW_TRACKING_URI=http://{host}:{port}", flush=True)
        command = mlflow_server_command(
            str(artifacts),
            host=host,
            port=port,
            workers=int(cfg.get("workers", 2)),
            app_name=cfg.get("app_name"),
        )
        env = server_environment(uri, job_execution=bool(cfg.get("job_execution", False)))
        server = subprocess.Popen(command, env=env)
        try:
            return server.wait()
        except KeyboardInterrupt:
            print("Stopping the tracking server", flush=True)
            return 0
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
