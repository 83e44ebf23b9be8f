import json

import pandas as pd
import pytest

from deepguard.errors import DataError
from deepguard.prepare import MANIFEST_COLUMNS, prepare_dataset, prepare_records
from tests.prepare.helpers import BAD_FILES, image_bytes


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


def test_layout_splits_are_kept_and_missing_ones_drawn(folder, tmp_path):
    _, records = folder
    records["split"] = ["val" if i % 2 else "train" for i in range(len(records))]
    prepare_records(records, tmp_path / "p", min_side=16, progress=False)
    manifest = pd.read_csv(tmp_path / "p" / "manifest.csv")
    assert set(manifest["split"]) == {"train", "val"}
    records["split"] = None
    prepare_records(records, tmp_path / "q", min_side=16, test_fraction=0.5, progress=False)
    assert "test" in set(pd.read_csv(tmp_path / "q" / "manifest.csv")["split"])


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
    with pytest.raises(DataError, match=r"missing: \['label'\]"):
        pd.DataFrame({"path": ["real/0.png"]}).to_csv(csv, index=False)
        prepare_dataset(root, tmp_path / "p", manifest=csv, progress=False)


def test_prepare_dataset_detects_the_layout(folder, tmp_path):
    root, _ = folder
    report = prepare_dataset(root, tmp_path / "p", min_side=16, progress=False)
    assert report["n_images"] == 12 and report["n_quarantined"] == len(BAD_FILES) + 2
    assert report["counts"]["generator"] == {"unknown": 12}


def test_every_format_the_readers_share_is_prepared(tmp_path):
    for i, (fmt, suffix) in enumerate([("GIF", ".gif"), ("TIFF", ".tif"), ("WEBP", ".webp")]):
        for label in ("real", "fake"):
            path = tmp_path / "raw" / label / f"{i}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(image_bytes(i + (10 if label == "fake" else 0), fmt=fmt))
    report = prepare_dataset(tmp_path / "raw", tmp_path / "p", min_side=16, progress=False)
    assert report["n_quarantined"] == 0
    assert report["formats"] == {"GIF": 2, "TIFF": 2, "WEBP": 2}


def test_unknown_layout_lists_the_supported_ones(tmp_path):
    (tmp_path / "raw" / "misc").mkdir(parents=True)
    (tmp_path / "raw" / "misc" / "a.png").write_bytes(image_bytes(1))
    with pytest.raises(DataError, match=r"(?s)supported layouts:.*genimage"):
        prepare_dataset(tmp_path / "raw", tmp_path / "p", progress=False)
