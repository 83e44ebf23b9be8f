"""The issue's check: the spectra stage on the synthetic set shows the up-sampling peaks."""

import numpy as np
import pytest

from deepguard.ingest import ingest
from deepguard.prepare import prepare_dataset
from deepguard.spectral import MeanSpectra, compute_dataset_spectra
from tests.spectral.test_mean_spectra import CONTROLS, prominence

NYQUIST = [(0.0, 0.5), (0.5, 0.0), (0.5, 0.5)]


@pytest.fixture(scope="module")
def synthetic_spectra(tmp_path_factory):
    """ingest (synthetic) -> prepare -> spectra, as the pipeline's first three stages run."""
    root = tmp_path_factory.mktemp("pipeline")
    params = {"n_per_class": 64, "image_size": 64, "seed": 0, "families": None}
    ingest("synthetic", root / "raw", synthetic=params, progress=False)
    prepare_dataset(root / "raw", root / "prepared", progress=False)
    summary = compute_dataset_spectra(
        root / "prepared" / "manifest.csv", root / "spectra", progress=False
    )
    return MeanSpectra.load(root / "spectra" / "mean_spectra.npz"), summary


def test_transposed_convolution_peaks_at_nyquist(synthetic_spectra):
    stats, _ = synthetic_spectra
    spectrum, profile = stats.difference("transposed_conv")
    # Zero insertion + an uneven 4x4 kernel: a checkerboard, i.e. energy at 0.5 cycles/pixel
    # on both axes and on the diagonal corner. The default difficulty keeps 0.6 of the trace
    # and down-scales or JPEG-compresses half the images, so the peaks are lower than the full
    # trace's (tests/data/test_synthetic.py) but still stand out by e^2, over 7x the power.
    for frequency in NYQUIST:
        assert prominence(spectrum, *frequency) > 2.0, frequency
    for frequency in CONTROLS:
        assert abs(prominence(spectrum, *frequency)) < 1.0, frequency
    # In 1D, the fake-minus-real difference climbs over the last quarter of the band (by about
    # a third of a log unit at the default difficulty, where the 2D peaks above are diluted).
    tail = profile[-len(profile) // 4 :]
    assert tail[-1] - tail.min() > 0.2


def test_families_without_zero_insertion_show_no_corner_peak(synthetic_spectra):
    stats, _ = synthetic_spectra
    for family in ("upsample_nearest", "upsample_bilinear", "lowpass"):
        spectrum, profile = stats.difference(family)
        # Interpolating up-samplers (and a blur) zero the Nyquist corner instead of filling it.
        assert prominence(spectrum, 0.5, 0.5) < 1.0, family
        # What they share is a high-frequency deficit: fakes fall below reals near Nyquist.
        assert np.mean(profile[-8:]) < -1.0, family


def test_profile_baseline_on_synthetic_data(synthetic_spectra):
    _, summary = synthetic_spectra
    assert summary["n_real"] == summary["n_fake"] == 64
    assert summary["baseline"]["test"]["roc_auc"] > 0.9
