"""The pipeline's spectra stage: mean spectra, figures and the profile baseline of a dataset."""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepguard.errors import DataError
from deepguard.spectral.baseline import profile_baseline
from deepguard.spectral.mean_spectra import CLASS_NAMES, MeanSpectra
from deepguard.spectral.plots import plot_mean_difference, plot_profiles, plot_spectrum
from deepguard.spectral.transforms import log_magnitude_spectrum, spectrum_to_profile

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("path", "label")


def _read_rgb(path: str | Path) -> np.ndarray:
    """Decode one image file to uint8 RGB ``(H, W, 3)``.

    Uses ``deepguard.images.read_image`` (the decoder the API and app share) when it is
    installed, else Pillow with EXIF orientation applied. The size limits are the API's
    ceilings raised: the files come from a manifest the prepare stage already checked.
    """
    try:
        from deepguard.images import DecodeLimits, read_image
    except ImportError:
        from PIL import Image, ImageOps

        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    limits = DecodeLimits(max_bytes=2**30, max_pixels=2**28, min_side=1, max_aspect=1e4)
    return read_image(path, limits)


def _read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV; relative paths are taken relative to the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"manifest {path} not found; run the prepare stage first "
            "(python scripts/prepare.py) or point spectra.manifest at a CSV"
        )
    frame = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"manifest {path} lacks columns {missing}; expected at least "
            f"{list(REQUIRED_COLUMNS)}, got {list(frame.columns)}"
        )
    frame["path"] = [str((path.parent / p).resolve()) for p in frame["path"].astype(str)]
    frame["label"] = _parse_labels(frame["label"], path)
    if "generator" not in frame.columns:
        frame["generator"] = "unknown"
    if "split" not in frame.columns:
        frame["split"] = "train"
    frame["generator"] = frame["generator"].fillna("unknown").astype(str)
    return frame


def _parse_labels(labels: pd.Series, source: Path) -> pd.Series:
    """Labels as 0 (real) / 1 (fake); the words ``real`` and ``fake`` are accepted too."""
    words = labels.astype(str).str.strip().str.lower()
    parsed = words.map({"0": 0, "1": 1, "real": 0, "fake": 1})
    if parsed.isna().any():
        raise DataError(
            f"labels in {source} must be 0/real or 1/fake; got "
            f"{sorted(set(words[parsed.isna()]))[:5]}"
        )
    return parsed.astype(int)


def _common_size(frame: pd.DataFrame, image_size) -> tuple[int, int] | None:
    """The size every image is resized to: ``image_size``, else the most common size."""
    if image_size:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        return int(size[0]), int(size[1])
    if {"width", "height"} <= set(frame.columns):
        (height, width), _ = Counter(zip(frame["height"], frame["width"], strict=True)).most_common(
            1
        )[0]
        return int(height), int(width)
    return None  # decided by the first image


def _json_safe(value):
    """NaN and infinities become null so the metrics file is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compute_dataset_spectra(
    manifest: str | Path,
    out_dir: str | Path,
    image_size: int | list[int] | None = None,
    batch_size: int = 64,
    limit: int | None = None,
    workers: int = 2,
    baseline_c: float = 1.0,
    per_generator_figures: bool = True,
    progress: bool = True,
    seed: int = 0,
) -> dict:
    """Mean spectra per class and generator, figures, and the profile baseline of a dataset.

    Args:
        manifest: CSV with ``path,label`` and optionally ``generator,split,width,height``.
        out_dir: folder for ``mean_spectra.npz``, ``mean_profiles.csv``,
            ``mean_profiles_by_generator.csv``, ``profile_baseline.json`` and the figures.
        image_size: common side (or ``[height, width]``) every image is resized to; None keeps
            the most common size of the manifest and resizes only the others.
        batch_size: images per FFT batch.
        limit: use at most this many images (a seeded random subset), None for all.
        workers: threads decoding images.
        baseline_c: inverse regularisation strength of the logistic regression.
        per_generator_figures: also draw one difference figure per generator.
        progress: show a progress bar.
        seed: seed of the ``limit`` subset.

    Returns:
        A summary: image counts, the common size and the baseline's test metrics.
    """
    out_dir = Path(out_dir)
    frame = _read_manifest(manifest)
    if limit is not None and limit < len(frame):
        frame = frame.sample(n=limit, random_state=seed).sort_index()
    if frame.empty:
        raise DataError(f"manifest {manifest} lists no images; nothing to analyse")
    stats, profiles = _accumulate(
        frame, _common_size(frame, image_size), batch_size, workers, progress
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stats.save(out_dir / "mean_spectra.npz")
    _write_profile_tables(stats, out_dir)
    _write_figures(stats, out_dir, per_generator_figures)
    baseline = _baseline_report(profiles, frame, baseline_c)
    (out_dir / "profile_baseline.json").write_text(json.dumps(_json_safe(baseline), indent=2))
    summary = {
        "n_images": len(frame),
        "n_real": stats.count(0),
        "n_fake": stats.count(1),
        "generators": stats.generators,
        "image_size": [stats.shape[0], stats.shape[1]] if stats.shape else None,
        "baseline": baseline,
    }
    log.info("spectra of %d images (%s) written to %s", len(frame), stats.shape, out_dir)
    return summary


def _accumulate(
    frame: pd.DataFrame, size: tuple[int, int] | None, batch_size: int, workers: int, progress: bool
) -> tuple[MeanSpectra, np.ndarray]:
    """One pass over the images, batch by batch: running mean spectra and every 1D profile."""
    stats = MeanSpectra(size)
    batches: list[np.ndarray] = []
    paths = frame["path"].tolist()
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(total=len(paths), desc="spectra", unit="img", disable=not progress) as bar,
    ):
        for start in range(0, len(paths), batch_size):
            rows = frame.iloc[start : start + batch_size]
            images = list(pool.map(_read_rgb, rows["path"]))
            if size is None:
                size = (int(images[0].shape[0]), int(images[0].shape[1]))
            spectra = log_magnitude_spectrum(images, size=size)
            batch_profiles = spectrum_to_profile(spectra)
            stats.update_spectra(spectra, batch_profiles, rows["label"], rows["generator"])
            batches.append(batch_profiles)
            bar.update(len(rows))
    return stats, np.concatenate(batches)


def _write_profile_tables(stats: MeanSpectra, out_dir: Path) -> None:
    """CSV tables of mean profiles for ``dvc plots``: overall (wide) and per generator (long)."""
    table = {"frequency": stats.frequencies}
    for label, name in CLASS_NAMES.items():
        if stats.count(label):
            table[name] = stats.mean_profile(label)
    if stats.count(0) and stats.count(1):
        table["difference"] = stats.difference()[1]
    pd.DataFrame(table).to_csv(out_dir / "mean_profiles.csv", index=False, float_format="%.6g")
    long = [
        pd.DataFrame(
            {
                "generator": generator,
                "label": CLASS_NAMES[label],
                "frequency": stats.frequencies,
                "mean_log_power": stats.mean_profile(label, generator),
            }
        )
        for generator in stats.generators
        for label in CLASS_NAMES
        if stats.count(label, generator)
    ]
    pd.concat(long).to_csv(
        out_dir / "mean_profiles_by_generator.csv", index=False, float_format="%.6g"
    )


def _write_figures(stats: MeanSpectra, out_dir: Path, per_generator: bool) -> None:
    # One folder for every figure, so the pipeline declares them as a single output.
    out_dir = out_dir / "figures"
    for label, name in CLASS_NAMES.items():
        if stats.count(label):
            plot_spectrum(
                stats.mean_spectrum(label),
                title=f"mean spectrum, {name} (n={stats.count(label)})",
                path=out_dir / f"mean_spectrum_{name}.png",
            )
    if not (stats.count(0) and stats.count(1)):
        log.warning("only one class present: no difference figures")
        return
    plot_profiles(stats, path=out_dir / "mean_profiles.png")
    plot_mean_difference(stats, path=out_dir / "mean_difference.png")
    if per_generator:
        for generator in stats.generators:
            if stats.count(1, generator):
                plot_mean_difference(
                    stats,
                    generator=generator,
                    path=out_dir / "generators" / f"mean_difference_{_file_safe(generator)}.png",
                )


def _file_safe(name: str) -> str:
    """A generator name usable as a file name: ``SD V1.4`` -> ``SD_V1.4``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "unnamed"


def _baseline_report(profiles: np.ndarray, frame: pd.DataFrame, baseline_c: float) -> dict:
    """Test metrics of the profile baseline; a note instead when the splits cannot support it."""
    try:
        _, report = profile_baseline(
            profiles, frame["label"].to_numpy(), frame["split"].to_numpy(), C=baseline_c
        )
    except DataError as error:
        log.warning("profile baseline skipped: %s", error)
        return {"skipped": str(error)}
    return report
