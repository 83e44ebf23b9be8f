"""Image files, good and bad, for the prepare tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def image_bytes(seed: int, size=(48, 40), fmt="PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def corrupt_png() -> bytes:
    data = bytearray(image_bytes(99))
    idat = data.find(b"IDAT")
    data[idat + 20 : idat + 30] = b"\xff" * 10  # damage the compressed pixels (CRC fails)
    return bytes(data)


# relative path -> (bytes, the reason the quarantine must give)
BAD_FILES = {
    "real/empty.png": (b"", "empty"),
    "real/notes.jpg": (b"these are words, not pixels\n" * 10, "non-image"),
    "real/layers.png": (b"8BPS" + b"\x00" * 60, "unsupported-format"),
    "fake/truncated.jpg": (image_bytes(7, (64, 64), "JPEG")[:400], "truncated"),
    "fake/corrupt.png": (corrupt_png(), "corrupt"),
    "fake/tiny.png": (image_bytes(8, (8, 8)), "too-small"),
}


def write_bad_files(root) -> None:
    for rel, (data, _) in BAD_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
