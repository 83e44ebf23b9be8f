"""Checksums and safe extraction of tar and zip archives.

The floor every archive meets before a byte of it lands on disk: its sha256 matches the one
expected; tar members are regular files or folders only (no symlinks, hard links or devices)
and are extracted with the standard library's ``data`` filter; no member name is absolute,
carries a drive letter or climbs out with ``..``; the member count and the total uncompressed
size stay under caps (the zip byte count is enforced while writing, not trusted from headers).
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from deepguard.errors import DataError
from deepguard.files import file_sha256

CHUNK = 1 << 20  # 1 MiB reads
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
ZIP_SUFFIXES = (".zip",)


def sha256_mismatch(name: str, expected: str, actual: str) -> DataError:
    """The error for a file whose sha256 is not the one expected."""
    return DataError(
        f"sha256 mismatch for {name}: expected {expected}, actual {actual}. The file is "
        "corrupt, incomplete or not the one intended; nothing was extracted and the data "
        "folder is unchanged. Fetch it again, or correct ingest.sha256 if the source changed "
        "on purpose."
    )


def verify_sha256(path: str | Path, expected: str) -> str:
    """Raise ``DataError`` (expected vs actual) unless ``path`` hashes to ``expected``."""
    actual = file_sha256(path)
    expected = expected.strip().lower()
    if actual != expected:
        raise sha256_mismatch(Path(path).name, expected, actual)
    return actual


def archive_kind(path: str | Path) -> str:
    """``"zip"`` or ``"tar"``, decided from the bytes (the name may lie)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise DataError(
        f"{path.name} is neither a tar nor a zip archive; supported: "
        f"{', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)}"
    )


def _check_name(name: str, archive: str) -> None:
    """Refuse absolute names, drive letters and ``..`` components."""
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if (
        normalised.startswith("/")
        or (len(normalised) > 1 and normalised[1] == ":")
        or ".." in parts
    ):
        raise DataError(
            f"unsafe member {name!r} in {archive}: absolute paths, drive letters and '..' are "
            "refused because they would write outside the data folder; nothing was extracted"
        )


def _check_caps(members: int, total_bytes: int, max_members: int, max_bytes: int, archive: str):
    if members > max_members:
        raise DataError(
            f"{archive} has {members} members, over the cap of {max_members}; raise "
            "ingest.max_members if the archive is trusted"
        )
    if total_bytes > max_bytes:
        raise DataError(
            f"{archive} unpacks to {total_bytes} bytes, over the cap of {max_bytes}; raise "
            "ingest.max_total_bytes if the archive is trusted"
        )


def _extract_tar(archive: Path, dest: Path, max_members: int, max_bytes: int, progress: bool):
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            _check_name(member.name, archive.name)
            if not (member.isfile() or member.isdir()):
                kind = "link" if member.issym() or member.islnk() else "special file"
                raise DataError(
                    f"{archive.name} holds a {kind} {member.name!r}; links and special files "
                    "are refused (they can point outside the data folder); nothing was extracted"
                )
        files = [m for m in members if m.isfile()]
        _check_caps(len(members), sum(m.size for m in files), max_members, max_bytes, archive.name)
        for member in tqdm(
            members, desc=f"extract {archive.name}", unit="file", disable=not progress
        ):
            tar.extract(member, dest, filter="data")
    return len(files)


def _extract_zip(archive: Path, dest: Path, max_members: int, max_bytes: int, progress: bool):
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_name(info.filename, archive.name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(
                    f"{archive.name} holds a symlink {info.filename!r}; links are refused; "
                    "nothing was extracted"
                )
        files = [i for i in infos if not i.is_dir()]
        _check_caps(
            len(infos), sum(i.file_size for i in files), max_members, max_bytes, archive.name
        )
        written = 0
        for info in tqdm(infos, desc=f"extract {archive.name}", unit="file", disable=not progress):
            target = dest / info.filename.replace("\\", "/")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as sink:
                # Count real bytes: a forged header may understate the size (zip bomb).
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise DataError(
                            f"{archive.name} unpacks to more than the cap of {max_bytes} bytes "
                            "(its headers understate the size); raise ingest.max_total_bytes "
                            "only if the archive is trusted"
                        )
                    sink.write(chunk)
    return len(files)


def safe_extract(
    archive: str | Path,
    dest: str | Path,
    *,
    max_members: int = 2_000_000,
    max_total_bytes: int = 64 * 2**30,
    progress: bool = True,
) -> int:
    """Extract a tar or zip archive into the existing folder ``dest`` after checking it.

    Every member is checked before the first is written. Run it on a scratch folder (the
    ingest does) so that a refusal half-way leaves the real data untouched.

    Args:
        archive: ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz`` or ``.zip``.
        dest: folder to extract into.
        max_members: cap on the number of members (files and folders).
        max_total_bytes: cap on the total uncompressed size, bytes.
        progress: show a progress bar.

    Returns:
        The number of files extracted.
    """
    archive, dest = Path(archive), Path(dest)
    extract = _extract_zip if archive_kind(archive) == "zip" else _extract_tar
    try:
        return extract(archive, dest, max_members, max_total_bytes, progress)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{archive.name} is damaged and cannot be extracted: {error}") from error


def copy_tree(source: Path, dest: Path, *, hardlink: bool = True, progress: bool = True) -> int:
    """Copy (or hard-link, falling back to copying) the regular files of ``source`` into ``dest``.

    Symbolic links are refused: they could point anywhere on the machine.
    """
    files = sorted(p for p in source.rglob("*") if not p.is_dir() or p.is_symlink())
    links = [p for p in files if p.is_symlink()]
    if links:
        raise DataError(
            f"{source} holds symbolic links ({links[0]} and {len(links) - 1} more); copy the "
            "real files in, or remove the links"
        )
    for path in tqdm(files, desc=f"copy {source.name}", unit="file", disable=not progress):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if hardlink:
            try:
                target.hardlink_to(path)
                continue
            except OSError:  # another file system, or links not allowed: copy instead
                pass
        shutil.copy2(path, target)
    return len(files)
