import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepguard.errors import DataError
from deepguard.spectral import (
    MeanSpectra,
    azimuthal_profile,
    compute_dataset_spectra,
    plot_mean_difference,
    plot_profiles,
    plot_spectrum,
    profile_baseline,
)
from tests.spectral.helpers import downsample2, smooth_fields, upsample2


def fields_and_fakes(rng, n):
    reals = smooth_fields(rng, n, 32)
    fakes = upsample2(downsample2(smooth_fields(rng, n, 32)))
    return reals, fakes


def test_profile_baseline_separates_upsampled_fakes(rng):
    reals, fakes = fields_and_fakes(rng, 40)
    profiles = azimuthal_profile(np.concatenate([reals, fakes]))
    labels = np.r_[np.zeros(40), np.ones(40)]
    splits = np.array((["train"] * 30 + ["test"] * 10) * 2)
    model, report = profile_baseline(profiles, labels, splits)
    assert report["test"]["accuracy"] > 0.9
    assert report["test"]["n_samples"] == 20 and report["n_features"] == profiles.shape[1]
    # Shuffled labels leave nothing to learn: the score falls to chance.
    _, shuffled = profile_baseline(profiles, rng.permutation(labels), splits)
    assert shuffled["test"]["roc_auc"] < 0.85
    assert model.predict_proba(profiles[:2]).shape == (2, 2)


def test_profile_baseline_needs_both_classes_and_a_test_split(rng):
    profiles = rng.normal(size=(6, 5))
    with pytest.raises(DataError, match="real and fake"):
        profile_baseline(profiles, [0, 0, 0, 0, 1, 1], ["train"] * 4 + ["test"] * 2)
    with pytest.raises(DataError, match="no images in split 'test'"):
        profile_baseline(profiles, [0, 1, 0, 1, 0, 1], ["train"] * 6)


def test_figures_are_written_with_frequency_axes(rng, tmp_path):
    reals, fakes = fields_and_fakes(rng, 4)
    stats = MeanSpectra()
    stats.update(reals, np.zeros(4))
    stats.update(fakes, np.ones(4))
    fig = plot_spectrum(stats.mean_spectrum(0), path=tmp_path / "spectrum.png")
    assert "cycles/pixel" in fig.axes[0].get_xlabel()
    fig = plot_profiles(stats, image_profile=azimuthal_profile(fakes[0]), path=tmp_path / "p.png")
    assert [line.get_label() for line in fig.axes[0].get_lines()][-1] == "this image"
    plot_mean_difference(stats, path=tmp_path / "diff.png")
    for name in ("spectrum.png", "p.png", "diff.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size[0] > 300


def write_dataset(rng, root, n=12):
    reals, fakes = fields_and_fakes(rng, n)
    rows = []
    for label, images in ((0, reals), (1, fakes)):
        for i, image in enumerate(images):
            path = root / ("real" if label == 0 else "fake") / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
            split = "test" if i % 3 == 0 else "train"
            rows.append((str(path.relative_to(root)), label, "up2x" if label else "camera", split))
    manifest = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "generator", "split"]).to_csv(
        manifest, index=False
    )
    return manifest


def test_spectra_stage_writes_means_figures_tables_and_baseline(rng, tmp_path):
    manifest = write_dataset(rng, tmp_path / "prepared")
    out = tmp_path / "spectra"
    summary = compute_dataset_spectra(manifest, out, batch_size=5, progress=False)
    assert summary["n_real"] == summary["n_fake"] == 12 and summary["image_size"] == [32, 32]
    for name in (
        "mean_spectra.npz",
        "mean_profiles.csv",
        "mean_profiles_by_generator.csv",
        "profile_baseline.json",
        "figures/mean_spectrum_real.png",
        "figures/mean_spectrum_fake.png",
        "figures/mean_profiles.png",
        "figures/mean_difference.png",
        "figures/generators/mean_difference_up2x.png",
    ):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "mean_profiles.csv")
    assert list(table.columns) == ["frequency", "real", "fake", "difference"]
    assert table["frequency"].iloc[-1] == pytest.approx(0.5)
    metrics = json.loads((out / "profile_baseline.json").read_text())
    assert metrics["test"]["n_samples"] == 8 and metrics["test"]["accuracy"] > 0.8
    stats = MeanSpectra.load(out / "mean_spectra.npz")
    assert stats.count(1, "up2x") == 12


def test_spectra_stage_resizes_other_sizes_and_reports_a_missing_manifest(rng, tmp_path):
    manifest = write_dataset(rng, tmp_path / "prepared", n=3)
    summary = compute_dataset_spectra(manifest, tmp_path / "s", image_size=48, progress=False)
    assert summary["image_size"] == [48, 48]
    assert MeanSpectra.load(tmp_path / "s" / "mean_spectra.npz").shape == (48, 48)
    with pytest.raises(DataError, match="run the prepare stage"):
        compute_dataset_spectra(tmp_path / "nope.csv", tmp_path / "s")
