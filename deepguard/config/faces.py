"""How faces are found and cropped: the typed form of the `conf/faces/` group.

`FaceSettings` is registered with Hydra's ConfigStore as ``faces/faces_schema``, so a misspelt
key in `conf/faces/*.yaml` or on the command line fails at composition; `from_config` checks
the values (choices, ranges) before any image is read. It lives here rather than in
`deepguard.faces` so that registering the schemas imports no image or detection code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from importlib.metadata import version
from typing import Any

from deepguard.errors import ConfigError

ON_MISSING_CHOICES = ("skip", "whole")
PICK_CHOICES = ("largest", "confident")


@dataclass
class FaceSettings:
    """Face detection and cropping settings (`conf/faces/crop.yaml` documents each key).

    Args:
        enabled: crop images to their face; ``False`` (``faces=none``) scores whole images.
        margin: context kept on each side of the detected box, as a fraction of the box's
            longer side (0.25 gives a crop 1.5 times the box).
        min_confidence: detections below this MTCNN confidence (0-1) are ignored.
        min_size: detections whose box is shorter than this many pixels on its shorter side
            are ignored.
        max_side: images are shrunk to at most this long side in pixels for detection only
            (boxes are scaled back), which bounds the time a large photo takes.
        on_missing: ``skip`` an image with no face (quarantined with a reason, or an error for
            a single image), or use the ``whole`` image instead.
        pick: the face that stands for an image with several: ``largest`` box or most
            ``confident`` detection.
        align: rotate each crop so that the eyes lie on a horizontal line.
        size: side in pixels of every crop; ``None`` keeps the crop's own side (no scaling).
        cache_dir: folder of the on-disk detection cache; ``None`` = no cache.

    Example:
        >>> FaceSettings.from_config({"enabled": True, "margin": 0.3, "on_missing": "skip"})
    """

    enabled: bool = False
    margin: float = 0.25
    min_confidence: float = 0.9
    min_size: int = 40
    max_side: int = 1024
    on_missing: str = "whole"
    pick: str = "largest"
    align: bool = True
    size: int | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        _check_choice("on_missing", self.on_missing, ON_MISSING_CHOICES)
        _check_choice("pick", self.pick, PICK_CHOICES)
        _check_range("margin", self.margin, 0.0, 2.0)
        _check_range("min_confidence", self.min_confidence, 0.0, 1.0)
        _check_range("min_size", self.min_size, 12, 4096)  # MTCNN's smallest window is 12 px
        _check_range("max_side", self.max_side, 64, 16384)
        if self.size is not None:
            _check_range("size", self.size, 16, 4096)

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> FaceSettings:
        """Settings from a `faces` config node or a plain mapping; ``None`` = faces off.

        Raises:
            ConfigError: an unknown key (the known ones are listed) or a bad value.
        """
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            # OmegaConf's DictConfig is a MutableMapping, so this is a wrong type in YAML.
            raise ConfigError(f"faces settings must be a mapping, got {type(values).__name__}")
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(map(str, values)) - known)
        if unknown:
            raise ConfigError(f"unknown faces settings {unknown}; known: {sorted(known)}")
        return cls(**{str(key): value for key, value in values.items()})

    def detector_key(self) -> str:
        """The settings that change what the detector returns, as a stable JSON string.

        The detection cache is keyed by it: `min_confidence`, `min_size`, `pick`, `margin`
        and the crop settings filter or shape detections after the cache, so changing them
        reuses it.
        """
        detector = {
            "detector": "mtcnn",
            "mtcnn_version": version("mtcnn"),
            "max_side": self.max_side,
        }
        return json.dumps(detector, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for logging and for MLflow params)."""
        return asdict(self)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"faces.{name} must be one of {list(choices)}, got {value!r}; "
            f"set faces.{name}={choices[0]} for example"
        )


def _check_range(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"faces.{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"faces.{name} must be within [{low}, {high}], got {value}")
