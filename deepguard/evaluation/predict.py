"""Score image files and folders into a CSV; a bad file becomes an error row, not a crash.

Each file takes the image path the API takes (`deepguard.images.read_input`: decode with the
API's limits, region, resize), so a file scores here what it scores when uploaded. With face
crops (the model's recorded faces settings unless others are given), every file's face is
detected once first (through the detection cache) and its crop is scored; a file with no
face under ``on_missing: skip`` becomes an error row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepguard.errors import DataError, ImageInputError
from deepguard.evaluation.evaluate import resolve_threshold
from deepguard.evaluation.inputs import iter_image_files
from deepguard.images import (
    IMAGE_SUFFIXES,
    DecodeLimits,
    FileRegions,
    Region,
    read_input,
    whole_image,
)

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = (
    "path",
    "probability_fake",
    "label",
    "threshold",
    "model_name",
    "model_version",
    "model_sha256",
    "error",
)


def predict_files(
    model,
    inputs: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    threshold: float | None = None,
    batch_size: int = 32,
    tracking_uri: str | None = None,
    limits: DecodeLimits | None = None,
    region: Region = whole_image,
    faces: Mapping[str, Any] | None = None,
    faces_cache: str | Path | None = None,
) -> pd.DataFrame:
    """Probability of fake for every image file in `inputs`, one row per file.

    Folders are scanned recursively for files with an image suffix
    (`deepguard.images.IMAGE_SUFFIXES`, any case); other files inside folders are skipped and
    counted in the log. A file named explicitly is always tried. A file that does not decode
    gets a row with an empty probability and the reason in `error`.

    Args:
        model: a model URI or `.keras` path for `deepguard.tracking.loading.load_model`, or a
            `LoadedModel` already loaded.
        inputs: a file, a folder, or a list of them.
        out: CSV file to write (parent folders created); nothing written when None.
        threshold: probability at or above which `label` is `fake`; None = the threshold
            recorded with the model, else 0.5.
        batch_size: images decoded and scored together.
        tracking_uri: MLflow store for `runs:/` and `models:/` URIs (None: the default).
        limits: what each file may be; None = the API's defaults (`DecodeLimits()`).
        region: the part of each image the model sees when faces are off (`whole_image`).
        faces: the faces settings (a `conf/faces` mapping or `FaceSettings`); ``None`` = the
            settings recorded with the model (whole images when it has none).
        faces_cache: the detection cache folder used with the model's recorded settings.

    Returns:
        A DataFrame with columns `PREDICTION_COLUMNS`, in path order.

    Example:
        >>> predict_files("model.keras", "photos/", out="scores.csv")
    """
    loaded = _load(model, tracking_uri)
    threshold = resolve_threshold(threshold, loaded.metadata)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1]; got {threshold}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    paths = list_image_files([inputs] if isinstance(inputs, str | Path) else list(inputs))
    regions = file_regions_for(paths, faces, loaded.metadata, faces_cache, region)
    probabilities, errors = score_files(
        loaded.model, paths, loaded.image_size, batch_size, limits or DecodeLimits(), regions
    )
    table = prediction_table(paths, probabilities, errors, threshold, loaded)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    _log_summary(table, threshold, out)
    return table


def _load(model, tracking_uri: str | None):
    from deepguard.tracking.loading import LoadedModel, load_model

    if isinstance(model, LoadedModel):
        return model
    # Only registry and run URIs need a store; a plain `.keras` path loads without one.
    return load_model(model, tracking_uri=tracking_uri)


def file_regions_for(
    paths: Sequence[Path],
    faces: Mapping[str, Any] | None,
    metadata: Mapping[str, Any],
    faces_cache: str | Path | None,
    region: Region = whole_image,
) -> Region | FileRegions:
    """The region of each file: its face crop (faces detected once, with a progress bar)
    when the chosen or recorded faces settings crop faces, else `region`."""
    from deepguard.faces import FaceRegions, scoring_face_settings

    settings = scoring_face_settings(faces, metadata, faces_cache)
    if not settings.enabled:
        return region
    if region is not whole_image:
        raise ValueError(
            "predict_files got a region and faces settings that crop faces; pass one of them "
            "(faces=none to score whole images with your region)"
        )
    log.info("cropping faces: %s", settings.to_dict())
    return FaceRegions.detect([str(path) for path in paths], settings)


def list_image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The files to score: named files, and image-suffixed files inside folders (logged
    when some are skipped).

    Raises:
        FileNotFoundError: an input does not exist.
        DataError: no image file at all.
    """
    paths: list[Path] = []
    skipped: list[Path] = []
    for path, is_image in iter_image_files(inputs):
        (paths if is_image else skipped).append(path)
    if skipped:
        log.warning(
            "skipped %d file(s) without an image suffix (%s), e.g. %s",
            len(skipped),
            " ".join(IMAGE_SUFFIXES),
            skipped[0],
        )
    if not paths:
        raise DataError(
            f"no image files found in {[str(i) for i in inputs]}; expected files ending in "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    return paths


def score_files(
    model,
    paths: Sequence[Path],
    image_size: int,
    batch_size: int,
    limits: DecodeLimits,
    region: Region | FileRegions = whole_image,
) -> tuple[np.ndarray, list[str]]:
    """Probabilities (NaN where unreadable) and error messages (``""`` where scored)."""
    probabilities = np.full(len(paths), np.nan)
    errors = [""] * len(paths)
    for start in range(0, len(paths), batch_size):
        indices, images = [], []
        for index in range(start, min(start + batch_size, len(paths))):
            try:
                images.append(read_input(paths[index], image_size, limits, region))
                indices.append(index)
            except ImageInputError as error:
                errors[index] = str(error)
            except OSError as error:
                errors[index] = f"{paths[index]}: cannot be read ({error})"
        if images:
            scores = model.predict_on_batch(np.stack(images))
            probabilities[indices] = np.asarray(scores, dtype=np.float64).reshape(-1)
    return probabilities, errors


def prediction_table(
    paths: Sequence[Path], probabilities: np.ndarray, errors: list[str], threshold: float, loaded
) -> pd.DataFrame:
    """The `PREDICTION_COLUMNS` table: labels at `threshold`, empty where unscored."""
    scored = ~np.isnan(probabilities)
    labels = np.where(probabilities >= threshold, "fake", "real")
    return pd.DataFrame(
        {
            "path": [str(p) for p in paths],
            "probability_fake": probabilities,
            "label": np.where(scored, labels, ""),
            "threshold": threshold,
            "model_name": loaded.name or Path(str(loaded.uri)).stem,
            "model_version": loaded.version or "",
            "model_sha256": loaded.sha256,
            "error": errors,
        },
        columns=list(PREDICTION_COLUMNS),
    )


def _log_summary(table: pd.DataFrame, threshold: float, out: str | Path | None) -> None:
    failed = int((table["error"] != "").sum())
    log.log(
        logging.WARNING if failed else logging.INFO,
        "scored %d file(s), %d flagged fake at threshold %g, %d unreadable%s",
        len(table) - failed,
        int((table["label"] == "fake").sum()),
        threshold,
        failed,
        f"; wrote {out}" if out is not None else "",
    )
