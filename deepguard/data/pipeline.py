"""Streaming `tf.data` pipelines over image files: read, decode, resize, augment, batch.

Only file paths and labels are held in memory; pixels are decoded in parallel as batches
are needed and prefetched while the model trains. Datasets are finite (no ``.repeat()``):
Keras runs one pass per epoch.

Images become float32 RGB in ``[0, 255]``, resized to a square ``image_size`` with
anti-aliased bilinear interpolation (the aspect ratio is not kept, as in
``keras.utils.image_dataset_from_directory``). Each backbone's own scaling is inside the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

AUTOTUNE = tf.data.AUTOTUNE


def _pillow_rgb(path: bytes) -> np.ndarray:
    # Files TensorFlow would decode differently: EXIF-rotated JPEGs, palette or 16-bit BMPs.
    with Image.open(path.decode()) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)


def _decode_tf(data: tf.Tensor) -> tf.Tensor:
    # decode_image sniffs the format from the bytes (JPEG, PNG, WebP, BMP, GIF), not the name.
    return tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)


def load_image(path: tf.Tensor, use_pillow: tf.Tensor, image_size: int) -> tf.Tensor:
    """One file -> float32 ``(image_size, image_size, 3)`` in ``[0, 255]`` (graph mode)."""

    def with_pillow() -> tf.Tensor:
        pixels = tf.numpy_function(_pillow_rgb, [path], tf.uint8, stateful=False)
        pixels.set_shape([None, None, 3])
        return pixels

    def with_tf() -> tf.Tensor:
        pixels = _decode_tf(tf.io.read_file(path))
        pixels.set_shape([None, None, 3])
        return pixels

    pixels = tf.cond(use_pillow, with_pillow, with_tf)
    image = tf.image.resize(pixels, [image_size, image_size], method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def make_dataset(
    paths: Sequence[str],
    labels: Sequence[float] | None = None,
    *,
    image_size: int,
    batch_size: int,
    use_pillow: Sequence[bool] | None = None,
    shuffle: bool = False,
    shuffle_buffer: int = 2048,
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
    num_parallel_calls: int | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A finite, batched dataset of images (and labels when given) read from `paths`.

    Args:
        paths: image files, absolute.
        labels: 1 = fake, 0 = real; ``None`` for a dataset of images only (prediction).
        image_size: side of the square output images, in pixels.
        batch_size: images per batch; the last batch may be smaller.
        use_pillow: per file, decode with Pillow instead of TensorFlow (see validation).
        shuffle: reshuffle the file order every epoch (training).
        shuffle_buffer: how many file paths the shuffle draws from (paths, not pixels).
        augment: called as ``augment(image, seed)`` on one float32 image after resizing,
            e.g. an `Augmenter`; `seed` is 2 integers drawn per element and epoch.
        num_parallel_calls: decode threads; ``None`` lets tf.data tune it.
        seed: seeds the shuffle so that the epoch orders repeat from run to run.

    Returns:
        ``tf.data.Dataset`` of ``(images, labels)`` or of ``images``: images float32
        ``(B, image_size, image_size, 3)`` in ``[0, 255]``, labels float32 ``(B,)``.
    """
    parallel = AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    paths = [str(p) for p in paths]
    pillow_flags = [False] * len(paths) if use_pillow is None else [bool(f) for f in use_pillow]
    columns: tuple = (tf.constant(paths, tf.string), tf.constant(pillow_flags, tf.bool))
    if labels is not None:
        columns += (tf.constant(np.asarray(labels, dtype=np.float32)),)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle and len(paths) > 1:
        # Shuffling paths before decoding keeps the buffer small (bytes per entry, not pixels).
        dataset = dataset.shuffle(
            min(shuffle_buffer, len(paths)), seed=seed, reshuffle_each_iteration=True
        )

    if augment is not None:
        # One random number per element and epoch seeds the augmentation statelessly, so the
        # map stays parallel (and repeatable) under tf.config.experimental.enable_op_determinism.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, draws).map(lambda columns, r: (*columns, r))

    def load(path, pillow_flag, *rest):
        image = load_image(path, pillow_flag, image_size)
        if augment is not None:
            *rest, draw = rest
            image = augment(image, tf.stack([draw, tf.constant(0, tf.int64)]))
        return (image, *rest) if rest else image

    dataset = dataset.map(load, num_parallel_calls=parallel, deterministic=not shuffle)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)
