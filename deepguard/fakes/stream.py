"""Synthesized fakes inside `tf.data`: the map a dataset module adds after decoding.

The dataset module builds its dataset from the records table as usual, with two more
columns (`record_columns` gives all five), decodes and resizes each image, and then calls
`synthesize_fakes` (or `FakeSynthesizer.apply`), before augmentation and batching::

    records = fakes.extend_records(records)            # in setup, after splitting
    path, label, generator, synthetic, seed = record_columns(records)
    dataset = tf.data.Dataset.from_tensor_slices((path, label, generator, synthetic, seed))
    dataset = dataset.shuffle(...)                     # training
    dataset = dataset.map(lambda p, *rest: (load(p), *rest), num_parallel_calls=AUTOTUNE)
    dataset = fakes.apply(dataset)                     # -> (image, label, generator)
    dataset = dataset.map(augment).batch(batch_size)   # fakes are augmented like reals

Only virtual records (``synthetic`` True) run the NumPy synthesis, through
``tf.numpy_function`` with the record's seed (and, with ``fresh_each_epoch``, a per-element
draw of `tf.data.Dataset.random` that changes every epoch), so the map is stateless and
stays parallel and repeatable, like the augmentation's draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import tensorflow as tf

from deepguard.fakes.synthesizer import SEED_COLUMN, SYNTHETIC_COLUMN

AUTOTUNE = tf.data.AUTOTUNE
MakeFake = Callable[..., np.ndarray]  # (image, generator, seed, landmarks) -> image
_NO_LANDMARKS = np.full((5, 2), np.nan, dtype=np.float32)


def record_columns(records: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """``(path, label, generator, synthetic, fake_seed)`` arrays of a records table.

    Tables without the synthesis columns (no fakes configured) read as all real.
    """
    rows = len(records)
    synthetic = records.get(SYNTHETIC_COLUMN, pd.Series(False, index=records.index))
    seeds = records.get(SEED_COLUMN, pd.Series(0, index=records.index))
    return (
        records["path"].astype(str).to_numpy(),
        records["label"].to_numpy(dtype=np.float32).reshape(rows),
        records["generator"].astype(str).to_numpy(),
        synthetic.to_numpy(dtype=bool),
        seeds.to_numpy(dtype=np.int64),
    )


def synthesize_fakes(
    dataset: tf.data.Dataset,
    make_fake: MakeFake,
    *,
    epoch_seed: int | None = None,
    num_parallel_calls: int | None = None,
    deterministic: bool | None = None,
) -> tf.data.Dataset:
    """Replace the pixels of every virtual record's element with its synthesized fake.

    Args:
        dataset: elements ``(image, label, generator, synthetic, fake_seed)`` or
            ``(..., landmarks)``: image ``(H, W, 3)`` uint8 or float32, generator a string,
            synthetic a bool, fake_seed int64, landmarks float32 ``(5, 2)`` (NaN: none).
        make_fake: ``make_fake(image, generator, seed, landmarks)`` -> an image of the same
            shape and dtype, e.g. `FakeSynthesizer.make_fake`.
        epoch_seed: seeds a per-element draw that changes every epoch and joins the record's
            seed (a new fake each epoch, the same sequence every run); ``None``: the same
            fake from a record every epoch.
        num_parallel_calls: threads of the map; ``None`` lets tf.data tune it.
        deterministic: keep element order (``None``: the dataset's option).

    Returns:
        Elements ``(image, label, generator)``; real elements pass through untouched.
    """
    if epoch_seed is not None:
        draws = tf.data.Dataset.random(seed=epoch_seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, draws).map(lambda element, d: (*element, d))
    with_draw = epoch_seed is not None

    def numpy_fake(image, generator, seed, landmarks):
        return make_fake(image, generator, seed, landmarks)

    def synthesize(image, label, generator, synthetic, fake_seed, *rest):
        draw = rest[-1] if with_draw else None
        landmarks = rest[0] if len(rest) > int(with_draw) else tf.constant(_NO_LANDMARKS)
        seed = tf.reshape(fake_seed, [1]) if draw is None else tf.stack([fake_seed, draw])

        def fake():
            pixels = tf.numpy_function(
                numpy_fake, [image, generator, seed, landmarks], image.dtype, stateful=False
            )
            pixels.set_shape(image.shape)
            return pixels

        return tf.cond(synthetic, fake, lambda: tf.identity(image)), label, generator

    parallel = AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    return dataset.map(synthesize, num_parallel_calls=parallel, deterministic=deterministic)
