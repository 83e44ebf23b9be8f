"""File helpers every stage shares: the sha256 of a file and an atomic swap into place.

Example:
    >>> file_sha256("model.keras")                       # doctest: +SKIP
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    >>> swap_into_place(Path("data/.raw.staging"), Path("data/raw"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

CHUNK_BYTES = 1 << 20  # files are hashed 1 MiB at a time, whatever their size


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks.

    Raises:
        OSError: the file cannot be read (missing, a folder, no permission).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def swap_into_place(staging: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Rename the finished folder (or file) `staging` to `dest`, replacing what was there.

    A reader sees the old `dest` or the new one, never a half-written one: the old one is
    renamed aside to ``.<name>.old-<random>`` first and removed only once the new one is in
    place. When the rename fails and `dest` is still free, the old one is put back; when
    `dest` was taken meanwhile (another process finished first), the old one is removed.
    `staging` must be on the same file system as `dest` (a sibling), so renames are atomic.

    Raises:
        OSError: the rename failed; `dest` then holds the previous content, or the content
            another process put there.
    """
    staging, dest = Path(staging), Path(dest)
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        dest.rename(old)
    try:
        staging.rename(dest)
    except OSError:
        if old is not None:
            if dest.exists():
                _remove(old)
            else:
                old.rename(dest)
        raise
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
