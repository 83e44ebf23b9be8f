"""Bring a dataset into the data folder: verified, safely extracted, atomic and idempotent.

Sources: ``synthetic`` (the offline default), a local folder, a local archive, an http(s) URL.
The new data is assembled in a scratch folder beside the destination and renamed into place
only when complete, so a failed or interrupted ingest leaves the previous data as it was.
A stamp beside the destination (``data/raw.ingest.json`` for ``data/raw``) records the source,
its sha256 (or fingerprint), the file count, the absolute destination and the time;
re-running with the same source does nothing. The stamp stays outside the destination so that
the destination holds the dataset's files alone: the same source gives the same bytes in any
folder, on any machine, at any time, and DVC sees the same output hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from deepguard.errors import DataError
from deepguard.files import file_sha256, swap_into_place
from deepguard.ingest.archives import (
    archive_kind,
    copy_tree,
    safe_extract,
    sha256_mismatch,
    verify_sha256,
)
from deepguard.ingest.download import download

log = logging.getLogger(__name__)

# Suffix of the provenance stamp written beside the destination: data/raw -> data/raw.ingest.json.
STAMP_SUFFIX = ".ingest.json"
# Sources that need an account and the network; DeepGuard's ingest stays offline-safe.
ONLINE_ONLY = {
    "kaggle": "kaggle datasets download -d {ref} && unzip {name}.zip -d <folder>",
    "hf": "huggingface-cli download --repo-type dataset {ref} --local-dir <folder>",
}


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did.

    Attributes:
        dest: the data folder.
        kind: ``synthetic``, ``folder``, ``archive`` or ``url``.
        source: the source as given.
        sha256: the archive's sha256 (archive and url), else a fingerprint of the source.
        files: number of files in ``dest``.
        skipped: True when ``dest`` already held this source and nothing was done.
    """

    dest: Path
    kind: str
    source: str
    sha256: str
    files: int
    skipped: bool


def _online_only_error(source: str) -> DataError:
    scheme, _, ref = source.partition(":")
    ref = ref.lstrip("/")
    fetch = ONLINE_ONLY[scheme].format(ref=ref, name=ref.rsplit("/", 1)[-1])
    return DataError(
        f"source {source!r} needs network access and an account, which the offline ingest "
        f"does not use. Fetch it manually: `{fetch}`, then ingest the folder with "
        "`python scripts/ingest.py ingest.source=<folder>` (or an archive with "
        "`ingest.source=<file> ingest.sha256=<its sha256sum>`)."
    )


def _source_kind(source: str) -> str:
    """Classify ``source``: synthetic, url, folder or archive; refuse online-only names."""
    scheme = source.split(":", 1)[0].lower() if ":" in source else ""
    if source == "synthetic":
        return "synthetic"
    if scheme in ONLINE_ONLY:
        raise _online_only_error(source)
    if scheme in ("http", "https"):
        return "url"
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder"
    if path.is_file():
        archive_kind(path)  # refuse anything that is not a tar or zip, whatever its name
        return "archive"
    raise DataError(
        f"source {source!r} not found. Expected 'synthetic', a folder, an archive (.tar, "
        ".tar.gz, .tgz, .zip), an http(s) URL; online-only sources "
        f"({', '.join(s + ':' for s in ONLINE_ONLY)}) must be fetched by hand first"
    )


def _folder_fingerprint(folder: Path) -> str:
    """sha256 of the sorted listing (relative path, size, modification time) of a folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        info = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def stamp_path(dest: str | Path) -> Path:
    """Where the provenance stamp of the data folder ``dest`` lives: beside it, not inside.

    Example:
        >>> stamp_path("data/raw").as_posix()
        'data/raw.ingest.json'
    """
    dest = Path(dest)
    return dest.with_name(dest.name + STAMP_SUFFIX)


def _count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def _read_stamp(dest: Path) -> dict | None:
    try:
        return json.loads(stamp_path(dest).read_text())
    except (OSError, ValueError):
        return None


def _write_stamp(result: IngestResult) -> None:
    """Record what now fills ``result.dest`` (and where and when), replacing the file whole."""
    stamp = {**asdict(result), "dest": str(result.dest), "ingested_at": _now()}
    stamp.pop("skipped")
    path = stamp_path(result.dest)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(json.dumps(stamp, indent=2) + "\n")
    scratch.replace(path)


def _is_up_to_date(dest: Path, kind: str, source: str, fingerprint: str) -> int | None:
    """The file count when ``dest`` already holds exactly this source, else None."""
    stamp = _read_stamp(dest)
    if not stamp or (stamp.get("kind"), stamp.get("source"), stamp.get("sha256")) != (
        kind,
        source,
        fingerprint,
    ):
        return None
    files = _count_files(dest)
    return files if files == stamp.get("files") else None


def _clear_leftovers(dest: Path) -> None:
    """Remove scratch folders of interrupted runs; put back a swapped-out previous version."""
    for leftover in dest.parent.glob(f".{dest.name}.staging-*"):
        log.warning("removing %s left by an interrupted ingest", leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    for old in dest.parent.glob(f".{dest.name}.old-*"):
        if not dest.exists():
            log.warning("restoring %s from %s (an ingest stopped mid-swap)", dest, old)
            old.rename(dest)
        else:
            shutil.rmtree(old, ignore_errors=True)


def _flatten_single_folder(folder: Path) -> None:
    """While ``folder`` holds exactly one sub-folder and nothing else, lift its content up.

    For archives that wrap a ``{real,fake}/`` tree in a folder of their own. Off by default:
    a single top folder can carry meaning (a GenImage archive's ``<Generator>/``).
    """
    while True:
        entries = list(folder.iterdir())
        if len(entries) != 1 or not entries[0].is_dir():
            return
        inner = folder.parent / f"{folder.name}.lift"
        entries[0].rename(inner)
        folder.rmdir()
        inner.rename(folder)


def _fingerprint(kind: str, source: str, sha256: str | None, synthetic: dict | None) -> str:
    """What identifies the source's content: the archive's sha256 (verified now for a local
    archive), else a hash of the folder listing or of the generator's parameters."""
    expected = sha256.strip().lower() if sha256 else None
    if kind == "synthetic":
        from deepguard.data.synthetic import FORMAT_VERSION

        # The generator's format version too: a new generator makes new images of old params.
        described = {"format_version": FORMAT_VERSION, **(synthetic or {})}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    if kind == "folder":
        return _folder_fingerprint(Path(source).expanduser())
    if kind == "url":
        if not expected:
            raise DataError(
                f"downloading {source} needs its expected sha256 (ingest.sha256=...) so the "
                "file can be verified before extraction; get it from the publisher or "
                "`sha256sum` it"
            )
        return expected
    if expected:
        return verify_sha256(source, expected)
    actual = file_sha256(source)
    log.warning(
        "no sha256 given for %s: its content was not verified (sha256 %s); pass "
        "ingest.sha256 to pin it",
        source,
        actual,
    )
    return actual


def _fill(
    kind: str,
    source: str,
    content: Path,
    scratch: Path,
    *,
    sha256: str,
    synthetic: dict | None,
    hardlink: bool,
    limits: dict,
    progress: bool,
) -> None:
    """Put the source's files into ``content`` (downloads go to ``scratch``).

    ``sha256`` is the expected hash of a download (the fingerprint for other kinds).
    """
    if kind == "synthetic":
        # Imported here: the generator's NumPy/SciPy stack is only needed for this source.
        from deepguard.data.synthetic import generate_synthetic

        # null values fall back to the generator's own defaults (families: null = all).
        generate_synthetic(content, **{k: v for k, v in (synthetic or {}).items() if v is not None})
        return
    if kind == "folder":
        copy_tree(Path(source).expanduser(), content, hardlink=hardlink, progress=progress)
        return
    archive = Path(source).expanduser()
    if kind == "url":
        archive = scratch / "download"
        actual = download(
            source,
            archive,
            max_bytes=limits["max_download_bytes"],
            timeout_s=limits["timeout_s"],
            progress=progress,
        )
        if actual != sha256:
            raise sha256_mismatch(source, sha256, actual)
    safe_extract(
        archive,
        content,
        max_members=limits["max_members"],
        max_total_bytes=limits["max_total_bytes"],
        progress=progress,
    )
    if limits["flatten"]:
        _flatten_single_folder(content)


def ingest(
    source: str = "synthetic",
    dest: str | Path = "data/raw",
    *,
    sha256: str | None = None,
    synthetic: dict | None = None,
    hardlink: bool = False,
    flatten: bool = False,
    max_members: int = 2_000_000,
    max_total_bytes: int = 64 * 2**30,
    max_download_bytes: int = 64 * 2**30,
    timeout_s: float = 60.0,
    force: bool = False,
    progress: bool = True,
) -> IngestResult:
    """Fill ``dest`` with the dataset named by ``source``.

    Args:
        source: ``"synthetic"``, a folder, an archive (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz,
            .zip) or an ``http(s)://`` URL of one. ``kaggle:<owner>/<name>`` and ``hf:<repo>``
            fail with the commands to fetch them by hand.
        dest: the data folder to create or replace.
        sha256: expected sha256 of the archive; required for URLs, checked before extraction.
        synthetic: keyword arguments of ``deepguard.data.synthetic.generate_synthetic``
            (``n_per_class``, ``image_size``, ``seed``, ``families``).
        hardlink: link a folder's files instead of copying them (falls back to copying).
        flatten: lift an archive's content out of single wrapping folders
            (``dataset/real/...`` -> ``real/...``).
        max_members: cap on the archive's member count.
        max_total_bytes: cap on the archive's uncompressed size, bytes.
        max_download_bytes: cap on a download, bytes.
        timeout_s: network timeout, seconds.
        force: ingest again even when ``dest`` already holds this source.
        progress: show progress bars.

    Returns:
        An ``IngestResult``; ``skipped`` is True when nothing had to be done.

    Example:
        >>> ingest("data.tar.gz", "data/raw", sha256="9f86d0...")  # doctest: +SKIP
    """
    source = str(source)
    dest = Path(dest).expanduser().absolute()
    kind = _source_kind(source)
    _refuse_overlap(kind, source, dest)
    fingerprint = _fingerprint(kind, source, sha256, synthetic)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(dest)
    files = None if force else _is_up_to_date(dest, kind, source, fingerprint)
    if files is not None:
        log.info("%s already holds %s (%d files); nothing to do", dest, source, files)
        return IngestResult(dest, kind, source, fingerprint, files, skipped=True)
    limits: dict[str, Any] = dict(max_members=max_members, max_total_bytes=max_total_bytes)
    limits |= dict(max_download_bytes=max_download_bytes, timeout_s=timeout_s, flatten=flatten)
    fill = partial(_fill, kind, source, sha256=fingerprint, synthetic=synthetic, limits=limits)
    fill = partial(fill, hardlink=hardlink, progress=progress)
    files = _replace(dest, fill, source)
    result = IngestResult(dest, kind, source, fingerprint, files, skipped=False)
    _write_stamp(result)
    log.info("ingested %d files from %s into %s", result.files, source, dest)
    return result


def _refuse_overlap(kind: str, source: str, dest: Path) -> None:
    """A folder or archive inside the destination (or the other way round) would be lost."""
    if kind not in ("folder", "archive"):
        return
    resolved, target = Path(source).expanduser().resolve(), dest.resolve()
    if resolved == target or target in resolved.parents or resolved in target.parents:
        raise DataError(
            f"source {resolved} and destination {target} overlap (one contains the "
            "other); ingest from a folder outside the data folder"
        )


def _replace(dest: Path, fill: Callable[[Path, Path], None], source: str) -> int:
    """Build the new content with ``fill(content, scratch)`` beside ``dest``, swap it in.

    Returns:
        The number of files now in ``dest``.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    try:
        content = scratch / "content"
        content.mkdir()
        fill(content, scratch)
        files = _count_files(content)
        if files == 0:
            raise DataError(f"source {source} holds no files; nothing to ingest")
        # No stamp while the swap is under way: a run killed in between ingests again,
        # rather than trusting a stamp that describes the previous content.
        stamp_path(dest).unlink(missing_ok=True)
        swap_into_place(content, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return files


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
