"""Evaluate a trained detector on a dataset split: metrics, tables, plots, robustness.

python scripts/evaluate.py model=models:/deepguard@champion data=folder data.root=faces/
python scripts/evaluate.py model=outputs/.../model.keras robustness=false split=val
"""

import hydra
from omegaconf import DictConfig

from deepguard.cli import reports_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    from deepguard.evaluation import run_evaluation

    run_evaluation(cfg)


if __name__ == "__main__":
    main()
