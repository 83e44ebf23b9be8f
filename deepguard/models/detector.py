"""Build a detector: [0, 255] RGB in, probability of fake out, any backbone in the middle."""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable
from pathlib import Path

import keras

from deepguard.errors import ConfigError
from deepguard.models.preprocessing import BackbonePreprocessing
from deepguard.models.weights import build_backbone

log = logging.getLogger(__name__)


def build_detector(
    *,
    name: str,
    application: str,
    preprocessing: str,
    image_size: int,
    weights: str | Path | None = None,
    dropout: float = 0.2,
    head_units: int = 0,
    unfreeze_layers: int | None = 0,
    min_image_size: int = 32,
    feature_layers: list[str] | None = None,
    batch_norm_momentum: float | None = None,
    scratch_initializer: str | None = None,
    **application_kwargs,
) -> keras.Model:
    """Build a binary real/fake classifier around a keras.applications-style backbone.

    Layers: ``image`` (float32 RGB [0, 255], (B, S, S, 3)) -> ``preprocessing``
    (`BackbonePreprocessing`) -> ``backbone`` (nested functional model) -> global average
    pooling -> dropout -> optional Dense(head_units, relu) -> ``p_fake`` (Dense(1, sigmoid),
    float32 even under a mixed precision policy).

    Every layer comes back trainable, pretrained or not: freezing is the trainer's call
    (`set_backbone_trainable`).

    Args:
        name: the backbone's config name (``conf/backbone/<name>.yaml``), for messages.
        application: dotted path to a constructor such as ``keras.applications.Xception``.
        preprocessing: ``tf``, ``caffe``, ``torch`` or ``none`` (see `BackbonePreprocessing`).
        image_size: side S of the square input, pixels.
        weights: None, ``"imagenet"``, ``"hed"`` (VGG16) or a ``.weights.h5`` path.
        dropout: dropout rate before the classifier, in [0, 1).
        head_units: width of an extra ReLU Dense layer; 0 for none.
        unfreeze_layers: how many top backbone layers the trainer unfreezes when fine-tuning a
            pretrained backbone (None: all). Checked here, applied by the trainer.
        min_image_size: the smallest S the backbone accepts, pixels.
        feature_layers: names of backbone layers whose outputs feed the head (multi-scale),
            e.g. ``["block3_conv3", "block4_conv3", "block5_conv3"]`` for VGG16; each is
            average- and max-pooled over space and the results are concatenated (layer
            ``pool``) and standardized (``pool_norm``, BatchNormalization) before the
            dropout. None: only the backbone's last output, average-pooled.
        batch_norm_momentum: decay of the moving statistics of every BatchNormalization layer
            (backbone and head); None keeps each layer's own. The statistics a model uses at
            inference move by ``1 - momentum`` per training step: with Keras' 0.99 (0.999 in
            MobileNetV3) they still hold mostly their initial values after a few hundred
            steps, and a network trained from scratch then answers one constant at
            validation. 0.9 settles within about 40 steps.
        scratch_initializer: a Keras initializer name (``he_normal``) whose draws replace the
            kernels of every backbone Conv2D and Dense layer when ``weights`` is None; None
            keeps the constructor's. keras.applications' VGGs draw Glorot-uniform kernels,
            which halve the signal's variance at every ReLU layer: 16 layers in, a VGG from
            scratch feeds its head a near-constant and answers one class.
        **application_kwargs: passed to the constructor (``include_preprocessing`` ...).

    Example:
        >>> model = build_detector(name="small_cnn", application=
        ...     "deepguard.models.small_cnn.SmallCNN", preprocessing="none", image_size=64)
        >>> model.output_shape
        (None, 1)
    """
    _check_arguments(name, image_size, min_image_size, dropout, head_units, unfreeze_layers)
    _check_momentum(batch_norm_momentum)
    if scratch_initializer is not None:
        check_initializer(scratch_initializer)
    constructor = resolve_application(application, name=name)
    inputs = keras.Input(shape=(image_size, image_size, 3), dtype="float32", name="image")
    # Scaling runs in float32 even under mixed precision: bfloat16 cannot hold 255 - 123.68.
    x = BackbonePreprocessing(preprocessing, name="preprocessing", dtype="float32")(inputs)
    backbone = build_backbone(
        constructor,
        name=name,
        weights=None if weights is None else str(weights),
        input_shape=(image_size, image_size, 3),
        **application_kwargs,
    )
    if weights is None and scratch_initializer is not None:
        redraw_kernels(backbone, scratch_initializer)
    if feature_layers:
        backbone = _tap_layers(backbone, list(feature_layers), name=name)
        x = _pool_multiscale(backbone(x), list(feature_layers))
    else:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(x))
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    if head_units:
        x = keras.layers.Dense(head_units, activation="relu", name="head")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="p_fake")(x)
    model = keras.Model(inputs, outputs, name=f"deepguard_{name}")
    if batch_norm_momentum is not None:
        set_batch_norm_momentum(model, batch_norm_momentum)
    log.info(
        "built detector %s: %s at %d px, weights=%s, %d parameters",
        name,
        application,
        image_size,
        weights,
        model.count_params(),
    )
    return model


def set_batch_norm_momentum(model: keras.Model, momentum: float) -> int:
    """Set the moving-statistics decay of every BatchNormalization layer, nested ones too.

    Keras reads ``momentum`` when the training step is traced and saves it in the layer's
    config, so the value holds for training and for the saved model alike.

    Returns:
        How many layers were changed.
    """
    changed = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
            changed += 1
    return changed


def check_initializer(name: str) -> None:
    """Fail unless `name` (``he_normal`` ...) is a Keras initializer."""
    try:
        keras.initializers.get(name)
    except ValueError as error:
        raise ConfigError(
            f"backbone.scratch_initializer: unknown Keras initializer {name!r}; use a name "
            "such as he_normal, he_uniform or glorot_uniform, or null"
        ) from error


def redraw_kernels(model: keras.Model, initializer: str) -> int:
    """Replace the kernel of every Conv2D and Dense layer, nested ones too, with fresh draws.

    Biases keep their zeros. Each kernel gets an initializer of its own: an unseeded Keras
    initializer fixes its seed when built, so one called twice returns the same values (and
    VGG19's four block-5 kernels would be equal). Their seeds come from the generator
    ``keras.utils.set_random_seed`` seeds, so a seeded run redraws the same kernels.

    Returns:
        How many kernels were redrawn.
    """
    redrawn = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
            draw = keras.initializers.get(initializer)
            layer.kernel.assign(draw(layer.kernel.shape, dtype=layer.kernel.dtype))
            redrawn += 1
    return redrawn


def _all_layers(model: keras.Model):
    """Every layer of `model`, descending into nested models."""
    pending = list(model.layers)
    while pending:
        layer = pending.pop()
        yield layer
        pending.extend(getattr(layer, "layers", []))


def _tap_layers(backbone: keras.Model, layer_names: list[str], *, name: str) -> keras.Model:
    """The same backbone (shared layers and weights) with the named layers as its outputs."""
    available = [layer.name for layer in backbone.layers]
    unknown = [layer for layer in layer_names if layer not in available]
    if unknown:
        close = difflib.get_close_matches(unknown[0], available, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(
            f"backbone '{name}' has no layer {unknown[0]!r}{hint}; backbone.feature_layers "
            f"must name layers of the backbone, e.g. {available[-3:]}, or be null"
        )
    outputs = [backbone.get_layer(layer).output for layer in layer_names]
    return keras.Model(backbone.inputs, outputs, name="backbone")


def _pool_multiscale(features, layer_names: list[str]):
    """Average and max pooling of every tapped feature map, concatenated and standardized.

    Max pooling keeps sparse, local evidence (a blending seam, a GAN artefact in one spot)
    that averaging over the whole map dilutes. The layers differ in scale by orders of
    magnitude (early VGG maps are much larger in value), hence the BatchNormalization.
    """
    pooled = []
    for layer_name, feature_map in zip(layer_names, features, strict=True):
        pooled.append(keras.layers.GlobalAveragePooling2D(name=f"avg_{layer_name}")(feature_map))
        pooled.append(keras.layers.GlobalMaxPooling2D(name=f"max_{layer_name}")(feature_map))
    x = keras.layers.Concatenate(name="pool")(pooled)
    return keras.layers.BatchNormalization(name="pool_norm")(x)


def resolve_application(application: str, *, name: str) -> Callable[..., keras.Model]:
    """Import the constructor a dotted path names, e.g. ``keras.applications.VGG16``.

    Raises:
        ConfigError: the module or attribute does not exist, or is not callable.
    """
    module_path, _, attribute = str(application).rpartition(".")
    try:
        module = importlib.import_module(module_path) if module_path else None
    except ImportError:
        module = None
    constructor = getattr(module, attribute, None) if module is not None else None
    if not callable(constructor):
        choices = [f"keras.applications.{n}" for n in dir(keras.applications) if n[:1].isupper()]
        close = difflib.get_close_matches(str(application), choices, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(
            f"backbone '{name}': unknown application '{application}'; {hint}set `application` "
            "in conf/backbone/<name>.yaml to a dotted path of a keras.applications-style "
            "constructor, e.g. keras.applications.Xception or deepguard.models.small_cnn.SmallCNN"
        )
    return constructor


def _check_momentum(momentum: float | None) -> None:
    if momentum is not None and not (
        isinstance(momentum, float | int) and not isinstance(momentum, bool) and 0 <= momentum < 1
    ):
        raise ConfigError(
            "backbone.batch_norm_momentum must be null (each layer's own) or a number in "
            f"[0, 1), e.g. 0.9; got {momentum!r}"
        )


def _check_arguments(name, image_size, min_image_size, dropout, head_units, unfreeze_layers):
    if not isinstance(image_size, int) or isinstance(image_size, bool):
        raise ConfigError(
            f"data.image_size must be an integer number of pixels, got {image_size!r}"
        )
    if image_size < min_image_size:
        raise ConfigError(
            f"backbone '{name}' needs images of at least {min_image_size} px, got "
            f"data.image_size={image_size}; set data.image_size={min_image_size} or more, "
            "or pick a backbone for small images such as backbone=small_cnn"
        )
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"backbone.dropout must be in [0, 1), got {dropout}")
    if not isinstance(head_units, int) or head_units < 0:
        raise ConfigError(
            f"backbone.head_units must be an integer >= 0 (0: none), got {head_units!r}"
        )
    if unfreeze_layers is not None and (
        not isinstance(unfreeze_layers, int)
        or isinstance(unfreeze_layers, bool)
        or unfreeze_layers < 0
    ):
        raise ConfigError(
            "backbone.unfreeze_layers must be null (the whole backbone) or an integer >= 0, "
            f"got {unfreeze_layers!r}"
        )
