from pathlib import Path

import pandas as pd
import pytest

from deepguard.data import LAYOUTS, detect_layout, discover
from deepguard.errors import DataError
from deepguard.files import file_sha256


def test_generic_layout_reads_every_format_and_labels_by_folder(generic_root):
    records = discover(generic_root)
    assert list(records.columns) == ["path", "label", "generator", "split", "sha256"]
    assert len(records) == 24  # notes.txt skipped
    assert records.groupby("label").size().to_dict() == {0: 12, 1: 12}
    assert set(records["generator"]) == {"unknown"}
    assert records["split"].isna().all()
    assert all(Path(p).is_absolute() for p in records["path"])
    first = records.iloc[0]
    assert first["sha256"] == file_sha256(first["path"])


def test_genimage_layout_keeps_generators_and_maps_val_to_test(tmp_path, make_images):
    root = tmp_path / "genimage"
    make_images(root / "ADM" / "train" / "ai", 3, 0)
    make_images(root / "ADM" / "train" / "nature", 3, 10)
    make_images(root / "ADM" / "val" / "ai", 2, 20)
    make_images(root / "ADM" / "val" / "nature", 2, 30)
    # Some GenImage downloads nest one subset folder deeper.
    make_images(root / "SD V1.4" / "imagenet_ai_0419_sdv4" / "train" / "ai", 2, 40)
    make_images(root / "SD V1.4" / "imagenet_ai_0419_sdv4" / "val" / "nature", 1, 50)
    assert detect_layout(root) == "genimage"
    records = discover(root)
    counts = records.groupby(["generator", "split", "label"]).size().to_dict()
    assert counts == {
        ("ADM", "test", 0): 2,
        ("ADM", "test", 1): 2,
        ("ADM", "train", 0): 3,
        ("ADM", "train", 1): 3,
        ("SD V1.4", "test", 0): 1,
        ("SD V1.4", "train", 1): 2,
    }


@pytest.mark.parametrize("prefix", ["", "real-vs-fake", "real_vs_fake/real-vs-fake"])
def test_faces140k_layout_with_or_without_its_outer_folders(tmp_path, prefix, make_images):
    root = tmp_path / "faces"
    base = root / prefix if prefix else root
    for i, split in enumerate(["train", "valid", "test"]):
        make_images(base / split / "real", 2, 10 * i)
        make_images(base / split / "fake", 2, 10 * i + 5, ".jpg")
    (root / "train.csv").write_text("unused,by,the,layout\n")
    assert detect_layout(root) == "faces140k"
    records = discover(root)
    assert records.groupby(["split", "label"]).size().to_dict() == {
        (s, c): 2 for s in ("test", "train", "val") for c in (0, 1)
    }


def test_cnndetection_layout_names_the_group_folder(tmp_path, make_images):
    root = tmp_path / "cnn"
    make_images(root / "progan" / "airplane" / "0_real", 2, 0)
    make_images(root / "progan" / "airplane" / "1_fake", 2, 10)
    make_images(root / "stylegan" / "0_real", 2, 20)
    make_images(root / "stylegan" / "1_fake", 3, 30)
    assert detect_layout(root) == "cnndetection"
    records = discover(root)
    counts = records.groupby(["generator", "label"]).size().to_dict()
    assert counts == {("progan", 0): 2, ("progan", 1): 2, ("stylegan", 0): 2, ("stylegan", 1): 3}


def test_manifest_reads_word_or_number_labels_and_ignores_extra_columns(tmp_path, make_image):
    root = tmp_path / "listed"
    make_image(root / "a" / "one.png", 1)
    make_image(root / "a" / "two.jpg", 2)
    make_image(root / "b" / "three.png", 3)
    make_image(root / "b" / "four.png", 4)
    pd.DataFrame(
        {
            "path": ["a/one.png", "a/two.jpg", "b/three.png", "b/four.png"],
            "label": ["real", "1", "FAKE", "0"],
            "generator": ["", "sd", "gan", ""],
            "split": ["train", "", "Valid", "test"],
            "width": [24, 24, 24, 24],
        }
    ).to_csv(root / "manifest.csv", index=False)
    records = discover(root)  # auto: manifest.csv wins
    by_name = records.set_index(records["path"].map(lambda p: Path(p).name))
    assert by_name["label"].to_dict() == {"four.png": 0, "one.png": 0, "three.png": 1, "two.jpg": 1}
    assert by_name.loc["two.jpg", "generator"] == "sd"
    assert by_name.loc["one.png", "generator"] == "unknown"
    assert by_name.loc["three.png", "split"] == "val"
    assert by_name["split"].isna().sum() == 1


def test_manifest_with_a_bad_label_names_the_line(tmp_path, make_image):
    make_image(tmp_path / "x.png", 1)
    (tmp_path / "manifest.csv").write_text("path,label\nx.png,maybe\n")
    with pytest.raises(DataError, match=r"line 2: label 'maybe'.*0, 1, real, fake"):
        discover(tmp_path)


def test_unknown_layout_lists_the_supported_ones(tmp_path, make_images):
    make_images(tmp_path / "cats", 2, 0)
    with pytest.raises(DataError) as error:
        discover(tmp_path)
    message = str(error.value)
    assert "cats/" in message
    for name, shape in LAYOUTS.items():
        assert name in message and shape in message


def test_a_layout_with_no_images_says_what_it_expected(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    with pytest.raises(DataError, match=r"no image files .* layout 'generic'"):
        discover(tmp_path)


def test_a_wrong_layout_name_lists_the_choices(generic_root):
    with pytest.raises(DataError, match="unknown layout 'imagenet'; available: auto, manifest"):
        discover(generic_root, layout="imagenet")
