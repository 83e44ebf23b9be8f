"""What one serving worker needs to know: the model, the threshold, the faces and the limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from deepguard.config.faces import FaceSettings
from deepguard.images import DecodeLimits


@dataclass(frozen=True)
class ServeSettings:
    """Settings of `create_app` (`conf/serve.yaml` holds the same keys, commented).

    Args:
        model_uri: a `.keras` path, ``runs:/<id>/...``, ``models:/<name>@<alias>`` or
            ``models:/<name>/<version>``; loaded once per worker by `load_model`.
        threshold: probability at or above which an image is labelled fake; None takes the
            model's recorded ``threshold`` metadata, else 0.5.
        max_batch: most images in one request; more answer 413.
        max_content_length: largest request body in bytes; larger answer 413.
        max_concurrency: predictions computed at once in one worker (the rest wait).
        queue_timeout_s: how long a request waits for a free slot before a 503.
        retry_after_s: the Retry-After seconds sent with a 503.
        explain_max_side: side of the centred crop whose spectrum ``?explain=fft`` draws.
        limits: what each image may be (bytes, pixels, sides, formats).
        faces: the faces settings uploads are scored with (`FaceSettings` or a mapping of
            `conf/faces` keys); None takes the ones recorded with the model, else whole
            images.
        max_faces: most faces answered per image with ``?faces=all``; more answer 422
            ``too_many_faces``.
        load_in_background: load the model in a thread so liveness answers at once;
            False loads it inside `create_app` (readiness is then true from the start).
    """

    model_uri: str
    threshold: float | None = None
    max_batch: int = 16
    max_content_length: int = 64 * 1024 * 1024
    max_concurrency: int = 2
    queue_timeout_s: float = 1.0
    retry_after_s: int = 1
    explain_max_side: int = 512
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    faces: FaceSettings | None = None
    max_faces: int = 8
    load_in_background: bool = True

    def __post_init__(self):
        if not self.model_uri:
            raise ValueError(
                "model_uri is required: a .keras path or a registry URI such as "
                "models:/deepguard@champion"
            )
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1] or None, got {self.threshold}")
        names = ("max_batch", "max_content_length", "max_concurrency", "explain_max_side")
        for name in (*names, "max_faces"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if isinstance(self.limits, Mapping):
            object.__setattr__(self, "limits", DecodeLimits(**self.limits))
        if isinstance(self.faces, Mapping):
            object.__setattr__(self, "faces", FaceSettings.from_config(self.faces))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ServeSettings:
        """Build from a mapping (a Hydra config node, a dict); unknown keys are an error."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown serving settings {unknown}; known: {sorted(known)}")
        values = dict(values)
        if values.get("limits") is not None:
            limits = dict(values["limits"])
            if "allowed_formats" in limits:
                limits["allowed_formats"] = tuple(limits["allowed_formats"])
            values["limits"] = DecodeLimits(**limits)
        else:
            values.pop("limits", None)
        return cls(**values)
