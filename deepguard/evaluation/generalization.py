"""Cross-dataset evaluation: one detector scored on a named suite of datasets at once.

A suite (``conf/suite/<name>.yaml``) names datasets and how each is read (any DataModule
settings: root, layout or manifest) and which of its images are scored (``split``: ``all``
for a dataset kept for evaluation, ``test`` for the held-out part of a training set). The
result is one *generalization table*: per dataset, one row per generator and one ``overall``
row, with ROC AUC, average precision, accuracy at the model's threshold, EER and n.

How a generator's row is scored: when its images hold both classes (a layout that pairs each
generator with its own real set, like CNNDetection's), on those images; when they are fakes
only (most datasets name the generator of the fakes and one source for the reals), on its
fakes against all the dataset's real images; a real-only group gets its accuracy (the share
called real) and no ranking metrics.

The suite's mean ROC AUC over its datasets' ``overall`` rows is logged as
``suite_<name>_mean_roc_auc`` on the model's own MLflow run, with the suite's digest, so the
registry can promote on it (``scripts/register.py metric=suite_<name>_mean_roc_auc``):
``champion`` then means "generalizes best on this suite".
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepguard.errors import ConfigError
from deepguard.evaluation.metrics import compute_metrics
from deepguard.evaluation.report import write_json

log = logging.getLogger(__name__)

TABLE_COLUMNS = (
    "dataset",
    "generator",
    "n",
    "n_fake",
    "roc_auc",
    "average_precision",
    "accuracy",
    "eer",
)
TABLE_FILES = ("generalization.csv", "generalization.json", "generalization.png")
SUITE_SPLITS = ("all", "train", "val", "test")
SUITE_METRIC_PREFIX = "suite_"
SUITE_DIGEST_TAG = "deepguard.suite_digest"


def suite_metric_name(suite: str, metric: str = "roc_auc") -> str:
    """The run metric of a suite's mean: ``suite_<name>_mean_<metric>``."""
    return f"{SUITE_METRIC_PREFIX}{suite}_mean_{metric}"


def _row(dataset: str, generator: str, labels: np.ndarray, scores: np.ndarray, threshold: float):
    metrics = compute_metrics(labels, scores, threshold)
    return {
        "dataset": dataset,
        "generator": generator,
        "n": int(labels.size),
        "n_fake": int(labels.sum()),
        "roc_auc": metrics["roc_auc"],
        "average_precision": metrics["average_precision"],
        "accuracy": metrics["accuracy"],
        "eer": metrics["eer"],
    }


def dataset_rows(name: str, scored: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    """The rows of one dataset: each generator (see the module doc), then ``overall``.

    Args:
        name: the dataset's name in the suite.
        scored: one row per image with ``label`` (1 = fake), ``prob`` and ``generator``.
        threshold: the model's decision threshold.
    """
    labels = scored["label"].to_numpy(dtype=np.int64)
    scores = scored["prob"].to_numpy(dtype=np.float64)
    generators = scored["generator"].astype(str).to_numpy()
    reals = labels == 0
    rows = []
    names = sorted(set(generators))
    for generator in names if len(names) > 1 else []:  # one group: its row would be overall's
        group = generators == generator
        if labels[group].min() == 1:  # fakes only: against every real image of the dataset
            group = group | reals
        rows.append(_row(name, generator, labels[group], scores[group], threshold))
    rows.append(_row(name, "overall", labels, scores, threshold))
    return rows


def generalization_table(
    scored: Mapping[str, pd.DataFrame], threshold: float = 0.5
) -> pd.DataFrame:
    """The generalization table of several datasets' scores (columns `TABLE_COLUMNS`).

    Example:
        >>> table = generalization_table({"faces": scores_a, "scenes": scores_b})
        >>> table[table.generator == "overall"][["dataset", "roc_auc"]]
    """
    rows = [row for name, frame in scored.items() for row in dataset_rows(name, frame, threshold)]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def suite_summary(table: pd.DataFrame, suite: str) -> dict[str, float]:
    """Means over the datasets' ``overall`` rows (NaN ones left out): the suite's metrics."""
    overall = table[table["generator"] == "overall"]
    summary = {}
    for metric in ("roc_auc", "average_precision", "accuracy", "eer"):
        values = overall[metric].astype(float)
        summary[suite_metric_name(suite, metric)] = (
            float(np.nanmean(values)) if values.notna().any() else float("nan")
        )
    return summary


def suite_digest(dataset_digests: Mapping[str, str]) -> str:
    """One digest for a suite's data: the same datasets with the same images, the same digest."""
    lines = sorted(f"{name}:{digest}" for name, digest in dataset_digests.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def check_suite(suite: Mapping[str, Any]) -> None:
    """Fail on a malformed suite before the model or any data is read."""
    name, datasets = suite.get("name"), suite.get("datasets") or {}
    if not name or not str(name).replace("_", "").isalnum():
        raise ConfigError(
            f"suite.name must be a plain name (letters, digits, _), got {name!r}; it names the "
            f"metric {suite_metric_name('<name>')}"
        )
    if not datasets:
        raise ConfigError(f"suite '{name}' lists no datasets; add suite.datasets.<name>.root=...")
    for dataset, settings in datasets.items():
        split = (settings or {}).get("split", suite.get("split", "all"))
        if split not in SUITE_SPLITS:
            raise ConfigError(
                f"suite '{name}' dataset '{dataset}': unknown split '{split}'; available: "
                f"{', '.join(SUITE_SPLITS)}"
            )


def plot_generalization(table: pd.DataFrame, path: Path, title: str) -> None:
    """Horizontal bars of ROC AUC per dataset and generator, with the chance line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [f"{row.dataset} / {row.generator}" for row in table.itertuples()]
    values = table["roc_auc"].astype(float).fillna(0.0).to_numpy()
    figure = Figure(figsize=(6.5, 0.35 * len(labels) + 1.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = ["#1f4e79" if row.generator == "overall" else "#6fa8dc" for row in table.itertuples()]
    axes.barh(range(len(labels)), values, color=colours)
    axes.axvline(0.5, linestyle="--", color="grey", label="chance")
    axes.set(yticks=range(len(labels)), yticklabels=labels, xlim=(0, 1), xlabel="ROC AUC")
    axes.invert_yaxis()
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)


def write_generalization(
    table: pd.DataFrame, summary: dict[str, float], out_dir: Path, suite: str
) -> list[Path]:
    """``generalization.csv``, ``.json`` (rows and the suite means) and ``.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "generalization.csv", index=False)
    write_json(
        out_dir / "generalization.json",
        {"suite": suite, "summary": summary, "rows": table.to_dict(orient="records")},
    )
    plot_generalization(table, out_dir / "generalization.png", f"Suite '{suite}'")
    return [out_dir / name for name in TABLE_FILES]
