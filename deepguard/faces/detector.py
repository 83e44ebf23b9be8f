"""Find faces in an RGB array with MTCNN (the `mtcnn` package: weights ship in its wheel).

The detector is built on first use, once per process, and shared by threads; importing this
module loads neither TensorFlow nor the weights.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
from PIL import Image

from deepguard.config.faces import FaceSettings

# MTCNN's 5 landmarks, in the order of its output. "left" and "right" are as seen in the
# image: left_eye is the eye nearer the image's left edge on an upright face.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

_detector: Any = None
_detector_lock = threading.Lock()


@dataclass(frozen=True)
class Face:
    """One detected face, in pixel coordinates of the image it was found in.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels, inside the image.
        confidence: MTCNN's probability that the box holds a face (0-1).
        landmarks: 5 ``(x, y)`` points in the order of `LANDMARK_NAMES`.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `from_dict` gives back an equal `Face` (floats round-trip)."""
        return {
            "box": list(self.box),
            "confidence": self.confidence,
            "landmarks": [list(point) for point in self.landmarks],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Face:
        """The `Face` that `to_dict` wrote."""
        x1, y1, x2, y2 = (float(v) for v in values["box"])
        points = tuple((float(x), float(y)) for x, y in values["landmarks"])
        return cls(box=(x1, y1, x2, y2), confidence=float(values["confidence"]), landmarks=points)


def detect_faces(rgb: np.ndarray, settings: FaceSettings) -> list[Face]:
    """The faces of an image that pass the settings' confidence and size, left to right.

    Args:
        rgb: ``uint8 (H, W, 3)`` RGB array, as `deepguard.images.decode_image` returns.
        settings: detection settings (`max_side`, then the `min_confidence` and `min_size`
            filters).

    Example:
        >>> faces = detect_faces(decode_image(data), FaceSettings(enabled=True))
        >>> [round(face.confidence, 2) for face in faces]
        [1.0, 0.99]
    """
    return keep_faces(detect_all_faces(rgb, settings), settings)


def detect_all_faces(rgb: np.ndarray, settings: FaceSettings) -> list[Face]:
    """Everything MTCNN finds (after shrinking to `max_side`), before any filtering.

    This is what the detection cache stores, so that changing `min_confidence` reuses it.
    """
    _check_rgb(rgb)
    scale = min(1.0, settings.max_side / max(rgb.shape[:2]))
    small = rgb if scale == 1.0 else _shrink(rgb, scale)
    rows = run_mtcnn(small)
    # Per axis: rounding the shrunk size makes the two scales differ by up to half a pixel.
    back = (rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0])
    faces = [_face_from_row(row, back, rgb.shape) for row in rows]
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


def keep_faces(faces: list[Face], settings: FaceSettings) -> list[Face]:
    """The faces at or above `min_confidence` whose shorter box side is at least `min_size`."""
    return [
        face
        for face in faces
        if face.confidence >= settings.min_confidence
        and min(face.width, face.height) >= settings.min_size
    ]


def run_mtcnn(rgb: np.ndarray) -> np.ndarray:
    """MTCNN's raw rows for one image: ``[image_id, x1, y1, x2, y2, confidence, 5 x, 5 y]``.

    The one place the network runs (tests count calls to it). MTCNN's own `min_face_size`
    stays at its default of 20 px: other values were measured to miss frame-filling faces
    (40) or to crash its image pyramid (30), so `min_size` filters afterwards instead.
    """
    rows = get_detector().detect_faces(rgb, output_type="numpy", box_format="xyxy")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 16)


def get_detector() -> Any:
    """The process's MTCNN, built on first call (about 0.5 s) and reused afterwards."""
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = _build_detector()
        return _detector


def _build_detector() -> Any:
    from mtcnn import MTCNN
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    # Absolute paths to the wheel's own weights: mtcnn otherwise looks for `pnet.lz4` in the
    # working directory first, and those files are pickles.
    weights = files("mtcnn.assets.weights")
    stages = [
        StagePNet(weights=str(weights / "pnet.lz4")),
        StageRNet(weights=str(weights / "rnet.lz4")),
        StageONet(weights=str(weights / "onet.lz4")),
    ]
    return MTCNN(stages=stages, device="CPU:0")


def _face_from_row(row: np.ndarray, scale: tuple[float, float], shape: tuple[int, ...]) -> Face:
    """A `Face` in the full image's pixels (``scale`` = full / detected, per x and y), its box
    clipped to the image."""
    height, width = shape[:2]
    sx, sy = scale
    x1, x2 = (float(np.clip(row[i] * sx, 0, width)) for i in (1, 3))
    y1, y2 = (float(np.clip(row[i] * sy, 0, height)) for i in (2, 4))
    points = tuple((float(row[6 + i] * sx), float(row[11 + i] * sy)) for i in range(5))
    return Face(box=(x1, y1, x2, y2), confidence=float(row[5]), landmarks=points)


def _shrink(rgb: np.ndarray, scale: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3:
        raise TypeError(
            "expected a uint8 (H, W, 3) RGB array such as deepguard.images.decode_image "
            f"returns, got {type(rgb).__name__} {getattr(rgb, 'dtype', '')} "
            f"{getattr(rgb, 'shape', '')}"
        )
    if rgb.shape[2] != 3:
        raise TypeError(f"expected 3 colour channels (RGB), got shape {rgb.shape}")
