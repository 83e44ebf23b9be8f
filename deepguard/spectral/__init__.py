"""Frequency-domain views of images: spectra, azimuthal profiles, dataset means, baseline.

Imports no training code; the pipeline, the app and the API share it. See
``deepguard.spectral.transforms`` for the conventions (units, log, sizes).
"""

from deepguard.spectral.baseline import profile_baseline
from deepguard.spectral.dataset import compute_dataset_spectra
from deepguard.spectral.mean_spectra import MeanSpectra
from deepguard.spectral.plots import plot_mean_difference, plot_profiles, plot_spectrum
from deepguard.spectral.transforms import (
    azimuthal_average,
    azimuthal_profile,
    log_magnitude_spectrum,
    profile_frequencies,
    resize_images,
    spectrum_to_profile,
    to_grayscale,
)

__all__ = [
    "MeanSpectra",
    "azimuthal_average",
    "azimuthal_profile",
    "compute_dataset_spectra",
    "log_magnitude_spectrum",
    "plot_mean_difference",
    "plot_profiles",
    "plot_spectrum",
    "profile_baseline",
    "profile_frequencies",
    "resize_images",
    "spectrum_to_profile",
    "to_grayscale",
]
