"""Archives, good and hostile, built on disk for each test."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in files.items():
            add_bytes(tar, name, data)
    return path


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".staging-" in p.name or ".old-" in p.name]


DATASET = {
    "dataset/real/a.txt": b"real a",
    "dataset/real/b.txt": b"real b",
    "dataset/fake/c.txt": b"fake c",
}


@pytest.fixture
def good_tar(tmp_path) -> Path:
    return make_tar(tmp_path / "good.tar.gz", DATASET)
