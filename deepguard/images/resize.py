"""Turn a decoded RGB array into a detector's input, identically in the API and the app."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_model_input(rgb: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize a ``uint8 (H, W, 3)`` RGB array to ``float32 (S, S, 3)`` in ``[0, 255]``.

    Bilinear with antialiasing, computed in float32 per channel: Pillow's bilinear filter
    widens its triangle kernel when shrinking, as ``tf.image.resize(method="bilinear",
    antialias=True)`` does in the data pipeline (the two agree within 0.001 grey level).
    The whole image is squashed to the square input, never cropped, like the training data.
    Scaling to the backbone's range happens inside the saved model.

    Args:
        rgb: ``(H, W, 3)`` array, as returned by `decode_image`.
        size: ``S`` or ``(height, width)`` of the model input.

    Example:
        >>> to_model_input(decode_image(data), 64).shape
        (64, 64, 3)
    """
    height, width = (size, size) if isinstance(size, int) else size
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    if rgb.shape[:2] == (height, width):
        return rgb.astype(np.float32)
    # One contiguous float32 plane per channel in a single pass (slicing channels out one by
    # one costs 15x more); Pillow resizes mode "F" planes with the GIL released.
    planes = np.moveaxis(rgb, -1, 0).astype(np.float32)
    channels = [
        np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR))
        for plane in planes
    ]
    return np.stack(channels, axis=-1)


def centre_crop(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The centred square of side ``min(H, W, max_side)``: pixels kept as they are, so the
    spectrum of the crop still shows the image's own high frequencies (no resampling)."""
    side = min(rgb.shape[0], rgb.shape[1], max_side)
    top = (rgb.shape[0] - side) // 2
    left = (rgb.shape[1] - side) // 2
    return rgb[top : top + side, left : left + side]
