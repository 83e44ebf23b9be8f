"""Evaluation never scores a model's training images as test: the lineage a training run
records (beside its model and in its MLflow run) is checked against the evaluation data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from evaluation_helpers import ManifestData, noise_image, smooth_image, tiny_detector, write_image
from omegaconf import OmegaConf

from deepguard.data import DataModule
from deepguard.errors import ConfigError, DataError
from deepguard.evaluation import run_evaluation
from deepguard.tracking.lineage import TRAIN_SHA256_FILE, write_training_lineage
from deepguard.tracking.loading import file_sha256
from deepguard.tracking.mlflow_logger import MLflowLogger

REPO = Path(__file__).resolve().parents[2]


def face_folder(root: Path, per_class: int = 10, seed: int = 0) -> Path:
    """{real,fake}/ PNGs: smooth reals, noisy fakes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for index in range(per_class):
        write_image(root / "real" / f"{index}.png", smooth_image(rng, 40))
        write_image(root / "fake" / f"{index}.png", noise_image(rng, 40))
    return root


def datamodule(root: Path, seed: int = 42) -> DataModule:
    return DataModule(
        root=root, image_size=32, batch_size=8, seed=seed, val_fraction=0.2, test_fraction=0.3
    )


@pytest.fixture
def trained(tmp_path):
    """A run folder as training leaves it (model.keras, lineage.json, train_sha256.txt) and
    the set-up DataModule it was trained on."""
    data = datamodule(face_folder(tmp_path / "faces")).setup()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_detector().save(run_dir / "model.keras")
    write_training_lineage(data, run_dir)
    return run_dir, data


def evaluate_config(tmp_path, model, **values):
    cfg = OmegaConf.load(REPO / "conf" / "evaluate.yaml")
    for key in ("defaults", "hydra"):
        cfg.pop(key)
    values = {
        "model": str(model),
        "out_dir": str(tmp_path / "report"),
        "robustness": False,
        "faces_cache": None,  # no paths group here: the detection cache is off
        **values,
    }
    return OmegaConf.merge(cfg, values)


def test_the_training_data_split_differently_is_refused_with_the_fix(trained, tmp_path):
    run_dir, data = trained
    cfg = evaluate_config(tmp_path, run_dir / "model.keras", seed=7)
    with pytest.raises(ConfigError, match="seed=42") as refusal:
        run_evaluation(cfg, datamodule=datamodule(data.root, seed=7))
    assert "would hold training images" in str(refusal.value)
    assert not (tmp_path / "report" / "predictions.csv").exists()


def test_under_its_own_split_only_held_out_images_are_scored(trained, tmp_path):
    run_dir, data = trained
    cfg = evaluate_config(tmp_path, run_dir / "model.keras")
    result = run_evaluation(cfg, datamodule=datamodule(data.root))
    assert result["metrics"]["n_samples"] == len(data.split_records("test"))
    info = json.loads((tmp_path / "report" / "model.json").read_text())
    assert info["training_lineage"]["checked"] and info["training_lineage"]["overlap"] == 0


def other_data_with_training_copies(tmp_path: Path, data: DataModule, copies: int = 3) -> Path:
    """A new folder: renamed copies of some training images beside images never seen."""
    root = face_folder(tmp_path / "other", per_class=4, seed=1)
    train = data.split_records("train").head(copies)
    rows = []
    for index, row in enumerate(train.itertuples()):
        target = root / ("fake" if row.label else "real") / f"renamed_{index}.png"
        shutil.copyfile(row.path, target)
    for path in sorted(root.rglob("*.png")):
        rows.append(
            {
                "path": str(path.relative_to(root)),
                "label": "fake" if path.parent.name == "fake" else "real",
                "generator": "other",
                "sha256": file_sha256(path),
            }
        )
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def test_training_images_in_other_data_are_found_listed_and_left_out(trained, tmp_path):
    run_dir, data = trained
    root = other_data_with_training_copies(tmp_path, data)
    cfg = evaluate_config(tmp_path, run_dir / "model.keras")
    result = run_evaluation(cfg, datamodule=ManifestData(str(root)))
    listed = pd.read_csv(tmp_path / "report" / "train_overlap.csv")
    assert sorted(Path(p).name for p in listed["path"]) == [f"renamed_{i}.png" for i in range(3)]
    assert result["metrics"]["n_samples"] == 8  # the 3 copies were not scored
    scored = pd.read_csv(tmp_path / "report" / "predictions.csv")
    assert not scored["path"].str.contains("renamed_").any()

    kept = run_evaluation(
        evaluate_config(tmp_path, run_dir / "model.keras", train_overlap="report"),
        datamodule=ManifestData(str(root)),
    )
    assert kept["metrics"]["n_samples"] == 11
    with pytest.raises(DataError, match="3 of 11 test images are images the model was trained"):
        run_evaluation(
            evaluate_config(tmp_path, run_dir / "model.keras", train_overlap="refuse"),
            datamodule=ManifestData(str(root)),
        )


def test_the_lineage_is_read_from_the_model_run(trained, tmp_path, tracking_uri):
    run_dir, data = trained
    logger = MLflowLogger(tracking_uri=tracking_uri)
    logger.start("trained", {}, tags={})
    write_training_lineage(data, tmp_path / "logged", logger)
    logger.log_model(run_dir / "model.keras")
    logger.finish()
    cfg = evaluate_config(
        tmp_path, f"runs:/{logger.run_id}/model", tracking_uri=tracking_uri, seed=7
    )
    with pytest.raises(ConfigError, match=f"lineage from run {logger.run_id}"):
        run_evaluation(cfg, datamodule=datamodule(data.root, seed=7))
    assert len((tmp_path / "logged" / TRAIN_SHA256_FILE).read_text().split()) == len(
        data.split_records("train")
    )
