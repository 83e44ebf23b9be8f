"""Ingest stage: ``python scripts/ingest.py ingest.source=<synthetic|folder|archive|url>``.

Exit status 0 on success (also when the data was already there), 1 with the reason otherwise.
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.ingest import ingest


@hydra.main(version_base="1.3", config_path="../conf", config_name="ingest")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    ingest(**OmegaConf.to_container(cfg.ingest, resolve=True))


if __name__ == "__main__":
    main()
