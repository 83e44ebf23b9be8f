"""`CSVLogger`: a run recorded as plain files in one folder (``logger=csv``), no MLflow.

The run's own record (name, status, tags, datasets, model) is ``run_record.json``; the
``run.json`` beside it belongs to the training entry point (which run this folder holds), so
each file has one writer and says one thing.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

from deepguard.tracking.loading import file_sha256
from deepguard.tracking.logger import Logger
from deepguard.tracking.mlflow_logger import flatten_config
from deepguard.tracking.run_status import FINISHED, KILLED, process_is_gone, process_tags

RECORD_FILE = "run_record.json"


class CSVLogger(Logger):
    """Writes ``metrics.csv`` (step, name, value), ``params.json``, ``run_record.json`` and
    artifacts.

    A record left RUNNING in a sibling folder by a process that is gone (``kill -9``) is closed
    as KILLED when the next run starts.

    Args:
        save_dir: folder of the run (usually the Hydra output directory).

    Example:
        >>> logger = CSVLogger("outputs/run1")
        >>> logger.start("run1", {"lr": 0.001}, tags={})
        >>> logger.log_metrics({"val_loss": 0.3}, step=1)
        >>> logger.finish()
    """

    def __init__(self, save_dir: str | Path = "."):
        self.save_dir = Path(save_dir)
        self.run_id: str | None = None
        self._run: dict[str, Any] = {}

    def start(
        self,
        run_name: str,
        config: dict[str, Any],
        tags: dict[str, str],
        run_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        self.save_dir.mkdir(parents=True, exist_ok=True)
        close_stale_records(self.save_dir.parent)
        self.run_id = run_id or run_name
        self._run = {
            "run_id": self.run_id,
            "run_name": run_name,
            "status": "RUNNING",
            "tags": {str(k): str(v) for k, v in (tags or {}).items()} | process_tags(),
            "parent_run_id": parent_run_id,
        }
        self._write_run()
        self.log_params(flatten_config(config))

    def _write_run(self) -> None:
        (self.save_dir / RECORD_FILE).write_text(json.dumps(self._run, indent=2))

    def log_params(self, params: dict[str, Any]) -> None:
        path = self.save_dir / "params.json"
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing.update({str(k): str(v) for k, v in params.items()})
        path.write_text(json.dumps(existing, indent=2, sort_keys=True))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        path = self.save_dir / "metrics.csv"
        new_file = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(["step", "name", "value"])
            for name, value in metrics.items():
                value = float(value)
                if math.isfinite(value):
                    writer.writerow([int(step or 0), name, value])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        target = self.save_dir / "artifacts" / (artifact_path or "")
        save_dir = self.save_dir.resolve()
        if path.resolve() == save_dir or save_dir in path.resolve().parents:
            return  # already inside the run folder (copying would recurse into itself)
        target.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target / path.name, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target / path.name)

    def log_dataset(self, records: Any, name: str, digest: str, context: str) -> None:
        datasets = self._run.setdefault("datasets", [])
        datasets.append({"name": name, "digest": digest, "context": context, "rows": len(records)})
        self._write_run()

    def log_model(self, keras_path: str | Path, input_example: Any = None) -> None:
        self._run["model"] = {
            "path": str(Path(keras_path).resolve()),
            "sha256": file_sha256(keras_path),
        }
        self._write_run()

    def describe(self) -> str:
        return f"run recorded as files in {self.save_dir.resolve()} (metrics.csv, params.json)"

    def finish(self, status: str = FINISHED) -> None:
        if self._run.get("status") != "RUNNING":
            return
        self._run["status"] = status
        self._write_run()


def close_stale_records(runs_dir: Path) -> list[Path]:
    """Mark KILLED the RUNNING records in `runs_dir`'s sub-folders whose process is gone."""
    closed = []
    for path in sorted(runs_dir.glob(f"*/{RECORD_FILE}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a record being written right now, or not ours
        if record.get("status") == "RUNNING" and process_is_gone(record.get("tags", {})):
            record["status"] = KILLED
            path.write_text(json.dumps(record, indent=2))
            closed.append(path)
    return closed
