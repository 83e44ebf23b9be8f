"""A real MLflow registry for the app's tests: two tiny detectors trained in a temp folder.

Trained once per session (about a minute on 2 cores): version 1 (champion) and version 2
(challenger) of ``deepguard_test``, small CNNs at 32 px trained with different seeds and
epochs, so they give different probabilities for the same image.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from deepguard.config.compose import compose_config
from tests.conftest import CONF_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
MODEL_NAME = "deepguard_test"
TINY = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.batch_size=8",
    "data.synthetic.n_per_class=48",
    "data.synthetic.image_size=32",
    f"registry.name={MODEL_NAME}",
]

# The app's helpers are imported as `deepguard_app.*`, as Streamlit does from app/.
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))


@dataclass(frozen=True)
class AppStore:
    tracking_uri: str
    root: Path  # project root of the first run: its data/ holds the synthetic images
    samples: Path  # a folder of real and fake sample images


@pytest.fixture(scope="session")
def app_store(tmp_path_factory) -> AppStore:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from deepguard.training import train

    base = tmp_path_factory.mktemp("app_store")
    tracking_uri = f"sqlite:///{base / 'mlruns' / 'mlflow.db'}"
    roots = []
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        for index, extra in enumerate(
            (["seed=1", "trainer.max_epochs=1"], ["seed=2", "trainer.max_epochs=2"])
        ):
            root = base / f"project{index}"
            overrides = [*TINY, *extra, f"logger.tracking_uri={tracking_uri}"]
            if index == 1:
                overrides.append("evaluation.robustness=true")
            train(compose_config(CONF_DIR, "train", overrides, root))
            roots.append(root)
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # leave no Hydra context for later tests
    return AppStore(tracking_uri, roots[0], roots[0] / "data" / "synthetic" / "32px")


@pytest.fixture
def app_env(app_store, monkeypatch, tmp_path) -> AppStore:
    """Point the app at the fixture store, exactly as a user would: environment variables."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", app_store.tracking_uri)
    monkeypatch.setenv("DEEPGUARD_ROOT", str(app_store.root))
    monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path.parent / "model-cache"))
    return app_store


@pytest.fixture
def zoo_env(model_zoo, monkeypatch, tmp_path):
    """Train (once per session) the given zoo entries and point the app at the zoo's store.

    Returns a function ``use(*entries) -> [label, ...]``: the app's label of each entry.
    """

    def use(*entries) -> list[str]:
        from deepguard_app.cache import store_state

        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("MLFLOW_TRACKING_URI", raising=False)
            for entry in entries:
                model_zoo.train(entry)
        store_state.clear()  # the app lists the store every 15 s: show the new versions now
        monkeypatch.setenv("MLFLOW_TRACKING_URI", model_zoo.tracking_uri)
        monkeypatch.setenv("DEEPGUARD_ROOT", str(model_zoo.roots[entries[0]]))
        monkeypatch.setenv("DEEPGUARD_CACHE", str(tmp_path.parent / "model-cache"))
        return [model_zoo.label(entry) for entry in entries]

    return use
