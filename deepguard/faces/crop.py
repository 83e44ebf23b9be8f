"""Cut faces out of an image: a square around each box, with a margin, turned upright.

Pure and deterministic given the detections: the same image and the same `Face` list give
the same pixels, whether the faces came from the detector or from the detection cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from deepguard.config.faces import FaceSettings
from deepguard.errors import ImageInputError
from deepguard.faces.detector import Face, detect_faces, keep_faces


class NoFaceError(ImageInputError):
    """An image has no face that passes the settings and `faces.on_missing` is ``skip``.

    An `ImageInputError` with HTTP status 422 and code ``no_face``, so the API answers it like
    any other unusable image.
    """

    def __init__(self, message: str):
        super().__init__(message, status=422, code="no_face")


@dataclass(frozen=True)
class FaceCrop:
    """One face and its crop.

    Attributes:
        box: ``(x1, y1, x2, y2)`` of the detected face in the source image, in pixels.
        confidence: the detector's confidence (0-1).
        landmarks: 5 ``(x, y)`` points in the source image (see `LANDMARK_NAMES`).
        pixels: the crop, ``uint8 (S, S, 3)`` RGB.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: tuple[tuple[float, float], ...]
    pixels: np.ndarray


def crop_faces(
    rgb: np.ndarray, settings: FaceSettings, faces: list[Face] | None = None
) -> list[FaceCrop]:
    """One crop per face that passes the settings, left to right (what the API answers).

    Args:
        rgb: ``uint8 (H, W, 3)`` RGB array, as `deepguard.images.decode_image` returns.
        settings: margin, alignment, output size and the detection filters.
        faces: detections of this image (from `detect_faces` or the cache); ``None`` runs the
            detector. They are filtered by `min_confidence` and `min_size` either way.

    Example:
        >>> crops = crop_faces(decode_image(data), FaceSettings(enabled=True, size=128))
        >>> [crop.pixels.shape for crop in crops]
        [(128, 128, 3), (128, 128, 3)]
    """
    if faces is None:
        faces = detect_faces(rgb, settings)
    return [
        FaceCrop(face.box, face.confidence, face.landmarks, crop_face(rgb, face, settings))
        for face in keep_faces(faces, settings)
    ]


def face_region(
    rgb: np.ndarray, settings: FaceSettings, faces: list[Face] | None = None
) -> np.ndarray:
    """The one region a detector trains on or scores for an image.

    ``faces=none`` (settings disabled) gives the image unchanged; otherwise the crop of the
    face `settings.pick` chooses. With no face, `on_missing: whole` gives the image unchanged
    and `on_missing: skip` raises `NoFaceError`.

    Args:
        rgb: ``uint8 (H, W, 3)`` RGB array.
        settings: the `faces` settings.
        faces: detections of this image; ``None`` runs the detector.

    Raises:
        NoFaceError: no face passes the settings and `on_missing` is ``skip``.
    """
    if not settings.enabled:
        return rgb
    if faces is None:
        faces = detect_faces(rgb, settings)
    face = primary_face(faces, settings)
    if face is not None:
        return crop_face(rgb, face, settings)
    if settings.on_missing == "whole":
        return rgb
    raise NoFaceError(no_face_reason(settings))


def primary_face(faces: list[Face], settings: FaceSettings) -> Face | None:
    """The face that stands for the image: the `largest` box or the most `confident` one
    (ties go to the other criterion, then to the leftmost); ``None`` when none passes."""
    kept = keep_faces(faces, settings)
    if not kept:
        return None

    def area(face: Face) -> float:
        return face.width * face.height

    if settings.pick == "largest":
        return max(kept, key=lambda face: (area(face), face.confidence, -face.box[0]))
    return max(kept, key=lambda face: (face.confidence, area(face), -face.box[0]))


def no_face_reason(settings: FaceSettings) -> str:
    """Why an image was skipped, worded for the quarantine table and the API."""
    return (
        f"no face with confidence >= {settings.min_confidence:g} and a side of at least "
        f"{settings.min_size} px was found; send an image with a visible face, or set "
        "faces.on_missing=whole to score the whole image"
    )


def crop_face(rgb: np.ndarray, face: Face, settings: FaceSettings) -> np.ndarray:
    """The square crop of one face: ``uint8 (S, S, 3)``.

    The square's side is the box's longer side times ``1 + 2 * margin``; it is centred on
    `face_centre`, from the landmarks, which follow the face when the image turns (on
    faces-hard-dev, the crop of a face turned by 15 degrees differed from the upright crop by
    8 grey levels in the median with this centre, 13 with the box centre). With `align`, it
    is turned by the angle of the eye line so that the eyes come out level. Parts beyond the
    image edge are filled by mirroring the image. Without `align` the crop holds the image's pixels
    unchanged (no resampling); `size` then rescales it once (bilinear, antialiased).
    """
    centre, side, angle = crop_geometry(face, settings)
    pixels = _rotated_square(rgb, centre, side, angle)
    if settings.size is not None and settings.size != side:
        size = (settings.size, settings.size)
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
    return pixels


def crop_geometry(face: Face, settings: FaceSettings) -> tuple[tuple[float, float], int, float]:
    """Where `crop_face` cuts: the square's centre ``(x, y)`` and side in source pixels, and
    its turn in radians (`eye_angle` with `align`, else 0)."""
    side = max(1, round(max(face.width, face.height) * (1 + 2 * settings.margin)))
    centre = face_centre(face)
    angle = eye_angle(face) if settings.align else 0.0
    if angle == 0.0:
        # A whole-pixel origin, so that an unrotated crop copies pixels instead of blending.
        centre = (round(centre[0] - side / 2) + side / 2, round(centre[1] - side / 2) + side / 2)
    return centre, side, angle


def landmarks_in_crop(face: Face, settings: FaceSettings, side: int) -> np.ndarray:
    """The face's 5 landmarks in the pixels of its crop resized to ``side x side``.

    `crop_face`'s crop is square, so a later resize to the model input scales both axes
    alike: with `side` = the model input's side these are the landmarks of the model input,
    where SBI's face mask is drawn. Continuous coordinates, as the crop samples them.

    Returns:
        float32 ``(5, 2)`` ``(x, y)`` points, in the order of `LANDMARK_NAMES`.
    """
    centre, crop_side, angle = crop_geometry(face, settings)
    cos, sin = math.cos(angle), math.sin(angle)
    offsets = np.asarray(face.landmarks, dtype=np.float64) - np.asarray(centre)
    # The crop samples source = centre + R(angle) (u - half, v - half); invert with R's transpose.
    upright = offsets @ np.array([[cos, -sin], [sin, cos]])
    return ((upright + crop_side / 2) * (side / crop_side)).astype(np.float32)


def face_centre(face: Face) -> tuple[float, float]:
    """``(x, y)`` halfway between the eyes' midpoint and the mouth's midpoint, in pixels."""
    points = np.asarray(face.landmarks, dtype=np.float64)
    centre = (points[0:2].mean(axis=0) + points[3:5].mean(axis=0)) / 2
    return float(centre[0]), float(centre[1])


def eye_angle(face: Face) -> float:
    """Angle of the line from the left to the right eye, in radians (clockwise positive,
    as image rows grow downwards); 0 for level eyes."""
    (left_x, left_y), (right_x, right_y) = face.landmarks[0], face.landmarks[1]
    return math.atan2(right_y - left_y, right_x - left_x)


def _rotated_square(
    rgb: np.ndarray, centre: tuple[float, float], side: int, angle: float
) -> np.ndarray:
    """The ``side``-pixel square centred on ``centre`` (x, y), turned by ``angle`` radians.

    Coordinates are continuous: pixel (row i, column j) covers [j, j + 1) x [i, i + 1). With
    ``angle == 0`` and a whole-pixel corner the pixels are copied; otherwise Pillow samples
    them bilinearly (the same pixels as `scipy.ndimage.affine_transform`, 3 times faster).
    """
    half = side / 2
    if (
        angle == 0.0
        and float(centre[0] - half).is_integer()
        and float(centre[1] - half).is_integer()
    ):
        left, top = int(centre[0] - half), int(centre[1] - half)
        return _mirrored_window(rgb, left, top, left + side, top + side)
    cos, sin = math.cos(angle), math.sin(angle)
    reach = half * (abs(cos) + abs(sin))  # half the side of the turned square's bounding box
    left, top = math.floor(centre[0] - reach) - 1, math.floor(centre[1] - reach) - 1
    right, bottom = math.ceil(centre[0] + reach) + 1, math.ceil(centre[1] + reach) + 1
    window = _mirrored_window(rgb, left, top, right, bottom)
    x, y = centre[0] - left, centre[1] - top  # the centre in the window's coordinates
    # Output point (u, v) samples the window at centre + R(angle) (u - half, v - half).
    coefficients = (cos, -sin, x - half * (cos - sin), sin, cos, y - half * (sin + cos))
    # Per channel in float32, then rounded: Pillow's 8-bit bilinear truncates (0.5 grey
    # levels darker on average).
    channels = [
        np.asarray(
            Image.fromarray(window[:, :, channel].astype(np.float32)).transform(
                (side, side), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR
            )
        )
        for channel in range(3)
    ]
    return np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def _mirrored_window(rgb: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """``rgb[top:bottom, left:right]``, where rows and columns beyond the image mirror it
    (``c b a | a b c | c b a``), so a crop at the edge never shows an invented border."""
    height, width = rgb.shape[:2]
    rows = _mirror(np.arange(top, bottom), height)
    columns = _mirror(np.arange(left, right), width)
    return np.ascontiguousarray(rgb[rows[:, None], columns[None, :]])


def _mirror(indices: np.ndarray, length: int) -> np.ndarray:
    period = indices % (2 * length)
    return np.where(period < length, period, 2 * length - 1 - period)
