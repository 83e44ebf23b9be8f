"""The trainer's planning logic and its small callbacks, without any data on disk."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from deepguard.errors import ConfigError
from deepguard.tracking.logger import Logger
from deepguard.training import schedules
from deepguard.training.callbacks import LearningRateMonitor, LoggerBridge
from deepguard.training.trainer import (
    Phase,
    Trainer,
    balanced_class_weight,
    plan_phases,
    read_resume_epoch,
)


def test_scratch_backbone_trains_whole_from_the_first_epoch():
    assert plan_phases(5, 2, 0.1, pretrained=False, unfreeze_layers=4) == [Phase(0, 5, None, 1.0)]


def test_pretrained_backbone_is_frozen_then_fine_tuned_at_a_lower_rate():
    phases = plan_phases(5, 2, 0.1, pretrained=True, unfreeze_layers=4)
    assert phases == [Phase(0, 2, 0, 1.0), Phase(2, 5, 4, 0.1)]


def test_finetune_covering_every_epoch_is_a_linear_probe():
    assert plan_phases(3, 5, 0.1, pretrained=True, unfreeze_layers=4) == [Phase(0, 3, 0, 1.0)]


def test_balanced_class_weight_equalizes_the_classes():
    weights = balanced_class_weight({0: 30, 1: 10})
    assert weights[0] * 30 == pytest.approx(weights[1] * 10)
    assert weights[1] > weights[0]


def test_resume_epoch_reads_the_backup_metadata(tmp_path):
    assert read_resume_epoch(tmp_path) == 0
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    assert read_resume_epoch(tmp_path) == 2


def test_bad_trainer_values_fail_with_the_fix():
    with pytest.raises(ConfigError, match="max_epochs"):
        Trainer(max_epochs=0)
    with pytest.raises(ConfigError, match="strategy"):
        Trainer(strategy="tpu-pod")
    with pytest.raises(ConfigError, match="class_weight"):
        Trainer(class_weight="inverse")._class_weight(datamodule=None)


@pytest.mark.parametrize(
    "plan",
    [
        schedules.Constant(),
        schedules.Cosine(final_fraction=0.1),
        schedules.WarmupCosine(warmup_fraction=0.2, final_fraction=0.1),
        schedules.Step(step_epochs=1, gamma=0.5),
        schedules.ReduceOnPlateau(),
    ],
)
def test_every_plan_peaks_at_the_optimizer_rate_and_decays_as_described(plan):
    learning_rate = plan.build(1e-2, total_steps=100, steps_per_epoch=10)
    rates = [
        float(learning_rate(step)) if callable(learning_rate) else learning_rate
        for step in range(0, 101, 5)
    ]
    assert max(rates) == pytest.approx(1e-2, rel=1e-3)
    if isinstance(plan, schedules.WarmupCosine):
        assert rates[0] < rates[4]  # warming up
    if isinstance(plan, schedules.Cosine | schedules.WarmupCosine | schedules.Step):
        assert rates[-1] < 0.2 * max(rates)
    if isinstance(plan, schedules.ReduceOnPlateau):
        assert isinstance(plan.callbacks()[0], keras.callbacks.ReduceLROnPlateau)


class RecordingLogger(Logger):
    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step=None):
        self.logged.append((step, metrics))


def test_epoch_logs_reach_the_logger_with_the_learning_rate():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="binary_crossentropy")
    logger = RecordingLogger()
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[LearningRateMonitor(), LoggerBridge(logger)])
    assert [step for step, _ in logger.logged] == [0, 1]
    assert logger.logged[0][1]["learning_rate"] == pytest.approx(0.05)
    assert "loss" in logger.logged[1][1]


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_run_eagerly_reaches_the_compiled_model(run_eagerly):
    import functools

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    trainer = Trainer(run_eagerly=run_eagerly)
    optimizer = functools.partial(keras.optimizers.Adam, learning_rate=1e-3)
    trainer._compile(model, optimizer, schedules.Constant(), Phase(0, 1, None, 1.0), 4)
    assert model.run_eagerly is run_eagerly
