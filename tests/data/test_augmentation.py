import numpy as np
import pytest
import tensorflow as tf

from deepguard.data import Augmenter


def natural_image(seed: int = 0, size: int = 64) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    image = np.cumsum(np.cumsum(rng.normal(size=(size, size, 3)), 0), 1)  # rough 1/f content
    image = (image - image.min()) / (image.max() - image.min()) * 255
    return tf.constant(image, tf.float32)


def high_frequency_energy(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"flip_prob": 1.0},
        {"brightness": 0.3, "contrast": 0.3},
        {"crop_scale": (0.5, 0.9)},
        {"blur_prob": 1.0},
        {"jpeg_prob": 1.0, "jpeg_quality": (30, 40)},
    ],
)
def test_every_transform_keeps_shape_dtype_and_range_in_graph_mode(kwargs):
    augment = Augmenter(**kwargs)
    dataset = tf.data.Dataset.from_tensors(natural_image()).repeat(3).map(augment)
    for image in dataset:
        assert image.shape == (64, 64, 3) and image.dtype == tf.float32
        assert float(tf.reduce_min(image)) >= 0.0 and float(tf.reduce_max(image)) <= 255.0


def test_robust_preset_changes_images_and_blur_removes_high_frequencies():
    image = natural_image(1)
    robust = Augmenter(flip_prob=0.5, blur_prob=0.5, jpeg_prob=0.5)
    outputs = [robust(image).numpy() for _ in range(12)]
    changed = [not np.allclose(out, image.numpy()) for out in outputs]
    assert sum(changed) >= 6  # 1 - 0.5**3 = 87.5 % of draws change something
    blurred = Augmenter(blur_prob=1.0, blur_sigma=(2.0, 3.0))(image).numpy()
    assert high_frequency_energy(blurred) < 0.6 * high_frequency_energy(image.numpy())


def test_identity_and_flip():
    image = natural_image(2)
    assert Augmenter().is_identity
    np.testing.assert_array_equal(Augmenter()(image), image)
    np.testing.assert_array_equal(Augmenter(flip_prob=1.0)(image), image.numpy()[:, ::-1])


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"flip_prob is a probability in \[0, 1\]"):
        Augmenter(flip_prob=2)
    with pytest.raises(ValueError, match="jpeg_quality must be"):
        Augmenter(jpeg_quality=(50, 120))


def test_a_seed_makes_the_draws_repeatable_and_different_seeds_differ():
    image = natural_image(3)
    robust = Augmenter(flip_prob=0.5, blur_prob=0.5, jpeg_prob=0.5, crop_scale=(0.6, 0.9))
    first = robust(image, tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(first, robust(image, tf.constant([1, 2])).numpy())
    others = [robust(image, tf.constant([s, 0])).numpy() for s in range(3, 8)]
    assert any(not np.array_equal(first, other) for other in others)
