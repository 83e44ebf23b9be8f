"""Data preparation: decode-check, quarantine, deduplication, splits, manifest and report.

Every file is checked by `deepguard.images.check_image` (the decode every reader runs);
the quarantine reasons are `deepguard.images.REASONS`.
"""

from deepguard.prepare.prepare import (
    MANIFEST_COLUMNS,
    build_report,
    prepare_dataset,
    prepare_records,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "build_report",
    "prepare_dataset",
    "prepare_records",
]
