"""Every conf/backbone, trained from scratch on the default synthetic data, learns.

`make sweep` once ended with MobileNetV3-Small at validation ROC AUC 0.500: a constant answer,
because its BatchNorm moving statistics (momentum 0.999) had barely moved from their initial
values after a small run's steps. Each backbone here trains with the default recipe
(conf/train.yaml: Adam at 1e-3, warm-up cosine, 5 epochs; the default synthetic set, 400 + 400
images at the default difficulty) and must answer better than chance on validation. A run
ends after the first epoch whose validation pass shows that (tests/helpers/learning.py): the
later epochs cannot change the answer, and a backbone that never learns trains all five. The
models are the session's zoo (tests/helpers/zoo.py): the app's registry-driven test opens
the same ones, so each backbone is trained once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.learning import LEARNED_AUC
from tests.helpers.zoo import ZooEntry, backbone_group

BACKBONE_DIR = Path(__file__).resolve().parents[2] / "conf" / "backbone"
BACKBONES = sorted(path.stem for path in BACKBONE_DIR.glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "backbone",
    # In the pytest-xdist worker of the app test that opens the same model (one training).
    [pytest.param(name, marks=pytest.mark.xdist_group(backbone_group(name))) for name in BACKBONES],
)
def test_backbone_learns_from_scratch_on_the_default_data(backbone, model_zoo):
    entry = ZooEntry("backbone", backbone)
    metrics = model_zoo.train(entry)
    cfg = model_zoo.configs[entry]
    assert cfg.backbone.weights is None and cfg.trainer.max_epochs == 5  # the documented run
    assert cfg.data.synthetic.n_per_class == 400  # the default data
    assert metrics["val_auc"] > LEARNED_AUC, (
        f"{backbone} trained from scratch reached validation ROC AUC {metrics['val_auc']:.3f} "
        f"in {cfg.trainer.max_epochs} epochs; a model that learned scores above {LEARNED_AUC} "
        "(a constant answer scores 0.5)"
    )
