"""Run the API under gunicorn, programmatically (no gunicorn config file, no import string).

Each gunicorn worker builds its own app after the fork, so each loads the model once;
TensorFlow is never imported in the master process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from deepguard.serving.app import create_app
from deepguard.serving.settings import ServeSettings

log = logging.getLogger(__name__)


class GunicornApplication(BaseApplication):
    """gunicorn with DeepGuard's app factory.

    Args:
        settings: what `create_app` gets in each worker.
        options: gunicorn settings by name (``bind``, ``workers``, ``threads``, ``timeout``...).
    """

    def __init__(self, settings: ServeSettings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        unknown = sorted(set(self.options) - set(self.cfg.settings))
        if unknown:
            raise ValueError(f"unknown gunicorn settings {unknown}")
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        return create_app(self.settings)


def serve(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    threads: int = 16,
    timeout_s: int = 60,
    graceful_timeout_s: int = 30,
    keepalive_s: int = 5,
    max_requests: int = 0,
    server: str = "gunicorn",
) -> None:
    """Serve the API until interrupted.

    Args:
        settings: the app's settings.
        host / port: where to listen; 127.0.0.1 keeps it private to this machine.
        workers: processes, each with its own model copy (about 1 GB each with TensorFlow).
        threads: request threads per worker; keep it above ``settings.max_concurrency`` so
            waiting requests reach the bounded queue (and its 503) instead of the socket.
        timeout_s: a worker silent for this long is restarted.
        graceful_timeout_s: time given to finish requests on shutdown.
        keepalive_s: idle keep-alive connection lifetime.
        max_requests: recycle a worker after this many requests (0: never).
        server: ``"gunicorn"``, or ``"flask"`` for a quick local try with Flask's
            development server (single process, not for real traffic).
    """
    if server == "flask":
        log.warning("Flask's development server: for quick local tries only, not for traffic")
        create_app(settings).run(host=host, port=port, threaded=True)
        return
    if server != "gunicorn":
        raise ValueError(f"unknown server '{server}'; choose gunicorn or flask")
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout_s,
        "graceful_timeout": graceful_timeout_s,
        "keepalive": keepalive_s,
        "max_requests": max_requests,
        "accesslog": None,  # the app logs one line per request itself
        "errorlog": "-",
        "preload_app": False,  # load TensorFlow and the model after the fork, per worker
    }
    GunicornApplication(settings, options).run()


# conf/serve.yaml keys that configure the server process rather than the app.
_SERVER_KEYS = {
    "host": "host",
    "port": "port",
    "workers": "workers",
    "threads": "threads",
    "timeout": "timeout_s",
    "graceful_timeout": "graceful_timeout_s",
    "keepalive": "keepalive_s",
    "max_requests": "max_requests",
    "server": "server",
}


def split_config(cfg: Mapping[str, Any]) -> tuple[ServeSettings, dict[str, Any]]:
    """`ServeSettings` and `serve` keyword arguments from a `conf/serve.yaml` mapping.

    Raises:
        ValueError: an unknown key, with the known ones listed.
    """
    values = dict(cfg)
    values.pop("tracking_uri", None)
    # Project folders (read by the faces group's cache_dir) and the command's name.
    values.pop("paths", None)
    values.pop("task_name", None)
    server = {name: values.pop(key) for key, name in _SERVER_KEYS.items() if key in values}
    values["model_uri"] = str(values.pop("model", "") or "")
    return ServeSettings.from_mapping(values), server


def serve_config(cfg: Mapping[str, Any]) -> None:
    """Serve what a resolved `conf/serve.yaml` describes (the body of `scripts/serve.py`)."""
    if cfg.get("tracking_uri"):
        import mlflow  # only registry and run URIs need it

        mlflow.set_tracking_uri(cfg["tracking_uri"])
    settings, server = split_config(cfg)
    serve(settings, **server)
