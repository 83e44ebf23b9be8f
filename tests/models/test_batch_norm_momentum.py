"""backbone.batch_norm_momentum reaches every BatchNormalization layer and the saved model."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deepguard.errors import ConfigError
from deepguard.models import build_detector
from deepguard.tracking.loading import load_keras_file

BACKBONE_DIR = Path(__file__).resolve().parents[2] / "conf" / "backbone"


def batch_norm_momenta(model: keras.Model) -> list[float]:
    found, pending = [], list(model.layers)
    while pending:
        layer = pending.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer.momentum)
        pending.extend(getattr(layer, "layers", []))
    return found


def test_mobilenet_v3_small_config_sets_every_layer_and_the_file_keeps_it(tmp_path):
    # Its constructor's 0.999 is what left the sweep's MobileNetV3 answering a constant.
    cfg = OmegaConf.load(BACKBONE_DIR / "mobilenet_v3_small.yaml")
    model = instantiate(cfg, image_size=32)
    momenta = batch_norm_momenta(model)
    assert len(momenta) > 30 and set(momenta) == {0.9}
    model.save(tmp_path / "model.keras")
    loaded, _ = load_keras_file(tmp_path / "model.keras")
    assert set(batch_norm_momenta(loaded)) == {0.9}


def test_null_keeps_each_layers_own_momentum():
    model = build_detector(
        name="vgg16",
        application="keras.applications.VGG16",
        preprocessing="caffe",
        image_size=32,
        feature_layers=["block4_conv3", "block5_conv3"],
        batch_norm_momentum=None,
    )
    assert batch_norm_momenta(model) == [0.99]  # pool_norm, Keras' default


@pytest.mark.parametrize("bad", [1.0, -0.1, "0.9", True])
def test_out_of_range_momentum_is_refused_with_the_fix(bad):
    with pytest.raises(ConfigError, match=r"batch_norm_momentum must be null .* \[0, 1\)"):
        build_detector(
            name="small_cnn",
            application="deepguard.models.small_cnn.SmallCNN",
            preprocessing="tf",
            image_size=32,
            batch_norm_momentum=bad,
        )
