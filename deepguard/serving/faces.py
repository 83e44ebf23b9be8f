"""Faces in the API: the faces settings a model is served with, and the parts of an upload
that the model scores.

A model is served with the ``faces`` settings of `conf/serve.yaml` when they are set, else
with the settings it was trained with (recorded in its metadata under ``"faces"``), else on
whole images. `image_parts` turns one decoded upload into what the model scores: the
top-level answer (the whole image, or the face that stands for it, `primary_face`: the very
crop training and `evaluate` use) and, with ``?faces=all``, every face with its box. Every
crop is cut by `deepguard.faces.crop_face`, the function the training loader crops with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from deepguard.config.faces import FaceSettings
from deepguard.errors import ConfigError, ImageInputError
from deepguard.faces import (
    DetectionCache,
    Face,
    NoFaceError,
    crop_face,
    detect_all_faces,
    keep_faces,
    no_face_reason,
    primary_face,
)

# The LoadedModel.metadata entry holding the faces settings a model was trained with
# (conf/faces keys), as the tracking loader records it.
FACES_METADATA_KEY = "faces"
# The values of ``?faces=`` (and of the JSON body's ``faces`` field).
FACES_CHOICES = ("all",)

FaceFinder = Callable[[np.ndarray], list[Face]]


class TooManyFacesError(ImageInputError):
    """An image holds more faces than ``max_faces`` under ``?faces=all`` (422
    ``too_many_faces``): the body is within its size limits, its content is too much work."""

    def __init__(self, found: int, limit: int):
        super().__init__(
            f"the image holds {found} faces, more than the limit of {limit} per image for "
            "faces=all; crop the photo into smaller groups, leave out faces=all to score only "
            "its primary face, or raise max_faces in the serve config",
            status=422,
            code="too_many_faces",
        )


@dataclass(frozen=True)
class Part:
    """One region of an upload that the model scores.

    Attributes:
        box: ``(x1, y1, x2, y2)`` of the face in the upload's pixels; ``None`` for the
            whole image.
        confidence: the face detector's confidence (0-1); ``None`` for the whole image.
        pixels: ``uint8 (h, w, 3)`` RGB, the input of `deepguard.images.prepare_input`.
    """

    box: tuple[float, float, float, float] | None
    confidence: float | None
    pixels: np.ndarray


@dataclass(frozen=True)
class ImageParts:
    """What the model scores for one upload.

    Attributes:
        top: the top-level answer's region (the whole image or the primary face); with
            ``faces`` it is one of them (the same object) whenever it is a face.
        faces: one part per face, left to right, under ``?faces=all``; ``None`` otherwise.
    """

    top: Part
    faces: list[Part] | None = None

    def to_score(self) -> list[Part]:
        """Each distinct part once: the faces, then the top when it is not one of them."""
        faces = self.faces or []
        return faces + ([] if any(face is self.top for face in faces) else [self.top])


def recorded_face_settings(metadata: Mapping[str, Any]) -> FaceSettings | None:
    """The faces settings a model was trained with, from its metadata; ``None`` when none
    are recorded (a model trained before faces existed, or a bare `.keras` file).

    The recorded ``cache_dir`` is dropped: it names a folder of the training machine.

    Raises:
        ConfigError: the recorded settings are not a mapping, or this version cannot read
            them (an unknown key, a bad value).
    """
    recorded = metadata.get(FACES_METADATA_KEY)
    if recorded is None:
        return None
    if not isinstance(recorded, Mapping):
        raise ConfigError(
            f"the model's recorded faces settings must be a mapping of conf/faces keys, got "
            f"{type(recorded).__name__}; set faces=none or faces=crop in the serve config to "
            "choose them"
        )
    values = {str(key): value for key, value in recorded.items() if key != "cache_dir"}
    return FaceSettings.from_config(values)


def serving_face_settings(
    configured: FaceSettings | None, metadata: Mapping[str, Any]
) -> FaceSettings:
    """The faces settings a model is served with: the serve config's when set, else the
    model's recorded ones, else faces off (whole images)."""
    if configured is not None:
        return configured
    return recorded_face_settings(metadata) or FaceSettings()


def face_finder(settings: FaceSettings, data: bytes) -> FaceFinder:
    """Every detection of one upload (unfiltered), through the detection cache when the
    settings name one (keyed by the upload's sha256, so a repeated upload is not detected
    again)."""
    if settings.cache_dir is None:
        return lambda rgb: detect_all_faces(rgb, settings)
    cache = DetectionCache(settings.cache_dir, settings)
    return lambda rgb: cache.detections(data, rgb)[0]


def image_parts(
    rgb: np.ndarray,
    settings: FaceSettings,
    every_face: bool,
    max_faces: int,
    find_faces: FaceFinder,
) -> ImageParts:
    """What the model scores for one decoded upload.

    With faces off and no ``every_face``, the whole image (no detection). Otherwise the
    faces are detected once: the top-level answer is the primary face's crop with faces on,
    the whole image with faces off; ``every_face`` adds one crop per face (with faces off,
    cropped with the same settings switched on). With no face, ``on_missing: whole`` scores
    the whole image and ``skip`` refuses the upload.

    Args:
        rgb: ``uint8 (H, W, 3)``, as `deepguard.images.decode_image` returns.
        settings: the served faces settings (`serving_face_settings`).
        every_face: answer per face (``?faces=all``).
        max_faces: most faces answered per image under ``every_face``.
        find_faces: every detection of this image (`face_finder`).

    Raises:
        NoFaceError: no face passes the settings and ``on_missing`` is ``skip`` (422).
        TooManyFacesError: more than ``max_faces`` faces under ``every_face`` (422).
    """
    whole = Part(None, None, rgb)
    if not settings.enabled and not every_face:
        return ImageParts(top=whole)
    cropping = settings if settings.enabled else replace(settings, enabled=True)
    found = keep_faces(find_faces(rgb), cropping)
    if not found and settings.on_missing == "skip":
        raise NoFaceError(no_face_reason(settings))
    if every_face and len(found) > max_faces:
        raise TooManyFacesError(len(found), max_faces)
    faces = [_face_part(rgb, face, cropping) for face in found] if every_face else None
    if not settings.enabled:
        return ImageParts(top=whole, faces=faces)
    return ImageParts(top=_primary_part(rgb, found, settings, faces) or whole, faces=faces)


def _face_part(rgb: np.ndarray, face: Face, settings: FaceSettings) -> Part:
    return Part(face.box, face.confidence, crop_face(rgb, face, settings))


def _primary_part(
    rgb: np.ndarray, found: list[Face], settings: FaceSettings, faces: list[Part] | None
) -> Part | None:
    """The part of the face that stands for the image (reusing its crop among `faces`)."""
    primary = primary_face(found, settings)
    if primary is None:
        return None
    if faces is not None:
        return faces[found.index(primary)]
    return _face_part(rgb, primary, settings)


def warm_face_detector(settings: FaceSettings) -> None:
    """Build the detector and run it once, so the first upload does not pay for it (about
    0.5 s to build and a second to trace on 2 cores)."""
    detect_all_faces(np.full((96, 96, 3), 128, np.uint8), settings)
