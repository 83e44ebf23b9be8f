"""The one decode check every prepared image passes, with a reason when it fails."""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path

# Reasons a file is quarantined, in the words the quarantine CSV uses.
REASONS = (
    "unreadable",  # the file cannot be opened (permissions, vanished)
    "empty",  # zero bytes
    "non-image",  # bytes of another kind, or a format outside the allow-list
    "truncated",  # the image data stops early
    "corrupt",  # the bytes are damaged some other way
    "too-small",  # a side under min_side pixels
    "too-large",  # more pixels than max_pixels (decompression bomb guard)
)


@dataclass(frozen=True)
class ImageCheck:
    """Outcome of ``check_image``: ``reason`` is None when the image is usable."""

    reason: str | None
    detail: str = ""
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None


def _reason_from_image_error(error) -> str:
    """Map a ``deepguard.images.ImageInputError`` (HTTP-style status) to a quarantine reason."""
    code = str(getattr(error, "code", "")).lower()
    if error.status == 415:
        return "non-image"
    if error.status == 413:
        return "too-large"
    if error.status == 422:
        return "too-small"
    return "truncated" if "truncat" in code or "truncat" in str(error).lower() else "corrupt"


def _decode(data: bytes, max_pixels: int) -> tuple[int, int] | ImageCheck:
    """Decode fully; return ``(width, height)`` or a failed ``ImageCheck``.

    Uses ``deepguard.images.decode_image`` (shared with the API and the app) when installed,
    else Pillow's verify then load.
    """
    try:
        from deepguard.images import decode_image
    except ImportError:
        decode_image = None
    if decode_image is not None:
        from deepguard.errors import ImageInputError

        try:
            pixels = decode_image(data)
        except ImageInputError as error:
            return ImageCheck(_reason_from_image_error(error), str(error))
        return int(pixels.shape[1]), int(pixels.shape[0])

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                return ImageCheck(
                    "too-large", f"{image.width}x{image.height} is over {max_pixels} pixels"
                )
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.width, image.height
    except UnidentifiedImageError as error:
        return ImageCheck("non-image", str(error))
    except Image.DecompressionBombError as error:
        return ImageCheck("too-large", str(error))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        reason = "truncated" if "truncat" in str(error).lower() else "corrupt"
        return ImageCheck(reason, f"{type(error).__name__}: {error}")


def _format(data: bytes) -> str | None:
    """The container format from the header (JPEG, PNG, ...), without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def check_image(path: str | Path, min_side: int = 32, max_pixels: int = 40_000_000) -> ImageCheck:
    """Read, hash and fully decode one image file; say why it is unusable, if it is.

    Args:
        path: the image file.
        min_side: images with a side shorter than this (pixels) are ``too-small``.
        max_pixels: images with more pixels than this are ``too-large``.

    Returns:
        An ``ImageCheck`` with the sha256 of the bytes, the size and the format.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return ImageCheck("unreadable", f"{type(error).__name__}: {error}")
    sha256 = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageCheck("empty", "0 bytes", sha256)
    decoded = _decode(data, max_pixels)
    if isinstance(decoded, ImageCheck):
        return ImageCheck(decoded.reason, decoded.detail, sha256)
    width, height = decoded
    fmt = _format(data)
    if min(width, height) < min_side:
        return ImageCheck(
            "too-small",
            f"{width}x{height} is under min_side={min_side}",
            sha256,
            width,
            height,
            fmt,
        )
    return ImageCheck(None, "", sha256, width, height, fmt)
