"""Faces: detect them with MTCNN, crop each to an upright square, cache detections on disk.

`crop_faces` gives one crop per face (the API's per-face answers); `face_region` gives the
single region an image is trained on or scored by; `detect_files` detects a whole dataset
once through the on-disk cache. `FaceSettings` is the typed `conf/faces/` group.

Example:
    >>> settings = FaceSettings.from_config(cfg.faces)
    >>> region = face_region(decode_image(data), settings)
"""

from deepguard.config.faces import FaceSettings
from deepguard.faces.cache import DetectionCache, FileDetections, detect_files
from deepguard.faces.crop import (
    FaceCrop,
    NoFaceError,
    crop_face,
    crop_faces,
    eye_angle,
    face_centre,
    face_region,
    no_face_reason,
    primary_face,
)
from deepguard.faces.detector import (
    LANDMARK_NAMES,
    Face,
    detect_all_faces,
    detect_faces,
    get_detector,
    keep_faces,
)

__all__ = [
    "LANDMARK_NAMES",
    "DetectionCache",
    "Face",
    "FaceCrop",
    "FaceSettings",
    "FileDetections",
    "NoFaceError",
    "crop_face",
    "crop_faces",
    "detect_all_faces",
    "detect_faces",
    "detect_files",
    "eye_angle",
    "face_centre",
    "face_region",
    "get_detector",
    "keep_faces",
    "no_face_reason",
    "primary_face",
]
