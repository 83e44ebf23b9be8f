"""build_detector: the input/output contract, in-model preprocessing, config errors, precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils

from deepguard.errors import ConfigError
from deepguard.models import BackbonePreprocessing, build_detector

SMALL_CNN = dict(
    name="small_cnn", application="deepguard.models.small_cnn.SmallCNN", preprocessing="tf"
)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_preprocessing_matches_keras_applications(mode, images):
    x = images(8, n=3)
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = keras.ops.convert_to_numpy(BackbonePreprocessing(mode)(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_preprocessing_none_passes_pixels_through(images):
    x = images(8)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(BackbonePreprocessing("none")(x)), x)


def test_xception_style_scaling_maps_pixel_range_to_minus_one_one():
    x = np.array([0.0, 127.5, 255.0], "float32").reshape(1, 1, 3, 1).repeat(3, axis=-1)
    got = keras.ops.convert_to_numpy(BackbonePreprocessing("tf")(x)).ravel()
    np.testing.assert_allclose(got, [-1, -1, -1, 0, 0, 0, 1, 1, 1], atol=1e-6)


def test_unknown_preprocessing_lists_the_modes():
    with pytest.raises(ConfigError, match=r"unknown backbone preprocessing 'caffee'.*tf, caffe"):
        BackbonePreprocessing("caffee")


def test_detector_layers_follow_the_contract():
    model = build_detector(**SMALL_CNN, image_size=64, head_units=16, dropout=0.3)
    assert model.inputs[0].name == "image"
    assert model.inputs[0].dtype == "float32"
    assert [layer.name for layer in model.layers] == [
        "image",
        "preprocessing",
        "backbone",
        "pool",
        "dropout",
        "head",
        "p_fake",
    ]
    assert model.get_layer("dropout").rate == 0.3
    assert model.get_layer("head").units == 16
    assert model.get_layer("p_fake").units == 1


def test_no_head_units_means_no_extra_dense_layer():
    model = build_detector(**SMALL_CNN, image_size=32)
    assert "head" not in [layer.name for layer in model.layers]


def test_application_kwargs_reach_the_constructor():
    model = build_detector(**SMALL_CNN, image_size=32, filters=(8, 16, 24, 32))
    assert model.get_layer("backbone").output.shape[-1] == 32


def test_image_size_below_minimum_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'vgg16' needs images of at least 48 px.*image_size=48"):
        build_detector(
            name="vgg16",
            application="keras.applications.VGG16",
            preprocessing="caffe",
            image_size=40,
            min_image_size=48,
        )


def test_unknown_application_suggests_close_names():
    with pytest.raises(ConfigError, match=r"unknown application.*did you mean.*Xception"):
        build_detector(
            name="xception",
            application="keras.applications.Xcepton",
            preprocessing="tf",
            image_size=71,
        )


def test_unimportable_module_is_a_config_error():
    with pytest.raises(ConfigError, match=r"unknown application 'nowhere.Net'"):
        build_detector(name="net", application="nowhere.Net", preprocessing="tf", image_size=32)


@pytest.mark.parametrize(
    ("key", "value"),
    [("dropout", 1.0), ("head_units", -1), ("unfreeze_layers", -2), ("image_size", 64.5)],
)
def test_bad_values_are_config_errors(key, value):
    kwargs = {**SMALL_CNN, "image_size": 64, key: value}
    with pytest.raises(ConfigError, match=key):
        build_detector(**kwargs)


def test_mixed_bfloat16_computes_in_bfloat16_and_outputs_float32(images, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_detector(**SMALL_CNN, image_size=32)
    assert model.get_layer("backbone").get_layer("block1_conv").compute_dtype == "bfloat16"
    assert model.get_layer("preprocessing").compute_dtype == "float32"
    out = model.predict(images(32), verbose=0)
    assert out.dtype == np.float32
    assert model.outputs[0].dtype == "float32"

    # One training step runs under the policy and the saved model loads back.
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(images(32, n=4), np.array([0, 1, 0, 1], "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "mixed.keras")
    keras.mixed_precision.set_global_policy("float32")
    loaded = keras.saving.load_model(tmp_path / "mixed.keras", safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(images(32), verbose=0), model.predict(images(32), verbose=0), atol=1e-6
    )
