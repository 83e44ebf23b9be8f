"""Frozen-feature caching: the head trains on features computed once, with the same result."""

from __future__ import annotations

import functools
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepguard.data import DataModule
from deepguard.models import build_detector
from deepguard.tracking.loading import load_keras_file
from deepguard.training import schedules
from deepguard.training.feature_cache import split_detector
from deepguard.training.trainer import Trainer

SIZE = 32  # pixels
FROZEN_EPOCHS = 3


class CountingDataModule(DataModule):
    """A DataModule that counts the training images handed to the model."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_images_served = 0

    def train_dataset(self) -> tf.data.Dataset:
        def count(images):
            self.train_images_served += int(images.shape[0])
            return 0

        def tap(images, labels):
            done = tf.py_function(count, [images], tf.int64)
            with tf.control_dependencies([done]):
                return tf.identity(images), labels

        return super().train_dataset().map(tap)


@pytest.fixture(autouse=True)
def clean_keras_state():
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)  # as tests/models/conftest.py
    yield
    keras.backend.clear_session(free_memory=False)  # as tests/models/conftest.py


@pytest.fixture
def make_datamodule(tmp_path):
    def make(augmentation=None) -> CountingDataModule:
        # One batch holds the whole training split, so batch order cannot change the result.
        return CountingDataModule(
            root=tmp_path / "synthetic",
            synthetic={"n_per_class": 20, "image_size": SIZE, "seed": 1},
            image_size=SIZE,
            batch_size=64,
            augmentation=augmentation,
            seed=3,
        ).setup()

    return make


def make_model(feature_layers=None, seed: int = 7) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_detector(
        name="small_cnn",
        application="deepguard.models.small_cnn.SmallCNN",
        preprocessing="tf",
        image_size=SIZE,
        dropout=0.0,
        feature_layers=feature_layers,
    )


def frozen_fit(model, datamodule, tmp_path, cache: bool, callbacks=()) -> Trainer:
    trainer = Trainer(
        max_epochs=FROZEN_EPOCHS,
        finetune=FROZEN_EPOCHS,
        cache_frozen_features=cache,
        verbose=0,
        callbacks=list(callbacks),
        output_dir=tmp_path / ("cached" if cache else "uncached"),
    )
    optimizer = functools.partial(keras.optimizers.Adam, learning_rate=1e-2)
    trainer.fit(model, datamodule, optimizer, schedules.Constant(), pretrained=True)
    return trainer


def val_images(datamodule) -> np.ndarray:
    return np.concatenate([images.numpy() for images, _ in datamodule.val_dataset()])


@pytest.mark.parametrize("feature_layers", [None, ["block2_relu", "block4_relu"]])
def test_cached_and_uncached_frozen_training_give_the_same_detector(
    make_datamodule, tmp_path, feature_layers
):
    cached_model, plain_model = make_model(feature_layers), make_model(feature_layers)
    plain_model.set_weights(cached_model.get_weights())
    cached = frozen_fit(cached_model, make_datamodule(), tmp_path, cache=True)
    plain = frozen_fit(plain_model, make_datamodule(), tmp_path, cache=False)

    images = val_images(make_datamodule())
    initial = make_model(feature_layers).predict(images, verbose=0)
    cached_p = cached_model.predict(images, verbose=0)
    assert not np.allclose(cached_p, initial, atol=1e-3)  # the head did train
    np.testing.assert_allclose(cached_p, plain_model.predict(images, verbose=0), atol=1e-4)
    for a, b in zip(cached_model.get_weights(), plain_model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert set(cached.history) == set(plain.history)  # loss, accuracy, auc, val_* alike
    assert {"loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc"} <= set(cached.history)
    np.testing.assert_allclose(cached.history["val_loss"], plain.history["val_loss"], atol=1e-4)


def test_the_backbone_sees_each_training_image_once_when_cached(make_datamodule, tmp_path):
    cached_data, plain_data = make_datamodule(), make_datamodule()
    n_train = len(cached_data.split_records("train"))
    frozen_fit(make_model(), cached_data, tmp_path, cache=True)
    frozen_fit(make_model(), plain_data, tmp_path, cache=False)
    assert cached_data.train_images_served == n_train
    assert plain_data.train_images_served == FROZEN_EPOCHS * n_train


def test_augmented_training_falls_back_and_says_why(make_datamodule, tmp_path, caplog):
    datamodule = make_datamodule(augmentation={"flip_prob": 0.5})
    with caplog.at_level(logging.INFO, logger="deepguard.training.trainer"):
        frozen_fit(make_model(), datamodule, tmp_path, cache=True)
    assert "augment" in caplog.text
    assert datamodule.train_images_served == FROZEN_EPOCHS * len(datamodule.split_records("train"))


def test_saved_models_and_checkpoints_are_whole_detectors(make_datamodule, tmp_path):
    model = make_model(["block2_relu", "block4_relu"])
    checkpoint = keras.callbacks.ModelCheckpoint(tmp_path / "last.keras")
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    datamodule = make_datamodule()
    trainer = frozen_fit(model, datamodule, tmp_path, cache=True, callbacks=[checkpoint, backup])
    images = val_images(datamodule)
    expected = model.predict(images, verbose=0)

    saved, _ = load_keras_file(trainer.save_final_model(model))
    np.testing.assert_allclose(saved.predict(images, verbose=0), expected, atol=1e-5)
    last, _ = load_keras_file(tmp_path / "last.keras")
    assert last.input_shape == (None, SIZE, SIZE, 3)  # the detector, not its head
    np.testing.assert_allclose(last.predict(images, verbose=0), expected, atol=1e-5)


def test_split_detector_shares_the_head_layers():
    model = make_model(["block3_relu", "block4_relu"])
    features, head = split_detector(model)
    images = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_allclose(
        head.predict(features.predict(images, verbose=0), verbose=0),
        model.predict(images, verbose=0),
        atol=1e-5,
    )
    assert head.get_layer("p_fake") is model.get_layer("p_fake")
