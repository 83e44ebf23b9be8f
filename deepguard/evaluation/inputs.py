"""Read image files into model-ready batches, the same way the data pipeline does.

Decoding and resizing match `deepguard.data`: `tf.io.decode_image(channels=3,
expand_animations=False)`, or Pillow (EXIF orientation applied, converted to RGB) for the
files the data scan marks `decoder == "pillow"` (EXIF-rotated JPEGs, BMP modes TensorFlow
cannot read); then `tf.image.resize` (bilinear, antialias) to the model's input size, float32
RGB in [0, 255]. Evaluation, robustness and prediction all read through here, so a clean
score and a perturbed score differ only by the perturbation.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

# Suffixes a folder scan picks up (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Formats prediction accepts, as Pillow names them (the formats the data pipeline reads).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
# BMP modes tf.io.decode_bmp reads; other BMPs go through Pillow, as in the data pipeline.
TF_BMP_MODES = ("RGB", "RGBA")
# The largest image prediction decodes, in pixels (a guard against decompression bombs).
MAX_PIXELS = 64_000_000

# A perturbation maps one decoded uint8 (H, W, 3) image to another uint8 image before the resize.
Perturbation = Callable[[tf.Tensor, int], tf.Tensor]


def decode_bytes(data: tf.Tensor | bytes) -> tf.Tensor:
    """Decode JPEG/PNG/WebP/BMP/GIF bytes to a uint8 (H, W, 3) RGB tensor (first frame)."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def pillow_rgb(path: str | bytes) -> np.ndarray:
    """Decode with Pillow: EXIF orientation applied, any mode converted to uint8 RGB."""
    path = path.decode() if isinstance(path, bytes) else path
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)


def resize_to_model(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """Resize a decoded image to (image_size, image_size, 3) float32 in [0, 255]."""
    resized = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(tf.cast(resized, tf.float32), 0.0, 255.0)


def model_image_size(model) -> int:
    """The square input side of a detector, read from its input shape."""
    shape = model.input_shape
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(
            f"expected a detector with a square RGB input (batch, S, S, 3); got input shape "
            f"{shape}: build it with deepguard.models.build_detector"
        )
    return int(shape[1])


def image_dataset(
    paths: Sequence[str | Path],
    image_size: int,
    batch_size: int = 32,
    perturbation: Perturbation | None = None,
    use_pillow: Sequence[bool] | None = None,
) -> tf.data.Dataset:
    """A finite dataset of float32 batches (B, S, S, 3) for `paths`, in their order.

    Args:
        paths: image files; every one must decode (use `read_for_prediction` for untrusted files).
        image_size: the model's input side S in pixels.
        batch_size: images per batch.
        perturbation: applied to the decoded uint8 image before the resize (robustness).
        use_pillow: per file, decode with Pillow (the records' `decoder == "pillow"`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    paths = [str(p) for p in paths]
    flags = [False] * len(paths) if use_pillow is None else [bool(f) for f in use_pillow]

    def with_pillow(path: tf.Tensor) -> tf.Tensor:
        image = tf.numpy_function(pillow_rgb, [path], tf.uint8, stateful=False)
        image.set_shape([None, None, 3])
        return image

    def load(path: tf.Tensor, pillow: tf.Tensor) -> tf.Tensor:
        image = tf.cond(
            pillow, lambda: with_pillow(path), lambda: decode_bytes(tf.io.read_file(path))
        )
        if perturbation is not None:
            image = perturbation(image, image_size)
        return resize_to_model(image, image_size)

    files = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths, tf.string), tf.constant(flags, tf.bool))
    )
    # deterministic=True keeps batches in the order of `paths` while decoding in parallel.
    images = files.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return images.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def predict_probabilities(model, batches: Iterable) -> np.ndarray:
    """Probabilities of fake for every image of `batches`, in order, as a float64 vector.

    Args:
        model: a Keras detector with one sigmoid output.
        batches: an iterable of image batches (B, S, S, 3), or of `(images, labels)` pairs
            such as `DataModule.test_dataset()` yields; only one batch is in memory at a time.

    Example:
        >>> probs = predict_probabilities(model, image_dataset(paths, 64))
    """
    chunks = []
    for batch in batches:
        images = batch[0] if isinstance(batch, tuple | list) else batch
        chunks.append(np.asarray(model.predict_on_batch(images), dtype=np.float64).reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float64)


def read_for_prediction(path: str | Path, image_size: int) -> np.ndarray:
    """Read one untrusted file into a float32 (S, S, 3) array; raise ValueError if unusable.

    The file is checked with Pillow first (format allow-list, size limit, full decode), then
    decoded as the data pipeline would decode it: TensorFlow, or Pillow for EXIF-rotated
    images and BMP modes TensorFlow cannot read.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format not in ALLOWED_FORMATS:
                    raise ValueError(
                        f"'{path}' is a {image.format} image; only "
                        f"{', '.join(ALLOWED_FORMATS)} are scored"
                    )
                if image.width * image.height > MAX_PIXELS:
                    raise ValueError(
                        f"'{path}' has {image.width}x{image.height} pixels, above the limit of "
                        f"{MAX_PIXELS}; shrink it first"
                    )
                image.load()  # decodes every pixel: catches truncated files
                orientation = image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1)
                needs_pillow = orientation not in (0, 1) or (
                    image.format == "BMP" and image.mode not in TF_BMP_MODES
                )
    except UnidentifiedImageError:
        raise ValueError(f"'{path}' is not an image (no known image format in its bytes)") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot decode '{path}': {error}") from None
    except Image.DecompressionBombWarning as error:
        raise ValueError(f"'{path}' is too large to decode safely: {error}") from None
    if needs_pillow:
        pixels = tf.constant(pillow_rgb(str(path)))
    else:
        try:
            pixels = decode_bytes(tf.io.read_file(str(path)))
        except tf.errors.InvalidArgumentError as error:
            # Keep TensorFlow's reason, not its op plumbing.
            reason = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", str(error), flags=re.DOTALL).strip()
            raise ValueError(f"cannot decode '{path}': {reason}") from None
    return resize_to_model(pixels, image_size).numpy()


def iter_image_files(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Expand files and folders: yields `(path, is_image_suffix)`, folders recursively, sorted.

    A file named explicitly is always yielded; inside folders only files with an image suffix
    are, the others are yielded with `False` so the caller can report them as skipped.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield child, child.suffix.lower() in IMAGE_SUFFIXES
        elif path.exists():
            yield path, True
        else:
            raise FileNotFoundError(
                f"input '{path}' does not exist; pass an image file or a folder of images"
            )
