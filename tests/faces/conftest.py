"""Real face files, a group photo made of them, and a counter of detector runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deepguard.faces.detector as detector_module
from deepguard.images import read_image

# faces-hard-dev files with one clear face each (checked by test_real_faces_are_found).
FACE_FILES = ("real/real_95.jpg", "fake/fake_100.jpg", "real/real_100.jpg", "fake/fake_428.jpg")


@pytest.fixture
def face_files(shared_data: Path) -> list[Path]:
    """Four 300x300 JPEG faces, two real and two StyleGAN2; skips without the shared data."""
    return [shared_data / "faces-hard-dev" / name for name in FACE_FILES]


@pytest.fixture
def group_photo(face_files) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Three of the faces, shrunk to 160 px, side by side on a grey 560x200 canvas, and the
    ``(x1, y1, x2, y2)`` of each pasted square."""
    canvas = np.full((200, 560, 3), 120, np.uint8)
    squares = []
    for index, path in enumerate(face_files[:3]):
        face = Image.fromarray(read_image(path)).resize((160, 160), Image.Resampling.BILINEAR)
        left = 20 + 180 * index
        canvas[20:180, left : left + 160] = np.asarray(face)
        squares.append((left, 20, left + 160, 180))
    return canvas, squares


@pytest.fixture
def detector_calls(monkeypatch) -> list[tuple[int, ...]]:
    """The shape of every image the MTCNN network runs on, in order (it still runs)."""
    calls: list[tuple[int, ...]] = []
    real_run = detector_module.run_mtcnn

    def counting_run(rgb):
        calls.append(rgb.shape)
        return real_run(rgb)

    monkeypatch.setattr(detector_module, "run_mtcnn", counting_run)
    return calls
