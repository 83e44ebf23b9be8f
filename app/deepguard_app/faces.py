"""Face crops on the Compare page: find the faces of an image once, score each face with
each model, draw the boxes.

The faces are found once per image with the page's settings: those of the first picked model
that was trained on face crops, else `conf/faces/crop.yaml`'s defaults. Each model then scores
every face cropped as it was trained (its own recorded faces settings, else the page's), in
one model call, by `deepguard.faces.crop_face`: the function the training loader and the API
crop with, so a face scores here what it scores through the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from deepguard.config.faces import FaceSettings
from deepguard.errors import ConfigError
from deepguard.faces import Face, crop_face, detect_all_faces, keep_faces
from deepguard.images import prepare_input
from deepguard.serving.faces import recorded_face_settings

log = logging.getLogger(__name__)

BOX_COLOUR = (255, 196, 0)  # amber: visible on skin, hair and most backgrounds
THUMBNAIL_WIDTH = 96  # px on the page for each face crop


@dataclass(frozen=True)
class FaceScores:
    """One model's answers for the faces of one image, in the faces' order."""

    model_label: str
    probabilities: list[float]
    threshold: float
    inference_ms: float

    def labels(self) -> list[str]:
        return ["fake" if p >= self.threshold else "real" for p in self.probabilities]


def recorded_crop(metadata: Mapping[str, Any]) -> FaceSettings | None:
    """A model's recorded faces settings when they crop faces; ``None`` when it was trained
    on whole images, or its settings cannot be read by this version (logged: the page then
    crops it with its own settings rather than failing)."""
    try:
        settings = recorded_face_settings(metadata)
    except ConfigError as error:
        log.warning("ignoring a model's recorded faces settings: %s", error)
        return None
    return settings if settings is not None and settings.enabled else None


def trained_on_faces(metadata: Mapping[str, Any]) -> bool:
    """True when a model was trained on face crops (the page's toggle default)."""
    return recorded_crop(metadata) is not None


def page_face_settings(metadatas: Sequence[Mapping[str, Any]]) -> FaceSettings:
    """How the page finds faces: the first model trained on face crops, else the defaults
    of `conf/faces/crop.yaml` (no detection cache: the page caches detections in memory)."""
    recorded = [crop for crop in map(recorded_crop, metadatas) if crop is not None]
    return recorded[0] if recorded else FaceSettings(enabled=True)


def model_crop_settings(metadata: Mapping[str, Any], page: FaceSettings) -> FaceSettings:
    """How one model's faces are cropped: as it was trained, else as the page finds them."""
    return recorded_crop(metadata) or page


@st.cache_data(show_spinner="Finding faces (MTCNN)...", max_entries=64)
def detected_faces(rgb: np.ndarray, max_side: int) -> list[Face]:
    """Every face MTCNN finds in an image (before filtering), cached by the pixels, so a
    rerun (another threshold, another model) does not detect again."""
    return detect_all_faces(rgb, FaceSettings(enabled=True, max_side=max_side))


def page_faces(rgb: np.ndarray, settings: FaceSettings) -> list[Face]:
    """The faces of an image that pass the page's settings, left to right."""
    return keep_faces(detected_faces(rgb, settings.max_side), settings)


def score_faces(
    loaded: Any,
    rgb: np.ndarray,
    faces: Sequence[Face],
    settings: FaceSettings,
    threshold: float | None,
    model_label: str,
) -> FaceScores:
    """One model's probability of fake for each face, in one model call.

    Args:
        loaded: a `deepguard.tracking.loading.LoadedModel`.
        rgb: the decoded image, ``uint8 (H, W, 3)``.
        faces: the faces to score (at least one).
        settings: how this model's faces are cropped (`model_crop_settings`).
        threshold: the page's threshold; None uses the model's recorded one (else 0.5).
        model_label: how the model is named on the page.
    """
    size = loaded.image_size
    batch = np.stack([prepare_input(crop_face(rgb, face, settings), size) for face in faces])
    start = time.perf_counter()
    output = np.asarray(loaded.model.predict_on_batch(batch), dtype=np.float64)
    inference_ms = (time.perf_counter() - start) * 1000.0
    if threshold is None:
        threshold = float(loaded.metadata.get("threshold", 0.5))
    probabilities = [float(p) for p in output.reshape(len(faces), -1)[:, 0]]
    return FaceScores(model_label, probabilities, float(threshold), inference_ms)


def draw_face_boxes(rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """The image with each face's box drawn and numbered (1 = leftmost), ``uint8 (H, W, 3)``."""
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    long_side = max(rgb.shape[:2])
    line = max(2, round(long_side / 200))  # 2 px up to 400 px, thicker on large photos
    font = ImageFont.load_default(size=max(12, round(long_side / 25)))
    for number, face in enumerate(faces, start=1):
        x1, y1, x2, y2 = face.box
        draw.rectangle((x1, y1, x2, y2), outline=BOX_COLOUR, width=line)
        left, top, right, bottom = draw.textbbox((0, 0), str(number), font=font)
        # The number on a filled tab above the box's corner, kept inside the image.
        tab_top = max(0.0, y1 - (bottom - top) - 2 * line)
        tab = (x1, tab_top, x1 + right - left + 2 * line, tab_top + bottom - top + 2 * line)
        draw.rectangle(tab, fill=BOX_COLOUR)
        draw.text((x1 + line - left, tab_top + line - top), str(number), fill=(0, 0, 0), font=font)
    return np.asarray(picture)


def face_table(faces: Sequence[Face], scores: Sequence[FaceScores]) -> pd.DataFrame:
    """One row per face: its number, box and detector confidence, then each model's
    probability of fake and label."""
    rows = []
    for index, face in enumerate(faces):
        row: dict[str, Any] = {
            "face": index + 1,
            "box (x1, y1, x2, y2)": ", ".join(f"{value:.0f}" for value in face.box),
            "detector confidence": face.confidence,
        }
        for model in scores:
            row[f"P(fake) · {model.model_label}"] = model.probabilities[index]
            row[f"label · {model.model_label}"] = model.labels()[index]
        rows.append(row)
    return pd.DataFrame(rows)


def show_faces(item, models, handles, settings: FaceSettings, threshold: float | None) -> None:
    """The Faces section of one image: the boxes drawn on it, each face's crop and each
    model's probability per face side by side; a clear note when there is no face.

    Args:
        item: the page's `ImageInput`.
        models: the picked `ModelChoice` versions, in page order.
        handles: model URI -> the loaded `ModelHandle`.
        settings: the page's faces settings (`page_face_settings`).
        threshold: the page's threshold, or None for each model's own.
    """
    st.markdown("**Faces**")
    faces = page_faces(item.rgb, settings)
    if not faces:
        show_no_face(item.name, [handles[c.uri].loaded.metadata for c in models], settings)
        return
    scores = []
    for choice in models:
        loaded = handles[choice.uri].loaded
        crop = model_crop_settings(loaded.metadata, settings)
        scores.append(score_faces(loaded, item.rgb, faces, crop, threshold, choice.label))
    picture_col, table_col = st.columns([1, 1.6])
    picture_col.image(
        draw_face_boxes(item.rgb, faces),
        caption=f"{len(faces)} face(s) found, numbered from the left",
        width="stretch",
    )
    table_col.dataframe(
        face_table(faces, scores),
        hide_index=True,
        width="stretch",
        column_config={
            f"P(fake) · {s.model_label}": st.column_config.NumberColumn(format="%.3f")
            for s in scores
        },
    )
    crops = [crop_face(item.rgb, face, settings) for face in faces]
    table_col.image(
        crops, caption=[f"face {n}" for n in range(1, len(crops) + 1)], width=THUMBNAIL_WIDTH
    )
    st.caption(
        "Each face is cropped as the model was trained (its recorded faces settings, "
        "else conf/faces/crop.yaml). Below: each model on the whole image."
    )


def show_no_face(name: str, metadatas: Sequence[Mapping[str, Any]], settings: FaceSettings) -> None:
    """Say that an image has no face (and that a model trained to skip such images would
    refuse it): the page then shows the whole-image answers only."""
    st.warning(
        f"No face found in **{name}** (MTCNN found none with a confidence of at least "
        f"{settings.min_confidence:g} and a side of at least {settings.min_size} px). "
        "The answers below are for the whole image."
    )
    if any(model_crop_settings(metadata, settings).on_missing == "skip" for metadata in metadatas):
        st.caption(
            "A model trained with faces.on_missing=skip would refuse this image "
            "(the API answers 422 no_face)."
        )
