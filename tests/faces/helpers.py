"""Images and detections for the face tests."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage

from deepguard.faces import Face


def smooth_texture(size: int, seed: int = 0) -> np.ndarray:
    """A ``uint8 (size, size, 3)`` image of blurred noise: detail at every place, no edges
    sharper than a few pixels, so that two bilinear samplings of it agree closely."""
    noise = np.random.default_rng(seed).uniform(0, 255, (size, size, 3))
    blurred = ndimage.gaussian_filter(noise, sigma=(3, 3, 0))
    spread = (blurred - blurred.mean()) * 6 + 128  # restore contrast lost to the blur
    return np.clip(spread, 0, 255).astype(np.uint8)


def upright_face(centre=(100.0, 100.0), side=80.0) -> Face:
    """A `Face` with level eyes around `centre`, its box `side` pixels wide."""
    x, y = centre
    half = side / 2
    points = ((x - 18, y - 15), (x + 18, y - 15), (x, y), (x - 14, y + 15), (x + 14, y + 15))
    return Face(box=(x - half, y - half, x + half, y + half), confidence=0.99, landmarks=points)


def rotate_image_and_face(rgb: np.ndarray, face: Face, degrees: float) -> tuple[np.ndarray, Face]:
    """The image turned by `degrees` (counter-clockwise, as Pillow turns it, about the image
    centre, same size) and the same face with its landmarks turned exactly with it."""
    turned = np.asarray(Image.fromarray(rgb).rotate(degrees, resample=Image.Resampling.BILINEAR))
    height, width = rgb.shape[:2]
    centre_x, centre_y = width / 2, height / 2
    # Counter-clockwise on screen is clockwise in (x, y-down) maths: negate the angle.
    cos, sin = math.cos(math.radians(-degrees)), math.sin(math.radians(-degrees))

    def turn(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - centre_x, y - centre_y
        return centre_x + dx * cos - dy * sin, centre_y + dx * sin + dy * cos

    points = tuple(turn(x, y) for x, y in face.landmarks)
    box_x, box_y = turn((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    half = face.width / 2
    box = (box_x - half, box_y - half, box_x + half, box_y + half)
    return turned, Face(box=box, confidence=face.confidence, landmarks=points)


def grey_level_difference(a: np.ndarray, b: np.ndarray, inner: float = 1.0) -> float:
    """Mean absolute difference of two equal-sized crops over their central `inner` part."""
    side = a.shape[0]
    cut = round(side * (1 - inner) / 2)
    window = slice(cut, side - cut)
    return float(np.abs(a[window, window].astype(float) - b[window, window].astype(float)).mean())
