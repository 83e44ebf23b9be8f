"""Prepare stage: ``python scripts/prepare.py [prepare.layout=auto] [prepare.manifest=<csv>]``.

Exit status 0 on success, 1 with the reason otherwise (no usable image, unknown layout ...).
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.prepare import prepare_dataset


@hydra.main(version_base="1.3", config_path="../conf", config_name="prepare")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    prepare_dataset(**OmegaConf.to_container(cfg.prepare, resolve=True))


if __name__ == "__main__":
    main()
