"""The one check a file passes before any stage uses it, with a reason when it fails.

The check is the decode itself (`read_region` with the caller's limits and region), so a
file that passes is one the loader, `evaluate`, `predict`, the API and the app all read the
same way; what is refused gets one word from `REASONS` (the quarantine CSVs' vocabulary)
and the decoder's sentence as its detail.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

from PIL import Image

from deepguard.errors import ImageInputError
from deepguard.images.decode import DATASET_LIMITS, DecodeLimits, decode_image
from deepguard.images.region import FileRegions, Region, apply_region, region_of_file, whole_image

# Reasons a file is refused, in the words the quarantine CSVs use.
REASONS = (
    "unreadable",  # the file cannot be opened (missing, permissions, vanished)
    "empty",  # zero bytes
    "non-image",  # bytes of no image format, whatever the file name says
    "unsupported-format",  # an image format (or pixel mode) outside the allow-list
    "truncated",  # the image data stops early
    "corrupt",  # the bytes are damaged some other way
    "too-small",  # a side under min_side pixels
    "too-large",  # more bytes or pixels than allowed (decompression bomb guard)
    "bad-aspect-ratio",  # a strip: long side over max_aspect times the short one
    "oversized-metadata",  # text chunks, EXIF or ICC data over max_metadata_bytes
    "no-face",  # the face-crop region found no face and faces.on_missing is skip
    "refused-by-region",  # the region step refused the image for another reason
    "duplicate-label-conflict",  # the same bytes labelled real and fake (set by the dedup)
)

# ImageInputError codes of the decoder -> reasons.
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
    "no_face": "no-face",
}
# Pillow's own words for data that stops early.
_TRUNCATION_PHRASES = ("image file is truncated", "truncated file read", "unexpected end of file")


@dataclass(frozen=True)
class ImageCheck:
    """What `check_image` learned about one file.

    Attributes:
        reason: one of `REASONS`, or None when the file is usable.
        detail: the decoder's explanation when refused, else ``""``.
        sha256: of the file's bytes (None when they could not be read).
        width / height: of the decoded image in pixels (after EXIF rotation, before the
            region step), when usable.
        format: the format the bytes hold (``JPEG``, ``PNG`` ...), when usable.
    """

    reason: str | None
    detail: str = ""
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None


def check_image(
    path: str | os.PathLike,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region | FileRegions = whole_image,
) -> ImageCheck:
    """Read, hash and fully decode one file; say why it is unusable, if it is.

    Args:
        path: the image file.
        limits: what the file may be (bytes, pixels, sides, formats); `DATASET_LIMITS` by
            default, the API's `DecodeLimits()` for uploads.
        region: the region step the readers will apply (a `Region`, or `FileRegions` that
            give each file its own); an image it refuses is unusable.

    Example:
        >>> check_image("face.jpg").reason is None     # doctest: +SKIP
        True
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # one byte more tells "too large"
    except OSError as error:
        return ImageCheck("unreadable", f"{type(error).__name__}: {error}")
    sha256 = hashlib.sha256(data).hexdigest() if len(data) <= limits.max_bytes else None
    try:
        rgb = decode_image(data, limits)
        apply_region(rgb, region_of_file(region, path))
    except ImageInputError as error:
        return ImageCheck(_reason(error), str(error), sha256)
    height, width = rgb.shape[:2]
    return ImageCheck(None, "", sha256, int(width), int(height), _format(data, limits))


def _reason(error: ImageInputError) -> str:
    reason = _CODE_REASONS.get(error.code, "refused-by-region")
    if reason == "corrupt" and any(p in str(error).lower() for p in _TRUNCATION_PHRASES):
        return "truncated"
    return reason


def _format(data: bytes, limits: DecodeLimits) -> str | None:
    """The container format from the header of bytes the decoder already accepted."""
    with Image.open(io.BytesIO(data), formats=limits.allowed_formats) as image:
        return image.format
