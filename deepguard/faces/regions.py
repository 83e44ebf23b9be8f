"""Each file's face crop, from detections made once before the loader runs.

`FaceRegions` is the `deepguard.images.FileRegions` of a face-cropped dataset: `DataModule.setup`
(and `evaluate`, `predict`) detect every file once through the cache with `detect_files`, and
the loader's region for a file is then the crop of its stored face, looked up by path, so the
``tf.data`` map never runs the detector. A file it was not given is detected on first use
(through the cache when there is one), which is what a single upload or a new path needs.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from deepguard.config.faces import FaceSettings
from deepguard.faces.cache import DetectionCache, detect_files
from deepguard.faces.crop import face_region, landmarks_in_crop, primary_face
from deepguard.faces.detector import Face, detect_all_faces
from deepguard.images import Region, whole_image

_NO_LANDMARKS = np.full((5, 2), np.nan, dtype=np.float32)


class FaceRegions:
    """The face-crop region of each file, from detections made once.

    Args:
        settings: the `faces` settings (crop, filters, `on_missing`); enabled.
        faces: path -> every detection of that file (as `detect_files` or the cache give
            them); the settings' filters apply when cropping.
        cache: where to look up or store a file that is not in `faces`; ``None`` detects it
            without caching.

    Example:
        >>> regions = FaceRegions.detect(paths, settings)
        >>> read_input(paths[0], 64, region=regions)  # the crop of the file's face
    """

    def __init__(
        self,
        settings: FaceSettings,
        faces: Mapping[str, list[Face]] | None = None,
        cache: DetectionCache | None = None,
    ):
        if not settings.enabled:
            raise ValueError(
                "FaceRegions needs faces settings with enabled=true (faces=crop); with faces "
                "off every file's region is the whole image (deepguard.images.whole_image)"
            )
        self.settings = settings
        self.cache = cache
        self._faces = {str(path): list(found) for path, found in (faces or {}).items()}
        self._lock = threading.Lock()

    @classmethod
    def detect(
        cls, paths: Iterable[str | os.PathLike], settings: FaceSettings, progress: bool = True
    ) -> FaceRegions:
        """Detect the faces of `paths` once (through `settings.cache_dir`, with a progress
        bar) and keep them; files that do not decode are left to the readers' own error."""
        regions = cls.on_demand(settings)
        regions._faces.update(detect_files(paths, settings, progress=progress).faces)
        return regions

    @classmethod
    def on_demand(cls, settings: FaceSettings) -> FaceRegions:
        """Regions that detect each file on first use, through `settings.cache_dir` if set."""
        cache = None if settings.cache_dir is None else DetectionCache(settings.cache_dir, settings)
        return cls(settings, cache=cache)

    def __repr__(self) -> str:
        return f"FaceRegions({len(self._faces)} files, {self.settings!r})"

    def faces_of(self, path: str | os.PathLike) -> list[Face]:
        """The stored detections of a file; detected now (and stored) when it has none."""
        key = os.fspath(path)
        with self._lock:
            known = self._faces.get(key)
        if known is None:
            data = Path(key).read_bytes()
            if self.cache is not None:
                known = self.cache.detections(data)[0]
            else:
                from deepguard.images import decode_image

                known = detect_all_faces(decode_image(data), self.settings)
            with self._lock:
                self._faces[key] = known
        return known

    def region_for(self, path: str) -> Region:
        """The region of one file: the crop of its face (`face_region`), looked up when the
        loader calls it. It raises `NoFaceError` for a file with no face under
        ``on_missing: skip``."""
        return functools.partial(_crop_of_file, regions=self, path=path)

    def face_of(self, path: str | os.PathLike) -> Face | None:
        """The face that stands for the file (`primary_face`), or ``None`` when none passes."""
        return primary_face(self.faces_of(path), self.settings)

    def model_landmarks(self, path: str | os.PathLike, image_size: int) -> np.ndarray:
        """The file's face landmarks in the pixels of its ``image_size`` model input.

        Returns:
            float32 ``(5, 2)`` ``(x, y)``; all NaN when the file has no face (its model input
            is then the whole image, or it is skipped).
        """
        face = self.face_of(path)
        if face is None:
            return _NO_LANDMARKS.copy()
        return landmarks_in_crop(face, self.settings, image_size)


def _crop_of_file(rgb: np.ndarray, regions: FaceRegions, path: str) -> np.ndarray:
    return face_region(rgb, regions.settings, regions.faces_of(path))


def file_regions(settings: FaceSettings | None) -> FaceRegions | Region:
    """The region readers use under `settings`: `FaceRegions` that detect each file on first
    use when faces are on, else `whole_image`."""
    if settings is None or not settings.enabled:
        return whole_image
    return FaceRegions.on_demand(settings)
