"""Run a named evaluation suite (``scripts/evaluate.py suite=<name>``): score every dataset,
write the generalization table and record it on the model's own MLflow run.

The tables and their rules are in `deepguard.evaluation.generalization`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import pandas as pd

from deepguard.evaluation.generalization import (
    SUITE_DIGEST_TAG,
    generalization_table,
    suite_summary,
    write_generalization,
)

log = logging.getLogger(__name__)

DEFAULT_DATA_TARGET = "deepguard.data.DataModule"


def build_suite_datamodule(settings: dict[str, Any], image_size: int, cfg) -> Any:
    """A DataModule for one suite dataset, at the model's input size (the split key removed)."""
    from hydra.utils import instantiate

    node = {key: value for key, value in settings.items() if key != "split"}
    node.setdefault("_target_", DEFAULT_DATA_TARGET)
    node.setdefault("seed", cfg.seed)
    node.setdefault("batch_size", cfg.batch_size)
    node["image_size"] = image_size
    return instantiate(node, _convert_="all")


def score_dataset(cfg, loaded, name: str, settings: dict, lineage, default_split: str):
    """The scored records of one dataset (path, label, generator, prob), its digest and the
    lineage facts (training images left out as ``train_overlap`` says)."""
    from deepguard.evaluation.evaluate import records_to_score, score_records

    datamodule = build_suite_datamodule(settings, loaded.image_size, cfg)
    split = settings.get("split", default_split)
    policy = cfg.get("train_overlap", "exclude")
    out_dir = Path(cfg.out_dir) / name
    records, facts = records_to_score(datamodule, split, lineage, policy, out_dir)
    log.info("suite dataset %s: scoring %d images (%s)", name, len(records), split)
    scored = score_records(loaded.model, records, cfg.get("batch_size") or 32)
    frame = records[["path", "label", "generator"]].assign(prob=scored.probabilities)
    return frame, getattr(datamodule, "digest", ""), facts | {"split": split}


def evaluate_suite(cfg, loaded, threshold: float, logger, tracking_uri) -> dict[str, Any]:
    """Score the suite `cfg.suite` and write, log and return its generalization table.

    Returns:
        ``{"suite", "table", "summary", "digest", "datasets", "out_dir"}``; ``summary`` holds
        ``suite_<name>_mean_roc_auc`` and the other means.
    """
    from omegaconf import OmegaConf

    from deepguard.evaluation.generalization import suite_digest
    from deepguard.tracking.lineage import read_training_lineage

    suite = cast(dict[str, Any], OmegaConf.to_container(cfg.suite, resolve=True))
    lineage = read_training_lineage(str(loaded.uri), loaded.metadata.get("run_id"), tracking_uri)
    scored: dict[str, pd.DataFrame] = {}
    digests: dict[str, str] = {}
    facts: dict[str, Any] = {}
    for name, settings in suite["datasets"].items():
        scored[name], digests[name], facts[name] = score_dataset(
            cfg, loaded, name, dict(settings or {}), lineage, suite.get("split", "all")
        )
    table = generalization_table(scored, threshold)
    summary = suite_summary(table, suite["name"])
    out_dir = Path(cfg.out_dir)
    files = write_generalization(table, summary, out_dir, suite["name"])
    result = {
        "suite": suite["name"],
        "table": table,
        "summary": summary,
        "digest": suite_digest(digests),
        "datasets": facts,
        "out_dir": out_dir,
    }
    record_suite(result, files, loaded, logger, tracking_uri)
    return result


def record_suite(result: dict, files: list[Path], loaded, logger, tracking_uri) -> None:
    """The suite's means, digest and table on the evaluation run and on the model's own run."""
    from deepguard.tracking.mlflow_logger import annotate_run

    suite = result["suite"]
    tags = {f"{SUITE_DIGEST_TAG}.{suite}": result["digest"]}
    logger.log_metrics({k: v for k, v in result["summary"].items() if v == v})  # NaN skipped
    for path in files:
        logger.log_artifact(path, artifact_path=f"generalization/{suite}")
    run_id = model_run_id(loaded)
    if run_id is None:
        log.warning(
            "the model has no MLflow run (a bare .keras file): the suite's table is in %s only; "
            "evaluate models:/<name>@<alias> or runs:/<id>/model to record it on the run",
            result["out_dir"],
        )
        return
    annotate_run(run_id, tracking_uri, result["summary"], tags, files, f"generalization/{suite}")


def model_run_id(loaded) -> str | None:
    """The MLflow run a loaded model came from: its URI's, else its folder's ``run.json``."""
    import json

    if loaded.metadata.get("run_id"):
        return str(loaded.metadata["run_id"])
    run_file = Path(str(loaded.uri)).parent / "run.json"
    if str(loaded.uri).startswith(("runs:/", "models:/")) or not run_file.is_file():
        return None
    return json.loads(run_file.read_text()).get("run_id")


def format_suite(result: dict[str, Any]) -> str:
    """The generalization table and the suite's means, for the console."""
    table = result["table"].to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")
    means = "\n".join(f"  {name:<40}{value:.4f}" for name, value in result["summary"].items())
    return (
        f"generalization (suite '{result['suite']}'):\n{table}\n\nsuite means:\n{means}\n\n"
        f"report written to {result['out_dir']}"
    )
