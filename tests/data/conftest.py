"""Tiny image files on disk for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def write_image(path: Path, seed: int, size: int = 24, fmt: str | None = None) -> Path:
    """A random-noise RGB image (distinct content per seed) in the format of its extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def fill(folder: Path, n: int, start: int, ext: str = ".png") -> list[Path]:
    return [write_image(folder / f"img_{start + i}{ext}", start + i) for i in range(n)]


@pytest.fixture
def make_image():
    """`write_image(path, seed, size=24, fmt=None)`: one random-noise image file."""
    return write_image


@pytest.fixture
def make_images():
    """`fill(folder, n, start, ext=".png")`: n distinct images named img_<start + i><ext>."""
    return fill


@pytest.fixture
def generic_root(tmp_path: Path) -> Path:
    """{real,fake}/ with 12 images per class in mixed formats and letter cases."""
    root = tmp_path / "generic"
    fill(root / "real", 6, 0, ".png")
    fill(root / "real" / "nested", 6, 100, ".JPG")
    fill(root / "fake", 6, 200, ".webp")
    fill(root / "fake", 6, 300, ".bmp")
    (root / "fake" / "notes.txt").write_text("not an image, ignored by extension")
    return root


@pytest.fixture
def shared_data() -> Path:
    """The research images beside the repository (absent for users: tests skip)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("no shared research data next to the repository")
    return SHARED_DATA
