"""Score image files and folders (recursively) into a CSV of probabilities of fake.

python scripts/predict.py model=models:/deepguard@champion inputs=photos/ out=scores.csv
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    from deepguard.evaluation import predict_files

    inputs = OmegaConf.to_object(cfg.inputs) if OmegaConf.is_list(cfg.inputs) else cfg.inputs
    predict_files(
        cfg.model,
        inputs,
        cfg.out,
        cfg.threshold,
        cfg.batch_size,
        cfg.tracking_uri,
        faces=cfg.get("faces"),  # None: the model's recorded faces settings
        faces_cache=cfg.get("faces_cache"),
    )


if __name__ == "__main__":
    main()
