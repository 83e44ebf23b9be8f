import pytest

from deepguard.prepare import check_image
from tests.prepare.helpers import BAD_FILES, image_bytes, write_bad_files


@pytest.mark.parametrize(("rel", "reason"), [(k, v[1]) for k, v in BAD_FILES.items()])
def test_check_image_names_the_reason(tmp_path, rel, reason):
    write_bad_files(tmp_path)
    check = check_image(tmp_path / rel, min_side=16)
    assert check.reason == reason, check.detail
    assert check.sha256 is not None


def test_check_image_accepts_a_good_image_and_reports_it(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_bytes(image_bytes(1, fmt="JPEG"))
    check = check_image(path)
    assert check.reason is None
    assert (check.width, check.height, check.format) == (48, 40, "JPEG")
    assert check_image(path, min_side=41).reason == "too-small"
    assert check_image(path, max_bytes=100).reason == "too-large"
    assert check_image(path, formats=("PNG",)).reason == "unsupported-format"
    assert check_image(tmp_path / "missing.png").reason == "unreadable"


def test_the_pillow_fallback_gives_the_same_reasons(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "deepguard.images", None)  # import fails: fallback
    write_bad_files(tmp_path)
    for rel, (_, reason) in BAD_FILES.items():
        assert check_image(tmp_path / rel, min_side=16).reason == reason, rel
