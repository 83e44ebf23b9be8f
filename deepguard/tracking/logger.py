"""The logger interface the trainer talks to; `conf/logger/*.yaml` pick an implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Logger:
    """Records one training run. The base class records nothing (``logger=none``).

    The trainer calls, in order: ``start``, then any of the ``log_*`` methods, then ``finish``
    exactly once, with ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``.
    """

    run_id: str | None = None

    def start(
        self,
        run_name: str,
        config: dict[str, Any],
        tags: dict[str, str],
        run_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        """Open the run and record the resolved config (nested dict) and tags.

        Args:
            run_name: display name of the run.
            config: the resolved config as a nested dict (or a DictConfig).
            tags: string tags; `deepguard.tracking.sweep.job_tags_from_hydra` adds a sweep
                job's overrides and its parent run.
            run_id: resume this existing run instead of creating one (crash recovery).
            parent_run_id: make the run a child of this run (a sweep's parent run).
        """

    def log_params(self, params: dict[str, Any]) -> None:
        """Record flat parameters."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record scalar metrics, per epoch when `step` is given."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a file (or a directory's files) into the run."""

    def log_dataset(self, records: Any, name: str, digest: str, context: str) -> None:
        """Record dataset lineage: the record table, its content digest and its role."""

    def log_model(self, keras_path: str | Path, input_example: Any = None) -> None:
        """Record the trained `.keras` file, its sha256, signature and an input example."""

    def describe(self) -> str:
        """A line telling the user where the run can be found."""
        return "not tracked (logger=none)"

    def finish(self, status: str = "FINISHED") -> None:
        """Close the run with its final status."""


class NullLogger(Logger):
    """Records nothing: for debug presets and quick tries."""
