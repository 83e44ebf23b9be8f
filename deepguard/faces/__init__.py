"""Faces: detect them with MTCNN, crop each to an upright square, cache detections on disk.

`crop_faces` gives one crop per face; `face_region` gives the single region an image is
trained on or scored by; `detect_files` detects a whole dataset once through the on-disk
cache, and `FaceRegions` then gives the loader each file's crop without detecting again.
`faces_for_scoring` is what the API and the app score (every face with its box, or the
primary one); `scoring_face_settings` picks a model's recorded settings unless others are
chosen. `FaceSettings` is the typed `conf/faces/` group.

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
    crop_geometry,
    eye_angle,
    face_centre,
    face_region,
    landmarks_in_crop,
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
from deepguard.faces.regions import FaceRegions, file_regions
from deepguard.faces.scoring import FaceToScore, faces_for_scoring, scoring_face_settings

__all__ = [
    "LANDMARK_NAMES",
    "DetectionCache",
    "Face",
    "FaceCrop",
    "FaceRegions",
    "FaceSettings",
    "FaceToScore",
    "FileDetections",
    "NoFaceError",
    "crop_face",
    "crop_faces",
    "crop_geometry",
    "detect_all_faces",
    "detect_faces",
    "detect_files",
    "eye_angle",
    "face_centre",
    "face_region",
    "faces_for_scoring",
    "file_regions",
    "get_detector",
    "keep_faces",
    "landmarks_in_crop",
    "no_face_reason",
    "primary_face",
    "scoring_face_settings",
]
