"""Every file in conf/backbone builds, predicts, and survives a .keras round trip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

import deepguard.models  # noqa: F401  (registers BackbonePreprocessing for load_model)
from deepguard.errors import ConfigError

BACKBONE_DIR = Path(__file__).resolve().parents[2] / "conf" / "backbone"
BACKBONE_FILES = sorted(BACKBONE_DIR.glob("*.yaml"))
# Deep networks whose build + first predict + load takes more than a few seconds on 2 cores.
SLOW = {"resnet50", "efficientnet_b0"}


def _param(path: Path):
    marks = [pytest.mark.slow] if path.stem in SLOW else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_the_required_backbones_exist():
    names = {path.stem for path in BACKBONE_FILES}
    required = {"xception", "vgg16", "vgg19", "resnet50", "efficientnet_b0"}
    assert required | {"mobilenet_v3_small", "small_cnn"} <= names


@pytest.mark.parametrize("path", BACKBONE_FILES, ids=lambda path: path.stem)
def test_every_key_is_commented(path):
    for line in path.read_text().splitlines():
        if re.match(r"^[A-Za-z_]\w*:", line):
            assert "  # " in line, f"{path.name}: key without a comment: {line!r}"


@pytest.mark.parametrize("path", [_param(p) for p in BACKBONE_FILES])
def test_backbone_builds_and_round_trips_through_a_keras_file(path, tmp_path, images):
    cfg = OmegaConf.load(path)
    assert cfg.name == path.stem
    assert cfg.weights is None, "shipped configs must build offline"
    size = max(int(cfg.min_image_size), 32)
    model = instantiate(cfg, image_size=size)

    assert model.inputs[0].name == "image"
    assert tuple(model.input_shape) == (None, size, size, 3)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].name == "p_fake"
    assert isinstance(model.get_layer("backbone"), keras.Model)

    x = images(size)
    before = model.predict(x, verbose=0)
    assert before.dtype == np.float32
    assert np.all((before >= 0) & (before <= 1))

    file = tmp_path / f"{path.stem}.keras"
    model.save(file)
    loaded = keras.saving.load_model(file, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-5, atol=1e-6)
    assert loaded.get_layer("preprocessing").mode == cfg.preprocessing


def test_an_image_size_below_the_minimum_names_backbone_and_fix():
    cfg = OmegaConf.load(BACKBONE_DIR / "xception.yaml")
    # Hydra wraps what the target raises in an InstantiationException; the cause is ours.
    with pytest.raises(Exception) as excinfo:
        instantiate(cfg, image_size=64)
    cause = excinfo.value.__cause__ or excinfo.value
    assert isinstance(cause, ConfigError)
    assert re.search(r"xception.*at least 71 px.*data\.image_size=71", str(cause))


def test_a_fresh_process_loads_a_saved_model_after_importing_deepguard_models(tmp_path, images):
    # What the API and the app do: a new interpreter, no custom_objects, safe mode.
    model = instantiate(OmegaConf.load(BACKBONE_DIR / "small_cnn.yaml"), image_size=32)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", images(32))
    np.save(tmp_path / "expected.npy", model.predict(images(32), verbose=0))
    script = (
        "import sys, numpy as np, keras, deepguard.models\n"
        "d = sys.argv[1]\n"
        "m = keras.saving.load_model(d + '/model.keras', safe_mode=True)\n"
        "got = m.predict(np.load(d + '/x.npy'), verbose=0)\n"
        "np.testing.assert_allclose(got, np.load(d + '/expected.npy'), rtol=1e-5, atol=1e-6)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
