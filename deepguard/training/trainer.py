"""The generic Lightning-style trainer: build under, fit and test any DeepGuard detector.

Behaviour is extended with Keras callbacks (conf/callbacks), never with flags tested inside a
loop; the trainer only decides the phases (frozen backbone, then fine-tuning), compiles, and
hands the datasets to `keras.Model.fit`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from deepguard.errors import ConfigError
from deepguard.models.keras_file import normalize_keras_file
from deepguard.tracking.logger import Logger, NullLogger
from deepguard.training.callbacks import LoggerBridge
from deepguard.training.feature_cache import augments_training, fit_head_on_cached_features
from deepguard.training.runtime import PRECISIONS, make_strategy, precision_policy

log = logging.getLogger(__name__)
HISTORY_FILE = "history.csv"  # one row per epoch: the training curves DVC plots


@dataclass(frozen=True)
class Phase:
    """A stretch of epochs with one trainability setting and learning-rate factor."""

    first_epoch: int
    end_epoch: int
    trainable_layers: int | None  # see deepguard.models.set_backbone_trainable
    lr_factor: float

    @property
    def epochs(self) -> int:
        return self.end_epoch - self.first_epoch


def plan_phases(
    max_epochs: int,
    finetune: int,
    finetune_lr_factor: float,
    pretrained: bool,
    unfreeze_layers: int | None,
) -> list[Phase]:
    """Split training into a frozen-backbone phase and a fine-tuning phase.

    From-scratch backbones train whole from the first epoch; pretrained ones train the head
    alone for `finetune` epochs, then the top `unfreeze_layers` at a lower learning rate.
    """
    if not pretrained:
        return [Phase(0, max_epochs, None, 1.0)]
    frozen_epochs = min(finetune, max_epochs)
    phases = [
        Phase(0, frozen_epochs, 0, 1.0),
        Phase(frozen_epochs, max_epochs, unfreeze_layers, finetune_lr_factor if finetune else 1.0),
    ]
    return [phase for phase in phases if phase.epochs > 0]


def balanced_class_weight(class_counts: Mapping[int, int]) -> dict[int, float]:
    """Inverse-frequency weights: each class contributes equally to the loss."""
    total = sum(class_counts.values())
    return {label: total / (len(class_counts) * count) for label, count in class_counts.items()}


def read_resume_epoch(backup_dir: str | Path) -> int:
    """The number of finished epochs a BackupAndRestore folder holds (0 when there is none)."""
    metadata = Path(backup_dir) / "training_metadata.json"
    if not metadata.is_file():
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


def _check_settings(
    max_epochs: int, accumulate_grad_batches: int, strategy: str, precision: str
) -> None:
    """Refuse trainer values that cannot work, before any data is read."""
    if max_epochs < 1:
        raise ConfigError(f"trainer.max_epochs must be at least 1, got {max_epochs}")
    if accumulate_grad_batches < 1:
        raise ConfigError(
            f"trainer.accumulate_grad_batches must be at least 1, got {accumulate_grad_batches}"
        )
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown trainer.precision '{precision}'; available: {', '.join(PRECISIONS)}"
        )
    if strategy in ("mirrored", "multi_worker") and accumulate_grad_batches > 1:
        raise ConfigError(
            "trainer.accumulate_grad_batches > 1 does not work with "
            f"trainer.strategy={strategy} (Keras applies accumulated gradients inside a "
            "conditional, where replicas cannot synchronize); raise data.batch_size "
            "instead, since every replica adds a batch"
        )


class Trainer:
    """Builds (`model_scope`), fits and tests a Keras detector.

    Args:
        max_epochs: epochs in all, frozen ones included.
        finetune: epochs with a pretrained backbone frozen before fine-tuning.
        finetune_lr_factor: learning-rate multiplier once the backbone is unfrozen.
        precision: dtype policy models are built under inside `model_scope`
            (see `runtime.precision_policy`).
        jit_compile: compile train steps with XLA.
        run_eagerly: run train and validation steps eagerly, without tracing a graph (for
            debugging, and for runs of a batch or two, where tracing a large backbone's
            training graph takes far longer than the steps themselves).
        deterministic: make every TensorFlow op deterministic (process-wide, from here on).
        gradient_clip_norm: passed to the optimizer as `clipnorm`.
        accumulate_grad_batches: passed to the optimizer as `gradient_accumulation_steps`.
        class_weight: None, "balanced" or a mapping label -> weight.
        strategy: "auto", "mirrored" (local GPUs) or "multi_worker" (several processes);
            see `runtime.make_strategy`.
        multi_worker_port: port of each worker when the multi-worker cluster comes from SLURM.
        multi_worker_timeout_s: longest wait of one collective for the other workers.
        limit_train_batches / limit_val_batches / limit_test_batches: caps per epoch.
        overfit_batches: train and validate on the same first N training batches.
        verbose: Keras progress output.
        cache_frozen_features: while a pretrained backbone is frozen and training images are
            not augmented, run the backbone once per image and train the head on the cached
            features (`deepguard.training.feature_cache`).
        callbacks: Keras callbacks (a list, or a mapping name -> callback; None entries dropped).
        logger: the run's Logger.
        output_dir: where the final `model.keras` and ``history.csv`` (one row per epoch,
            written by `keras.callbacks.CSVLogger`) are written.

    Example:
        >>> trainer = Trainer(max_epochs=2, output_dir="outputs/try")  # doctest: +SKIP
        >>> trainer.fit(model, datamodule, optimizer, scheduler)       # doctest: +SKIP
    """

    def __init__(
        self,
        max_epochs: int = 5,
        finetune: int = 0,
        finetune_lr_factor: float = 0.1,
        precision: str = "float32",
        jit_compile: bool = False,
        run_eagerly: bool = False,
        deterministic: bool = False,
        gradient_clip_norm: float | None = None,
        accumulate_grad_batches: int = 1,
        class_weight: Any = None,
        strategy: str = "auto",
        multi_worker_port: int = 12345,
        multi_worker_timeout_s: float | None = 600.0,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        limit_test_batches: int | None = None,
        overfit_batches: int = 0,
        verbose: Any = "auto",
        cache_frozen_features: bool = True,
        callbacks: Iterable[keras.callbacks.Callback] | Mapping[str, Any] | None = None,
        logger: Logger | None = None,
        output_dir: str | Path = ".",
    ):
        _check_settings(max_epochs, accumulate_grad_batches, strategy, precision)
        self.max_epochs = max_epochs
        self.finetune = finetune
        self.finetune_lr_factor = finetune_lr_factor
        self.precision = precision
        self.jit_compile = jit_compile
        self.run_eagerly = run_eagerly
        self.deterministic = deterministic
        if deterministic:
            # Process-wide, as in Lightning: every TensorFlow op from here on is reproducible.
            tf.config.experimental.enable_op_determinism()
        self.gradient_clip_norm = gradient_clip_norm
        self.accumulate_grad_batches = accumulate_grad_batches
        self.class_weight = class_weight
        self.strategy = make_strategy(strategy, multi_worker_port, multi_worker_timeout_s)
        self.limit_train_batches = limit_train_batches
        self.limit_val_batches = limit_val_batches
        self.limit_test_batches = limit_test_batches
        self.overfit_batches = overfit_batches
        # Keras' "auto" draws a progress bar that floods logs when the output is not a
        # terminal (CI, DVC, nohup); one line per epoch reads better there.
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose
        self.cache_frozen_features = cache_frozen_features
        if isinstance(callbacks, Mapping):
            callbacks = [callback for callback in callbacks.values() if callback is not None]
        self.callbacks = list(callbacks or [])
        self.logger = logger or NullLogger()
        self.output_dir = Path(output_dir)
        self.history: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ fit

    @contextlib.contextmanager
    def model_scope(self) -> Iterator[None]:
        """Build models inside this: the device strategy's scope, under the precision policy.

        Example:
            >>> with trainer.model_scope():  # doctest: +SKIP
            ...     model = build_detector(...)
        """
        with self.strategy.scope(), precision_policy(self.precision):
            yield

    def fit(
        self,
        model: keras.Model,
        datamodule: Any,
        optimizer: Callable[..., keras.optimizers.Optimizer],
        scheduler: Any,
        *,
        pretrained: bool = False,
        unfreeze_layers: int | None = None,
    ) -> dict[str, list[float]]:
        """Train `model` on the datamodule's train split, validating every epoch.

        Args:
            model: a detector from `deepguard.models.build_detector`.
            datamodule: a `deepguard.data.DataModule`, set up.
            optimizer: a partial optimizer constructor (conf/optimizer) with its peak rate.
            scheduler: a learning-rate plan (conf/scheduler).
            pretrained: whether the backbone starts from pretrained weights.
            unfreeze_layers: backbone layers trained after the frozen phase (None = all).

        Returns:
            The per-epoch history of every logged metric.
        """
        train_data, val_data = self._fit_datasets(datamodule)
        steps_per_epoch = self._count_batches(train_data)
        callbacks = self._fit_callbacks(scheduler)
        class_weight = self._class_weight(datamodule)
        phases = plan_phases(
            self.max_epochs, self.finetune, self.finetune_lr_factor, pretrained, unfreeze_layers
        )
        self._announce_resume()
        for phase in phases:
            compile_phase = functools.partial(
                self._compile,
                optimizer=optimizer,
                scheduler=scheduler,
                phase=phase,
                steps_per_epoch=steps_per_epoch,
            )
            fit_arguments = {
                "initial_epoch": phase.first_epoch,
                "epochs": phase.end_epoch,
                "callbacks": callbacks,
                "class_weight": class_weight,
                "verbose": self.verbose,
            }
            history = self._fit_phase(
                model, phase, datamodule, (train_data, val_data), compile_phase, fit_arguments
            )
            if history is not None:
                self._extend_history(history.history)
            if model.stop_training:
                break  # early stopping or NaN: no point starting the next phase
        self._clear_backups()
        return self.history

    def _fit_phase(
        self,
        model: keras.Model,
        phase: Phase,
        datamodule: Any,
        data: tuple[tf.data.Dataset, tf.data.Dataset],
        compile_phase: Callable[[keras.Model], None],
        fit_arguments: dict[str, Any],
    ) -> keras.callbacks.History | None:
        """One phase: the head alone on cached backbone features while the backbone is frozen,
        else `keras.Model.fit`; None when a later phase's backup already covers it."""
        from deepguard.models import set_backbone_trainable

        set_backbone_trainable(model, phase.trainable_layers)
        train_data, val_data = data
        if phase.trainable_layers == 0 and self._caches_features(datamodule):
            if self.resume_epoch() >= phase.end_epoch:
                return None  # the backup of a later phase restores the whole model
            return fit_head_on_cached_features(
                model,
                train_data,
                val_data,
                compile_head=compile_phase,
                batch_size=datamodule.batch_size,
                **fit_arguments,
            )
        compile_phase(model)
        return model.fit(train_data, validation_data=val_data, **fit_arguments)

    def _fit_callbacks(self, scheduler: Any) -> list[keras.callbacks.Callback]:
        """The configured callbacks, the schedule's, the logger bridge and the epoch CSV."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        history_file = self.output_dir / HISTORY_FILE
        if not self.resume_epoch():
            history_file.unlink(missing_ok=True)  # a fresh run starts a fresh table
        # append=True: the fine-tuning phase (and a resumed run) continue the same table.
        history = keras.callbacks.CSVLogger(str(history_file), append=True)
        return [*self.callbacks, *scheduler.callbacks(), LoggerBridge(self.logger), history]

    def _caches_features(self, datamodule: Any) -> bool:
        if not self.cache_frozen_features:
            return False
        if augments_training(datamodule):
            log.info(
                "frozen-backbone features are not cached: training images are augmented or "
                "fakes are synthesized afresh, so the backbone sees new pixels every epoch; "
                "augmentation=none (and fakes.fresh_each_epoch=false) enables the cache"
            )
            return False
        if self.strategy.num_replicas_in_sync > 1:
            log.info("frozen-backbone features are not cached under a multi-device strategy")
            return False
        return True

    def _fit_datasets(self, datamodule: Any) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        if self.overfit_batches:
            # The same few batches every epoch, for training and validation alike.
            fixed = datamodule.train_dataset().take(self.overfit_batches).cache()
            return fixed, fixed
        train_data = self._limit(datamodule.train_dataset(), self.limit_train_batches)
        val_data = self._limit(datamodule.val_dataset(), self.limit_val_batches)
        return train_data, val_data

    def _compile(self, model, optimizer, scheduler, phase: Phase, steps_per_epoch: int) -> None:
        peak = float(optimizer.keywords["learning_rate"]) * phase.lr_factor
        learning_rate = scheduler.build(peak, phase.epochs * steps_per_epoch, steps_per_epoch)
        with self.strategy.scope():
            model.compile(
                optimizer=optimizer(
                    learning_rate=learning_rate,
                    clipnorm=self.gradient_clip_norm,
                    # Keras wants None (not 1) for "update after every batch".
                    gradient_accumulation_steps=self.accumulate_grad_batches
                    if self.accumulate_grad_batches > 1
                    else None,
                ),
                loss=keras.losses.BinaryCrossentropy(),
                metrics=[
                    keras.metrics.BinaryAccuracy(name="accuracy"),
                    keras.metrics.AUC(name="auc"),
                ],
                jit_compile=self.jit_compile,
                run_eagerly=self.run_eagerly,
            )

    def _class_weight(self, datamodule: Any) -> dict[int, float] | None:
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            return balanced_class_weight(datamodule.class_counts())
        if isinstance(self.class_weight, Mapping):
            return {int(label): float(weight) for label, weight in self.class_weight.items()}
        raise ConfigError(
            f"trainer.class_weight must be null, 'balanced' or a mapping like {{0: 1.0, 1: 2.0}}; "
            f"got {self.class_weight!r}"
        )

    def _backup_dirs(self) -> list[Path]:
        return [
            Path(callback.backup_dir)
            for callback in self.callbacks
            if isinstance(callback, keras.callbacks.BackupAndRestore)
        ]

    def resume_epoch(self) -> int:
        """Finished epochs a previous, interrupted run of the same command left behind."""
        return max((read_resume_epoch(path) for path in self._backup_dirs()), default=0)

    def _announce_resume(self) -> None:
        epoch = self.resume_epoch()
        if epoch:
            print(f"Resuming from epoch {epoch + 1}: {epoch} epochs were finished before.")

    def _clear_backups(self) -> None:
        # BackupAndRestore keeps its folder between the phases; the run is complete now.
        for path in self._backup_dirs():
            shutil.rmtree(path, ignore_errors=True)

    def _extend_history(self, history: Mapping[str, list[float]]) -> None:
        for name, values in history.items():
            self.history.setdefault(name, []).extend(float(v) for v in values)

    # ------------------------------------------------------------------ test

    def test(
        self,
        model: keras.Model,
        datamodule: Any,
        out_dir: str | Path,
        threshold: float = 0.5,
        robustness: bool = False,
    ) -> dict[str, float]:
        """Every evaluation metric on the test split, written to `out_dir` and the logger."""
        from deepguard.evaluation import evaluate_model

        limit = self.limit_test_batches * datamodule.batch_size if self.limit_test_batches else None
        result = evaluate_model(
            model,
            datamodule,
            split="test",
            out_dir=out_dir,
            threshold=threshold,
            robustness=robustness,
            logger=self.logger,
            limit=limit,
        )
        return result["metrics"]

    # ------------------------------------------------------------- helpers

    @staticmethod
    def _limit(dataset: tf.data.Dataset, batches: int | None) -> tf.data.Dataset:
        return dataset.take(batches) if batches else dataset

    @staticmethod
    def _count_batches(dataset: tf.data.Dataset) -> int:
        batches = int(dataset.cardinality())
        if batches < 0:  # unknown cardinality: count once (the data is finite)
            batches = sum(1 for _ in dataset)
        return max(batches, 1)

    def best_model_path(self) -> Path | None:
        """The best checkpoint written during fit, if a checkpoint callback kept one."""
        for callback in self.callbacks:
            if isinstance(callback, keras.callbacks.ModelCheckpoint) and callback.save_best_only:
                path = Path(callback.filepath)
                if path.is_file():
                    return path
        return None

    def save_final_model(self, model: keras.Model) -> Path:
        """Write the model evaluation will use (the best checkpoint, else the last weights).

        The file carries no save time, so the same weights always give the same bytes.
        """
        self.output_dir.mkdir(parents=True, exist_ok=True)
        final_path = self.output_dir / "model.keras"
        best = self.best_model_path()
        if best is not None:
            shutil.copyfile(best, final_path)
        else:
            model.save(final_path)
        return normalize_keras_file(final_path)
