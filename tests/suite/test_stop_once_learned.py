"""The learning runs' early end: after the first epoch that shows learning, never before."""

from __future__ import annotations

import keras

from tests.helpers.learning import LEARNED_AUC, StopOnceLearned


def tiny_model() -> keras.Model:
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])


def test_chance_level_epochs_go_on_and_the_first_learned_one_ends_the_run():
    callback = StopOnceLearned()
    model = tiny_model()
    model.stop_training = False
    callback.set_model(model)
    for epoch, auc in enumerate([0.5, 0.5, LEARNED_AUC]):  # at the threshold is not above it
        callback.on_epoch_end(epoch, {"val_auc": auc})
        assert not model.stop_training, f"stopped at epoch {epoch} with AUC {auc}"
    callback.on_epoch_end(3, {"val_auc": LEARNED_AUC + 0.01})
    assert model.stop_training and callback.stopped_epoch == 3


def test_an_epoch_without_validation_does_not_end_the_run():
    callback = StopOnceLearned(threshold=0.6)
    model = tiny_model()
    model.stop_training = False
    callback.set_model(model)
    callback.on_epoch_end(0, {"auc": 0.99})  # training AUC says nothing about validation
    assert not model.stop_training and callback.stopped_epoch is None
