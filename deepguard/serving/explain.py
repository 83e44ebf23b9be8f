"""``?explain=fft``: the spectrum views of an image, as PNG data a browser can show."""

from __future__ import annotations

import base64
import importlib
import io

import numpy as np
from PIL import Image


def fft_views(crop: np.ndarray) -> dict:
    """The centred log-magnitude spectrum and the 1D azimuthal profile of one RGB crop.

    The crop is taken from the decoded image before any resizing, so the spectrum shows the
    image's own high frequencies (where generators leave their traces).

    Returns:
        ``{"crop_side": S, "spectrum_png": base64, "profile_png": base64,
        "profile": [float, ...]}``
    """
    # The spectral module computes (imported on first use); this one only draws.
    spectral = importlib.import_module("deepguard.spectral")

    images = crop[None].astype(np.float32)
    spectrum = np.asarray(spectral.log_magnitude_spectrum(images))[0]
    profile = np.asarray(spectral.azimuthal_profile(images))[0]
    return {
        "crop_side": int(crop.shape[0]),
        "spectrum_png": _png_base64(_to_gray(spectrum)),
        "profile_png": _png_base64(_profile_plot(profile)),
        "profile": [round(float(value), 5) for value in profile],
    }


def _to_gray(values: np.ndarray) -> Image.Image:
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return Image.fromarray((scaled * 255).round().astype(np.uint8))


def _profile_plot(profile: np.ndarray) -> Image.Image:
    # The object API (no pyplot) keeps figures local to the request thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.5), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(np.arange(len(profile)), profile, linewidth=1.2)
    axes.set_xlabel("spatial frequency (pixels from centre)")
    axes.set_ylabel("mean log power")
    axes.set_title("azimuthal profile")
    figure.tight_layout()
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")


def _png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
