"""The NPR backbone: its residual layer, odd sizes, precision, and whole training runs.

A killed NPR run resuming from its checkpoint (a fresh process loads the residual layer) is
tests/training/test_train_end_to_end.py's resume test; NPR at an odd side in a sweep is
tests/training/test_sweep_end_to_end.py's 2x2 sweep.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from deepguard.errors import ConfigError
from deepguard.models import NeighbourPixelResidual, NPRResNet, build_detector
from deepguard.training import train
from tests.helpers.zoo import ZooEntry, backbone_group

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_NPR = [
    "backbone=npr",
    "data.image_size=32",
    "data.batch_size=8",
    "data.synthetic.n_per_class=32",
    "data.synthetic.image_size=32",
    "trainer.max_epochs=1",
]


def numpy_residual(x: np.ndarray) -> np.ndarray:
    """x - up(down(x)) for even sides: every 2x2 block minus its top-left pixel."""
    batch, height, width, channels = x.shape
    blocks = x.reshape(batch, height // 2, 2, width // 2, 2, channels)
    return (blocks - blocks[:, :, :1, :, :1, :]).reshape(x.shape)


def npr_detector(size: int) -> keras.Model:
    return build_detector(
        name="npr",
        application="deepguard.models.npr.NPRResNet",
        preprocessing="torch",
        image_size=size,
    )


def test_residual_matches_numpy_nearest_down_and_up_sampling(images):
    x = images(8, n=3)
    got = np.asarray(NeighbourPixelResidual(scale=0.5)(x))
    np.testing.assert_allclose(got, 0.5 * numpy_residual(x), atol=1e-4)
    assert np.all(got[:, ::2, ::2] == 0)  # the pixel each block is compared with


def test_an_odd_side_gives_a_zero_last_row_and_column(images):
    x = images(9, n=2)
    got = np.asarray(NeighbourPixelResidual()(x))
    assert got.shape == x.shape
    np.testing.assert_allclose(got[:, :8, :8], numpy_residual(x[:, :8, :8]), atol=1e-4)
    assert np.all(got[:, 8, ::2] == 0) and np.all(got[:, ::2, 8] == 0)
    np.testing.assert_allclose(got[:, 8, 1::2], x[:, 8, 1::2] - x[:, 8, 0:8:2], atol=1e-4)


def test_residual_computes_in_float32_under_mixed_precision(images):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = NeighbourPixelResidual()
    x = np.full((1, 4, 4, 3), 200.0, np.float32)
    x[0, 1, 1] += 0.25  # far below bfloat16's step of 1.0 near 200
    assert layer.compute_dtype == "float32"
    assert float(np.asarray(layer(x))[0, 1, 1, 0]) == pytest.approx(0.25)


def test_detector_builds_at_odd_sizes_and_its_feature_map_is_an_eighth(images):
    model = npr_detector(33)
    assert model.get_layer("backbone").output_shape == (None, 5, 5, 512)
    assert model.predict(images(33), verbose=0).shape == (2, 1)
    # NPR's network: the ResNet-50 stem and two stages, about 1.4 million weights.
    assert 1.4e6 < model.count_params() < 1.5e6


def test_wrong_weights_and_stages_name_the_fix():
    with pytest.raises(ConfigError, match="from scratch"):
        NPRResNet(weights="imagenet", input_shape=(32, 32, 3))
    with pytest.raises(ConfigError, match=r"stage_blocks.*\[3, 4\]"):
        NPRResNet(stage_blocks=[], input_shape=(32, 32, 3))
    with pytest.raises(ConfigError, match="odd"):
        NPRResNet(stem_kernel_size=4, input_shape=(32, 32, 3))


@pytest.mark.slow
@pytest.mark.xdist_group(backbone_group("npr"))  # the worker that trains the zoo's NPR
def test_a_trained_model_gives_the_same_probabilities_in_a_fresh_process(
    model_zoo, tmp_path, images
):
    # The loader of the API, the app, evaluate.py and predict.py, in a new interpreter that
    # never built a model: no custom_objects, safe mode, the residual layer registered. The
    # model is the NPR backbone's learning run (tests/models/test_backbones_learn.py), 32 px.
    entry = ZooEntry("backbone", "npr")
    model_zoo.train(entry)
    model_path = model_zoo.output_dirs[entry] / "model.keras"
    x = images(32, n=4, seed=3)
    expected = keras.saving.load_model(model_path, safe_mode=True).predict(x, verbose=0)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np\n"
        "from deepguard.tracking.loading import load_model\n"
        "loaded = load_model(sys.argv[1])\n"
        "assert loaded.model.get_layer('backbone').get_layer('npr').scale > 0\n"
        "np.save(sys.argv[3], loaded.model.predict(np.load(sys.argv[2]), verbose=0))\n"
    )
    got_path = tmp_path / "got.npy"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(model_path), str(tmp_path / "x.npy"), str(got_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.load(got_path), expected, rtol=1e-5, atol=1e-6)


def test_trains_under_mixed_bfloat16_with_finetune_set_and_nothing_frozen(compose_train):
    # From scratch, trainer.finetune has nothing to freeze: every weight trains from epoch 1.
    cfg = compose_train(
        *TINY_NPR,
        "logger=none",
        "trainer.precision=mixed_bfloat16",
        "trainer.finetune=1",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
    )
    metrics = train(cfg)
    assert 0.0 <= metrics["test_roc_auc"] <= 1.0
    history = pd.read_csv(Path(cfg.paths.output_dir) / "history.csv")
    assert len(history) == 2
    model = keras.saving.load_model(Path(cfg.paths.output_dir) / "model.keras", safe_mode=True)
    assert model.get_layer("backbone").get_layer("conv1_conv").compute_dtype == "bfloat16"
    backbone = model.get_layer("backbone")
    moving_statistics = [weight for weight in backbone.weights if "moving_" in weight.path]
    assert len(backbone.trainable_weights) == len(backbone.weights) - len(moving_statistics)
