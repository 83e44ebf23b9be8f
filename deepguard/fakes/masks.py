"""Face masks for self-blending: where a transformed copy of a face is blended in.

Two sources of the face region, both randomized per fake as in SBI (Shiohara and Yamasaki,
CVPR 2022), which draws among several hull shapes and deforms each one:

- ``landmark_hull_mask``: five face landmarks (eyes, nose, mouth corners, as MTCNN gives
  them), widened towards the forehead, the chin and the cheeks by random amounts relative to
  the eye-to-mouth distance, then the convex hull of those points.
- ``face_ellipse_mask``: an ellipse near the image centre with random axes and tilt, for
  face-centred crops with no landmarks.

``soften_mask`` then gives the boundary its variety: an optional elastic deformation, a
random erosion or dilation and a Gaussian blur. The blurred mask is exactly 0 beyond the
blur's truncation radius, so a blended fake equals its source there to the last bit.

Image coordinates throughout: ``x`` is the column, ``y`` the row, in pixels. Boundary sizes
are fractions of the *face size*, the square root of the face region's area in pixels, so a
small face in a large photo gets a boundary to its own scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

# Gaussian blurs stop at 3 sigma: beyond that the mask is exactly 0, not merely tiny.
BLUR_TRUNCATE = 3.0
N_LANDMARKS = 5  # left eye, right eye, nose, left mouth corner, right mouth corner


def _uniform(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    low, high = (float(b) for b in bounds)
    return float(rng.uniform(low, high))


def check_landmarks(landmarks: np.ndarray | None) -> np.ndarray | None:
    """Five ``(x, y)`` landmarks as float64 ``(5, 2)``, or ``None`` when there are none.

    An all-NaN array (what a pipeline passes for an image without a detected face) means
    "no landmarks"; eyes or mouth corners that coincide are treated the same way.

    Raises:
        ValueError: the array is not ``(5, 2)``, or only some of it is NaN.
    """
    if landmarks is None:
        return None
    points = np.asarray(landmarks, dtype=np.float64)
    if points.size == 0 or np.isnan(points).all():
        return None
    if points.shape != (N_LANDMARKS, 2) or np.isnan(points).any():
        raise ValueError(
            f"landmarks must be {N_LANDMARKS} (x, y) points in pixels (left eye, right eye, "
            f"nose, left and right mouth corner), shape ({N_LANDMARKS}, 2) with no NaN; got "
            f"shape {points.shape}; pass None (or all NaN) when no face was detected"
        )
    eyes, mouth = points[:2], points[3:]
    if np.allclose(eyes[0], eyes[1]) or np.allclose(eyes.mean(0), mouth.mean(0)):
        return None
    return points


def landmark_hull_mask(
    shape: tuple[int, int],
    landmarks: np.ndarray,
    rng: np.random.Generator,
    forehead: Sequence[float] = (0.1, 0.6),
    chin: Sequence[float] = (0.05, 0.25),
    cheeks: Sequence[float] = (0.1, 0.3),
) -> np.ndarray:
    """The convex hull of five landmarks widened to cover the face, as a boolean mask.

    Args:
        shape: ``(height, width)`` of the image.
        landmarks: float ``(5, 2)`` ``(x, y)`` pixels (see `check_landmarks`).
        rng: draws the widening.
        forehead: (low, high) how far above the eyes the hull reaches, as a fraction of the
            eye-to-mouth distance.
        chin: (low, high) how far below the mouth corners, same unit.
        cheeks: (low, high) how far beyond the eyes and mouth corners sideways, same unit;
            drawn for each corner separately, so hulls are not symmetric.

    Returns:
        bool ``(height, width)``, True inside the face.
    """
    eyes, mouth = landmarks[:2], landmarks[3:]
    eye_centre, mouth_centre = eyes.mean(axis=0), mouth.mean(axis=0)
    # Face axes from the landmarks themselves, so a tilted face gets a tilted hull.
    down = mouth_centre - eye_centre
    eye_to_mouth = float(np.linalg.norm(down))
    down /= eye_to_mouth
    across = np.array([-down[1], down[0]])
    centre = landmarks.mean(axis=0)
    corners = []
    for point, vertical in ((eyes[0], -1), (eyes[1], -1), (mouth[0], 1), (mouth[1], 1)):
        reach = _uniform(rng, forehead if vertical < 0 else chin) * eye_to_mouth
        side = np.sign(np.dot(point - centre, across)) or 1.0
        outward = _uniform(rng, cheeks) * eye_to_mouth * side
        corners.append(point + vertical * reach * down + outward * across)
    points = np.vstack([landmarks, corners])
    return _fill_polygon(shape, points[_hull_order(points)])


def _hull_order(points: np.ndarray) -> np.ndarray:
    try:
        return ConvexHull(points).vertices
    except QhullError:  # all points on one line: no area to fill
        return np.arange(0)


def _fill_polygon(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    height, width = shape
    canvas = Image.new("1", (width, height), 0)
    if len(polygon) >= 3:
        ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in polygon], fill=1)
    return np.asarray(canvas, dtype=bool)


def face_ellipse_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    centre_jitter: float = 0.05,
    half_width: Sequence[float] = (0.25, 0.38),
    half_height: Sequence[float] = (0.32, 0.45),
    tilt: float = 10.0,
) -> np.ndarray:
    """A random face ellipse near the centre of a face-centred crop, as a boolean mask.

    Args:
        shape: ``(height, width)`` of the image.
        rng: draws the centre, the axes and the tilt.
        centre_jitter: largest offset of the centre from the image centre, as a fraction of
            the width (x) and the height (y).
        half_width: (low, high) horizontal semi-axis, fraction of the image width.
        half_height: (low, high) vertical semi-axis, fraction of the image height.
        tilt: largest rotation of the ellipse either way, in degrees.

    Returns:
        bool ``(height, width)``, True inside the ellipse.
    """
    height, width = shape
    cx = width * (0.5 + rng.uniform(-centre_jitter, centre_jitter))
    cy = height * (0.5 + rng.uniform(-centre_jitter, centre_jitter))
    a, b = _uniform(rng, half_width) * width, _uniform(rng, half_height) * height
    angle = np.deg2rad(rng.uniform(-tilt, tilt))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    # Pixel centres rotated into the ellipse's own axes.
    u = (xx + 0.5 - cx) * np.cos(angle) + (yy + 0.5 - cy) * np.sin(angle)
    v = -(xx + 0.5 - cx) * np.sin(angle) + (yy + 0.5 - cy) * np.cos(angle)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def elastic_deform(
    mask: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float
) -> np.ndarray:
    """Warp a boolean mask by a smooth random displacement field (Simard et al. 2003).

    Args:
        mask: bool ``(height, width)``.
        rng: draws the field.
        alpha: standard deviation of the displacement, in pixels.
        sigma: smoothness of the field (its Gaussian's sigma), in pixels.
    """
    if alpha <= 0:
        return mask
    fields = []
    for _ in range(2):
        field = ndimage.gaussian_filter(rng.uniform(-1, 1, mask.shape), sigma, mode="reflect")
        fields.append(field * alpha / max(float(field.std()), 1e-12))
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]].astype(np.float64)
    coordinates = [yy + fields[0], xx + fields[1]]
    warped = ndimage.map_coordinates(mask.astype(np.float32), coordinates, order=1, cval=0.0)
    return warped > 0.5


def grow_or_shrink(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate a boolean mask by `pixels` (positive) or erode it (negative), with a disc.

    Euclidean distance transforms make the structuring element a true disc of any radius.
    An erosion that would leave nothing returns the mask unchanged.
    """
    if pixels > 0:
        return ndimage.distance_transform_edt(~mask) <= pixels
    if pixels < 0:
        eroded = ndimage.distance_transform_edt(mask) > -pixels
        return eroded if eroded.any() else mask
    return mask


def soften_mask(
    mask: np.ndarray,
    rng: np.random.Generator,
    elastic_prob: float = 0.5,
    elastic_alpha: float = 0.01,
    elastic_sigma: float = 0.05,
    boundary_shift: Sequence[float] = (-0.04, 0.04),
    boundary_blur: Sequence[float] = (0.005, 0.035),
) -> np.ndarray:
    """Deform, erode or dilate, and blur a boolean mask into blending weights in ``[0, 1]``.

    Args:
        mask: bool ``(height, width)``, the face region.
        rng: draws every step.
        elastic_prob: probability of an elastic deformation of the boundary.
        elastic_alpha: its displacement standard deviation, fraction of the face size.
        elastic_sigma: its smoothness, fraction of the face size.
        boundary_shift: (low, high) dilation (positive) or erosion (negative) of the
            boundary, fraction of the face size, drawn uniformly.
        boundary_blur: (low, high) Gaussian sigma of the boundary, fraction of the face
            size, drawn uniformly.

    Returns:
        float64 ``(height, width)``: 1 well inside the face, a soft ramp across the
        boundary, exactly 0 farther than ``3 * sigma`` outside it (an all-zero mask stays 0).
    """
    side = float(np.sqrt(mask.sum()))  # the face size, pixels
    if side == 0:
        return np.zeros(mask.shape)
    if rng.uniform() < elastic_prob:
        mask = elastic_deform(mask, rng, elastic_alpha * side, elastic_sigma * side)
    mask = grow_or_shrink(mask, _uniform(rng, boundary_shift) * side)
    sigma = max(_uniform(rng, boundary_blur) * side, 1e-3)
    soft = ndimage.gaussian_filter(mask.astype(np.float64), sigma, truncate=BLUR_TRUNCATE)
    peak = float(soft.max())
    # A small mask blurred wide never reaches 1; rescale so its centre is fully blended (SBI).
    return soft / peak if peak > 0 else soft
