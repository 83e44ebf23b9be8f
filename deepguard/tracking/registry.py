"""The model registry: register a run's `.keras` model and move the `challenger` / `champion`
aliases. Aliases only; MLflow's deprecated stages are never used.

Rules:
- every registration becomes a new version and takes the ``challenger`` alias;
- ``champion`` moves to it only when there is no champion yet, when ``force`` is set, or when it
  beats the champion on `metric` and both were evaluated on the same data (same digest).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepguard.errors import ConfigError, ModelIntegrityError
from deepguard.tracking.mlflow_logger import (
    DATA_DIGEST_TAG,
    MODEL_ARTIFACT_DIR,
    MODEL_SHA256_TAG,
    SWEEP_ID_TAG,
)
from deepguard.tracking.selection import require_direction, require_validation_metric
from deepguard.tracking.store import make_client, resolve_tracking_uri

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
# Version tags recorded at registration (also what `load_model` reports as metadata).
VERSION_SHA256_TAG = "model_sha256"
VERSION_DIGEST_TAG = "data_digest"


# Metrics a version is compared on: the test metrics, and the means of evaluation suites.
PROMOTION_PREFIXES = ("test_", "suite_")
SUITE_DIGEST_TAG = "deepguard.suite_digest"


def metric_key(metric: str) -> str:
    """The run metric a registry metric names: ``roc_auc`` -> ``test_roc_auc``; suite means
    (``suite_<name>_mean_roc_auc``) are taken as they are."""
    return metric if metric.startswith(PROMOTION_PREFIXES) else f"test_{metric}"


def _eval_digest(run: Any, key: str = "") -> str | None:
    """The digest of the data `key` was measured on: a suite's digest for a suite mean, the
    test data's otherwise."""
    tags = run.data.tags
    if key.startswith("suite_") and "_mean_" in key:
        suite = key.removeprefix("suite_").rsplit("_mean_", 1)[0]
        return tags.get(f"{SUITE_DIGEST_TAG}.{suite}")
    return tags.get(f"{DATA_DIGEST_TAG}.test") or tags.get(DATA_DIGEST_TAG)


def _version_tags(run: Any, eval_digest: str | None) -> dict[str, str]:
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    version_tags = {
        f"{key}": f"{value:.6g}"
        for key, value in metrics.items()
        if key.startswith(PROMOTION_PREFIXES)
    }
    version_tags["run_id"] = run.info.run_id
    version_tags[VERSION_SHA256_TAG] = tags[MODEL_SHA256_TAG]
    if eval_digest:
        version_tags[VERSION_DIGEST_TAG] = eval_digest
    for tag, candidates in {
        "backbone": ("backbone.name", "backbone"),
        "image_size": ("data.image_size", "image_size"),
        "threshold": ("evaluation.threshold", "threshold"),
    }.items():
        value = next((params[c] for c in candidates if c in params), None)
        if tag == "threshold" and "test_threshold" in metrics:
            value = f"{metrics['test_threshold']:.6g}"
        if value is not None:
            version_tags[tag] = str(value)
    if SWEEP_ID_TAG in tags:
        version_tags["sweep_id"] = tags[SWEEP_ID_TAG]
    return version_tags


def _beats(candidate: float, champion: float, higher_is_better: bool) -> bool:
    return candidate > champion if higher_is_better else candidate < champion


def register_model(
    run_id: str,
    name: str = "deepguard",
    metric: str = "roc_auc",
    higher_is_better: bool = True,
    eval_digest: str | None = None,
    force: bool = False,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Register run `run_id`'s ``model/model.keras`` as a new version of model `name`.

    Args:
        run_id: an MLflow run logged by `MLflowLogger.log_model`.
        name: registered model name.
        metric: what champions are compared on (``roc_auc`` reads the run's ``test_roc_auc``).
        higher_is_better: direction of `metric`.
        eval_digest: digest of the evaluation data; None reads the run's data digest tag.
        force: make this version champion whatever the comparison says.
        tracking_uri: the store (None: ``MLFLOW_TRACKING_URI`` or the default store).

    Returns:
        ``{"name", "version", "run_id", "aliases_moved": [...], "champion_version", "reason"}``.

    Example:
        >>> register_model(run_id, name="deepguard", metric="roc_auc")["aliases_moved"]
        ['challenger', 'champion']
    """
    client = make_client(resolve_tracking_uri(tracking_uri))
    run = _registrable_run(client, run_id)
    key = metric_key(metric)
    candidate_value = run.data.metrics.get(key)
    if candidate_value is None and not force:
        raise ConfigError(
            f"run '{run_id}' has no metric '{key}' to compare on; available: "
            f"{', '.join(sorted(run.data.metrics)) or 'none'}; "
            "pick metric=<one of them> or force=true"
        )
    eval_digest = eval_digest or _eval_digest(run, key)
    champion = _champion_of(client, name)
    source = f"{run.info.artifact_uri}/{MODEL_ARTIFACT_DIR}"
    tags = _version_tags(run, eval_digest)
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags).version
    client.set_registered_model_alias(name, CHALLENGER, version)
    moved = [CHALLENGER]
    promote, reason = _should_promote(
        champion, candidate_value, eval_digest, key, higher_is_better, force
    )
    if promote:
        client.set_registered_model_alias(name, CHAMPION, version)
        moved.append(CHAMPION)
    log.info("registered %s version %s: %s", name, version, reason)
    return {
        "name": name,
        "version": str(version),
        "run_id": run_id,
        "aliases_moved": moved,
        "champion_version": str(version if promote else champion.version),
        "reason": reason,
    }


def _registrable_run(client: Any, run_id: str) -> Any:
    """The run, if it exists and logged a DeepGuard model; a `DeepGuardError` otherwise."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise ConfigError(
            f"run '{run_id}' not found in {client.tracking_uri}: {error.message}; copy the run "
            "id from the training output or `mlflow ui`, or set tracking_uri"
        ) from error
    if MODEL_SHA256_TAG not in run.data.tags:
        raise ModelIntegrityError(
            f"run '{run_id}' has no '{MODEL_SHA256_TAG}' tag: it logged no model with "
            "DeepGuard's logger (logger.log_model=false?); train with logger=mlflow first"
        )
    return run


def _champion_of(client: Any, name: str) -> Any:
    """The current champion version of `name` (None if none), creating the model if new."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return _alias_version(client, name, CHAMPION)


def _alias_version(client: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _should_promote(
    champion: Any,
    candidate_value: float | None,
    eval_digest: str | None,
    key: str,
    higher_is_better: bool,
    force: bool,
) -> tuple[bool, str]:
    if force:
        return True, "forced promotion to champion"
    if champion is None:
        return True, "no champion yet: the first candidate becomes champion"
    champion_digest = champion.tags.get(VERSION_DIGEST_TAG)
    if not eval_digest or champion_digest != eval_digest:
        return False, (
            f"champion v{champion.version} was evaluated on data digest {champion_digest}, the "
            f"candidate on {eval_digest}: not comparable, champion kept (evaluate both on the "
            "same data, or force=true)"
        )
    if candidate_value is None:
        return False, f"the candidate has no '{key}': champion kept (force=true to move)"
    champion_value = float(champion.tags.get(key, "nan"))
    if math.isnan(champion_value):
        return False, f"champion v{champion.version} has no '{key}' tag: kept (force=true to move)"
    if _beats(candidate_value, champion_value, higher_is_better):
        return True, f"{key} {candidate_value:.4f} beats champion's {champion_value:.4f}"
    return False, f"{key} {candidate_value:.4f} does not beat champion's {champion_value:.4f}"


def best_run_of_sweep(
    sweep_id: str,
    metric: str = "val_auc",
    higher_is_better: bool = True,
    tracking_uri: str | None = None,
) -> str:
    """The id of the FINISHED run of sweep `sweep_id` with the best validation `metric`.

    Only runs that logged a model count. A ``test_`` metric is refused: picking the best job
    by its test score would make the test numbers of the registered model optimistic.
    """
    require_validation_metric(metric, "select_metric")
    client = make_client(resolve_tracking_uri(tracking_uri))
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    order = "DESC" if higher_is_better else "ASC"
    runs = client.search_runs(
        experiment_ids,
        filter_string=f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}' and attributes.status = 'FINISHED'",
        order_by=[f"metrics.`{metric}` {order}"],
    )
    candidates = [r for r in runs if metric in r.data.metrics and MODEL_SHA256_TAG in r.data.tags]
    if not candidates:
        raise ConfigError(
            f"sweep '{sweep_id}' has no FINISHED run with metric '{metric}' and a logged model "
            f"({len(runs)} finished runs found); check the sweep id (tag {SWEEP_ID_TAG}) and "
            "select_metric"
        )
    return candidates[0].info.run_id


def read_run_file(path: str | Path) -> str:
    """The run id in a training run's ``run.json`` (written next to its model.keras)."""
    run_file = Path(path)
    if not run_file.is_file():
        raise ConfigError(
            f"run_file '{run_file}' does not exist; train with logger=mlflow first, which "
            "writes run.json into the run's output folder"
        )
    return json.loads(run_file.read_text())["run_id"]


def register_from_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What `scripts/register.py` does with a composed ``conf/register.yaml``.

    Exactly one of ``run_id``, ``run_file`` or ``sweep`` names the run; a sweep's best job is
    chosen on ``select_metric`` (a validation metric). Writes the outcome to ``out`` if set.

    Returns:
        `register_model`'s summary.
    """
    given = {key: cfg.get(key) for key in ("run_id", "sweep", "run_file")}
    if sum(bool(value) for value in given.values()) != 1:
        raise ConfigError(
            "give exactly one of run_id=<MLflow run id>, sweep=<sweep id> or "
            "run_file=<run.json of a training run>; got "
            + " ".join(f"{key}={value}" for key, value in given.items())
        )
    tracking_uri = resolve_tracking_uri(cfg.get("tracking_uri"), cfg.get("root_dir") or ".")
    if cfg.get("run_file"):
        run_id = read_run_file(cfg["run_file"])
    elif cfg.get("sweep"):
        direction = require_direction(cfg.get("select_direction", "maximize"), "select_direction")
        run_id = best_run_of_sweep(
            str(cfg["sweep"]),
            cfg.get("select_metric", "val_auc"),
            direction == "maximize",
            tracking_uri,
        )
    else:
        run_id = str(cfg["run_id"])
    outcome = register_model(
        run_id,
        name=cfg.get("name", "deepguard"),
        metric=cfg.get("metric", "roc_auc"),
        higher_is_better=cfg.get("higher_is_better", True),
        eval_digest=cfg.get("eval_digest"),
        force=bool(cfg.get("force", False)),
        tracking_uri=tracking_uri,
    )
    if cfg.get("out"):
        Path(cfg["out"]).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg["out"]).write_text(json.dumps(outcome, indent=2) + "\n")
    return outcome
