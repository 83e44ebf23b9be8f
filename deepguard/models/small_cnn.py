"""A small 4-block CNN with the calling convention of a keras.applications constructor.

It plugs into `build_detector` like Xception or VGG16 (``application:
deepguard.models.small_cnn.SmallCNN``) and is the backbone of tests and quick runs.
Built only from stock Keras layers, so saved models need no custom objects for it.
"""

from __future__ import annotations

from pathlib import Path

import keras

from deepguard.errors import ConfigError


def SmallCNN(
    include_top: bool = False,
    weights: str | Path | None = None,
    input_tensor=None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    filters: tuple[int, ...] = (32, 64, 128, 256),
    batch_norm_momentum: float = 0.9,
    name: str = "small_cnn",
) -> keras.Model:
    """Build the small CNN: per block Conv2D 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2.

    Args:
        include_top: add global average pooling and a `classes`-way Dense classifier.
        weights: None (random init) or a path to a `.weights.h5` file of the same network.
            There are no published pretrained weights.
        input_tensor: optional Keras tensor to use as the input.
        input_shape: (height, width, 3); None leaves height and width free.
        pooling: None (4-D feature map), ``"avg"`` or ``"max"`` when include_top is False.
        classes: classifier width when include_top is True.
        classifier_activation: activation of that classifier.
        filters: channels of each block; the feature map is 1/2**len(filters) of the input.
        batch_norm_momentum: decay of BatchNorm's moving statistics. 0.9 rather than Keras'
            0.99: small datasets give few steps per epoch, and the moving statistics must
            settle within an epoch or two, or validation sees a different scale than training.
        name: model name.

    Example:
        >>> backbone = SmallCNN(input_shape=(64, 64, 3))
        >>> backbone.output_shape
        (None, 4, 4, 256)
    """
    if weights is not None and not str(weights).endswith(".weights.h5"):
        raise ConfigError(
            f"SmallCNN has no pretrained weights named '{weights}'; use weights=None "
            "(from scratch) or a path to a .weights.h5 file saved from a SmallCNN"
        )
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape or (None, None, 3), name="input")
    else:
        inputs = input_tensor
    x = inputs
    for block, channels in enumerate(filters, start=1):
        # No bias: the BatchNorm that follows has its own offset.
        x = keras.layers.Conv2D(
            channels, 3, padding="same", use_bias=False, name=f"block{block}_conv"
        )(x)
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"block{block}_bn")(
            x
        )
        x = keras.layers.ReLU(name=f"block{block}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    elif pooling is not None:
        raise ConfigError(f"SmallCNN pooling must be None, 'avg' or 'max', got '{pooling}'")
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model
