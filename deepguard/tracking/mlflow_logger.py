"""`MLflowLogger`: one training run recorded in MLflow (the default logger, ``logger=mlflow``).

Everything goes through an explicit `MlflowClient`: no global tracking URI, no active-run
state, so several loggers (and tests) can live in one process.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from deepguard.tracking.loading import file_sha256
from deepguard.tracking.logger import Logger
from deepguard.tracking.run_status import FINISHED, close_stale_runs, process_tags
from deepguard.tracking.store import (
    default_root_dir,
    ensure_experiment,
    make_client,
    resolve_tracking_uri,
)

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation): longer param values are cut, longer keys skipped.
MAX_PARAM_VALUE_CHARS = 6000
MAX_KEY_CHARS = 250
TRUNCATION_NOTE = "...[truncated]"
SWEEP_ID_TAG = "deepguard.sweep_id"
MODEL_ARTIFACT_DIR = "model"
MODEL_FILENAME = "model.keras"
MODEL_SHA256_TAG = "deepguard.model_sha256"
DATA_DIGEST_TAG = "deepguard.data_digest"
PARENT_RUN_TAG = "mlflow.parentRunId"
MLFLOW_DIGEST_CHARS = 36


def flatten_config(config: Any) -> dict[str, str]:
    """Flatten a nested config (dict or DictConfig) to ``{"a.b.c": "value"}`` strings.

    Lists are kept whole as one value; ``None`` becomes ``"None"`` as MLflow shows it.
    """
    import pandas as pd
    from omegaconf import DictConfig, OmegaConf

    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    if not config:
        return {}
    flat = pd.json_normalize(config, sep=".").iloc[0].to_dict()
    return {str(key): str(value) for key, value in flat.items()}


def sanitize_metric_name(name: str) -> str:
    """MLflow accepts letters, digits, ``_ - . / `` and spaces; anything else becomes ``_``."""
    return re.sub(r"[^\w\-./ ]", "_", str(name))[:MAX_KEY_CHARS]


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit of `cwd`, or None outside a repository or without git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


class MLflowLogger(Logger):
    """Records a run in MLflow: params, per-epoch metrics, dataset lineage, config, model.

    Args:
        tracking_uri: the store; None reads ``MLFLOW_TRACKING_URI``, else the project's
            default store ``sqlite:///<root_dir>/mlruns/mlflow.db``.
        experiment_name: MLflow experiment, created when missing.
        run_name: overrides the run name the trainer passes (None keeps it).
        tags: extra tags on every run.
        log_model: record the `.keras` model (False skips `log_model`, e.g. for sweeps).
        root_dir: project root holding ``mlruns/`` for the default store (None: the directory
            the command was started in).

    Example:
        >>> logger = MLflowLogger(tracking_uri="sqlite:///mlruns/mlflow.db")
        >>> logger.start("demo", {"trainer": {"max_epochs": 2}}, tags={})
        >>> logger.log_metrics({"val_loss": 0.3}, step=1)
        >>> logger.finish("FINISHED")
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "deepguard",
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        log_model: bool = True,
        root_dir: str | Path | None = None,
    ):
        self.tracking_uri = resolve_tracking_uri(tracking_uri, root_dir or default_root_dir())
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.log_model_enabled = bool(log_model)
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.status: str | None = None
        self._client: Any = None

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.tracking_uri)
        return self._client

    def start(
        self,
        run_name: str,
        config: dict[str, Any],
        tags: dict[str, str],
        run_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        self.experiment_id = ensure_experiment(self.experiment_name, self.tracking_uri)
        # A run whose process died (kill -9, power loss) is closed now, by the next start.
        close_stale_runs(self.client, self.experiment_id, keep=run_id)
        all_tags = {**self.tags, **{str(k): str(v) for k, v in (tags or {}).items()}}
        all_tags |= process_tags()
        if parent_run_id:
            all_tags[PARENT_RUN_TAG] = parent_run_id
            parent_tags = self.client.get_run(parent_run_id).data.tags
            if SWEEP_ID_TAG in parent_tags:
                all_tags.setdefault(SWEEP_ID_TAG, parent_tags[SWEEP_ID_TAG])
        commit = git_commit()
        if commit:
            all_tags.setdefault("mlflow.source.git.commit", commit)
        name = self.run_name or run_name
        if run_id:
            self._resume(run_id)
        else:
            run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
            self.run_id = run.info.run_id
        self.status = "RUNNING"
        if run_id and all_tags:
            self._set_tags(all_tags)
        self.log_params(flatten_config(config))
        self._log_config(config)

    def _resume(self, run_id: str) -> None:
        run = self.client.get_run(run_id)
        if run.info.experiment_id != self.experiment_id:
            log.warning(
                "resuming run %s of experiment %s (logger.experiment_name points at %s)",
                run_id,
                run.info.experiment_id,
                self.experiment_id,
            )
            self.experiment_id = run.info.experiment_id
        self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def _set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        batch, truncated, changed = [], [], []
        for key, value in params.items():
            key, value = str(key), str(value)
            if len(key) > MAX_KEY_CHARS:
                truncated.append(key[:60] + "...")
                continue
            if len(value) > MAX_PARAM_VALUE_CHARS:
                value = value[: MAX_PARAM_VALUE_CHARS - len(TRUNCATION_NOTE)] + TRUNCATION_NOTE
                truncated.append(key)
            if key in existing:  # a resumed run: MLflow params are write-once
                if existing[key] != value:
                    changed.append(key)
                continue
            batch.append(Param(key, value))
        if batch:
            self.client.log_batch(self.run_id, params=batch)
        notes = {}
        if truncated:
            notes["deepguard.truncated_params"] = ", ".join(truncated)[:MAX_PARAM_VALUE_CHARS]
        if changed:
            # Keep the first value (MLflow cannot overwrite a param) and say so on the run.
            notes["deepguard.changed_params_on_resume"] = ", ".join(changed)[:6000]
            log.warning("params changed since the run was started, kept the old: %s", changed)
        if notes:
            self._set_tags(notes)

    def _log_config(self, config: Any) -> None:
        from omegaconf import OmegaConf

        text = OmegaConf.to_yaml(OmegaConf.create(config), resolve=True)
        self.client.log_text(self.run_id, text, "config.yaml")

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        batch = []
        for name, value in metrics.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):  # NaN/inf would break plots and comparisons
                continue
            batch.append(Metric(sanitize_metric_name(name), value, now_ms, int(step or 0)))
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_dataset(self, records: Any, name: str, digest: str, context: str) -> None:
        """Record `records` as an MLflow dataset input with `digest`; tags the run with it.

        Sets ``deepguard.data_digest.<context>`` and, for the first dataset logged,
        ``deepguard.data_digest`` (what the registry compares champions on).
        """
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.entities import Dataset, DatasetInput, InputTag

        source = _dataset_source(records)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # source-type ambiguity and integer-column hints
            # MLflow caps dataset digests at 36 characters; the full one goes in the tags.
            dataset = from_pandas(
                records, source=source, name=name, digest=digest[:MLFLOW_DIGEST_CHARS]
            )
            entity = Dataset(**dataset.to_dict())
        self.client.log_inputs(
            self.run_id,
            datasets=[DatasetInput(entity, tags=[InputTag("mlflow.data.context", context)])],
        )
        tags = {f"{DATA_DIGEST_TAG}.{context}": digest}
        if DATA_DIGEST_TAG not in self.client.get_run(self.run_id).data.tags:
            tags[DATA_DIGEST_TAG] = digest
        self._set_tags(tags)

    def log_model(self, keras_path: str | Path, input_example: Any = None) -> None:
        """Log the `.keras` file as ``model/model.keras`` with its sha256, signature, example."""
        if not self.log_model_enabled:
            return
        keras_path = Path(keras_path)
        if keras_path.suffix != ".keras" or not keras_path.is_file():
            raise ValueError(f"log_model expects an existing '.keras' file, got '{keras_path}'")
        sha256 = file_sha256(keras_path)
        with tempfile.TemporaryDirectory(prefix="deepguard-model-") as tmp:
            staged = Path(tmp)
            shutil.copyfile(keras_path, staged / MODEL_FILENAME)
            if input_example is not None:
                _write_signature(staged, input_example)
            self.client.log_artifacts(self.run_id, str(staged), MODEL_ARTIFACT_DIR)
        self._set_tags({MODEL_SHA256_TAG: sha256})

    def describe(self) -> str:
        if self.run_id is None:
            return f"MLflow logger for {self.tracking_uri} (no run started)"
        if self.tracking_uri.startswith(("http://", "https://")):
            where = (
                f"open {self.tracking_uri}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
            )
        else:
            where = f"browse with: mlflow ui --backend-store-uri {self.tracking_uri}"
        return f"MLflow run {self.run_id} in experiment '{self.experiment_name}'; {where}"

    def finish(self, status: str = FINISHED) -> None:
        if self.run_id is None or self.status != "RUNNING":
            return  # never started, or already ended: finishing twice is harmless
        self.client.set_terminated(self.run_id, status=status)
        self.status = status


def _dataset_source(records: Any) -> str:
    """The folder the records live in (their common path), or ``"unknown"``."""
    import os

    paths = getattr(records, "get", lambda _key: None)("path")
    if paths is None or len(paths) == 0:
        return "unknown"
    try:
        return os.path.commonpath([str(p) for p in paths])
    except ValueError:  # mixed drives or relative and absolute paths
        return "unknown"


def _write_signature(folder: Path, input_example: Any) -> None:
    """Write ``signature.json`` (MLflow's signature dict) and ``input_example.npy``."""
    import numpy as np
    from mlflow.models import infer_signature
    from mlflow.types import Schema, TensorSpec

    example = np.asarray(input_example, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(example)
    # The detector's output: one probability of fake per image.
    signature.outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, 1), name="p_fake")])
    (folder / "signature.json").write_text(json.dumps(signature.to_dict(), indent=2))
    np.save(folder / "input_example.npy", example, allow_pickle=False)


def annotate_run(
    run_id: str,
    tracking_uri: str | None,
    metrics: dict[str, float],
    tags: dict[str, str],
    files: list[Path],
    artifact_path: str,
) -> bool:
    """Add metrics, tags and files to an existing (usually finished) run, e.g. a model's run
    after a later evaluation. Returns False, with a warning, when the run is not in the store.
    """
    from mlflow.entities import Metric, RunTag
    from mlflow.exceptions import MlflowException

    client = make_client(resolve_tracking_uri(tracking_uri))
    now_ms = int(time.time() * 1000)
    finite = {name: float(v) for name, v in metrics.items() if math.isfinite(float(v))}
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(sanitize_metric_name(k), v, now_ms, 0) for k, v in finite.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        for path in files:
            client.log_artifact(run_id, str(path), artifact_path)
    except MlflowException as error:
        log.warning("could not record on run %s in %s: %s", run_id, client.tracking_uri, error)
        return False
    return True
