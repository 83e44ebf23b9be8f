"""Faces for the scoring paths: which settings a model is scored with, and the parts to score.

A model is scored with the faces settings it was trained with (recorded with its run and
read back into `LoadedModel.metadata["faces"]` by `deepguard.tracking.loading`), unless the
caller chooses others. `faces_for_scoring` gives the API and the app the parts of one
decoded image to score: one per face, or the one face training would have used, each with
its box, cropped by the very function the loader crops with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from deepguard.config.faces import FaceSettings
from deepguard.faces.crop import NoFaceError, crop_face, crop_faces, no_face_reason, primary_face
from deepguard.faces.detector import Face, detect_all_faces

METADATA_KEY = "faces"  # the LoadedModel.metadata entry holding the model's faces settings


class FaceToScore(NamedTuple):
    """One part of an image to score.

    Attributes:
        box: ``(x1, y1, x2, y2)`` of the face in the image's pixels; ``None`` for the whole
            image (faces off, or no face and ``on_missing: whole``).
        pixels: ``uint8 (h, w, 3)`` RGB, the input of `deepguard.images.prepare_input`.
    """

    box: tuple[float, float, float, float] | None
    pixels: np.ndarray


def faces_for_scoring(
    rgb: np.ndarray,
    settings: FaceSettings,
    every_face: bool = True,
    faces: list[Face] | None = None,
) -> list[FaceToScore]:
    """The parts of a decoded image to score under `settings`, left to right.

    With faces off, the whole image. Otherwise one crop per face that passes the settings
    (``every_face``, the API's ``?faces=all``), or only the face that stands for the image
    (`primary_face`: the crop training and `evaluate` use for the same file). With no face,
    the whole image under ``on_missing: whole``.

    Args:
        rgb: ``uint8 (H, W, 3)``, as `deepguard.images.decode_image` returns.
        settings: the faces settings, usually `scoring_face_settings` of the model.
        every_face: every face, or only the image's primary face.
        faces: detections of this image (e.g. from a `DetectionCache`); ``None`` detects.

    Raises:
        NoFaceError: no face passes the settings and ``on_missing`` is ``skip`` (HTTP 422).

    Example:
        >>> parts = faces_for_scoring(decode_image(data), settings)
        >>> batch = np.stack([prepare_input(part.pixels, 64) for part in parts])
    """
    if not settings.enabled:
        return [FaceToScore(None, rgb)]
    found = detect_all_faces(rgb, settings) if faces is None else faces
    if every_face:
        parts = [FaceToScore(crop.box, crop.pixels) for crop in crop_faces(rgb, settings, found)]
    else:
        face = primary_face(found, settings)
        parts = [] if face is None else [FaceToScore(face.box, crop_face(rgb, face, settings))]
    if parts:
        return parts
    if settings.on_missing == "whole":
        return [FaceToScore(None, rgb)]
    raise NoFaceError(no_face_reason(settings))


def scoring_face_settings(
    chosen: FaceSettings | Mapping[str, Any] | None,
    metadata: Mapping[str, Any],
    cache_dir: str | os.PathLike | None = None,
) -> FaceSettings:
    """The faces settings a scoring path uses for a model.

    Args:
        chosen: the caller's `faces` config (``faces=crop`` ...), or ``None`` for the model's.
        metadata: the model's `LoadedModel.metadata`; its ``"faces"`` entry holds the
            settings it was trained with (absent: trained on whole images).
        cache_dir: the detection cache used with the model's settings (the scorer's own
            folder, not the training machine's); a `chosen` config names its own.

    Raises:
        ConfigError: a bad `chosen` config, or recorded settings this version cannot read.
    """
    if isinstance(chosen, FaceSettings):
        return chosen
    if chosen is not None:
        return FaceSettings.from_config(chosen)
    recorded = metadata.get(METADATA_KEY)
    if not recorded:
        return FaceSettings()
    values = dict(recorded) | {"cache_dir": None if cache_dir is None else str(cache_dir)}
    return FaceSettings.from_config(values)
