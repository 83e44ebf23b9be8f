import pandas as pd
import pytest
from PIL import Image

from deepguard.data import DataModule, check_image_file, discover, scan_images
from deepguard.errors import DataError


def spoil(folder, make_image):
    """A zero-byte file, a truncated JPEG and a text file named .jpg in `folder`."""
    (folder / "empty.jpg").write_bytes(b"")
    whole = make_image(folder / "whole.jpg", 999, size=64).read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "whole.jpg").unlink()
    (folder / "notes.jpg").write_text("these are my notes, not a photograph\n")
    return ["empty.jpg", "truncated.jpg", "notes.jpg"]


def test_each_kind_of_bad_file_gets_a_reason(tmp_path, make_image):
    names = spoil(tmp_path, make_image)
    reasons = {name: check_image_file(tmp_path / name).reason for name in names}
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert "truncated" in reasons["truncated.jpg"]
    assert reasons["notes.jpg"].startswith("not an image")
    assert check_image_file(tmp_path / "missing.png").reason == "file not found"
    good = make_image(tmp_path / "good.PNG", 1)
    assert check_image_file(good).reason == ""


def test_formats_outside_the_allow_list_are_refused(tmp_path, make_image):
    tiff = make_image(tmp_path / "disguised.jpg", 3, fmt="TIFF")
    assert "TIFF image; only JPEG, PNG, WEBP, BMP" in check_image_file(tiff).reason


def test_files_tensorflow_misreads_are_routed_to_pillow(tmp_path, make_image):
    rotated = make_image(tmp_path / "rotated.jpg", 4)
    with Image.open(rotated) as image:
        exif = image.getexif()
        exif[0x0112] = 6  # Orientation: rotate 90 degrees
        image.save(rotated, exif=exif)
    palette = tmp_path / "palette.bmp"
    Image.open(make_image(tmp_path / "src.png", 5)).convert("P").save(palette)
    animated = tmp_path / "animated.webp"
    frames = [Image.open(tmp_path / "src.png"), Image.open(rotated)]
    frames[0].save(animated, save_all=True, append_images=frames[1:], lossless=True)
    assert check_image_file(animated).decoder == "pillow"
    assert check_image_file(rotated).decoder == "pillow"
    assert check_image_file(palette).decoder == "pillow"
    assert check_image_file(tmp_path / "src.png").decoder == "tf"


def test_scan_quarantines_bad_files_and_keeps_the_rest(generic_root, make_image):
    names = spoil(generic_root / "fake", make_image)
    records = discover(generic_root)
    good, quarantine = scan_images(records, max_bad_fraction=0.2)
    assert len(good) == 24
    assert sorted(p.split("/")[-1] for p in quarantine["path"]) == sorted(names)
    assert quarantine["reason"].str.len().gt(0).all()
    assert set(good["decoder"]) == {"tf"}


def test_too_many_bad_files_stop_with_counts_and_the_fix(generic_root, make_image):
    spoil(generic_root / "fake", make_image)
    records = discover(generic_root)
    with pytest.raises(DataError) as error:
        scan_images(records, max_bad_fraction=0.05)
    message = str(error.value)
    assert "3 of 27 image files (11.1%)" in message
    assert "data.max_bad_fraction=5.0%" in message
    assert "Remove or repair" in message


def test_a_spoiled_folder_still_trains_and_lists_the_three_files(tmp_path, make_images, make_image):
    root = tmp_path / "faces"
    make_images(root / "real", 20, 0, ".jpg")
    make_images(root / "fake", 20, 100, ".jpg")
    names = spoil(root / "fake", make_image)
    data = DataModule(root=root, image_size=32, batch_size=4, max_bad_fraction=0.1).setup()
    images, _ = next(iter(data.train_dataset()))
    assert images.shape == (4, 32, 32, 3)
    assert len(data.records) == 40
    paths = data.write_reports(tmp_path / "out")
    listed = pd.read_csv(paths["quarantine"])
    assert sorted(p.split("/")[-1] for p in listed["path"]) == sorted(names)
    assert listed["reason"].notna().all()
