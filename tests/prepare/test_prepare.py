import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepguard.errors import DataError
from deepguard.prepare import (
    MANIFEST_COLUMNS,
    check_image,
    prepare_dataset,
    prepare_records,
    split_by_hash,
)


def image_bytes(seed: int, size=(48, 40), fmt="PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def corrupt_png() -> bytes:
    data = bytearray(image_bytes(99))
    idat = data.find(b"IDAT")
    data[idat + 20 : idat + 30] = b"\xff" * 10  # damage the compressed pixels (CRC fails)
    return bytes(data)


BAD_FILES = {
    "real/empty.png": (b"", "empty"),
    "real/notes.jpg": (b"these are words, not pixels\n" * 10, "non-image"),
    "fake/truncated.jpg": (image_bytes(7, (64, 64), "JPEG")[:400], "truncated"),
    "fake/corrupt.png": (corrupt_png(), "corrupt"),
    "fake/tiny.png": (image_bytes(8, (8, 8)), "too-small"),
}


@pytest.fixture
def folder(tmp_path):
    """Good images, each bad kind once, a duplicate and a real/fake label conflict."""
    root = tmp_path / "raw"
    rows = []

    def put(rel, data, label):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append({"path": str(path), "label": label, "generator": "gen" if label else "camera"})

    for i in range(6):
        put(f"real/{i}.png", image_bytes(i), 0)
        put(f"fake/{i}.jpg", image_bytes(100 + i, fmt="JPEG"), 1)
    put("real/copy_of_0.png", image_bytes(0), 0)  # same bytes as real/0.png
    put("real/conflict.png", image_bytes(50), 0)
    put("fake/conflict.png", image_bytes(50), 1)  # the same bytes claimed as fake
    for rel, (data, _) in BAD_FILES.items():
        put(rel, data, 0 if rel.startswith("real") else 1)
    return root, pd.DataFrame(rows)


@pytest.mark.parametrize(("rel", "reason"), [(k, v[1]) for k, v in BAD_FILES.items()])
def test_check_image_names_the_reason(folder, rel, reason):
    root, _ = folder
    assert check_image(root / rel, min_side=16).reason == reason


def test_check_image_accepts_a_good_image(folder):
    root, _ = folder
    check = check_image(root / "fake" / "0.jpg")
    assert check.reason is None and (check.width, check.height, check.format) == (48, 40, "JPEG")
    assert check_image(root / "missing.png").reason == "unreadable"


def test_prepare_quarantines_each_bad_file_with_its_reason(folder, tmp_path):
    _root, records = folder
    out = tmp_path / "prepared"
    report = prepare_records(records, out, min_side=16, progress=False)
    quarantine = pd.read_csv(out / "quarantine.csv")
    reasons = dict(zip(quarantine["path"], quarantine["reason"], strict=True))
    for rel, (_, reason) in BAD_FILES.items():
        assert reasons[f"../raw/{rel}"] == reason
    assert reasons["../raw/real/conflict.png"] == reasons["../raw/fake/conflict.png"]
    assert reasons["../raw/fake/conflict.png"] == "duplicate-label-conflict"
    assert report["n_quarantined"] == len(BAD_FILES) + 2
    assert report["quarantine_reasons"]["too-small"] == 1


def test_prepare_drops_duplicates_and_writes_manifest_and_report(folder, tmp_path):
    _root, records = folder
    out = tmp_path / "prepared"
    report = prepare_records(records, out, min_side=16, progress=False)
    duplicates = pd.read_csv(out / "duplicates.csv")
    assert duplicates.to_dict("records") == [
        {
            "path": "../raw/real/copy_of_0.png",
            "duplicate_of": "../raw/real/0.png",
            "sha256": duplicates["sha256"][0],
        }
    ]
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == 12 and manifest["sha256"].is_unique
    assert (out / manifest["path"][0]).resolve().is_file()  # paths relative to out_dir
    assert set(manifest["split"]) <= {"train", "val", "test"}
    assert report["n_input"] == 12 + 1 + 2 + len(BAD_FILES)
    assert report["counts"]["class"] == {"fake": 6, "real": 6}
    assert report["counts"]["generator"] == {"camera": 6, "gen": 6}
    assert report["formats"] == {"JPEG": 6, "PNG": 6}
    assert report["image_size"]["most_common"][0] == {"width": 48, "height": 40, "count": 12}
    assert json.loads((out / "data_report.json").read_text()) == report


def test_layout_splits_are_kept_and_aliases_normalised(folder, tmp_path):
    _, records = folder
    records["split"] = ["valid" if i % 2 else "train" for i in range(len(records))]
    prepare_records(records, tmp_path / "p", min_side=16, progress=False)
    assert set(pd.read_csv(tmp_path / "p" / "manifest.csv")["split"]) == {"train", "val"}
    records["split"] = "holdout"
    with pytest.raises(DataError, match="unknown split names \\['holdout'\\]"):
        prepare_records(records, tmp_path / "q", min_side=16, progress=False)


def test_hash_splits_are_deterministic_and_near_their_fractions():
    hashes = [f"{i:064x}" for i in range(4000)]
    splits = pd.Series([split_by_hash(h, 0.15, 0.15) for h in hashes])
    assert splits.tolist() == [split_by_hash(h, 0.15, 0.15) for h in hashes]
    shares = splits.value_counts(normalize=True)
    assert abs(shares["test"] - 0.15) < 0.03 and abs(shares["val"] - 0.15) < 0.03


def test_nothing_usable_fails_with_the_reasons(folder, tmp_path):
    _root, records = folder
    only_bad = records[records["path"].str.contains("empty|notes")]
    with pytest.raises(DataError, match=r"none of the 2 files.*'empty': 1"):
        prepare_records(only_bad, tmp_path / "p", progress=False)


def test_prepare_dataset_reads_a_manifest(folder, tmp_path):
    root, _ = folder
    csv = root / "list.csv"
    pd.DataFrame(
        {"path": ["real/0.png", "fake/0.jpg", "fake/tiny.png"], "label": [0, 1, 1]}
    ).to_csv(csv, index=False)
    report = prepare_dataset(root, tmp_path / "p", manifest=csv, min_side=16, progress=False)
    assert report["n_images"] == 2 and report["quarantine_reasons"] == {"too-small": 1}
    with pytest.raises(DataError, match="lacks columns \\['label'\\]"):
        pd.DataFrame({"path": ["real/0.png"]}).to_csv(csv, index=False)
        prepare_dataset(root, tmp_path / "p", manifest=csv, progress=False)


def test_prepare_dataset_detects_the_layout(folder, tmp_path):
    pytest.importorskip("deepguard.data.layouts")
    root, _ = folder
    report = prepare_dataset(root, tmp_path / "p", min_side=16, progress=False)
    assert report["n_images"] == 12 and report["n_quarantined"] == len(BAD_FILES) + 2
