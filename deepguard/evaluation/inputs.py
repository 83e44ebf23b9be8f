"""What evaluation and prediction share: a model's input size, batched scoring, file lists.

Pixels come from the one image path (`deepguard.images` through
`deepguard.data.pipeline.make_dataset`, or `deepguard.images.read_input` for one file), so
evaluation, robustness, prediction, training, the API and the app all see the same pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from deepguard.images import has_image_suffix


def model_image_size(model) -> int:
    """The square input side of a detector, read from its input shape."""
    shape = model.input_shape
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(
            f"expected a detector with a square RGB input (batch, S, S, 3); got input shape "
            f"{shape}: build it with deepguard.models.build_detector"
        )
    return int(shape[1])


def predict_probabilities(model, batches: Iterable) -> np.ndarray:
    """Probabilities of fake for every image of `batches`, in order, as a float64 vector.

    Args:
        model: a Keras detector with one sigmoid output.
        batches: an iterable of image batches (B, S, S, 3), or of `(images, labels)` pairs
            such as `DataModule.test_dataset()` yields; only one batch is in memory at a time.

    Example:
        >>> probs = predict_probabilities(model, make_dataset(paths, image_size=64, batch_size=32))
    """
    chunks = []
    for batch in batches:
        images = batch[0] if isinstance(batch, tuple | list) else batch
        chunks.append(np.asarray(model.predict_on_batch(images), dtype=np.float64).reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float64)


def iter_image_files(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Expand files and folders: yields `(path, has_image_suffix)`, folders recursively, sorted.

    A file named explicitly is always yielded with `True`; inside folders, files without one
    of `deepguard.images.IMAGE_SUFFIXES` are yielded with `False`, so the caller can report
    them as skipped.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield child, has_image_suffix(child)
        elif path.exists():
            yield path, True
        else:
            raise FileNotFoundError(
                f"input '{path}' does not exist; pass an image file or a folder of images"
            )
