"""Datasets: layouts on disk, splits, corruption scan, tf.data pipelines, synthetic data.

TensorFlow is imported only by the names that need it (`Augmenter`, `make_dataset` and the
datasets of `DataModule`), so listing or checking a dataset stays quick.
"""

from deepguard.data.datamodule import DataModule
from deepguard.data.labels import CLASS_NAMES
from deepguard.data.layouts import (
    LAYOUTS,
    detect_layout,
    discover,
    discover_manifest,
    read_manifest,
)
from deepguard.data.splits import assign_splits, drop_duplicates
from deepguard.data.synthetic import FAMILIES, generate_synthetic
from deepguard.data.validation import scan_images

__all__ = [
    "CLASS_NAMES",
    "FAMILIES",
    "LAYOUTS",
    "Augmenter",
    "DataModule",
    "assign_splits",
    "detect_layout",
    "discover",
    "discover_manifest",
    "drop_duplicates",
    "generate_synthetic",
    "make_dataset",
    "read_manifest",
    "scan_images",
]


def __getattr__(name: str):
    # Lazy: these import TensorFlow (about 5 s and 0.7 GB).
    if name == "Augmenter":
        from deepguard.data.augmentation import Augmenter

        return Augmenter
    if name == "make_dataset":
        from deepguard.data.pipeline import make_dataset

        return make_dataset
    raise AttributeError(f"module 'deepguard.data' has no attribute {name!r}")
