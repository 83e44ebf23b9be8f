import io
import tarfile
import zipfile

import pytest

from deepguard.errors import DataError
from deepguard.ingest import safe_extract
from tests.ingest.conftest import DATASET, add_bytes, make_tar, make_zip


def test_good_tar_and_zip_extract(tmp_path):
    for archive in (make_tar(tmp_path / "a.tgz", DATASET), make_zip(tmp_path / "a.zip", DATASET)):
        out = tmp_path / f"out-{archive.name}"
        out.mkdir()
        assert safe_extract(archive, out, progress=False) == 3
        assert (out / "dataset/fake/c.txt").read_bytes() == b"fake c"


@pytest.mark.parametrize("name", ["../evil.txt", "dataset/../../evil.txt", "/tmp/evil.txt"])
def test_tar_members_leaving_the_folder_are_refused(tmp_path, name):
    archive = make_tar(tmp_path / "bad.tar", {"ok.txt": b"ok", name: b"x"}, mode="w")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="unsafe member"):
        safe_extract(archive, out, progress=False)
    assert list(out.iterdir()) == []  # checked before the first byte is written
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("link_type", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_links_are_refused(tmp_path, link_type):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        add_bytes(tar, "ok.txt", b"ok")
        link = tarfile.TarInfo("passwd")
        link.type = link_type
        link.linkname = "/etc/passwd" if link_type == tarfile.SYMTYPE else "ok.txt"
        tar.addfile(link)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="link"):
        safe_extract(archive, out, progress=False)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/abs.txt", "C:/win.txt", "..\\evil.txt"]
)
def test_zip_members_leaving_the_folder_are_refused(tmp_path, name):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        zf.writestr(zipfile.ZipInfo(name), b"x")  # ZipInfo keeps the name as written
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="unsafe member"):
        safe_extract(archive, out, progress=False)
    assert list(out.iterdir()) == []


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("passwd")
        info.external_attr = 0o120777 << 16  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="symlink"):
        safe_extract(archive, out, progress=False)


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_member_count_and_size_caps(tmp_path, maker):
    archive = maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"), DATASET)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="3 members, over the cap of 2"):
        safe_extract(archive, out, max_members=2, progress=False)
    with pytest.raises(DataError, match="over the cap of 10"):
        safe_extract(archive, out, max_total_bytes=10, progress=False)
    assert list(out.iterdir()) == []
    assert safe_extract(archive, out, max_members=3, max_total_bytes=18, progress=False) == 3


def test_not_an_archive_is_refused(tmp_path):
    fake = tmp_path / "data.tar.gz"
    fake.write_bytes(b"this is text, not a tarball")
    with pytest.raises(DataError, match="neither a tar nor a zip"):
        safe_extract(fake, tmp_path, progress=False)


def test_zip_with_understated_sizes_is_refused(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"big.bin": b"\0" * 5000})
    # Forge the central directory so the header claims 10 bytes for 5000.
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.infolist()[0]
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    assert info.file_size == 5000
    with pytest.raises(DataError):
        safe_extract(archive, out, max_total_bytes=1000, progress=False)
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 1000
