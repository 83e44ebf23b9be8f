"""Evaluation inputs: the one tf.data builder's order, shape and range, and batched scoring."""

import numpy as np
import pytest
import tensorflow as tf
from evaluation_helpers import noise_image, smooth_image, tiny_detector, write_image

from deepguard.data import DataModule
from deepguard.data.pipeline import make_dataset
from deepguard.evaluation.inputs import iter_image_files, model_image_size, predict_probabilities


def test_batches_keep_file_order_shape_and_range(tmp_path):
    rng = np.random.default_rng(0)
    # Solid colours of known value, in a known order, of mixed sizes and formats.
    paths = []
    for index, size in enumerate([10, 48, 33, 64, 20]):
        pixels = np.full((size, size + 3, 3), 40 * index, dtype=np.uint8)
        paths.append(write_image(tmp_path / f"{index}.png", pixels))
    paths.append(write_image(tmp_path / "noise.jpg", noise_image(rng)))
    batches = list(make_dataset(paths, image_size=16, batch_size=4))

    assert [b.shape for b in batches] == [(4, 16, 16, 3), (2, 16, 16, 3)]
    images = np.concatenate([b.numpy() for b in batches])
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 255
    for index in range(5):
        np.testing.assert_allclose(images[index], 40 * index, atol=1e-3)


def test_predict_probabilities_accepts_pairs_and_plain_batches(tmp_path):
    rng = np.random.default_rng(0)
    paths = [write_image(tmp_path / f"{i}.png", smooth_image(rng)) for i in range(5)]
    model = tiny_detector()
    plain = predict_probabilities(model, make_dataset(paths, image_size=32, batch_size=2))
    pairs = make_dataset(paths, image_size=32, batch_size=2).map(
        lambda x: (x, tf.zeros(tf.shape(x)[0]))
    )
    assert plain.shape == (5,)
    np.testing.assert_allclose(predict_probabilities(model, pairs), plain, rtol=1e-6)
    assert predict_probabilities(model, []).shape == (0,)


def test_exif_rotation_is_applied(tmp_path):
    from PIL import Image

    pixels = noise_image(np.random.default_rng(3), size=40)[:, :30]
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "tagged.png", exif=exif)
    upright = write_image(tmp_path / "upright.png", np.rot90(pixels, k=-1).copy())
    plain = write_image(tmp_path / "plain.png", pixels)

    tagged, expected, untagged = next(
        iter(make_dataset([tmp_path / "tagged.png", upright, plain], image_size=16, batch_size=3))
    )
    np.testing.assert_array_equal(tagged, expected)
    assert np.abs(untagged - expected).max() > 10  # the test can fail: the tag matters


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
    rng = np.random.default_rng(0)
    for index in range(6):
        write_image(tmp_path / "fake" / f"{index}.png", noise_image(rng, size=40 + index))
        write_image(tmp_path / "real" / f"{index}.jpg", smooth_image(rng, size=50 + index))
    module = DataModule(root=tmp_path, image_size=32, batch_size=4, test_fraction=0.5)
    module.setup()
    records = module.split_records("test")
    expected = np.concatenate([images.numpy() for images, _ in module.test_dataset()])
    ours = np.concatenate(
        [b.numpy() for b in make_dataset(records["path"], image_size=32, batch_size=4)]
    )
    np.testing.assert_array_equal(ours, expected)
