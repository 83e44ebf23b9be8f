"""The pipeline's prepare stage: decode-check, deduplicate, split, and write the manifest.

Outputs in ``out_dir``:

- ``manifest.csv``: ``path,label,generator,split,sha256,width,height,format``, one row per
  usable image, paths relative to ``out_dir`` (so the folder can move with the data).
- ``quarantine.csv``: ``path,reason,detail`` for every file left out (see ``REASONS``).
- ``duplicates.csv``: ``path,duplicate_of,sha256`` for every copy dropped.
- ``data_report.json``: counts per class, generator and split, image sizes, formats,
  quarantine and duplicate counts.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from deepguard.data.labels import CLASS_NAMES
from deepguard.errors import DataError
from deepguard.images import SUPPORTED_FORMATS, DecodeLimits, check_image

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["path", "label", "generator", "split", "sha256", "width", "height", "format"]


def _checked(
    frame: pd.DataFrame, limits: DecodeLimits, workers: int, progress: bool
) -> pd.DataFrame:
    """`frame` with what `check_image` found: reason, detail, sha256, width, height, format."""
    check = partial(check_image, limits=limits)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        checks = list(
            tqdm(
                pool.map(check, frame["path"]),
                total=len(frame),
                desc="check images",
                unit="img",
                disable=not progress,
            )
        )
    for field in ("reason", "detail", "sha256", "width", "height", "format"):
        frame[field] = [getattr(c, field) for c in checks]
    return frame


def _deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Keep one file per content hash (``deepguard.data.drop_duplicates``'s rule).

    Returns:
        kept rows, dropped copies (``path, duplicate_of, sha256``) and label conflicts
        (``path, reason, detail``: the same bytes labelled both real and fake).
    """
    from deepguard.data.splits import drop_duplicates

    kept, dropped = drop_duplicates(frame)
    dropped = dropped.merge(frame[["path", "sha256"]], on="path", how="left")
    first_path = kept.drop_duplicates("sha256").set_index("sha256")["path"]
    is_copy = dropped["sha256"].isin(first_path.index)
    duplicates = pd.DataFrame(
        {
            "path": dropped.loc[is_copy, "path"],
            "duplicate_of": dropped.loc[is_copy, "sha256"].map(first_path),
            "sha256": dropped.loc[is_copy, "sha256"],
        }
    )
    conflicts = pd.DataFrame(
        {
            "path": dropped.loc[~is_copy, "path"],
            "reason": "duplicate-label-conflict",
            "detail": dropped.loc[~is_copy, "reason"],
        }
    )
    return kept, duplicates, conflicts


def _size_stats(values: pd.Series) -> dict:
    return {
        "min": int(values.min()),
        "max": int(values.max()),
        "mean": round(float(values.mean()), 2),
        "median": float(values.median()),
    }


def _counts(series: pd.Series) -> dict:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


def build_report(
    manifest: pd.DataFrame,
    quarantine: pd.DataFrame,
    duplicates: pd.DataFrame,
    n_input: int,
    source: str,
) -> dict:
    """The ``data_report.json`` content."""
    classes = manifest["label"].map(CLASS_NAMES)
    sizes = Counter(zip(manifest["width"], manifest["height"], strict=True)).most_common(5)
    return {
        "source": source,
        "n_input": int(n_input),
        "n_images": len(manifest),
        "n_quarantined": len(quarantine),
        "quarantine_reasons": _counts(quarantine["reason"]) if len(quarantine) else {},
        "n_duplicates_dropped": len(duplicates),
        "counts": {
            "class": _counts(classes),
            "generator": _counts(manifest["generator"]),
            "split": _counts(manifest["split"]),
            "split_class": {
                split: _counts(classes[manifest["split"] == split])
                for split in sorted(manifest["split"].unique())
            },
            "generator_class": {
                gen: _counts(classes[manifest["generator"] == gen])
                for gen in sorted(manifest["generator"].unique())
            },
        },
        "image_size": {
            "width": _size_stats(manifest["width"]),
            "height": _size_stats(manifest["height"]),
            "most_common": [{"width": int(w), "height": int(h), "count": n} for (w, h), n in sizes],
        },
        "formats": _counts(manifest["format"].fillna("unknown")),
    }


def prepare_records(
    records: pd.DataFrame,
    out_dir: str | Path,
    *,
    min_side: int = 32,
    max_pixels: int = 40_000_000,
    max_bytes: int = 100 * 2**20,
    formats: tuple[str, ...] | list[str] | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
    source: str = "",
) -> dict:
    """Check, deduplicate and split a record table, then write the stage's outputs.

    Args:
        records: ``path`` (absolute) and ``label`` (0 real, 1 fake) columns, optionally
            ``generator`` and ``split``.
        out_dir: where ``manifest.csv``, ``quarantine.csv``, ``duplicates.csv`` and
            ``data_report.json`` go.
        min_side: shortest accepted image side, pixels.
        max_pixels: most pixels accepted per image.
        max_bytes: largest accepted file, bytes.
        formats: accepted image formats, as Pillow names them; None = every format the
            readers share (`deepguard.images.SUPPORTED_FORMATS`).
        val_fraction, test_fraction: split shares for files the layout leaves unsplit
            (``deepguard.data.assign_splits``'s rules).
        seed: seed of the content-hash split draw.
        workers: threads decoding images.
        progress: show a progress bar.
        source: what the records came from, for the report.

    Returns:
        The data report (also written as ``data_report.json``).
    """
    from deepguard.data.splits import assign_splits

    limits = DecodeLimits(
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        min_side=min_side,
        allowed_formats=tuple(formats or SUPPORTED_FORMATS),
    )
    frame = _checked(_normalised(records, source), limits, workers, progress)
    bad = frame["reason"].notna()
    kept, duplicates, conflicts = _deduplicate(frame.loc[~bad])
    quarantine = pd.concat(
        [frame.loc[bad, ["path", "reason", "detail"]], conflicts], ignore_index=True
    )
    if kept.empty:
        raise DataError(
            f"none of the {len(frame)} files in {source or 'the records'} is a usable image; "
            f"reasons: {_counts(quarantine['reason'])}"
        )
    kept = assign_splits(kept, val_fraction, test_fraction, seed)
    manifest = kept.astype({"width": int, "height": int})[MANIFEST_COLUMNS].sort_values("path")
    report = build_report(manifest, quarantine, duplicates, len(frame), source)
    _write_outputs(Path(out_dir), manifest, quarantine, duplicates, report)
    return report


def _normalised(records: pd.DataFrame, source: str) -> pd.DataFrame:
    """A copy with absolute paths, integer labels, a generator and a split column."""
    missing = [c for c in ("path", "label") if c not in records.columns]
    if missing:
        raise DataError(f"records lack columns {missing}; got {list(records.columns)}")
    if records.empty:
        raise DataError(f"no images found in {source or 'the records'}; nothing to prepare")
    frame = records.copy()
    frame["path"] = [str(Path(p).absolute()) for p in frame["path"]]
    frame["label"] = frame["label"].astype(int)
    frame["generator"] = (
        frame["generator"].fillna("unknown").astype(str) if "generator" in frame else "unknown"
    )
    if "split" not in frame:
        frame["split"] = None
    return frame


def _write_outputs(
    out_dir: Path,
    manifest: pd.DataFrame,
    quarantine: pd.DataFrame,
    duplicates: pd.DataFrame,
    report: dict,
) -> None:
    """The stage's four files, paths relative to `out_dir` (the folder can move)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    relative = partial(_relative_to, base=out_dir.absolute())
    manifest.assign(path=manifest["path"].map(relative)).to_csv(
        out_dir / "manifest.csv", index=False
    )
    quarantine.assign(path=quarantine["path"].map(relative)).sort_values("path").to_csv(
        out_dir / "quarantine.csv", index=False
    )
    duplicates.assign(
        path=duplicates["path"].map(relative), duplicate_of=duplicates["duplicate_of"].map(relative)
    ).to_csv(out_dir / "duplicates.csv", index=False)
    (out_dir / "data_report.json").write_text(json.dumps(report, indent=2))
    for reason, count in report["quarantine_reasons"].items():
        log.warning(
            "quarantined %d file(s): %s (see %s)", count, reason, out_dir / "quarantine.csv"
        )
    log.info(
        "prepared %d images (%d quarantined, %d duplicates dropped) into %s",
        len(manifest),
        len(quarantine),
        len(duplicates),
        out_dir,
    )


def _relative_to(path: str, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def prepare_dataset(
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    layout: str = "auto",
    manifest: str | Path | None = None,
    **options,
) -> dict:
    """Find the images of ``input_dir`` (by layout, or from ``manifest``) and prepare them.

    Layouts and manifests are read by ``deepguard.data.discover`` / ``discover_manifest``;
    an unknown layout fails with the list of supported ones.

    Args:
        input_dir: the ingested data folder.
        out_dir: the prepared folder (see the module docstring for its files).
        layout: ``auto`` or a layout name (``manifest``, ``faces140k``, ``genimage``,
            ``cnndetection``, ``generic``).
        manifest: a CSV ``path,label[,generator,split]`` (paths relative to it) to use
            instead of the folder's layout.
        **options: passed to ``prepare_records`` (``min_side``, ``val_fraction`` ...).

    Returns:
        The data report.
    """
    from deepguard.data.layouts import discover, discover_manifest

    # The report names the source relative to out_dir, as the manifest's paths are, so the
    # same data prepared in another folder or on another machine gives the same report.
    base = Path(out_dir).absolute()
    if manifest:
        records, source = discover_manifest(manifest), _relative_to(str(manifest), base)
    else:
        records = discover(input_dir, layout)
        source = f"{_relative_to(str(input_dir), base)} (layout {layout})"
    return prepare_records(records, out_dir, source=source, **options)
