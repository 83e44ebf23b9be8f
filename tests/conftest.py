"""Shared fixtures: a composed training config per test, with its own folders and store."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from deepguard.config.compose import compose_config
from tests.helpers.scheduling import DurationRecorder, longest_groups_first, recorded_durations

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


# Session fixtures that take a minute or more to build: the tests that use one run in the same
# pytest-xdist worker (`make test` runs `-n 3 --dist loadgroup`), so it is built once.
SHARED_SESSION_FIXTURES = ("model_zoo", "app_store", "postgres_tracking_server", "mlflow_server")


def pytest_configure(config):
    if not hasattr(config, "workerinput") and getattr(config, "cache", None) is not None:
        config.pluginmanager.register(DurationRecorder(config), "deepguard-durations")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group tests for pytest-xdist: by the expensive session fixture they share, else by file
    (so module fixtures are built once too); in a worker, hand the longest groups out first
    (tests/helpers/scheduling.py)."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        shared = [name for name in SHARED_SESSION_FIXTURES if name in item.fixturenames]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else item.location[0]))
    if hasattr(config, "workerinput"):
        longest_groups_first(items, recorded_durations(config))


@pytest.fixture
def compose_train(tmp_path: Path, monkeypatch) -> Callable[..., object]:
    """Compose conf/train.yaml with overrides; MLflow goes to a store inside tmp_path."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def _compose(*overrides: str):
        return compose_config(CONF_DIR, "train", list(overrides), tmp_path)

    yield _compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # later tests must not see this test's Hydra context


@pytest.fixture
def shared_data() -> Path:
    """The developers' real-image folder beside the repository; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared real-image data folder is not available")
    return SHARED_DATA


@pytest.fixture
def terminal_ctrl_c():
    """Python's own SIGINT handler, as in a terminal. A shell starts background jobs (and so
    some CI runners start the tests) with SIGINT ignored, where Ctrl-C cannot be tested."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def model_zoo(tmp_path_factory):
    """Every shipped preset and backbone, trained and registered when first asked
    (tests/helpers/zoo.py); the app's and the backbone tests share them."""
    from tests.helpers.zoo import ModelZoo

    return ModelZoo(tmp_path_factory.mktemp("zoo"))
