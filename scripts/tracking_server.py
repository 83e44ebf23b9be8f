"""Start a shared MLflow tracking server: on PostgreSQL when installed, else on SQLite.

python scripts/tracking_server.py                     # or: make tracking-server
python scripts/tracking_server.py backend=sqlite port=5001
python scripts/tracking_server.py backend_store_uri=postgresql://mlflow:<pw>@db/mlflow
"""

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.cli import reports_user_errors
from deepguard.tracking.server import run_tracking_server


@hydra.main(version_base="1.3", config_path="../conf", config_name="tracking_server")
@reports_user_errors
def main(cfg: DictConfig) -> None:
    code = run_tracking_server(OmegaConf.to_container(cfg, resolve=True))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
