"""`tracked_run`, the one failure funnel: each ending gets its status once, the SIGTERM handler
comes back, and a run left RUNNING by a process that died is closed on the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from deepguard.tracking.csv_logger import RECORD_FILE, CSVLogger
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.run_status import CLOSED_TAG, RunKilled, tracked_run

REPO = Path(__file__).resolve().parents[2]


def start(logger, name="run"):
    return tracked_run(logger, run_name=name, config={"a": 1}, tags={})


def status(tracking_uri, run_id):
    return MlflowClient(tracking_uri).get_run(run_id).info.status


def test_a_clean_block_finishes_and_the_handler_comes_back(tracking_uri):
    before = signal.getsignal(signal.SIGTERM)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    with start(logger):
        assert signal.getsignal(signal.SIGTERM) is not before  # SIGTERM raises RunKilled here
        logger.log_metrics({"val_auc": 0.9})
    assert status(tracking_uri, logger.run_id) == "FINISHED"
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(
    ("interrupt", "raised", "expected"),
    [
        (lambda: 1 / 0, ZeroDivisionError, "FAILED"),
        (lambda: os.kill(os.getpid(), signal.SIGTERM), RunKilled, "KILLED"),
        (lambda: signal.raise_signal(signal.SIGINT), KeyboardInterrupt, "KILLED"),  # Ctrl-C
    ],
    ids=["exception", "sigterm", "ctrl-c"],
)
def test_each_ending_gets_its_status_once(
    tracking_uri, interrupt, raised, expected, terminal_ctrl_c
):
    before = signal.getsignal(signal.SIGTERM)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    with pytest.raises(raised), start(logger):
        interrupt()
    assert status(tracking_uri, logger.run_id) == expected
    assert signal.getsignal(signal.SIGTERM) is before
    logger.finish("FINISHED")  # a second ending changes nothing: said once
    assert status(tracking_uri, logger.run_id) == expected


def test_the_csv_record_says_the_status_once(tmp_path):
    logger = CSVLogger(tmp_path / "runs" / "a")
    with pytest.raises(RunKilled), start(logger):
        os.kill(os.getpid(), signal.SIGTERM)
    record = json.loads((tmp_path / "runs" / "a" / RECORD_FILE).read_text())
    assert record["status"] == "KILLED" and record["run_id"] == "run"


CRASHING_JOB = """
import os, signal, sys
from deepguard.tracking.csv_logger import CSVLogger
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.run_status import tracked_run

tracking_uri, csv_dir = sys.argv[1], sys.argv[2]
with tracked_run(MLflowLogger(tracking_uri=tracking_uri), run_name="crash", config={}, tags={}):
    with tracked_run(CSVLogger(csv_dir), run_name="crash-csv", config={}, tags={}):
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9: nothing can close the runs
"""


def test_a_crashed_process_run_is_closed_on_the_next_start(tracking_uri, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING_JOB))
    alive = MLflowLogger(tracking_uri=tracking_uri)
    alive.start("alive", {}, tags={})  # RUNNING, and its process (this one) is alive
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    crashed = subprocess.run(
        [sys.executable, str(script), tracking_uri, str(tmp_path / "runs" / "crashed")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    client = MlflowClient(tracking_uri)
    (run,) = [r for r in client.search_runs([alive.experiment_id]) if r.info.run_name == "crash"]
    assert run.info.status == "RUNNING"  # what a kill -9 leaves behind

    with start(MLflowLogger(tracking_uri=tracking_uri), "next"):
        pass
    closed = client.get_run(run.info.run_id)
    assert closed.info.status == "KILLED" and CLOSED_TAG in closed.data.tags
    assert status(tracking_uri, alive.run_id) == "RUNNING"  # a live process is left alone
    alive.finish()

    record_file = tmp_path / "runs" / "crashed" / RECORD_FILE
    assert json.loads(record_file.read_text())["status"] == "RUNNING"
    with start(CSVLogger(tmp_path / "runs" / "next")):
        pass
    assert json.loads(record_file.read_text())["status"] == "KILLED"
