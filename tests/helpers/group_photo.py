"""A synthetic group photo made of real faces, and a photo with no face, for the API and app
tests of per-face answers.

Built once per process (MTCNN takes about a second per image on a busy 2-core machine, and
the detection cache is keyed by the file's bytes, which stay the same).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from deepguard.images import decode_image, read_image

# faces-hard-dev files with one clear face each (as tests/faces checks): real, fake, real.
GROUP_FACES = ("real/real_95.jpg", "fake/fake_100.jpg", "real/real_100.jpg")
FACE_SIDE = 160  # px of each pasted face: large enough for MTCNN at its defaults


@dataclass(frozen=True)
class GroupPhoto:
    """A PNG of faces side by side on a grey canvas.

    Attributes:
        png: the file's bytes.
        rgb: the decoded pixels, ``uint8 (200, 560, 3)``.
        squares: ``(x1, y1, x2, y2)`` of each pasted face, left to right.
    """

    png: bytes
    rgb: np.ndarray
    squares: tuple[tuple[int, int, int, int], ...]


@functools.cache
def group_photo(shared_data: Path) -> GroupPhoto:
    """Three faces-hard-dev faces shrunk to 160 px on a 560x200 canvas (2 real, 1 fake)."""
    canvas = np.full((200, 560, 3), 120, np.uint8)
    squares = []
    for index, name in enumerate(GROUP_FACES):
        face = read_image(shared_data / "faces-hard-dev" / name)
        small = Image.fromarray(face).resize((FACE_SIDE, FACE_SIDE), Image.Resampling.BILINEAR)
        left = 20 + 180 * index
        canvas[20 : 20 + FACE_SIDE, left : left + FACE_SIDE] = np.asarray(small)
        squares.append((left, 20, left + FACE_SIDE, 20 + FACE_SIDE))
    png = encode_png(canvas)
    return GroupPhoto(png, decode_image(png), tuple(squares))


@functools.cache
def faceless_photo() -> bytes:
    """A 240x180 PNG of soft colour gradients: an image, but no face."""
    y, x = np.mgrid[0:180, 0:240]
    rgb = np.stack([x * 255 / 239, y * 255 / 179, np.full_like(x, 90.0)], axis=-1)
    return encode_png(rgb.astype(np.uint8))


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()
