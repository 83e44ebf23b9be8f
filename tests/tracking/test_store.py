"""The default store and race-free experiment creation."""

from __future__ import annotations

import multiprocessing
import sys
import types

from mlflow.tracking import MlflowClient

from deepguard.tracking.store import (
    default_artifact_location,
    default_tracking_uri,
    ensure_experiment,
    resolve_tracking_uri,
)


def test_default_store_layout(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert resolve_tracking_uri(None, tmp_path) == uri
    assert default_artifact_location(uri) == (tmp_path.resolve() / "mlruns" / "artifacts").as_uri()
    assert default_artifact_location("http://127.0.0.1:5000") is None


def test_env_and_explicit_uri_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(None, tmp_path) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///x.db", tmp_path) == "sqlite:///x.db"


def test_ensure_experiment_idempotent_with_artifacts_beside_db(tracking_uri):
    first = ensure_experiment("deepguard", tracking_uri)
    assert ensure_experiment("deepguard", tracking_uri) == first
    experiment = MlflowClient(tracking_uri).get_experiment(first)
    assert experiment.artifact_location.endswith("/mlruns/artifacts")


def _create(tracking_uri, barrier, results):
    barrier.wait()  # every process starts on the fresh database at the same moment
    results.put(ensure_experiment("deepguard", tracking_uri))


def test_concurrent_processes_create_one_experiment(tracking_uri, monkeypatch):
    # Streamlit's AppTest (run earlier in the session) leaves an app page as `__main__`, and
    # spawned children re-run `__main__` first: give them a main module with nothing to run.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    processes = [
        context.Process(target=_create, args=(tracking_uri, barrier, results)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    ids = {results.get(timeout=5) for _ in processes}
    assert len(ids) == 1
    names = [e.name for e in MlflowClient(tracking_uri).search_experiments()]
    assert names.count("deepguard") == 1
