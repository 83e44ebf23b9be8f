"""Shared fixtures: a composed training config per test, with its own folders and store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def compose_config(config_name: str, overrides: list[str], root: Path):
    """Compose `conf/<config_name>.yaml` as Hydra would, with every path under `root`.

    The Hydra runtime values that only exist inside `@hydra.main` (output dir, cwd, the
    override dirname) are filled in so that interpolations resolve.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name=config_name,
            overrides=[f"paths.root_dir={root}", *overrides],
            return_hydra_config=True,
        )
    output_dir = root / "outputs" / "run"
    output_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(root)
        cfg.hydra.job.override_dirname = ",".join(overrides)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in @hydra.main: the task sees its config without the hydra node
    return cfg


@pytest.fixture
def compose_train(tmp_path: Path, monkeypatch) -> Callable[..., object]:
    """Compose conf/train.yaml with overrides; MLflow goes to a store inside tmp_path."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def _compose(*overrides: str):
        return compose_config("train", list(overrides), tmp_path)

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
