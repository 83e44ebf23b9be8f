"""SmallCNN behaves like a keras.applications constructor."""

from __future__ import annotations

import keras
import pytest

from deepguard.errors import ConfigError
from deepguard.models import SmallCNN


def test_feature_map_is_one_sixteenth_of_the_input():
    backbone = SmallCNN(include_top=False, weights=None, input_shape=(64, 64, 3))
    assert backbone.output_shape == (None, 4, 4, 256)
    names = [layer.name for layer in backbone.layers]
    for block in range(1, 5):
        for part in ("conv", "bn", "relu", "pool"):
            assert f"block{block}_{part}" in names


@pytest.mark.parametrize(("pooling", "shape"), [("avg", (None, 256)), ("max", (None, 256))])
def test_pooling_options(pooling, shape):
    assert SmallCNN(input_shape=(32, 32, 3), pooling=pooling).output_shape == shape


def test_include_top_adds_a_classifier():
    model = SmallCNN(include_top=True, input_shape=(32, 32, 3), classes=5)
    assert model.output_shape == (None, 5)


def test_named_pretrained_weights_do_not_exist():
    with pytest.raises(ConfigError, match="no pretrained weights named 'imagenet'"):
        SmallCNN(weights="imagenet", input_shape=(32, 32, 3))


def test_weights_file_loads(tmp_path):
    source = SmallCNN(input_shape=(32, 32, 3))
    source.save_weights(tmp_path / "small.weights.h5")
    keras.backend.clear_session()
    copy = SmallCNN(input_shape=(32, 32, 3), weights=str(tmp_path / "small.weights.h5"))
    for a, b in zip(source.weights, copy.weights, strict=True):
        assert (keras.ops.convert_to_numpy(a) == keras.ops.convert_to_numpy(b)).all()
