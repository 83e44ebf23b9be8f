"""Register a run's model (or a sweep's best run) and move the challenger/champion aliases.

python scripts/register.py run_id=<run id>
python scripts/register.py run_file=pipeline/train/run.json out=pipeline/register.json
python scripts/register.py sweep=<sweep id>          # its best job on select_metric (val_auc)

A doorway only: `deepguard.tracking.registry.register_from_config` does the work.
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.tracking.registry import register_from_config


@hydra.main(config_path="../conf", config_name="register", version_base="1.3")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    outcome = register_from_config(OmegaConf.to_container(cfg, resolve=True))
    print(json.dumps(outcome, indent=2))


if __name__ == "__main__":
    main()
