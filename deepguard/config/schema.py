"""Typed schemas for the top level and the trainer, registered with Hydra's ConfigStore.

The YAML files hold the values; these dataclasses only give them types, so that
`trainer.max_epochs=five` or a misspelt key fails before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from deepguard.config.faces import FaceSettings


@dataclass
class TrainerConfig:
    _target_: str = "deepguard.training.Trainer"
    max_epochs: int = 5
    finetune: int = 0
    finetune_lr_factor: float = 0.1
    precision: str = "float32"
    jit_compile: bool = False
    run_eagerly: bool = False
    deterministic: bool = False
    gradient_clip_norm: float | None = None
    accumulate_grad_batches: int = 1
    class_weight: Any = None
    strategy: str = "auto"
    multi_worker_port: int = 12345
    multi_worker_timeout_s: float | None = 600.0
    limit_train_batches: int | None = None
    limit_val_batches: int | None = None
    limit_test_batches: int | None = None
    overfit_batches: int = 0
    verbose: Any = "auto"
    cache_frozen_features: bool = True


@dataclass
class EvaluationConfig:
    threshold: float = 0.5
    robustness: bool = False


@dataclass
class RegistryConfig:
    enabled: bool = True
    name: str = "deepguard"
    metric: str = "roc_auc"


@dataclass
class TrainConfig:
    task_name: str = "train"
    seed: int = 42
    run_name: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    ckpt_path: str | None = None
    optimized_metric: str = "val_auc"
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    paths: Any = MISSING
    data: Any = MISSING
    augmentation: Any = None
    fakes: Any = None
    faces: Any = None
    backbone: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = field(default_factory=dict)
    logger: Any = None


def register_schemas() -> None:
    """Store the schemas under the names conf/ refers to; safe to call more than once."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    store.store(group="faces", name="faces_schema", node=FaceSettings)
