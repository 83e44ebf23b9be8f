import pandas as pd
import pytest
from PIL import Image

from deepguard.data import DataModule, discover, scan_images
from deepguard.errors import DataError
from deepguard.images import check_image


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
    checks = {name: check_image(tmp_path / name) for name in names}
    assert checks["empty.jpg"].reason == "empty"
    assert checks["truncated.jpg"].reason == "truncated"
    assert checks["notes.jpg"].reason == "non-image"
    assert "whatever the file name says" in checks["notes.jpg"].detail
    assert check_image(tmp_path / "missing.png").reason == "unreadable"
    good = make_image(tmp_path / "good.PNG", 1)
    assert check_image(good).reason is None


def test_the_scan_reads_every_format_the_api_reads(tmp_path, make_image):
    # TIFF and GIF were refused by the training scan while the API scored them.
    tiff = make_image(tmp_path / "disguised.jpg", 3, fmt="TIFF")
    gif = make_image(tmp_path / "still.gif", 4)
    frames = [Image.open(gif), Image.open(tiff)]
    animated = tmp_path / "animated.webp"
    frames[0].save(animated, save_all=True, append_images=frames[1:], lossless=True)
    for path in (tiff, gif, animated):
        assert check_image(path).reason is None, path


def test_scan_quarantines_bad_files_and_keeps_the_rest(generic_root, make_image):
    names = spoil(generic_root / "fake", make_image)
    records = discover(generic_root)
    good, quarantine = scan_images(records, max_bad_fraction=0.2)
    assert len(good) == 24
    assert sorted(p.split("/")[-1] for p in quarantine["path"]) == sorted(names)
    assert set(quarantine["reason"]) == {"empty", "truncated", "non-image"}
    assert quarantine["detail"].str.len().gt(30).all()


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
