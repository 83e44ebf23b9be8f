"""Data preparation: decode-check, quarantine, deduplication, splits, manifest and report."""

from deepguard.prepare.checks import REASONS, ImageCheck, check_image
from deepguard.prepare.prepare import (
    MANIFEST_COLUMNS,
    prepare_dataset,
    prepare_records,
    read_input_manifest,
    split_by_hash,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "REASONS",
    "ImageCheck",
    "check_image",
    "prepare_dataset",
    "prepare_records",
    "read_input_manifest",
    "split_by_hash",
]
