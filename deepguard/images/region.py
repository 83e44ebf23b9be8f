"""The region step of the image path: which part of a decoded image the model sees.

Every input takes the same three steps, in this order::

    bytes --decode_image--> RGB uint8 (H, W, 3) --region--> RGB uint8 (h, w, 3)
          --to_model_input--> float32 (S, S, 3) in [0, 255]

A `Region` is any callable from the decoded RGB array to the RGB array of the part to score
(`whole_image` by default). It may raise `deepguard.errors.ImageInputError` to refuse an
image (no face found): the API then answers with that error's status and the data scan
quarantines the file.

Readers of files also take a `FileRegions`: an object that gives each file its own region
(`region_for(path)`), such as `deepguard.faces.FaceRegions`, whose region for a file is the
crop of the face detected once, before the loader runs, and looked up by the file's path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

Region = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class FileRegions(Protocol):
    """A region chosen per file (e.g. each file's detected face), for readers of files."""

    def region_for(self, path: str) -> Region:
        """The region of the file at `path` (as the reader names it)."""
        ...


def region_of_file(region: Region | FileRegions, path: str | os.PathLike) -> Region:
    """The `Region` to apply to the file at `path`: `region` itself, or its per-file one."""
    if isinstance(region, FileRegions):
        return region.region_for(os.fspath(path))
    return region


def whole_image(rgb: np.ndarray) -> np.ndarray:
    """The region that is the whole image: `rgb` itself, no copy."""
    return rgb


def apply_region(rgb: np.ndarray, region: Region) -> np.ndarray:
    """``region(rgb)``, checked to be a non-empty ``uint8 (h, w, 3)`` RGB array.

    Raises:
        TypeError: the region returned something else (a bug in the region, not the image).
    """
    picked = region(rgb)
    if (
        not isinstance(picked, np.ndarray)
        or picked.dtype != np.uint8
        or picked.ndim != 3
        or picked.shape[2] != 3
        or 0 in picked.shape
    ):
        shape = getattr(picked, "shape", None)
        dtype = getattr(picked, "dtype", type(picked).__name__)
        raise TypeError(
            f"region {getattr(region, '__name__', region)!r} must return a non-empty uint8 "
            f"(h, w, 3) RGB array; it returned {dtype} of shape {shape}: return a slice of "
            "the array it was given, or raise ImageInputError to refuse the image"
        )
    return picked
