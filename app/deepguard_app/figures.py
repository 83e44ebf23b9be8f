"""Figures of the app, on ``matplotlib.figure.Figure`` (no pyplot state shared by sessions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from deepguard.images import centre_crop, to_model_input
from deepguard.spectral import (
    MeanSpectra,
    azimuthal_profile,
    log_magnitude_spectrum,
    plot_profiles,
    plot_spectrum,
    profile_frequencies,
)
from deepguard.spectral.plots import FREQUENCY_LABEL

# The 2D view is drawn on the image's own pixels (no resampling), like the API's
# ?explain=fft: resizing would smooth away the high frequencies where generators leave traces.
SPECTRUM_MAX_SIDE = 512


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes (Streamlit's own st.pyplot renders at 200 dpi: 4x slower)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image_spectrum_figure(rgb: np.ndarray) -> Figure:
    """Centred log-magnitude spectrum of the centred square crop (at most 512 px)."""
    crop = centre_crop(rgb, SPECTRUM_MAX_SIDE)
    spectrum = log_magnitude_spectrum(crop[None].astype(np.float32))[0]
    side = crop.shape[0]
    return plot_spectrum(spectrum, title=f"log-magnitude spectrum\n{side}x{side} px centre crop")


def image_profile_figure(
    rgb: np.ndarray, training: MeanSpectra | None, model_label: str, image_size: int
) -> Figure:
    """The image's azimuthal profile over the mean real and fake profiles of a model's training
    data, both at the model's input size (the recorded means were computed there)."""
    if training is not None and training.shape == (image_size, image_size):
        model_input = to_model_input(rgb, image_size)
        profile = azimuthal_profile(model_input[None])[0]
        return plot_profiles(
            training,
            image_profile=profile,
            title=f"azimuthal profile at {image_size} px\nvs the training data of {model_label}",
        )
    crop = centre_crop(rgb, SPECTRUM_MAX_SIDE)
    profile = azimuthal_profile(crop[None].astype(np.float32))[0]
    fig = Figure(figsize=(6.4, 4))
    ax = fig.add_subplot()
    ax.plot(profile_frequencies(crop.shape[:2]), profile, color="black", label="this image")
    ax.set_xlabel(FREQUENCY_LABEL)
    ax.set_ylabel("mean log power  log |F|^2")
    ax.set_title(f"azimuthal profile, {crop.shape[0]} px crop\n(no training spectra recorded)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def curves_figure(curves: dict[str, pd.DataFrame], kind: str) -> Figure:
    """ROC (``kind="roc"``: fpr, tpr) or PR (``kind="pr"``: recall, precision) curves overlaid."""
    x_col, y_col, x_label, y_label = {
        "roc": ("fpr", "tpr", "false positive rate (real called fake)", "true positive rate"),
        "pr": ("recall", "precision", "recall (fakes found)", "precision"),
    }[kind]
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    for label, table in curves.items():
        drawstyle = "steps-post" if kind == "roc" else "steps-pre"
        ax.plot(table[x_col], table[y_col], label=label, drawstyle=drawstyle, linewidth=1.6)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("ROC curve (test split)" if kind == "roc" else "precision-recall (test split)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize="small")
    fig.tight_layout()
    return fig


def robustness_figure(tables: dict[str, pd.DataFrame], metric: str = "accuracy") -> Figure:
    """`metric` under each perturbation and strength, one line per model and perturbation."""
    fig = Figure(figsize=(10, 3.4))
    perturbations = sorted(
        {p for t in tables.values() for p in t["perturbation"].unique() if p != "clean"}
    )
    axes = fig.subplots(1, max(1, len(perturbations)), squeeze=False)[0]
    units = {"jpeg": "JPEG quality", "gaussian_blur": "blur sigma (px)", "downscale": "scale"}
    for ax, perturbation in zip(axes, perturbations, strict=False):
        for label, table in tables.items():
            rows = table[table["perturbation"] == perturbation].sort_values("parameter")
            ax.plot(rows["parameter"], rows[metric], marker="o", label=label)
        ax.set_xlabel(units.get(perturbation, perturbation))
        ax.set_ylabel(f"test {metric}")
        ax.set_title(perturbation)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
