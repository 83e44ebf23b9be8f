"""Every kind of upload goes through the API's decoder and gets its own message or note."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deepguard.images import decode_image
from tests.app.helpers import load_bad_inputs

bad = load_bad_inputs()


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("case", bad.bad_inputs(), ids=lambda case: case.name)
def test_each_bad_upload_becomes_a_problem_with_the_api_status(case):
    from deepguard_app.compare import ImageProblem, read_image_bytes

    item = read_image_bytes(case.filename, case.data)
    assert isinstance(item, ImageProblem)
    assert (item.status, item.code) == (case.status, case.code)
    assert item.name == case.filename
    assert len(item.message) > 20  # a sentence naming the problem, not a bare code


def odd_uploads() -> dict[str, tuple[bytes, str]]:
    """Images the decoder converts rather than refuses, with a word the note must contain."""
    rgb = bad.face_like_image(64, 64)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    frames = [rgb, rgb.rotate(90), rgb.rotate(180)]
    sixteen = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    rgb.save(rotated, "JPEG", exif=exif)
    return {
        "cmyk.jpg": (encode(rgb.convert("CMYK"), "JPEG"), "CMYK"),
        "grey16.png": (encode(sixteen, "PNG"), "16-bit"),
        "palette.png": (encode(rgb.convert("P"), "PNG"), "palette"),
        "alpha.png": (encode(rgba, "PNG"), "alpha"),
        "animated.gif": (
            encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
            "3 frames",
        ),
        "rotated.jpg": (rotated.getvalue(), "EXIF orientation 6"),
    }


@pytest.mark.parametrize("name", sorted(odd_uploads()))
def test_odd_modes_are_converted_like_the_api_and_say_so(name):
    from deepguard_app.compare import ImageInput, read_image_bytes

    data, word = odd_uploads()[name]
    item = read_image_bytes(name, data)
    assert isinstance(item, ImageInput)
    np.testing.assert_array_equal(item.rgb, decode_image(data))  # the API's pixels exactly
    assert any(word in note for note in item.notes), item.notes


def test_plain_rgb_has_no_notes():
    from deepguard_app.compare import read_image_bytes

    item = read_image_bytes("face.png", encode(bad.face_like_image(64, 64), "PNG"))
    assert item.notes == []


def test_missing_sample_folder_says_what_to_give(tmp_path):
    from deepguard_app.compare import list_samples

    with pytest.raises(ValueError, match="does not exist"):
        list_samples(tmp_path / "nope")


def test_samples_are_listed_in_order_up_to_the_limit(tmp_path):
    from deepguard_app.compare import list_samples

    for folder in ("b", "a/deeper"):
        (tmp_path / folder).mkdir(parents=True)
        for name in ("2.png", "1.jpg", "notes.txt"):
            (tmp_path / folder / name).write_bytes(b"x")
    listed = [str(p.relative_to(tmp_path)) for p in list_samples(tmp_path)]
    assert listed == ["a/deeper/1.jpg", "a/deeper/2.png", "b/1.jpg", "b/2.png"]
    assert len(list_samples(tmp_path, limit=3)) == 3
