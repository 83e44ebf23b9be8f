"""`experiment=generalize`, the preset docs/models.md documents, composes and trains a step."""

from __future__ import annotations

from pathlib import Path

import keras

from deepguard.models.npr import NeighbourPixelResidual
from deepguard.tracking.loading import load_keras_file
from deepguard.training import train

TINY = [
    "debug=fdr",  # one batch of training, validation and test; nothing logged
    "data.image_size=32",
    "data.synthetic.n_per_class=16",
    "data.synthetic.image_size=32",
]


def residual_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every NPR residual layer of a model, nested backbones included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, NeighbourPixelResidual):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += residual_layers(layer)
    return found


def test_generalize_preset_trains_an_npr_detector_in_one_step(compose_train):
    cfg = compose_train("experiment=generalize", *TINY)
    assert cfg.tags.experiment == "generalize"
    assert cfg.backbone.name == "npr"
    metrics = train(cfg)
    model, _ = load_keras_file(Path(cfg.paths.output_dir) / "model.keras")
    assert residual_layers(model), "the saved detector does not classify the NPR residual"
    assert model.input_shape == (None, 32, 32, 3)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
