"""Train, test and record a detector: `python scripts/train.py [group=choice ...] [key=value ...]`.

A doorway only: Hydra composes conf/train.yaml, `deepguard.training.train` does the work.
In a sweep (`-m`) a failing job is recorded as FAILED and the other jobs still run; the sweep
then exits non-zero after printing its comparison table.
"""

from __future__ import annotations

import math

import hydra
from omegaconf import DictConfig

from deepguard.cli import reports_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@reports_user_errors
def main(cfg: DictConfig) -> float:
    from deepguard.training import train

    metrics = train(cfg)
    return metrics.get(cfg.optimized_metric, math.nan)


if __name__ == "__main__":
    main()
