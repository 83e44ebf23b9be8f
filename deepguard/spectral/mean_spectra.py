"""Dataset mean spectra per class and per generator, accumulated batch by batch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from deepguard.data.labels import CLASS_NAMES
from deepguard.spectral.transforms import (
    log_magnitude_spectrum,
    profile_frequencies,
    spectrum_to_profile,
)


class MeanSpectra:
    """Running sums of 2D log-magnitude spectra and 1D log-power profiles.

    Sums are kept per ``(generator, label)`` group in float64, so the means of any class or
    generator come out of one pass over the data without holding it in memory.

    Args:
        shape: ``(height, width)`` of the spectra; taken from the first batch when omitted.

    Example:
        >>> stats = MeanSpectra()
        >>> for images, labels, generators in batches:  # doctest: +SKIP
        ...     stats.update(images, labels, generators)
        >>> spectrum_diff, profile_diff = stats.difference()  # doctest: +SKIP
    """

    def __init__(self, shape: tuple[int, int] | None = None):
        self.shape: tuple[int, int] | None = (
            (int(shape[0]), int(shape[1])) if shape is not None else None
        )
        self._groups: dict[tuple[str, int], dict[str, np.ndarray | int]] = {}

    # ---- accumulation ---------------------------------------------------------------------

    def update(self, images, labels, generators: Iterable[str] | None = None) -> np.ndarray:
        """Add a batch of RGB images ``(N, H, W, 3)`` in ``[0, 255]``; returns their profiles."""
        spectra = log_magnitude_spectrum(images)
        if spectra.ndim == 2:  # one image
            spectra = spectra[None]
        profiles = spectrum_to_profile(spectra)
        self.update_spectra(spectra, profiles, labels, generators)
        return profiles

    def update_spectra(
        self,
        spectra: np.ndarray,
        profiles: np.ndarray,
        labels,
        generators: Iterable[str] | None = None,
    ) -> None:
        """Add precomputed spectra ``(N, H, W)`` and profiles ``(N, R)`` of one batch."""
        spectra = np.asarray(spectra, dtype=np.float64)
        profiles = np.asarray(profiles, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64).ravel()
        n = labels.size
        generators = np.asarray(
            ["unknown"] * n if generators is None else list(generators), dtype=str
        )
        if spectra.shape[0] != n or profiles.shape[0] != n or generators.size != n:
            raise ValueError(
                f"need one label and generator per image; got {spectra.shape[0]} spectra, "
                f"{profiles.shape[0]} profiles, {n} labels, {generators.size} generators"
            )
        if not set(np.unique(labels)) <= set(CLASS_NAMES):
            raise ValueError(f"labels must be 0 (real) or 1 (fake); got {sorted(set(labels))}")
        if self.shape is None:
            self.shape = (int(spectra.shape[1]), int(spectra.shape[2]))
        if tuple(spectra.shape[1:]) != self.shape:
            raise ValueError(
                f"spectra of shape {tuple(spectra.shape[1:])} cannot join means of shape "
                f"{self.shape}; resize the images to one common size first"
            )
        for generator, label in sorted(set(zip(generators.tolist(), labels.tolist(), strict=True))):
            rows = (generators == generator) & (labels == label)
            group = self._groups.setdefault(
                (generator, label),
                {
                    "count": 0,
                    "spectrum_sum": np.zeros(self.shape),
                    "profile_sum": np.zeros(profiles.shape[1]),
                    "profile_sq_sum": np.zeros(profiles.shape[1]),
                },
            )
            group["count"] += int(rows.sum())
            group["spectrum_sum"] += spectra[rows].sum(axis=0)
            group["profile_sum"] += profiles[rows].sum(axis=0)
            group["profile_sq_sum"] += np.square(profiles[rows]).sum(axis=0)

    # ---- queries --------------------------------------------------------------------------

    @property
    def generators(self) -> list[str]:
        """Generators seen, sorted."""
        return sorted({generator for generator, _ in self._groups})

    def count(self, label: int | None = None, generator: str | None = None) -> int:
        """Number of images of a class and/or generator (all when both are None)."""
        return int(sum(g["count"] for g in self._select(label, generator)))

    def _select(self, label: int | None, generator: str | None) -> list[dict]:
        return [
            group
            for (gen, lab), group in self._groups.items()
            if (label is None or lab == label) and (generator is None or gen == generator)
        ]

    def _mean(self, key: str, label: int | None, generator: str | None) -> np.ndarray:
        groups = self._select(label, generator)
        count = sum(g["count"] for g in groups)
        if count == 0:
            name = CLASS_NAMES.get(label, "any class") if label is not None else "any class"
            raise ValueError(
                f"no {name} images for generator {generator or 'any'}; "
                f"generators seen: {self.generators or 'none'}"
            )
        return (sum(g[key] for g in groups) / count).astype(np.float32)

    def mean_spectrum(self, label: int | None = None, generator: str | None = None) -> np.ndarray:
        """Mean 2D log-magnitude spectrum ``(H, W)`` of a class and/or generator."""
        return self._mean("spectrum_sum", label, generator)

    def mean_profile(self, label: int | None = None, generator: str | None = None) -> np.ndarray:
        """Mean 1D log-power profile ``(R,)`` of a class and/or generator."""
        return self._mean("profile_sum", label, generator)

    def std_profile(self, label: int | None = None, generator: str | None = None) -> np.ndarray:
        """Standard deviation of the 1D profiles ``(R,)`` across images."""
        mean = self._mean("profile_sum", label, generator).astype(np.float64)
        mean_sq = self._mean("profile_sq_sum", label, generator).astype(np.float64)
        return np.sqrt(np.maximum(mean_sq - mean**2, 0.0)).astype(np.float32)

    def difference(self, generator: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean fake minus mean real: ``(spectrum (H, W), profile (R,))``.

        For one generator, its fakes are compared with the reals of the same generator when
        the layout has them (as in CNNDetection) and with all reals otherwise.
        """
        real_generator = generator if generator and self.count(0, generator) else None
        spectrum = self.mean_spectrum(1, generator) - self.mean_spectrum(0, real_generator)
        profile = self.mean_profile(1, generator) - self.mean_profile(0, real_generator)
        return spectrum, profile

    @property
    def frequencies(self) -> np.ndarray:
        """Frequency of each profile bin, cycles/pixel."""
        if self.shape is None:
            raise ValueError("no images added yet")
        return profile_frequencies(self.shape)

    # ---- persistence ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the sums and counts to a ``.npz`` file (no pickled objects)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._groups)
        groups = [self._groups[k] for k in keys]
        np.savez_compressed(
            path,
            shape=np.asarray(self.shape if self.shape else (0, 0), dtype=np.int64),
            generators=np.asarray([k[0] for k in keys], dtype=str),
            labels=np.asarray([k[1] for k in keys], dtype=np.int64),
            counts=np.asarray([g["count"] for g in groups], dtype=np.int64),
            spectrum_sums=np.stack([g["spectrum_sum"] for g in groups]) if groups else [],
            profile_sums=np.stack([g["profile_sum"] for g in groups]) if groups else [],
            profile_sq_sums=np.stack([g["profile_sq_sum"] for g in groups]) if groups else [],
            frequencies=profile_frequencies(self.shape) if self.shape else [],
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> MeanSpectra:
        """Read a file written by ``save``."""
        with np.load(Path(path), allow_pickle=False) as data:
            height, width = (int(v) for v in data["shape"])
            stats = cls((height, width) if height and width else None)
            for i, (generator, label) in enumerate(
                zip(data["generators"], data["labels"], strict=True)
            ):
                stats._groups[(str(generator), int(label))] = {
                    "count": int(data["counts"][i]),
                    "spectrum_sum": data["spectrum_sums"][i].astype(np.float64),
                    "profile_sum": data["profile_sums"][i].astype(np.float64),
                    "profile_sq_sum": data["profile_sq_sums"][i].astype(np.float64),
                }
        return stats
