import numpy as np
import pytest

from deepguard.spectral import MeanSpectra
from tests.spectral.helpers import downsample2, smooth_fields, upsample2


def prominence(spectrum: np.ndarray, fy: float, fx: float) -> float:
    """Value at a frequency minus the median of its 9x9 neighbourhood (centre 3x3 left out)."""
    h, w = spectrum.shape
    i, j = round(h // 2 + fy * h) % h, round(w // 2 + fx * w) % w
    window = np.roll(spectrum, (h // 2 - i, w // 2 - j), axis=(0, 1))
    window = window[h // 2 - 4 : h // 2 + 5, w // 2 - 4 : w // 2 + 5].astype(np.float64)
    centre = window[4, 4]
    window[3:6, 3:6] = np.nan
    return float(centre - np.nanmedian(window))


def upsampled_dataset(rng, factor_log2: int, n: int = 32, size: int = 64) -> MeanSpectra:
    """Reals: smooth fields. Fakes: the same kind, down-sampled then re-up-sampled k times."""
    fakes = smooth_fields(rng, n, size)
    for _ in range(factor_log2):
        fakes = downsample2(fakes)
    for _ in range(factor_log2):
        fakes = upsample2(fakes)
    stats = MeanSpectra()
    stats.update(smooth_fields(rng, n, size), np.zeros(n), ["real"] * n)
    stats.update(fakes, np.ones(n), [f"up{2**factor_log2}x"] * n)
    return stats


# Off-axis frequencies where neither 2x nor 4x up-sampling puts a replica.
CONTROLS = [(0.125, 0.375), (0.375, 0.125), (0.1, 0.2)]


def test_2x_upsampling_peaks_at_nyquist_in_the_mean_difference(rng):
    spectrum, profile = upsampled_dataset(rng, 1).difference()
    # Zero insertion by 2 copies the spectrum around 0.5 cycles/pixel on each axis.
    for frequency in [(0.0, 0.5), (0.5, 0.0), (0.5, 0.5)]:
        assert prominence(spectrum, *frequency) > 3.0, frequency
    for frequency in [*CONTROLS, (0.25, 0.25)]:
        assert abs(prominence(spectrum, *frequency)) < 1.0, frequency
    # 1D: over the upper half of the band, the difference is largest at the Nyquist end.
    upper = profile[len(profile) // 2 :]
    assert len(profile) // 2 + int(np.argmax(upper)) >= len(profile) - 3


def test_4x_upsampling_also_peaks_at_half_nyquist(rng):
    spectrum, _ = upsampled_dataset(rng, 2).difference()
    # Two 2x stages add replicas at 0.25 cycles/pixel (Nyquist / 2) as well.
    for frequency in [(0.0, 0.25), (0.25, 0.0), (0.25, 0.25), (0.0, 0.5), (0.5, 0.5)]:
        assert prominence(spectrum, *frequency) > 2.0, frequency
    for frequency in CONTROLS:
        assert abs(prominence(spectrum, *frequency)) < 1.0, frequency


def test_streaming_equals_batch_mean(rng, tmp_path):
    images = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1] * 5)
    generators = ["a", "a", "b", "b", "a", "b", "a", "a", "b", "b"]
    whole = MeanSpectra()
    whole.update(images, labels, generators)
    streamed = MeanSpectra()
    for start in range(0, 10, 3):
        streamed.update(
            images[start : start + 3], labels[start : start + 3], generators[start : start + 3]
        )
    for label in (None, 0, 1):
        for generator in (None, "a", "b"):
            np.testing.assert_allclose(
                streamed.mean_spectrum(label, generator),
                whole.mean_spectrum(label, generator),
                rtol=1e-5,
            )
            np.testing.assert_allclose(
                streamed.mean_profile(label, generator),
                whole.mean_profile(label, generator),
                rtol=1e-5,
            )
    from deepguard.spectral import log_magnitude_spectrum

    np.testing.assert_allclose(
        whole.mean_spectrum(1), log_magnitude_spectrum(images[labels == 1]).mean(axis=0), rtol=1e-5
    )
    loaded = MeanSpectra.load(streamed.save(tmp_path / "means.npz"))
    assert loaded.generators == ["a", "b"] and loaded.count(1, "b") == streamed.count(1, "b")
    np.testing.assert_allclose(loaded.difference("a")[1], whole.difference("a")[1], rtol=1e-5)
    np.testing.assert_allclose(loaded.std_profile(0), whole.std_profile(0), rtol=1e-4)


def test_generator_difference_uses_its_own_reals_when_present(rng):
    images = rng.integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    stats = MeanSpectra()
    stats.update(images, [0, 1, 0, 1], ["a", "a", "b", "b"])
    expected = stats.mean_profile(1, "a") - stats.mean_profile(0, "a")
    np.testing.assert_allclose(stats.difference("a")[1], expected)


def test_mismatched_inputs_are_refused(rng):
    stats = MeanSpectra()
    with pytest.raises(ValueError, match="one label"):
        stats.update(rng.integers(0, 256, (3, 16, 16, 3)), [0, 1])
    stats.update(rng.integers(0, 256, (2, 16, 16, 3)), [0, 1])
    with pytest.raises(ValueError, match="resize the images"):
        stats.update(rng.integers(0, 256, (2, 32, 32, 3)), [0, 1])
    with pytest.raises(ValueError, match="no fake images"):
        MeanSpectra((16, 16)).mean_profile(1)
