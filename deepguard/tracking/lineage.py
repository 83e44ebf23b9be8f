"""Training lineage: which images a model was trained on, so evaluation never scores them.

A training run records, beside its model (``lineage.json`` and ``train_sha256.txt`` in its
output folder, and the same files under ``lineage/`` in its MLflow run):

- ``data_digest``: the DataModule's digest, over every image's sha256, label *and split*;
- ``content_digest``: the same over sha256 and label only, which does not move when the data
  is split differently;
- ``split_settings``: the seed and fractions the split was drawn with;
- ``train_sha256.txt``: the sha256 of every training image, one a line.

`check_split_matches` refuses an evaluation of the training data under another split (its
"test" split would hold training images), and `training_overlap` finds training images in
any evaluation data, whatever their folder or name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from deepguard.errors import ConfigError

log = logging.getLogger(__name__)

LINEAGE_FILE = "lineage.json"
TRAIN_SHA256_FILE = "train_sha256.txt"
LINEAGE_ARTIFACT_DIR = "lineage"
SPLIT_SETTINGS = ("seed", "val_fraction", "test_fraction", "limit")
# How each split setting is set on the command line (the data group's keys, or the seed).
SPLIT_OVERRIDES = {
    "seed": "seed",
    "val_fraction": "data.val_fraction",
    "test_fraction": "data.test_fraction",
    "limit": "data.limit",
}


@dataclass(frozen=True)
class TrainingLineage:
    """What a model was trained on (see the module doc).

    Attributes:
        data_digest: digest over sha256, label and split of every image.
        content_digest: digest over sha256 and label only (split-independent).
        split_settings: ``seed``, ``val_fraction``, ``test_fraction``, ``limit``.
        train_sha256: sha256 of every training image.
        source: where it was read from (a folder or a run), for messages.
    """

    data_digest: str | None
    content_digest: str | None
    split_settings: dict[str, Any]
    train_sha256: frozenset[str] = field(default_factory=frozenset)
    source: str = ""


def content_digest(records: pd.DataFrame) -> str:
    """sha256 over the sorted ``sha256,label`` rows: the same images, whatever the split."""
    pairs = zip(records["sha256"], records["label"], strict=True)
    lines = sorted(f"{h},{int(label)}" for h, label in pairs)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def lineage_of(datamodule: Any) -> TrainingLineage:
    """The lineage of a set-up DataModule (its records, digest and split settings)."""
    records = datamodule.records
    train = records.loc[records["split"] == "train", "sha256"]
    return TrainingLineage(
        data_digest=datamodule.digest,
        content_digest=content_digest(records),
        split_settings={name: getattr(datamodule, name, None) for name in SPLIT_SETTINGS},
        train_sha256=frozenset(str(h) for h in train),
    )


def write_training_lineage(datamodule: Any, out_dir: str | Path, logger: Any = None) -> Path:
    """Write ``lineage.json`` and ``train_sha256.txt`` into `out_dir`; log them as artifacts.

    Returns:
        The path of ``lineage.json``.
    """
    lineage = lineage_of(datamodule)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = {
        "data_digest": lineage.data_digest,
        "content_digest": lineage.content_digest,
        "split_settings": lineage.split_settings,
        "train_images": len(lineage.train_sha256),
    }
    (out_dir / LINEAGE_FILE).write_text(json.dumps(facts, indent=2) + "\n")
    hashes = "".join(f"{h}\n" for h in sorted(lineage.train_sha256))
    (out_dir / TRAIN_SHA256_FILE).write_text(hashes)
    if logger is not None:
        for name in (LINEAGE_FILE, TRAIN_SHA256_FILE):
            logger.log_artifact(out_dir / name, artifact_path=LINEAGE_ARTIFACT_DIR)
    return out_dir / LINEAGE_FILE


def read_lineage_folder(folder: str | Path) -> TrainingLineage | None:
    """The lineage a training run left in `folder`, or None when it holds none."""
    folder = Path(folder)
    facts_file, hashes_file = folder / LINEAGE_FILE, folder / TRAIN_SHA256_FILE
    if not facts_file.is_file() or not hashes_file.is_file():
        return None
    facts = json.loads(facts_file.read_text())
    return TrainingLineage(
        data_digest=facts.get("data_digest"),
        content_digest=facts.get("content_digest"),
        split_settings=dict(facts.get("split_settings") or {}),
        train_sha256=frozenset(hashes_file.read_text().split()),
        source=str(folder),
    )


def read_lineage_run(run_id: str, tracking_uri: str) -> TrainingLineage | None:
    """The lineage logged with MLflow run `run_id`, or None when it logged none."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="deepguard-lineage-") as tmp:
        try:
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=LINEAGE_ARTIFACT_DIR,
                dst_path=tmp,
                tracking_uri=tracking_uri,
            )
        except (MlflowException, OSError) as error:
            log.info("run %s has no readable training lineage: %s", run_id, error)
            return None
        lineage = read_lineage_folder(Path(tmp) / LINEAGE_ARTIFACT_DIR)
    if lineage is None:
        return None
    return TrainingLineage(
        lineage.data_digest,
        lineage.content_digest,
        lineage.split_settings,
        lineage.train_sha256,
        source=f"run {run_id}",
    )


def read_training_lineage(
    model_uri: str, run_id: str | None, tracking_uri: str | None = None
) -> TrainingLineage | None:
    """The lineage of a model: its MLflow run's, else the files beside a `.keras` path (its
    run folder, or the run its ``run.json`` names); None when none can be found.

    Args:
        model_uri: what was loaded (a path, ``runs:/...`` or ``models:/...``).
        run_id: the run the model came from, when known.
        tracking_uri: the store of that run (None: the default resolution).
    """
    from deepguard.tracking.store import resolve_tracking_uri

    if run_id is None and not str(model_uri).startswith(("runs:/", "models:/")):
        folder = Path(str(model_uri)).parent
        lineage = read_lineage_folder(folder)
        if lineage is not None:
            return lineage
        run_file = folder / "run.json"
        if not run_file.is_file():
            return None
        run_id = json.loads(run_file.read_text()).get("run_id")
    if not run_id:
        return None
    return read_lineage_run(run_id, resolve_tracking_uri(tracking_uri))


def check_split_matches(lineage: TrainingLineage, datamodule: Any) -> None:
    """Refuse to evaluate a model's own training data under a split other than its own.

    Raises:
        ConfigError: the data holds the same images (same content digest) but is split
            differently (another data digest); the message names the settings to use.
    """
    if lineage.content_digest is None or lineage.data_digest is None:
        return
    digest = getattr(datamodule, "digest", None)
    if digest is None or content_digest(datamodule.records) != lineage.content_digest:
        return  # other data (or no split to compare): the overlap check covers it
    if digest == lineage.data_digest:
        return
    ours = {name: getattr(datamodule, name, None) for name in SPLIT_SETTINGS}
    theirs = lineage.split_settings
    fix = " ".join(
        f"{SPLIT_OVERRIDES[name]}={_override_value(theirs.get(name))}" for name in SPLIT_SETTINGS
    )
    differing = ", ".join(
        f"{name} {ours.get(name)} (trained with {theirs.get(name)})"
        for name in SPLIT_SETTINGS
        if ours.get(name) != theirs.get(name)
    )
    raise ConfigError(
        "this is the data the model was trained on, split differently: its evaluation split "
        f"would hold training images ({differing or 'the split settings differ'}; lineage from "
        f"{lineage.source}). Evaluate with the training run's split: {fix}"
    )


def _override_value(value: Any) -> str:
    return "null" if value is None else str(value)


def training_overlap(records: pd.DataFrame, lineage: TrainingLineage | None) -> pd.DataFrame:
    """The rows of `records` whose image (by sha256) the model was trained on."""
    if lineage is None or not lineage.train_sha256:
        return records.iloc[0:0]
    return records[records["sha256"].astype(str).isin(lineage.train_sha256)]
