"""Freeze and unfreeze a detector's backbone for transfer learning.

Keras 3 runs a `BatchNormalization` layer whose ``trainable`` is False in inference mode (it
uses and keeps its moving statistics), so freezing a layer is also what keeps BatchNorm in
inference mode.

A changed ``trainable`` flag takes effect at the next ``model.compile(...)``: compile again,
with a new optimizer (a built optimizer only knows the variables it was built with).
"""

from __future__ import annotations

import keras
import numpy as np

from deepguard.errors import ConfigError


def set_backbone_trainable(model: keras.Model, trainable_layers: int | None) -> int:
    """Choose which backbone layers train; the head always trains.

    Args:
        model: a detector from `build_detector` (holds a nested model named ``"backbone"``).
        trainable_layers:
            ``0``: the whole backbone is frozen (BatchNorm in inference mode): train the head.
            ``n > 0``: the top ``n`` backbone layers that hold trainable weights (convolutions,
            dense layers; BatchNorm layers are not counted) train; every BatchNorm layer stays
            frozen, in inference mode, keeping its pretrained statistics. An ``n`` larger
            than the backbone unfreezes all but BatchNorm: fine-tuning a pretrained backbone.
            ``None``: everything trains, BatchNorm included (training from scratch).

    Returns:
        The number of trainable parameters (scalars) of the whole model, head included: the
        "Trainable params" of ``model.summary()``.

    Example:
        >>> set_backbone_trainable(model, 0)   # phase 1: head only
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        >>> set_backbone_trainable(model, 20)  # phase 2: top 20 layers, 10x lower rate
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
    """
    backbone = _get_backbone(model)
    if trainable_layers is not None and (
        not isinstance(trainable_layers, int)
        or isinstance(trainable_layers, bool)
        or trainable_layers < 0
    ):
        raise ConfigError(
            "trainable_layers must be None (everything trains), 0 (frozen backbone) or a "
            f"positive number of top backbone layers, got {trainable_layers!r}"
        )
    if trainable_layers is None:
        backbone.trainable = True
    elif trainable_layers == 0:
        backbone.trainable = False
    else:
        backbone.trainable = True
        top = set(id(layer) for layer in tunable_layers(backbone)[-trainable_layers:])
        for layer in backbone.layers:
            layer.trainable = id(layer) in top
    return count_trainable_parameters(model)


def tunable_layers(backbone: keras.Model) -> list[keras.layers.Layer]:
    """The backbone's layers that hold trainable weights, BatchNorm excluded, bottom to top."""
    return [
        layer
        for layer in backbone.layers
        if not isinstance(layer, keras.layers.BatchNormalization)
        and any(weight.trainable for weight in layer.weights)
    ]


def count_trainable_parameters(model: keras.Model) -> int:
    """Number of scalars in ``model.trainable_weights``."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def _get_backbone(model: keras.Model) -> keras.Model:
    try:
        return model.get_layer("backbone")
    except ValueError as error:
        raise ConfigError(
            f"model '{model.name}' has no nested layer named 'backbone'; build it with "
            "deepguard.models.build_detector"
        ) from error
