"""Metrics, evaluation reports, robustness and cross-generator protocols."""

from deepguard.evaluation.metrics import compute_metrics

__all__ = ["compute_metrics"]
