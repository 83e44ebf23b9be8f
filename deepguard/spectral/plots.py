"""Figures of spectra and profiles, built on ``matplotlib.figure.Figure`` (no pyplot state).

Every function returns the figure; pass ``path`` to also write it as a PNG. Streamlit shows
the figure with ``st.pyplot(fig)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from deepguard.spectral.mean_spectra import MeanSpectra
from deepguard.spectral.transforms import profile_frequencies

FREQUENCY_LABEL = "frequency (cycles/pixel)"


def _extent(shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """imshow extent in cycles/pixel for a centred spectrum, pixel edges included."""
    height, width = shape
    fx = (np.array([0, width]) - width // 2 - 0.5) / width
    fy = (np.array([height, 0]) - height // 2 - 0.5) / height
    return float(fx[0]), float(fx[1]), float(fy[0]), float(fy[1])


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def plot_spectrum(
    spectrum: np.ndarray,
    title: str = "log-magnitude spectrum",
    path: str | Path | None = None,
    ax=None,
) -> Figure:
    """Show one centred 2D spectrum ``(H, W)``; axes in cycles/pixel, colour ``log |F|``."""
    fig = ax.figure if ax is not None else Figure(figsize=(4.6, 4))
    ax = ax if ax is not None else fig.add_subplot()
    image = ax.imshow(spectrum, cmap="viridis", extent=_extent(spectrum.shape))
    ax.set_xlabel(f"horizontal {FREQUENCY_LABEL}")
    ax.set_ylabel(f"vertical {FREQUENCY_LABEL}")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="log |F|  (luma in [0, 1], orthonormal DFT)")
    return _finish(fig, path)


def plot_profiles(
    stats: MeanSpectra,
    image_profile: np.ndarray | None = None,
    generator: str | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Mean 1D profile of reals and fakes (+-1 std band), optionally one image's profile.

    Args:
        stats: the dataset means.
        image_profile: a single image's ``azimuthal_profile`` to overlay (same size).
        generator: restrict the fakes (and the reals, if it has them) to one generator.
    """
    fig = Figure(figsize=(6.4, 4))
    ax = fig.add_subplot()
    frequencies = stats.frequencies
    for label, name, colour in ((0, "real", "tab:blue"), (1, "fake", "tab:red")):
        gen = generator if generator and stats.count(label, generator) else None
        if stats.count(label, gen) == 0:
            continue
        mean, std = stats.mean_profile(label, gen), stats.std_profile(label, gen)
        ax.plot(frequencies, mean, color=colour, label=f"mean {name} (n={stats.count(label, gen)})")
        ax.fill_between(frequencies, mean - std, mean + std, color=colour, alpha=0.15)
    if image_profile is not None:
        image_profile = np.asarray(image_profile, dtype=np.float32).ravel()
        same_size = image_profile.size == frequencies.size
        ax.plot(
            frequencies if same_size else profile_frequencies(2 * (image_profile.size - 1)),
            image_profile,
            color="black",
            linewidth=1.2,
            label="this image",
        )
    ax.set_xlabel(FREQUENCY_LABEL)
    ax.set_ylabel("mean log power  log |F|^2")
    ax.set_title(title or f"azimuthal profile{f' ({generator})' if generator else ''}")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def plot_mean_difference(
    stats: MeanSpectra,
    generator: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Mean fake minus mean real: the 2D spectrum difference and the 1D profile difference."""
    spectrum, profile = stats.difference(generator)
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    # A symmetric colour range centred at zero: red = more energy in fakes, blue = less.
    limit = float(np.percentile(np.abs(spectrum), 99.5)) or 1.0
    image = left.imshow(
        spectrum, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=_extent(spectrum.shape)
    )
    left.set_xlabel(f"horizontal {FREQUENCY_LABEL}")
    left.set_ylabel(f"vertical {FREQUENCY_LABEL}")
    left.set_title(f"mean log |F|: fake - real{f' ({generator})' if generator else ''}")
    fig.colorbar(image, ax=left, label="difference of log |F|")
    right.plot(stats.frequencies, profile, color="tab:purple")
    right.axhline(0.0, color="grey", linewidth=0.8)
    right.set_xlabel(FREQUENCY_LABEL)
    right.set_ylabel("difference of mean log power")
    right.set_title("azimuthal profile: fake - real")
    right.grid(alpha=0.3)
    return _finish(fig, path)
