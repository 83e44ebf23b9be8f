"""The one decode check every prepared image passes, with a reason when it fails.

Decoding goes through ``deepguard.images.decode_image``, the function the API and the app
use, so the prepared data and the served inputs obey the same rules; Pillow's verify and
load stand in only where that module is not installed.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path

# Formats the training pipeline decodes (tf.io.decode_image plus Pillow for BMP modes).
PIPELINE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")

# Reasons a file is quarantined, in the words the quarantine CSV uses.
REASONS = (
    "unreadable",  # the file cannot be opened (permissions, vanished)
    "empty",  # zero bytes
    "non-image",  # bytes of no image format, whatever the file name says
    "unsupported-format",  # an image format (or pixel mode) outside the allowed list
    "truncated",  # the image data stops early
    "corrupt",  # the bytes are damaged some other way
    "too-small",  # a side under min_side pixels
    "too-large",  # more bytes or pixels than allowed (decompression bomb guard)
    "bad-aspect-ratio",  # a strip: long side over 10x the short one
    "oversized-metadata",  # text chunks, EXIF or ICC data over 1 MiB
    "duplicate-label-conflict",  # the same bytes labelled real and fake (set by prepare)
)

# ImageInputError codes of deepguard.images -> quarantine reasons.
_CODE_REASONS = {
    "empty": "empty",
    "too_many_bytes": "too-large",
    "too_many_pixels": "too-large",
    "not_an_image": "non-image",
    "unsupported_format": "unsupported-format",
    "unsupported_mode": "unsupported-format",
    "too_small": "too-small",
    "bad_aspect_ratio": "bad-aspect-ratio",
    "metadata_too_large": "oversized-metadata",
    "corrupt_image": "corrupt",
}
# Pillow's own words for data that stops early.
_TRUNCATION_PHRASES = ("image file is truncated", "truncated file read", "unexpected end of file")


@dataclass(frozen=True)
class ImageCheck:
    """Outcome of ``check_image``: ``reason`` is None when the image is usable."""

    reason: str | None
    detail: str = ""
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None


def _damage_reason(message: str) -> str:
    lowered = message.lower()
    return "truncated" if any(p in lowered for p in _TRUNCATION_PHRASES) else "corrupt"


def _decode_shared(data: bytes, limits: dict, decode_image) -> tuple[int, int] | ImageCheck:
    from deepguard.errors import ImageInputError
    from deepguard.images import DecodeLimits

    try:
        pixels = decode_image(data, DecodeLimits(**limits))
    except ImageInputError as error:
        reason = _CODE_REASONS.get(error.code, error.code.replace("_", "-"))
        if reason == "corrupt":
            reason = _damage_reason(str(error))
        return ImageCheck(reason, str(error))
    return int(pixels.shape[1]), int(pixels.shape[0])


def _decode_pillow(data: bytes, limits: dict) -> tuple[int, int] | ImageCheck:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in limits["allowed_formats"]:
                return ImageCheck("unsupported-format", f"{image.format} is not allowed")
            if image.width * image.height > limits["max_pixels"]:
                return ImageCheck(
                    "too-large",
                    f"{image.width}x{image.height} is over {limits['max_pixels']} pixels",
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
        return ImageCheck(_damage_reason(str(error)), f"{type(error).__name__}: {error}")


def _format(data: bytes) -> str | None:
    """The container format from the header (JPEG, PNG, ...), without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def check_image(
    path: str | Path,
    min_side: int = 32,
    max_pixels: int = 40_000_000,
    max_bytes: int = 100 * 2**20,
    formats: tuple[str, ...] = PIPELINE_FORMATS,
) -> ImageCheck:
    """Read, hash and fully decode one image file; say why it is unusable, if it is.

    Args:
        path: the image file.
        min_side: images with a side shorter than this (pixels) are ``too-small``.
        max_pixels: images with more pixels than this are ``too-large``.
        max_bytes: files larger than this (bytes) are ``too-large``.
        formats: accepted formats, as Pillow names them.

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
    if len(data) > max_bytes:
        return ImageCheck("too-large", f"{len(data)} bytes is over {max_bytes}", sha256)
    limits = {
        "max_bytes": max_bytes,
        "max_pixels": max_pixels,
        "min_side": min_side,
        "allowed_formats": tuple(formats),
    }
    try:
        from deepguard.images import decode_image
    except ImportError:
        decoded = _decode_pillow(data, limits)
    else:
        decoded = _decode_shared(data, limits, decode_image)
    if isinstance(decoded, ImageCheck):
        return ImageCheck(decoded.reason, decoded.detail, sha256)
    width, height = decoded
    fmt = _format(data)
    if min(width, height) < min_side:
        detail = f"{width}x{height} is under min_side={min_side}"
        return ImageCheck("too-small", detail, sha256, width, height, fmt)
    return ImageCheck(None, "", sha256, width, height, fmt)
