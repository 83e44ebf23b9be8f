"""Detections on disk, keyed by a file's sha256 and the detector settings.

A second run over the same files reads small JSON files instead of running MTCNN: on a cache
hit neither TensorFlow nor the detector is loaded. Layout::

    <cache_dir>/<settings digest>/<sha256[:2]>/<sha256>.json

The settings digest covers only what changes the detector's output (`detector_key`), so
changing the margin, the confidence threshold or the crop size reuses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepguard.config.faces import FaceSettings
from deepguard.errors import ImageInputError
from deepguard.faces.crop import no_face_reason
from deepguard.faces.detector import Face, detect_all_faces, keep_faces
from deepguard.images import decode_image

_FORMAT_VERSION = 1  # bump when the JSON layout changes; old entries then read as misses


class DetectionCache:
    """The detection cache under one folder, for one set of detector settings.

    Args:
        cache_dir: the cache folder (created on first write).
        settings: the settings whose `detector_key` the entries are keyed by.

    Example:
        >>> cache = DetectionCache("data/faces-cache", settings)
        >>> faces = cache.faces(Path("face.jpg").read_bytes())  # detects once, then reads
    """

    def __init__(self, cache_dir: str | os.PathLike, settings: FaceSettings):
        self.settings = settings
        key = settings.detector_key()
        self.folder = Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:16]
        self._key = key

    def path(self, sha256: str) -> Path:
        """Where the entry of a file with this content hash lives."""
        return self.folder / sha256[:2] / f"{sha256}.json"

    def load(self, sha256: str) -> list[Face] | None:
        """The stored detections (all of them, unfiltered), or ``None`` on a miss."""
        try:
            entry = json.loads(self.path(sha256).read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if entry.get("version") != _FORMAT_VERSION or entry.get("detector") != self._key:
            return None
        return [Face.from_dict(face) for face in entry["faces"]]

    def store(self, sha256: str, faces: list[Face]) -> None:
        """Write one entry atomically: a reader sees the old entry, none, or the whole new one."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "version": _FORMAT_VERSION,
            "detector": self._key,
            "sha256": sha256,
            "faces": [face.to_dict() for face in faces],
        }
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(entry, out)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):  # only when writing failed: leave no partial file
                os.unlink(temporary)

    def detections(self, data: bytes, rgb: np.ndarray | None = None) -> tuple[list[Face], bool]:
        """Every detection of one encoded image (unfiltered), and whether it was a cache hit.

        Args:
            data: the file's bytes (hashed for the key; decoded on a miss if `rgb` is None).
            rgb: the decoded image when the caller already has it.

        Raises:
            ImageInputError: a miss on bytes that do not decode.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        found = self.load(sha256)
        if found is not None:
            return found, True
        found = detect_all_faces(decode_image(data) if rgb is None else rgb, self.settings)
        self.store(sha256, found)
        return found, False

    def faces(self, data: bytes, rgb: np.ndarray | None = None) -> list[Face]:
        """The faces of one encoded image that pass the settings, detecting only on a miss."""
        return keep_faces(self.detections(data, rgb)[0], self.settings)


@dataclass
class FileDetections:
    """What `detect_files` found.

    Attributes:
        faces: path -> the faces of that file that pass the settings (possibly none).
        quarantine: files to leave out, with columns ``path`` and ``reason``: files that do
            not decode, and with ``on_missing: skip`` files with no face.
        hits: files read from the cache.
        misses: files the detector ran on.
    """

    faces: dict[str, list[Face]] = field(default_factory=dict)
    quarantine: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["path", "reason"])
    )
    hits: int = 0
    misses: int = 0


def detect_files(
    paths: Iterable[str | os.PathLike],
    settings: FaceSettings,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> FileDetections:
    """Detect the faces of many files once, through the cache (the data setup step).

    Args:
        paths: image files.
        settings: the `faces` settings; their `cache_dir` is used when `cache_dir` is None.
        cache_dir: cache folder; ``None`` and no `settings.cache_dir` = detect without caching.
        progress: show a progress bar.

    Example:
        >>> found = detect_files(manifest.path, settings)
        >>> found.quarantine.to_csv("quarantine.csv", index=False)
    """
    folder = cache_dir if cache_dir is not None else settings.cache_dir
    cache = DetectionCache(folder, settings) if folder is not None else None
    result, skipped = FileDetections(), []
    paths = [str(path) for path in paths]
    for path in tqdm(paths, desc="faces", unit="image", disable=not progress):
        try:
            faces, hit = _faces_of_file(path, settings, cache)
        except (ImageInputError, OSError) as error:
            skipped.append((path, str(error)))
            continue
        result.hits += hit
        result.misses += not hit
        result.faces[path] = faces
        if not faces and settings.on_missing == "skip":
            skipped.append((path, no_face_reason(settings)))
    result.quarantine = pd.DataFrame(skipped, columns=["path", "reason"])
    return result


def _faces_of_file(
    path: str, settings: FaceSettings, cache: DetectionCache | None
) -> tuple[list[Face], bool]:
    """The faces of one file that pass the settings, and whether they came from the cache."""
    data = Path(path).read_bytes()
    if cache is None:
        found, hit = detect_all_faces(decode_image(data), settings), False
    else:
        found, hit = cache.detections(data)
    return keep_faces(found, settings), hit
