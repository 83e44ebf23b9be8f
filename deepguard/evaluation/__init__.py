"""Metrics, evaluation reports, robustness and cross-generator protocols."""

from deepguard.evaluation.evaluate import evaluate_model, run_evaluation
from deepguard.evaluation.inputs import predict_probabilities
from deepguard.evaluation.metrics import compute_metrics
from deepguard.evaluation.predict import predict_files
from deepguard.evaluation.protocols import leave_one_generator_out
from deepguard.evaluation.report import per_generator_table, write_report
from deepguard.evaluation.robustness import robustness_table

__all__ = [
    "compute_metrics",
    "evaluate_model",
    "leave_one_generator_out",
    "per_generator_table",
    "predict_files",
    "predict_probabilities",
    "robustness_table",
    "run_evaluation",
    "write_report",
]
