import numpy as np
import pytest

from deepguard.images import centre_crop, to_model_input


@pytest.mark.parametrize(("shape", "size"), [((300, 300), 64), ((240, 320), 64), ((40, 50), 64)])
def test_to_model_input_matches_the_tf_data_resize(shape, size):
    tf = pytest.importorskip("tensorflow")
    rgb = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ours = to_model_input(rgb, size)
    theirs = tf.image.resize(rgb[None].astype(np.float32), (size, size), antialias=True)
    assert ours.dtype == np.float32 and ours.shape == (size, size, 3)
    np.testing.assert_allclose(ours, theirs.numpy()[0], atol=0.01)


def test_to_model_input_keeps_the_zero_to_255_range_and_same_size_passthrough():
    rgb = np.full((64, 64, 3), 255, np.uint8)
    assert to_model_input(rgb, 64).max() == 255.0
    assert to_model_input(rgb, (32, 16)).shape == (32, 16, 3)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        to_model_input(rgb[..., 0], 32)


def test_centre_crop_keeps_pixels():
    rgb = np.arange(100 * 60 * 3, dtype=np.int64).reshape(100, 60, 3)
    crop = centre_crop(rgb, 512)
    assert crop.shape == (60, 60, 3) and np.array_equal(crop, rgb[20:80])
    assert centre_crop(rgb, 32).shape == (32, 32, 3)
