"""Detection on real faces (faces-hard-dev), a group photo, faceless images and the cache."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepguard.faces import (
    DetectionCache,
    FaceSettings,
    NoFaceError,
    crop_faces,
    detect_faces,
    detect_files,
    face_region,
    get_detector,
)
from deepguard.images import read_image
from tests.faces.helpers import grey_level_difference

REPO_ROOT = Path(__file__).resolve().parents[2]
CROP = FaceSettings(enabled=True, size=128)


def inside(box, width, height) -> bool:
    x1, y1, x2, y2 = box
    return 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_real_faces_are_found_with_box_confidence_and_landmarks(face_files):
    for path in face_files:
        rgb = read_image(path)
        faces = detect_faces(rgb, CROP)
        assert len(faces) == 1, path
        face = faces[0]
        assert inside(face.box, 300, 300) and face.confidence >= 0.9
        assert min(face.width, face.height) >= 100  # the faces fill most of the 300 px frame
        (left_eye, right_eye), (x1, y1, x2, y2) = face.landmarks[:2], face.box
        assert len(face.landmarks) == 5 and left_eye[0] < right_eye[0]
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)


def test_a_group_photo_gives_one_crop_per_face(group_photo):
    canvas, squares = group_photo
    crops = crop_faces(canvas, CROP)
    assert len(crops) == 3
    for crop, (left, top, right, bottom) in zip(crops, squares, strict=True):  # left to right
        centre_x, centre_y = (crop.box[0] + crop.box[2]) / 2, (crop.box[1] + crop.box[3]) / 2
        assert left < centre_x < right and top < centre_y < bottom
        assert inside(crop.box, canvas.shape[1], canvas.shape[0])
        assert crop.pixels.shape == (128, 128, 3) and crop.pixels.dtype == np.uint8


@pytest.mark.parametrize("kind", ["noise", "flat"])
def test_an_image_without_a_face_follows_on_missing(kind):
    rng = np.random.default_rng(0)
    rgb = (
        rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        if kind == "noise"
        else np.full((256, 256, 3), 128, np.uint8)
    )
    assert detect_faces(rgb, CROP) == [] and crop_faces(rgb, CROP) == []
    assert face_region(rgb, dataclasses.replace(CROP, on_missing="whole")) is rgb
    with pytest.raises(NoFaceError, match="no face"):
        face_region(rgb, dataclasses.replace(CROP, on_missing="skip"))


def test_the_same_file_gives_the_same_crop_with_and_without_the_cache(
    face_files, tmp_path, detector_calls
):
    path = face_files[0]
    rgb = read_image(path)
    first, second = face_region(rgb, CROP), face_region(rgb, CROP)
    assert np.array_equal(first, second) and len(detector_calls) == 2

    cold = detect_files([path], CROP, cache_dir=tmp_path / "cache", progress=False)
    assert (cold.misses, cold.hits, len(detector_calls)) == (1, 0, 3)
    warm = detect_files([path], CROP, cache_dir=tmp_path / "cache", progress=False)
    assert (warm.misses, warm.hits, len(detector_calls)) == (0, 1, 3)  # no detection this time
    for found in (cold, warm):
        assert np.array_equal(face_region(rgb, CROP, found.faces[str(path)]), first)


def test_crop_settings_reuse_the_cache_and_detector_settings_do_not(
    face_files, tmp_path, detector_calls
):
    cache = tmp_path / "cache"
    detect_files(face_files[:2], CROP, cache_dir=cache, progress=False)
    assert len(detector_calls) == 2
    looser = dataclasses.replace(CROP, margin=0.5, min_confidence=0.5, size=64, pick="confident")
    assert detect_files(face_files[:2], looser, cache_dir=cache, progress=False).hits == 2
    assert len(detector_calls) == 2
    smaller = dataclasses.replace(CROP, max_side=200)
    assert detect_files(face_files[:2], smaller, cache_dir=cache, progress=False).misses == 2
    assert len(detector_calls) == 4


def test_a_cache_entry_is_one_json_file_written_without_leftovers(face_files, tmp_path):
    detect_files(face_files[:1], CROP, cache_dir=tmp_path, progress=False)
    entries = list(tmp_path.rglob("*"))
    files = [entry for entry in entries if entry.is_file()]
    assert len(files) == 1 and files[0].suffix == ".json"  # no temporary file left behind
    entry = json.loads(files[0].read_text())
    assert entry["sha256"] == files[0].stem and len(entry["faces"]) == 1
    cache = DetectionCache(tmp_path, CROP)
    assert cache.path(entry["sha256"]) == files[0]


def test_detect_files_quarantines_faceless_and_unreadable_files_when_skipping(face_files, tmp_path):
    noise = tmp_path / "noise.png"
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    noise.write_bytes(buffer.getvalue())
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    paths = [face_files[0], noise, broken]

    skip = detect_files(paths, dataclasses.replace(CROP, on_missing="skip"), progress=False)
    reasons = dict(zip(skip.quarantine.path, skip.quarantine.reason, strict=True))
    assert list(reasons) == [str(noise), str(broken)]
    assert "no face" in reasons[str(noise)] and "not an image" in reasons[str(broken)]

    whole = detect_files(paths, dataclasses.replace(CROP, on_missing="whole"), progress=False)
    assert list(whole.quarantine.path) == [str(broken)]
    assert whole.faces[str(noise)] == [] and len(whole.faces[str(face_files[0])]) == 1


def test_large_images_are_shrunk_for_detection_and_boxes_scaled_back(face_files, detector_calls):
    rgb = read_image(face_files[1])
    large = np.asarray(Image.fromarray(rgb).resize((600, 600), Image.Resampling.BILINEAR))
    (small_face,) = detect_faces(rgb, CROP)
    (large_face,) = detect_faces(large, dataclasses.replace(CROP, max_side=300))
    assert detector_calls == [(300, 300, 3), (300, 300, 3)]
    assert np.allclose(large_face.box, np.array(small_face.box) * 2, atol=4)  # pixels of 600


@pytest.mark.slow  # 12 detections; test_crop.py checks the same geometry with exact landmarks
def test_alignment_makes_crops_of_a_turned_photo_match_the_upright_crop(face_files):
    aligned, unaligned = [], []
    for path in face_files:
        rgb = read_image(path)
        upright = face_region(rgb, CROP)
        for degrees in (15, -15):
            turned = np.asarray(Image.fromarray(rgb).rotate(degrees, Image.Resampling.BILINEAR))
            faces = detect_faces(turned, CROP)
            straight = face_region(turned, dataclasses.replace(CROP, align=False), faces)
            aligned.append(grey_level_difference(upright, face_region(turned, CROP, faces), 0.5))
            unaligned.append(grey_level_difference(upright, straight, 0.5))
    # Measured: median 5.3 grey levels aligned (1.7 to 14.5: the detector's landmarks move by
    # a pixel or two when the photo turns), 22.6 unaligned, over the central half of the crop.
    assert np.median(aligned) < 8.0
    assert np.median(aligned) < np.median(unaligned) / 2


def test_the_detector_is_built_once_per_process():
    assert get_detector() is get_detector()


def test_import_and_a_cache_hit_load_neither_tensorflow_nor_the_detector(face_files, tmp_path):
    detect_files(face_files[:2], CROP, cache_dir=tmp_path, progress=False)
    script = textwrap.dedent(
        f"""
        import sys
        import deepguard.faces as faces
        assert "tensorflow" not in sys.modules, "importing deepguard.faces loaded TensorFlow"
        settings = faces.FaceSettings(enabled=True, size=128)
        found = faces.detect_files({[str(p) for p in face_files[:2]]!r}, settings,
                                   cache_dir={str(tmp_path)!r}, progress=False)
        assert found.hits == 2, found
        print(sorted(name for name in ("tensorflow", "mtcnn") if name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
