"""A folder of real photos only: synthesized fakes train, evaluate and register a detector.

Each recipe trains once (module fixture, tiny: 64 px, one epoch, small CNN) on 16 real
faces of the shared faces-hard-dev set, with the fakes on every split so validation and
test have fakes to score; the tests then read what that one run left behind: its report,
the registered model (real MLflow store in the fixture's folder), and a separate
`evaluate` of it, which must crop faces as the model recorded and score the same fakes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from deepguard.config.compose import compose_config
from deepguard.evaluation import run_evaluation
from deepguard.faces import scoring_face_settings
from deepguard.tracking.loading import load_model
from deepguard.training import train
from tests.conftest import CONF_DIR, SHARED_DATA

pytestmark = pytest.mark.slow

REAL_FACES = 16
RECIPES = {
    # SBI on face crops: the crops' landmarks shape the blending mask.
    "sbi-faces": ["fakes=sbi", "faces=crop"],
    "upsampling": ["fakes=upsampling"],
}
DATA = ["data.val_fraction=0.25", "data.test_fraction=0.25", "fakes.splits=[train,val,test]"]
TINY = ["backbone=small_cnn", "data.image_size=64", "data.batch_size=8", "trainer.max_epochs=1"]


@dataclass
class TrainedRun:
    recipe: str
    root: Path
    output_dir: Path
    metrics: dict[str, float]
    data_overrides: list[str]

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlruns' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def real_photos(tmp_path_factory) -> Path:
    """16 real portraits of faces-hard-dev in a ``real/`` folder: no fake image at all."""
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared real-image data folder is not available")
    source = sorted((SHARED_DATA / "faces-hard-dev" / "real").glob("*.jpg"))[:REAL_FACES]
    folder = tmp_path_factory.mktemp("reals") / "real"
    folder.mkdir()
    for path in source:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder.parent


@pytest.fixture(scope="module", params=sorted(RECIPES))
def trained(request, real_photos, tmp_path_factory) -> TrainedRun:
    root = tmp_path_factory.mktemp(request.param)
    data = ["data=folder", f"data.root={real_photos}", *DATA, *RECIPES[request.param]]
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        cfg = compose_config(CONF_DIR, "train", [*TINY, *data], root)
        output_dir = Path(cfg.paths.output_dir)
        try:
            metrics = train(cfg)
        finally:
            forget_hydra()
    return TrainedRun(request.param, root, output_dir, metrics, data)


def forget_hydra() -> None:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None


def test_real_photos_alone_train_a_detector_that_sees_the_fakes(trained):
    assert not math.isnan(trained.metrics["test_roc_auc"])
    assert not math.isnan(trained.metrics["val_auc"])
    table = pd.read_csv(trained.output_dir / "per_generator.csv")
    kinds = set(table["generator"]) - {"overall", "unknown"}
    prefix = trained.recipe.split("-")[0]
    assert kinds and all(kind.startswith(prefix) for kind in kinds), kinds
    fakes = table.loc[table["generator"].isin(kinds), "n_fake"].sum()
    assert fakes == table.loc[table["generator"] == "unknown", "n"].sum()  # one per real


def test_the_registered_model_loads_with_the_faces_settings_it_trained_with(trained, monkeypatch):
    monkeypatch.setenv("DEEPGUARD_CACHE", str(trained.root / "model-cache"))
    loaded = load_model("models:/deepguard@challenger", tracking_uri=trained.tracking_uri)
    assert loaded.image_size == 64 and loaded.version == "1"
    cropped = scoring_face_settings(None, loaded.metadata).enabled
    assert cropped is (trained.recipe == "sbi-faces")


def test_evaluate_scores_the_registered_model_as_it_was_trained(trained, monkeypatch):
    monkeypatch.setenv("DEEPGUARD_CACHE", str(trained.root / "model-cache"))
    kind = "sbi" if trained.recipe == "sbi-faces" else "upsampling"
    overrides = [
        "model=models:/deepguard@challenger",
        f"tracking_uri={trained.tracking_uri}",
        *(o for o in trained.data_overrides if not o.startswith(("fakes=", "faces="))),
        f"fakes={kind}",  # faces: not given, so the model's recorded settings
        "robustness=false",
    ]
    cfg = compose_config(CONF_DIR, "evaluate", overrides, trained.root, trained.root / "eval")
    try:
        result = run_evaluation(cfg)
    finally:
        forget_hydra()
    # The same test images, the same crops and the same (held-out: fixed) fakes as the
    # training run's own test: the same scores.
    assert result["metrics"]["roc_auc"] == pytest.approx(trained.metrics["test_roc_auc"])
    assert result["metrics"]["n_samples"] == trained.metrics["test_n_samples"]
