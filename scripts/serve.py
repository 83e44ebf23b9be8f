"""Serve a detector over HTTP with gunicorn.

python scripts/serve.py model=models:/deepguard@champion port=8000
python scripts/serve.py model=outputs/run/model.keras server=flask   # quick local try
"""

import hydra
from omegaconf import DictConfig, OmegaConf

from deepguard.serving import ServeSettings
from deepguard.serving.wsgi import serve

_APP_KEYS = (
    "threshold",
    "max_batch",
    "max_content_length",
    "max_concurrency",
    "queue_timeout_s",
    "retry_after_s",
    "explain_max_side",
    "limits",
)


@hydra.main(version_base="1.3", config_path="../conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    if cfg.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(cfg.tracking_uri)
    values = OmegaConf.to_container(cfg, resolve=True)
    settings = ServeSettings.from_mapping(
        {"model_uri": str(values["model"]), **{key: values[key] for key in _APP_KEYS}}
    )
    serve(
        settings,
        host=cfg.host,
        port=cfg.port,
        workers=cfg.workers,
        threads=cfg.threads,
        timeout_s=cfg.timeout,
        graceful_timeout_s=cfg.graceful_timeout,
        keepalive_s=cfg.keepalive,
        max_requests=cfg.max_requests,
        server=cfg.server,
    )


if __name__ == "__main__":
    main()
