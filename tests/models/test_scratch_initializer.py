"""backbone.scratch_initializer redraws a from-scratch backbone's kernels, and only then.

keras.applications' VGGs draw Glorot-uniform kernels: each ReLU layer halves the signal's
variance, so a VGG19 from scratch fed its head a near-constant and answered one class.
"""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from deepguard.errors import ConfigError
from deepguard.models import build_detector
from tests.conftest import CONF_DIR

VGG19 = dict(name="vgg19", application="keras.applications.VGG19", preprocessing="caffe")


def kernel_std(model, layer: str) -> float:
    return float(np.std(model.get_layer("backbone").get_layer(layer).kernel.numpy()))


def last_conv_activation_std(model, images: np.ndarray) -> float:
    import keras

    backbone = model.get_layer("backbone")
    probe = keras.Model(backbone.inputs, backbone.get_layer("block5_conv4").output)
    preprocessed = model.get_layer("preprocessing")(images)
    return float(np.std(probe(preprocessed).numpy()))


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_the_vgg_configs_start_from_he_normal(name):
    assert OmegaConf.load(CONF_DIR / "backbone" / f"{name}.yaml").scratch_initializer == "he_normal"


def test_he_normal_keeps_the_signal_alive_through_a_vgg19():
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    glorot = build_detector(**VGG19, image_size=32)
    he = build_detector(**VGG19, image_size=32, scratch_initializer="he_normal")
    # He draws: std sqrt(2 / fan_in); fan_in of block5_conv4 is 3 * 3 * 512.
    assert kernel_std(he, "block5_conv4") == pytest.approx(np.sqrt(2 / (9 * 512)), rel=0.05)
    # Sixteen ReLU layers: Glorot halves the variance at each, He keeps it.
    assert last_conv_activation_std(he, images) > 100 * last_conv_activation_std(glorot, images)


def test_pretrained_weights_are_never_redrawn(tmp_path):
    source = build_detector(**VGG19, image_size=32)
    path = tmp_path / "backbone.weights.h5"
    source.get_layer("backbone").save_weights(path)
    loaded = build_detector(**VGG19, image_size=32, weights=path, scratch_initializer="he_normal")
    assert kernel_std(loaded, "block5_conv4") == kernel_std(source, "block5_conv4")


def test_an_unknown_initializer_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"unknown Keras initializer 'he_norml'.*he_normal"):
        build_detector(**VGG19, image_size=32, scratch_initializer="he_norml")


def test_every_kernel_gets_draws_of_its_own_and_a_seed_repeats_them():
    import keras

    def block5_kernels() -> list[np.ndarray]:
        keras.utils.set_random_seed(7)
        model = build_detector(**VGG19, image_size=32, scratch_initializer="he_normal")
        backbone = model.get_layer("backbone")
        return [backbone.get_layer(f"block5_conv{i}").kernel.numpy() for i in (1, 2, 3, 4)]

    first, again = block5_kernels(), block5_kernels()
    # Four kernels of one shape: one Keras initializer called four times would repeat itself.
    assert not any(np.array_equal(first[0], kernel) for kernel in first[1:])
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
