"""Self-blended fakes change the face region only, follow the landmarks, repeat by seed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from deepguard.fakes import FakeSynthesizer, SelfBlender, face_ellipse_mask, soften_mask
from deepguard.fakes.masks import BLUR_TRUNCATE, check_landmarks
from tests.fakes.conftest import face_box_landmarks, photo


def sbi_synthesizer(**settings) -> FakeSynthesizer:
    return FakeSynthesizer({"sbi": SelfBlender(**settings)}, {"sbi": 1.0})


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_fake_differs_from_its_source_only_inside_the_blurred_mask(face_photo, dtype):
    source = face_photo.astype(dtype)
    blender = SelfBlender()
    for seed in range(8):
        fake, weights = blender.blend(source, np.random.default_rng(seed))
        fake = fake.astype(np.float64)
        outside = weights == 0
        assert outside.mean() > 0.2, "the face mask should leave the image border alone"
        # Bit for bit outside the mask, whatever the dtype.
        np.testing.assert_array_equal(fake[outside], source[outside].astype(np.float64))
        inside = weights >= 0.9 * weights.max()  # the peak is the blend ratio, 0.25 to 1
        assert np.abs(fake - source)[inside].mean() > 1.0, seed


def test_blurred_boundary_stays_within_its_dilation_and_reaches_one_inside():
    region = face_ellipse_mask((96, 96), np.random.default_rng(0))
    face_size = np.sqrt(region.sum())
    shift, blur = 0.04, 0.02  # fractions of the face size
    weights = soften_mask(
        region,
        np.random.default_rng(1),
        elastic_prob=0.0,
        boundary_shift=(shift, shift),
        boundary_blur=(blur, blur),
    )
    reach = shift * face_size + np.ceil(BLUR_TRUNCATE * blur * face_size) + 1  # pixels
    # The blur's kernel is separable: its support is a square of side 2 * reach.
    square = np.ones((2 * int(reach) + 1,) * 2, dtype=bool)
    assert not weights[~ndimage.binary_dilation(region, square)].any()
    deep_inside = ndimage.distance_transform_edt(region) > reach
    np.testing.assert_allclose(weights[deep_inside], 1.0)
    assert ((weights > 0) & (weights < 1)).sum() > region.sum() * 0.05  # a soft ramp


@pytest.mark.parametrize("tilt", [0.0, 20.0])
def test_with_landmarks_the_mask_lies_within_the_face_box(tilt):
    image = photo(1, 128)
    # x, y, width, height: a face left of centre, in a box the size MTCNN gives it.
    landmarks, (x, y, width, height) = face_box_landmarks((30.0, 20.0, 64.0, 80.0), tilt)
    in_box = np.zeros(image.shape[:2], dtype=bool)
    in_box[round(y) : round(y + height), round(x) : round(x + width)] = True
    blender = SelfBlender()
    for seed in range(12):
        fake, weights = blender.blend(image, np.random.default_rng(seed), landmarks)
        changed = np.any(fake != image, axis=-1)
        assert changed.any()
        assert not (weights > 0)[~in_box].any(), seed
        assert not changed[~in_box].any(), seed
        # ...and covers the face between the eyes and the mouth.
        eyes_to_mouth = np.round(landmarks.mean(axis=0)).astype(int)
        assert weights[eyes_to_mouth[1], eyes_to_mouth[0]] > 0


def test_without_landmarks_the_ellipse_is_centred_and_randomized(face_photo):
    blender = SelfBlender()
    masks = [blender.face_mask((96, 96), np.random.default_rng(s), None) > 0 for s in range(6)]
    for mask in masks:
        rows, cols = np.nonzero(mask)
        assert abs(rows.mean() - 47.5) < 10 and abs(cols.mean() - 47.5) < 10
    assert len({m.sum() for m in masks}) == len(masks)  # sizes differ from seed to seed
    # All-NaN landmarks (no face detected) mean "use the ellipse", as None does.
    nan = np.full((5, 2), np.nan)
    np.testing.assert_array_equal(
        blender.face_mask((96, 96), np.random.default_rng(3), nan),
        blender.face_mask((96, 96), np.random.default_rng(3), None),
    )


def test_same_seed_same_fake_other_seed_other_fake(face_photo):
    fakes = sbi_synthesizer()
    first = fakes.make_fake(face_photo, "sbi", 123)
    np.testing.assert_array_equal(first, sbi_synthesizer().make_fake(face_photo, "sbi", 123))
    assert not np.array_equal(first, fakes.make_fake(face_photo, "sbi", 124))
    assert not np.array_equal(first, fakes.make_fake(face_photo, "sbi", [123, 1]))
    assert first.dtype == np.uint8 and first.shape == face_photo.shape


def test_float_images_stay_unrounded(face_photo):
    source = face_photo.astype(np.float32) + 0.25  # what a resize leaves: fractional levels
    fake = sbi_synthesizer().make_fake(source, "sbi", 5)
    assert fake.dtype == np.float32
    changed = fake != source
    assert not np.allclose(fake[changed], np.round(fake[changed]))


def test_bad_landmarks_and_settings_say_what_was_expected(face_photo):
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        check_landmarks(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="blend_ratios"):
        SelfBlender(blend_ratios=[0.0])
    with pytest.raises(ValueError, match="boundary_blur"):
        SelfBlender(boundary_blur=[0.05, 0.01])
    with pytest.raises(ValueError, match="makes no 'upsampling-nearest'"):
        sbi_synthesizer().make_fake(face_photo, "upsampling-nearest", 0)
