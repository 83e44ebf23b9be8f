"""Frozen-feature caching: while the backbone is frozen, run it once and train the head alone.

A frozen backbone maps each image to the same features every epoch, so the head-only phase
of transfer learning need not run it more than once per image. The detector is cut at its
``pool`` layer (global pooling, already small: 512 floats per image for VGG16, 2,560 for the
multi-scale head): a *feature model* (image -> pooled features) runs one pass over the train
and validation sets, and a *head model* (pooled features -> ``p_fake``) made of the
detector's own head layers trains on the cached arrays, reshuffled every epoch. The head
layers are shared, so the detector holds the trained weights when the phase ends.

Callbacks during the cached phase see the head model, except:

- ``ModelCheckpoint`` runs against the full detector (`FullModelCallback`), so best and last
  checkpoints are complete detectors, as in an uncached run;
- ``BackupAndRestore`` does not run: its weight file would hold the head's optimizer, not the
  detector's. The cached phase costs one feature pass plus seconds of head training, so an
  interrupted run simply redoes it (and skips it when the backup is from a later phase).

Everything else (the logger bridge, learning-rate monitor and schedules, early stopping,
NaN guard) runs on the head model; the epoch logs keep their names (``loss``, ``accuracy``,
``auc``, ``val_*``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from deepguard.errors import ConfigError

log = logging.getLogger(__name__)

POOL_LAYER = "pool"  # where build_detector's head starts: pooled backbone features


def split_detector(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """Cut a detector at its ``pool`` layer into (feature model, head model).

    The feature model maps images to the pooled features; the head model maps those features
    to ``p_fake`` through the detector's own layers (shared, not copied), so training the head
    model trains the detector.

    Raises:
        ConfigError: the model has no ``pool`` layer or its head is not a simple chain.
    """
    names = [layer.name for layer in model.layers]
    if POOL_LAYER not in names:
        raise ConfigError(
            f"model '{model.name}' has no layer named '{POOL_LAYER}' to cut at; build it with "
            "deepguard.models.build_detector, or set trainer.cache_frozen_features=false"
        )
    pool = model.get_layer(POOL_LAYER)
    feature_model = keras.Model(model.inputs, pool.output, name=f"{model.name}_features")
    features = keras.Input(shape=pool.output.shape[1:], dtype="float32", name="features")
    x = features
    for layer in model.layers[names.index(POOL_LAYER) + 1 :]:
        x = layer(x)
    head = keras.Model(features, x, name=f"{model.name}_head")
    if [layer.name for layer in head.layers[1:]] != names[names.index(POOL_LAYER) + 1 :]:
        raise ConfigError(
            f"the head of model '{model.name}' after '{POOL_LAYER}' is not a chain of layers; "
            "set trainer.cache_frozen_features=false"
        )
    return feature_model, head


def compute_features(
    feature_model: keras.Model, dataset: tf.data.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """One pass over batches ``(images, labels)``: float32 features (N, F), labels (N,)."""
    features, labels = [], []
    for batch in dataset:
        features.append(np.asarray(feature_model.predict_on_batch(batch[0]), dtype=np.float32))
        labels.append(np.asarray(batch[1], dtype=np.float32).reshape(-1))
    if not features:
        raise ConfigError("no batches to compute features from: the dataset is empty")
    return np.concatenate(features), np.concatenate(labels)


def augments_training(datamodule: Any) -> bool:
    """Whether the datamodule changes training images between epochs: augmentation on, or
    synthesized fakes drawn afresh every epoch (``fakes.fresh_each_epoch``)."""
    fakes = getattr(datamodule, "fakes", None)
    if fakes is not None and fakes.enabled and fakes.fresh_each_epoch and "train" in fakes.splits:
        return True
    augmentation = getattr(datamodule, "augmentation", None)
    if augmentation is None:
        return False
    if isinstance(augmentation, Mapping):
        from deepguard.data.augmentation import Augmenter

        augmentation = Augmenter(**{k: v for k, v in augmentation.items() if k != "_target_"})
    return not getattr(augmentation, "is_identity", False)


class FullModelCallback(keras.callbacks.Callback):
    """Runs a callback against the full detector while Keras fits the head model.

    Args:
        callback: the callback, e.g. a ``ModelCheckpoint`` that must save whole detectors.
        model: the detector it acts on.
    """

    def __init__(self, callback: keras.callbacks.Callback, model: keras.Model):
        super().__init__()
        self.callback = callback
        self.detector = model

    def set_model(self, model):
        # Keras hands every callback the model being fitted (the head); this one keeps its own.
        self.callback.set_model(self.detector)

    def set_params(self, params):
        self.callback.set_params(params)


def _forward(hook: str):
    def method(self, *args, **kwargs):
        return getattr(self.callback, hook)(*args, **kwargs)

    method.__name__ = hook
    return method


for _hook in (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
):
    setattr(FullModelCallback, _hook, _forward(_hook))


def head_phase_callbacks(
    callbacks: Iterable[keras.callbacks.Callback], model: keras.Model
) -> list[keras.callbacks.Callback]:
    """The callbacks to run while the head trains on cached features (see the module doc)."""
    kept = []
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            continue
        if isinstance(callback, keras.callbacks.ModelCheckpoint):
            callback = FullModelCallback(callback, model)
        kept.append(callback)
    return kept


def fit_head_on_cached_features(
    model: keras.Model,
    train_data: tf.data.Dataset,
    val_data: tf.data.Dataset | None,
    *,
    compile_head: Callable[[keras.Model], None],
    callbacks: Iterable[keras.callbacks.Callback],
    batch_size: int,
    initial_epoch: int,
    epochs: int,
    class_weight: Mapping[int, float] | None = None,
    verbose: Any = "auto",
) -> keras.callbacks.History:
    """Train the head of a detector whose backbone is frozen, on features computed once.

    Args:
        model: a detector from `build_detector`, backbone frozen (`set_backbone_trainable(0)`).
        train_data / val_data: finite, un-augmented batches ``(images, labels)``.
        compile_head: compiles the head model (optimizer, loss, metrics) as the trainer would.
        callbacks: the run's callbacks; see the module doc for which run and how.
        batch_size: head-training batch size (the data's, so an epoch has as many steps).
        initial_epoch / epochs: as in ``keras.Model.fit``.
        class_weight: label -> loss weight, or None.
        verbose: Keras progress output.

    Returns:
        The head model's History; the detector shares the trained head weights.

    Example:
        >>> history = fit_head_on_cached_features(model, train, val, compile_head=compile,
        ...     callbacks=[], batch_size=32, initial_epoch=0, epochs=3)  # doctest: +SKIP
    """
    feature_model, head = split_detector(model)
    start = time.perf_counter()
    x_train, y_train = compute_features(feature_model, train_data)
    validation = None if val_data is None else compute_features(feature_model, val_data)
    n_val = 0 if validation is None else len(validation[1])
    log.info(
        "cached frozen-backbone features of %d train and %d val images (%d floats each, "
        "%.1f MB) in %.1f s; training the head on them for epochs %d-%d",
        len(y_train),
        n_val,
        x_train.shape[1],
        (x_train.nbytes + (0 if validation is None else validation[0].nbytes)) / 1e6,
        time.perf_counter() - start,
        initial_epoch + 1,
        epochs,
    )
    compile_head(head)
    history = head.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        shuffle=True,  # numpy arrays: reshuffled every epoch
        validation_data=validation,
        initial_epoch=initial_epoch,
        epochs=epochs,
        callbacks=head_phase_callbacks(callbacks, model),
        class_weight=None if class_weight is None else dict(class_weight),
        verbose=verbose,
    )
    model.stop_training = head.stop_training  # early stopping / NaN end the whole run
    return history
