"""A folder of real photos only streams as a balanced set with synthesized fakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from deepguard.data.layouts import discover
from deepguard.fakes import FakeSynthesizer, SelfBlender, UpsamplingSimulator
from deepguard.fakes.stream import record_columns, synthesize_fakes
from tests.fakes.conftest import face_box_landmarks, photo

SIZE = 48


@pytest.fixture
def real_only_records(tmp_path: Path) -> pd.DataFrame:
    """Eight real PNGs on disk, found and hashed by the layouts code, all in train."""
    (tmp_path / "real").mkdir()
    for index in range(8):
        Image.fromarray(photo(index, SIZE)).save(tmp_path / "real" / f"portrait_{index}.png")
    records = discover(tmp_path)
    return records.assign(split="train").sort_values("path", ignore_index=True)


def load(path: tf.Tensor) -> tf.Tensor:
    """The test's stand-in for the loader: decode, float32 in [0, 255]."""
    image = tf.io.decode_png(tf.io.read_file(path), channels=3)
    image.set_shape([SIZE, SIZE, 3])
    return tf.cast(image, tf.float32)


def stream(records: pd.DataFrame, fakes: FakeSynthesizer) -> tf.data.Dataset:
    """What a dataset module does: records -> decode -> synthesize -> (augment, batch)."""
    dataset = tf.data.Dataset.from_tensor_slices(record_columns(records))
    dataset = dataset.map(lambda path, *rest: (load(path), *rest), num_parallel_calls=2)
    return fakes.apply(dataset, num_parallel_calls=2)


def collect(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
    images, labels, generators = [], [], []
    for image, label, generator in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
        generators.append(generator.decode())
    return np.stack(images), np.asarray(labels), generators


def mixed(**kwargs) -> FakeSynthesizer:
    makers = {"sbi": SelfBlender(), "upsampling": UpsamplingSimulator(families=["nearest"])}
    return FakeSynthesizer(makers, {"sbi": 1.0, "upsampling": 1.0}, ratio=1.0, **kwargs)


def test_real_photos_only_give_a_balanced_set_with_the_right_fakes(real_only_records):
    fakes = mixed(seed=3)
    records = fakes.extend_records(real_only_records)
    images, labels, generators = collect(stream(records, fakes))
    assert len(images) == 16 and labels.tolist() == [0.0] * 8 + [1.0] * 8
    assert generators[:8] == ["unknown"] * 8  # the layout's name for the reals' generator
    assert sorted(generators[8:]) == ["sbi"] * 4 + ["upsampling-nearest"] * 4
    files = {p: np.asarray(Image.open(p), np.float32) for p in real_only_records["path"]}
    for row, image in zip(records.itertuples(), images, strict=True):
        source = files[row.path]
        if row.label == 0:
            np.testing.assert_array_equal(image, source)  # reals pass through untouched
        else:
            assert not np.array_equal(image, source), row.generator  # made from its real
            assert np.abs(image - source).mean() < 40  # ... and still that photo
            assert image.dtype == np.float32 and image.shape == source.shape


def test_fakes_repeat_from_the_seed_and_change_every_epoch(real_only_records):
    def epochs(fakes: FakeSynthesizer, n: int = 2) -> list[np.ndarray]:
        dataset = stream(fakes.extend_records(real_only_records), fakes)
        return [collect(dataset)[0] for _ in range(n)]

    first, second = epochs(mixed(seed=3))
    again = epochs(mixed(seed=3))
    np.testing.assert_array_equal(first, again[0])  # same seed, same run of fakes
    np.testing.assert_array_equal(second, again[1])
    np.testing.assert_array_equal(first[:8], second[:8])  # reals do not change
    assert not np.array_equal(first[8:], second[8:])  # a new fake every epoch
    fixed_first, fixed_second = epochs(mixed(seed=3, fresh_each_epoch=False))
    np.testing.assert_array_equal(fixed_first, fixed_second)
    assert not np.array_equal(epochs(mixed(seed=4), 1)[0][8:], first[8:])


def test_landmarks_travel_with_the_element_and_place_the_mask(real_only_records):
    fakes = FakeSynthesizer({"sbi": SelfBlender()}, {"sbi": 1.0}, fresh_each_epoch=False)
    records = fakes.extend_records(real_only_records.iloc[:2])
    # A small face in the top-left corner: with its landmarks, nothing else may change.
    landmarks, (x, y, width, height) = face_box_landmarks((2.0, 2.0, 20.0, 24.0))
    per_row = np.repeat(landmarks[None].astype(np.float32), len(records), axis=0)
    columns = (*record_columns(records), per_row)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = dataset.map(lambda path, *rest: (load(path), *rest))
    images, _, _ = collect(synthesize_fakes(dataset, fakes.make_fake))
    rows = list(records.itertuples())
    real_of = {row.path: image for row, image in zip(rows, images, strict=True) if row.label == 0}
    for row, image in zip(rows, images, strict=True):
        if row.label == 0:
            continue
        changed = np.any(image != real_of[row.path], axis=-1)
        assert changed.any()
        rows, cols = np.nonzero(changed)
        assert rows.max() < y + height and cols.max() < x + width
