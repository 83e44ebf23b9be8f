"""NPR: classify the neighbouring-pixel residual with a small ResNet trained from scratch.

Tan et al., "Rethinking the Up-Sampling Operations in CNN-based Generative Network for
Generalizable Deepfake Detection" (CVPR 2024). Every generator up-samples, and up-sampling
makes neighbouring pixels depend on each other; ``x - up(down(x, 1/2))`` (nearest neighbour
both ways) removes the image content that varies slowly and keeps exactly those local
dependencies. A ResNet-50 stem and its first two stages then classify the residual.

`NPRResNet` has the calling convention of a keras.applications constructor, so it plugs into
`deepguard.models.build_detector` like Xception (``application:
deepguard.models.npr.NPRResNet``). `NeighbourPixelResidual` is its first layer: registered
serializable, so a saved detector loads with ``keras.saving.load_model(path, safe_mode=True)``
and no ``custom_objects`` once `deepguard.models` is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
from keras import ops

from deepguard.errors import ConfigError

# The constant the NPR code multiplies the residual by before its first convolution.
NPR_RESIDUAL_SCALE = 2.0 / 3.0
BATCH_NORM_EPSILON = 1e-5  # PyTorch's default, which NPR trained with


@keras.saving.register_keras_serializable(package="deepguard")
class NeighbourPixelResidual(keras.layers.Layer):
    """``scale * (x - up(down(x)))`` with nearest-neighbour resampling by a factor of 2.

    Nearest down-sampling keeps the top-left pixel of every 2x2 block (``x[2i, 2j]``, the
    pixel PyTorch's ``interpolate(scale_factor=0.5, mode="nearest")`` keeps, as in the NPR
    code) and nearest up-sampling copies it back over its block, so each pixel becomes its
    difference from its block's top-left pixel: ``r[i, j] = x[i, j] - x[2*(i//2), 2*(j//2)]``.
    The output has the input's shape at every size. For an odd side the last row (column)
    forms a block of its own, whose top-left pixel is itself: its residual is 0 (the NPR code
    cannot take odd sizes at all).

    The layer computes in float32 whatever the global dtype policy: the residual is a small
    difference of two large values, which bfloat16 (8 significant bits, a step of 1/64 near
    2) would round to a few levels. Later layers cast the small result to their own dtype.

    Args:
        scale: factor applied to the residual (the NPR code uses 2/3 on ImageNet-normalized
            input, see `NPR_RESIDUAL_SCALE`).
        **kwargs: forwarded to `keras.layers.Layer` (``name``, ``dtype`` ...).

    Example:
        >>> layer = NeighbourPixelResidual()
        >>> layer(np.arange(16, dtype="float32").reshape(1, 4, 4, 1))[0, :2, :2, 0]
        [[0., 1.], [4., 5.]]
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        corners = x[:, ::2, ::2, :]  # ceil(H/2) x ceil(W/2): an odd edge keeps its last pixel
        upsampled = ops.repeat(ops.repeat(corners, 2, axis=1), 2, axis=2)
        return (x - upsampled[:, :height, :width, :]) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def NPRResNet(
    include_top: bool = False,
    weights: str | Path | None = None,
    input_tensor=None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    residual_scale: float = NPR_RESIDUAL_SCALE,
    stem_kernel_size: int = 3,
    stage_blocks: Sequence[int] = (3, 4),
    batch_norm_momentum: float = 0.9,
    name: str = "npr_resnet",
) -> keras.Model:
    """Build the NPR network: residual, ResNet-50 stem, then its first stages of bottlenecks.

    Layers: ``npr`` (`NeighbourPixelResidual`) -> ``conv1`` (Conv2D 64, stride 2) -> BatchNorm
    -> ReLU -> ``pool1`` (3x3 max pool, stride 2) -> ``conv2_*`` (bottlenecks 64-64-256) ->
    ``conv3_*`` (128-128-512, stride 2) ...: layer names as in keras.applications.ResNet50,
    strides on the 3x3 convolutions as in torchvision's ResNet (v1.5), which NPR used. The
    feature map is 1/8 of the input side (1/2 more per stage after the second).

    Args:
        include_top: add global average pooling and a `classes`-way Dense classifier.
        weights: None (random initialisation: NPR trains from scratch) or a path to a
            ``.weights.h5`` file of the same network. There are no published Keras weights.
        input_tensor: optional Keras tensor to use as the input.
        input_shape: (height, width, 3); None leaves height and width free.
        pooling: None (4-D feature map), ``"avg"`` or ``"max"`` when include_top is False.
        classes: classifier width when include_top is True.
        classifier_activation: activation of that classifier.
        residual_scale: factor on the residual before the first convolution.
        stem_kernel_size: side of the stem convolution: 3 in NPR, 7 in ResNet-50. A 3x3
            kernel keeps the 2x2 residual pattern sharp; a 7x7 one averages over it.
        stage_blocks: bottleneck blocks per stage: (3, 4) are ResNet-50's first two stages,
            as in NPR; (3, 4, 6) adds the third (1/16 feature map, 1024 channels).
        batch_norm_momentum: decay of BatchNorm's moving statistics. 0.9 (PyTorch's 0.1),
            not Keras' 0.99: a small dataset gives few steps per epoch, and the moving
            statistics must settle within an epoch or two, or validation sees another scale.
        name: model name.

    Example:
        >>> backbone = NPRResNet(input_shape=(64, 64, 3))
        >>> backbone.output_shape
        (None, 8, 8, 512)
    """
    _check_arguments(weights, stem_kernel_size, stage_blocks, pooling)
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape or (None, None, 3), name="input")
    else:
        inputs = input_tensor
    norm = {"momentum": batch_norm_momentum, "epsilon": BATCH_NORM_EPSILON}
    x = NeighbourPixelResidual(residual_scale, name="npr")(inputs)
    # Explicit padding as in keras.applications.ResNet50 (and PyTorch's padding=k//2): the
    # window of every strided convolution is centred on the same pixel of each 2x2 block.
    x = keras.layers.ZeroPadding2D(stem_kernel_size // 2, name="conv1_pad")(x)
    x = _conv(64, stem_kernel_size, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(name="conv1_bn", **norm)(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, blocks in enumerate(stage_blocks):
        filters = 64 * 2**stage
        for block in range(1, int(blocks) + 1):
            strides = 2 if stage > 0 and block == 1 else 1
            x = _bottleneck(x, filters, strides, f"conv{stage + 2}_block{block}", norm)
    x = _top(x, include_top, pooling, classes, classifier_activation)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def _conv(filters: int, kernel_size: int, *, strides: int = 1, name: str):
    # No bias: the BatchNorm that follows has its own offset. He initialisation on the output
    # fan, as the NPR (torchvision) ResNet initialises its convolutions.
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(
            2.0, mode="fan_out", distribution="untruncated_normal"
        ),
        name=name,
    )


def _bottleneck(x, filters: int, strides: int, name: str, norm: dict):
    """1x1 (filters) -> 3x3 (filters, strided) -> 1x1 (4 x filters), plus the shortcut."""
    out_channels = 4 * filters
    if strides != 1 or x.shape[-1] != out_channels:
        shortcut = _conv(out_channels, 1, strides=strides, name=f"{name}_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_0_bn", **norm)(shortcut)
    else:
        shortcut = x
    y = _conv(filters, 1, name=f"{name}_1_conv")(x)
    y = keras.layers.BatchNormalization(name=f"{name}_1_bn", **norm)(y)
    y = keras.layers.ReLU(name=f"{name}_1_relu")(y)
    y = keras.layers.ZeroPadding2D(1, name=f"{name}_2_pad")(y)
    y = _conv(filters, 3, strides=strides, name=f"{name}_2_conv")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_2_bn", **norm)(y)
    y = keras.layers.ReLU(name=f"{name}_2_relu")(y)
    y = _conv(out_channels, 1, name=f"{name}_3_conv")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_3_bn", **norm)(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def _top(x, include_top: bool, pooling: str | None, classes: int, activation: str | None):
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return keras.layers.Dense(classes, activation=activation, name="predictions")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def _check_arguments(weights, stem_kernel_size, stage_blocks, pooling) -> None:
    if weights is not None and not str(weights).endswith(".weights.h5"):
        raise ConfigError(
            f"NPRResNet has no pretrained weights named '{weights}'; use weights=None "
            "(from scratch, as NPR trains) or a path to a .weights.h5 file saved from an "
            "NPRResNet with the same stage_blocks"
        )
    if not isinstance(stem_kernel_size, int) or stem_kernel_size < 1 or stem_kernel_size % 2 == 0:
        raise ConfigError(
            f"backbone.stem_kernel_size must be an odd number of pixels (3 in NPR, 7 in "
            f"ResNet-50), got {stem_kernel_size!r}"
        )
    blocks = list(stage_blocks)
    if not blocks or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in blocks):
        raise ConfigError(
            "backbone.stage_blocks must list at least one stage of at least one bottleneck "
            f"block, e.g. [3, 4] (NPR: ResNet-50's first two stages), got {stage_blocks!r}"
        )
    if pooling not in (None, "avg", "max"):
        raise ConfigError(f"NPRResNet pooling must be None, 'avg' or 'max', got '{pooling}'")
