"""Write an evaluation report: metrics, per-generator table, curves, confusion matrix, predictions.

Every figure is written twice: as a PNG for people and as CSV for `dvc plots`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from deepguard.evaluation.metrics import compute_metrics

# Files `write_report` creates (each name gets `prefix` in front); DVC stages declare these.
REPORT_FILES = (
    "metrics.json",
    "per_generator.csv",
    "per_generator.json",
    "confusion_matrix.json",
    "confusion_matrix.png",
    "roc.csv",
    "roc.png",
    "pr.csv",
    "pr.png",
    "predictions.csv",
)


def per_generator_table(
    y_true: np.ndarray, y_prob: np.ndarray, generators, threshold: float = 0.5
) -> pd.DataFrame:
    """One row per generator plus `overall`: n, n_fake, accuracy, roc_auc, AP, EER, mean_prob.

    ROC AUC, AP and EER are NaN for a generator whose images are all of one class.
    """
    frame = pd.DataFrame(
        {
            "label": np.asarray(y_true, dtype=np.int64),
            "prob": np.asarray(y_prob, dtype=np.float64),
            "generator": np.asarray(generators, dtype=str),
        }
    )
    groups = [(str(name), group) for name, group in frame.groupby("generator", sort=True)]
    rows = []
    for name, group in [*groups, ("overall", frame)]:
        scores = compute_metrics(group["label"], group["prob"], threshold)
        rows.append(
            {
                "generator": name,
                "n": len(group),
                "n_fake": int(group["label"].sum()),
                "accuracy": scores["accuracy"],
                "roc_auc": scores["roc_auc"],
                "average_precision": scores["average_precision"],
                "eer": scores["eer"],
                "mean_prob": float(group["prob"].mean()),
            }
        )
    return pd.DataFrame(rows)


def write_report(
    y_true,
    y_prob,
    generators,
    out_dir: str | Path,
    threshold: float = 0.5,
    prefix: str = "",
    paths=None,
) -> dict[str, float]:
    """Write every report file of one set of predictions into `out_dir`; return the metrics.

    Args:
        y_true: labels, 1 = fake.
        y_prob: probabilities of fake, same order.
        generators: the generator (or source group) of each image.
        out_dir: folder to write into (created).
        threshold: decision threshold for accuracy, the confusion matrix and `predicted`.
        prefix: put in front of every file name, e.g. ``"val_"``.
        paths: image paths for `predictions.csv` (row numbers when None).

    Returns:
        `compute_metrics` of the whole set.

    Example:
        >>> write_report([0, 1], [0.1, 0.8], ["a", "a"], "report")["roc_auc"]
        1.0
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    generators = np.asarray(generators, dtype=str).ravel()
    if not y_true.size == y_prob.size == generators.size:
        raise ValueError(
            f"need one label, probability and generator per image; got {y_true.size} labels, "
            f"{y_prob.size} probabilities and {generators.size} generators"
        )
    metrics = compute_metrics(y_true, y_prob, threshold)
    write_json(out_dir / f"{prefix}metrics.json", metrics)

    table = per_generator_table(y_true, y_prob, generators, threshold)
    table.to_csv(out_dir / f"{prefix}per_generator.csv", index=False)
    write_json(out_dir / f"{prefix}per_generator.json", table.to_dict(orient="records"))

    y_pred = (y_prob >= threshold).astype(np.int64)
    _write_confusion(y_true, y_pred, threshold, out_dir, prefix)
    # Curves need both classes; with one class there is no false-positive or recall axis.
    if np.unique(y_true).size == 2:
        _write_curves(y_true, y_prob, metrics, out_dir, prefix)

    predictions = {"label": y_true, "generator": generators, "prob": y_prob, "predicted": y_pred}
    rows = np.arange(y_true.size) if paths is None else np.asarray(paths, dtype=str)
    pd.DataFrame({"path": rows, **predictions}).to_csv(
        out_dir / f"{prefix}predictions.csv", index=False
    )
    return metrics


def _write_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, threshold: float, out_dir: Path, prefix: str
) -> None:
    """``confusion_matrix.json`` (tn, fp, fn, tp at the threshold) and its PNG."""
    matrix = skm.confusion_matrix(y_true, y_pred, labels=[0, 1])
    tn, fp, fn, tp = (int(v) for v in matrix.ravel())
    write_json(
        out_dir / f"{prefix}confusion_matrix.json",
        {"threshold": threshold, "tn": tn, "fp": fp, "fn": fn, "tp": tp},
    )
    _plot_confusion(matrix, threshold, out_dir / f"{prefix}confusion_matrix.png")


def _write_curves(
    y_true: np.ndarray, y_prob: np.ndarray, metrics: dict[str, float], out_dir: Path, prefix: str
) -> None:
    """The ROC and precision-recall curves as CSV (for ``dvc plots``) and PNG."""
    fpr, tpr, roc_thresholds = skm.roc_curve(y_true, y_prob)
    # roc_curve starts at threshold +inf (nothing flagged); probabilities stop at 1.
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(roc_thresholds, 1)})
    roc.to_csv(out_dir / f"{prefix}roc.csv", index=False)
    precision, recall, pr_thresholds = skm.precision_recall_curve(y_true, y_prob)
    # The last (precision 1, recall 0) point has no threshold: nothing is flagged there.
    pr = pd.DataFrame(
        {"recall": recall, "precision": precision, "threshold": [*pr_thresholds, 1.0]}
    )
    pr.to_csv(out_dir / f"{prefix}pr.csv", index=False)
    auc, ap = metrics["roc_auc"], metrics["average_precision"]
    _plot_curve(roc, "fpr", "tpr", auc, "ROC AUC", out_dir / f"{prefix}roc.png")
    _plot_curve(pr, "recall", "precision", ap, "AP", out_dir / f"{prefix}pr.png")


def write_json(path: Path, value) -> None:
    """Write `value` as indented JSON; NaN (an undefined metric) becomes null."""
    path.write_text(json.dumps(_nan_to_none(value), indent=2) + "\n")


def _nan_to_none(value):
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _figure():
    # The Agg backend renders to files without a display and without touching global state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _plot_curve(
    curve: pd.DataFrame, x: str, y: str, area: float, area_name: str, path: Path
) -> None:
    names = {
        "fpr": "false-positive rate (real flagged as fake)",
        "tpr": "true-positive rate (fakes caught)",
        "recall": "recall (fakes caught)",
        "precision": "precision (flagged that are fake)",
    }
    figure = _figure()
    axes = figure.add_subplot()
    # ROC points are joined by straight lines (ties); precision-recall by steps, as AP sums.
    style = "default" if x == "fpr" else "steps-post"
    axes.plot(curve[x], curve[y], drawstyle=style, label=f"{area_name} = {area:.3f}")
    if x == "fpr":
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=names[x], ylabel=names[y])
    axes.set_title("ROC curve" if x == "fpr" else "Precision-recall curve")
    axes.legend(loc="lower right" if x == "fpr" else "lower left")
    figure.tight_layout()
    figure.savefig(path)


def _plot_confusion(matrix: np.ndarray, threshold: float, path: Path) -> None:
    figure = _figure()
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        shade = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=shade)
    axes.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["real", "fake"],
        yticklabels=["real", "fake"],
        xlabel=f"predicted (threshold {threshold:g})",
        ylabel="true label",
        title="Confusion matrix (images)",
    )
    figure.tight_layout()
    figure.savefig(path)
