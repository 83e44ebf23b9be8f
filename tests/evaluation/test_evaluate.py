"""evaluate_model / run_evaluation / scripts/evaluate.py on real files."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from evaluation_helpers import IMAGE_SIZE, ManifestData, extra_config_dir, tiny_detector
from omegaconf import OmegaConf

from deepguard.errors import ConfigError, DataError
from deepguard.evaluation import evaluate_model, run_evaluation
from deepguard.evaluation.report import REPORT_FILES
from deepguard.tracking.logger import Logger
from deepguard.tracking.run_status import RunKilled
from deepguard.tracking.store import make_client

REPO = Path(__file__).resolve().parents[2]


class RecordingLogger(Logger):
    def __init__(self):
        self.calls = []

    def start(self, run_name, config, tags):
        self.calls.append(("start", run_name, tags))

    def log_metrics(self, metrics, step=None):
        self.calls.append(("log_metrics", metrics))

    def log_artifact(self, path, artifact_path=None):
        self.calls.append(("log_artifact", Path(path), artifact_path))

    def finish(self, status="FINISHED"):
        self.calls.append(("finish", status))


def test_evaluate_model_writes_report_and_logs(records, tmp_path):
    logger = RecordingLogger()
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "model.keras").write_bytes(b"a training run's model: not uploaded")
    result = evaluate_model(
        tiny_detector(), records, out_dir=tmp_path / "report", robustness=True, logger=logger
    )

    written = {p.name for p in (tmp_path / "report").iterdir()}
    assert set(REPORT_FILES) | {"robustness.csv", "robustness.json"} <= written
    assert list(result["per_generator"]["generator"]) == ["gan_a", "gan_b", "overall"]
    assert result["metrics"]["n_samples"] == len(records)
    assert len(result["robustness"]) == 10
    rows = json.loads((tmp_path / "report" / "robustness.json").read_text())
    assert rows[0]["perturbation"] == "clean" and rows[0]["parameter"] is None  # NaN -> null
    assert [row["parameter"] for row in rows[1:5]] == [90, 75, 50, 30]
    predictions = pd.read_csv(tmp_path / "report" / "predictions.csv")
    assert list(predictions["path"]) == list(records["path"])  # record order kept

    (_, metrics), *artifacts = logger.calls
    assert metrics["test_accuracy"] == result["metrics"]["accuracy"]
    assert "robustness_jpeg_30_roc_auc" in metrics
    assert "robustness_gaussian_blur_3_accuracy" in metrics
    uploaded = {path.name for _, path, folder in artifacts if folder == "evaluation"}
    assert uploaded == set(REPORT_FILES) | {"robustness.csv", "robustness.json"}


def test_evaluate_model_reads_a_datamodule_split_and_limit(tmp_path, records):
    records.to_csv(tmp_path / "manifest.csv", index=False)
    data = ManifestData(str(tmp_path))  # absolute paths in the manifest stay absolute
    result = evaluate_model(tiny_detector(), data, out_dir=tmp_path / "out", limit=5)
    assert result["metrics"]["n_samples"] == 5
    assert result["robustness"] is None
    assert not (tmp_path / "out" / "robustness.csv").exists()


def test_bad_split_threshold_and_empty_split_are_explained(records, tmp_path):
    model = tiny_detector()
    with pytest.raises(ConfigError, match="unknown split 'tset'; available: train, val, test"):
        evaluate_model(model, records, split="tset", out_dir=tmp_path)
    with pytest.raises(DataError, match="the 'val' split has no images"):
        evaluate_model(model, records, split="val", out_dir=tmp_path)
    with pytest.raises(ConfigError, match="threshold must be a probability"):
        evaluate_model(model, records, threshold=5, out_dir=tmp_path)


def evaluate_config(**values):
    """conf/evaluate.yaml's own keys (without the groups Hydra adds), with overrides."""
    cfg = OmegaConf.load(REPO / "conf" / "evaluate.yaml")
    for key in ("defaults", "hydra"):
        cfg.pop(key)
    # No paths group here: the detection cache is off unless a test names one.
    return OmegaConf.merge(cfg, {"faces_cache": None, **values})


def test_run_evaluation_uses_the_config_and_the_recorded_model(model_file, records, tmp_path):
    cfg = evaluate_config(model=str(model_file), out_dir=str(tmp_path / "out"), robustness=False)
    result = run_evaluation(cfg, datamodule=records)

    info = json.loads((tmp_path / "out" / "model.json").read_text())
    assert info["uri"] == str(model_file) and len(info["sha256"]) == 64
    assert info["threshold"] == 0.5  # threshold: null and nothing recorded with the file
    assert result["metrics"]["n_samples"] == len(records)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"split": "tset"}, "unknown split 'tset'; available: train, val, test"),
        ({"threshold": 1.5}, "threshold must be a probability"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
    ],
)
def test_bad_values_fail_before_the_model_loads(tmp_path, override, message):
    # The model file does not exist: the config check must come first.
    cfg = evaluate_config(model=str(tmp_path / "absent.keras"), out_dir=str(tmp_path), **override)
    with pytest.raises(ConfigError, match=message):
        run_evaluation(cfg, datamodule=None)


def test_run_evaluation_without_logger_config_explains(model_file, records, tmp_path):
    cfg = evaluate_config(model=str(model_file), out_dir=str(tmp_path), log_to_mlflow=True)
    with pytest.raises(ConfigError, match="add `logger=mlflow`"):
        run_evaluation(cfg, datamodule=records)


class StoppingData:
    """A DataModule stand-in whose `setup` fails the way `how` says."""

    batch_size = 8

    def __init__(self, how):
        self.how = how

    def setup(self):
        if self.how == "exception":
            raise ValueError("the data went away")
        os.kill(os.getpid(), signal.SIGTERM if self.how == "sigterm" else signal.SIGINT)


@pytest.mark.parametrize(
    ("how", "raised", "expected"),
    [
        ("exception", ValueError, "FAILED"),
        ("sigterm", RunKilled, "KILLED"),
        ("ctrl-c", KeyboardInterrupt, "KILLED"),
    ],
)
def test_an_evaluation_run_ends_with_its_status(
    model_file, tmp_path, tracking_uri, how, raised, expected, terminal_ctrl_c
):
    logger = {
        "_target_": "deepguard.tracking.mlflow_logger.MLflowLogger",
        "tracking_uri": tracking_uri,
    }
    cfg = evaluate_config(
        model=str(model_file), out_dir=str(tmp_path / "out"), log_to_mlflow=True, logger=logger
    )
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(raised):
        run_evaluation(cfg, datamodule=StoppingData(how))
    assert signal.getsignal(signal.SIGTERM) is before
    client = make_client(tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("deepguard").experiment_id])
    assert run.info.status == expected
    assert run.data.tags["deepguard.task"] == "evaluate"


def run_script(script, *overrides, config_dir=None, cwd):
    command = [sys.executable, str(REPO / "scripts" / script), *overrides]
    if config_dir is not None:
        command.insert(2, f"--config-dir={config_dir}")
    environment = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_evaluate_script_prints_tables_on_generators_dev(model_file, tmp_path, shared_data):
    data = {
        "_target_": "evaluation_helpers.ManifestData",
        "root": str(shared_data / "generators-dev"),
    }
    done = run_script(
        "evaluate.py",
        f"model={model_file}",
        "data=under_test",
        "limit=32",
        "batch_size=16",
        f"hydra.run.dir={tmp_path / 'run'}",
        config_dir=extra_config_dir(tmp_path, data),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "per generator:" in output and "robustness" in output
    for generator in ("biggan", "stylegan", "overall"):
        assert generator in output
    for perturbation in ("jpeg", "gaussian_blur", "downscale"):
        assert perturbation in output
    robustness = pd.read_csv(tmp_path / "run" / "robustness.csv")
    assert len(robustness) == 10
    assert (tmp_path / "run" / "roc.png").is_file()


@pytest.mark.slow
def test_evaluate_script_with_the_project_datamodule(model_file, tmp_path, shared_data):
    data = {
        "_target_": "deepguard.data.DataModule",
        "root": str(shared_data / "generators-dev"),
        "image_size": IMAGE_SIZE,
        "batch_size": 16,
    }
    done = run_script(
        "evaluate.py",
        f"model={model_file}",
        "data=under_test",
        "limit=32",
        f"hydra.run.dir={tmp_path / 'run'}",
        config_dir=extra_config_dir(tmp_path, data),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "per generator:" in done.stdout + done.stderr


def test_predictions_name_images_below_the_working_directory_relatively(
    records, tmp_path, monkeypatch
):
    # As a DVC stage runs: from the project root, so every clone writes the same report.
    monkeypatch.chdir(tmp_path)
    evaluate_model(tiny_detector(), records, out_dir=tmp_path / "report")
    listed = pd.read_csv(tmp_path / "report" / "predictions.csv")["path"]
    expected = [Path(p).relative_to(tmp_path).as_posix() for p in records["path"]]
    assert list(listed) == expected and not any(Path(p).is_absolute() for p in listed)
