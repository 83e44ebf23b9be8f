import functools
import http.server
import json
import shutil
import sys
import tarfile
import threading
import types

import pytest

from deepguard.errors import DataError
from deepguard.ingest import ingest, stamp_path
from tests.ingest.conftest import DATASET, leftovers, make_tar, sha256, snapshot


@pytest.fixture
def previous(tmp_path):
    """A data folder that already holds an earlier ingest."""
    first = make_tar(tmp_path / "first.tar.gz", {"old/real/x.txt": b"old data"})
    result = ingest(str(first), tmp_path / "data" / "raw", sha256=sha256(first), progress=False)
    assert result.files == 1
    return result.dest


def test_archive_is_verified_extracted_flattened_and_stamped(tmp_path, good_tar):
    result = ingest(str(good_tar), tmp_path / "raw", sha256=sha256(good_tar), progress=False)
    assert not result.skipped and result.kind == "archive" and result.files == 3
    assert (tmp_path / "raw" / "dataset" / "real" / "a.txt").read_bytes() == b"real a"
    stamp = json.loads(stamp_path(tmp_path / "raw").read_text())
    assert stamp["sha256"] == sha256(good_tar) and stamp["files"] == 3
    assert stamp["dest"] == str(tmp_path / "raw") and stamp["ingested_at"]
    # The provenance sits beside the data folder: inside it are the archive's files alone.
    assert sorted(snapshot(tmp_path / "raw")) == sorted(DATASET)
    # flatten lifts the single wrapping folder "dataset/" so the layout sits at the root.
    ingest(str(good_tar), tmp_path / "flat", flatten=True, progress=False)
    assert (tmp_path / "flat" / "real" / "a.txt").read_bytes() == b"real a"


def test_sha256_mismatch_fails_with_both_hashes_and_changes_nothing(tmp_path, previous, good_tar):
    before = snapshot(previous)
    wrong = "0" * 64
    with pytest.raises(DataError) as error:
        ingest(str(good_tar), previous, sha256=wrong, progress=False)
    message = str(error.value)
    assert f"expected {wrong}" in message and f"actual {sha256(good_tar)}" in message
    assert snapshot(previous) == before
    assert leftovers(previous.parent) == []


def test_hostile_archive_leaves_previous_data_intact(tmp_path, previous):
    hostile = make_tar(tmp_path / "hostile.tar", {"ok.txt": b"ok", "../../evil": b"x"}, "w")
    before = snapshot(previous)
    with pytest.raises(DataError, match="unsafe member"):
        ingest(str(hostile), previous, sha256=sha256(hostile), progress=False)
    assert snapshot(previous) == before and leftovers(previous.parent) == []


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_midway_keeps_previous_data_and_leaves_no_scratch(
    tmp_path, previous, good_tar, monkeypatch, failure
):
    before = snapshot(previous)
    calls = []
    real_extract = tarfile.TarFile.extract

    def extract_then_fail(self, member, *args, **kwargs):
        calls.append(member.name)
        if len(calls) == 3:  # two members are already on disk in the scratch folder
            raise failure
        return real_extract(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", extract_then_fail)
    with pytest.raises(type(failure)):
        ingest(str(good_tar), previous, sha256=sha256(good_tar), progress=False)
    assert len(calls) == 3
    assert snapshot(previous) == before
    assert leftovers(previous.parent) == []


def test_interrupted_swap_is_repaired_on_the_next_run(tmp_path, previous, good_tar):
    # A run killed between the two renames: the old version sits aside, dest is missing.
    aside = previous.parent / f".{previous.name}.old-abc123"
    previous.rename(aside)
    (previous.parent / f".{previous.name}.staging-dead").mkdir()
    result = ingest(str(good_tar), previous, sha256=sha256(good_tar), progress=False)
    assert result.files == 3 and leftovers(previous.parent) == []


def test_same_source_twice_does_nothing(tmp_path, good_tar):
    dest = tmp_path / "raw"
    first = ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False)
    stamp_time = stamp_path(dest).stat().st_mtime_ns
    again = ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False)
    assert again.skipped and again.files == first.files
    assert stamp_path(dest).stat().st_mtime_ns == stamp_time
    # A file removed from the data folder makes the stamp stale: the ingest runs again.
    (dest / "dataset" / "real" / "a.txt").unlink()
    assert not ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False).skipped
    assert (dest / "dataset" / "real" / "a.txt").exists()
    assert not ingest(str(good_tar), dest, force=True, progress=False).skipped


def test_removed_data_folder_is_ingested_again_despite_its_stamp(tmp_path, good_tar):
    # What `dvc repro` does before it reruns the stage: the output goes, the stamp stays.
    dest = tmp_path / "raw"
    ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False)
    shutil.rmtree(dest)
    assert not ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False).skipped
    assert sorted(snapshot(dest)) == sorted(DATASET)


def test_killed_between_swap_and_stamp_ingests_again(tmp_path, good_tar, monkeypatch):
    dest = tmp_path / "raw"
    first = make_tar(tmp_path / "first.tar.gz", {"dataset/real/a.txt": b"first"})
    ingest(str(first), dest, sha256=sha256(first), progress=False)

    def killed(result):
        raise KeyboardInterrupt

    # The module, not the function of the same name the package exports.
    monkeypatch.setattr(sys.modules["deepguard.ingest.ingest"], "_write_stamp", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(str(good_tar), dest, sha256=sha256(good_tar), progress=False)
    monkeypatch.undo()
    # The stamp of the first archive is gone with it, so asking for it again cannot be
    # answered "already there" while the folder holds the second archive's files.
    assert not stamp_path(dest).exists()
    assert not ingest(str(first), dest, sha256=sha256(first), progress=False).skipped
    assert snapshot(dest) == {"dataset/real/a.txt": b"first"}


def test_same_synthetic_set_is_byte_identical_in_any_folder(tmp_path, monkeypatch):
    params = {"n_per_class": 4, "image_size": 16, "seed": 3}
    monkeypatch.chdir(tmp_path)
    ingest("synthetic", "one/data/raw", synthetic=params, progress=False)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # another machine's clock
    ingest("synthetic", tmp_path / "elsewhere" / "deeper" / "raw", synthetic=params, progress=False)
    assert snapshot(tmp_path / "one/data/raw") == snapshot(tmp_path / "elsewhere/deeper/raw")


def test_folder_is_copied_and_reingested_only_when_it_changes(tmp_path):
    source = tmp_path / "photos"
    (source / "real").mkdir(parents=True)
    (source / "real" / "1.jpg").write_bytes(b"jpeg bytes")
    dest = tmp_path / "raw"
    assert ingest(str(source), dest, progress=False).files == 1
    assert ingest(str(source), dest, progress=False).skipped
    (source / "real" / "2.jpg").write_bytes(b"more")
    result = ingest(str(source), dest, hardlink=True, progress=False)
    assert result.files == 2 and not result.skipped
    assert (dest / "real" / "2.jpg").stat().st_ino == (source / "real" / "2.jpg").stat().st_ino
    assert (source / "real" / "1.jpg").exists()  # the source is never moved


@pytest.mark.parametrize("dest", ["photos/raw", "photos", "."])
def test_overlapping_source_and_destination_are_refused(tmp_path, dest):
    (tmp_path / "photos" / "real").mkdir(parents=True)
    (tmp_path / "photos" / "real" / "1.jpg").write_bytes(b"jpeg bytes")
    with pytest.raises(DataError, match="overlap"):
        ingest(str(tmp_path / "photos"), tmp_path / dest, progress=False)
    assert snapshot(tmp_path / "photos") == {"real/1.jpg": b"jpeg bytes"}


def test_folder_with_symlink_is_refused(tmp_path):
    source = tmp_path / "photos"
    source.mkdir()
    (source / "link.jpg").symlink_to("/etc/hostname")
    with pytest.raises(DataError, match="symbolic links"):
        ingest(str(source), tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize(
    ("source", "command"),
    [
        ("kaggle:xhlulu/140k-real-and-fake-faces", "kaggle datasets download -d xhlulu/"),
        ("hf:some-org/some-faces", "huggingface-cli download --repo-type dataset some-org/"),
    ],
)
def test_online_only_sources_explain_how_to_fetch_by_hand(tmp_path, source, command):
    with pytest.raises(DataError) as error:
        ingest(source, tmp_path / "raw", progress=False)
    message = str(error.value)
    assert "network access" in message and command in message
    assert "ingest.source=<folder>" in message
    assert not (tmp_path / "raw").exists()


def test_unknown_source_lists_the_kinds(tmp_path):
    with pytest.raises(DataError, match="Expected 'synthetic', a folder, an archive"):
        ingest(str(tmp_path / "missing"), tmp_path / "raw", progress=False)


def test_synthetic_source_passes_its_parameters_to_the_generator(tmp_path, monkeypatch):
    calls = []

    def generate_synthetic(root, n_per_class, image_size, seed, families=("all",)):
        calls.append((n_per_class, image_size, seed, families))
        for label in ("real", "fake"):
            (root / label).mkdir(parents=True)
            for i in range(n_per_class):
                (root / label / f"{i}.png").write_bytes(b"png")

    # Stands in for deepguard.data.synthetic so this test does not depend on it.
    module = types.ModuleType("deepguard.data.synthetic")
    module.generate_synthetic = generate_synthetic
    module.FORMAT_VERSION = 1
    monkeypatch.setitem(sys.modules, "deepguard.data.synthetic", module)
    params = {"n_per_class": 2, "image_size": 32, "seed": 0, "families": ["gan_upsample"]}
    dest = tmp_path / "raw"
    assert ingest("synthetic", dest, synthetic=params, progress=False).files == 4
    assert ingest("synthetic", dest, synthetic=params, progress=False).skipped
    assert not ingest("synthetic", dest, synthetic={**params, "seed": 1}, progress=False).skipped
    # null means "the generator's default", not None passed through.
    ingest("synthetic", dest, synthetic={**params, "families": None}, progress=False)
    # A new generator version makes new images from the same parameters: ingest again.
    module.FORMAT_VERSION = 2
    assert not ingest(
        "synthetic", dest, synthetic={**params, "families": None}, progress=False
    ).skipped
    assert calls == [
        (2, 32, 0, ["gan_upsample"]),
        (2, 32, 1, ["gan_upsample"]),
        (2, 32, 0, ("all",)),
        (2, 32, 0, ("all",)),
    ]


@pytest.fixture
def http_server(tmp_path):
    """A static file server on 127.0.0.1 (free port) in a thread, serving ``tmp_path/www``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_download_is_verified_then_extracted(tmp_path, http_server):
    root, base = http_server
    archive = make_tar(root / "faces.tar.gz", DATASET)
    dest = tmp_path / "raw"
    result = ingest(f"{base}/faces.tar.gz", dest, sha256=sha256(archive), progress=False)
    assert result.kind == "url" and result.files == 3
    assert (dest / "dataset" / "fake" / "c.txt").read_bytes() == b"fake c"
    assert ingest(f"{base}/faces.tar.gz", dest, sha256=sha256(archive), progress=False).skipped
    assert leftovers(tmp_path) == []


def test_http_failures_change_nothing(tmp_path, http_server, previous):
    root, base = http_server
    archive = make_tar(root / "faces.tar.gz", DATASET)
    before = snapshot(previous)
    with pytest.raises(DataError, match=f"expected {'1' * 64}, actual {sha256(archive)}"):
        ingest(f"{base}/faces.tar.gz", previous, sha256="1" * 64, progress=False)
    with pytest.raises(DataError, match="HTTP 404"):
        ingest(f"{base}/missing.tar.gz", previous, sha256="1" * 64, progress=False)
    with pytest.raises(DataError, match="over the cap of 100"):
        ingest(
            f"{base}/faces.tar.gz",
            previous,
            sha256=sha256(archive),
            max_download_bytes=100,
            progress=False,
        )
    with pytest.raises(DataError, match="needs its expected sha256"):
        ingest(f"{base}/faces.tar.gz", previous, progress=False)
    assert snapshot(previous) == before and leftovers(previous.parent) == []
