import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepguard.data import FAMILIES, discover, generate_synthetic
from deepguard.errors import DataError


def digest_of(folder) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def log_spectrum(paths) -> np.ndarray:
    """Mean log power spectrum (grey, mean removed) of images, zero frequency at [0, 0]."""
    grey = np.stack([np.asarray(Image.open(p), np.float64).mean(-1) for p in paths])
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    return np.log(np.abs(np.fft.fft2(grey)) ** 2 + 1e-6).mean(0)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "set"
    generate_synthetic(root, n_per_class=24, image_size=32, seed=5)
    return root


def test_same_parameters_give_the_same_bytes(synthetic_root, tmp_path):
    again = tmp_path / "again"
    generate_synthetic(again, n_per_class=24, image_size=32, seed=5)
    assert digest_of(again) == digest_of(synthetic_root)
    other = tmp_path / "other"
    generate_synthetic(other, n_per_class=24, image_size=32, seed=6)
    assert digest_of(other) != digest_of(synthetic_root)


def test_manifest_names_every_family_and_goes_through_the_loader(synthetic_root):
    manifest = pd.read_csv(synthetic_root / "manifest.csv")
    assert set(manifest.loc[manifest["label"] == 1, "generator"]) == set(FAMILIES)
    assert set(manifest.loc[manifest["label"] == 0, "generator"]) == {"real"}
    records = discover(synthetic_root)
    assert len(records) == 48 and records["sha256"].nunique() == 48
    assert json.loads((synthetic_root / "synthetic.json").read_text())["seed"] == 5


def test_existing_set_is_left_alone_and_other_folders_are_refused(synthetic_root, tmp_path):
    stamp = (synthetic_root / "manifest.csv").stat().st_mtime_ns
    generate_synthetic(synthetic_root, n_per_class=24, image_size=32, seed=5)
    assert (synthetic_root / "manifest.csv").stat().st_mtime_ns == stamp
    assert not list(synthetic_root.parent.glob(".set.*"))  # no staging folders left behind
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("do not delete")
    with pytest.raises(DataError, match="not a DeepGuard synthetic set"):
        generate_synthetic(tmp_path / "mine", n_per_class=2)


def test_transposed_conv_leaves_a_nyquist_peak_and_colour_does_not_give_fakes_away(tmp_path):
    root = tmp_path / "spectral"
    generate_synthetic(root, n_per_class=60, image_size=32, seed=0, families=["transposed_conv"])
    manifest = pd.read_csv(root / "manifest.csv")
    real = log_spectrum(root / p for p in manifest.loc[manifest["label"] == 0, "path"])
    fake = log_spectrum(root / p for p in manifest.loc[manifest["label"] == 1, "path"])
    n = real.shape[0] // 2
    # The checkerboard puts energy at (N/2, N/2), (N/2, 0) and (0, N/2): orders of magnitude.
    for peak in [(n, n), (n, 0), (0, n)]:
        assert fake[peak] - real[peak] > 3.0
    means = {
        label: np.stack(
            [np.asarray(Image.open(root / p), float).mean((0, 1)) for p in group["path"]]
        )
        for label, group in manifest.groupby("label")
    }
    assert np.abs(means[0].mean(0) - means[1].mean(0)).max() < 0.25 * means[0].std(0).min()


def test_lowpass_fakes_lose_high_frequency_energy(tmp_path):
    root = tmp_path / "lowpass"
    generate_synthetic(root, n_per_class=30, image_size=32, seed=0, families=["lowpass"])
    manifest = pd.read_csv(root / "manifest.csv")
    real = log_spectrum(root / p for p in manifest.loc[manifest["label"] == 0, "path"])
    fake = log_spectrum(root / p for p in manifest.loc[manifest["label"] == 1, "path"])
    fy, fx = np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32), indexing="ij")
    high = np.hypot(fy, fx) > 0.35  # cycles per pixel, near Nyquist
    assert (real[high] - fake[high]).mean() > 1.0


def test_bad_parameters_are_refused():
    with pytest.raises(DataError, match="subset of"):
        generate_synthetic("unused", families=["diffusion"])
    with pytest.raises(DataError, match="multiple of 4"):
        generate_synthetic("unused", image_size=30)
