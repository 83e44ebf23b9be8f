"""Up-sampling fakes from real images keep shape and dtype and carry the layer's spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from deepguard.fakes import FakeSynthesizer, UpsamplingSimulator
from deepguard.spectral import azimuthal_profile, log_magnitude_spectrum
from tests.fakes.conftest import photo
from tests.spectral.test_mean_spectra import CONTROLS, prominence

NYQUIST = [(0.0, 0.5), (0.5, 0.0), (0.5, 0.5)]
FAMILIES = ["nearest", "bilinear", "transposed_conv"]


def synthesizer(families=FAMILIES, seed: int = 0) -> FakeSynthesizer:
    maker = UpsamplingSimulator(families=families, seed=seed)
    return FakeSynthesizer({"upsampling": maker}, {"upsampling": 1.0}, seed=seed)


@pytest.fixture(scope="module")
def reals() -> np.ndarray:
    return np.stack([photo(i, 64) for i in range(24)])


def fakes_of(reals: np.ndarray, family: str) -> np.ndarray:
    fakes = synthesizer()
    return np.stack([fakes.make_fake(r, f"upsampling-{family}", i) for i, r in enumerate(reals)])


@pytest.mark.parametrize("shape", [(64, 64, 3), (33, 50, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_fakes_keep_shape_and_dtype(shape, dtype):
    source = photo(3, 64)[: shape[0], : shape[1]].astype(dtype)
    for family in FAMILIES:
        fake = synthesizer().make_fake(source, f"upsampling-{family}", 9)
        assert fake.shape == source.shape and fake.dtype == source.dtype, family
        assert fake.min() >= 0 and fake.max() <= 255
        assert not np.array_equal(fake, source)


def test_transposed_convolution_fakes_peak_at_nyquist(reals):
    difference = log_magnitude_spectrum(fakes_of(reals, "transposed_conv")).mean(0)
    difference -= log_magnitude_spectrum(reals).mean(0)
    # Zero insertion and an uneven 4x4 kernel: a checkerboard, energy at 0.5 cycles/pixel.
    for frequency in NYQUIST:
        assert prominence(difference, *frequency) > 3.0, frequency
    for frequency in CONTROLS:
        assert abs(prominence(difference, *frequency)) < 1.0, frequency


@pytest.mark.parametrize("family", ["nearest", "bilinear"])
def test_interpolating_fakes_lose_the_high_frequency_band(reals, family):
    difference = azimuthal_profile(fakes_of(reals, family)).mean(0)
    difference -= azimuthal_profile(reals).mean(0)
    low_band, high_band = difference[: len(difference) // 4], difference[-8:]
    assert abs(low_band.mean()) < 0.5  # the photo's content is kept
    assert high_band.mean() < -1.0  # a 2x up-sampler cannot restore what is above N/4


def test_same_seed_same_fake_and_a_pool_of_fixed_generators(reals):
    fakes = synthesizer()
    first = fakes.make_fake(reals[0], "upsampling-transposed_conv", 42)
    np.testing.assert_array_equal(
        first, synthesizer().make_fake(reals[0], "upsampling-transposed_conv", 42)
    )
    others = {
        fakes.make_fake(reals[0], "upsampling-transposed_conv", s).tobytes() for s in range(40)
    }
    # 40 seeds draw from a pool of 16 kernel sets: repeats, but more than one generator.
    assert 1 < len(others) <= 16
    other_pool = synthesizer(seed=1).make_fake(reals[0], "upsampling-transposed_conv", 42)
    assert not np.array_equal(first, other_pool)


def test_unknown_families_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="nearest"):
        UpsamplingSimulator(families=["bicubic"])
    with pytest.raises(ValueError, match="upsampling-nearest"):
        synthesizer(["nearest"]).make_fake(photo(0, 32), "upsampling-bilinear", 0)
