"""Evaluate a detector on one split of a dataset: the report, the tables, the tracking."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
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
from deepguard.tracking.lineage import (
    TrainingLineage,
    check_split_matches,
    read_training_lineage,
    training_overlap,
)
from deepguard.tracking.run_status import tracked_run

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
ROBUSTNESS_FILES = ("robustness.csv", "robustness.json")
OVERLAP_FILE = "train_overlap.csv"  # evaluation images the model was trained on
OVERLAP_POLICIES = ("exclude", "report", "refuse")


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
    log.info("scoring %d %s images at %d px", len(records), split, model_image_size(model))
    if loader is None and hasattr(datamodule, "records_dataset"):
        loader = datamodule
    scored = score_records(model, records, batch_size, loader)
    result = write_scores(records, scored, threshold, out_dir)
    metrics = result["metrics"]
    tracked = {f"{split}_{name}": value for name, value in metrics.items()}
    if robustness:
        result["robustness"] = write_robustness(
            model, records, scored, threshold, batch_size, out_dir
        )
        tracked |= robustness_metrics(result["robustness"])
    if logger is not None:
        log_report(logger, tracked, out_dir)
    return result


@dataclass(frozen=True)
class ScoredRecords:
    """The probabilities of fake of some records, and the loader that made their pixels."""

    probabilities: np.ndarray
    loader: Any  # a DataModule (its face crops and synthesized fakes), or None: whole files


def score_records(model, records: pd.DataFrame, batch_size: int, loader=None) -> ScoredRecords:
    """Probabilities of fake for every record, in order, streamed batch by batch."""
    batches = scoring_batches(records, model_image_size(model), batch_size, loader)
    return ScoredRecords(predict_probabilities(model, batches), loader)


def write_scores(
    records: pd.DataFrame, scored: ScoredRecords, threshold: float, out_dir: Path
) -> dict[str, Any]:
    """Write the report of the scores; the result dict `evaluate_model` returns."""
    labels = records["label"].astype(int).to_numpy()
    generators = records["generator"]
    metrics = write_report(
        labels,
        scored.probabilities,
        generators,
        out_dir,
        threshold,
        paths=records["path"].map(portable_path),
    )
    return {
        "metrics": metrics,
        "per_generator": per_generator_table(labels, scored.probabilities, generators, threshold),
        "robustness": None,
        "out_dir": out_dir,
    }


def write_robustness(
    model,
    records: pd.DataFrame,
    scored: ScoredRecords,
    threshold: float,
    batch_size: int,
    out_dir: Path,
) -> pd.DataFrame:
    """The robustness table of the records, written as ``robustness.csv`` and ``.json``."""
    files = file_rows(records)
    table = robustness_table(
        model,
        records.loc[files, "path"],
        records["label"].astype(int).to_numpy()[files],
        threshold,
        batch_size,
        clean_probabilities=scored.probabilities[files],
        region=whole_image if scored.loader is None else scored.loader.loader_region,
    )
    table.to_csv(out_dir / "robustness.csv", index=False)
    write_json(out_dir / "robustness.json", table.to_dict(orient="records"))
    return table


def robustness_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``robustness_<perturbation>_<parameter>_{accuracy,roc_auc}`` for each perturbed row."""
    tracked: dict[str, float] = {}
    for row in table.itertuples():
        if row.perturbation != "clean":
            key = f"robustness_{row.perturbation}_{row.parameter:g}"
            tracked |= {f"{key}_accuracy": row.accuracy, f"{key}_roc_auc": row.roc_auc}
    return tracked


def log_report(logger, tracked: dict[str, float], out_dir: Path) -> None:
    """The defined metrics, and the report's own files under ``evaluation/``."""
    logger.log_metrics({k: v for k, v in tracked.items() if not math.isnan(v)})
    # Only the report's own files: out_dir may be a training run's folder holding models.
    for name in (*REPORT_FILES, *ROBUSTNESS_FILES, OVERLAP_FILE, "model.json"):
        if (out_dir / name).is_file():
            logger.log_artifact(out_dir / name, artifact_path="evaluation")


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
    if cfg.get("suite"):
        from deepguard.evaluation.generalization import check_suite

        check_suite(cfg.suite)
    threshold = cfg.get("threshold")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a probability in [0, 1] or null; got {threshold}")
    for key in ("batch_size", "limit"):
        value = cfg.get(key)
        if value is not None and value < 1:
            raise ConfigError(f"{key} must be at least 1 (or null for limit); got {value}")
    policy = cfg.get("train_overlap", "exclude")
    if policy not in OVERLAP_POLICIES:
        raise ConfigError(
            f"unknown train_overlap '{policy}'; available: {', '.join(OVERLAP_POLICIES)}"
        )


def write_model_info(
    out_dir: Path, loaded, split: str, threshold: float, lineage: dict[str, Any]
) -> None:
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
        "training_lineage": lineage,
    }
    write_json(out_dir / "model.json", info)


def records_to_score(
    datamodule, split: str, lineage: TrainingLineage | None, policy: str, out_dir: Path
) -> tuple[Any, dict[str, Any]]:
    """The records to score, with the model's training images handled as `policy` says.

    The same data split differently is refused (`check_split_matches`). Images the model was
    trained on (same sha256, in any folder) are listed in ``train_overlap.csv`` and, outside
    ``split=train``, excluded (``exclude``), kept (``report``) or refused (``refuse``).

    Returns:
        The records (a DataFrame, or `datamodule` itself when there is nothing to check) and
        the facts recorded in ``model.json``.
    """
    if lineage is None:
        log.warning(
            "no training lineage found for this model (lineage.json beside it, or in its "
            "MLflow run): cannot check that none of its training images is scored"
        )
        return (_records_of(datamodule, split) if split == "all" else datamodule), {
            "checked": False
        }
    records = _records_of(datamodule, split)
    if split != "all" and not isinstance(datamodule, pd.DataFrame):
        check_split_matches(lineage, datamodule)
    overlap = training_overlap(records, lineage)
    facts = {"checked": True, "source": lineage.source, "overlap": len(overlap), "policy": policy}
    if overlap.empty:
        return records, facts
    out_dir.mkdir(parents=True, exist_ok=True)
    overlap.to_csv(out_dir / OVERLAP_FILE, index=False)
    message = (
        f"{len(overlap)} of {len(records)} {split} images are images the model was trained on "
        f"(same sha256; listed in {out_dir / OVERLAP_FILE})"
    )
    if split == "train" or policy == "report":
        log.warning("%s; scored anyway (train_overlap=%s)", message, policy)
        return records, facts
    if policy == "refuse":
        raise DataError(
            f"{message}; scoring them would overstate the model. Evaluate on other images, or "
            "set train_overlap=exclude to leave them out"
        )
    log.warning("%s; left out of the scores (train_overlap=exclude)", message)
    kept = records[~records.index.isin(overlap.index)].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"{message}: every image is a training image; evaluate on other data")
    return kept, facts


def _records_of(datamodule, split: str) -> pd.DataFrame:
    """The records of `split`, or of every split for ``all`` (a suite's evaluation-only data)."""
    if split != "all":
        return split_records(datamodule, split)  # sets a DataModule up
    if isinstance(datamodule, pd.DataFrame):
        return datamodule.reset_index(drop=True)
    datamodule.setup()
    return datamodule.records.reset_index(drop=True)


def run_evaluation(cfg, datamodule=None) -> dict[str, Any]:
    """What `scripts/evaluate.py` runs: load the model, build the data, evaluate, track.

    Args:
        cfg: the composed `conf/evaluate.yaml`.
        datamodule: use this instead of instantiating `cfg.data` (tests, notebooks).

    Raises:
        ConfigError: the data is the model's training data split differently.
        DataError: training images in the split and ``train_overlap=refuse``.
    """
    from omegaconf import OmegaConf

    from deepguard.tracking.loading import load_model

    check_config(cfg)
    tracking_uri = cfg.get("tracking_uri")
    # Only registry and run URIs need a store; a plain `.keras` path loads without one.
    loaded = load_model(cfg.model, tracking_uri=tracking_uri)
    threshold = resolve_threshold(cfg.get("threshold"), loaded.metadata)
    logger = build_logger(cfg)
    start = {
        "run_name": f"evaluate {loaded.name or Path(str(loaded.uri)).stem}",
        "config": OmegaConf.to_container(cfg, resolve=True),
        "tags": {
            "deepguard.task": "evaluate",
            "deepguard.evaluated_model_uri": str(loaded.uri),
            "deepguard.evaluated_model_sha256": loaded.sha256,
        },
    }
    with tracked_run(logger, **start):  # FINISHED, FAILED or KILLED (SIGTERM, Ctrl-C), once
        if cfg.get("suite"):
            from deepguard.evaluation.suite import evaluate_suite, format_suite

            result = evaluate_suite(cfg, loaded, threshold, logger, tracking_uri)
            log.info("%s\n\n%s", format_suite(result), logger.describe())
            return result
        if datamodule is None:
            faces, fakes = scoring_inputs(cfg, loaded.metadata)
            datamodule = build_datamodule(cfg.data, loaded.image_size, faces, fakes)
        result = evaluate_checked(cfg, loaded, datamodule, threshold, logger, tracking_uri)
    log.info("%s\n\n%s", format_result(result), logger.describe())
    return result


def evaluate_checked(cfg, loaded, datamodule, threshold: float, logger, tracking_uri) -> dict:
    """Evaluate `cfg.split` after the training-lineage checks; record what was scored."""
    out_dir = Path(cfg.out_dir)
    lineage = read_training_lineage(str(loaded.uri), loaded.metadata.get("run_id"), tracking_uri)
    policy = cfg.get("train_overlap", "exclude")
    records, lineage_facts = records_to_score(datamodule, cfg.split, lineage, policy, out_dir)
    write_model_info(out_dir, loaded, cfg.split, threshold, lineage_facts)
    if lineage_facts.get("checked"):
        logger.log_metrics({"evaluation_train_overlap": float(lineage_facts["overlap"])})
    result = evaluate_model(
        loaded.model,
        records,
        split=cfg.split,
        out_dir=out_dir,
        threshold=threshold,
        robustness=cfg.robustness,
        logger=logger,
        batch_size=cfg.get("batch_size") or getattr(datamodule, "batch_size", None),
        limit=cfg.get("limit"),
        loader=datamodule if hasattr(datamodule, "records_dataset") else None,
    )
    if hasattr(datamodule, "digest"):
        # Lineage: which images were scored (the DataModule's content digest).
        logger.log_dataset(
            datamodule.split_records(cfg.split), f"{cfg.split}-set", datamodule.digest, "evaluation"
        )
    return result
