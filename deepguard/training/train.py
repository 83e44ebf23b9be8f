"""`train(cfg)`: the recipe behind `scripts/train.py`, step by step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import keras
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from deepguard.errors import DataError
from deepguard.tracking.loading import load_keras_file
from deepguard.tracking.logger import Logger, NullLogger
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.registry import register_model
from deepguard.tracking.run_status import ended_run_guard, install_sigterm_handler
from deepguard.tracking.sweep import job_tags_from_hydra
from deepguard.training.runtime import precision_policy, seed_everything
from deepguard.training.trainer import Trainer, read_resume_epoch


def train(cfg: DictConfig) -> dict[str, float]:
    """Train, test and record one detector as `cfg` describes.

    Args:
        cfg: the composed config of `conf/train.yaml`.

    Returns:
        The test metrics (``test_roc_auc`` ...) and the best validation metrics
        (``val_auc`` ...), as floats.
    """
    seed_everything(cfg.seed, cfg.trainer.deterministic)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    logger = build_logger(cfg)
    # The run opens before anything else can fail, so every failure is recorded as FAILED.
    start_run(cfg, logger)
    install_sigterm_handler()  # `kill <pid>` ends the run KILLED rather than leaving it RUNNING
    with ended_run_guard(logger):
        datamodule = build_datamodule(cfg)
        trainer = build_trainer(cfg, logger)
        prepare_data(datamodule, logger, output_dir)
        record_training_spectra(datamodule, logger, output_dir)
        model = build_model(cfg, trainer)
        trainer.fit(
            model,
            datamodule,
            instantiate(cfg.optimizer),
            instantiate(cfg.scheduler),
            pretrained=cfg.backbone.get("weights") is not None,
            unfreeze_layers=cfg.backbone.get("unfreeze_layers"),
        )
        write_history(trainer.history, output_dir / "history.csv")
        model_path = trainer.save_final_model(model)
        metrics = test_saved_model(cfg, trainer, datamodule, model_path)
        logger.log_model(model_path, input_example=example_input(datamodule))
        metrics |= best_validation_metrics(trainer.history)
        report(metrics, model_path, logger)
    register(cfg, logger)
    return metrics


# ----------------------------------------------------------------- building blocks


def build_datamodule(cfg: DictConfig):
    """The data group's DataModule, with the augmentation group applied to training images,
    the fakes group's synthesized fakes and the faces group's crops."""
    augmentation = instantiate(cfg.augmentation) if cfg.get("augmentation") else None
    fakes = instantiate(cfg.fakes, _convert_="all") if cfg.get("fakes") else None
    return instantiate(
        cfg.data,
        augmentation=augmentation,
        fakes=fakes,
        faces=face_settings(cfg),
        seed=cfg.seed,
        _convert_="all",
    )


def face_settings(cfg: DictConfig) -> dict | None:
    """The faces group as a plain mapping (checked by `FaceSettings`), or None when absent."""
    faces = cfg.get("faces")
    return None if faces is None else cast(dict, OmegaConf.to_container(faces, resolve=True))


def build_logger(cfg: DictConfig) -> Logger:
    """The logger group's Logger; `logger=none` records nothing."""
    return instantiate(cfg.logger) if cfg.get("logger") else NullLogger()


def build_callbacks(cfg: DictConfig) -> list[keras.callbacks.Callback]:
    """One Keras callback per entry of the callbacks group; null entries are switched off."""
    return [instantiate(node) for node in (cfg.get("callbacks") or {}).values() if node]


def build_trainer(cfg: DictConfig, logger: Logger) -> Trainer:
    """The trainer group's Trainer with its callbacks and logger."""
    return instantiate(
        cfg.trainer,
        callbacks=build_callbacks(cfg),
        logger=logger,
        output_dir=cfg.paths.output_dir,
    )


def build_model(cfg: DictConfig, trainer: Trainer) -> keras.Model:
    """The backbone group's detector, under the trainer's precision and device strategy."""
    with trainer.strategy.scope(), precision_policy(cfg.trainer.precision):
        model = instantiate(cfg.backbone, image_size=cfg.data.image_size, _convert_="all")
    if cfg.ckpt_path:
        # Only the weights are taken, so a checkpoint from another precision still fits.
        checkpoint, _ = load_keras_file(cfg.ckpt_path)
        model.set_weights(checkpoint.get_weights())
        print(f"Starting from the weights of {cfg.ckpt_path}")
    return model


def prepare_data(datamodule, logger: Logger, output_dir: Path) -> None:
    """Discover, split and scan the data; record the skipped files and the lineage."""
    datamodule.setup()
    check_held_out_fakes(datamodule)
    datamodule.write_reports(output_dir)
    for split in ("train", "val", "test"):
        logger.log_dataset(
            datamodule.split_records(split),
            name=f"{Path(datamodule.root).name}-{split}",
            digest=datamodule.digest,
            context=split if split != "val" else "validation",
        )
    skipped = len(datamodule.quarantine)
    if skipped:
        print(f"Skipped {skipped} files, listed with reasons in {output_dir / 'quarantine.csv'}")
        logger.log_artifact(output_dir / "quarantine.csv")


def check_held_out_fakes(datamodule) -> None:
    """Refuse to train on real images only when validation or test would have no fakes.

    With a folder of real photos and synthesized fakes for `train` only (the default
    ``fakes.splits``), ``val_auc`` (which picks the best epoch and sweeps) and the test
    metrics would be undefined; the error names the fix.

    Raises:
        DataError: the data has no fake images of its own and a held-out split gets none.
    """
    fakes, records = getattr(datamodule, "fakes", None), datamodule.records
    if fakes is None or not fakes.enabled:
        return
    own = records[~records.get("synthetic", pd.Series(False, index=records.index))]
    has_fakes = set(records.loc[records["label"] == 1, "split"])
    without = [split for split in ("val", "test") if split not in has_fakes]
    if without and not (own["label"] == 1).any():
        raise DataError(
            f"the {' and '.join(without)} split has no fake images: the data holds real "
            f"images only and fakes.splits={list(fakes.splits)} synthesizes fakes for those "
            "splits only. Add the held-out splits (fakes.splits=[train,val,test]: their scores "
            "then tell how well the model finds its own kind of fakes), or use data with fakes "
            "of its own"
        )


def record_training_spectra(datamodule, logger: Logger, output_dir: Path, per_class: int = 256):
    """Mean real and fake spectra of (a sample of) the training images, at model input size.

    The app draws an image's profile over these, so a reviewer sees how it compares with
    what the model was trained on.
    """
    from deepguard.spectral import MeanSpectra

    train_records = datamodule.split_records("train")
    sample = train_records.groupby("label", group_keys=False).head(per_class)
    stats = MeanSpectra()
    # The model's own inputs: face crops with faces on, synthesized fakes among the fakes.
    batches = datamodule.records_dataset(sample, batch_size=64)
    start = 0
    for images, _ in batches:
        rows = sample.iloc[start : start + len(images)]
        stats.update(np.asarray(images), rows["label"].to_numpy(), rows["generator"].tolist())
        start += len(images)
    path = stats.save(output_dir / "training_spectra.npz")
    logger.log_artifact(path)


def test_saved_model(cfg: DictConfig, trainer: Trainer, datamodule, model_path: Path):
    """Evaluate the file that was saved (reloaded in safe mode), not the object in memory."""
    model, _ = load_keras_file(model_path)
    metrics = trainer.test(
        model,
        datamodule,
        out_dir=Path(cfg.paths.output_dir),
        threshold=cfg.evaluation.threshold,
        robustness=cfg.evaluation.robustness,
    )
    return {f"test_{name}": float(value) for name, value in metrics.items()}


def example_input(datamodule) -> np.ndarray:
    """One real test image, recorded with the model as its input example."""
    images, _ = next(iter(datamodule.test_dataset().take(1)))
    return np.asarray(images[:1])


def write_history(history: dict[str, list[float]], path: Path) -> None:
    """Per-epoch metrics as a CSV (epoch, loss, val_auc ...): the training curves DVC plots."""
    import pandas as pd

    table = pd.DataFrame(history)
    table.insert(0, "epoch", range(1, len(table) + 1))
    table.to_csv(path, index=False)


def best_validation_metrics(history: dict[str, list[float]]) -> dict[str, float]:
    """The best value of each validation metric over the epochs (lowest for losses)."""
    best = {}
    for name, values in history.items():
        if name.startswith("val_") and values:
            best[name] = float(min(values) if "loss" in name else max(values))
    return best


def report(metrics: dict[str, float], model_path: Path, logger: Logger) -> None:
    """Tell the user what came out and where it is."""
    print("\nTest metrics:")
    for name, value in sorted(metrics.items()):
        if name.startswith("test_"):
            print(f"  {name[5:]:<28} {value:.4f}")
    print(f"\nModel:      {model_path}")
    print(f"Run:        {logger.describe()}")


# ----------------------------------------------------------------- run lifecycle


def start_run(cfg: DictConfig, logger: Logger) -> None:
    """Open the logger's run, resuming the run of an interrupted identical command."""
    resume_file = Path(cfg.paths.resume_dir) / "run.json"
    previous_run = None
    if read_resume_epoch(cfg.paths.resume_dir) and resume_file.is_file():
        previous_run = json.loads(resume_file.read_text()).get("run_id")
    logger.start(
        run_name=cfg.run_name or default_run_name(cfg),
        config=cast(dict, OmegaConf.to_container(cfg, resolve=True)),
        tags=run_tags(cfg),
        run_id=previous_run,
    )
    if logger.run_id:
        # The resume folder finds this run again after a crash; the copy in the output folder
        # tells later steps (the DVC register stage, people) which run this was.
        run_info = json.dumps({"run_id": logger.run_id})
        resume_file.parent.mkdir(parents=True, exist_ok=True)
        resume_file.write_text(run_info)
        (Path(cfg.paths.output_dir) / "run.json").write_text(run_info)
    OmegaConf.save(cfg, Path(cfg.paths.output_dir) / "config.yaml", resolve=True)


def default_run_name(cfg: DictConfig) -> str:
    return f"{cfg.task_name}-{cfg.backbone.name}-{Path(cfg.paths.output_dir).name}"


def run_tags(cfg: DictConfig) -> dict[str, str]:
    """Backbone, the Hydra group choices, the job's overrides and sweep, the user's tags."""
    tags = {"backbone": str(cfg.backbone.name), "task": str(cfg.task_name)}
    if HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
        tags |= {
            f"choice.{group}": str(choice)
            for group, choice in choices.items()
            if not group.startswith("hydra")
        }
    tags |= job_tags_from_hydra()
    return tags | {str(key): str(value) for key, value in (cfg.tags or {}).items()}


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def register(cfg: DictConfig, logger: Logger) -> dict | None:
    """Register the run's model as `challenger`; `champion` moves only if it is better.

    Sweep jobs are not registered one by one: `scripts/register.py sweep=<id>` registers
    the best job of a sweep.
    """
    if not cfg.registry.enabled or not isinstance(logger, MLflowLogger) or in_sweep():
        return None
    if logger.run_id is None:
        return None  # the run never started: nothing to register
    outcome = register_model(
        logger.run_id,
        name=cfg.registry.name,
        metric=cfg.registry.metric,
        tracking_uri=logger.tracking_uri,
    )
    print(
        f"Registry:   {outcome['name']} version {outcome['version']} "
        f"(aliases moved: {', '.join(outcome['aliases_moved'])}; {outcome['reason']}); "
        f"load it as models:/{outcome['name']}/{outcome['version']}"
    )
    return outcome
