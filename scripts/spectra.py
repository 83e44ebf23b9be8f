"""Spectra stage: ``python scripts/spectra.py [spectra.image_size=128]``.

Exit status 0 on success, 1 with the reason otherwise (missing manifest ...).
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.spectral import compute_dataset_spectra


@hydra.main(version_base="1.3", config_path="../conf", config_name="spectra")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    compute_dataset_spectra(**OmegaConf.to_container(cfg.spectra, resolve=True))


if __name__ == "__main__":
    main()
