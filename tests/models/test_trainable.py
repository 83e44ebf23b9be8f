"""set_backbone_trainable: what trains in each phase, and BatchNorm stays in inference mode."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepguard.errors import ConfigError
from deepguard.models import build_detector, count_trainable_parameters, set_backbone_trainable

SMALL_CNN = dict(
    name="small_cnn", application="deepguard.models.small_cnn.SmallCNN", preprocessing="tf"
)


def _values(model):
    backbone = model.get_layer("backbone")
    return {
        "conv1": keras.ops.convert_to_numpy(backbone.get_layer("block1_conv").kernel).copy(),
        "conv4": keras.ops.convert_to_numpy(backbone.get_layer("block4_conv").kernel).copy(),
        "bn_mean": [
            keras.ops.convert_to_numpy(backbone.get_layer(f"block{b}_bn").moving_mean).copy()
            for b in range(1, 5)
        ],
        "head": keras.ops.convert_to_numpy(model.get_layer("p_fake").kernel).copy(),
    }


def _train_steps(model, images, learning_rate=1e-2):
    # A new optimizer each phase: trainable flags take effect at compile time.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="binary_crossentropy")
    x = images(32, n=8, seed=1)
    y = np.array([0, 1] * 4, "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def _trainable_names(model):
    return {layer.name for layer in model.get_layer("backbone").layers if layer.trainable_weights}


@pytest.fixture
def model():
    return build_detector(**SMALL_CNN, image_size=32, dropout=0.0)


def test_zero_freezes_the_backbone_and_its_batchnorm_statistics(model, images):
    count = set_backbone_trainable(model, 0)
    head = model.get_layer("p_fake")
    assert count == int(np.prod(head.kernel.shape) + np.prod(head.bias.shape))
    assert _trainable_names(model) == set()

    before = _values(model)
    _train_steps(model, images)
    after = _values(model)
    np.testing.assert_array_equal(after["conv1"], before["conv1"])
    for old, new in zip(before["bn_mean"], after["bn_mean"], strict=True):
        np.testing.assert_array_equal(new, old)  # BatchNorm ran in inference mode
    assert not np.array_equal(after["head"], before["head"])


def test_top_n_unfreezes_the_top_convolutions_but_never_batchnorm(model, images):
    # The two-phase transfer recipe: head first, then the top two conv layers.
    set_backbone_trainable(model, 0)
    _train_steps(model, images)
    count = set_backbone_trainable(model, 2)
    assert _trainable_names(model) == {"block3_conv", "block4_conv"}
    assert count == count_trainable_parameters(model) > 0

    before = _values(model)
    _train_steps(model, images, learning_rate=1e-3)
    after = _values(model)
    assert not np.array_equal(after["conv4"], before["conv4"])
    np.testing.assert_array_equal(after["conv1"], before["conv1"])
    for old, new in zip(before["bn_mean"], after["bn_mean"], strict=True):
        np.testing.assert_array_equal(new, old)


def test_n_beyond_the_backbone_unfreezes_all_but_batchnorm(model):
    set_backbone_trainable(model, 1000)
    assert _trainable_names(model) == {f"block{b}_conv" for b in range(1, 5)}


def test_none_trains_everything_batchnorm_included(model, images):
    set_backbone_trainable(model, 0)
    count = set_backbone_trainable(model, None)
    assert count == count_trainable_parameters(model)
    assert {f"block{b}_bn" for b in range(1, 5)} <= _trainable_names(model)
    before = _values(model)
    _train_steps(model, images)
    after = _values(model)
    assert not np.array_equal(after["bn_mean"][0], before["bn_mean"][0])


def test_vgg16_top_three_are_block5():
    model = build_detector(
        name="vgg16", application="keras.applications.VGG16", preprocessing="caffe", image_size=32
    )
    set_backbone_trainable(model, 3)
    assert _trainable_names(model) == {"block5_conv1", "block5_conv2", "block5_conv3"}


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_layer_counts_are_config_errors(model, bad):
    with pytest.raises(ConfigError, match="trainable_layers"):
        set_backbone_trainable(model, bad)


def test_a_model_without_backbone_is_refused():
    inputs = keras.Input((4,))
    plain = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ConfigError, match="no nested layer named 'backbone'"):
        set_backbone_trainable(plain, 0)
