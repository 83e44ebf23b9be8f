"""Throughput of the spectral views, and the profile baseline on real data when available.

    python bench/bench_spectral.py [--repeats 3] [--shared ../shared/data]

Prints images/s of ``log_magnitude_spectrum`` + ``spectrum_to_profile`` (one FFT, both views,
as the spectra stage computes them) and of ``azimuthal_profile`` alone, on random uint8 RGB
batches of 128 px and 300 px. With a folder of ``<set>/manifest.csv`` datasets (path, label,
generator), also runs the whole spectra stage on each (decode included) and prints the
logistic-regression baseline's test metrics on a seeded 70/30 split.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from deepguard.spectral import (
    azimuthal_profile,
    compute_dataset_spectra,
    log_magnitude_spectrum,
    spectrum_to_profile,
)


def images_per_second(function, batch: np.ndarray, repeats: int) -> float:
    function(batch)  # warm-up: ring index cache, FFT plans
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(batch)
        best = min(best, time.perf_counter() - start)
    return len(batch) / best


def both_views(batch: np.ndarray) -> None:
    spectrum_to_profile(log_magnitude_spectrum(batch))


def bench_arrays(repeats: int) -> None:
    rng = np.random.default_rng(0)
    print(f"{'size':>6} {'batch':>6} {'spectrum+profile img/s':>24} {'profile img/s':>14}")
    for size, batch_size in ((128, 128), (128, 32), (300, 64), (300, 16)):
        batch = rng.integers(0, 256, size=(batch_size, size, size, 3), dtype=np.uint8)
        both = images_per_second(both_views, batch, repeats)
        profile = images_per_second(azimuthal_profile, batch, repeats)
        print(f"{size:>6} {batch_size:>6} {both:>24.0f} {profile:>14.0f}")


def bench_datasets(shared: Path) -> None:
    for manifest in sorted(shared.glob("*/manifest.csv")):
        frame = pd.read_csv(manifest)
        rng = np.random.default_rng(0)
        frame["split"] = np.where(rng.random(len(frame)) < 0.3, "test", "train")
        with tempfile.TemporaryDirectory() as tmp:
            split_manifest = manifest.parent / f".bench_{manifest.parent.name}.csv"
            frame.to_csv(split_manifest, index=False)
            try:
                start = time.perf_counter()
                summary = compute_dataset_spectra(
                    split_manifest, Path(tmp), progress=False, per_generator_figures=False
                )
                seconds = time.perf_counter() - start
            finally:
                split_manifest.unlink()
        test = summary["baseline"]["test"]
        print(
            f"{manifest.parent.name}: {summary['n_images']} images "
            f"{summary['image_size'][0]}px, stage {seconds:.1f} s "
            f"({summary['n_images'] / seconds:.0f} img/s incl. decode, figures); baseline test "
            f"accuracy {test['accuracy']:.3f} ROC AUC {test['roc_auc']:.3f} "
            f"AP {test['average_precision']:.3f} (n={int(test['n_samples'])})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best kept)")
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data",
        help="folder of <set>/manifest.csv datasets for the baseline figures (skipped if absent)",
    )
    args = parser.parse_args()
    bench_arrays(args.repeats)
    if args.shared.is_dir():
        bench_datasets(args.shared)
    else:
        print(f"no datasets at {args.shared}: baseline figures skipped")


if __name__ == "__main__":
    main()
