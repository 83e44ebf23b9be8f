"""normalize_keras_file: the same model saved at two times gives the same bytes, and loads."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np

from deepguard.models import build_detector
from deepguard.models.keras_file import normalize_keras_file
from deepguard.tracking.loading import load_keras_file


def resave_at(source, target, when: tuple, date_saved: str, address_shift: int) -> None:
    """Copy a .keras archive as if another process had written it at another time."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "date_saved": date_saved}).encode()
            if info.filename == "config.json":
                # Shared objects are numbered by memory address: another process, other ids.
                data = re.sub(
                    rb'"shared_object_id": (\d+)',
                    lambda match: b'"shared_object_id": %d' % (int(match[1]) + address_shift),
                    data,
                )
            copy.writestr(zipfile.ZipInfo(info.filename, date_time=when), data)


def test_same_weights_saved_at_two_times_give_the_same_bytes_and_load(tmp_path):
    model = build_detector(
        name="small_cnn",
        application="deepguard.models.small_cnn.SmallCNN",
        preprocessing="tf",
        image_size=32,
    )
    model.save(tmp_path / "saved.keras")
    assert b'"shared_object_id"' in zipfile.ZipFile(tmp_path / "saved.keras").read("config.json")
    resave_at(tmp_path / "saved.keras", tmp_path / "a.keras", (2024, 1, 2, 3, 4, 5), "2024", 0)
    resave_at(tmp_path / "saved.keras", tmp_path / "b.keras", (2031, 6, 7, 8, 9, 10), "2031", 4096)
    assert (tmp_path / "a.keras").read_bytes() != (tmp_path / "b.keras").read_bytes()

    normalize_keras_file(tmp_path / "a.keras")
    normalize_keras_file(tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.keras") as archive:
        metadata = json.loads(archive.read("metadata.json"))
        dates = {info.date_time for info in archive.infolist()}
    assert "date_saved" not in metadata and metadata["keras_version"]
    assert dates == {(1980, 1, 1, 0, 0, 0)}

    loaded, _ = load_keras_file(tmp_path / "a.keras")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )
