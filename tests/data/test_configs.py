"""Every file in conf/data and conf/augmentation builds its object."""

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deepguard.data import Augmenter, DataModule
from deepguard.training.train import build_datamodule

CONF = Path(__file__).resolve().parents[2] / "conf"
DATA_CONFIGS = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))
AUGMENTATION_CONFIGS = sorted(p.stem for p in (CONF / "augmentation").glob("*.yaml"))
# Values a user must give on the command line for some data configs (`???` in the YAML).
REQUIRED = {"root": "{tmp}/images", "manifest": "{tmp}/images/manifest.csv"}


def compose(tmp_path: Path, data: str, augmentation: str = "none"):
    cfg = OmegaConf.create(
        {
            "seed": 7,
            "paths": {"data_dir": str(tmp_path / "data")},
            "data": OmegaConf.load(CONF / "data" / f"{data}.yaml"),
            "augmentation": OmegaConf.load(CONF / "augmentation" / f"{augmentation}.yaml"),
        }
    )
    for key, value in REQUIRED.items():
        if OmegaConf.is_missing(cfg.data, key):
            cfg.data[key] = value.format(tmp=tmp_path)
    return cfg


def test_the_groups_hold_the_expected_choices():
    assert {"synthetic", "folder", "genimage", "faces140k", "manifest"} <= set(DATA_CONFIGS)
    assert {"none", "light", "standard", "robust"} <= set(AUGMENTATION_CONFIGS)


@pytest.mark.parametrize("name", DATA_CONFIGS)
def test_every_data_config_instantiates(tmp_path, name):
    cfg = compose(tmp_path, name, "light")
    data = build_datamodule(cfg)  # as train() builds it: the augmentation group applied
    assert isinstance(data, DataModule)
    assert data.seed == 7
    assert isinstance(data.augmentation, Augmenter) and data.augmentation.flip_prob == 0.5


@pytest.mark.parametrize("name", AUGMENTATION_CONFIGS)
def test_every_augmentation_config_instantiates(tmp_path, name):
    augment = instantiate(compose(tmp_path, "synthetic", name).augmentation)
    assert isinstance(augment, Augmenter)
    assert augment.is_identity == (name == "none")


def test_robust_is_the_cnndetection_recipe(tmp_path):
    augment = instantiate(compose(tmp_path, "synthetic", "robust").augmentation)
    assert (augment.blur_prob, augment.blur_sigma) == (0.5, (0.0, 3.0))
    assert (augment.jpeg_prob, augment.jpeg_quality) == (0.5, (30, 100))


def test_synthetic_config_generates_at_the_model_input_size(tmp_path):
    cfg = compose(tmp_path, "synthetic")
    cfg.data.image_size = 32
    cfg.data.synthetic.n_per_class = 20
    data = instantiate(cfg.data).setup()
    assert data.root == tmp_path / "data" / "synthetic" / "32px"
    assert len(data.records) == 40
    assert data.synthetic["image_size"] == 32


def test_a_data_config_without_the_augmentation_group_still_builds(tmp_path):
    cfg = compose(tmp_path, "folder")
    del cfg["augmentation"]
    assert instantiate(cfg.data).augmentation is None
