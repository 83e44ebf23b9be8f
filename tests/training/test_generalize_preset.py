"""`experiment=generalize`, the preset docs/models.md documents, composes and trains a step.

The run is the session zoo's (tests/helpers/zoo.py: one batch, at 32 px), which the app's
registry-driven test opens too.
"""

from __future__ import annotations

import keras

from deepguard.models.npr import NeighbourPixelResidual
from deepguard.tracking.loading import load_keras_file
from tests.helpers.zoo import ZooEntry


def residual_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every NPR residual layer of a model, nested backbones included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, NeighbourPixelResidual):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += residual_layers(layer)
    return found


def test_generalize_preset_trains_an_npr_detector_in_one_step(model_zoo):
    entry = ZooEntry("experiment", "generalize")
    metrics = model_zoo.train(entry)
    cfg = model_zoo.configs[entry]
    assert cfg.tags.experiment == "generalize"
    assert cfg.backbone.name == "npr"
    model, _ = load_keras_file(model_zoo.output_dirs[entry] / "model.keras")
    assert residual_layers(model), "the saved detector does not classify the NPR residual"
    assert model.input_shape == (None, 32, 32, 3)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
