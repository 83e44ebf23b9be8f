"""Robustness: perturbations change pixels and scores; the table has every row."""

import numpy as np
import pytest
import tensorflow as tf
from evaluation_helpers import high_frequency_detector, laplacian_energy, noise_image

from deepguard.data.pipeline import make_dataset
from deepguard.evaluation.robustness import (
    DEFAULT_PERTURBATIONS,
    PerturbationSpec,
    downscale,
    gaussian_blur,
    gaussian_kernel,
    jpeg,
    robustness_table,
)

SIZE = 32


def energies(records, perturbation=None):
    return laplacian_energy(
        SIZE,
        make_dataset(records["path"], image_size=SIZE, batch_size=8, perturbation=perturbation),
    )


@pytest.fixture
def detector_and_clean(records):
    """A high-frequency detector whose threshold sits between the clean fakes and reals."""
    clean = energies(records)
    fakes, reals = clean[records["label"] == 1], clean[records["label"] == 0]
    assert fakes.min() > reals.max(), "test images: noise must carry more high frequency"
    bias = (fakes.min() + reals.max()) / 2
    return high_frequency_detector(SIZE, bias, scale=(fakes.min() - reals.max()) / 10), clean


def test_table_has_clean_and_all_nine_perturbations(records, detector_and_clean):
    model, _ = detector_and_clean
    table = robustness_table(model, records["path"], records["label"], batch_size=4)

    assert list(table.columns) == [
        "perturbation",
        "parameter",
        "accuracy",
        "roc_auc",
        "average_precision",
        "delta_accuracy",
        "delta_roc_auc",
        "delta_average_precision",
    ]
    assert list(zip(table["perturbation"], table["parameter"], strict=True))[1:] == [
        ("jpeg", 90),
        ("jpeg", 75),
        ("jpeg", 50),
        ("jpeg", 30),
        ("gaussian_blur", 1),
        ("gaussian_blur", 2),
        ("gaussian_blur", 3),
        ("downscale", 0.5),
        ("downscale", 0.25),
    ]
    clean = table.iloc[0]
    assert clean["perturbation"] == "clean" and clean["accuracy"] == 1.0
    assert (table["delta_accuracy"] == table["accuracy"] - clean["accuracy"]).all()
    # Blur and down-scaling erase the noise the detector looks for: fakes pass as real.
    blurred = table[table["perturbation"].isin(["gaussian_blur", "downscale"])]
    assert (blurred["accuracy"] < clean["accuracy"]).all()


def test_jpeg_q30_changes_pixels_and_scores(records):
    image = tf.constant(noise_image(np.random.default_rng(1)))
    compressed = jpeg(30)(image, SIZE)
    assert compressed.dtype == tf.uint8 and compressed.shape == image.shape
    changed = np.abs(compressed.numpy().astype(int) - image.numpy().astype(int)).mean()
    assert changed > 10  # grey levels: q30 rewrites noise heavily

    clean, squeezed = energies(records), energies(records, jpeg(30))
    fakes = records["label"].to_numpy() == 1
    assert np.abs(squeezed[fakes] - clean[fakes]).min() > 0.02 * clean[fakes].min()
    assert (
        np.abs(energies(records, jpeg(90))[fakes] - clean[fakes]).mean()
        < np.abs(squeezed[fakes] - clean[fakes]).mean()
    )


def test_stronger_blur_and_downscaling_remove_more_high_frequency(records):
    clean = energies(records)
    sigma_1, sigma_3 = energies(records, gaussian_blur(1)), energies(records, gaussian_blur(3))
    assert (sigma_3 < sigma_1).all() and (sigma_1 < clean).all()
    half, quarter = energies(records, downscale(0.5)), energies(records, downscale(0.25))
    assert (half < clean).all() and (quarter.mean() < half.mean())


@pytest.mark.parametrize("sigma", [1, 2, 3])
def test_blur_equals_a_reference_gaussian_filter(sigma):
    from scipy.ndimage import gaussian_filter1d

    image = np.random.default_rng(sigma).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    ours = gaussian_blur(sigma)(tf.constant(image), SIZE).numpy()
    # Replicated borders ("nearest") and a radius of ceil(3 sigma), on both axes.
    reference = image.astype(np.float64)
    for axis in (0, 1):
        reference = gaussian_filter1d(reference, sigma, axis=axis, mode="nearest", truncate=3.0)
    # At most one grey level apart: float32 here against float64 there, then rounding.
    np.testing.assert_allclose(ours, np.round(reference), atol=1)


def test_blur_keeps_shape_and_mean_even_for_tiny_images():
    kernel = gaussian_kernel(2.0)
    assert kernel.sum() == pytest.approx(1.0) and kernel.size == 13
    for shape in [(1, 1, 3), (2, 5, 3), (40, 30, 3)]:
        image = tf.constant(np.full(shape, 100, dtype=np.uint8))
        blurred = gaussian_blur(3)(image, SIZE)
        assert blurred.shape == shape
        assert (blurred.numpy() == 100).all()  # a flat image stays flat


def test_downscale_is_relative_to_what_the_model_sees():
    big = tf.zeros((240, 120, 3), tf.uint8)
    # The model sees at most 32 px per side; a 0.5 shrink leaves 16.
    assert downscale(0.5)(big, 32).shape == (16, 16, 3)
    small = tf.zeros((20, 10, 3), tf.uint8)
    assert downscale(0.25)(small, 32).shape == (5, 2, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (PerturbationSpec("jpeg", 0), "JPEG quality must be in 1..100"),
        (PerturbationSpec("gaussian_blur", 0), "blur sigma must be positive"),
        (PerturbationSpec("downscale", 2), "between 0 and 1"),
        (PerturbationSpec("sharpen", 1), "unknown perturbation 'sharpen'; available: jpeg"),
    ],
)
def test_bad_perturbations_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        spec.build()


def test_default_perturbations_all_build():
    assert len(DEFAULT_PERTURBATIONS) == 9
    for spec in DEFAULT_PERTURBATIONS:
        assert callable(spec.build())
