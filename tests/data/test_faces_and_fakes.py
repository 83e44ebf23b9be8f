"""`DataModule` with face crops and synthesized fakes: detection once, each file's crop in the
loader, files without a face, virtual fake records and the landmarks SBI draws its mask from.

Detections are stored in a real cache folder beforehand, so no detector runs here (the
`detector_calls` fixture checks it); the end-to-end tests run MTCNN on real faces.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deepguard.faces.detector as detector_module
from deepguard.data import DataModule
from deepguard.errors import DataError
from deepguard.faces import DetectionCache, Face, FaceSettings, crop_face
from deepguard.fakes import FakeSynthesizer, SelfBlender
from deepguard.images import read_region, to_model_input
from tests.faces.helpers import smooth_texture, upright_face

SIZE = 64
FACE = upright_face((70.0, 70.0), side=80.0)  # the stored face of every file but one


@pytest.fixture
def detector_calls(monkeypatch) -> list[tuple[int, ...]]:
    """The shape of every image the MTCNN network is asked to run on."""
    calls: list[tuple[int, ...]] = []
    real_run = detector_module.run_mtcnn
    monkeypatch.setattr(
        detector_module, "run_mtcnn", lambda rgb: calls.append(rgb.shape) or real_run(rgb)
    )
    return calls


def face_settings(tmp_path: Path, **changes) -> FaceSettings:
    return FaceSettings(enabled=True, cache_dir=str(tmp_path / "cache"), **changes)


def store(settings: FaceSettings, path: Path, faces: list[Face]) -> None:
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    DetectionCache(settings.cache_dir, settings).store(sha256, faces)


def face_folder(tmp_path: Path, settings: FaceSettings, faceless: str = "real_1.png") -> Path:
    """A manifest of 140 px textures, 2 real and 2 fake per split, each with a stored face
    except `faceless` (stored as having none)."""
    rows = []
    for split_index, split in enumerate(["train", "val", "test"]):
        for label in (0, 1):
            for index in range(2):
                name = f"{['real', 'fake'][label]}_{split_index * 2 + index}.png"
                path = tmp_path / "images" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(smooth_texture(140, seed=len(rows))).save(path)
                store(settings, path, [] if name == faceless else [FACE])
                rows.append((f"images/{name}", label, split))
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(manifest, index=False)
    return manifest


def loader_images(data: DataModule, split: str) -> dict[str, np.ndarray]:
    """File name -> the model input the loader gives for it."""
    records = data.split_records(split)
    images = np.concatenate([batch.numpy() for batch, _ in data.records_dataset(records)])
    names = records["path"].map(lambda path: Path(path).name)
    return dict(zip(names, images, strict=True))


@pytest.mark.parametrize("on_missing", ["skip", "whole"])
def test_the_loader_feeds_each_files_stored_face_crop(tmp_path, on_missing, detector_calls):
    settings = face_settings(tmp_path, on_missing=on_missing)
    manifest = face_folder(tmp_path, settings)
    data = DataModule(manifest=manifest, image_size=SIZE, batch_size=3, faces=settings).setup()
    images = {}
    for split in ("train", "val", "test"):
        images |= loader_images(data, split)
    for name, image in images.items():
        rgb = read_region(tmp_path / "images" / name)
        region = rgb if name == "real_1.png" else crop_face(rgb, FACE, settings)
        assert np.abs(image - to_model_input(region, SIZE)).max() <= 1.0, name
    listed = data.quarantine
    if on_missing == "skip":
        assert "real_1.png" not in images
        assert listed["reason"].tolist() == ["no-face"] and "faces.on_missing" in listed.iloc[0, 2]
        assert data.summary()["no_face"] == 1
    else:
        assert "real_1.png" in images and listed.empty
    assert detector_calls == []  # every file's face came from the cache


def sbi_only(splits=("train", "val", "test"), fresh: bool = True) -> FakeSynthesizer:
    return FakeSynthesizer(
        {"sbi": SelfBlender()}, {"sbi": 1.0}, ratio=1.0, splits=splits, seed=3,
        fresh_each_epoch=fresh,
    )  # fmt: skip


def real_only_folder(tmp_path: Path, settings: FaceSettings | None, n: int = 4) -> Path:
    rows = []
    for split in ("train", "val", "test"):
        for index in range(n):
            path = tmp_path / "reals" / f"{split}_{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(smooth_texture(140, seed=100 + len(rows))).save(path)
            if settings is not None:
                store(settings, path, [FACE])
            rows.append((f"reals/{path.name}", 0, split))
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(manifest, index=False)
    return manifest


def test_sbi_fakes_blend_inside_the_face_the_crop_holds(tmp_path):
    # margin 1.5: the crop is 4 face boxes wide, so the face is the middle quarter of the
    # model input; a face ellipse (without landmarks) would reach beyond it.
    settings = face_settings(tmp_path, margin=1.5)
    manifest = real_only_folder(tmp_path, settings)
    data = DataModule(manifest=manifest, image_size=SIZE, faces=settings, fakes=sbi_only())
    records = data.setup().split_records("val")
    assert records["generator"].tolist() == ["unknown"] * 4 + ["sbi"] * 4
    images = np.concatenate([batch.numpy() for batch, _ in data.records_dataset(records)])
    box = np.asarray(FACE.box) - [70 - 160, 70 - 160, 70 - 160, 70 - 160]  # in the 320 px crop
    left, top, right, bottom = box * SIZE / 320
    source = {path: index for index, path in enumerate(records["path"][:4])}
    for fake, path in zip(images[4:], records["path"][4:], strict=True):
        real = images[source[path]]
        changed = np.argwhere(np.abs(fake - real).max(axis=-1) > 1e-3)
        assert len(changed) > 0
        tolerance = 4  # pixels: the mask's blurred, dilated boundary
        assert changed[:, 0].min() >= top - tolerance and changed[:, 0].max() <= bottom + tolerance
        assert changed[:, 1].min() >= left - tolerance and changed[:, 1].max() <= right + tolerance


def test_held_out_fakes_repeat_and_training_fakes_change_every_epoch(tmp_path):
    data = DataModule(
        manifest=real_only_folder(tmp_path, None), image_size=32, batch_size=16, fakes=sbi_only()
    ).setup()

    def fakes_of(split: str, training: bool) -> list[np.ndarray]:
        records = data.split_records(split)
        batches = data.records_dataset(records[records["synthetic"]], training=training)
        # Two passes (epochs) over the same dataset; training shuffles, so compare sorted.
        return [np.sort(np.concatenate([b.numpy() for b, _ in batches]).ravel()) for _ in "12"]

    first, second = fakes_of("val", training=False)
    np.testing.assert_array_equal(first, second)
    first, second = fakes_of("train", training=True)
    assert not np.allclose(first, second)  # a new fake of each real every epoch


def test_fakes_join_the_records_after_the_real_rows(tmp_path):
    data = DataModule(
        manifest=real_only_folder(tmp_path, None, n=3), image_size=32, fakes=sbi_only(["train"])
    ).setup()
    train = data.split_records("train")
    assert train["synthetic"].tolist() == [False] * 3 + [True] * 3
    assert set(train.loc[train["synthetic"], "path"]) == set(train.loc[~train["synthetic"], "path"])
    assert data.class_counts("train") == {0: 3, 1: 3}
    assert data.summary()["synthesized_fakes"] == 3
    assert data.summary()["per_generator"]["train"]["sbi"] == {"fake": 3}


def test_faces_and_a_region_are_not_both_accepted(tmp_path):
    with pytest.raises(DataError, match="one"):
        DataModule(root=tmp_path, faces={"enabled": True}, region=lambda rgb: rgb[:10])


def test_faces_settings_are_checked_when_the_module_is_built(tmp_path):
    with pytest.raises(ValueError, match="on_missing"):
        DataModule(root=tmp_path, faces=dataclasses.asdict(FaceSettings()) | {"on_missing": "x"})
