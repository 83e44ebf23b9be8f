"""Face detection: time per image, cache hit time, and how often a face is found.

    python bench/bench_faces.py [--data ../shared/data] [--timed 30] [--limit N]

- Detection time: MTCNN (`deepguard.faces.detect_all_faces`) on ``--timed`` faces-hard-dev
  images at their native 300 px, resized to 256 px, and shrunk for detection only to
  ``max_side`` 160 px, after one warm-up call; then the crop
  of the primary face (`face_region`, aligned, margin 0.25) on its own.
- Cache: `detect_files` over the same files into an empty cache folder (misses), then again
  (hits): the second pass reads one JSON file per image and runs no detector.
- Faces found: the fraction of images with at least one face passing ``conf/faces/crop.yaml``
  (confidence >= 0.9, shorter box side >= 40 px), per folder and label, and per generator
  for generators-dev. A real/fake gap here is a shortcut in itself: with
  ``on_missing: skip`` it changes the class balance, with ``whole`` it mixes crops and frames.

Prints the figures, the CPU cores this process may use and the load average (detection time
scales with both). Skips folders that are absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
FOLDERS = ("faces-hard-dev", "faces-t2i-dev", "generators-dev")


def settings():
    """The settings of conf/faces/crop.yaml (without its cache folder)."""
    import yaml

    from deepguard.faces import FaceSettings

    values = yaml.safe_load((REPO_ROOT / "conf" / "faces" / "crop.yaml").read_text())
    values.pop("defaults", None)
    values["cache_dir"] = None
    return FaceSettings.from_config(values)


def manifest(folder: Path):
    import pandas as pd

    table = pd.read_csv(folder / "manifest.csv")
    table["path"] = [str(folder / path) for path in table["path"]]
    return table


def per_image_seconds(function, images: list[np.ndarray]) -> np.ndarray:
    """Wall seconds of `function(image)` for each image."""
    seconds = []
    for image in images:
        start = time.perf_counter()
        function(image)
        seconds.append(time.perf_counter() - start)
    return np.asarray(seconds)


def print_times(name: str, seconds: np.ndarray) -> None:
    print(
        f"{name:<40} {np.median(seconds) * 1000:>9.1f} {seconds.mean() * 1000:>9.1f} "
        f"{1 / seconds.mean():>9.1f}"
    )


def timing(folder: Path, count: int) -> None:
    from PIL import Image

    from deepguard.faces import detect_all_faces, detect_faces, face_region
    from deepguard.images import read_image

    face_settings = settings()
    paths = manifest(folder).sample(count, random_state=0)["path"].tolist()
    native = [read_image(path) for path in paths]
    resized = [np.asarray(Image.fromarray(rgb).resize((256, 256))) for rgb in native]
    start = time.perf_counter()
    detect_all_faces(native[0], face_settings)
    started = time.perf_counter() - start
    print(f"detector start (TensorFlow import, weights, first call): {started:.1f} s")
    title = f"per image, {count} faces-hard-dev images"
    print(f"\n{title:<40} {'median ms':>9} {'mean ms':>9} {'images/s':>9}")
    print_times(
        "detect, 300 px",
        per_image_seconds(lambda rgb: detect_all_faces(rgb, face_settings), native),
    )
    print_times(
        "detect, 256 px",
        per_image_seconds(lambda rgb: detect_all_faces(rgb, face_settings), resized),
    )
    shrunk = dataclasses.replace(face_settings, max_side=160)
    print_times(
        "detect, 300 px shrunk to max_side 160",
        per_image_seconds(lambda rgb: detect_all_faces(rgb, shrunk), native),
    )
    found = [(rgb, detect_faces(rgb, face_settings)) for rgb in native]
    crop_seconds = []
    for rgb, faces in found:
        start = time.perf_counter()
        face_region(rgb, face_settings, faces)
        crop_seconds.append(time.perf_counter() - start)
    print_times("aligned crop of the face, 300 px", np.asarray(crop_seconds))
    cache_timing(paths, face_settings)


def cache_timing(paths: list[str], face_settings) -> None:
    from deepguard.faces import detect_files

    with tempfile.TemporaryDirectory() as cache:
        for name in ("cache miss (read, hash, detect, write)", "cache hit (read, hash, JSON)"):
            start = time.perf_counter()
            found = detect_files(paths, face_settings, cache_dir=cache, progress=False)
            seconds = (time.perf_counter() - start) / len(paths)
            rate = 1 / seconds
            print(f"{name:<40} {seconds * 1000:>9.2f} {'':>9} {rate:>9.1f}   ({found.hits} hits)")


def faces_found(data: Path, limit: int | None) -> None:
    from deepguard.faces import detect_files

    face_settings = settings()
    print(f"\n{'folder':<16} {'group':<34} {'images':>6} {'with face':>9} {'2+ faces':>8}")
    for name in FOLDERS:
        if not (data / name / "manifest.csv").is_file():
            print(f"{name:<16} skipped: no manifest.csv")
            continue
        table = manifest(data / name)
        if limit:
            table = table.sample(min(limit, len(table)), random_state=0)
        found = detect_files(table["path"], face_settings, progress=False)
        table["faces"] = [len(found.faces.get(path, [])) for path in table["path"]]
        groups = [("all", table), *table.groupby("label")]
        if name == "generators-dev":
            groups += [
                (f"{g} {label}", rows) for (g, label), rows in table.groupby(["generator", "label"])
            ]
        for group, rows in groups:
            print(
                f"{name:<16} {group:<34} {len(rows):>6} {(rows.faces > 0).mean():>9.1%} "
                f"{(rows.faces > 1).mean():>8.1%}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the datasets")
    parser.add_argument("--timed", type=int, default=30, help="images timed per size")
    parser.add_argument(
        "--limit", type=int, default=None, help="images per folder for the face rate (default: all)"
    )
    args = parser.parse_args()
    if not (args.data / "faces-hard-dev" / "manifest.csv").is_file():
        print(
            f"skipped: no {args.data / 'faces-hard-dev'} (the real-image folder is not available)"
        )
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} CPU cores; load average {os.getloadavg()[0]:.1f} at start")
    timing(args.data / "faces-hard-dev", args.timed)
    faces_found(args.data, args.limit)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
