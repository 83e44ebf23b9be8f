import numpy as np
import pytest

from deepguard.spectral import (
    azimuthal_average,
    azimuthal_profile,
    log_magnitude_spectrum,
    profile_frequencies,
    to_grayscale,
)


def grating(size: int, cycles_y: int, cycles_x: int) -> np.ndarray:
    """An RGB cosine grating with whole numbers of cycles across the image."""
    y, x = np.mgrid[:size, :size]
    wave = 128 + 100 * np.cos(2 * np.pi * (cycles_y * y + cycles_x * x) / size)
    return np.repeat(wave[..., None], 3, axis=-1)


def test_grayscale_uses_bt601_luma():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    gray = to_grayscale(pixels)
    assert gray.shape == (1, 3)
    np.testing.assert_allclose(gray[0], [0.299, 0.587, 0.114], atol=1e-6)
    batch = np.stack([pixels, pixels])
    assert to_grayscale(batch).shape == (2, 1, 3)


@pytest.mark.parametrize(("cycles_y", "cycles_x"), [(0, 8), (6, 8), (12, 0)])
def test_grating_peaks_at_its_frequency_in_2d_and_1d(cycles_y, cycles_x):
    size = 64
    spectrum = log_magnitude_spectrum(grating(size, cycles_y, cycles_x))
    centre = size // 2
    spectrum_no_dc = spectrum.copy()
    spectrum_no_dc[centre, centre] = -np.inf
    peak = np.unravel_index(np.argmax(spectrum_no_dc), spectrum.shape)
    # The peak and its mirror image, in pixels away from the centre.
    assert {(peak[0] - centre, peak[1] - centre)} <= {
        (cycles_y, cycles_x),
        (-cycles_y, -cycles_x),
    }
    # A ring holds about 2 pi r frequencies of which the grating fills 2, and a ring mean of
    # logs lets exact zeros dominate: add camera-like noise (2/255) and average 8 images.
    rng = np.random.default_rng(0)
    noisy = grating(size, cycles_y, cycles_x)[None] + rng.normal(0, 2, (8, size, size, 3))
    profile = azimuthal_profile(noisy).mean(axis=0)
    radius = np.hypot(cycles_y, cycles_x)
    assert int(np.argmax(profile[1:])) + 1 == round(radius)
    assert profile_frequencies(size)[round(radius)] == pytest.approx(radius / size, abs=0.5 / size)


def test_white_noise_profile_is_flat(rng):
    noise = rng.integers(0, 256, size=(32, 64, 64, 3), dtype=np.uint8)
    mean_profile = azimuthal_profile(noise).mean(axis=0)
    # Past the lowest rings (a handful of pixels each), every ring has the same mean power.
    tail = mean_profile[3:]
    assert tail.max() - tail.min() < 0.3
    # A smoothed version is not flat: the check can fail.
    smooth = azimuthal_profile(noise[:, ::2, ::2].repeat(2, 1).repeat(2, 2)).mean(axis=0)
    assert smooth[3:].max() - smooth[3:].min() > 1.0


def test_single_image_and_batch_agree(rng):
    images = rng.integers(0, 256, size=(3, 32, 40, 3), dtype=np.uint8)
    batch = azimuthal_profile(images)
    assert batch.shape == (3, 32 // 2 + 1)
    np.testing.assert_allclose(azimuthal_profile(images[1]), batch[1], rtol=1e-5)
    assert log_magnitude_spectrum(images[1]).shape == (32, 40)


def test_azimuthal_average_matches_a_loop(rng):
    maps = rng.normal(size=(2, 16, 16)).astype(np.float32)
    profiles = azimuthal_average(maps)
    y, x = np.mgrid[:16, :16]
    ring = np.rint(np.hypot(y - 8, x - 8)).astype(int)
    for r in range(9):
        np.testing.assert_allclose(profiles[:, r], maps[:, ring == r].mean(axis=1), rtol=1e-5)


def test_different_sizes_need_a_common_size(rng):
    images = [rng.integers(0, 256, (48, 48, 3)), rng.integers(0, 256, (64, 80, 3))]
    with pytest.raises(ValueError, match="different sizes"):
        log_magnitude_spectrum(images)
    assert log_magnitude_spectrum(images, size=(64, 64)).shape == (2, 64, 64)


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="expected an image"):
        log_magnitude_spectrum(np.zeros(5))
