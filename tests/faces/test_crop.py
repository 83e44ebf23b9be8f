"""Cropping given detections: geometry, alignment, the region choice and the no-face rule.

No detector here: these tests build `Face` objects by hand, so they run anywhere.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from deepguard.faces import (
    Face,
    FaceSettings,
    NoFaceError,
    crop_face,
    crop_faces,
    eye_angle,
    face_region,
    primary_face,
)
from tests.faces.helpers import (
    grey_level_difference,
    rotate_image_and_face,
    smooth_texture,
    upright_face,
)

CROP = FaceSettings(enabled=True, margin=0.25, min_confidence=0.9, min_size=40)


def test_an_unaligned_crop_copies_the_pixels_around_the_face():
    rgb = smooth_texture(200)
    face = upright_face(centre=(100.0, 100.0), side=80.0)
    crop = crop_face(rgb, face, dataclasses.replace(CROP, align=False))
    # side 80 x (1 + 2 x 0.25) = 120 px, centred on the face: rows and columns 40..159
    assert crop.dtype == np.uint8 and crop.shape == (120, 120, 3)
    assert np.array_equal(crop, rgb[40:160, 40:160])


def test_size_rescales_the_crop_to_a_fixed_square():
    crop = crop_face(smooth_texture(200), upright_face(), dataclasses.replace(CROP, size=64))
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8


def test_a_crop_beyond_the_image_edge_is_filled_by_mirroring():
    rgb = smooth_texture(200)
    face = upright_face(centre=(30.0, 100.0), side=80.0)  # square reaches 30 px past the left
    crop = crop_face(rgb, face, dataclasses.replace(CROP, align=False))
    assert crop.shape == (120, 120, 3)
    assert np.array_equal(crop[:, 30:], rgb[40:160, 0:90])
    assert np.array_equal(crop[:, :30], rgb[40:160, 0:30][:, ::-1])  # the mirror image


@pytest.mark.parametrize("degrees", [15.0, -15.0, 40.0])
def test_alignment_undoes_a_rotation_of_the_image(degrees):
    rgb = smooth_texture(240)
    face = upright_face(centre=(120.0, 120.0), side=80.0)
    turned, turned_face = rotate_image_and_face(rgb, face, degrees)
    assert math.degrees(eye_angle(turned_face)) == pytest.approx(-degrees)
    upright = crop_face(rgb, face, CROP)
    realigned = crop_face(turned, turned_face, CROP)
    unaligned = crop_face(turned, turned_face, dataclasses.replace(CROP, align=False))
    # Two bilinear samplings (Pillow's turn, then ours) against none: about 1 grey level.
    assert grey_level_difference(upright, realigned) < 2.0  # measured 0.95
    assert grey_level_difference(upright, unaligned) > 10.0


def test_eye_angle_is_positive_when_the_right_eye_is_lower():
    face = dataclasses.replace(
        upright_face(), landmarks=((80, 90), (120, 100), *(((100, 100),) * 3))
    )
    assert eye_angle(face) == pytest.approx(math.atan2(10, 40))


def test_crop_faces_keeps_only_faces_that_pass_the_settings_and_is_deterministic():
    rgb = smooth_texture(300)
    big, small = upright_face((90.0, 150.0), 100.0), upright_face((230.0, 150.0), 30.0)
    doubtful = dataclasses.replace(upright_face((200.0, 60.0), 60.0), confidence=0.5)
    crops = crop_faces(rgb, CROP, faces=[big, small, doubtful])
    assert [crop.box for crop in crops] == [big.box]  # 30 px < min_size, 0.5 < min_confidence
    again = crop_faces(rgb, CROP, faces=[big, small, doubtful])
    assert np.array_equal(crops[0].pixels, again[0].pixels)
    assert crops[0].landmarks == big.landmarks and crops[0].confidence == big.confidence


def test_primary_face_is_the_largest_or_the_most_confident():
    large = dataclasses.replace(upright_face((80.0, 100.0), 90.0), confidence=0.95)
    sure = dataclasses.replace(upright_face((220.0, 100.0), 50.0), confidence=0.999)
    assert primary_face([sure, large], CROP) == large
    assert primary_face([sure, large], dataclasses.replace(CROP, pick="confident")) == sure
    assert primary_face([], CROP) is None


def test_face_region_is_the_whole_image_when_faces_are_off():
    rgb = smooth_texture(100)
    assert face_region(rgb, FaceSettings(enabled=False), faces=[]) is rgb


def test_face_region_crops_the_primary_face():
    rgb = smooth_texture(300)
    large, small = upright_face((100.0, 150.0), 100.0), upright_face((230.0, 150.0), 50.0)
    region = face_region(rgb, CROP, faces=[small, large])
    assert np.array_equal(region, crop_face(rgb, large, CROP))


def test_an_image_without_a_face_follows_on_missing():
    rgb = smooth_texture(100)
    whole = dataclasses.replace(CROP, on_missing="whole")
    assert face_region(rgb, whole, faces=[]) is rgb
    skip = dataclasses.replace(CROP, on_missing="skip")
    with pytest.raises(NoFaceError, match=r"no face with confidence >= 0\.9") as raised:
        face_region(rgb, skip, faces=[])
    assert raised.value.status == 422 and raised.value.code == "no_face"


def test_a_face_survives_its_json_form_exactly():
    face = Face(
        box=(1 / 3, 2.5, 100.125, 99.9), confidence=0.987654321, landmarks=upright_face().landmarks
    )
    assert Face.from_dict(face.to_dict()) == face
