"""Grad-CAM on real detectors: every backbone, multi-scale heads, and where it points."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deepguard.explain import GradCAM, NotExplainableError, grad_cam, overlay_heatmap
from deepguard.models import build_detector

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
BACKBONE_FILES = sorted((CONF_DIR / "backbone").glob("*.yaml"))
# Deep networks whose build and first traced gradient take more than a few seconds on 2 cores.
SLOW = {"resnet50", "efficientnet_b0"}


@pytest.fixture(autouse=True)
def float32_policy():
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def detector():
    keras.utils.set_random_seed(0)
    return build_detector(
        name="small_cnn",
        application="deepguard.models.small_cnn.SmallCNN",
        preprocessing="none",
        image_size=64,
    )


def noise(seed: int = 0, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype(np.float32)


def assert_explains(model: keras.Model, size: int) -> np.ndarray:
    """Grad-CAM runs, reports the model's own probability and a [0, 1] map; returns it."""
    heatmap, p_fake = GradCAM(model)(noise(4, size))
    assert heatmap.dtype == np.float32 and heatmap.ndim == 2
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert p_fake == pytest.approx(float(model(noise(4, size)[None])[0, 0]), abs=1e-4)
    return heatmap


def test_heatmap_has_the_feature_map_shape_and_the_model_probability(detector):
    heatmap = assert_explains(detector, 64)
    assert heatmap.shape == tuple(detector.get_layer("backbone").output.shape[1:3])


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
        for p in BACKBONE_FILES
    ],
)
def test_every_backbone_config_is_explained_at_its_backbone_output(path):
    cfg = OmegaConf.load(path)
    size = max(int(cfg.min_image_size), 32)
    model = instantiate(cfg, image_size=size, _convert_="all")
    heatmap = assert_explains(model, size)
    assert heatmap.shape == tuple(model.get_layer("backbone").output.shape[1:3])


def test_a_multiscale_head_is_explained_at_its_finest_tapped_map():
    model = build_detector(
        name="vgg16",
        application="keras.applications.VGG16",
        preprocessing="caffe",
        image_size=32,
        feature_layers=["block3_conv3", "block4_conv3", "block5_conv3"],
    )
    cam = GradCAM(model)
    assert cam.feature_map_shapes == [(8, 8), (4, 4), (2, 2)]
    assert assert_explains(model, 32).shape == (8, 8)


def test_explains_under_mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_detector(
        name="npr",
        application="deepguard.models.npr.NPRResNet",
        preprocessing="torch",
        image_size=32,
    )
    heatmap, p_fake = GradCAM(model)(noise(5, 32))
    assert heatmap.shape == (4, 4) and 0.0 <= p_fake <= 1.0


def test_fake_and_real_evidence_never_overlap(detector):
    cam = GradCAM(detector)
    fake, _ = cam(noise(1), target="fake")
    real, _ = cam(noise(1), target="real")
    assert fake.max() > 0 or real.max() > 0
    assert np.all(fake * real == 0)  # ReLU of +score and of -score: disjoint supports


def test_works_on_a_detector_loaded_from_its_keras_file(detector, tmp_path):
    path = tmp_path / "model.keras"
    detector.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    expected, p_expected = grad_cam(detector, noise(2))
    heatmap, p_fake = grad_cam(loaded, noise(2))
    np.testing.assert_allclose(heatmap, expected, atol=1e-5)
    assert p_fake == pytest.approx(p_expected, abs=1e-6)


def colour_detector(size: int = 16, multiscale: bool = False) -> keras.Model:
    """Evidence for 'fake' is red light (full resolution) and, multi-scale, blue light seen
    through a 2x2 pooled map: Grad-CAM must find exactly those regions."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="preprocessing")(inputs)
    backbone_in = keras.Input((size, size, 3))
    red = keras.layers.Conv2D(1, 1, use_bias=False, name="red")(backbone_in)
    blue = keras.layers.Conv2D(1, 1, use_bias=False, name="blue")(backbone_in)
    blue = keras.layers.AveragePooling2D(2, name="blue_pool")(blue)
    backbone = keras.Model(backbone_in, [red, blue] if multiscale else red, name="backbone")
    features = backbone(x)
    if multiscale:
        pooled = [keras.layers.GlobalAveragePooling2D()(f) for f in features]
        x = keras.layers.Concatenate(name="pool")(pooled)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    model = keras.Model(inputs, outputs)
    backbone.get_layer("red").set_weights([np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1)])
    if multiscale:
        backbone.get_layer("blue").set_weights([np.array([0.0, 0.0, 1.0]).reshape(1, 1, 3, 1)])
    kernel = np.array([[20.0], [20.0]]) if multiscale else np.array([[20.0]])
    model.get_layer("p_fake").set_weights([kernel, np.array([-1.0])])
    return model


def test_heatmap_points_at_the_region_that_makes_the_image_fake():
    image = np.zeros((16, 16, 3), np.float32)
    image[2:6, 10:14, 0] = 255.0  # a red square, top right
    heatmap, p_fake = grad_cam(colour_detector(), image)
    assert p_fake > 0.5
    assert heatmap[2:6, 10:14].min() == pytest.approx(1.0)
    assert heatmap.sum() == pytest.approx(16.0)  # nothing outside the square


def test_a_multiscale_heatmap_shows_the_evidence_of_every_map():
    image = np.zeros((16, 16, 3), np.float32)
    image[2:6, 10:14, 0] = 255.0  # red, top right: the full-resolution map
    image[10:14, 2:6, 2] = 255.0  # blue, bottom left: seen through the 8x8 map
    heatmap, p_fake = grad_cam(colour_detector(multiscale=True), image)
    assert p_fake > 0.5 and heatmap.shape == (16, 16)
    assert heatmap[2:6, 10:14].min() > 0.5
    assert heatmap[11:13, 3:5].min() > 0.5  # inside the blue square, away from its blurred edge
    assert heatmap[:8, :8].max() == 0.0  # top left holds no colour


def test_a_flat_model_with_a_separate_sigmoid_is_explained():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(x))
    assert assert_explains(model, 16).shape == (16, 16)


def test_models_without_a_learned_feature_map_are_refused_with_the_reason():
    inputs = keras.Input((8, 8, 3))
    flat = keras.Model(inputs, keras.layers.Dense(1, "sigmoid")(keras.layers.Flatten()(inputs)))
    with pytest.raises(NotExplainableError, match="no 4-D feature map"):
        GradCAM(flat)
    from deepguard.models import SmallCNN

    # A backbone that pools inside itself: nothing spatial reaches the head.
    backbone = SmallCNN(input_shape=(32, 32, 3), pooling="avg", name="backbone")
    image = keras.Input((32, 32, 3))
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1)(image)
    pooled_inside = keras.Model(image, keras.layers.Dense(1, "sigmoid")(backbone(scaled)))
    with pytest.raises(NotExplainableError, match="pooling=None"):
        GradCAM(pooled_inside)
    two_outputs = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    with pytest.raises(NotExplainableError, match=r"\(batch, 1\)"):
        GradCAM(two_outputs)


def test_unknown_target_is_refused(detector):
    with pytest.raises(ValueError, match="target must be"):
        GradCAM(detector)(noise(), target="both")


def test_overlay_keeps_the_image_size_and_alpha_zero_is_the_image():
    rgb = noise(3, 40).astype(np.uint8)
    heatmap = np.eye(5, dtype=np.float32)
    assert overlay_heatmap(rgb, heatmap).shape == (40, 40, 3)
    np.testing.assert_array_equal(overlay_heatmap(rgb, heatmap, alpha=0.0), rgb)
    assert not np.array_equal(overlay_heatmap(rgb, heatmap, alpha=0.5), rgb)
    with pytest.raises(ValueError, match="alpha"):
        overlay_heatmap(rgb, heatmap, alpha=2.0)
