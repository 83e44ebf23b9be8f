"""The one `tf.data` builder: image files -> batches, for training, evaluation and prediction.

Only file paths and labels are held in memory; each file goes through the one image path of
`deepguard.images` (decode, region, resize: the API's and the app's own code, run by Pillow
inside ``tf.numpy_function``) in parallel as batches are needed, and batches are prefetched
while the model trains. Datasets are finite (no ``.repeat()``): Keras runs one pass per epoch.

Images become float32 RGB in ``[0, 255]``, the whole region squashed to the square
``image_size`` (the aspect ratio is not kept, as in ``keras.utils.image_dataset_from_directory``).
Each backbone's own scaling is inside the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from deepguard.images import (
    DATASET_LIMITS,
    DecodeLimits,
    Region,
    read_input,
    read_region,
    to_model_input,
    whole_image,
)

AUTOTUNE = tf.data.AUTOTUNE

# A perturbation maps one decoded uint8 (h, w, 3) region to another uint8 image before the
# resize (robustness: JPEG, blur, down-scaling); it is called as perturbation(image, size).
Perturbation = Callable[[tf.Tensor, int], tf.Tensor]


def file_loader(
    image_size: int,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region = whole_image,
    perturbation: Perturbation | None = None,
) -> Callable[[tf.Tensor], tf.Tensor]:
    """A graph-mode function: one file path -> float32 ``(image_size, image_size, 3)``.

    Without a perturbation the whole path runs in one ``tf.numpy_function`` call; with one,
    the decoded region comes back to TensorFlow for the perturbation and is resized after it.
    """

    def python_input(path: bytes) -> np.ndarray:
        return read_input(os.fsdecode(path), image_size, limits, region)

    def python_region(path: bytes) -> np.ndarray:
        return read_region(os.fsdecode(path), limits, region)

    def python_resize(pixels: np.ndarray) -> np.ndarray:
        return to_model_input(pixels, image_size)

    def load(path: tf.Tensor) -> tf.Tensor:
        if perturbation is None:
            image = tf.numpy_function(python_input, [path], tf.float32, stateful=False)
        else:
            pixels = tf.numpy_function(python_region, [path], tf.uint8, stateful=False)
            pixels.set_shape([None, None, 3])
            pixels = perturbation(pixels, image_size)
            image = tf.numpy_function(python_resize, [pixels], tf.float32, stateful=False)
        image.set_shape([image_size, image_size, 3])
        return image

    return load


def make_dataset(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[float] | None = None,
    *,
    image_size: int,
    batch_size: int,
    shuffle: bool = False,
    shuffle_buffer: int = 2048,
    augment: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
    perturbation: Perturbation | None = None,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region = whole_image,
    num_parallel_calls: int | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A finite, batched dataset of images (and labels when given) read from `paths`.

    Args:
        paths: image files, each passing `deepguard.images.check_image` with the same
            `limits` and `region` (`DataModule` scans them), else iteration stops there.
        labels: 1 = fake, 0 = real; ``None`` for a dataset of images only (prediction).
        image_size: side of the square output images, in pixels.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: reshuffle the file order every epoch (training); otherwise batches keep the
            order of `paths`.
        shuffle_buffer: how many file paths the shuffle draws from (paths, not pixels).
        augment: called as ``augment(image, seed)`` on one float32 image after resizing,
            e.g. an `Augmenter`; `seed` is 2 integers drawn per element and epoch.
        perturbation: applied to the decoded uint8 region before the resize (robustness).
        limits: what each file may be (`deepguard.images.DATASET_LIMITS` by default).
        region: the part of each image the model sees (`whole_image` today).
        num_parallel_calls: decode threads; ``None`` lets tf.data tune it.
        seed: seeds the shuffle so that the epoch orders repeat from run to run.

    Returns:
        ``tf.data.Dataset`` of ``(images, labels)`` or of ``images``: images float32
        ``(B, image_size, image_size, 3)`` in ``[0, 255]``, labels float32 ``(B,)``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    paths = [os.fspath(p) for p in paths]
    columns: tuple = (tf.constant(paths, tf.string),)
    if labels is not None:
        columns += (tf.constant(np.asarray(labels, dtype=np.float32)),)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle and len(paths) > 1:
        # Shuffling paths before decoding keeps the buffer small (bytes per entry, not pixels).
        dataset = dataset.shuffle(
            min(shuffle_buffer, len(paths)), seed=seed, reshuffle_each_iteration=True
        )
    load = _element_loader(file_loader(image_size, limits, region, perturbation), augment)
    if augment is not None:
        # One random number per element and epoch seeds the augmentation statelessly, so the
        # map stays parallel (and repeatable) under tf.config.experimental.enable_op_determinism.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, draws).map(lambda columns, r: (*columns, r))
    parallel = AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    # deterministic=True keeps batches in the order of `paths` while decoding in parallel.
    dataset = dataset.map(load, num_parallel_calls=parallel, deterministic=not shuffle)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def _element_loader(load_file: Callable[[tf.Tensor], tf.Tensor], augment) -> Callable:
    """``(path, [label], [draw]) -> (image, [label])``: load, then augment with the draw."""

    def load(path, *rest):
        image = load_file(path)
        if augment is not None:
            *rest, draw = rest
            image = augment(image, tf.stack([draw, tf.constant(0, tf.int64)]))
        return (image, *rest) if rest else image

    return load
