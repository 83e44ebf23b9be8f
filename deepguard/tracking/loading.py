"""Load a trained detector safely: `.keras` files only, Keras safe mode, sha256 checked.

Loading an MLflow pyfunc model would unpickle code; DeepGuard never does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepguard.errors import ModelIntegrityError
from deepguard.files import file_sha256

FACES_KEY = "faces"  # metadata entry: the faces settings (conf/faces keys) the model trained with


@dataclass
class LoadedModel:
    """A loaded detector and where it came from.

    Attributes:
        model: the Keras model; input float32 RGB in [0, 255], output probability of fake.
        uri: what the caller asked for (path, ``runs:/...`` or ``models:/...``).
        name / version / alias: registry coordinates, None for plain files.
        sha256: digest of the `.keras` file that was loaded.
        metadata: extra facts (threshold, image_size, metrics, backbone, run_id ...);
            ``faces``: the faces settings the model was trained with (`FACES_KEY`), from its
            run's params or the ``config.yaml`` beside its file; absent for whole images.
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
    # DeepGuard's own layers (the in-model preprocessing, the NPR residual ...) register
    # themselves when deepguard.models is imported; a fresh process that never built a model
    # must import them before deserializing.
    import deepguard.models  # noqa: F401

    return keras.saving.load_model(path, safe_mode=True), actual


def load_model(
    uri: str | Path,
    tracking_uri: str | None = None,
    cache_dir: str | Path | None = None,
) -> LoadedModel:
    """Load a detector from a `.keras` path, a run or the registry; never through pyfunc.

    Args:
        uri: ``path/to/model.keras``, ``runs:/<run_id>/model``, ``models:/<name>@<alias>`` or
            ``models:/<name>/<version>``.
        tracking_uri: the MLflow store for ``runs:/`` and ``models:/`` URIs (None:
            ``MLFLOW_TRACKING_URI`` or the project's default store).
        cache_dir: where downloaded models are kept, one folder per sha256 (None:
            ``$DEEPGUARD_CACHE`` or ``~/.cache/deepguard/models``).

    Raises:
        ModelIntegrityError: the file is not `.keras`, is missing, or its sha256 differs from
            the one recorded when it was logged (the artifact changed afterwards).

    Example:
        >>> loaded = load_model("models:/deepguard@champion")
        >>> loaded.version, loaded.metadata["test_roc_auc"]
    """
    text = str(uri)
    if not text.startswith(("runs:/", "models:/")):
        model, sha256 = load_keras_file(uri)
        return LoadedModel(model=model, uri=text, sha256=sha256, metadata=_file_metadata(uri))

    from deepguard.tracking.store import make_client, resolve_tracking_uri

    client = make_client(resolve_tracking_uri(tracking_uri))
    if text.startswith("runs:/"):
        run_id, expected, metadata = _resolve_run(client, text)
        name = version = alias = None
    else:
        name, version, alias, mv = _resolve_model_version(client, text)
        run_id = mv.run_id
        expected = mv.tags.get("model_sha256")
        if not expected:
            raise ModelIntegrityError(
                f"'{text}' (version {version}) has no 'model_sha256' tag, so its file cannot be "
                "checked; register it with scripts/register.py (deepguard.tracking.registry)"
            )
        metadata = dict(mv.tags)
        metadata.update(_run_metadata(client, run_id))
    local = _download(run_id, expected, text, client.tracking_uri, cache_dir)
    model, sha256 = load_keras_file(local, expected_sha256=expected)
    metadata["run_id"] = run_id
    metadata = _typed(metadata)
    return LoadedModel(
        model=model,
        uri=text,
        sha256=sha256,
        name=name,
        version=version,
        alias=alias,
        metadata=metadata,
    )


def _typed(metadata: dict[str, Any]) -> dict[str, Any]:
    """Registry tags are strings: give metrics and the threshold back as floats, size as int."""
    typed = dict(metadata)
    for key, value in metadata.items():
        try:
            if key == "image_size":
                typed[key] = int(value)
            elif key == "threshold" or key.startswith("test_"):
                typed[key] = float(value)
        except (TypeError, ValueError):
            pass  # keep what was recorded
    return typed


def _resolve_run(client: Any, uri: str) -> tuple[str, str, dict[str, Any]]:
    parts = uri.removeprefix("runs:/").strip("/").split("/")
    run_id, rest = parts[0], "/".join(parts[1:])
    if rest not in ("model", "model/model.keras"):
        raise ModelIntegrityError(
            f"'{uri}': DeepGuard loads the model a run logged at 'model/model.keras'; "
            f"use runs:/{run_id}/model"
        )
    run = client.get_run(run_id)
    expected = run.data.tags.get("deepguard.model_sha256")
    if not expected:
        raise ModelIntegrityError(
            f"run '{run_id}' has no 'deepguard.model_sha256' tag: it logged no DeepGuard model, "
            "so its file cannot be checked"
        )
    return run_id, expected, _run_metadata(client, run_id, run)


def _run_metadata(client: Any, run_id: str, run: Any = None) -> dict[str, Any]:
    run = run or client.get_run(run_id)
    metadata: dict[str, Any] = {k: v for k, v in run.data.metrics.items() if k.startswith("test_")}
    params, tags = run.data.params, run.data.tags
    for key, candidates in {
        "backbone": ("backbone.name",),
        "image_size": ("data.image_size",),
        "threshold": ("evaluation.threshold",),
    }.items():
        for candidate in candidates:
            if candidate in params:
                metadata.setdefault(key, params[candidate])
    if "deepguard.data_digest" in tags:
        metadata.setdefault("data_digest", tags["deepguard.data_digest"])
    faces = _faces_from_params(params)
    if faces:
        metadata[FACES_KEY] = faces
    return metadata


def _faces_from_params(params: dict[str, str]) -> dict[str, Any]:
    """The ``faces.*`` params of a run as typed values (MLflow stores them as text)."""
    import yaml

    faces = {}
    for key, text in params.items():
        if key.startswith("faces.") and key != "faces.cache_dir":
            # str(None) is how flatten_config writes a null; YAML reads the rest back.
            faces[key.removeprefix("faces.")] = None if text == "None" else yaml.safe_load(text)
    return faces


def _file_metadata(path: str | Path) -> dict[str, Any]:
    """What the training run's ``config.yaml`` beside a `.keras` file records: its faces."""
    from omegaconf import OmegaConf

    config_file = Path(path).parent / "config.yaml"
    if not config_file.is_file():
        return {}
    faces = OmegaConf.load(config_file).get("faces")
    if faces is None:
        return {}
    recorded = dict(OmegaConf.to_container(faces, resolve=False))  # type: ignore[arg-type]
    recorded.pop("cache_dir", None)  # the training machine's folder, not the scorer's
    return {FACES_KEY: recorded}


def _resolve_model_version(client: Any, uri: str) -> tuple[str, str, str | None, Any]:
    from mlflow.exceptions import MlflowException

    body = uri.removeprefix("models:/").strip("/")
    try:
        if "@" in body:
            name, alias = body.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
            return name, str(mv.version), alias, mv
        name, _, version = body.rpartition("/")
        if not name or not version.isdigit():
            raise ModelIntegrityError(
                f"cannot read '{uri}': expected models:/<name>@<alias> or models:/<name>/<version>"
            )
        return name, version, None, client.get_model_version(name, version)
    except MlflowException as error:
        raise ModelIntegrityError(
            f"'{uri}' is not in the registry at {client.tracking_uri}: {error.message}; "
            "register a run with scripts/register.py or check the name, alias or version"
        ) from error


def _download(
    run_id: str, expected: str, uri: str, tracking_uri: str, cache_dir: str | Path | None
) -> Path:
    """Fetch ``model/model.keras`` of `run_id` into ``<cache>/<sha256>/`` (reused when intact)."""
    import os
    import shutil
    import tempfile

    import mlflow.artifacts

    root = Path(
        cache_dir or os.environ.get("DEEPGUARD_CACHE") or Path.home() / ".cache" / "deepguard"
    )
    target = root / "models" / expected / "model.keras"
    if target.is_file() and file_sha256(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path="model/model.keras",
            dst_path=tmp,
            tracking_uri=tracking_uri,
        )
        actual = file_sha256(local)
        if actual != expected:
            raise ModelIntegrityError(
                f"the model of '{uri}' (run {run_id}) has sha256 {actual}, but {expected} was "
                "recorded when it was logged: the stored artifact changed after registration. "
                "Refusing to load it; restore the original file or register a new version"
            )
        shutil.move(local, target)
    return target
