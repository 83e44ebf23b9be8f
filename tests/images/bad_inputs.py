"""Every row of the bad-input table, generated in memory with Pillow (shared by the images
and serving tests; the serving conftest loads this file by path)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin


@dataclass(frozen=True)
class BadInput:
    name: str
    data: bytes
    status: int
    code: str
    filename: str = "upload.jpg"


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def noise_image(width: int = 96, height: int = 96, seed: int = 0) -> Image.Image:
    """Random pixels: they compress badly, so cutting a file in half cuts the pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def face_like_image(width: int = 300, height: int = 300) -> Image.Image:
    """A smooth asymmetric picture (a gradient plus a disc), so rotations are visible."""
    y, x = np.mgrid[0:height, 0:width]
    red = (255 * x / max(width - 1, 1)).astype(np.uint8)
    green = (255 * y / max(height - 1, 1)).astype(np.uint8)
    disc = ((x - width * 0.3) ** 2 + (y - height * 0.35) ** 2) < (min(width, height) * 0.15) ** 2
    blue = np.where(disc, 230, 40).astype(np.uint8)
    return Image.fromarray(np.stack([red, green, blue], axis=-1))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A PNG header declaring width x height RGB pixels, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + _png_chunk(b"IEND", b"")
    )


def text_after_pixels(png: bytes) -> bytes:
    """Move a PNG's tEXt chunks after its IDAT chunks (read only while decoding)."""
    chunks, position = [], 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        chunks.append(png[position : position + 12 + length])
        position += 12 + length
    text = [chunk for chunk in chunks if chunk[4:8] == b"tEXt"]
    rest = [chunk for chunk in chunks if chunk[4:8] != b"tEXt"]
    return png[:8] + b"".join(rest[:-1] + text + rest[-1:])


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("face.jpg", b"not really")
    return buffer.getvalue()


def psd_header() -> bytes:
    # "8BPS", version 1, 6 reserved bytes, 3 channels, 64x64, 8 bits, RGB mode
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 64, 64, 8, 3) + b"\x00" * 64


def fits_header() -> bytes:
    cards = ["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 0", "END"]
    return "".join(card.ljust(80) for card in cards).ljust(2880).encode("ascii")


def bad_inputs() -> list[BadInput]:
    """(name, bytes, expected status, expected code) for each row of the bad-input table."""
    jpeg = encode(noise_image(), "JPEG", quality=90)
    png = encode(noise_image(), "PNG")
    big_text = PngImagePlugin.PngInfo()
    big_text.add_text("comment", "x" * (2 * 1024 * 1024))
    text_bomb = PngImagePlugin.PngInfo()
    text_bomb.add_text("comment", "x" * (32 * 1024 * 1024), zip=True)
    small = face_like_image(64, 64)
    pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    meta, pixels = "metadata_too_large", "too_many_pixels"
    return [
        BadInput("empty", b"", 400, "empty"),
        BadInput("text named .jpg", b"hello, this is a text file\n" * 10, 415, "not_an_image"),
        BadInput("pdf named .jpg", pdf, 415, "unsupported_format"),
        BadInput("zip named .jpg", zip_bytes(), 415, "unsupported_format"),
        BadInput("truncated jpeg", jpeg[: len(jpeg) // 2], 400, "corrupt_image"),
        BadInput("truncated png", png[: len(png) // 2], 400, "corrupt_image", "upload.png"),
        BadInput("png cut inside header", png[:20], 400, "corrupt_image", "upload.png"),
        BadInput("20000x20000 png bomb", png_bomb(), 413, pixels, "bomb.png"),
        BadInput("5000x5000 png bomb", png_bomb(5000, 5000), 413, pixels, "bomb.png"),
        BadInput("png 2 MB text chunk", encode(small, "PNG", pnginfo=big_text), 400, meta),
        BadInput(
            "png text chunk after pixels",
            text_after_pixels(encode(small, "PNG", pnginfo=big_text)),
            400,
            meta,
        ),
        BadInput("png zTXt bomb", encode(small, "PNG", pnginfo=text_bomb), 400, meta),
        BadInput("1x1", encode(Image.new("RGB", (1, 1)), "PNG"), 422, "too_small"),
        BadInput("1x100000", encode(Image.new("L", (100000, 1)), "PNG"), 422, "too_small"),
        BadInput("20x400 strip", encode(Image.new("L", (20, 400)), "PNG"), 422, "bad_aspect_ratio"),
        BadInput("eps", encode(small, "EPS"), 415, "unsupported_format", "upload.eps"),
        BadInput("psd", psd_header(), 415, "unsupported_format", "upload.psd"),
        BadInput("fits", fits_header(), 415, "unsupported_format", "upload.fits"),
        BadInput("ico", encode(small, "ICO"), 415, "unsupported_format", "upload.ico"),
    ]
