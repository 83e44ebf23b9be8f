"""Score image files and folders into a CSV; a bad file becomes an error row, not a crash."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from deepguard.errors import DataError
from deepguard.evaluation.evaluate import resolve_threshold
from deepguard.evaluation.inputs import IMAGE_SUFFIXES, iter_image_files, read_for_prediction

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
) -> pd.DataFrame:
    """Probability of fake for every image file in `inputs`, one row per file.

    Folders are scanned recursively for .jpg/.jpeg/.png/.webp/.bmp files (any case); other
    files inside folders are skipped and counted in the log. A file named explicitly is always
    tried. A file that does not decode gets a row with an empty probability and the reason in
    `error`.

    Args:
        model: a model URI or `.keras` path for `deepguard.tracking.loading.load_model`, or a
            `LoadedModel` already loaded.
        inputs: a file, a folder, or a list of them.
        out: CSV file to write (parent folders created); nothing written when None.
        threshold: probability at or above which `label` is `fake`; None = the threshold
            recorded with the model, else 0.5.
        batch_size: images decoded and scored together.
        tracking_uri: MLflow store for `runs:/` and `models:/` URIs (None: the default).

    Returns:
        A DataFrame with columns `PREDICTION_COLUMNS`, in path order.

    Example:
        >>> predict_files("model.keras", "photos/", out="scores.csv")
    """
    from deepguard.tracking.loading import LoadedModel, load_model

    if isinstance(model, LoadedModel):
        loaded = model
    else:
        # Only registry and run URIs need a store; a plain `.keras` path loads without one.
        loaded = load_model(model, tracking_uri=tracking_uri)
    threshold = resolve_threshold(threshold, loaded.metadata)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1]; got {threshold}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    if isinstance(inputs, str | Path):
        inputs = [inputs]

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

    image_size = loaded.image_size
    probabilities = np.full(len(paths), np.nan)
    errors = [""] * len(paths)
    for start in range(0, len(paths), batch_size):
        indices, images = [], []
        for index in range(start, min(start + batch_size, len(paths))):
            try:
                images.append(read_for_prediction(paths[index], image_size))
                indices.append(index)
            except ValueError as error:
                errors[index] = str(error)
        if images:
            scores = loaded.model.predict_on_batch(np.stack(images))
            probabilities[indices] = np.asarray(scores, dtype=np.float64).reshape(-1)

    scored = ~np.isnan(probabilities)
    labels = np.where(probabilities >= threshold, "fake", "real")
    table = pd.DataFrame(
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
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    failed = int((~scored).sum())
    log.log(
        logging.WARNING if failed else logging.INFO,
        "scored %d file(s), %d flagged fake at threshold %g, %d unreadable%s",
        int(scored.sum()),
        int((labels[scored] == "fake").sum()),
        threshold,
        failed,
        f"; wrote {out}" if out is not None else "",
    )
    return table
