"""Train, test and record a detector: `python scripts/train.py [group=choice ...] [key=value ...]`.

A doorway only: Hydra composes conf/train.yaml, `deepguard.training.train` does the work.
"""

from __future__ import annotations

import logging
import math

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from deepguard.training import train

    try:
        metrics = train(cfg)
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # In a sweep one failing job (already recorded as FAILED) must not stop the others.
        logging.getLogger(__name__).exception("job failed; the sweep goes on")
        return math.nan
    return metrics.get(cfg.optimized_metric, math.nan)


if __name__ == "__main__":
    main()
