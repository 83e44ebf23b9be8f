"""The one allow-list of image formats and the one list of file suffixes DeepGuard reads.

Every reader (training loader, prepare, evaluate, predict, spectra, API, app) takes its
formats from `SUPPORTED_FORMATS` and its folder-scan suffixes from `IMAGE_SUFFIXES`, so a
file one of them accepts is never refused by another for its format.
"""

from __future__ import annotations

from pathlib import Path

# Pillow format names -> the suffixes such files carry (lower case).
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
    "GIF": (".gif",),
    "TIFF": (".tif", ".tiff"),
}
# Formats Pillow may open at all: the decoder refuses every other format from its header.
SUPPORTED_FORMATS: tuple[str, ...] = tuple(FORMAT_SUFFIXES)
# Suffixes a folder scan picks up, compared in lower case.
IMAGE_SUFFIXES: tuple[str, ...] = tuple(s for group in FORMAT_SUFFIXES.values() for s in group)


def has_image_suffix(path: str | Path) -> bool:
    """True for a file named like an image DeepGuard reads (any letter case), not hidden.

    The suffix only decides what a folder scan picks up; the decoder decides the format
    from the bytes, whatever the name says.
    """
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
