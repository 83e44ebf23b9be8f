"""Find the files a training run cannot read before it starts, and say why.

Each file goes through `deepguard.images.check_image`, the decode the loader itself runs,
with the same limits and region, so a file the scan keeps never stops an epoch. Unreadable
files go to a quarantine table with a reason; the run goes on without them unless they are
more than ``max_bad_fraction`` of the dataset. Results are remembered by content hash (and
limits and region) for the life of the process, so a second `DataModule.setup()` or a sweep
over the same data does not decode everything again.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from deepguard.errors import DataError
from deepguard.images import (
    DATASET_LIMITS,
    DecodeLimits,
    ImageCheck,
    Region,
    check_image,
    whole_image,
)


QUARANTINE_COLUMNS = ["path", "reason", "detail"]

_cache: dict[tuple, ImageCheck] = {}
_cache_lock = threading.Lock()


def _check_cached(path: str, sha256: str | None, limits: DecodeLimits, region: Region):
    if sha256 is None or pd.isna(sha256):
        return check_image(path, limits, region)
    key = (sha256, limits, region)
    with _cache_lock:
        known = _cache.get(key)
    if known is None:
        known = check_image(path, limits, region)
        with _cache_lock:
            _cache[key] = known
    return known


def scan_images(
    df: pd.DataFrame,
    max_bad_fraction: float = 0.05,
    limits: DecodeLimits = DATASET_LIMITS,
    region: Region = whole_image,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split records into the files that decode and the quarantined ones.

    Args:
        df: records with ``path`` and ``sha256`` (None for files that could not be read).
        max_bad_fraction: the largest share of unreadable files tolerated, in [0, 1].
        limits: what each file may be; the loader must use the same.
        region: the region step the loader applies; images it refuses are quarantined.

    Returns:
        ``(good, quarantine)``: `good` is `df` minus the bad files; `quarantine` has the
        columns ``path``, ``reason`` (a word of `deepguard.images.REASONS`) and ``detail``.

    Raises:
        DataError: when more than ``max_bad_fraction`` of the files are unreadable.
    """
    paths = df["path"].tolist()
    hashes = df["sha256"].tolist() if "sha256" in df else [None] * len(paths)
    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        checks = list(
            pool.map(
                lambda p, h: _check_cached(p, h, limits, region), paths, hashes, chunksize=16
            )
        )
    bad = [check.reason is not None for check in checks]
    quarantine = pd.DataFrame(
        [(p, c.reason, c.detail) for p, c, b in zip(paths, checks, bad, strict=True) if b],
        columns=QUARANTINE_COLUMNS,
    )
    good = df[[not b for b in bad]].reset_index(drop=True)
    _check_bad_fraction(quarantine, len(df), max_bad_fraction)
    return good, quarantine


def _check_bad_fraction(quarantine: pd.DataFrame, total: int, max_bad_fraction: float) -> None:
    fraction = len(quarantine) / max(total, 1)
    if fraction <= max_bad_fraction:
        return
    examples = "; ".join(
        f"{row.path}: {row.reason}" for row in quarantine.head(3).itertuples(index=False)
    )
    raise DataError(
        f"{len(quarantine)} of {total} image files ({fraction:.1%}) cannot be decoded, "
        f"above data.max_bad_fraction={max_bad_fraction:.1%} (e.g. {examples}). "
        "Remove or repair those files, or raise data.max_bad_fraction to train without them."
    )
