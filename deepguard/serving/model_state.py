"""The worker's one model: loaded once, in the background, with its readiness and failure,
and the threshold and faces settings it is served with."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deepguard.config.faces import FaceSettings
from deepguard.errors import ConfigError
from deepguard.serving.faces import serving_face_settings, warm_face_detector
from deepguard.tracking.loading import LoadedModel

log = logging.getLogger(__name__)


class ModelState:
    """Loads the model once and tells whether it is ``loading``, ``ready`` or ``failed``.

    Args:
        uri: what `load_model` loads.
        loader: the loading function (`deepguard.tracking.loading.load_model`).
        threshold: fixed threshold, or None for the model's metadata (else 0.5).
        faces: fixed faces settings, or None for the model's recorded ones (else whole
            images); `face_settings` holds the outcome once loaded.
    """

    def __init__(
        self,
        uri: str,
        loader: Callable[[str], LoadedModel],
        threshold: float | None,
        faces: FaceSettings | None = None,
    ):
        self.uri = uri
        self.status = "loading"
        self.reason: str | None = None
        self.loaded: LoadedModel | None = None
        self.threshold = 0.5 if threshold is None else float(threshold)
        self._fixed_threshold = threshold
        self.face_settings = FaceSettings() if faces is None else faces
        self._fixed_faces = faces
        self._loader = loader
        self._done = threading.Event()

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def image_size(self) -> int:
        return self._require_loaded().image_size

    def _require_loaded(self) -> LoadedModel:
        if self.loaded is None:
            raise RuntimeError(f"model {self.uri} is {self.status}, not ready")
        return self.loaded

    def start(self) -> None:
        """Load in a daemon thread, so the worker answers liveness meanwhile."""
        threading.Thread(target=self.load, name="deepguard-model-loader", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading finished (either way); True if it finished in time."""
        return self._done.wait(timeout)

    def load(self) -> None:
        started = time.perf_counter()
        try:
            loaded = self._loader(self.uri)
            # One call traces the predict graph now rather than inside the first request.
            size = loaded.image_size
            loaded.model.predict_on_batch(np.zeros((1, size, size, 3), np.float32))
            faces = serving_face_settings(self._fixed_faces, loaded.metadata)
            if faces.enabled:
                warm_face_detector(faces)
        except Exception as error:  # a thread has no caller to raise to: record, stay unready
            log.exception("model %s failed to load; the server stays not ready", self.uri)
            fix = (
                "choose them with faces=crop or faces=none in the serve config"
                if isinstance(error, ConfigError)  # the model's recorded faces settings
                else "check that model= points to an intact .keras file or a registered model"
            )
            self.reason = f"{type(error).__name__}: {error}; {fix}, then restart the server"
            self.status = "failed"
        else:
            self.loaded = loaded
            self.face_settings = faces
            if self._fixed_threshold is None:
                self.threshold = float(loaded.metadata.get("threshold", 0.5))
            self.status = "ready"
            log.info(
                "model ready: %s version=%s alias=%s sha256=%s input=%dpx faces=%s in %.1f s",
                self.describe()["name"],
                loaded.version,
                loaded.alias,
                loaded.sha256[:12],
                size,
                "crop" if faces.enabled else "none",
                time.perf_counter() - started,
            )
        finally:
            self._done.set()

    def describe(self) -> dict[str, Any]:
        """Name, version, alias and sha256 as the API reports them (name falls back to the
        file name for a plain `.keras` path)."""
        loaded = self.loaded
        if loaded is None:
            return {"name": None, "version": None, "alias": None, "sha256": None}
        return {
            "name": loaded.name or Path(str(loaded.uri)).name,
            "version": None if loaded.version is None else str(loaded.version),
            "alias": loaded.alias,
            "sha256": loaded.sha256,
        }

    def test_metrics(self) -> dict[str, float]:
        """The test metrics recorded with the model (``metrics`` metadata or ``test_*`` keys)."""
        metadata = self.loaded.metadata if self.loaded else {}
        nested = metadata.get("metrics") or metadata.get("test_metrics") or {}
        flat = {key: value for key, value in metadata.items() if str(key).startswith("test_")}
        return {**flat, **dict(nested)}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities of fake, shape ``(N,)``, for a float32 ``(N, S, S, 3)`` batch."""
        output = self._require_loaded().model.predict_on_batch(batch)
        return np.asarray(output, dtype=np.float64).reshape(len(batch), -1)[:, 0]
