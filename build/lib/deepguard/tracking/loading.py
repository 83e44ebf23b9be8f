"""Load a trained detector safely: `.keras` files only, Keras safe mode, sha256 checked.

Loading an MLflow pyfunc model would unpickle code; DeepGuard never does that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepguard.errors import ModelIntegrityError


@dataclass
class LoadedModel:
    """A loaded detector and where it came from.

    Attributes:
        model: the Keras model; input float32 RGB in [0, 255], output probability of fake.
        uri: what the caller asked for (path, ``runs:/...`` or ``models:/...``).
        name / version / alias: registry coordinates, None for plain files.
        sha256: digest of the `.keras` file that was loaded.
        metadata: extra facts (threshold, image_size, metrics, backbone, run_id ...).
    """

    model: Any
    uri: str
    sha256: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def load_keras_file(path: str | Path, expected_sha256: str | None = None):
    """Load a `.keras` file with safe mode, after checking its sha256 when one is expected."""
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelIntegrityError(
            f"refusing to load '{path}': only '.keras' files are loaded (legacy .h5 and "
            "SavedModel formats can carry code); re-save the model with model.save('x.keras')"
        )
    if not path.is_file():
        raise ModelIntegrityError(f"model file '{path}' does not exist")
    actual = file_sha256(path)
    if expected_sha256 and actual != expected_sha256:
        raise ModelIntegrityError(
            f"model file '{path}' has sha256 {actual}, expected {expected_sha256} as recorded "
            "at registration: the file changed; re-register the model or restore the file"
        )
    return keras.saving.load_model(path, safe_mode=True), actual


def load_model(uri: str | Path) -> LoadedModel:
    """Load a detector from a `.keras` path (registry and run URIs: see the registry module)."""
    model, sha256 = load_keras_file(uri)
    return LoadedModel(model=model, uri=str(uri), sha256=sha256)
