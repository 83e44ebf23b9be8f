"""Synthetic images whose spectra are known in advance."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_fields(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Gray RGB images ``(n, size, size, 3)`` of smoothed Gaussian noise, a stand-in for photos."""
    x = ndimage.gaussian_filter(rng.normal(size=(n, size, size)), sigma=(0, 1.0, 1.0))
    x = (x - x.mean()) / x.std() * 40.0 + 128.0
    return np.repeat(x[..., None], 3, axis=-1)


def downsample2(images: np.ndarray) -> np.ndarray:
    """2x2 average pooling."""
    n, h, w, c = images.shape
    return images.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def upsample2(images: np.ndarray) -> np.ndarray:
    """2x zero insertion followed by a Gaussian blur: what a transposed convolution does."""
    n, h, w, c = images.shape
    zeros = np.zeros((n, 2 * h, 2 * w, c))
    zeros[:, ::2, ::2] = images * 4.0  # keep the mean brightness: 1 pixel in 4 is non-zero
    # sigma 0.7 px passes about 9 % of the amplitude at Nyquist, so the replicas survive.
    return ndimage.gaussian_filter(zeros, sigma=(0, 0.7, 0.7, 0))
