"""Find the images of a dataset on disk and label them, whatever folder layout it uses.

Every layout ends in the same record table: one row per image file with the columns
``path`` (absolute), ``label`` (1 = fake, 0 = real), ``generator``, ``split`` (``train``,
``val``, ``test`` or ``None`` where the layout has no split) and ``sha256`` (of the file's
bytes, ``None`` when the file cannot be read; the corruption scan then quarantines it).

Example:
    >>> records = discover("data/real_vs_fake")          # doctest: +SKIP
    >>> records.groupby(["split", "label"]).size()       # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from deepguard.data.labels import LABEL_WORDS, parse_label
from deepguard.errors import DataError
from deepguard.files import file_sha256
from deepguard.images import IMAGE_SUFFIXES, has_image_suffix

RECORD_COLUMNS = ["path", "label", "generator", "split", "sha256"]
UNKNOWN_GENERATOR = "unknown"
MANIFEST_NAME = "manifest.csv"

# Folder names of each layout, compared in lower case.
_CLASS_FOLDERS = {"real": 0, "fake": 1}
_SPLIT_FOLDERS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_GENIMAGE_CLASSES = {"nature": 0, "ai": 1}
_CNNDETECTION_CLASSES = {"0_real": 0, "1_fake": 1}
_FACES140K_PREFIXES = ("real_vs_fake/real-vs-fake", "real-vs-fake", "")
_SPLIT_WORDS = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}

# What each layout looks like, for `auto`'s error message and the docs.
LAYOUTS = {
    "manifest": "a manifest.csv with columns path,label[,generator,split] (paths relative to it)",
    "faces140k": "[real_vs_fake/real-vs-fake/]{train,valid,test}/{real,fake}/*",
    "genimage": "<Generator>/[<subset>/]{train,val}/{ai,nature}/*",
    "cnndetection": "[<group>/]{0_real,1_fake}/*",
    "generic": "{real,fake}/**/*",
}


def _sha256_or_none(path: str) -> str | None:
    """The file's sha256, or None when it cannot be read (the scan then quarantines it)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _hash_all(paths: list[str]) -> list[str | None]:
    # hashlib releases the GIL on large buffers, so threads overlap disk reads and hashing.
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
        return list(pool.map(_sha256_or_none, paths, chunksize=64))


def _children(folder: Path) -> dict[str, Path]:
    """Sub-folders of `folder` by lower-case name."""
    if not folder.is_dir():
        return {}
    return {child.name.lower(): child for child in folder.iterdir() if child.is_dir()}


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and has_image_suffix(p))


def _rows(
    files: Iterable[Path], label: int, generator: str, split: str | None
) -> list[dict[str, object]]:
    return [
        {"path": str(p.resolve()), "label": label, "generator": generator, "split": split}
        for p in files
    ]


def _generic(root: Path) -> list[dict[str, object]]:
    rows = []
    for name, folder in _children(root).items():
        if name in _CLASS_FOLDERS:
            rows += _rows(_images_under(folder), _CLASS_FOLDERS[name], UNKNOWN_GENERATOR, None)
    return rows


def _faces140k_base(root: Path) -> Path | None:
    for prefix in _FACES140K_PREFIXES:
        base = root / prefix if prefix else root
        splits = _children(base)
        if any(
            set(_children(splits[s])) & set(_CLASS_FOLDERS) for s in splits if s in _SPLIT_FOLDERS
        ):
            return base
    return None


def _faces140k(root: Path) -> list[dict[str, object]]:
    base = _faces140k_base(root)
    rows: list[dict[str, object]] = []
    if base is None:
        return rows
    for split_name, split_folder in _children(base).items():
        if split_name not in _SPLIT_FOLDERS:
            continue
        for class_name, class_folder in _children(split_folder).items():
            if class_name in _CLASS_FOLDERS:
                rows += _rows(
                    _images_under(class_folder),
                    _CLASS_FOLDERS[class_name],
                    UNKNOWN_GENERATOR,
                    _SPLIT_FOLDERS[split_name],
                )
    return rows


def _genimage_split_folders(generator_folder: Path) -> list[tuple[str, Path]]:
    """The `train`/`val` folders of one generator, directly below it or one subset deeper."""
    found = []
    for level in [generator_folder, *_children(generator_folder).values()]:
        for name, folder in _children(level).items():
            if name in ("train", "val") and set(_children(folder)) & set(_GENIMAGE_CLASSES):
                found.append((name, folder))
    return found


def _genimage(root: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for generator_folder in sorted(_children(root).values()):
        for split_name, split_folder in _genimage_split_folders(generator_folder):
            # GenImage's `val` is its published test set: it becomes our `test`, and our `val`
            # is carved from its `train` by content hash (see assign_splits).
            split = "train" if split_name == "train" else "test"
            for class_name, class_folder in _children(split_folder).items():
                if class_name in _GENIMAGE_CLASSES:
                    rows += _rows(
                        _images_under(class_folder),
                        _GENIMAGE_CLASSES[class_name],
                        generator_folder.name,
                        split,
                    )
    return rows


def _cnndetection_folders(root: Path, max_depth: int | None) -> list[Path]:
    """The `0_real`/`1_fake` folders under `root`, at most `max_depth` levels down."""
    found, level, depth = [], [root], 0
    while level and (max_depth is None or depth < max_depth):
        below = [child for folder in level for child in _children(folder).values()]
        found += [p for p in below if p.name.lower() in _CNNDETECTION_CLASSES]
        level = [p for p in below if p.name.lower() not in _CNNDETECTION_CLASSES]
        depth += 1
    return sorted(found)


def _cnndetection(root: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for folder in _cnndetection_folders(root, max_depth=None):
        parts = folder.parent.relative_to(root).parts
        # The first folder names the generator in the test sets (progan/, stylegan/ ...) and
        # the object class in the ProGAN training set (airplane/ ...): a source group either way.
        generator = parts[0] if parts else UNKNOWN_GENERATOR
        rows += _rows(
            _images_under(folder), _CNNDETECTION_CLASSES[folder.name.lower()], generator, None
        )
    return rows


def _parse_label(value: object, csv_path: Path, line: int) -> int:
    label = parse_label(value)
    if label is None:
        raise DataError(
            f"{csv_path} line {line}: label {value!r} is not one of "
            f"{', '.join(LABEL_WORDS)}; fix the label column (1 or 'fake' = AI-generated, "
            "0 or 'real' = real)"
        )
    return label


def _parse_split(value: object, csv_path: Path, line: int) -> str | None:
    if value is None or pd.isna(value) or str(value).strip() == "":
        return None
    word = str(value).strip().lower()
    if word not in _SPLIT_WORDS:
        raise DataError(
            f"{csv_path} line {line}: split {value!r} is not one of train, val, test "
            "(or empty for a split by content hash); fix the split column"
        )
    return _SPLIT_WORDS[word]


def read_manifest(csv_path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a CSV manifest ``path,label[,generator,split,...]``: the one reader.

    Paths are relative to the CSV's folder (absolute paths are kept) and come back absolute;
    labels become 0/1, a missing or empty generator ``unknown``, a missing or empty split
    None. Other columns (``sha256``, ``width``, ``height`` ... of a prepared manifest) are
    kept as text. A listed file that is missing stays in the table and is quarantined by
    the scan, so one lost file does not stop a run.

    Raises:
        DataError: no such file, no ``path``/``label`` column, or a bad label or split
            (with its line number).
    """
    csv_path = Path(csv_path).resolve()
    if not csv_path.is_file():
        raise DataError(
            f"manifest {csv_path} does not exist; pass the path of a CSV file, or run the "
            "prepare stage first (python scripts/prepare.py), which writes one"
        )
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise DataError(
            f"manifest {csv_path} has columns {list(table.columns)}; it needs at least "
            f"'path' and 'label' (missing: {sorted(missing)}); optional: 'generator', 'split'"
        )
    lines = range(2, len(table) + 2)  # 1-based, after the header
    generators = table["generator"] if "generator" in table else pd.Series([""] * len(table))
    splits = table["split"] if "split" in table else [None] * len(table)
    return table.assign(
        path=[str((csv_path.parent / p.strip()).resolve()) for p in table["path"]],
        label=[_parse_label(v, csv_path, n) for v, n in zip(table["label"], lines, strict=True)],
        generator=[str(g).strip() or UNKNOWN_GENERATOR for g in generators],
        split=[_parse_split(v, csv_path, n) for v, n in zip(splits, lines, strict=True)],
    )


def _manifest(root: Path) -> list[dict[str, object]]:
    return read_manifest(root / MANIFEST_NAME)[RECORD_COLUMNS[:-1]].to_dict("records")


def _to_records(rows: list[dict[str, object]]) -> pd.DataFrame:
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS[:-1])
    records = records.sort_values("path", kind="stable").reset_index(drop=True)
    records["sha256"] = _hash_all(records["path"].tolist())
    records["label"] = records["label"].astype(int)
    return records


def discover_manifest(csv_path: str | os.PathLike) -> pd.DataFrame:
    """The record table of a CSV manifest anywhere on disk (see `read_manifest`)."""
    rows = read_manifest(csv_path)[RECORD_COLUMNS[:-1]].to_dict("records")
    if not rows:
        raise DataError(f"manifest {csv_path} lists no files; add rows path,label")
    return _to_records(rows)


_FINDERS: dict[str, Callable[[Path], list[dict[str, object]]]] = {
    "manifest": _manifest,
    "faces140k": _faces140k,
    "genimage": _genimage,
    "cnndetection": _cnndetection,
    "generic": _generic,
}


def _unknown_layout_message(root: Path) -> str:
    seen = sorted(child.name + ("/" if child.is_dir() else "") for child in root.iterdir())
    shown = ", ".join(seen[:12]) + (" ..." if len(seen) > 12 else "")
    choices = "\n".join(f"  {name}: {shape}" for name, shape in LAYOUTS.items())
    return (
        f"cannot tell the layout of {root} (it holds: {shown or 'nothing'}); "
        f"supported layouts:\n{choices}\n"
        "Arrange the folder like one of them, write a manifest.csv, or pass layout=<name>."
    )


def detect_layout(root: str | os.PathLike) -> str:
    """The name of the layout `root` follows; raises DataError listing them when none fits."""
    root = Path(root)
    if (root / MANIFEST_NAME).is_file():
        return "manifest"
    if _faces140k_base(root) is not None:
        return "faces140k"
    if any(_genimage_split_folders(folder) for folder in _children(root).values()):
        return "genimage"
    if set(_children(root)) & set(_CLASS_FOLDERS):
        return "generic"
    if _cnndetection_folders(root, max_depth=3):
        return "cnndetection"
    raise DataError(_unknown_layout_message(root))


def discover(root: str | os.PathLike, layout: str = "auto") -> pd.DataFrame:
    """List and label every image file under `root`.

    Args:
        root: the dataset folder.
        layout: one of ``auto``, ``manifest``, ``faces140k``, ``genimage``, ``cnndetection``,
            ``generic``. ``auto`` uses ``root/manifest.csv`` when present, else detects.

    Returns:
        A record table (see the module docstring), sorted by path.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"data root {root} is not a folder; set data.root to a dataset folder")
    if layout == "auto":
        layout = detect_layout(root)
    if layout not in _FINDERS:
        raise DataError(f"unknown layout {layout!r}; available: auto, {', '.join(LAYOUTS)}")
    rows = _FINDERS[layout](root)
    if not rows:
        raise DataError(
            f"no image files ({', '.join(IMAGE_SUFFIXES)}) found in {root} with layout "
            f"{layout!r}, which looks like {LAYOUTS[layout]}; check data.root and data.layout"
        )
    return _to_records(rows)
