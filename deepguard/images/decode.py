"""Decode untrusted bytes into an RGB array, refusing what the bad-input table refuses.

The order of checks matters: byte count, then the header (format allow-list, pixel count,
side lengths, aspect ratio, metadata size), and only then the pixel data is decoded. A
20000x20000 PNG of a few kilobytes is refused from its header and never allocated.

| input                                             | status | code                  |
|---------------------------------------------------|--------|-----------------------|
| zero bytes                                        | 400    | empty                 |
| more than `max_bytes`                             | 413    | too_many_bytes        |
| not an image (text, PDF, ZIP ...), any file name  | 415    | not_an_image          |
| a format outside `allowed_formats` (EPS, PSD ...) | 415    | unsupported_format    |
| truncated or damaged JPEG/PNG/...                 | 400    | corrupt_image         |
| more than `max_pixels` (decompression bomb)       | 413    | too_many_pixels       |
| text metadata over `max_metadata_bytes`           | 400    | metadata_too_large    |
| a side under `min_side` (1x1)                     | 422    | too_small             |
| long side / short side over `max_aspect`          | 422    | bad_aspect_ratio      |
| a pixel mode with no RGB conversion (LAB)         | 415    | unsupported_mode      |
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from deepguard.errors import ImageInputError
from deepguard.images.formats import SUPPORTED_FORMATS

# Magic bytes, used only to word the message once Pillow has refused the bytes: they never
# make Pillow parse a format outside the allow-list.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "PSD"),
    (b"SIMPLE  =", "FITS"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x1f\x8b", "GZIP"),
)

# What Pillow raises on damaged data (it has no single error class for it).
_PILLOW_DATA_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


@dataclass(frozen=True)
class DecodeLimits:
    """What `decode_image` accepts.

    Args:
        max_bytes: largest encoded input, in bytes (default 20 MiB).
        max_pixels: largest width x height, read from the header before decoding
            (default 4096 x 4096, about 48 MiB once decoded to RGB).
        min_side: smallest width or height in pixels; smaller images answer 422.
        max_aspect: largest ratio of long side to short side; longer strips answer 422.
        allowed_formats: Pillow format names that may be opened; others answer 415.
        max_metadata_bytes: largest total of text metadata (PNG text chunks, comments,
            EXIF, ICC profile), in bytes.

    Example:
        >>> DecodeLimits(max_pixels=2048 * 2048, allowed_formats=("JPEG", "PNG"))
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    min_side: int = 16
    max_aspect: float = 10.0
    allowed_formats: tuple[str, ...] = SUPPORTED_FORMATS
    max_metadata_bytes: int = 1024 * 1024

    def __post_init__(self):
        formats = tuple(str(name).upper() for name in self.allowed_formats)
        unknown = sorted(set(formats) - set(SUPPORTED_FORMATS))
        if unknown or not formats:
            raise ValueError(
                f"allowed_formats {list(self.allowed_formats)} must be a non-empty subset of "
                f"{list(SUPPORTED_FORMATS)}; unknown: {unknown}"
            )
        object.__setattr__(self, "allowed_formats", formats)
        for name in ("max_bytes", "max_pixels", "min_side", "max_metadata_bytes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DecodeLimits.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_aspect < 1:
            raise ValueError(f"DecodeLimits.max_aspect must be >= 1, got {self.max_aspect}")


# What the files of a dataset may be (training loader, data scan, evaluate, spectra): they are
# the operator's own files, so only the ceilings that keep a decompression bomb out stay;
# small sides and long strips are the dataset's business (prepare has its own min_side).
DATASET_LIMITS = DecodeLimits(
    max_bytes=256 * 1024 * 1024,
    max_pixels=64_000_000,
    min_side=1,
    max_aspect=1e4,
    max_metadata_bytes=16 * 1024 * 1024,
)


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> np.ndarray:
    """Decode one image into a ``uint8 (H, W, 3)`` RGB array, or raise `ImageInputError`.

    EXIF orientation is applied, so a photo rotated by its tag and the same photo rotated in
    its pixels give identical arrays. Animations and multi-page TIFFs give their first frame.
    Every pixel mode is converted to RGB deterministically: alpha is composited on white,
    16-bit values are scaled to 8 bits (65535 -> 255), CMYK/L/1/P use Pillow's conversion.

    Args:
        data: the encoded bytes, as uploaded.
        limits: sizes and formats accepted.

    Raises:
        ImageInputError: with ``status`` 400, 413, 415 or 422 and a ``code`` (see the module
            table); the message says what was wrong and how to fix it.

    Example:
        >>> rgb = decode_image(open("face.jpg", "rb").read())
        >>> rgb.shape, rgb.dtype
        ((300, 300, 3), dtype('uint8'))
    """
    if not data:
        raise ImageInputError(
            "the image is empty (0 bytes); send the file's contents", status=400, code="empty"
        )
    if len(data) > limits.max_bytes:
        raise ImageInputError(
            f"the image is {len(data):,} bytes, more than the limit of {limits.max_bytes:,}; "
            "send a smaller or more compressed file",
            status=413,
            code="too_many_bytes",
        )
    image = _open(data, limits)
    with image:
        _check_header(image, limits)
        image = _load_first_frame(image)
        _check_metadata(image, limits)
        return np.asarray(_to_rgb(image), dtype=np.uint8)


def read_image(path: str | os.PathLike, limits: DecodeLimits = DecodeLimits()) -> np.ndarray:
    """`decode_image` for a file: refuses an oversize file before reading it.

    Raises:
        ImageInputError: as `decode_image`, its message starting with the path.
        OSError: the file cannot be read at all (missing, no permission).
    """
    path = Path(path)
    size = os.stat(path).st_size
    if size > limits.max_bytes:
        raise ImageInputError(
            f"{path}: the file is {size:,} bytes, more than the limit of {limits.max_bytes:,}; "
            "use a smaller file or raise max_bytes",
            status=413,
            code="too_many_bytes",
        )
    try:
        return decode_image(path.read_bytes(), limits)
    except ImageInputError as error:
        raise ImageInputError(f"{path}: {error}", status=error.status, code=error.code) from error


def _open(data: bytes, limits: DecodeLimits) -> Image.Image:
    """Read the header with only the allowed formats' parsers."""
    try:
        return Image.open(io.BytesIO(data), formats=limits.allowed_formats)
    except Image.DecompressionBombError as error:
        raise ImageInputError(
            f"the image header declares too many pixels ({error}); send an image of at most "
            f"{limits.max_pixels:,} pixels",
            status=413,
            code="too_many_pixels",
        ) from error
    except UnidentifiedImageError as error:
        raise _unidentified(data, limits) from error
    except _PILLOW_DATA_ERRORS as error:
        raise _data_error(error, _sniff(data) or "image") from error


def _sniff(data: bytes) -> str | None:
    """Name the format the first bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and data[6:10] == b"\x00\x00\x00\x00":
        return "BMP"
    if data[4:8] == b"ftyp":
        return "HEIF/AVIF/MP4"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _unidentified(data: bytes, limits: DecodeLimits) -> ImageInputError:
    allowed = ", ".join(limits.allowed_formats)
    announced = _sniff(data)
    if announced in limits.allowed_formats:
        # The magic bytes are right but no header could be parsed: cut short or damaged.
        return ImageInputError(
            f"the data starts like a {announced} file but its header cannot be read: it is "
            "truncated or damaged; send the complete file",
            status=400,
            code="corrupt_image",
        )
    if announced is not None:
        return ImageInputError(
            f"{announced} is not an accepted format; accepted: {allowed}; convert the file "
            "to one of them (PNG or JPEG work everywhere)",
            status=415,
            code="unsupported_format",
        )
    return ImageInputError(
        f"the data is not an image in any accepted format ({allowed}), whatever the file name "
        "says; send the image file itself",
        status=415,
        code="not_an_image",
    )


def _data_error(error: BaseException, what: str) -> ImageInputError:
    """What Pillow's own error on damaged data means for the caller."""
    if isinstance(error, ValueError) and "text" in str(error).lower():
        # Pillow caps decompressed PNG text chunks (MAX_TEXT_CHUNK, MAX_TEXT_MEMORY).
        return ImageInputError(
            f"the image carries an oversized text chunk ({error}); strip the metadata and "
            "send it again",
            status=400,
            code="metadata_too_large",
        )
    return ImageInputError(
        f"the {what} data could not be decoded ({error}): the file is truncated or damaged; "
        "re-export it or send the complete file",
        status=400,
        code="corrupt_image",
    )


def _check_header(image: Image.Image, limits: DecodeLimits) -> None:
    width, height = image.size
    # Between Pillow's MAX_IMAGE_PIXELS and twice it Pillow only warns; we refuse. A plain
    # comparison, not a warnings filter: filters are process-wide and not thread-safe, and
    # the loader decodes in many threads at once.
    ceiling = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if width * height > ceiling:
        raise ImageInputError(
            f"the image is {width}x{height} = {width * height:,} pixels, more than the limit "
            f"of {ceiling:,}; downscale it before sending",
            status=413,
            code="too_many_pixels",
        )
    if min(width, height) < limits.min_side:
        raise ImageInputError(
            f"the image is {width}x{height} pixels; both sides must be at least "
            f"{limits.min_side} pixels; send a larger image",
            status=422,
            code="too_small",
        )
    if max(width, height) / min(width, height) > limits.max_aspect:
        raise ImageInputError(
            f"the image is {width}x{height} pixels, an aspect ratio above "
            f"{limits.max_aspect:g}:1; crop it to the face before sending",
            status=422,
            code="bad_aspect_ratio",
        )
    _check_metadata(image, limits)


def _check_metadata(image: Image.Image, limits: DecodeLimits) -> None:
    """Refuse oversized text chunks, comments, EXIF or ICC data (checked before and after
    decoding, since PNG text chunks may follow the pixel data)."""
    size = sum(len(value) for value in image.info.values() if isinstance(value, (str, bytes)))
    if size > limits.max_metadata_bytes:
        raise ImageInputError(
            f"the image carries {size:,} bytes of metadata (text chunks, comments, EXIF, ICC), "
            f"more than the limit of {limits.max_metadata_bytes:,}; strip the metadata and "
            "send it again",
            status=400,
            code="metadata_too_large",
        )


def _load_first_frame(image: Image.Image) -> Image.Image:
    """Decode the current (first) frame and apply its EXIF orientation."""
    try:
        image.load()
        # In place: the image is ours, and most photos need no turn (no copy made then).
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except _PILLOW_DATA_ERRORS as error:
        raise _data_error(error, image.format or "image") from error


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any pixel mode to RGB, the same way every time."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        # 16-bit samples: scale 0..65535 to 0..255 with rounding (Pillow would clip at 255).
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        gray = ((values * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0, 255).round().astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.has_transparency_data:
        # Alpha (RGBA, LA, PA) and transparency keys (P, L, RGB with tRNS) over white.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "RGB":
        return image
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise ImageInputError(
            f"pixel mode {image.mode} cannot be converted to RGB ({error}); save the image as "
            "RGB (sRGB) and send it again",
            status=415,
            code="unsupported_mode",
        ) from error
