# syntax=docker/dockerfile:1
# DeepGuard's services from one Dockerfile, one target each (compose.yaml builds them all):
#   docker build --target api    -t deepguard-api .     REST API: scripts/serve.py under gunicorn
#   docker build --target app    -t deepguard-app .     Streamlit app: app/Home.py
#   docker build --target train  -t deepguard-train .   training: scripts/train.py
#   docker build --target mlflow -t deepguard-mlflow .  tracking server: scripts/tracking_server.py
# Every target runs the same entry point the tests exercise, as a non-root user, with CPU
# TensorFlow (the `tensorflow` wheel without CUDA libraries) and no development tools.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: a virtual environment
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY deepguard ./deepguard
COPY hydra_plugins ./hydra_plugins
# The library and the PostgreSQL driver; the dev extra (tests, linters, browsers) stays out.
# Versions follow pyproject.toml's lower bounds; pin them for a release with
# `pip install -c constraints.txt`, a file made by `pip freeze` in a tested environment.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[postgres]"

# ---------------------------------------------------------------- runtime: what every service shares
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    DEEPGUARD_ROOT=/srv/deepguard \
    DEEPGUARD_CACHE=/srv/deepguard/cache
# Folders that compose mounts volumes on are created here, owned by the service user, so a
# fresh named volume starts writable for it.
RUN groupadd --gid 10001 deepguard \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin deepguard \
    && mkdir -p /srv/deepguard /srv/mlflow \
    && chown 10001:10001 /srv/deepguard /srv/mlflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/deepguard
COPY conf ./conf
COPY scripts ./scripts
COPY app ./app
USER 10001:10001

# ---------------------------------------------------------------- the REST API (default target last)
FROM runtime AS app
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app/Home.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.headless", "true", "--browser.gatherUsageStats", "false"]

FROM runtime AS train
CMD ["python", "scripts/train.py"]

FROM runtime AS mlflow
# basic_auth.db (the users of MLflow's login) is written to the working folder: the volume.
WORKDIR /srv/mlflow
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
# The database comes from MLFLOW_BACKEND_STORE_URI (compose sets it): no password in argv.
CMD ["python", "/opt/deepguard/scripts/tracking_server.py", "paths.root_dir=/srv/mlflow", \
     "host=0.0.0.0", "app_name=basic-auth"]

FROM runtime AS api
EXPOSE 8000
# Ready only once the model is loaded and warmed up (503 before): the orchestrator waits.
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/health/ready', timeout=4)"]
CMD ["python", "scripts/serve.py", "model=models:/deepguard@champion", "host=0.0.0.0", "port=8000"]
