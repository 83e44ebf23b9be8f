"""Self-blended images (Shiohara and Yamasaki, CVPR 2022): fakes made from one real face.

A fake is the real image with a slightly altered copy of its own face blended in:

1. The copy: colour jitter (hue, saturation, brightness, contrast, a per-channel RGB
   shift), then either a blur (down-scaling by 2 or 4 and back, as SBI's
   ``RandomDownScale``) or a sharpening (unsharp masking), then a small resize and shift.
2. The mask: the widened convex hull of five landmarks when given, else a random face
   ellipse (`deepguard.fakes.masks`), elastically deformed, eroded or dilated and blurred.
3. The blend: ``fake = source + ratio * mask * (copy - source)``, the ratio drawn from SBI's
   list ``[0.25, 0.5, 0.75, 1, 1, 1]``.

SBI applies the alterations to either the background or the face at random. Here they always
go to the blended-in copy: outside the mask a fake is its source, bit for bit, so the only
things that separate a fake from its real are the blending boundary and the statistics
inside it. A global colour change of the whole image is what training augmentation already
does to both classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image
from scipy import ndimage

from deepguard.fakes.masks import (
    check_landmarks,
    face_ellipse_mask,
    landmark_hull_mask,
    soften_mask,
)

SBI_BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's list, drawn uniformly


def _pair(value: Sequence[float], name: str, low_bound: float | None = 0.0) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if low > high or (low_bound is not None and low < low_bound):
        raise ValueError(
            f"{name} must be (low, high) with low <= high"
            + (f" and low >= {low_bound}" if low_bound is not None else "")
            + f"; got {list(value)!r}"
        )
    return low, high


def _hue_rotation(angle: float) -> np.ndarray:
    """The 3x3 matrix rotating RGB colours by `angle` radians about the grey axis."""
    cos, sin = np.cos(angle), np.sin(angle)
    cross = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
    return cos * np.eye(3) + (1 - cos) / 3 * np.ones((3, 3)) + sin / np.sqrt(3) * cross


def jitter_colour(
    image: np.ndarray,
    rng: np.random.Generator,
    hue: float,
    saturation: float,
    brightness: float,
    contrast: float,
    rgb_shift: float,
    rgb_shift_prob: float,
) -> np.ndarray:
    """Random hue, saturation, brightness, contrast and per-channel shifts, all linear.

    Args:
        image: float ``(H, W, 3)`` in ``[0, 255]``.
        rng: draws every change.
        hue: largest hue rotation either way, as a fraction of the colour wheel.
        saturation: largest saturation change either way, as a fraction (0.1 = x0.9-1.1).
        brightness: largest brightness shift either way, fraction of the range (0.1 = 25.5).
        contrast: largest contrast change either way, as a fraction.
        rgb_shift: largest shift of each channel either way, in grey levels.
        rgb_shift_prob: probability of the per-channel shift (SBI: 0.3).
    """
    out = image @ _hue_rotation(2 * np.pi * rng.uniform(-hue, hue)).T
    grey = out.mean(axis=-1, keepdims=True)
    out = grey + (out - grey) * (1 + rng.uniform(-saturation, saturation))
    mean = out.mean(axis=(0, 1), keepdims=True)
    out = mean + (out - mean) * (1 + rng.uniform(-contrast, contrast))
    out = out + 255.0 * rng.uniform(-brightness, brightness)
    channel_shifts = rng.uniform(-rgb_shift, rgb_shift, 3)
    if rng.uniform() < rgb_shift_prob:
        out = out + channel_shifts
    return np.clip(out, 0.0, 255.0)


def _resample(
    image: np.ndarray,
    size: tuple[int, int],
    box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Bilinear resampling of `box` (left, top, right, bottom; default all) to ``(H, W)``.

    Pillow's float ("F") images keep every value unrounded and resample about ten times
    faster than ``scipy.ndimage.affine_transform`` at these sizes.
    """
    height, width = size
    channels = [
        Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F")
        for c in range(image.shape[-1])
    ]
    bilinear = Image.Resampling.BILINEAR
    return np.stack(
        [np.asarray(c.resize((width, height), bilinear, box=box)) for c in channels], axis=-1
    ).astype(np.float64)


def blur_or_sharpen(
    image: np.ndarray,
    rng: np.random.Generator,
    downscale_factors: Sequence[int],
    sharpen_amount: Sequence[float],
) -> np.ndarray:
    """Half the time blur by down-scaling and back, else sharpen by unsharp masking.

    Args:
        image: float ``(H, W, 3)`` in ``[0, 255]``.
        rng: draws the choice and its strength.
        downscale_factors: integer factors to choose from; the image is sampled every
            `factor` pixels (nearest) and brought back bilinearly, as SBI does.
        sharpen_amount: (low, high) weight of the high-pass detail added back.
    """
    if rng.uniform() < 0.5:
        factor = int(rng.choice(np.asarray(downscale_factors)))
        return _resample(image[::factor, ::factor], (image.shape[0], image.shape[1]))
    amount = rng.uniform(sharpen_amount[0], sharpen_amount[1])
    detail = image - ndimage.gaussian_filter(image, sigma=(1.0, 1.0, 0.0), mode="reflect")
    return np.clip(image + amount * detail, 0.0, 255.0)


def resize_and_shift(
    image: np.ndarray, rng: np.random.Generator, scale: Sequence[float], shift: Sequence[float]
) -> np.ndarray:
    """Scale about the centre and translate: the copy no longer lines up with its face.

    Args:
        image: float ``(H, W, 3)``.
        rng: draws the scale and the shifts.
        scale: (low, high) zoom factor, drawn uniformly.
        shift: largest translation either way as a fraction of ``(width, height)``.
    """
    height, width = image.shape[:2]
    zoom = rng.uniform(scale[0], scale[1])
    dx = rng.uniform(-shift[0], shift[0]) * width
    dy = rng.uniform(-shift[1], shift[1]) * height
    # Mirror the borders so that pixels moved in from outside are not black.
    pad = int(np.ceil(max(height, width) * (abs(1 - 1 / zoom) + max(shift)))) + 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    # Output edge coordinate X shows input (X - centre - shift) / zoom + centre.
    left, right = ((np.array([0.0, width]) - width / 2 - dx) / zoom + width / 2 + pad).tolist()
    top, bottom = ((np.array([0.0, height]) - height / 2 - dy) / zoom + height / 2 + pad).tolist()
    return _resample(padded, (height, width), box=(left, top, right, bottom))


@dataclass
class SelfBlender:
    """Makes self-blended fakes (generator ``sbi``) from real face images.

    Args:
        hue: largest hue rotation of the copy, fraction of the colour wheel.
        saturation: largest saturation change of the copy, fraction.
        brightness: largest brightness shift of the copy, fraction of the 0-255 range.
        contrast: largest contrast change of the copy, fraction.
        rgb_shift: largest per-channel shift of the copy, grey levels.
        rgb_shift_prob: probability of that shift.
        downscale_factors: blur choices: down-scale factors of the copy.
        sharpen_amount: (low, high) unsharp-mask weight when the copy is sharpened.
        scale: (low, high) zoom of the copy.
        shift: largest shift of the copy as a fraction of (width, height).
        forehead, chin, cheeks: hull widening, see `landmark_hull_mask`.
        centre_jitter, half_width, half_height, tilt: the ellipse without landmarks, see
            `face_ellipse_mask`.
        elastic_prob, elastic_alpha, elastic_sigma, boundary_shift, boundary_blur: the
            boundary, see `soften_mask`.
        blend_ratios: blend ratios drawn from uniformly (1 = the copy replaces the face).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> face = np.full((64, 64, 3), 128.0)
        >>> SelfBlender()(face, rng, "sbi").shape
        (64, 64, 3)
    """

    kind: ClassVar[str] = "sbi"

    hue: float = 0.03
    saturation: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.1
    rgb_shift: float = 20.0
    rgb_shift_prob: float = 0.3
    downscale_factors: Sequence[int] = (2, 4)
    sharpen_amount: Sequence[float] = (0.2, 0.5)
    scale: Sequence[float] = (0.95, 1.05)
    shift: Sequence[float] = (0.03, 0.015)
    forehead: Sequence[float] = (0.1, 0.6)
    chin: Sequence[float] = (0.05, 0.25)
    cheeks: Sequence[float] = (0.1, 0.3)
    centre_jitter: float = 0.05
    half_width: Sequence[float] = (0.25, 0.38)
    half_height: Sequence[float] = (0.32, 0.45)
    tilt: float = 10.0
    elastic_prob: float = 0.5
    elastic_alpha: float = 0.01
    elastic_sigma: float = 0.05
    boundary_shift: Sequence[float] = (-0.04, 0.04)
    boundary_blur: Sequence[float] = (0.005, 0.035)
    blend_ratios: Sequence[float] = SBI_BLEND_RATIOS

    def __post_init__(self) -> None:
        for name in ("hue", "saturation", "rgb_shift_prob", "elastic_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"sbi {name} is a fraction in [0, 1]; got {getattr(self, name)!r}")
        for name in ("sharpen_amount", "scale", "forehead", "chin", "cheeks", "half_width"):
            setattr(self, name, _pair(getattr(self, name), f"sbi {name}"))
        self.half_height = _pair(self.half_height, "sbi half_height")
        self.boundary_blur = _pair(self.boundary_blur, "sbi boundary_blur")
        self.boundary_shift = _pair(self.boundary_shift, "sbi boundary_shift", low_bound=None)
        self.shift = tuple(float(s) for s in self.shift)
        self.downscale_factors = [int(f) for f in self.downscale_factors]
        if not self.downscale_factors or min(self.downscale_factors) < 1:
            raise ValueError(
                f"sbi downscale_factors must be integers >= 1; got {self.downscale_factors!r}"
            )
        self.blend_ratios = [float(r) for r in self.blend_ratios]
        if not self.blend_ratios or not all(0 < r <= 1 for r in self.blend_ratios):
            raise ValueError(f"sbi blend_ratios must lie in (0, 1]; got {self.blend_ratios!r}")

    @property
    def generators(self) -> tuple[str, ...]:
        """The generator names its fakes are recorded under."""
        return (self.kind,)

    def face_mask(
        self, shape: tuple[int, int], rng: np.random.Generator, landmarks: np.ndarray | None
    ) -> np.ndarray:
        """Blending weights ``(H, W)`` in ``[0, 1]`` before the blend ratio."""
        points = check_landmarks(landmarks)
        if points is None:
            region = face_ellipse_mask(
                shape, rng, self.centre_jitter, self.half_width, self.half_height, self.tilt
            )
        else:
            region = landmark_hull_mask(shape, points, rng, self.forehead, self.chin, self.cheeks)
        return soften_mask(
            region,
            rng,
            elastic_prob=self.elastic_prob,
            elastic_alpha=self.elastic_alpha,
            elastic_sigma=self.elastic_sigma,
            boundary_shift=self.boundary_shift,
            boundary_blur=self.boundary_blur,
        )

    def altered_copy(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The image after colour jitter, blur or sharpening, and a small resize and shift."""
        copy = jitter_colour(
            image,
            rng,
            hue=self.hue,
            saturation=self.saturation,
            brightness=self.brightness,
            contrast=self.contrast,
            rgb_shift=self.rgb_shift,
            rgb_shift_prob=self.rgb_shift_prob,
        )
        copy = blur_or_sharpen(copy, rng, self.downscale_factors, self.sharpen_amount)
        return resize_and_shift(copy, rng, self.scale, self.shift)

    def blend(
        self, image: np.ndarray, rng: np.random.Generator, landmarks: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A self-blended fake and the weights it was blended with.

        Args:
            image: float ``(H, W, 3)`` in ``[0, 255]``.
            rng: every random draw; the same generator state gives the same fake.
            landmarks: ``(5, 2)`` ``(x, y)`` pixels in this image, or ``None``.

        Returns:
            ``(fake, weights)``: float64 ``(H, W, 3)`` in ``[0, 255]``, and float64
            ``(H, W)``; wherever ``weights == 0`` the fake equals `image` exactly.
        """
        source = np.asarray(image, dtype=np.float64)
        weights = self.face_mask(source.shape[:2], rng, landmarks)
        weights *= float(rng.choice(self.blend_ratios))
        copy = self.altered_copy(source, rng)
        return source + weights[..., None] * (copy - source), weights

    def __call__(
        self,
        image: np.ndarray,
        rng: np.random.Generator,
        generator: str,
        landmarks: np.ndarray | None = None,
    ) -> np.ndarray:
        """One fake; `generator` is always ``"sbi"`` (the `FakeMaker` call convention)."""
        return self.blend(image, rng, landmarks)[0]
