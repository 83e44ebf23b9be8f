"""The `faces` config group: every choice composes into valid settings; bad values fail early."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from deepguard.config.compose import compose_config
from deepguard.errors import ConfigError
from deepguard.faces import FaceSettings

CONF = Path(__file__).resolve().parents[2] / "conf"


def choices(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("choice", choices("faces"))
def test_every_faces_choice_gives_valid_settings(compose_train, choice):
    cfg = compose_train(f"faces={choice}")
    settings = FaceSettings.from_config(cfg.faces)
    assert settings.enabled is (choice != "none")


def test_faces_are_off_in_training_and_as_trained_when_scoring_by_default(tmp_path):
    from hydra.core.hydra_config import HydraConfig

    cfg = compose_config(CONF, "train", [], tmp_path)
    assert FaceSettings.from_config(cfg.faces).enabled is False
    scoring = [("evaluate", ["model=m.keras"]), ("predict", ["model=m.keras", "inputs=x"])]
    for config_name, required in scoring:
        cfg = compose_config(CONF, config_name, required, tmp_path)
        assert cfg.get("faces") is None  # null: the model's recorded settings
        assert cfg.faces_cache == str(tmp_path / "data" / "faces-cache")
    cfg = compose_config(CONF, "predict", ["model=m.keras", "inputs=x", "faces=crop"], tmp_path)
    assert FaceSettings.from_config(cfg.faces).cache_dir == str(tmp_path / "data" / "faces-cache")
    HydraConfig.instance().cfg = None


def test_a_misspelt_faces_key_fails_at_composition(compose_train):
    with pytest.raises(Exception, match="margn"):
        compose_train("faces=crop", "faces.margn=0.4")


def test_a_wrong_type_fails_at_composition(compose_train):
    with pytest.raises(Exception, match="min_size"):
        compose_train("faces=crop", "faces.min_size=big")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"on_missing": "drop"}, r"on_missing must be one of \['skip', 'whole'\]"),
        ({"pick": "first"}, r"pick must be one of \['largest', 'confident'\]"),
        ({"margin": -0.1}, r"margin must be within"),
        ({"min_confidence": 1.5}, r"min_confidence must be within"),
        ({"size": 4}, r"size must be within"),
        ({"colour": "red"}, r"unknown faces settings \['colour'\]; known: \['align'"),
    ],
)
def test_bad_values_say_what_is_allowed(values, message):
    with pytest.raises(ConfigError, match=message):
        FaceSettings.from_config(values)


def test_only_detector_settings_change_the_cache_key():
    base = FaceSettings(enabled=True)
    after_detection = dataclasses.replace(
        base, margin=0.5, min_confidence=0.5, min_size=80, pick="confident", size=64
    )
    assert after_detection.detector_key() == base.detector_key()
    assert dataclasses.replace(base, max_side=512).detector_key() != base.detector_key()
