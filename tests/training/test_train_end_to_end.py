"""`train(cfg)` end to end on real files: synthetic PNGs, real faces, bad files, a crash."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from deepguard.config.compose import compose_config
from deepguard.errors import ConfigError
from deepguard.evaluation import run_evaluation
from deepguard.training import train

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.batch_size=8",
    "trainer.max_epochs=2",
    "logger=csv",
]


def with_backbone(name: str) -> list[str]:
    """TINY with another backbone."""
    return [f"backbone={name}" if item.startswith("backbone=") else item for item in TINY]


def tiny_synthetic(n_per_class: int = 48) -> list[str]:
    return [f"data.synthetic.n_per_class={n_per_class}", "data.synthetic.image_size=32"]


def test_synthetic_run_writes_model_metrics_tables_and_lineage(compose_train, tmp_path):
    cfg = compose_train(*TINY, *tiny_synthetic())
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    assert (out / "model.keras").is_file()
    written = json.loads((out / "metrics.json").read_text())
    for name in ("accuracy", "roc_auc", "average_precision", "eer", "f1", "precision", "recall"):
        assert 0.0 <= written[name] <= 1.0
        assert metrics[f"test_{name}"] == pytest.approx(written[name])
    assert (out / "per_generator.csv").is_file()
    assert (out / "config.yaml").is_file()
    assert "val_auc" in metrics
    history = pd.read_csv(out / "history.csv")  # keras.callbacks.CSVLogger, one row an epoch
    assert history["epoch"].tolist() == [0, 1]
    assert history["val_auc"].max() == pytest.approx(metrics["val_auc"])
    # run.json says which run this folder holds; the CSV logger's own record is apart
    record = json.loads((out / "run_record.json").read_text())
    assert json.loads((out / "run.json").read_text()) == {"run_id": record["run_id"]}
    assert record["status"] == "FINISHED"
    check_lineage_guards_evaluation(out, tmp_path)


def check_lineage_guards_evaluation(out: Path, root: Path) -> None:
    """The run recorded its training images; evaluating its own data split differently is
    refused with the fix, and under its own split no training image is scored."""
    summary = json.loads((out / "data_summary.json").read_text())
    train_hashes = set((out / "train_sha256.txt").read_text().split())
    assert len(train_hashes) == sum(summary["per_split"]["train"].values())
    assert json.loads((out / "lineage.json").read_text())["split_settings"]["seed"] == 42

    def evaluate(*overrides):
        cfg = compose_config(
            REPO_ROOT / "conf",
            "evaluate",
            [
                f"model={out / 'model.keras'}",
                "data.image_size=32",
                "robustness=false",
                *tiny_synthetic(),
                *overrides,
            ],
            root,
            output_dir=root / "evaluation",
        )
        return run_evaluation(cfg)

    with pytest.raises(ConfigError, match=re.escape("seed=42 data.val_fraction=0.15")):
        evaluate("seed=7")
    result = evaluate("seed=42")
    info = json.loads((root / "evaluation" / "model.json").read_text())
    assert info["training_lineage"] == {
        "checked": True,
        "source": str(out),
        "overlap": 0,
        "policy": "exclude",
    }
    assert result["metrics"]["n_samples"] == sum(summary["per_split"]["test"].values())


def write_face_folder(source: Path, target: Path, per_class: int) -> None:
    manifest = pd.read_csv(source / "manifest.csv")
    for label in ("real", "fake"):
        rows = manifest[manifest["label"].astype(str).isin([label, str(int(label == "fake"))])]
        (target / label).mkdir(parents=True)
        for path in rows["path"].head(per_class):
            (target / label / Path(path).name).write_bytes((source / path).read_bytes())


def test_trains_on_real_jpeg_faces(compose_train, shared_data, tmp_path):
    faces = tmp_path / "faces"
    write_face_folder(shared_data / "faces-hard-dev", faces, per_class=20)
    cfg = compose_train(*TINY, "data=folder", f"data.root={faces}")
    metrics = train(cfg)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_bad_files_are_skipped_and_listed(compose_train, tmp_path):
    folder = tmp_path / "mixed"
    for label, color in (("real", (200, 120, 90)), ("fake", (90, 120, 200))):
        (folder / label).mkdir(parents=True)
        for i in range(12):
            Image.new("RGB", (40, 40), tuple(c + i for c in color)).save(
                folder / label / f"{i}.png"
            )
    (folder / "real" / "empty.jpg").write_bytes(b"")
    jpeg = folder / "fake" / "0.png"
    Image.open(jpeg).save(folder / "fake" / "truncated.jpg", quality=95)
    data = (folder / "fake" / "truncated.jpg").read_bytes()
    (folder / "fake" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "real" / "notes.jpg").write_text("this is not an image")
    cfg = compose_train(*TINY, "data=folder", f"data.root={folder}", "data.max_bad_fraction=0.2")
    train(cfg)
    listed = pd.read_csv(Path(cfg.paths.output_dir) / "quarantine.csv")
    assert sorted(Path(p).name for p in listed["path"]) == [
        "empty.jpg",
        "notes.jpg",
        "truncated.jpg",
    ]


def test_misspelt_backbone_fails_at_once_listing_the_backbones():
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "backbone=xcepton"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "xcepton" in result.stderr
    for name in ("xception", "vgg16", "small_cnn"):
        assert name in result.stderr


@pytest.mark.slow
def test_killed_run_resumes_from_the_epoch_it_was_in(tmp_path):
    # NPR: the checkpoint holds a custom layer, which the resumed process must rebuild.
    marker = tmp_path / "killed"
    command = [
        sys.executable,
        "scripts/train.py",
        *with_backbone("npr"),
        *tiny_synthetic(16),
        "trainer.max_epochs=5",
        "scheduler=constant",
        "+callbacks.kill._target_=tests.helpers.callbacks.KillAtEpochBegin",
        "+callbacks.kill.epoch=2",
        f"+callbacks.kill.marker={marker}",
        f"paths.root_dir={tmp_path}",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    first = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == -9, first.stderr[-2000:]
    second = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from epoch 3" in second.stdout
    metrics_files = sorted((tmp_path / "outputs").rglob("metrics.csv"))
    logged = pd.read_csv(metrics_files[-1])
    epochs = logged.loc[logged["name"] == "loss", "step"].astype(int).tolist()
    assert epochs == [2, 3, 4]  # the re-run trained only the epochs the kill cut off


def test_trainer_switches_work_together_and_a_checkpoint_continues(compose_train):
    """Mirrored strategy (one device here), clipping, class weights, ckpt_path; accumulation."""
    first = compose_train(
        *TINY, *tiny_synthetic(), "trainer.max_epochs=1", "trainer.accumulate_grad_batches=2"
    )
    train(first)
    checkpoint = Path(first.paths.output_dir) / "model.keras"
    cfg = compose_train(
        *TINY,
        *tiny_synthetic(),
        "trainer.max_epochs=1",
        "trainer.strategy=mirrored",
        "trainer.gradient_clip_norm=1.0",
        "trainer.class_weight=balanced",
        "trainer.deterministic=true",
        f"ckpt_path={checkpoint}",
    )
    metrics = train(cfg)
    assert 0.0 <= metrics["test_roc_auc"] <= 1.0
    resolved = (Path(cfg.paths.output_dir) / "config.yaml").read_text()
    assert "strategy: mirrored" in resolved and str(checkpoint) in resolved


def test_accumulation_with_several_replicas_is_refused_with_the_fix():
    from deepguard.errors import ConfigError
    from deepguard.training import Trainer

    with pytest.raises(ConfigError, match="batch_size"):
        Trainer(strategy="mirrored", accumulate_grad_batches=4)
