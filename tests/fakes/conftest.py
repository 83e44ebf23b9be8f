"""Images and landmarks for the fakes tests: tiny, deterministic, no files needed."""

from __future__ import annotations

import numpy as np
import pytest

from deepguard.data.synthetic import synthetic_image

# Where MTCNN puts the five landmarks inside its face box, as fractions of the box's
# (width, height): eyes about 40 % down, nose 58 %, mouth corners 78 %.
LANDMARKS_IN_BOX = np.array(
    [[0.30, 0.40], [0.70, 0.40], [0.50, 0.58], [0.35, 0.78], [0.65, 0.78]], dtype=np.float64
)


def photo(index: int = 0, size: int = 64) -> np.ndarray:
    """A uint8 (size, size, 3) natural-statistics image (a dead-leaves 'photograph')."""
    return synthetic_image(0, index, size, seed=11)


def face_box_landmarks(
    box: tuple[float, float, float, float], tilt_degrees: float = 0.0
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Five (x, y) landmarks of a face in `box` = (x, y, width, height), the face turned
    about the box centre by `tilt_degrees` (a tilted head), and the upright box a detector
    would report around the turned face (the bounds of the turned box)."""
    x, y, width, height = box
    corners = np.array([[x, y], [x + width, y], [x, y + height], [x + width, y + height]])
    points = np.asarray([x, y]) + LANDMARKS_IN_BOX * np.asarray([width, height])
    centre = np.asarray([x + width / 2, y + height / 2])
    angle = np.deg2rad(tilt_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = (corners - centre) @ rotation.T + centre
    (left, top), (right, bottom) = turned.min(axis=0), turned.max(axis=0)
    return (points - centre) @ rotation.T + centre, (left, top, right - left, bottom - top)


@pytest.fixture
def face_photo() -> np.ndarray:
    return photo(0, 96)
