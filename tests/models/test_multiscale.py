"""The multi-scale head: intermediate backbone layers pooled, concatenated and classified."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepguard.errors import ConfigError
from deepguard.models import build_detector, set_backbone_trainable

VGG16_TAPS = ["block3_conv3", "block4_conv3", "block5_conv3"]


def vgg16(feature_layers=None, size: int = 32) -> keras.Model:
    return build_detector(
        name="vgg16",
        application="keras.applications.VGG16",
        preprocessing="caffe",
        image_size=size,
        feature_layers=feature_layers,
    )


def test_tapped_layers_are_average_and_max_pooled_then_concatenated():
    model = vgg16(VGG16_TAPS)
    assert model.output_shape == (None, 1)
    # 256 + 512 + 512 channels, each average- and max-pooled.
    assert model.get_layer("pool").output.shape == (None, 2 * (256 + 512 + 512))
    assert isinstance(model.get_layer("pool_norm"), keras.layers.BatchNormalization)
    assert [output.shape[-1] for output in model.get_layer("backbone").outputs] == [256, 512, 512]


def test_default_keeps_the_single_average_pool():
    model = vgg16()
    assert isinstance(model.get_layer("pool"), keras.layers.GlobalAveragePooling2D)
    assert "pool_norm" not in [layer.name for layer in model.layers]


def test_multiscale_detector_round_trips_in_safe_mode(tmp_path, images):
    model = vgg16(VGG16_TAPS)
    batch = images(32, n=3)
    path = tmp_path / "multiscale.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0))


def test_freezing_leaves_only_the_head_trainable():
    model = vgg16(VGG16_TAPS)
    features = 2 * (256 + 512 + 512)
    # pool_norm gamma and beta, then the classifier's weights and bias.
    assert set_backbone_trainable(model, 0) == 2 * features + features + 1
    block5 = 3 * (3 * 3 * 512 * 512 + 512)
    assert set_backbone_trainable(model, 3) == 2 * features + features + 1 + block5


def test_unknown_layer_names_the_close_matches():
    with pytest.raises(ConfigError, match="block5_conv3"):
        vgg16(["block5_conv33"])
