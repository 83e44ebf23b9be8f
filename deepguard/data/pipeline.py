"""The one `tf.data` builder: image files -> batches, for training, evaluation and prediction.

Only file paths and labels are held in memory; each file goes through the one image path of
`deepguard.images` (decode, region, resize: the API's and the app's own code, run by Pillow
inside ``tf.numpy_function``) in parallel as batches are needed, and batches are prefetched
while the model trains. Datasets are finite (no ``.repeat()``): Keras runs one pass per epoch.

Images become float32 RGB in ``[0, 255]``, the whole region squashed to the square
``image_size`` (the aspect ratio is not kept, as in ``keras.utils.image_dataset_from_directory``).
Each backbone's own scaling is inside the model. Virtual fake records (`SynthesizedFakes`)
get their pixels after the resize and before augmentation::

    paths -> shuffle -> read, decode, region, resize -> synthesize fakes -> augment -> batch
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from deepguard.images import (
    DATASET_LIMITS,
    DecodeLimits,
    FileRegions,
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


@dataclass(frozen=True)
class SynthesizedFakes:
    """Which elements of a dataset are virtual fake records, and how their pixels are made.

    Attributes:
        make_fake: ``make_fake(image, generator, seed, landmarks)``, e.g.
            `deepguard.fakes.FakeSynthesizer.make_fake`.
        generators: the generator of each element (the kind, on virtual records).
        synthetic: True where the element is a virtual record.
        seeds: int64 seed of each element's fake (ignored on real elements).
        landmarks: float32 ``(N, 5, 2)`` face landmarks in model-input pixels (NaN: none, SBI
            then uses a face ellipse), or ``None`` for none at all.
        epoch_seed: a new fake every epoch, repeatable from this seed (training); ``None``
            makes the same fake from a record on every pass (validation, test).
    """

    make_fake: Callable[..., np.ndarray]
    generators: Sequence[str]
    synthetic: Sequence[bool]
    seeds: Sequence[int]
    landmarks: np.ndarray | None = None
    epoch_seed: int | None = None

    def columns(self) -> tuple[tf.Tensor, ...]:
        """The dataset columns that follow ``(path, label)``."""
        columns = (
            tf.constant(np.asarray(self.generators, dtype=str)),
            tf.constant(np.asarray(self.synthetic, dtype=bool)),
            tf.constant(np.asarray(self.seeds, dtype=np.int64)),
        )
        if self.landmarks is not None:
            columns += (tf.constant(np.asarray(self.landmarks, dtype=np.float32)),)
        return columns


def file_loader(
    image_size: int,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region | FileRegions = whole_image,
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
    region: Region | FileRegions = whole_image,
    num_parallel_calls: int | None = None,
    seed: int | None = None,
    fakes: SynthesizedFakes | None = None,
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
        region: the part of each image the model sees: a `Region`, or `FileRegions` that
            give each file its own (each file's face crop).
        num_parallel_calls: decode threads; ``None`` lets tf.data tune it.
        seed: seeds the shuffle so that the epoch orders repeat from run to run.
        fakes: the virtual fake records among `paths` (needs `labels`); their pixels are
            made from the resized real image, before augmentation.

    Returns:
        ``tf.data.Dataset`` of ``(images, labels)`` or of ``images``: images float32
        ``(B, image_size, image_size, 3)`` in ``[0, 255]``, labels float32 ``(B,)``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    dataset = _records(paths, labels, fakes)
    if shuffle and len(paths) > 1:
        # Shuffling paths before decoding keeps the buffer small (bytes per entry, not pixels).
        dataset = dataset.shuffle(
            min(shuffle_buffer, len(paths)), seed=seed, reshuffle_each_iteration=True
        )
    load_file = file_loader(image_size, limits, region, perturbation)
    parallel = AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    # deterministic=True keeps batches in the order of `paths` while decoding in parallel.
    dataset = dataset.map(
        lambda path, *rest: (load_file(path), *rest) if rest else load_file(path),
        num_parallel_calls=parallel,
        deterministic=not shuffle,
    )
    if fakes is not None:
        dataset = _synthesize(dataset, fakes, parallel, deterministic=not shuffle)
    if augment is not None:
        dataset = _augment(dataset, augment, seed, parallel, deterministic=not shuffle)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def _records(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[float] | None,
    fakes: SynthesizedFakes | None,
) -> tf.data.Dataset:
    """One element per file: ``path``, then the label and the fakes' columns when given."""
    if fakes is not None and labels is None:
        raise ValueError("synthesized fakes need labels: pass the records' labels with them")
    columns: tuple = (tf.constant([os.fspath(p) for p in paths], tf.string),)
    if labels is not None:
        columns += (tf.constant(np.asarray(labels, dtype=np.float32)),)
    if fakes is not None:
        columns += fakes.columns()
    return tf.data.Dataset.from_tensor_slices(columns)


def _synthesize(
    dataset: tf.data.Dataset, fakes: SynthesizedFakes, parallel: int, deterministic: bool
) -> tf.data.Dataset:
    """``(image, label, generator, synthetic, seed[, landmarks]) -> (image, label)``."""
    from deepguard.fakes.stream import synthesize_fakes

    dataset = synthesize_fakes(
        dataset,
        fakes.make_fake,
        epoch_seed=fakes.epoch_seed,
        num_parallel_calls=parallel,
        deterministic=deterministic,
    )
    return dataset.map(lambda image, label, generator: (image, label))


def _augment(
    dataset: tf.data.Dataset, augment: Callable, seed: int | None, parallel: int, deterministic
) -> tf.data.Dataset:
    """``(image, [label]) -> (augmented image, [label])``, seeded per element and epoch."""
    # One random number per element and epoch seeds the augmentation statelessly, so the map
    # stays parallel (and repeatable) under tf.config.experimental.enable_op_determinism.
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def augment_element(element, draw):
        image, *rest = element if isinstance(element, tuple) else (element,)
        image = augment(image, tf.stack([draw, tf.constant(0, tf.int64)]))
        return (image, *rest) if rest else image

    return tf.data.Dataset.zip(dataset, draws).map(
        augment_element, num_parallel_calls=parallel, deterministic=deterministic
    )
