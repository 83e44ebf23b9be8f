"""Registry and loading against a real store: aliases, promotion rules, sha256 checks."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from deepguard.errors import ConfigError, ModelIntegrityError
from deepguard.tracking.loading import file_sha256, load_model
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import best_run_of_sweep, register_model
from deepguard.tracking.store import make_client


@pytest.fixture
def logged_run(tracking_uri, tmp_path, make_tiny_model):
    """`logged_run(roc_auc, digest=, seed=, tags=)`: a finished run with a tiny model."""

    def log(roc_auc, digest="digest-1", seed=0, tags=None, val_auc=None):
        run_id = _logged_run(tracking_uri, tmp_path, make_tiny_model, roc_auc, digest, seed, tags)
        if val_auc is not None:
            make_client(tracking_uri).log_metric(run_id, "val_auc", val_auc)
        return run_id

    return log


def _logged_run(tracking_uri, tmp_path, save_tiny_model, roc_auc, digest, seed, tags):
    """A finished run with a tiny model and fake test metrics, as the trainer would leave it."""
    model_path = save_tiny_model(tmp_path / f"model-{seed}.keras", seed=seed)
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start(
        f"run-{seed}",
        {"backbone": {"name": "small_cnn"}, "data": {"image_size": 8}},
        tags=tags or {},
    )
    logger.client.set_tag(logger.run_id, "deepguard.data_digest", digest)
    logger.log_metrics({"test_roc_auc": roc_auc, "test_accuracy": roc_auc - 0.1})
    logger.log_model(model_path)
    logger.finish()
    return logger.run_id


def test_worse_second_model_moves_challenger_not_champion(tracking_uri, tmp_path, logged_run):
    good = logged_run(roc_auc=0.9, seed=1)
    worse = logged_run(roc_auc=0.8, seed=2)
    first = register_model(good, tracking_uri=tracking_uri)
    assert first["version"] == "1" and first["aliases_moved"] == ["challenger", "champion"]
    second = register_model(worse, tracking_uri=tracking_uri)
    assert second["aliases_moved"] == ["challenger"]
    assert "does not beat" in second["reason"]
    client = MlflowClient(tracking_uri)
    assert str(client.get_model_version_by_alias("deepguard", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("deepguard", "challenger").version) == "2"
    tags = client.get_model_version("deepguard", "2").tags
    assert tags["test_roc_auc"] == "0.8" and tags["run_id"] == worse
    assert tags["backbone"] == "small_cnn" and tags["data_digest"] == "digest-1"

    better = logged_run(roc_auc=0.95, seed=3)
    third = register_model(better, tracking_uri=tracking_uri)
    assert third["aliases_moved"] == ["challenger", "champion"]


def test_champion_kept_when_evaluated_on_other_data_unless_forced(
    tracking_uri, tmp_path, logged_run
):
    register_model(logged_run(0.8, digest="A", seed=1), tracking_uri=tracking_uri)
    other = logged_run(0.99, digest="B", seed=2)
    result = register_model(other, tracking_uri=tracking_uri)
    assert result["champion_version"] == "1" and "not comparable" in result["reason"]
    forced = register_model(other, force=True, tracking_uri=tracking_uri)
    assert forced["aliases_moved"] == ["challenger", "champion"]
    assert (
        str(MlflowClient(tracking_uri).get_model_version_by_alias("deepguard", "champion").version)
        == "3"
    )


def test_lower_is_better_metric(tracking_uri, tmp_path, logged_run):
    first = logged_run(0.9, seed=1)
    second = logged_run(0.8, seed=2)
    register_model(first, metric="accuracy", higher_is_better=False, tracking_uri=tracking_uri)
    result = register_model(
        second, metric="accuracy", higher_is_better=False, tracking_uri=tracking_uri
    )
    assert "champion" in result["aliases_moved"]


def test_register_errors_are_clear(tracking_uri, tmp_path, logged_run):
    run_id = logged_run(0.9)
    with pytest.raises(ConfigError, match=r"no metric 'test_eer'.*test_roc_auc"):
        register_model(run_id, metric="eer", tracking_uri=tracking_uri)
    with pytest.raises(ConfigError, match="not found"):
        register_model("0" * 32, tracking_uri=tracking_uri)
    bare = MLflowLogger(tracking_uri=tracking_uri)
    bare.start("no-model", {}, tags={})
    bare.finish()
    with pytest.raises(ModelIntegrityError, match="logged no model"):
        register_model(bare.run_id, tracking_uri=tracking_uri)


def test_load_by_alias_version_and_run(tracking_uri, tmp_path, logged_run):
    run_id = logged_run(0.9, seed=1)
    register_model(run_id, tracking_uri=tracking_uri)
    expected = file_sha256(tmp_path / "model-1.keras")
    by_alias = load_model("models:/deepguard@champion", tracking_uri=tracking_uri)
    assert (by_alias.name, by_alias.version, by_alias.alias) == ("deepguard", "1", "champion")
    assert by_alias.sha256 == expected
    assert by_alias.metadata["test_roc_auc"] == pytest.approx(0.9)
    assert by_alias.metadata["backbone"] == "small_cnn" and by_alias.metadata["run_id"] == run_id
    assert by_alias.image_size == 8 and by_alias.metadata["image_size"] == 8
    assert by_alias.metadata["data_digest"] == "digest-1"
    probability = by_alias.model.predict(np.zeros((1, 8, 8, 3), np.float32), verbose=0)
    assert probability.shape == (1, 1)
    by_version = load_model("models:/deepguard/1", tracking_uri=tracking_uri)
    assert by_version.version == "1" and by_version.alias is None
    by_run = load_model(f"runs:/{run_id}/model", tracking_uri=tracking_uri)
    assert by_run.sha256 == expected and by_run.metadata["run_id"] == run_id


def test_artifact_changed_after_registration_is_refused(tracking_uri, logged_run, make_tiny_model):
    run_id = logged_run(0.9, seed=1)
    register_model(run_id, tracking_uri=tracking_uri)
    artifact_uri = MlflowClient(tracking_uri).get_run(run_id).info.artifact_uri
    stored = Path(unquote(urlparse(artifact_uri).path)) / "model" / "model.keras"
    assert stored.is_file()
    make_tiny_model(stored, seed=99)  # another model, same name: the store was tampered with
    with pytest.raises(ModelIntegrityError, match="changed after registration"):
        load_model("models:/deepguard@champion", tracking_uri=tracking_uri)
    with pytest.raises(ModelIntegrityError, match="changed after registration"):
        load_model(f"runs:/{run_id}/model", tracking_uri=tracking_uri)


def test_unknown_alias_and_bad_uri(tracking_uri, tmp_path, logged_run):
    register_model(logged_run(0.9), tracking_uri=tracking_uri)
    with pytest.raises(ModelIntegrityError, match="not in the registry"):
        load_model("models:/deepguard@nope", tracking_uri=tracking_uri)
    with pytest.raises(ModelIntegrityError, match="models:/<name>@<alias>"):
        load_model("models:/deepguard/latest", tracking_uri=tracking_uri)


def test_best_run_of_sweep_is_best_on_validation(tracking_uri, tmp_path, logged_run):
    # (test, validation) AUC: the best on test (0.9) is not the best on validation (0.85)
    runs = [
        logged_run(test, seed=i, tags={"deepguard.sweep_id": "s1"}, val_auc=val)
        for i, (test, val) in enumerate([(0.7, 0.6), (0.9, 0.7), (0.8, 0.85)])
    ]
    logged_run(0.99, seed=5, tags={"deepguard.sweep_id": "other"}, val_auc=0.99)
    assert best_run_of_sweep("s1", tracking_uri=tracking_uri) == runs[2]
    with pytest.raises(ConfigError, match="optimistic"):
        best_run_of_sweep("s1", metric="test_roc_auc", tracking_uri=tracking_uri)
    with pytest.raises(ConfigError, match="no FINISHED run"):
        best_run_of_sweep("missing", tracking_uri=tracking_uri)
