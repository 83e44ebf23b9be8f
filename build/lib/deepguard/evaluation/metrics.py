"""Binary detection metrics, computed with scikit-learn.

Label 1 means fake (AI-generated), 0 means real; scores are probabilities of fake.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def equal_error_rate(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The error rate where the false-positive rate equals the false-negative rate."""
    fpr, tpr, _ = skm.roc_curve(y_true, y_prob)
    fnr = 1.0 - tpr
    # The crossing lies between two ROC points; average the two rates at the closest one.
    index = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[index] + fnr[index]) / 2.0)


def expected_calibration_error(y_true: np.ndarray, y_prob: np.ndarray, bins: int = 10) -> float:
    """Mean gap between confidence and accuracy over equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_index = np.clip(np.digitize(y_prob, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = bin_index == b
        if in_bin.any():
            error += in_bin.mean() * abs(y_prob[in_bin].mean() - y_true[in_bin].mean())
    return float(error)


def threshold_at_fpr(y_true: np.ndarray, y_prob: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate stays at or below `target_fpr`."""
    fpr, _, thresholds = skm.roc_curve(y_true, y_prob)
    allowed = np.flatnonzero(fpr <= target_fpr)
    return float(min(thresholds[allowed[-1]], 1.0))


def compute_metrics(
    y_true, y_prob, threshold: float = 0.5, target_fpr: float = 0.05
) -> dict[str, float]:
    """Every scalar metric DeepGuard reports for one set of predictions.

    Ranking metrics (ROC AUC, AP, EER) are NaN when only one class is present.

    Args:
        y_true: labels, 1 = fake.
        y_prob: predicted probabilities of fake.
        threshold: decision threshold for accuracy, F1, precision and recall.
        target_fpr: false-positive rate for ``threshold_at_fpr``.

    Example:
        >>> compute_metrics([0, 1], [0.2, 0.9])["accuracy"]
        1.0
    """
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    if y_true.shape != y_prob.shape or y_true.size == 0:
        raise ValueError(
            f"need as many labels as probabilities, at least one; got {y_true.size} labels "
            f"and {y_prob.size} probabilities"
        )
    y_pred = (y_prob >= threshold).astype(np.int64)
    both_classes = np.unique(y_true).size == 2
    nan = float("nan")
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "roc_auc": float(skm.roc_auc_score(y_true, y_prob)) if both_classes else nan,
        "average_precision": (
            float(skm.average_precision_score(y_true, y_prob)) if both_classes else nan
        ),
        "eer": equal_error_rate(y_true, y_prob) if both_classes else nan,
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "ece": expected_calibration_error(y_true, y_prob),
        "threshold": float(threshold),
        f"threshold_at_fpr_{target_fpr:g}": (
            threshold_at_fpr(y_true, y_prob, target_fpr) if both_classes else nan
        ),
        "n_samples": float(y_true.size),
    }
