"""The whole image path in one call: a file or decoded array -> region -> model input.

`read_input` is what the training loader, `evaluate` and `predict` run for each file;
the API and the app decode uploaded bytes with `decode_image` and call `prepare_input`.
Both end in the same `apply_region` and `to_model_input`, so a file scores the same
everywhere.
"""

from __future__ import annotations

import os

import numpy as np

from deepguard.images.decode import DATASET_LIMITS, DecodeLimits, read_image
from deepguard.images.region import FileRegions, Region, apply_region, region_of_file, whole_image
from deepguard.images.resize import to_model_input


def prepare_input(rgb: np.ndarray, size: int, region: Region = whole_image) -> np.ndarray:
    """The region of a decoded ``uint8 (H, W, 3)`` image, resized to ``float32 (S, S, 3)``.

    Args:
        rgb: as returned by `decode_image`.
        size: the model's square input side S, in pixels.
        region: the part of the image the model sees (`whole_image` by default).

    Example:
        >>> prepare_input(decode_image(data), 64).shape
        (64, 64, 3)
    """
    return to_model_input(apply_region(rgb, region), size)


def read_region(
    path: str | os.PathLike,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region | FileRegions = whole_image,
) -> np.ndarray:
    """Decode a file and keep its region: ``uint8 (h, w, 3)``, before any resize.

    Args:
        path: the image file.
        limits: what the file may be.
        region: a `Region`, or `FileRegions` that give this file its own (its face crop).

    Raises:
        ImageInputError: the file is refused by `limits` or by the region.
        OSError: the file cannot be read.
    """
    return apply_region(read_image(path, limits), region_of_file(region, path))


def read_input(
    path: str | os.PathLike,
    size: int,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region | FileRegions = whole_image,
) -> np.ndarray:
    """Decode a file, keep its region and resize it: ``float32 (S, S, 3)`` in [0, 255].

    `region` is a `Region` or per-file `FileRegions`, as for `read_region`.

    Raises:
        ImageInputError: the file is refused by `limits` or by the region.
        OSError: the file cannot be read.
    """
    return to_model_input(read_region(path, limits, region), size)
