"""Which MLflow store the app reads, and what is registered in it.

The store is found exactly as training finds it: ``MLFLOW_TRACKING_URI`` when set, else the
project's ``sqlite:///<root>/mlruns/mlflow.db`` (root: ``DEEPGUARD_ROOT`` or the folder the app
was started from).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deepguard.tracking.registry import CHALLENGER, CHAMPION
from deepguard.tracking.store import make_client, resolve_tracking_uri, sqlite_path

TRAIN_COMMAND = "make train   # or: python scripts/train.py"
REGISTER_COMMAND = "python scripts/register.py run_id=<run id>"
DEFAULT_MODEL_NAME = "deepguard"
# Where a run's evaluation files sit among its artifacts, most specific first.
ARTIFACT_FOLDERS = ("evaluation", "")


def project_root() -> Path:
    """``DEEPGUARD_ROOT`` when set (as in conf/paths), else the current directory."""
    return Path(os.environ.get("DEEPGUARD_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    """The store training writes to: ``MLFLOW_TRACKING_URI``, else the project's SQLite store."""
    return resolve_tracking_uri(None, project_root())


@dataclass(frozen=True)
class ModelChoice:
    """One registered model version, as the app lists it."""

    name: str
    version: str
    run_id: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    created_ms: int = 0

    @property
    def uri(self) -> str:
        """The pinned URI the app loads (an alias could move while the page is open)."""
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.name} v{self.version}{aliases}"

    def metric(self, name: str) -> float | None:
        """A recorded test metric (``roc_auc`` reads the ``test_roc_auc`` tag), None if absent."""
        value = self.tags.get(name if name.startswith("test_") else f"test_{name}")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


@dataclass(frozen=True)
class StoreState:
    """What the app found: the versions, or why there are none (``problem``) and the fix."""

    tracking_uri: str
    versions: tuple[ModelChoice, ...] = ()
    problem: str | None = None
    fix: str | None = None


def read_store(uri: str) -> StoreState:
    """List every version of every registered model in the store at `uri`.

    A missing SQLite file is reported, never created: opening the app must not make an empty
    store that hides a wrong working directory.
    """
    from mlflow.exceptions import MlflowException

    db_path = sqlite_path(uri)
    if db_path is not None and not db_path.is_file():
        return StoreState(
            uri,
            problem=f"No MLflow tracking store at {db_path}: no model has been trained here yet.",
            fix=f"{TRAIN_COMMAND}\n# or point the app at your store:\n"
            "MLFLOW_TRACKING_URI=sqlite:///path/to/mlruns/mlflow.db make app",
        )
    try:
        client = make_client(uri)
        versions = []
        for model in client.search_registered_models():
            aliases_of: dict[str, list[str]] = {}
            for alias, version in (model.aliases or {}).items():
                aliases_of.setdefault(str(version), []).append(alias)
            for mv in client.search_model_versions(f"name = '{model.name}'"):
                versions.append(
                    ModelChoice(
                        name=model.name,
                        version=str(mv.version),
                        run_id=mv.run_id,
                        aliases=tuple(sorted(aliases_of.get(str(mv.version), []))),
                        tags=dict(mv.tags),
                        created_ms=int(mv.creation_timestamp or 0),
                    )
                )
    except MlflowException as error:
        return StoreState(
            uri,
            problem=f"The MLflow store at {uri} cannot be read: {error.message}",
            fix="check MLFLOW_TRACKING_URI (is the server running?), then reload the page",
        )
    if not versions:
        return StoreState(
            uri,
            problem=f"The MLflow store at {uri} has no registered model yet.",
            fix=(
                f"{TRAIN_COMMAND}\n"
                f"# or register a run trained with registry.enabled=false:\n{REGISTER_COMMAND}"
            ),
        )
    versions.sort(key=lambda v: (v.name != DEFAULT_MODEL_NAME, v.name, -int(v.version)))
    return StoreState(uri, versions=tuple(versions))


def default_selection(versions: tuple[ModelChoice, ...], count: int = 2) -> list[ModelChoice]:
    """The champion and challenger of the first model name, topped up with the newest."""
    if not versions:
        return []
    name = versions[0].name
    same_name = [v for v in versions if v.name == name]
    chosen = [v for alias in (CHAMPION, CHALLENGER) for v in same_name if alias in v.aliases]
    for version in same_name:
        if len(chosen) >= count:
            break
        if version not in chosen:
            chosen.append(version)
    unique = list({version.uri: version for version in chosen}.values())
    return unique[:count]


def download_run_file(uri: str, run_id: str, filename: str, dst: Path) -> Path | None:
    """Fetch a run's evaluation file (``evaluation/<file>`` or ``<file>``); None if absent."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client = make_client(uri)
    for folder in ARTIFACT_FOLDERS:
        listed = {a.path for a in client.list_artifacts(run_id, folder or None)}
        path = f"{folder}/{filename}" if folder else filename
        if path in listed:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=path, dst_path=str(dst), tracking_uri=uri
                )
            except MlflowException:
                return None
            return Path(local)
    return None


def find_dataset_folder(root: Path, max_depth: int = 3) -> Path | None:
    """The shallowest folder under ``root/data`` whose layout DeepGuard recognises, if any."""
    from deepguard.data import detect_layout
    from deepguard.errors import DataError

    level = [root / "data"]
    for _ in range(max_depth):
        for folder in level:
            try:
                detect_layout(folder)
            except (DataError, OSError):
                continue
            return folder
        level = sorted(child for folder in level for child in folder.glob("*") if child.is_dir())
    return None
