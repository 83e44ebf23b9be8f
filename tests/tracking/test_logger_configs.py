"""Every conf/logger/*.yaml instantiates and records a run (a new logger file is tested the day
it is added)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deepguard.tracking.logger import Logger

LOGGER_DIR = Path(__file__).resolve().parents[2] / "conf" / "logger"


@pytest.mark.parametrize("config_file", sorted(LOGGER_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_logger_config_instantiates_and_records(config_file, tracking_uri, tmp_path):
    config = OmegaConf.load(config_file)
    if "save_dir" in config:  # resolved by Hydra at run time
        config.save_dir = str(tmp_path / "run")
    if "tracking_uri" in config:
        config.tracking_uri = tracking_uri
    logger = instantiate(config)
    assert isinstance(logger, Logger)
    logger.start("config-test", {"a": {"b": 1}}, tags={"t": "1"})
    logger.log_metrics({"val_loss": 0.5}, step=1)
    logger.finish("FINISHED")
    assert isinstance(logger.describe(), str) and logger.describe()


def test_every_logger_key_is_commented():
    for config_file in LOGGER_DIR.glob("*.yaml"):
        for line in config_file.read_text().splitlines():
            if line and not line.startswith(("#", " ")) and ":" in line:
                assert "#" in line, f"{config_file.name}: key without a comment: {line}"
