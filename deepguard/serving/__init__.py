"""The DeepGuard REST API: a Flask application factory served by gunicorn.

`create_app(settings)` builds one worker's app; `serve(...)` (in `wsgi`) runs gunicorn.
"""

from deepguard.serving.app import create_app
from deepguard.serving.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
