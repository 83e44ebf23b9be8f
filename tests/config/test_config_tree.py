"""Every file of every config group composes with the root config and builds its object.

Registry-driven: a new file in conf/<group>/ is tested the day it is added.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deepguard.errors import ConfigError
from deepguard.tracking.csv_logger import RECORD_FILE, CSVLogger
from deepguard.tracking.logger import Logger
from deepguard.tracking.mlflow_logger import MLflowLogger
from deepguard.tracking.run_status import tracked_run
from deepguard.tracking.store import make_client
from deepguard.training import train
from deepguard.training.train import build_callbacks, build_logger, build_trainer

CONF = Path(__file__).resolve().parents[2] / "conf"


def choices(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("choice", choices("optimizer"))
def test_every_optimizer_builds_with_a_schedule(compose_train, choice):
    cfg = compose_train(f"optimizer={choice}")
    optimizer = instantiate(cfg.optimizer)(learning_rate=1e-3)
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    assert float(cfg.optimizer.learning_rate) > 0


@pytest.mark.parametrize("choice", choices("scheduler"))
def test_every_scheduler_builds(compose_train, choice):
    cfg = compose_train(f"scheduler={choice}")
    plan = instantiate(cfg.scheduler)
    learning_rate = plan.build(1e-3, total_steps=50, steps_per_epoch=10)
    first = float(learning_rate(0)) if callable(learning_rate) else learning_rate
    assert 0 <= first <= 1e-3 * (1 + 1e-6)  # float32 rounding of the peak
    assert all(isinstance(cb, keras.callbacks.Callback) for cb in plan.callbacks())


@pytest.mark.parametrize("choice", choices("callbacks"))
def test_every_callback_set_builds(compose_train, choice):
    cfg = compose_train(f"callbacks={choice}")
    callbacks = build_callbacks(cfg)
    assert all(isinstance(cb, keras.callbacks.Callback) for cb in callbacks)


@pytest.mark.parametrize("choice", choices("logger"))
def test_every_logger_builds_and_records_a_run(compose_train, choice, tmp_path):
    cfg = compose_train(f"logger={choice}")
    logger = build_logger(cfg)
    assert isinstance(logger, Logger)
    assert type(logger).__name__ == cfg.logger["_target_"].rsplit(".", 1)[1]
    with tracked_run(logger, run_name="t", config={"a": 1}, tags={}):
        logger.log_metrics({"val_auc": 0.5}, step=0)
    if isinstance(logger, MLflowLogger):
        run = make_client(logger.tracking_uri).get_run(logger.run_id)
        assert run.info.status == "FINISHED" and run.data.metrics["val_auc"] == 0.5
    elif isinstance(logger, CSVLogger):
        assert "0,val_auc,0.5" in (logger.save_dir / "metrics.csv").read_text()
        assert json.loads((logger.save_dir / RECORD_FILE).read_text())["status"] == "FINISHED"
    else:
        assert logger.run_id is None and not list(tmp_path.rglob("mlflow.db"))


@pytest.mark.parametrize("choice", choices("trainer"))
def test_every_trainer_builds_with_its_callbacks(compose_train, choice):
    cfg = compose_train(f"trainer={choice}")
    trainer = build_trainer(cfg, build_logger(cfg))
    assert trainer.max_epochs == cfg.trainer.max_epochs
    assert len(trainer.callbacks) == len([c for c in cfg.callbacks.values() if c])


@pytest.mark.parametrize("choice", choices("data"))
def test_every_data_choice_builds_its_datamodule(compose_train, choice, tmp_path):
    required = {
        "folder": [f"data.root={tmp_path}"],
        "genimage": [f"data.root={tmp_path}"],
        "faces140k": [f"data.root={tmp_path}"],
        "manifest": [f"data.manifest={tmp_path / 'list.csv'}"],
    }
    cfg = compose_train(f"data={choice}", *required.get(choice, []))
    datamodule = instantiate(cfg.data, _convert_="all")
    assert datamodule.image_size == cfg.data.image_size


@pytest.mark.parametrize("choice", choices("experiment"))
def test_every_experiment_preset_composes(compose_train, choice):
    cfg = compose_train(f"experiment={choice}")
    assert cfg.tags.get("experiment") == choice


@pytest.mark.parametrize("choice", choices("debug"))
def test_every_debug_preset_switches_logging_off(compose_train, choice):
    cfg = compose_train(f"debug={choice}")
    assert cfg.task_name == "debug"
    assert cfg.logger is None or "MLflow" not in cfg.logger["_target_"]


@pytest.mark.parametrize("choice", choices("hparams_search"))
def test_every_search_space_selects_on_validation_over_real_keys(compose_train, choice):
    cfg = compose_train(f"hparams_search={choice}")
    assert cfg.optimized_metric.startswith("val_")
    space = OmegaConf.load(CONF / "hparams_search" / f"{choice}.yaml").hydra.sweeper.params
    for key in space:
        # a config value, or a config group (a folder of conf/) the search picks from
        assert OmegaConf.select(cfg, key) is not None or (CONF / key).is_dir(), key


def test_selecting_on_a_test_metric_fails_before_any_work(compose_train, tmp_path):
    cfg = compose_train("optimized_metric=test_roc_auc")
    with pytest.raises(ConfigError, match="optimistic"):
        train(cfg)
    assert not (tmp_path / "mlruns").exists()  # no run was opened, no data generated
    assert not (tmp_path / "data").exists()


def test_misspelt_key_fails_before_any_work(compose_train):
    with pytest.raises(ConfigCompositionException, match="max_epoch"):
        compose_train("trainer.max_epoch=3")


def test_wrong_type_fails_before_any_work(compose_train):
    with pytest.raises(ConfigCompositionException, match="max_epochs"):
        compose_train("trainer.max_epochs=five")


@pytest.mark.parametrize("choice", choices("suite"))
def test_every_evaluation_suite_composes_and_names_readable_datasets(choice, tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from deepguard.config.compose import compose_config
    from deepguard.evaluation.generalization import check_suite

    cfg = compose_config(CONF, "evaluate", [f"suite={choice}", "model=m.keras"], tmp_path)
    try:
        check_suite(cfg.suite)
        suite = OmegaConf.to_container(cfg.suite, resolve=True)
    finally:
        HydraConfig.instance().cfg = None  # later tests must see no Hydra context
    assert suite["name"] == choice
    for name, dataset in suite["datasets"].items():
        assert Path(dataset["root"]).is_absolute(), name
