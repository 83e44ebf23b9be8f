"""Frequency views of images: grayscale, centred log-magnitude spectrum, azimuthal profile.

Conventions (the app, the API and the pipeline share them):

- Pixels are read as RGB in ``[0, 255]`` (uint8 or float) and turned into ITU-R BT.601 luma
  scaled to ``[0, 1]``.
- The 2D DFT is orthonormal (``norm="ortho"``), so white noise of standard deviation
  ``s`` has an expected magnitude of about ``s`` at every frequency, whatever the image size.
- The 2D view is ``log(|F| + 1e-6)`` (natural log), zero frequency shifted to the centre.
  ``log1p`` is not used: it flattens the weak high-frequency tail (magnitudes around 1e-3 for
  8-bit images) to almost zero, and that tail is where generated images differ.
- The 1D view is the mean log power ``log(|F|^2 + 1e-12) = 2 * log(|F| + 1e-6)`` (approx.)
  over rings one frequency bin wide, from 0 to 0.5 cycles/pixel (Nyquist) inclusive:
  ``min(H, W) // 2 + 1`` bins. The Nyquist ring is kept on purpose: 2x up-sampling puts its
  strongest replica exactly there. The corners beyond Nyquist are left out.
- Images of different sizes must be brought to one size first (``size=`` or
  ``resize_images``); resizing adds its own low-pass signature, so compare like with like.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.fft
import scipy.sparse

# ITU-R BT.601 luma weights for R, G, B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Floor added to |F| before the log: far below the 8-bit quantisation noise (about 1e-3).
LOG_EPS = 1e-6


def resize_images(images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Resize every image to ``size = (height, width)`` with Pillow's bicubic filter.

    Args:
        images: a sequence of ``(H, W)`` or ``(H, W, C)`` arrays, any sizes.
        size: the common ``(height, width)``.

    Returns:
        A float32 batch ``(N, height, width[, C])`` in the input's value range.
    """
    from PIL import Image

    height, width = int(size[0]), int(size[1])
    out = []
    for image in images:
        array = np.asarray(image, dtype=np.float32)
        if array.shape[:2] == (height, width):
            out.append(array)
            continue
        # Resize each channel as a 32-bit float image so no value is clipped or rounded.
        channels = array[..., None] if array.ndim == 2 else array
        bicubic = Image.Resampling.BICUBIC
        resized = np.stack(
            [
                np.asarray(Image.fromarray(channels[..., c]).resize((width, height), bicubic))
                for c in range(channels.shape[-1])
            ],
            axis=-1,
        )
        out.append(resized[..., 0] if array.ndim == 2 else resized)
    return np.stack(out).astype(np.float32)


def _as_batch(images, size: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """Turn one image, a batch or a list of images into a float32 batch; say if it was one."""
    if isinstance(images, (list, tuple)):
        shapes = {np.shape(image)[:2] for image in images}
        if size is None and len(shapes) > 1:
            raise ValueError(
                f"images have different sizes {sorted(shapes)}; pass size=(height, width) "
                "to resize them to one common size first"
            )
        batch = resize_images(images, size) if size is not None else np.stack(images)
        return batch.astype(np.float32, copy=False), False
    array = np.asarray(images)
    if array.dtype == object or array.ndim not in (2, 3, 4):
        raise ValueError(
            "expected an image (H, W) or (H, W, C) or a batch (N, H, W) or (N, H, W, C); "
            f"got an array of shape {array.shape} and dtype {array.dtype}"
        )
    # A 3-D array whose last axis holds 1, 3 or 4 values is one colour image (H, W, C);
    # any other 3-D array is a batch of grayscale images (N, H, W).
    single = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4))
    batch = array[None] if single else array
    if size is not None and tuple(batch.shape[1:3]) != tuple(size):
        batch = resize_images(list(batch), size)
    return batch.astype(np.float32, copy=False), single


def _luma(batch: np.ndarray) -> np.ndarray:
    """Luma in [0, 1] of a float32 batch (N, H, W[, C]) in [0, 255]."""
    if batch.ndim == 4:
        channels = batch.shape[-1]
        if channels in (3, 4):
            batch = batch[..., :3] @ (LUMA_WEIGHTS / np.float32(255.0))
            return batch.astype(np.float32, copy=False)
        if channels != 1:
            raise ValueError(f"expected 1, 3 or 4 channels; got {channels}")
        batch = batch[..., 0]
    return (batch / np.float32(255.0)).astype(np.float32, copy=False)


def to_grayscale(images, size: tuple[int, int] | None = None) -> np.ndarray:
    """ITU-R BT.601 luma in ``[0, 1]`` from RGB pixels in ``[0, 255]``.

    Args:
        images: ``(N, H, W, 3)`` or ``(H, W, 3)`` uint8 or float in ``[0, 255]``; RGBA drops
            alpha, one-channel and already-gray ``(N, H, W)`` inputs are only rescaled; a list
            of images of different sizes needs ``size``.
        size: optional ``(height, width)`` to resize to first.

    Returns:
        float32 ``(N, H, W)``, or ``(H, W)`` for one image.

    Example:
        >>> float(to_grayscale(np.full((4, 4, 3), 255, np.uint8)).max())
        1.0
    """
    batch, single = _as_batch(images, size)
    gray = _luma(batch)
    return gray[0] if single else gray


def log_magnitude_spectrum(images, size: tuple[int, int] | None = None) -> np.ndarray:
    """Centred log-magnitude spectrum ``log(|F| + 1e-6)`` of each image's luma.

    Args:
        images: one image or a batch, as for ``to_grayscale``.
        size: optional common ``(height, width)`` to resize to first.

    Returns:
        float32 ``(N, H, W)`` (``(H, W)`` for one image); zero frequency at
        ``(H // 2, W // 2)``; pixel ``(i, j)`` is the frequency
        ``((i - H // 2) / H, (j - W // 2) / W)`` cycles/pixel.
    """
    batch, single = _as_batch(images, size)
    gray = _luma(batch)
    # SciPy keeps float32 input in complex64 (NumPy would promote to complex128): ~2.5x faster.
    magnitude = np.abs(scipy.fft.fft2(gray, norm="ortho"))
    log_magnitude = np.fft.fftshift(np.log(magnitude + np.float32(LOG_EPS)), axes=(-2, -1))
    log_magnitude = log_magnitude.astype(np.float32, copy=False)
    return log_magnitude[0] if single else log_magnitude


@functools.lru_cache(maxsize=32)
def _ring_matrix(height: int, width: int) -> scipy.sparse.csr_matrix:
    """Sparse ``(height * width, R)`` matrix that averages a centred spectrum over rings.

    Ring ``r`` holds the pixels whose radius, in cycles/pixel times ``min(height, width)``,
    rounds to ``r``, so a ring is one frequency bin wide on both axes of non-square images.
    Pixels past Nyquist (the corners) belong to no ring. Column ``r`` holds ``1 / size of r``
    on its pixels: one sparse product averages every ring of a whole batch.
    """
    side = min(height, width)
    bins = side // 2 + 1
    fy = (np.arange(height) - height // 2) / height
    fx = (np.arange(width) - width // 2) / width
    ring = np.rint(np.hypot(fy[:, None], fx[None, :]) * side).astype(np.int64).ravel()
    inside = np.flatnonzero(ring < bins)
    counts = np.bincount(ring[inside], minlength=bins)
    return scipy.sparse.csr_matrix(
        ((1.0 / counts[ring[inside]]).astype(np.float32), (inside, ring[inside])),
        shape=(height * width, bins),
    )


def profile_frequencies(size: int | tuple[int, int]) -> np.ndarray:
    """Frequency of each profile bin in cycles/pixel, 0 to 0.5 inclusive."""
    side = min(size) if isinstance(size, tuple) else int(size)
    return (np.arange(side // 2 + 1) / side).astype(np.float32)


def azimuthal_average(maps: np.ndarray) -> np.ndarray:
    """Mean of centred 2D frequency maps ``(N, H, W)`` over 1-bin rings -> ``(N, R)``.

    ``R = min(H, W) // 2 + 1``; ring ``r`` holds the frequencies whose radius rounds to
    ``r / min(H, W)`` cycles/pixel. The ring index is precomputed once per size as a sparse
    averaging matrix, so a batch costs one sparse product.
    """
    maps = np.asarray(maps, dtype=np.float32)
    single = maps.ndim == 2
    if single:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (N, H, W) or (H, W); got {maps.shape}")
    n, height, width = maps.shape
    profiles = np.asarray(maps.reshape(n, height * width) @ _ring_matrix(height, width))
    profiles = profiles.astype(np.float32, copy=False)
    return profiles[0] if single else profiles


def spectrum_to_profile(spectra: np.ndarray) -> np.ndarray:
    """Log-power profiles ``(N, R)`` from ``log_magnitude_spectrum`` output ``(N, H, W)``.

    ``log |F|^2 = 2 log |F|``: the ring mean of the log magnitude, doubled. Use it to get both
    views from one FFT.
    """
    return np.float32(2.0) * azimuthal_average(spectra)


def azimuthal_profile(images, size: tuple[int, int] | None = None) -> np.ndarray:
    """Mean log power ``2 * log(|F| + 1e-6)`` over rings, 0 to Nyquist, per image.

    Args:
        images: one image or a batch, as for ``to_grayscale``.
        size: optional common ``(height, width)`` to resize to first.

    Returns:
        float32 ``(N, R)`` (``(R,)`` for one image), ``R = min(H, W) // 2 + 1``; bin ``r`` is
        ``r / min(H, W)`` cycles/pixel (see ``profile_frequencies``).
    """
    batch, single = _as_batch(images, size)
    profiles = spectrum_to_profile(log_magnitude_spectrum(batch))
    return profiles[0] if single else profiles
