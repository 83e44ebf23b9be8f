"""Hydra multirun sweeps in MLflow: one parent run per sweep, one child run per job, and a
comparison table at the end.

`MLflowSweepCallback` runs in the launching process. Before any job starts it creates the
experiment (so parallel joblib workers never race to create it or the database tables) and a
parent run, and writes ``<sweep dir>/sweep.json`` with the parent run id. Each job reads that
file through `job_tags_from_hydra`, whose tags make the job's run a child of the parent
(``mlflow.parentRunId``) and record its overrides. When the sweep ends the callback lists the
child runs, prints a table sorted by the optimized metric (failed jobs included), logs it on the
parent run as ``comparison.csv`` and ``comparison.md`` and ends the parent run.

The table is sorted by a validation metric only (`deepguard.tracking.selection`): the test
metrics stand beside it for reading, never for choosing.

If the sweep stops with an error (Hydra's basic sweeper raises after a batch in which a job
failed, once every job of the batch has run), the table is still written and the parent run
ends FAILED when the process exits.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from deepguard.tracking.mlflow_logger import PARENT_RUN_TAG, SWEEP_ID_TAG
from deepguard.tracking.run_status import close_stale_runs, process_tags
from deepguard.tracking.selection import (
    TEST_PREFIX,
    VALIDATION_PREFIX,
    require_direction,
    require_validation_metric,
)
from deepguard.tracking.store import (
    default_root_dir,
    ensure_experiment,
    make_client,
    resolve_tracking_uri,
)

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
OVERRIDES_TAG = "deepguard.overrides"
JOB_NUM_TAG = "deepguard.job_num"
OVERRIDE_TAG_PREFIX = "override."


def job_tags_from_hydra() -> dict[str, str]:
    """Tags for the current Hydra job: its overrides and, inside a sweep, its parent run.

    Returns an empty dict outside Hydra. In a multirun whose sweep directory holds the
    callback's ``sweep.json``, adds ``mlflow.parentRunId`` and ``deepguard.sweep_id``.

    Example:
        >>> logger.start(run_name, config, tags={**own_tags, **job_tags_from_hydra()})
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return {}
    hydra_cfg = HydraConfig.get()
    overrides = [str(o) for o in hydra_cfg.overrides.task]
    tags = {OVERRIDES_TAG: " ".join(overrides)}
    for override in overrides:
        key, _, value = override.partition("=")
        tags[OVERRIDE_TAG_PREFIX + key.lstrip("+~")] = value
    if hydra_cfg.mode == RunMode.MULTIRUN:
        tags[JOB_NUM_TAG] = str(hydra_cfg.job.num)
        sweep = read_sweep_file(hydra_cfg.sweep.dir)
        if sweep:
            tags[PARENT_RUN_TAG] = sweep["parent_run_id"]
            tags[SWEEP_ID_TAG] = sweep["sweep_id"]
    return tags


def read_sweep_file(sweep_dir: str | Path) -> dict[str, str] | None:
    """The ``sweep.json`` the callback wrote in `sweep_dir`, or None."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


class MLflowSweepCallback(Callback):
    """Groups a multirun's jobs under one MLflow parent run and compares them at the end.

    Args:
        tracking_uri: the store (None: ``MLFLOW_TRACKING_URI`` or the default store).
        experiment_name: experiment of the parent and child runs.
        root_dir: project root of the default store (None: where the command started).
        metric: the optimized metric the table is sorted by: a validation metric
            (``val_auc``); a ``test_`` metric is refused before any job starts.
        direction: ``maximize`` or ``minimize``.
        logger_target: the ``_target_`` of the configured logger; the callback does nothing
            unless it is an `MLflowLogger` (``logger=csv`` or ``none`` sweeps are not tracked).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "deepguard",
        root_dir: str | None = None,
        metric: str = "val_auc",
        direction: str = "maximize",
        logger_target: str | None = "deepguard.tracking.mlflow_logger.MLflowLogger",
    ):
        # Checked whatever the logger: a sweep must not tune on the test split, tracked or not.
        require_validation_metric(metric)
        require_direction(direction, "the sweep's direction")
        self.tracking_uri = resolve_tracking_uri(tracking_uri, root_dir or default_root_dir())
        self.experiment_name = experiment_name
        self.metric = metric
        self.direction = direction
        self.enabled = bool(logger_target) and str(logger_target).endswith("MLflowLogger")
        self.parent_run_id: str | None = None
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        experiment_id = ensure_experiment(self.experiment_name, self.tracking_uri)
        sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        overrides = " ".join(str(o) for o in config.hydra.overrides.task)
        client = make_client(self.tracking_uri)
        close_stale_runs(client, experiment_id)  # e.g. the parent of a sweep killed with -9
        run = client.create_run(
            experiment_id,
            run_name=f"sweep-{sweep_id}",
            tags={
                SWEEP_ID_TAG: sweep_id,
                OVERRIDES_TAG: overrides,
                "deepguard.role": "sweep",
                **process_tags(),
            },
        )
        self.parent_run_id = run.info.run_id
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        sweep = {
            "sweep_id": sweep_id,
            "parent_run_id": self.parent_run_id,
            "tracking_uri": self.tracking_uri,
            "experiment_id": experiment_id,
        }
        (self.sweep_dir / SWEEP_FILE).write_text(json.dumps(sweep, indent=2))
        # A sweep that stops with an error never reaches on_multirun_end: close it at exit.
        atexit.register(self._close, "FAILED")
        log.info("sweep %s: parent MLflow run %s", sweep_id, self.parent_run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        if self.parent_run_id is None:
            return
        parent_run_id, self.parent_run_id = self.parent_run_id, None  # close once
        client = make_client(self.tracking_uri)
        table = comparison_table(client, parent_run_id, self.metric, self.direction)
        markdown = to_markdown(table)
        print(
            f"\nSweep comparison (sorted by {self.metric}, {self.direction}; test metrics are "
            f"shown, not used to choose):\n{markdown}\n"
        )
        client.log_text(parent_run_id, table.to_csv(index=False), "comparison.csv")
        client.log_text(parent_run_id, markdown + "\n", "comparison.md")
        if self.sweep_dir is not None:
            table.to_csv(self.sweep_dir / "comparison.csv", index=False)
        finished = table[table["status"] == "FINISHED"]
        tags = {
            "deepguard.jobs": str(len(table)),
            "deepguard.failed_jobs": str(len(table) - len(finished)),
        }
        if len(finished) and not math.isnan(finished.iloc[0][self.metric]):
            best = finished.iloc[0]
            tags["deepguard.best_run_id"] = best["run_id"]
            client.log_metric(parent_run_id, f"best_{self.metric}", float(best[self.metric]))
        for key, value in tags.items():
            client.set_tag(parent_run_id, key, value)
        if status != "FINISHED" and (table["status"] == "KILLED").any():
            status = "KILLED"  # a job was stopped (SIGTERM, Ctrl-C), which stopped the sweep
        client.set_terminated(parent_run_id, status=status)


def comparison_table(client: Any, parent_run_id: str, metric: str, direction: str = "maximize"):
    """One row per child run of `parent_run_id`: job, status, overrides, metrics, run id.

    Sorted by `metric` (a validation metric, best first), runs without it (failed jobs) last;
    the other validation metrics follow it, then the test metrics, reported beside them.
    """
    import pandas as pd

    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`{PARENT_RUN_TAG}` = '{parent_run_id}'"
    )
    rows = []
    for run in children:
        tags, metrics = run.data.tags, run.data.metrics
        row = {
            "job": int(tags.get(JOB_NUM_TAG, -1)),
            "status": run.info.status,
            "overrides": tags.get(OVERRIDES_TAG, ""),
            metric: metrics.get(metric, math.nan),
        }
        for prefix in (VALIDATION_PREFIX, TEST_PREFIX):
            row.update(
                {k: v for k, v in sorted(metrics.items()) if k.startswith(prefix) and k != metric}
            )
        row["run_id"] = run.info.run_id
        rows.append(row)
    columns = ["job", "status", "overrides", metric, "run_id"]
    table = pd.DataFrame(rows, columns=None if rows else columns)
    if rows:
        table = table.sort_values(
            [metric, "job"], ascending=[direction == "minimize", True], na_position="last"
        ).reset_index(drop=True)
        # run_id last, metrics in between
        table = table[[c for c in table.columns if c != "run_id"] + ["run_id"]]
    return table


def to_markdown(table: Any) -> str:
    """A GitHub-style markdown table (numbers with 4 decimals, missing values as ``-``)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.4f}"
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) if body else header + "\n" + rule + "\n(no runs)"
