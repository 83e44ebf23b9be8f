"""`deepguard.files`: the one file hash and the one atomic swap into place."""

import hashlib

import pytest

from deepguard.files import file_sha256, swap_into_place


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    data = bytes(range(256)) * 9000  # over 2 MiB: several chunks
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        file_sha256(tmp_path / "missing")


def test_swap_replaces_the_folder_and_leaves_nothing_behind(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "old.txt").write_text("old")
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / "new.txt").write_text("new")
    swap_into_place(tmp_path / ".staging", tmp_path / "data")
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_failed_swap_puts_the_previous_content_back(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "old.txt").write_text("old")
    with pytest.raises(OSError):
        swap_into_place(tmp_path / "never-written", tmp_path / "data")
    assert (tmp_path / "data" / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
