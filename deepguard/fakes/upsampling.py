"""Up-sampling fakes (Zhang, Karaman and Chang, WIFS 2019): generator traces, no generator.

A real photo is box-filtered down to half its size (the generator's last feature map) and
brought back up through a fixed, untrained up-sampling layer of one of the families that
`deepguard.data.synthetic` simulates on dead-leaves images: zero insertion and a random 4x4
kernel (``transposed_conv``: a checkerboard, peaks at the Nyquist frequency), or nearest or
bilinear 2x up-sampling followed by a random 3x3 convolution (spectral replicas and missing
high frequencies). The content is the photo's own; only the up-sampling traces are new.

Each family keeps a pool of `kernel_pool` kernel sets drawn from `seed`, a small population
of "generators" with fixed weights, and every fake uses one of them. The fake is recorded as
``upsampling-<family>`` (``upsampling-nearest``, ``upsampling-bilinear``,
``upsampling-transposed_conv``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from deepguard.data.synthetic import family_kernels, upsample_like_generator

# Short names in configs and generator names -> `deepguard.data.synthetic` family names.
UPSAMPLING_KINDS = {
    "nearest": "upsample_nearest",
    "bilinear": "upsample_bilinear",
    "transposed_conv": "transposed_conv",
}
GENERATOR_PREFIX = "upsampling-"


def box_downsample_2x(image: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks of a float ``(H, W, 3)`` image; odd sides repeat their last row
    or column first, so the result is ``(ceil(H / 2), ceil(W / 2), 3)``."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    h, w = padded.shape[0] // 2, padded.shape[1] // 2
    return padded.reshape(h, 2, w, 2, -1).mean(axis=(1, 3))


@functools.lru_cache(maxsize=256)
def _pooled_kernels(seed: int, index: int) -> dict[str, np.ndarray]:
    return family_kernels([seed, index])


class UpsamplingSimulator:
    """Makes up-sampling fakes from real images, one family per generator name.

    Args:
        families: the families to make, among ``nearest``, ``bilinear``, ``transposed_conv``.
        kernel_pool: how many fixed random kernel sets (simulated generators) per family.
        seed: draws the kernel pool; the same seed gives the same simulated generators.

    Example:
        >>> simulate = UpsamplingSimulator(families=["nearest"])
        >>> photo = np.random.default_rng(0).uniform(0, 255, (32, 32, 3))
        >>> simulate(photo, np.random.default_rng(1), "upsampling-nearest").shape
        (32, 32, 3)
    """

    kind = "upsampling"

    def __init__(
        self,
        families: Sequence[str] = ("nearest", "bilinear", "transposed_conv"),
        kernel_pool: int = 16,
        seed: int = 0,
    ):
        self.families = [str(f) for f in families]
        unknown = sorted(set(self.families) - set(UPSAMPLING_KINDS))
        if unknown or not self.families:
            raise ValueError(
                f"upsampling families must be a non-empty subset of {list(UPSAMPLING_KINDS)}; "
                f"got {self.families!r}"
            )
        if int(kernel_pool) < 1:
            raise ValueError(f"upsampling kernel_pool must be at least 1; got {kernel_pool!r}")
        self.kernel_pool = int(kernel_pool)
        self.seed = int(seed)

    @property
    def generators(self) -> tuple[str, ...]:
        """The generator names its fakes are recorded under, one per family."""
        return tuple(GENERATOR_PREFIX + family for family in self.families)

    def __repr__(self) -> str:
        return (
            f"UpsamplingSimulator(families={self.families}, kernel_pool={self.kernel_pool}, "
            f"seed={self.seed})"
        )

    def __call__(
        self,
        image: np.ndarray,
        rng: np.random.Generator,
        generator: str,
        landmarks: np.ndarray | None = None,
    ) -> np.ndarray:
        """One fake of the family `generator` names; landmarks are not used.

        Args:
            image: float ``(H, W, 3)`` in ``[0, 255]``.
            rng: picks the simulated generator from the pool.
            generator: ``upsampling-<family>``, one of `generators`.
            landmarks: ignored (the `FakeMaker` call convention).

        Returns:
            float64 ``(H, W, 3)`` in ``[0, 255]``.
        """
        if generator not in self.generators:
            raise ValueError(
                f"unknown up-sampling generator {generator!r}; available: {list(self.generators)}"
            )
        family = UPSAMPLING_KINDS[generator.removeprefix(GENERATOR_PREFIX)]
        kernels = _pooled_kernels(self.seed, int(rng.integers(self.kernel_pool)))
        pixels = np.asarray(image, dtype=np.float64)
        up = upsample_like_generator(family, box_downsample_2x(pixels), kernels)
        height, width = pixels.shape[:2]
        return np.clip(up[:height, :width], 0.0, 255.0)
