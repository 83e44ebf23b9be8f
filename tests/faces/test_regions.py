"""Each file's face crop from stored detections, its landmarks in the model input, and the
parts of an image the scoring paths score.

No detector here: detections are built by hand or stored in a real cache folder first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepguard.faces import (
    DetectionCache,
    Face,
    FaceRegions,
    FaceSettings,
    NoFaceError,
    crop_face,
    face_region,
    faces_for_scoring,
    landmarks_in_crop,
    scoring_face_settings,
)
from deepguard.images import read_input, read_region, to_model_input
from tests.faces.helpers import smooth_texture, upright_face

CROP = FaceSettings(enabled=True, margin=0.25, min_size=20)


def tilted_face(centre=(70.0, 64.0), degrees: float = 12.0) -> Face:
    """A face whose eye line is turned by `degrees` (so `align` rotates its crop)."""
    face = upright_face(centre, side=60.0)
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    turned = tuple(
        (centre[0] + (x - centre[0]) * cos - (y - centre[1]) * sin,
         centre[1] + (x - centre[0]) * sin + (y - centre[1]) * cos)
        for x, y in face.landmarks
    )  # fmt: skip
    return dataclasses.replace(face, landmarks=turned)


def dotted_image(points, size=(128, 140)) -> np.ndarray:
    """Black with a white 3x3 dot at each point (x, y), to find the points after cropping."""
    rgb = np.zeros((*size, 3), np.uint8)
    for x, y in points:
        rgb[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
    return rgb


@pytest.mark.parametrize("align", [True, False])
def test_landmarks_follow_the_crop_into_the_model_input(align):
    face = tilted_face()
    settings = dataclasses.replace(CROP, align=align)
    rgb = dotted_image([(round(x) + 0.5, round(y) + 0.5) for x, y in face.landmarks])
    face = dataclasses.replace(
        face, landmarks=tuple((round(x) + 0.5, round(y) + 0.5) for x, y in face.landmarks)
    )
    model_input = to_model_input(crop_face(rgb, face, settings), 64)
    brightness = model_input.mean(axis=-1)
    for x, y in landmarks_in_crop(face, settings, 64):
        # The brightest pixel near each mapped point is within a pixel of it.
        row, col = int(y), int(x)
        window = brightness[row - 3 : row + 4, col - 3 : col + 4]
        peak_row, peak_col = np.unravel_index(np.argmax(window), window.shape)
        assert abs(row - 3 + peak_row + 0.5 - y) <= 1.0 and abs(col - 3 + peak_col + 0.5 - x) <= 1.0


def test_each_file_gets_the_crop_of_its_stored_face_without_detecting(tmp_path, detector_calls):
    paths, faces = [], {}
    for index, centre in enumerate([(60.0, 60.0), (80.0, 70.0)]):
        path = tmp_path / f"{index}.png"
        Image.fromarray(smooth_texture(140, seed=index)).save(path)
        paths.append(path)
        faces[str(path)] = [upright_face(centre, side=50.0)]
    regions = FaceRegions(CROP, faces)
    for path in paths:
        expected = crop_face(read_region(path), faces[str(path)][0], CROP)
        np.testing.assert_array_equal(read_region(path, region=regions), expected)
        assert read_input(path, 32, region=regions).shape == (32, 32, 3)
    assert detector_calls == []


def test_a_file_not_seen_before_is_looked_up_in_the_cache(tmp_path, detector_calls):
    path = tmp_path / "new.png"
    Image.fromarray(smooth_texture(140, seed=3)).save(path)
    settings = dataclasses.replace(CROP, cache_dir=str(tmp_path / "cache"))
    face = upright_face((70.0, 70.0), side=50.0)
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    DetectionCache(settings.cache_dir, settings).store(sha256, [face])
    regions = FaceRegions.on_demand(settings)
    np.testing.assert_array_equal(
        read_region(path, region=regions), crop_face(read_region(path), face, settings)
    )
    assert detector_calls == []


@pytest.mark.parametrize("on_missing", ["skip", "whole"])
def test_a_file_without_a_face_follows_the_setting(tmp_path, on_missing):
    path = tmp_path / "empty.png"
    Image.fromarray(smooth_texture(100, seed=4)).save(path)
    settings = dataclasses.replace(CROP, on_missing=on_missing)
    regions = FaceRegions(settings, {str(path): []})
    assert np.isnan(regions.model_landmarks(path, 64)).all()
    if on_missing == "skip":
        with pytest.raises(NoFaceError, match="no face"):
            read_region(path, region=regions)
    else:
        np.testing.assert_array_equal(read_region(path, region=regions), read_region(path))


def test_faces_regions_need_faces_switched_on():
    with pytest.raises(ValueError, match="enabled=true"):
        FaceRegions(FaceSettings())


def group_faces() -> list[Face]:
    small = dataclasses.replace(upright_face((40.0, 50.0), side=30.0), confidence=0.999)
    large = upright_face((120.0, 60.0), side=60.0)
    faint = dataclasses.replace(upright_face((180.0, 60.0), side=50.0), confidence=0.5)
    return [small, large, faint]


def test_scoring_parts_are_every_face_with_its_box_or_the_primary_one():
    rgb = smooth_texture(220, seed=5)
    faces = group_faces()
    every = faces_for_scoring(rgb, CROP, faces=faces)
    assert [part.box for part in every] == [faces[0].box, faces[1].box]  # the faint one fails
    np.testing.assert_array_equal(every[1].pixels, crop_face(rgb, faces[1], CROP))
    (primary,) = faces_for_scoring(rgb, CROP, every_face=False, faces=faces)
    assert primary.box == faces[1].box  # the largest
    np.testing.assert_array_equal(primary.pixels, face_region(rgb, CROP, faces))


def test_scoring_parts_without_faces_follow_the_settings():
    rgb = smooth_texture(120, seed=6)
    (whole,) = faces_for_scoring(rgb, FaceSettings(), faces=group_faces())
    assert whole.box is None and whole.pixels is rgb
    (fallback,) = faces_for_scoring(rgb, dataclasses.replace(CROP, on_missing="whole"), faces=[])
    assert fallback.box is None and fallback.pixels is rgb
    with pytest.raises(NoFaceError) as refused:
        faces_for_scoring(rgb, dataclasses.replace(CROP, on_missing="skip"), faces=[])
    assert refused.value.status == 422


def test_a_model_is_scored_with_its_recorded_settings_unless_others_are_chosen(tmp_path):
    recorded = {"enabled": True, "margin": 0.4, "on_missing": "skip"}
    mine = scoring_face_settings(None, {"faces": recorded}, tmp_path / "cache")
    assert (mine.enabled, mine.margin, mine.on_missing) == (True, 0.4, "skip")
    assert mine.cache_dir == str(tmp_path / "cache")
    chosen = scoring_face_settings({"enabled": False}, {"faces": recorded}, tmp_path)
    assert chosen.enabled is False
    assert scoring_face_settings(None, {}, tmp_path).enabled is False  # trained on whole images


def test_a_stored_face_list_keys_files_by_the_path_the_reader_names(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(smooth_texture(100, seed=7)).save(path)
    face = upright_face((50.0, 50.0), side=40.0)
    regions = FaceRegions(CROP, {str(path): [face]})
    assert regions.face_of(Path(path)) == face
