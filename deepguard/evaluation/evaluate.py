"""Evaluate a detector on one split of a dataset: the report, the tables, the tracking."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepguard.data.pipeline import make_dataset
from deepguard.errors import ConfigError, DataError
from deepguard.evaluation.inputs import model_image_size, predict_probabilities
from deepguard.evaluation.report import (
    REPORT_FILES,
    per_generator_table,
    write_json,
    write_report,
)
from deepguard.evaluation.robustness import robustness_table
from deepguard.images import whole_image

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
ROBUSTNESS_FILES = ("robustness.csv", "robustness.json")


def portable_path(path: str) -> str:
    """`path` relative to the working directory when it lies below it, else unchanged.

    A report written from the project root (as DVC stages run) then lists ``data/...``
    paths that are the same in every clone, rather than this machine's absolute ones.
    """
    here = Path.cwd().absolute()
    absolute = Path(path).absolute()
    if absolute.is_relative_to(here):
        return absolute.relative_to(here).as_posix()
    return str(path)


def split_records(data, split: str, limit: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The records of `split` from a DataModule (anything with `setup` and `split_records`)
    or from a record DataFrame with a `split` column; at most `limit` of them, in order."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}'; available: {', '.join(SPLITS)}")
    if isinstance(data, pd.DataFrame):
        records = data[data["split"] == split] if "split" in data.columns else data
    else:
        data.setup()
        records = data.split_records(split)
    if records.empty:
        raise DataError(
            f"the '{split}' split has no images; pick another split (split=val) or check the "
            "data folder and its split fractions"
        )
    if limit is not None and limit < len(records):
        # A seeded sample, put back in record order, so reruns score the same images.
        records = records.sample(n=limit, random_state=seed).sort_index()
    return records.reset_index(drop=True)


def evaluate_model(
    model,
    datamodule,
    split: str = "test",
    out_dir: str | Path = "evaluation",
    threshold: float = 0.5,
    robustness: bool = False,
    logger=None,
    batch_size: int | None = None,
    limit: int | None = None,
    loader=None,
) -> dict[str, Any]:
    """Score one split and write the full report into `out_dir`.

    Writes `metrics.json`, `per_generator.csv/.json`, `confusion_matrix.json/.png`,
    `roc.csv/.png`, `pr.csv/.png`, `predictions.csv` and, with `robustness`,
    `robustness.csv/.json`; the logger gets those files (and a `model.json` found there)
    under `evaluation/`.

    Args:
        model: a Keras detector (input float32 RGB [0, 255], output probability of fake).
        datamodule: a `deepguard.data.DataModule` (or any object with `setup()` and
            `split_records(split)`), or a record DataFrame.
        split: `train`, `val` or `test`.
        out_dir: folder for the report.
        threshold: decision threshold for accuracy, F1, precision, recall.
        robustness: also score the images after JPEG, blur and down-scaling.
        logger: a `deepguard.tracking.logger.Logger`; receives `<split>_*` metrics,
            `robustness_*` metrics and the report folder.
        batch_size: images per batch (the datamodule's, else 32).
        limit: score at most this many images (a seeded sample), for quick tries.
        loader: the `DataModule` whose region (each file's face crop) and synthesized fakes
            the images go through; `datamodule` itself when it is one. Without one, files
            are scored whole.

    Returns:
        ``{"metrics": dict, "per_generator": DataFrame, "robustness": DataFrame | None,
        "out_dir": Path}``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a probability in [0, 1]; got {threshold}")
    out_dir = Path(out_dir)
    records = split_records(datamodule, split, limit)
    batch_size = batch_size or getattr(datamodule, "batch_size", None) or 32
    image_size = model_image_size(model)
    log.info("scoring %d %s images at %d px", len(records), split, image_size)

    if loader is None and hasattr(datamodule, "records_dataset"):
        loader = datamodule
    probabilities = predict_probabilities(
        model, scoring_batches(records, image_size, batch_size, loader)
    )
    labels = records["label"].astype(int).to_numpy()
    metrics = write_report(
        labels,
        probabilities,
        records["generator"],
        out_dir,
        threshold,
        paths=records["path"].map(portable_path),
    )
    generators = records["generator"]
    result: dict[str, Any] = {
        "metrics": metrics,
        "per_generator": per_generator_table(labels, probabilities, generators, threshold),
        "robustness": None,
        "out_dir": out_dir,
    }
    tracked = {f"{split}_{name}": value for name, value in metrics.items()}

    if robustness:
        files = file_rows(records)
        table = robustness_table(
            model,
            records.loc[files, "path"],
            labels[files],
            threshold,
            batch_size,
            clean_probabilities=probabilities[files],
            region=whole_image if loader is None else loader.loader_region,
        )
        table.to_csv(out_dir / "robustness.csv", index=False)
        write_json(out_dir / "robustness.json", table.to_dict(orient="records"))
        result["robustness"] = table
        for row in table.itertuples():
            if row.perturbation != "clean":
                key = f"robustness_{row.perturbation}_{row.parameter:g}"
                tracked |= {f"{key}_accuracy": row.accuracy, f"{key}_roc_auc": row.roc_auc}

    if logger is not None:
        logger.log_metrics({k: v for k, v in tracked.items() if not math.isnan(v)})
        # Only the report's own files: out_dir may be a training run's folder holding models.
        for name in (*REPORT_FILES, *ROBUSTNESS_FILES, "model.json"):
            if (out_dir / name).is_file():
                logger.log_artifact(out_dir / name, artifact_path="evaluation")
    return result


def scoring_batches(records: pd.DataFrame, image_size: int, batch_size: int, loader=None):
    """Batches of the records' model inputs, in order: through `loader` (a `DataModule`:
    its face crops and synthesized fakes) when given, else the whole files."""
    if loader is None:
        return make_dataset(records["path"], image_size=image_size, batch_size=batch_size)
    return loader.records_dataset(records, image_size=image_size, batch_size=batch_size)


def file_rows(records: pd.DataFrame) -> np.ndarray:
    """Which records are files as they are (not virtual fakes made from them).

    Robustness perturbs files; a synthesized fake has no file of its own to perturb, so its
    rows are left out of the robustness table (and said so in the log).
    """
    synthetic = records.get("synthetic", pd.Series(False, index=records.index))
    files = ~synthetic.to_numpy(dtype=bool)
    if not files.all():
        log.info(
            "robustness leaves out the %d synthesized fakes: they have no file to perturb",
            int((~files).sum()),
        )
    return files


def format_result(result: dict[str, Any]) -> str:
    """The metrics, per-generator and robustness tables as text for the console."""
    metrics = "\n".join(
        f"  {name:<24}{_number(value)}" for name, value in result["metrics"].items()
    )
    parts = [
        "metrics:\n" + metrics,
        "per generator:\n" + _table(result["per_generator"]),
    ]
    if result["robustness"] is not None:
        parts.append(
            "robustness (same images, perturbed before the resize; parameter = JPEG quality, "
            "blur sigma in pixels or down-scaling factor):\n" + _table(result["robustness"])
        )
    parts.append(f"report written to {result['out_dir']}")
    return "\n\n".join(parts)


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.4f}"


def _table(table: pd.DataFrame) -> str:
    formatters = {"parameter": lambda v: "" if math.isnan(v) else f"{v:g}"}
    return table.to_string(
        index=False, float_format=lambda v: f"{v:.4f}", formatters=formatters, na_rep="nan"
    )


def resolve_threshold(threshold: float | None, metadata: dict[str, Any]) -> float:
    """The configured threshold, else the one recorded with the model, else 0.5."""
    if threshold is not None:
        return float(threshold)
    return float(metadata.get("threshold", 0.5))


def build_datamodule(data_cfg, image_size: int, faces=None, fakes=None):
    """Instantiate the data config (a `_target_` node), at the model's input size.

    Args:
        data_cfg: a `conf/data` node.
        image_size: the model's input side in pixels.
        faces: the `FaceSettings` to crop with (the model's recorded ones, or chosen).
        fakes: a `FakeSynthesizer` whose fakes join the scored split, or None.
    """
    from hydra.utils import instantiate

    if "_target_" not in data_cfg:
        raise ConfigError(
            "the data config has no `_target_`; pick a data group such as data=folder "
            "(conf/data/*.yaml)"
        )
    overrides: dict[str, Any] = {"image_size": image_size} if "image_size" in data_cfg else {}
    if faces is not None:
        overrides["faces"] = faces.to_dict()  # a dataclass here would be read as a config
    if fakes is not None:
        overrides["fakes"] = fakes
    return instantiate(data_cfg, **overrides)


def scoring_inputs(cfg, metadata: dict[str, Any]):
    """The faces settings (`faces=` if given, else the model's recorded ones) and the
    `fakes` group's synthesizer (None without one) an evaluation scores with."""
    from hydra.utils import instantiate

    from deepguard.faces import scoring_face_settings

    faces = scoring_face_settings(cfg.get("faces"), metadata, cfg.get("faces_cache"))
    source = "chosen (faces=)" if cfg.get("faces") is not None else "the model's"
    log.info("faces: %s settings, %s", source, faces.to_dict() if faces.enabled else "whole images")
    fakes = instantiate(cfg.fakes, _convert_="all") if cfg.get("fakes") else None
    return faces, fakes


def build_logger(cfg):
    """An MLflow logger from `cfg.logger` when `log_to_mlflow` is set, else a null logger."""
    from hydra.utils import instantiate

    from deepguard.tracking.logger import NullLogger

    if not cfg.get("log_to_mlflow", False):
        return NullLogger()
    if cfg.get("logger") is None:
        raise ConfigError(
            "log_to_mlflow=true needs a logger config; add `logger=mlflow` (conf/logger/)"
        )
    return instantiate(cfg.logger)


def check_config(cfg) -> None:
    """Fail on a wrong value before the model or the data is loaded."""
    if cfg.split not in SPLITS:
        raise ConfigError(f"unknown split '{cfg.split}'; available: {', '.join(SPLITS)}")
    threshold = cfg.get("threshold")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a probability in [0, 1] or null; got {threshold}")
    for key in ("batch_size", "limit"):
        value = cfg.get(key)
        if value is not None and value < 1:
            raise ConfigError(f"{key} must be at least 1 (or null for limit); got {value}")


def write_model_info(out_dir: Path, loaded, split: str, threshold: float) -> None:
    """`model.json`: which model produced the report in `out_dir` (lineage for DVC, readers)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {
        "uri": str(loaded.uri),
        "name": loaded.name,
        "version": loaded.version,
        "alias": loaded.alias,
        "sha256": loaded.sha256,
        "split": split,
        "threshold": threshold,
    }
    write_json(out_dir / "model.json", info)


def run_evaluation(cfg, datamodule=None) -> dict[str, Any]:
    """What `scripts/evaluate.py` runs: load the model, build the data, evaluate, track.

    Args:
        cfg: the composed `conf/evaluate.yaml`.
        datamodule: use this instead of instantiating `cfg.data` (tests, notebooks).
    """
    from omegaconf import OmegaConf

    from deepguard.tracking.loading import load_model

    check_config(cfg)
    tracking_uri = cfg.get("tracking_uri")
    # Only registry and run URIs need a store; a plain `.keras` path loads without one.
    loaded = load_model(cfg.model, tracking_uri=tracking_uri)
    threshold = resolve_threshold(cfg.get("threshold"), loaded.metadata)
    if datamodule is None:
        faces, fakes = scoring_inputs(cfg, loaded.metadata)
        datamodule = build_datamodule(cfg.data, loaded.image_size, faces, fakes)
    out_dir = Path(cfg.out_dir)
    write_model_info(out_dir, loaded, cfg.split, threshold)
    logger = build_logger(cfg)
    logger.start(
        run_name=f"evaluate {loaded.name or Path(str(loaded.uri)).stem}",
        config=OmegaConf.to_container(cfg, resolve=True),
        tags={
            "deepguard.task": "evaluate",
            "deepguard.evaluated_model_uri": str(loaded.uri),
            "deepguard.evaluated_model_sha256": loaded.sha256,
        },
    )
    try:
        result = evaluate_model(
            loaded.model,
            datamodule,
            split=cfg.split,
            out_dir=out_dir,
            threshold=threshold,
            robustness=cfg.robustness,
            logger=logger,
            batch_size=cfg.get("batch_size"),
            limit=cfg.get("limit"),
        )
        if hasattr(datamodule, "digest"):
            # Lineage: which images were scored (the DataModule's content digest).
            records = datamodule.split_records(cfg.split)
            logger.log_dataset(records, f"{cfg.split}-set", datamodule.digest, "evaluation")
    except BaseException:
        # This entry point's failure funnel: the run is closed as FAILED, the error re-raised.
        logger.finish("FAILED")
        raise
    logger.finish("FINISHED")
    log.info("%s\n\n%s", format_result(result), logger.describe())
    return result
