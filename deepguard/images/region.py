"""The region step of the image path: which part of a decoded image the model sees.

Every input takes the same three steps, in this order::

    bytes --decode_image--> RGB uint8 (H, W, 3) --region--> RGB uint8 (h, w, 3)
          --to_model_input--> float32 (S, S, 3) in [0, 255]

A `Region` is any callable from the decoded RGB array to the RGB array of the part to score.
Today every caller uses `whole_image`. A face crop plugs in here as another `Region` (built
from a ``faces`` config and recorded with the model, so training and serving crop alike);
it may raise `deepguard.errors.ImageInputError` to refuse an image (no face found): the
API then answers with that error's status and the data scan quarantines the file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Region = Callable[[np.ndarray], np.ndarray]


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
