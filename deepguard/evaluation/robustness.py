"""Robustness: score the same images after JPEG re-encoding, Gaussian blur and down-scaling.

Each perturbation is a TensorFlow op on the decoded uint8 image, applied before the resize
to the model's input size, inside the `tf.data` map: images stream batch by batch, so the
table costs one pass over the files per perturbation and never holds the set in memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from deepguard.data.pipeline import Perturbation, make_dataset
from deepguard.evaluation.inputs import model_image_size, predict_probabilities
from deepguard.evaluation.metrics import compute_metrics
from deepguard.images import FileRegions, Region, whole_image


def jpeg(quality: int) -> Perturbation:
    """Re-encode as JPEG at `quality` (1-100), as a platform re-compressing an upload would."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100; got {quality}")

    def apply(image: tf.Tensor, image_size: int) -> tf.Tensor:
        return tf.image.adjust_jpeg_quality(image, quality)

    return apply


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1D Gaussian of standard deviation `sigma` pixels, radius ceil(3 sigma)."""
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).astype(np.float32)


def gaussian_blur(sigma: float) -> Perturbation:
    """Blur with a Gaussian of `sigma` pixels at the decoded (original) resolution.

    Separable, with replicated borders, rounded back to uint8. Each pass is a matrix product
    with a banded (side x side) blur matrix: much faster on CPU than a depthwise convolution
    with a long kernel.
    """
    if sigma <= 0:
        raise ValueError(f"blur sigma must be positive (pixels); got {sigma}")
    kernel = tf.constant(gaussian_kernel(sigma))
    radius = int(kernel.shape[0]) // 2

    # cumulative[n] = the sum of the first (or, the kernel being symmetric, the last) n taps.
    cumulative = tf.concat([[0.0], tf.cumsum(kernel)], axis=0)

    def blur_matrix(side: tf.Tensor) -> tf.Tensor:
        # Row i holds the taps at columns i-r..i+r; taps past an edge land on the edge pixel
        # (replicated border), so every row sums to 1.
        index = tf.range(side)
        offset = index[None, :] - index[:, None]
        taps = tf.gather(kernel, tf.clip_by_value(offset + radius, 0, 2 * radius))
        matrix = tf.where(tf.abs(offset) <= radius, taps, 0.0)
        before = tf.gather(cumulative, tf.clip_by_value(radius - index, 0, 2 * radius + 1))
        after = tf.gather(
            cumulative, tf.clip_by_value(radius - (side - 1 - index), 0, 2 * radius + 1)
        )
        first, last = tf.one_hot(0, side), tf.one_hot(side - 1, side)
        return matrix + before[:, None] * first[None, :] + after[:, None] * last[None, :]

    def apply(image: tf.Tensor, image_size: int) -> tf.Tensor:
        pixels = tf.cast(image, tf.float32)
        shape = tf.shape(pixels)
        pixels = tf.einsum("ij,jwc->iwc", blur_matrix(shape[0]), pixels)
        pixels = tf.einsum("wk,ikc->iwc", blur_matrix(shape[1]), pixels)
        return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)

    return apply


def downscale(factor: float) -> Perturbation:
    """Shrink to `factor` x the resolution the model would see, then let the resize enlarge it.

    The model sees min(original side, S) pixels per side, S its input size; shrinking that
    by `factor` always removes detail, whatever the source resolution.
    """
    if not 0 < factor < 1:
        raise ValueError(f"down-scaling factor must be between 0 and 1; got {factor}")

    def apply(image: tf.Tensor, image_size: int) -> tf.Tensor:
        shape = tf.shape(image)
        seen = tf.minimum(shape[:2], image_size)
        target = tf.maximum(1, tf.cast(tf.round(tf.cast(seen, tf.float32) * factor), tf.int32))
        small = tf.image.resize(image, target, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(small), 0.0, 255.0), tf.uint8)

    return apply


@dataclass(frozen=True)
class PerturbationSpec:
    """One row of the robustness table: a perturbation kind and its parameter."""

    perturbation: str
    parameter: float

    def build(self) -> Perturbation:
        if self.perturbation == "jpeg":
            return jpeg(int(self.parameter))
        if self.perturbation == "gaussian_blur":
            return gaussian_blur(float(self.parameter))
        if self.perturbation == "downscale":
            return downscale(float(self.parameter))
        raise ValueError(
            f"unknown perturbation '{self.perturbation}'; available: jpeg (quality), "
            "gaussian_blur (sigma in pixels), downscale (factor)"
        )


# JPEG quality, blur sigma in pixels and down-scaling factor, as the field reports them.
DEFAULT_PERTURBATIONS = (
    PerturbationSpec("jpeg", 90),
    PerturbationSpec("jpeg", 75),
    PerturbationSpec("jpeg", 50),
    PerturbationSpec("jpeg", 30),
    PerturbationSpec("gaussian_blur", 1),
    PerturbationSpec("gaussian_blur", 2),
    PerturbationSpec("gaussian_blur", 3),
    PerturbationSpec("downscale", 0.5),
    PerturbationSpec("downscale", 0.25),
)

TABLE_METRICS = ("accuracy", "roc_auc", "average_precision")


def robustness_table(
    model,
    paths: Sequence[str | Path],
    labels: Sequence[int],
    threshold: float = 0.5,
    batch_size: int = 32,
    perturbations: Sequence[PerturbationSpec] = DEFAULT_PERTURBATIONS,
    clean_probabilities: np.ndarray | None = None,
    region: Region | FileRegions = whole_image,
) -> pd.DataFrame:
    """Accuracy, ROC AUC and AP on the clean images and after each perturbation.

    Args:
        model: a Keras detector; its input size sets S.
        paths / labels: the images and their labels (1 = fake), in the same order.
        threshold: decision threshold for accuracy.
        batch_size: images per batch; only one batch of pixels is in memory at a time.
        perturbations: the rows to compute, `DEFAULT_PERTURBATIONS` by default.
        clean_probabilities: the clean scores if already computed (saves one pass).
        region: the part of each image the model sees (each file's face crop with faces
            on); the perturbation applies to it, before the resize.

    Returns:
        One row for `clean` and one per perturbation, with columns perturbation, parameter,
        accuracy, roc_auc, average_precision and their `delta_*` against clean.
    """
    image_size = model_image_size(model)
    y_true = np.asarray(labels, dtype=np.int64)
    if clean_probabilities is None:
        clean_probabilities = predict_probabilities(
            model,
            make_dataset(paths, image_size=image_size, batch_size=batch_size, region=region),
        )
    clean = compute_metrics(y_true, clean_probabilities, threshold)
    rows = [{"perturbation": "clean", "parameter": float("nan")} | _row(clean, clean)]
    for spec in perturbations:
        batches = make_dataset(
            paths,
            image_size=image_size,
            batch_size=batch_size,
            perturbation=spec.build(),
            region=region,
        )
        scores = compute_metrics(y_true, predict_probabilities(model, batches), threshold)
        rows.append(
            {"perturbation": spec.perturbation, "parameter": float(spec.parameter)}
            | _row(scores, clean)
        )
    return pd.DataFrame(rows)


def _row(scores: dict[str, float], clean: dict[str, float]) -> dict[str, float]:
    row = {name: scores[name] for name in TABLE_METRICS}
    row |= {f"delta_{name}": scores[name] - clean[name] for name in TABLE_METRICS}
    return row
