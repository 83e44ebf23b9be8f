import io

import numpy as np
import pytest
from bad_inputs import bad_inputs, encode, face_like_image, noise_image
from PIL import Image, ImageFile

from deepguard.errors import ImageInputError
from deepguard.images import DecodeLimits, decode_image, read_image

BAD_INPUTS = bad_inputs()


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.name for case in BAD_INPUTS])
def test_every_bad_input_gets_its_status_and_code(case):
    with pytest.raises(ImageInputError) as caught:
        decode_image(case.data)
    assert (caught.value.status, caught.value.code) == (case.status, case.code)
    assert "Traceback" not in str(caught.value)
    assert len(str(caught.value)) > 30  # a sentence with the fix, not a bare code


def test_truncated_images_stay_refused():
    png = encode(noise_image(), "PNG")
    decode_image(png)
    with pytest.raises(ImageInputError):
        decode_image(png[: len(png) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_too_many_bytes_refused_before_decoding():
    data = encode(noise_image(), "PNG")
    with pytest.raises(ImageInputError) as caught:
        decode_image(data, DecodeLimits(max_bytes=len(data) - 1))
    assert (caught.value.status, caught.value.code) == (413, "too_many_bytes")


def test_pillow_bomb_warning_becomes_413(monkeypatch):
    # Between Pillow's MAX_IMAGE_PIXELS and twice it, Pillow only warns; we refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageInputError) as caught:
        decode_image(encode(face_like_image(40, 40), "PNG"), DecodeLimits(max_pixels=10**8))
    assert caught.value.status == 413


def test_format_outside_allow_list_refused():
    png = encode(face_like_image(64, 64), "PNG")
    with pytest.raises(ImageInputError) as caught:
        decode_image(png, DecodeLimits(allowed_formats=("jpeg",)))
    assert (caught.value.status, caught.value.code) == (415, "unsupported_format")
    assert "PNG" in str(caught.value)


def test_limits_reject_unknown_format_with_choices():
    with pytest.raises(ValueError, match=r"EPS.*JPEG"):
        DecodeLimits(allowed_formats=("JPEG", "EPS"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"])
def test_each_allowed_format_decodes_to_rgb_uint8(fmt):
    rgb = decode_image(encode(face_like_image(80, 60), fmt))
    assert rgb.shape == (60, 80, 3) and rgb.dtype == np.uint8


def test_grayscale_and_one_bit_replicate_channels():
    gray = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1)))
    rgb = decode_image(encode(gray, "PNG"))
    assert (rgb[..., 0] == np.asarray(gray)).all() and (rgb[..., 0] == rgb[..., 2]).all()
    bits = decode_image(encode(gray.convert("1"), "PNG"))
    assert set(np.unique(bits)) <= {0, 255}


def test_sixteen_bit_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535] * 8] * 32, dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    rgb = decode_image(encode(image, "PNG"))
    assert rgb[0, :4, 0].tolist() == [0, 1, 128, 255]


def test_cmyk_is_converted_deterministically():
    cmyk = face_like_image(64, 64).convert("CMYK")
    data = encode(cmyk, "JPEG", quality=95)
    first, second = decode_image(data), decode_image(data)
    assert first.shape == (64, 64, 3) and np.array_equal(first, second)
    assert np.abs(first.astype(int) - np.asarray(face_like_image(64, 64), int)).mean() < 8


def test_alpha_is_composited_on_white():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :16, 3] = 0  # left half transparent -> white
    rgba[:, 16:, 3] = 255  # right half opaque red
    rgb = decode_image(encode(Image.fromarray(rgba), "PNG"))
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[0, 31].tolist() == [200, 0, 0]
    la = decode_image(encode(Image.fromarray(rgba[..., [0, 3]]), "PNG"))
    assert la[0, 0].tolist() == [255, 255, 255] and la[0, 31].tolist() == [200, 200, 200]


def test_palette_with_transparency_turns_white():
    palette = Image.new("P", (32, 32), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.paste(0, (0, 0, 16, 32))
    rgb = decode_image(encode(palette, "PNG", transparency=0))
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[0, 31].tolist() == [10, 20, 30]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF"])
def test_animations_and_multipage_give_first_frame(fmt):
    frames = [Image.new("RGB", (32, 32), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], **extra)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert decode_image(data)[16, 16].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_tag_equals_rotated_pixels(orientation, stored_as):
    upright = face_like_image(64, 48)
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = encode(upright.transpose(stored_as), "PNG", exif=exif)
    assert np.array_equal(decode_image(tagged), decode_image(encode(upright, "PNG")))


def test_exif_orientation_in_jpeg_scores_like_rotated_pixels():
    upright = face_like_image(96, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = decode_image(encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif))
    plain = decode_image(encode(upright, "JPEG"))
    assert tagged.shape == plain.shape == (64, 96, 3)
    assert np.abs(tagged.astype(int) - plain.astype(int)).mean() < 3


def test_damaged_bytes_never_escape_as_other_errors():
    rng = np.random.default_rng(1)
    for fmt in ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"]:
        data = np.frombuffer(encode(noise_image(48, 48), fmt), np.uint8)
        for _ in range(25):
            damaged = data.copy()
            damaged[rng.integers(0, len(damaged), 8)] = rng.integers(0, 256, 8)
            cut = damaged[: rng.integers(1, len(damaged) + 1)].tobytes()
            try:
                rgb = decode_image(cut)
            except ImageInputError as error:
                assert error.status in (400, 413, 415, 422)
            else:
                assert rgb.ndim == 3 and rgb.shape[2] == 3


def test_read_image_names_the_file(tmp_path):
    good = tmp_path / "face.png"
    good.write_bytes(encode(face_like_image(64, 64), "PNG"))
    assert read_image(good).shape == (64, 64, 3)
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"plain text" * 10)
    with pytest.raises(ImageInputError, match=r"notes\.jpg") as caught:
        read_image(bad)
    assert caught.value.status == 415
    with pytest.raises(ImageInputError) as caught:
        read_image(good, DecodeLimits(max_bytes=10))
    assert caught.value.status == 413
