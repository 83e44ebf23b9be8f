"""Data preparation: decode-check, quarantine, deduplication, splits, manifest and report."""

from deepguard.prepare.checks import PIPELINE_FORMATS, REASONS, ImageCheck, check_image
from deepguard.prepare.prepare import (
    MANIFEST_COLUMNS,
    build_report,
    prepare_dataset,
    prepare_records,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "PIPELINE_FORMATS",
    "REASONS",
    "ImageCheck",
    "build_report",
    "check_image",
    "prepare_dataset",
    "prepare_records",
]
