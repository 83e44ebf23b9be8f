"""Detectors: keras.applications backbones (or the small CNN) with a binary head.

Importing this package registers DeepGuard's own layers (`BackbonePreprocessing`,
`NeighbourPixelResidual`), so saved `.keras` models load with
``keras.saving.load_model(path, safe_mode=True)`` and no ``custom_objects``.
"""

from deepguard.models.detector import build_detector, resolve_application
from deepguard.models.npr import NeighbourPixelResidual, NPRResNet
from deepguard.models.preprocessing import PREPROCESSING_MODES, BackbonePreprocessing
from deepguard.models.small_cnn import SmallCNN
from deepguard.models.trainable import (
    count_trainable_parameters,
    set_backbone_trainable,
    tunable_layers,
)

__all__ = [
    "PREPROCESSING_MODES",
    "BackbonePreprocessing",
    "NPRResNet",
    "NeighbourPixelResidual",
    "SmallCNN",
    "build_detector",
    "count_trainable_parameters",
    "resolve_application",
    "set_backbone_trainable",
    "tunable_layers",
]
