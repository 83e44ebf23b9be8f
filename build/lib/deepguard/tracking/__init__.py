"""Experiment tracking (MLflow runs, loggers), the model registry and safe model loading.

Imports no training code.
"""
