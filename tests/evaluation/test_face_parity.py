"""One face crop everywhere: a file gives the same model input through the training loader,
`predict` and `evaluate`, which crop as the model was trained (the faces settings in the
``config.yaml`` beside its file) unless ``faces=`` says otherwise.

Detections are stored in the detection cache first, so every path reads the same face and
no detector runs; a file stored without a face follows ``on_missing``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import tiny_detector
from omegaconf import OmegaConf
from PIL import Image

import deepguard.tracking.loading as loading
from deepguard.config.compose import compose_config
from deepguard.data import DataModule
from deepguard.evaluation import predict_files, run_evaluation
from deepguard.faces import DetectionCache, Face, FaceSettings
from deepguard.images import read_region, to_model_input
from deepguard.tracking.loading import LoadedModel, load_model
from tests.faces.helpers import smooth_texture

CONF = Path(__file__).resolve().parents[2] / "conf"
SIZE = 32
# What the model "was trained with": aligned crops, a wider margin than the default, and
# whole images for files without a face.
TRAINED = FaceSettings(enabled=True, margin=0.4, min_size=20, on_missing="whole")
FACELESS = "val_2.png"


def tilted_face(index: int) -> Face:
    """A face near the image centre whose eye line turns by a few degrees (aligned crops
    resample), a little different in every file."""
    x, y, angle = 70.0 + 3 * index, 66.0 - 2 * index, math.radians(4 + 3 * index)
    cos, sin = math.cos(angle), math.sin(angle)
    offsets = ((-18, -15), (18, -15), (0, 0), (-14, 15), (14, 15))
    points = tuple((x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in offsets)
    return Face(box=(x - 35, y - 35, x + 35, y + 35), confidence=0.99, landmarks=points)


@pytest.fixture
def face_dataset(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A manifest (train, val, test) of textures whose faces sit in the cache under
    ``<root>/data/faces-cache``, the folder a scoring command composed at `tmp_path` uses."""
    cache = DetectionCache(tmp_path / "data" / "faces-cache", TRAINED)
    rows = []
    for split in ("train", "val", "test"):
        for index in range(4):
            name = f"{split}_{index}.png"
            Image.fromarray(smooth_texture(150, seed=len(rows))).save(tmp_path / name)
            faces = [] if name == FACELESS else [tilted_face(index)]
            cache.store(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest(), faces)
            rows.append((name, index % 2, split))
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(manifest, index=False)
    return manifest, [tmp_path / name for name, _, split in rows if split == "val"]


@pytest.fixture
def trained_model(tmp_path: Path) -> Path:
    """A `.keras` file in a run folder whose ``config.yaml`` records its faces settings."""
    run = tmp_path / "run"
    run.mkdir()
    tiny_detector(SIZE).save(run / "model.keras")
    recorded = dataclasses.asdict(TRAINED) | {"cache_dir": "/elsewhere/faces-cache"}
    OmegaConf.save(OmegaConf.create({"seed": 0, "faces": recorded}), run / "config.yaml")
    return run / "model.keras"


@pytest.fixture(autouse=True)
def no_hydra_context_left():
    yield
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().cfg = None  # composing evaluate.yaml set it


class RecordingModel:
    """A Keras model that keeps every batch it scores (the model inputs)."""

    def __init__(self, model):
        self.model, self.input_shape, self.batches = model, model.input_shape, []

    def predict_on_batch(self, batch):
        self.batches.append(np.array(batch, dtype=np.float32))
        return self.model.predict_on_batch(batch)

    def inputs(self) -> np.ndarray:
        seen, self.batches = np.concatenate(self.batches), []
        return seen


def recording(model_path: Path) -> LoadedModel:
    loaded = load_model(model_path)
    return dataclasses.replace(loaded, model=RecordingModel(loaded.model))


def through_the_loader(manifest: Path, files: list[Path], cache: Path) -> np.ndarray:
    settings = dataclasses.replace(TRAINED, cache_dir=str(cache))
    data = DataModule(manifest=manifest, image_size=SIZE, batch_size=3, faces=settings).setup()
    order = [Path(p).name for p in data.split_records("val")["path"]]
    images = np.concatenate([batch.numpy() for batch, _ in data.val_dataset()])
    return images[[order.index(f.name) for f in files]]


def through_evaluate(model_path, manifest, files, root: Path, monkeypatch, *faces) -> np.ndarray:
    recorder = recording(model_path)
    monkeypatch.setattr(loading, "load_model", lambda uri, tracking_uri=None: recorder)
    overrides = [f"model={model_path}", "data=manifest", f"data.manifest={manifest}", *faces]
    cfg = compose_config(CONF, "evaluate", [*overrides, "split=val", "robustness=false"], root)
    run_evaluation(cfg)
    scored = pd.read_csv(Path(cfg.out_dir) / "predictions.csv")
    order = [Path(p).name for p in scored["path"]]
    return recorder.model.inputs()[[order.index(f.name) for f in files]]


def test_a_file_gives_the_same_face_crop_to_training_predict_and_evaluate(
    face_dataset, trained_model, tmp_path, monkeypatch
):
    manifest, files = face_dataset
    cache = tmp_path / "data" / "faces-cache"
    assert load_model(trained_model).metadata["faces"]["margin"] == TRAINED.margin
    loader = through_the_loader(manifest, files, cache)
    recorder = recording(trained_model)
    table = predict_files(recorder, files, batch_size=3, faces_cache=cache)
    assert (table["error"] == "").all(), table["error"].tolist()
    predicted = recorder.model.inputs()
    evaluated = through_evaluate(trained_model, manifest, files, tmp_path, monkeypatch)
    for index, path in enumerate(files):
        whole = to_model_input(read_region(path), SIZE)
        assert np.abs(predicted[index] - loader[index]).max() <= 1.0, path.name
        assert np.abs(evaluated[index] - loader[index]).max() <= 1.0, path.name
        if path.name == FACELESS:  # on_missing: whole
            assert np.abs(loader[index] - whole).max() <= 1.0
        else:  # a crop, not the whole picture
            assert np.abs(loader[index] - whole).mean() > 10


def test_faces_none_scores_whole_images_whatever_the_model_recorded(
    face_dataset, trained_model, tmp_path, monkeypatch
):
    manifest, files = face_dataset
    evaluated = through_evaluate(
        trained_model, manifest, files, tmp_path, monkeypatch, "faces=none"
    )
    recorder = recording(trained_model)
    predict_files(recorder, files, batch_size=3, faces={"enabled": False})
    predicted = recorder.model.inputs()
    for index, path in enumerate(files):
        whole = to_model_input(read_region(path), SIZE)
        assert np.abs(evaluated[index] - whole).max() <= 1.0
        assert np.abs(predicted[index] - whole).max() <= 1.0


def test_predict_lists_a_file_without_a_face_when_the_model_skips_them(
    face_dataset, trained_model, tmp_path
):
    _, files = face_dataset
    recorder = recording(trained_model)
    recorder.metadata["faces"]["on_missing"] = "skip"
    table = predict_files(
        recorder, files, batch_size=3, faces_cache=tmp_path / "data" / "faces-cache"
    )
    refused = table.set_index(table["path"].map(lambda p: Path(p).name))["error"]
    assert "no face" in refused[FACELESS]
    assert (refused.drop(FACELESS) == "").all()
