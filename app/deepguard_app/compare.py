"""The Compare page's work, without Streamlit: read an image, score it, explain it.

Uploads and sample files go through `read_image_bytes`, which calls
`deepguard.images.decode_image`, the API's own decoder, and `predict` through
`deepguard.images.prepare_input`, the API's own region step and resize: the app and the API
can never see different pixels.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepguard.errors import ImageInputError
from deepguard.images import (
    SUPPORTED_FORMATS,
    DecodeLimits,
    decode_image,
    has_image_suffix,
    prepare_input,
)

# Modes Pillow reports, in words, for the note shown under a converted upload.
MODE_WORDS = {
    "CMYK": "CMYK converted to RGB",
    "I;16": "16-bit greyscale scaled to 8-bit RGB",
    "I;16B": "16-bit greyscale scaled to 8-bit RGB",
    "I;16L": "16-bit greyscale scaled to 8-bit RGB",
    "I": "32-bit integer greyscale converted to RGB",
    "L": "greyscale converted to RGB",
    "LA": "greyscale with alpha: composited on white",
    "1": "1-bit black and white converted to RGB",
    "P": "palette image converted to RGB",
    "PA": "palette with alpha: composited on white",
    "RGBA": "alpha channel composited on white",
    "YCbCr": "YCbCr converted to RGB",
}


@dataclass
class ImageInput:
    """A decoded image ready for every model: RGB pixels and notes on what was converted."""

    name: str
    rgb: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class ImageProblem:
    """An image that was refused, with the API's status, code and message."""

    name: str
    status: int
    code: str
    message: str


@dataclass
class Prediction:
    """One model's answer for one image."""

    model_label: str
    version: str | None
    aliases: tuple[str, ...]
    p_fake: float
    threshold: float
    inference_ms: float
    heatmap: np.ndarray | None = None

    @property
    def label(self) -> str:
        return "fake" if self.p_fake >= self.threshold else "real"


def read_image_bytes(
    name: str, data: bytes, limits: DecodeLimits | None = None
) -> ImageInput | ImageProblem:
    """Decode one upload as the API does; a refused image becomes an `ImageProblem`.

    Args:
        name: the file name shown to the user (never used to decide the format).
        data: the file's bytes.
        limits: the decoder's limits (None: the API's defaults).
    """
    try:
        rgb = decode_image(data, limits or DecodeLimits())
    except ImageInputError as error:
        return ImageProblem(name=name, status=error.status, code=error.code, message=str(error))
    return ImageInput(name=name, rgb=rgb, notes=conversion_notes(data))


def read_image_file(path: str | Path, limits: DecodeLimits | None = None):
    """`read_image_bytes` for a file on disk (a sample folder)."""
    path = Path(path)
    return read_image_bytes(path.name, path.read_bytes(), limits)


def conversion_notes(data: bytes) -> list[str]:
    """What decoding changed, in words: mode conversion, frames dropped, EXIF rotation.

    Called only after `decode_image` accepted the bytes, with the same format allow-list, so
    the header read here has already been checked.
    """
    from PIL import Image

    notes = []
    with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as image:
        mode = image.mode
        if mode == "RGB" and "transparency" in image.info:
            notes.append("transparent colour composited on white")
        elif mode in MODE_WORDS:
            notes.append(f"{image.format} {MODE_WORDS[mode]}")
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1:
            notes.append(f"{image.format} with {frames} frames: the first frame is scored")
        orientation = image.getexif().get(0x0112, 1)
        if orientation not in (0, 1):
            notes.append(f"EXIF orientation {orientation} applied")
    return notes


def predict(
    loaded,
    cam,
    rgb: np.ndarray,
    threshold: float | None = None,
    model_label: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Prediction:
    """Score one decoded image with one model and explain the decision with Grad-CAM.

    Args:
        loaded: a `deepguard.tracking.loading.LoadedModel`.
        cam: a `deepguard.explain.GradCAM` of the same model, or None for no heatmap.
        rgb: uint8 ``(H, W, 3)``.
        threshold: decision threshold; None uses the one recorded with the model (else 0.5).
        model_label: how the model is named on the page (None: name and version).
        aliases: the version's registry aliases, shown beside it.
    """
    model_input = prepare_input(rgb, loaded.image_size)
    start = time.perf_counter()
    # predict_on_batch runs the compiled predict function: no tf.data set-up (as predict()
    # has) and no eager layer-by-layer call.
    p_fake = float(np.asarray(loaded.model.predict_on_batch(model_input[None]))[0, 0])
    inference_ms = (time.perf_counter() - start) * 1000.0
    heatmap = cam(model_input)[0] if cam is not None else None
    if threshold is None:
        threshold = float(loaded.metadata.get("threshold", 0.5))
    if model_label is None:
        model_label = f"{loaded.name} v{loaded.version}" if loaded.version else loaded.uri
    return Prediction(
        model_label=model_label,
        version=loaded.version,
        aliases=tuple(aliases),
        p_fake=p_fake,
        threshold=float(threshold),
        inference_ms=inference_ms,
        heatmap=heatmap,
    )


def disagree(predictions: list[Prediction]) -> bool:
    """True when the models do not all give the same label."""
    return len({p.label for p in predictions}) > 1


def list_samples(folder: str | Path, limit: int = 500) -> list[Path]:
    """Image files under `folder` (recursively, sorted), at most `limit`.

    Raises:
        ValueError: the folder does not exist.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"sample folder '{folder}' does not exist; give a folder of images, e.g. "
            "data/synthetic/64px (made by `make train`)"
        )
    found: list[Path] = []
    # A sorted walk that stops at `limit`: a 140k-image dataset is not listed on every rerun.
    for parent, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if has_image_suffix(name):
                found.append(Path(parent) / name)
                if len(found) >= limit:
                    return found
    return found
