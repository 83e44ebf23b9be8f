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

import hashlib
import json
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from deepguard.errors import DataError
from deepguard.prepare.checks import check_image

log = logging.getLogger(__name__)

CLASS_NAMES = {0: "real", 1: "fake"}
SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val", "training": "train"}
MANIFEST_COLUMNS = ["path", "label", "generator", "split", "sha256", "width", "height", "format"]


def split_by_hash(sha256: str, val_fraction: float, test_fraction: float, seed: int = 0) -> str:
    """A split drawn from the content hash: the same image always lands in the same split."""
    draw = int(hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()[:12], 16) / 16**12
    if draw < test_fraction:
        return "test"
    return "val" if draw < test_fraction + val_fraction else "train"


def _check_all(paths: list[str], min_side: int, max_pixels: int, workers: int, progress: bool):
    check = partial(check_image, min_side=min_side, max_pixels=max_pixels)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(
            tqdm(
                pool.map(check, paths),
                total=len(paths),
                desc="check images",
                unit="img",
                disable=not progress,
            )
        )


def _deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Keep the first path of each content hash; copies with different labels are quarantined.

    Returns:
        kept rows, dropped duplicates (``path, duplicate_of, sha256``), label conflicts
        (``path, reason, detail``).
    """
    frame = frame.sort_values("path", kind="stable")
    labels_per_hash = frame.groupby("sha256")["label"].nunique()
    conflicting = frame["sha256"].isin(labels_per_hash.index[labels_per_hash > 1])
    conflicts = frame.loc[conflicting, ["path"]].assign(
        reason="duplicate-label-conflict",
        detail="the same bytes are labelled both real and fake elsewhere",
    )
    frame = frame.loc[~conflicting]
    first = frame.groupby("sha256")["path"].transform("first")
    copies = frame["path"] != first
    duplicates = pd.DataFrame(
        {
            "path": frame.loc[copies, "path"],
            "duplicate_of": first[copies],
            "sha256": frame.loc[copies, "sha256"],
        }
    )
    return frame.loc[~copies], duplicates, conflicts


def _assign_splits(frame, val_fraction, test_fraction, seed) -> pd.Series:
    """The layout's splits when every row has one, else splits drawn from content hashes."""
    split = frame["split"].astype("string").str.lower().replace(SPLIT_ALIASES)
    if split.isna().any() or (split == "").any():
        log.info("no complete split in the layout: assigning splits by content hash")
        return frame["sha256"].map(lambda h: split_by_hash(h, val_fraction, test_fraction, seed))
    unknown = sorted(set(split) - set(SPLITS))
    if unknown:
        raise DataError(f"unknown split names {unknown}; expected {list(SPLITS)} (or valid)")
    return split.astype(str)


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
        val_fraction, test_fraction: shares of the hash-drawn splits when the layout has none.
        seed: seed of the hash-drawn splits.
        workers: threads decoding images.
        progress: show a progress bar.
        source: what the records came from, for the report.

    Returns:
        The data report (also written as ``data_report.json``).
    """
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

    checks = _check_all(frame["path"].tolist(), min_side, max_pixels, workers, progress)
    for field in ("reason", "detail", "sha256", "width", "height", "format"):
        frame[field] = [getattr(c, field) for c in checks]
    bad = frame["reason"].notna()
    quarantine = frame.loc[bad, ["path", "reason", "detail"]]
    kept, duplicates, conflicts = _deduplicate(frame.loc[~bad])
    quarantine = pd.concat([quarantine, conflicts], ignore_index=True)
    if kept.empty:
        raise DataError(
            f"none of the {len(frame)} files in {source or 'the records'} is a usable image; "
            f"reasons: {_counts(quarantine['reason'])}"
        )
    kept = kept.assign(split=_assign_splits(kept, val_fraction, test_fraction, seed))
    kept = kept.astype({"width": int, "height": int})

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    relative = partial(_relative_to, base=out_dir.absolute())
    manifest = kept[MANIFEST_COLUMNS].sort_values("path")
    manifest.assign(path=manifest["path"].map(relative)).to_csv(
        out_dir / "manifest.csv", index=False
    )
    quarantine.assign(path=quarantine["path"].map(relative)).sort_values("path").to_csv(
        out_dir / "quarantine.csv", index=False
    )
    duplicates.assign(
        path=duplicates["path"].map(relative), duplicate_of=duplicates["duplicate_of"].map(relative)
    ).to_csv(out_dir / "duplicates.csv", index=False)
    report = build_report(manifest, quarantine, duplicates, len(frame), source)
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
    return report


def _relative_to(path: str, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def read_input_manifest(path: str | Path) -> pd.DataFrame:
    """A user's CSV manifest ``path,label[,generator,split]``; relative paths resolve against
    the CSV's folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest {path} not found; give prepare.manifest a CSV file or null")
    frame = pd.read_csv(path)
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise DataError(
            f"manifest {path} lacks columns {missing}; expected path,label[,generator,split], "
            f"got {','.join(frame.columns)}"
        )
    frame["path"] = [str((path.parent / p).absolute()) for p in frame["path"].astype(str)]
    words = frame["label"].astype(str).str.strip().str.lower()
    frame["label"] = words.map({"0": 0, "1": 1, "real": 0, "fake": 1})
    if frame["label"].isna().any():
        raise DataError(
            f"labels in {path} must be 0/real or 1/fake; got "
            f"{sorted(set(words[frame['label'].isna()]))[:5]}"
        )
    frame["label"] = frame["label"].astype(int)
    return frame


def prepare_dataset(
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    layout: str = "auto",
    manifest: str | Path | None = None,
    **options,
) -> dict:
    """Find the images of ``input_dir`` (by layout, or from ``manifest``) and prepare them.

    Args:
        input_dir: the ingested data folder.
        out_dir: the prepared folder (see the module docstring for its files).
        layout: a layout name known to ``deepguard.data.layouts.discover``, or ``"auto"``.
        manifest: a CSV ``path,label[,generator,split]`` to use instead of layout detection.
        **options: passed to ``prepare_records`` (``min_side``, ``val_fraction`` ...).

    Returns:
        The data report.
    """
    input_dir = Path(input_dir)
    if manifest:
        records = read_input_manifest(manifest)
        source = str(manifest)
    else:
        if not input_dir.is_dir():
            raise DataError(f"input folder {input_dir} not found; run the ingest stage first")
        try:
            from deepguard.data.layouts import discover
        except ImportError as error:
            raise DataError(
                "layout detection (deepguard.data.layouts) is not installed; pass "
                "prepare.manifest=<csv with path,label[,generator,split]> instead"
            ) from error
        records = discover(input_dir, layout)
        source = f"{input_dir} (layout {layout})"
    return prepare_records(records, out_dir, source=source, **options)
