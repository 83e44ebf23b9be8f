"""The evaluation input pipeline: order, shape, range, and agreement with deepguard.data."""

import numpy as np
import pytest
import tensorflow as tf
from evaluation_helpers import noise_image, smooth_image, tiny_detector, write_image

from deepguard.evaluation.inputs import (
    image_dataset,
    iter_image_files,
    model_image_size,
    predict_probabilities,
)


def test_batches_keep_file_order_shape_and_range(tmp_path):
    rng = np.random.default_rng(0)
    # Solid colours of known value, in a known order, of mixed sizes and formats.
    paths = []
    for index, size in enumerate([10, 48, 33, 64, 20]):
        pixels = np.full((size, size + 3, 3), 40 * index, dtype=np.uint8)
        paths.append(write_image(tmp_path / f"{index}.png", pixels))
    paths.append(write_image(tmp_path / "noise.jpg", noise_image(rng)))
    batches = list(image_dataset(paths, 16, batch_size=4))

    assert [b.shape for b in batches] == [(4, 16, 16, 3), (2, 16, 16, 3)]
    images = np.concatenate([b.numpy() for b in batches])
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 255
    for index in range(5):
        np.testing.assert_allclose(images[index], 40 * index, atol=1e-3)


def test_predict_probabilities_accepts_pairs_and_plain_batches(tmp_path):
    rng = np.random.default_rng(0)
    paths = [write_image(tmp_path / f"{i}.png", smooth_image(rng)) for i in range(5)]
    model = tiny_detector()
    plain = predict_probabilities(model, image_dataset(paths, 32, batch_size=2))
    pairs = image_dataset(paths, 32, batch_size=2).map(lambda x: (x, tf.zeros(tf.shape(x)[0])))
    assert plain.shape == (5,)
    np.testing.assert_allclose(predict_probabilities(model, pairs), plain, rtol=1e-6)
    assert predict_probabilities(model, []).shape == (0,)


def test_pillow_flag_applies_exif_rotation(tmp_path):
    from PIL import Image

    pixels = noise_image(np.random.default_rng(3), size=40)[:, :30]
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "tagged.png", exif=exif)
    upright = write_image(tmp_path / "upright.png", np.rot90(pixels, k=-1).copy())

    batches = image_dataset([tmp_path / "tagged.png"] * 2, 16, 2, use_pillow=[True, False])
    tagged, plain = next(iter(batches))
    expected = next(iter(image_dataset([upright], 16)))[0]
    np.testing.assert_allclose(tagged, expected, atol=1e-4)
    assert np.abs(plain - expected).max() > 10  # TensorFlow alone ignores the tag


def test_non_square_models_are_refused():
    import keras

    inputs = keras.Input((32, 48, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="square RGB input"):
        model_image_size(model)


def test_folder_scan_flags_non_image_suffixes(tmp_path):
    write_image(tmp_path / "b" / "x.WebP", smooth_image(np.random.default_rng(0)))
    (tmp_path / "a.txt").write_text("text")
    found = [(p.name, is_image) for p, is_image in iter_image_files([tmp_path])]
    assert found == [("a.txt", False), ("x.WebP", True)]


def test_matches_the_data_pipeline(tmp_path):
    """Evaluation must see exactly the pixels the trainer's test split sees."""
    data = pytest.importorskip("deepguard.data", reason="deepguard.data not merged yet")
    rng = np.random.default_rng(0)
    for index in range(6):
        write_image(tmp_path / "fake" / f"{index}.png", noise_image(rng, size=40 + index))
        write_image(tmp_path / "real" / f"{index}.jpg", smooth_image(rng, size=50 + index))
    module = data.DataModule(root=tmp_path, image_size=32, batch_size=4, test_fraction=0.5)
    module.setup()
    records = module.split_records("test")
    expected = np.concatenate([images.numpy() for images, _ in module.test_dataset()])
    ours = np.concatenate([b.numpy() for b in image_dataset(records["path"], 32, 4)])
    np.testing.assert_allclose(ours, expected, atol=1e-3)
