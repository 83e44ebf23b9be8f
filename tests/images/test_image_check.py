"""`check_image`: the one check every stage runs, and the reason words it gives."""

import numpy as np
import pytest

from deepguard.errors import ImageInputError
from deepguard.images import DATASET_LIMITS, REASONS, DecodeLimits, check_image
from tests.prepare.helpers import BAD_FILES, image_bytes, write_bad_files


@pytest.mark.parametrize(("rel", "reason"), [(k, v[1]) for k, v in BAD_FILES.items()])
def test_check_image_names_the_reason(tmp_path, rel, reason):
    write_bad_files(tmp_path)
    check = check_image(tmp_path / rel, DecodeLimits(min_side=16))
    assert check.reason == reason, check.detail
    assert check.reason in REASONS
    assert check.sha256 is not None
    assert len(check.detail) > 30  # the decoder's sentence with the fix, not a bare code


def test_check_image_accepts_a_good_image_and_reports_it(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_bytes(image_bytes(1, fmt="JPEG"))
    check = check_image(path)
    assert check.reason is None and check.detail == ""
    assert (check.width, check.height, check.format) == (48, 40, "JPEG")
    assert check_image(path, DecodeLimits(min_side=41)).reason == "too-small"
    assert check_image(path, DecodeLimits(max_bytes=100)).reason == "too-large"
    assert check_image(path, DecodeLimits(allowed_formats=("PNG",))).reason == (
        "unsupported-format"
    )
    assert check_image(tmp_path / "missing.png").reason == "unreadable"


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP", "BMP"])
def test_every_format_the_api_accepts_passes_the_dataset_check(tmp_path, fmt):
    path = tmp_path / f"image.{fmt.lower()}"
    path.write_bytes(image_bytes(2, fmt=fmt))
    assert check_image(path, DATASET_LIMITS).reason is None


@pytest.mark.parametrize(
    ("code", "reason"), [("no_face", "no-face"), ("too_dark", "refused-by-region")]
)
def test_a_region_that_refuses_the_image_makes_it_unusable(tmp_path, code, reason):
    path = tmp_path / "face.png"
    path.write_bytes(image_bytes(3))

    def no_face(rgb: np.ndarray) -> np.ndarray:
        raise ImageInputError("no face found; send a photo of a face", status=422, code=code)

    check = check_image(path, region=no_face)
    assert check.reason == reason and "no face found" in check.detail
