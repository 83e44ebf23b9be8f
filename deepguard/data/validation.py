"""Find the files a training run cannot read before it starts, and say why.

Each file is decoded once with Pillow. Unreadable files go to a quarantine table with a
reason; the run goes on without them unless they are more than ``max_bad_fraction`` of the
dataset. Results are remembered by content hash for the life of the process, so a second
`DataModule.setup()` or a sweep over the same data does not decode everything again.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from deepguard.errors import DataError

# Formats the tf.data pipeline decodes, as Pillow names them.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
# tf.io.decode_bmp reads 24- and 32-bit uncompressed BMPs; other BMP modes go through Pillow.
_TF_BMP_MODES = ("RGB", "RGBA")
# The largest image the scan will decode, in pixels: below Pillow's decompression-bomb
# warning (89M), so that check never fires first. Warning filters are process-global and
# not thread-safe, which is why this is a plain size check.
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class ImageCheck:
    """What the scan learned about one file.

    Attributes:
        reason: why the file is unusable, or ``""`` when it decodes.
        format: the format Pillow found (``JPEG``, ``PNG`` ...), ``""`` when none.
        decoder: ``"tf"`` when ``tf.io.decode_image`` gives the right pixels, ``"pillow"`` when
            the file needs Pillow (EXIF rotation, BMP modes or animated WebP that TensorFlow
            cannot read).
    """

    reason: str
    format: str = ""
    decoder: str = "tf"


_cache: dict[str, ImageCheck] = {}
_cache_lock = threading.Lock()


def check_image_file(path: str | os.PathLike) -> ImageCheck:
    """Decode one file fully with Pillow and report whether training can use it.

    Catches missing and empty files, non-image bytes (whatever the extension), formats
    outside JPEG/PNG/WebP/BMP, truncated files and images too large to decode safely.
    """
    image_format = ""
    try:
        if os.path.getsize(path) == 0:
            return ImageCheck("empty file (0 bytes)")
        with Image.open(path) as image:
            image_format = image.format or ""
            if image_format not in ALLOWED_FORMATS:
                return ImageCheck(
                    f"{image_format or 'unknown'} image; only {', '.join(ALLOWED_FORMATS)} "
                    "are read",
                    image_format,
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                return ImageCheck(
                    f"{width}x{height} pixels is above the limit of {MAX_PIXELS}",
                    image_format,
                )
            image.verify()  # structure and checksums (PNG CRCs) without decoding
        with Image.open(path) as image:
            image.load()  # decodes every pixel: catches truncated data that verify misses
            rotated = image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) not in (0, 1)
            odd_bmp = image_format == "BMP" and image.mode not in _TF_BMP_MODES
            # tf.io.decode_image rejects animated WebP; Pillow reads its first frame.
            animated_webp = image_format == "WEBP" and getattr(image, "n_frames", 1) > 1
    except FileNotFoundError:
        return ImageCheck("file not found")
    except UnidentifiedImageError:
        return ImageCheck("not an image (no known image format in the bytes)")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        # Pillow reports truncation as OSError, broken structure as SyntaxError/ValueError.
        return ImageCheck(f"cannot decode: {error}".strip(), image_format)
    needs_pillow = rotated or odd_bmp or animated_webp
    return ImageCheck("", image_format, "pillow" if needs_pillow else "tf")


def _check_cached(path: str, sha256: str | None) -> ImageCheck:
    if sha256 is None or pd.isna(sha256):
        return check_image_file(path)
    with _cache_lock:
        known = _cache.get(sha256)
    if known is not None:
        return known
    result = check_image_file(path)
    with _cache_lock:
        _cache[sha256] = result
    return result


def scan_images(
    df: pd.DataFrame, max_bad_fraction: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split records into the files that decode and the quarantined ones.

    Args:
        df: records with ``path`` and ``sha256`` (None for files that could not be read).
        max_bad_fraction: the largest share of unreadable files tolerated, in [0, 1].

    Returns:
        ``(good, quarantine)``: `good` is `df` minus bad files plus a ``decoder`` column
        (``tf`` or ``pillow``); `quarantine` has the columns ``path`` and ``reason``.

    Raises:
        DataError: when more than ``max_bad_fraction`` of the files are unreadable.
    """
    paths = df["path"].tolist()
    hashes = df["sha256"].tolist() if "sha256" in df else [None] * len(paths)
    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        checks = list(pool.map(_check_cached, paths, hashes, chunksize=16))
    bad = [bool(check.reason) for check in checks]
    quarantine = pd.DataFrame(
        {
            "path": [p for p, b in zip(paths, bad, strict=True) if b],
            "reason": [c.reason for c, b in zip(checks, bad, strict=True) if b],
        }
    )
    good = df.assign(decoder=[c.decoder for c in checks])[[not b for b in bad]]
    good = good.reset_index(drop=True)
    fraction = len(quarantine) / max(len(df), 1)
    if fraction > max_bad_fraction:
        examples = "; ".join(
            f"{row.path}: {row.reason}" for row in quarantine.head(3).itertuples(index=False)
        )
        raise DataError(
            f"{len(quarantine)} of {len(df)} image files ({fraction:.1%}) cannot be decoded, "
            f"above data.max_bad_fraction={max_bad_fraction:.1%} (e.g. {examples}). "
            "Remove or repair those files, or raise data.max_bad_fraction to train without them."
        )
    return good, quarantine
