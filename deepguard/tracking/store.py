"""Where runs are stored: the project's default MLflow store, and race-free experiment setup.

The default store is an embedded SQLite database, ``<root>/mlruns/mlflow.db``, with artifacts
under ``<root>/mlruns/artifacts``. ``MLFLOW_TRACKING_URI`` (read, never written) or an explicit
``tracking_uri`` point DeepGuard at an ``mlflow server`` instead.

SQLite and several processes: MLflow opens every session with ``PRAGMA busy_timeout = 20000``
(20 s), so concurrent writes of parallel sweep jobs wait instead of failing with "database is
locked". The two races that remain are both at set-up: two processes creating the tables of a
fresh database, and two processes creating the same experiment. `ensure_experiment` closes
both: it serializes store creation with a lock file next to the database and retries
experiment creation on a conflict; sweeps call it once in the launching process before any
job starts.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from deepguard.errors import ConfigError

DEFAULT_EXPERIMENT = "deepguard"
STORE_DIRNAME = "mlruns"
DB_FILENAME = "mlflow.db"
ARTIFACTS_DIRNAME = "artifacts"


def default_tracking_uri(root_dir: str | Path) -> str:
    """The project's embedded store: ``sqlite:///<root>/mlruns/mlflow.db`` (absolute path)."""
    db_path = Path(root_dir).resolve() / STORE_DIRNAME / DB_FILENAME
    return f"sqlite:///{db_path}"


def default_artifact_location(tracking_uri: str) -> str | None:
    """Artifact folder beside a local SQLite database, None for servers (they decide)."""
    db_path = sqlite_path(tracking_uri)
    if db_path is None:
        return None
    return (db_path.parent / ARTIFACTS_DIRNAME).as_uri()


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, None for any other URI."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return Path(tracking_uri.removeprefix("sqlite:///"))


def default_root_dir() -> Path:
    """Where the default store lives when no root is configured: the directory the command was
    started in (Hydra's ``runtime.cwd`` inside a Hydra job, even with ``hydra.job.chdir``)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.cwd)
    return Path.cwd()


def resolve_tracking_uri(tracking_uri: str | None = None, root_dir: str | Path = ".") -> str:
    """Pick the store: the explicit URI, else ``MLFLOW_TRACKING_URI``, else the default store.

    Args:
        tracking_uri: ``logger.tracking_uri`` from the config (None when not set).
        root_dir: the project root holding ``mlruns/`` for the default store.
    """
    if tracking_uri:
        return str(tracking_uri)
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    return default_tracking_uri(root_dir)


@contextlib.contextmanager
def store_lock(tracking_uri: str, timeout_s: float = 120.0) -> Iterator[None]:
    """Serialize store set-up across processes for a local SQLite store (no-op otherwise).

    A lock file beside the database (``mlflow.db.lock``) is held with ``fcntl.flock``; on
    platforms without ``fcntl`` the retries in `ensure_experiment` are the only guard.
    """
    db_path = sqlite_path(tracking_uri)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks in the standard library
        fcntl = None  # type: ignore[assignment]
    if db_path is None or fcntl is None:
        yield
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    deadline = time.monotonic() + timeout_s
    with open(lock_path, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"waited {timeout_s:.0f} s for the MLflow store lock '{lock_path}'; "
                        "another process holds it: wait for it or remove a stale lock holder"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_client(tracking_uri: str):
    """An `MlflowClient` for the store, created under the store lock (tables made once)."""
    from mlflow.tracking import MlflowClient

    with store_lock(tracking_uri):
        client = MlflowClient(tracking_uri=tracking_uri)
        # The tracking store (and a fresh database's tables) is built lazily: force it here,
        # while the lock is held, so concurrent first users never run the migrations twice.
        client.search_experiments(max_results=1)
    return client


def ensure_experiment(
    name: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    artifact_location: str | None = None,
    retries: int = 5,
) -> str:
    """Return the id of experiment `name`, creating it if missing; safe to call concurrently.

    Args:
        name: experiment name.
        tracking_uri: the store (None: `resolve_tracking_uri`).
        artifact_location: where the experiment's artifacts go when it is created; None uses
            ``<store>/artifacts`` for a local SQLite store and the server's default otherwise.
        retries: attempts when another process creates the experiment at the same moment.

    Example:
        >>> experiment_id = ensure_experiment("deepguard", "sqlite:///mlruns/mlflow.db")
    """
    from mlflow.exceptions import MlflowException

    if not name:
        raise ConfigError("experiment name is empty; set logger.experiment_name")
    tracking_uri = resolve_tracking_uri(tracking_uri)
    if artifact_location is None:
        artifact_location = default_artifact_location(tracking_uri)
    client = make_client(tracking_uri)
    last_error: Exception | None = None
    for attempt in range(retries):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                raise ConfigError(
                    f"experiment '{name}' is deleted in {tracking_uri}; restore it "
                    f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) "
                    "or pick another logger.experiment_name"
                )
            return experiment.experiment_id
        try:
            with store_lock(tracking_uri):
                if client.get_experiment_by_name(name) is None:
                    return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as error:  # created by another process in between
            last_error = error
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(
        f"could not create or find experiment '{name}' in {tracking_uri} after {retries} "
        f"attempts: {last_error}"
    ) from last_error
