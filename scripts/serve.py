"""Serve a detector over HTTP with gunicorn.

python scripts/serve.py model=models:/deepguard@champion port=8000
python scripts/serve.py model=outputs/run/model.keras server=flask   # quick local try
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.serving.wsgi import serve_config


@hydra.main(version_base="1.3", config_path="../conf", config_name="serve")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    serve_config(OmegaConf.to_container(cfg, resolve=True))


if __name__ == "__main__":
    main()
