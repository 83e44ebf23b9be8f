"""Grad-CAM on real detectors: shapes, the probability it reports, and where it points."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deepguard.explain import GradCAM, grad_cam, overlay_heatmap
from deepguard.models import build_detector


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


def test_heatmap_has_the_feature_map_shape_and_the_model_probability(detector):
    heatmap, p_fake = GradCAM(detector)(noise())
    feature_shape = detector.get_layer("backbone").output.shape[1:3]
    assert heatmap.shape == tuple(feature_shape)
    assert heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert p_fake == pytest.approx(float(detector(noise()[None])[0, 0]), abs=1e-5)


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


def red_detector(size: int = 16) -> keras.Model:
    """A detector whose only evidence for 'fake' is red light: Grad-CAM must find the red."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="preprocessing")(inputs)
    backbone_in = keras.Input((size, size, 3))
    red = keras.layers.Conv2D(1, 1, use_bias=False, name="red")(backbone_in)
    backbone = keras.Model(backbone_in, red, name="backbone")
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    model = keras.Model(inputs, outputs)
    backbone.get_layer("red").set_weights([np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1)])
    model.get_layer("p_fake").set_weights([np.array([[20.0]]), np.array([-1.0])])
    return model


def test_heatmap_points_at_the_region_that_makes_the_image_fake():
    image = np.zeros((16, 16, 3), np.float32)
    image[2:6, 10:14, 0] = 255.0  # a red square, top right
    heatmap, p_fake = grad_cam(red_detector(), image)
    assert p_fake > 0.5
    assert heatmap[2:6, 10:14].min() == pytest.approx(1.0)
    assert heatmap.sum() == pytest.approx(16.0)  # nothing outside the square


def test_a_model_without_backbone_is_refused_with_the_fix():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1, name="p_fake")(inputs))
    with pytest.raises(ValueError, match=r"no layer named 'backbone'.*build_detector"):
        GradCAM(model)


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
