"""On-the-fly image augmentation for training, written in TensorFlow ops for `tf.data`.

`Augmenter` works on one float32 image ``(H, W, 3)`` in ``[0, 255]`` and returns the same
shape and range, so it can sit in a parallel ``Dataset.map`` after decoding. The ``robust``
preset is the CNNDetection recipe (Wang et al., CVPR 2020): Gaussian blur with probability
0.5 and sigma ~ U(0, 3), JPEG re-encoding with probability 0.5 and quality ~ U(30, 100).

Example:
    >>> augment = Augmenter(flip_prob=0.5, blur_prob=0.5, jpeg_prob=0.5)   # doctest: +SKIP
    >>> dataset = dataset.map(lambda x, y: (augment(x), y))                # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf


def _pair(value: Sequence[float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if low > high or low < 0:
        raise ValueError(f"{name} must be (low, high) with 0 <= low <= high; got {value!r}")
    return low, high


def _probability(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a probability in [0, 1]; got {value!r}")
    return float(value)


class _Draws:
    """Random numbers for one image: stateless from a seed when given, else stateful.

    Stateless draws keep a parallel ``Dataset.map`` parallel under
    ``tf.config.experimental.enable_op_determinism()``, which runs maps with stateful random
    ops one element at a time.
    """

    _MAX_DRAWS = 12  # more than the transforms of one call use

    def __init__(self, seed: tf.Tensor | None):
        self.seeds = (
            None
            if seed is None
            else tf.random.experimental.stateless_split(
                tf.cast(seed, tf.int64), num=self._MAX_DRAWS
            )
        )
        self.used = 0

    def _next_seed(self) -> tf.Tensor:
        if self.seeds is None:
            raise RuntimeError("_Draws has no seed; stateful draws need no seed")
        seed = self.seeds[self.used]
        self.used += 1
        return seed

    def uniform(self, low, high, dtype=tf.float32) -> tf.Tensor:
        if self.seeds is None:
            return tf.random.uniform([], low, high, dtype=dtype)
        return tf.random.stateless_uniform([], self._next_seed(), low, high, dtype=dtype)

    def crop(self, image: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
        if self.seeds is None:
            return tf.image.random_crop(image, size)
        return tf.image.stateless_random_crop(image, size, self._next_seed())


def _with_probability(probability: float, transform, image: tf.Tensor, draws: _Draws):
    if probability <= 0.0:
        return image
    if probability >= 1.0:
        return transform(image, draws)
    return tf.cond(
        draws.uniform(0.0, 1.0) < probability, lambda: transform(image, draws), lambda: image
    )


class Augmenter:
    """Random flips, crops, colour jitter, Gaussian blur and JPEG re-encoding.

    Applied in that order; each is off at its default. Blur comes before JPEG as in
    CNNDetection, so JPEG blocks are not smoothed away.

    Args:
        flip_prob: probability of a horizontal flip.
        blur_prob: probability of a Gaussian blur.
        blur_sigma: (low, high) blur standard deviation in pixels, drawn uniformly.
        jpeg_prob: probability of a JPEG re-encode.
        jpeg_quality: (low, high) JPEG quality, an integer drawn uniformly, both inclusive.
        brightness: largest brightness shift as a fraction of the full range (0.1 = +-25.5).
        contrast: largest contrast change as a fraction (0.1 = factor in [0.9, 1.1]).
        crop_scale: (low, high) side of a random crop as a fraction of the image side, resized
            back to the full size; ``None`` for no crop.
    """

    def __init__(
        self,
        flip_prob: float = 0.0,
        blur_prob: float = 0.0,
        blur_sigma: Sequence[float] = (0.0, 3.0),
        jpeg_prob: float = 0.0,
        jpeg_quality: Sequence[int] = (30, 100),
        brightness: float = 0.0,
        contrast: float = 0.0,
        crop_scale: Sequence[float] | None = None,
    ):
        self.flip_prob = _probability(flip_prob, "flip_prob")
        self.blur_prob = _probability(blur_prob, "blur_prob")
        self.blur_sigma = _pair(blur_sigma, "blur_sigma")
        self.jpeg_prob = _probability(jpeg_prob, "jpeg_prob")
        low, high = (int(q) for q in jpeg_quality)
        if not 0 <= low <= high <= 100:
            raise ValueError(f"jpeg_quality must be (low, high) in [0, 100]; got {jpeg_quality!r}")
        self.jpeg_quality = (low, high)
        self.brightness = _probability(brightness, "brightness")
        self.contrast = _probability(contrast, "contrast")
        self.crop_scale = None if crop_scale is None else _pair(crop_scale, "crop_scale")
        if self.crop_scale is not None and not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must be (low, high) in (0, 1]; got {crop_scale!r}")

    @property
    def is_identity(self) -> bool:
        """True when no transform is switched on (the pipeline then skips the map)."""
        return not (
            self.flip_prob
            or self.blur_prob
            or self.jpeg_prob
            or self.brightness
            or self.contrast
            or self.crop_scale
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Augmenter({fields})"

    def __call__(self, image: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """Augment one image; `seed` (2 integers) makes the draws stateless and repeatable."""
        image = tf.convert_to_tensor(image, tf.float32)
        shape = image.shape
        draws = _Draws(seed)
        if self.crop_scale is not None:
            image = self._crop(image, draws)
        image = _with_probability(
            self.flip_prob, lambda x, _: tf.image.flip_left_right(x), image, draws
        )
        if self.brightness:
            delta = draws.uniform(-self.brightness, self.brightness) * 255.0
            image = image + delta
        if self.contrast:
            factor = draws.uniform(1.0 - self.contrast, 1.0 + self.contrast)
            mean = tf.reduce_mean(image, axis=(0, 1), keepdims=True)
            image = (image - mean) * factor + mean
        if self.brightness or self.contrast:
            image = tf.clip_by_value(image, 0.0, 255.0)
        image = _with_probability(self.blur_prob, self._blur, image, draws)
        image = _with_probability(self.jpeg_prob, self._jpeg, image, draws)
        image.set_shape(shape)
        return image

    def _crop(self, image: tf.Tensor, draws: _Draws) -> tf.Tensor:
        low, high = self.crop_scale or (1.0, 1.0)
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        side = draws.uniform(low, high)
        crop_h = tf.maximum(1, tf.cast(tf.cast(height, tf.float32) * side, tf.int32))
        crop_w = tf.maximum(1, tf.cast(tf.cast(width, tf.float32) * side, tf.int32))
        crop = draws.crop(image, tf.stack([crop_h, crop_w, 3]))
        return tf.image.resize(crop, tf.stack([height, width]), antialias=True)

    def _blur(self, image: tf.Tensor, draws: _Draws) -> tf.Tensor:
        low, high = self.blur_sigma
        # A fixed kernel width (3 sigma each side of the largest sigma) keeps shapes static.
        radius = max(1, math.ceil(3 * high))
        sigma = tf.maximum(draws.uniform(low, high), 1e-3)
        offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
        kernel = tf.exp(-0.5 * tf.square(offsets / sigma))
        kernel = kernel / tf.reduce_sum(kernel)
        # Mirror the border rather than pad with black, which would darken the edges.
        padded = tf.pad(image, [[radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
        batch = padded[tf.newaxis]
        vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
        horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
        batch = tf.nn.depthwise_conv2d(batch, vertical, [1, 1, 1, 1], "VALID")
        batch = tf.nn.depthwise_conv2d(batch, horizontal, [1, 1, 1, 1], "VALID")
        return batch[0]

    def _jpeg(self, image: tf.Tensor, draws: _Draws) -> tf.Tensor:
        low, high = self.jpeg_quality
        quality = draws.uniform(low, high + 1, dtype=tf.int32)
        pixels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
        encoded = tf.image.adjust_jpeg_quality(pixels, quality)
        return tf.cast(encoded, tf.float32)
