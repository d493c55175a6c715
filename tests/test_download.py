"""cvlib.data.download: the real-data registry, checksums, the lock file and safe unpacking, all offline.

Each test builds small zip / tar.gz archives with the real layout names, registers them as a temporary
registry entry and fetches them with a downloader that copies local files, so no test touches the network.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import re
import shutil
import socket
import tarfile
import zipfile
from types import SimpleNamespace

import pytest

# ``cvlib.data.download`` is also the name of the function that cvlib.data exports, so fetch the module itself.
dl = importlib.import_module("cvlib.data.download")

REAL = {"voc2007", "mosmeddata", "ibug300w", "omniglot", "lfw", "otb100", "oxford_pets"}
URL = "https://data.example.org/toy/"
TRAINVAL = {
    "VOCdevkit/VOC2007/Annotations/000001.xml": b"<annotation><filename>000001.jpg</filename></annotation>",
    "VOCdevkit/VOC2007/Annotations/000002.xml": b"<annotation><filename>000002.jpg</filename></annotation>",
    "VOCdevkit/VOC2007/JPEGImages/000001.jpg": b"\xff\xd8 not really a jpeg \xff\xd9",
    "VOCdevkit/VOC2007/JPEGImages/000002.jpg": b"\xff\xd8 nor this one \xff\xd9",
}
TEST = {
    "VOCdevkit/VOC2007/ImageSets/Main/test.txt": b"000003\n",
    "VOCdevkit/VOC2007/JPEGImages/000003.jpg": b"\xff\xd8 a third \xff\xd9",
}


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _tgz(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CopyingDownloader:
    """Stands in for pooch's HTTP downloader: copies the local file registered for each URL."""

    def __init__(self, sources):
        self.sources = sources
        self.calls = []

    def __call__(self, url, output_file, pooch_instance, check_only=False):
        self.calls.append(url)
        shutil.copyfile(self.sources[url], output_file)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network must not be used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def toy(tmp_path, monkeypatch, no_network):
    """A three-file data set (zip, tar.gz, plain file) registered as "toy": its entry, files and downloader."""
    source = tmp_path / "source"
    source.mkdir()
    files = {
        "VOCtrainval.zip": _zip(source / "VOCtrainval.zip", TRAINVAL),
        "VOCtest.tar.gz": _tgz(source / "VOCtest.tar.gz", TEST),
        "pairs.txt": source / "pairs.txt",
    }
    files["pairs.txt"].write_text("10\t300\n")
    entry = {
        "title": "A toy PASCAL VOC",
        "homepage": "https://data.example.org/toy/",
        "license": "CC0",
        "citation": "Nobody, A toy data set, 2026",
        "archives": {
            name: {"url": URL + name, "size": path.stat().st_size, "checksum": f"sha256:{_sha256(path)}"}
            for name, path in files.items()
        },
        "expected": {
            "VOCdevkit/VOC2007/Annotations/*.xml": 2,
            "VOCdevkit/VOC2007/JPEGImages/*.jpg": 3,
            "VOCdevkit/VOC2007/ImageSets/Main/test.txt": 1,
            "pairs.txt": 1,
        },
        "layout": "VOCdevkit/VOC2007/{Annotations,JPEGImages,ImageSets/Main}\npairs.txt",
        "notes": "For tests only.",
    }
    monkeypatch.setitem(dl.DATASETS, "toy", entry)
    sources = {URL + name: path for name, path in files.items()}
    return SimpleNamespace(entry=entry, files=files, downloader=CopyingDownloader(sources))


def _leftovers(parent):
    return sorted(p.name for p in parent.glob(".toy.partial-*"))


# ----------------------------------------------------------------------------- fetching with known checksums


def test_good_archives_with_known_sha256_unpack_and_return(toy, tmp_path):
    files, downloader = toy.files, toy.downloader
    root = tmp_path / "data" / "toy"
    found = dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert found.root == root and os.fspath(found) == str(root) and found.verified
    assert len(downloader.calls) == 3
    assert (root / "VOCdevkit/VOC2007/JPEGImages/000003.jpg").read_bytes() == TEST[
        "VOCdevkit/VOC2007/JPEGImages/000003.jpg"
    ]
    assert (root / "pairs.txt").read_text() == "10\t300\n", "a plain file is copied as it is"
    assert sorted(p.name for p in (root / dl.ARCHIVE_DIR).iterdir()) == sorted(files)
    lock = json.loads((root / dl.LOCK_FILE).read_text())
    assert lock["dataset"] == "toy"
    assert {name: r["sha256"] for name, r in lock["archives"].items()} == {n: _sha256(p) for n, p in files.items()}
    assert not _leftovers(root.parent)

    again = dl.download("toy", root=root)  # present: no fetch, archives re-checked against the registry and lock
    assert again.verified and len(downloader.calls) == 3
    assert "VOCdevkit/VOC2007/Annotations: 2 of 2" in again.note and "3 of 3 archives checked" in again.note


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_wrong_checksum_names_the_file_and_both_digests_and_leaves_nothing(toy, tmp_path, algorithm):
    entry, files, downloader = toy.entry, toy.files, toy.downloader
    wrong = hashlib.new(algorithm, b"another file").hexdigest()
    entry["archives"]["VOCtest.tar.gz"]["checksum"] = f"{algorithm}:{wrong}"
    found = hashlib.new(algorithm, files["VOCtest.tar.gz"].read_bytes()).hexdigest()
    root = tmp_path / "toy"
    with pytest.raises(ValueError, match=r"VOCtest\.tar\.gz: checksum mismatch") as err:
        dl.download("toy", root=root, fetch=True, downloader=downloader)
    message = str(err.value)
    assert f"expected {algorithm}:{wrong}" in message and f"found {algorithm}:{found}" in message
    assert "deleted" in message
    assert not root.exists(), "nothing may be moved in when one archive of the set fails"
    assert not _leftovers(tmp_path), "the temporary folder must be removed"


def test_an_archive_placed_by_hand_is_used_offline_and_set_aside_when_wrong(toy, tmp_path):
    files, downloader = toy.files, toy.downloader
    root = tmp_path / "toy"
    kept = root / dl.ARCHIVE_DIR
    kept.mkdir(parents=True)
    for name, path in files.items():
        shutil.copy(path, kept / name)
    found = dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert found.verified and downloader.calls == [], "archives already in archives/ need no download"

    shutil.rmtree(root / "VOCdevkit")
    (kept / "pairs.txt").write_text("tampered\n")
    with pytest.raises(ValueError, match=r"pairs.txt: checksum mismatch.*kept aside as pairs.txt.rejected"):
        dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert (kept / "pairs.txt.rejected").read_text() == "tampered\n" and not (kept / "pairs.txt").exists()
    assert not (root / "VOCdevkit").exists() and not _leftovers(tmp_path)


# ----------------------------------------------------------------------------- the lock file


def test_unknown_checksum_is_locked_at_first_fetch_and_checked_afterwards(toy, tmp_path):
    entry, files, downloader = toy.entry, toy.files, toy.downloader
    for archive in entry["archives"].values():
        archive["checksum"] = None
    root = tmp_path / "toy"
    first = dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert not first.verified and dl.LOCK_FILE in first.note, "nothing published: trusted on first use, and said so"
    lock_path = root / dl.LOCK_FILE
    recorded = json.loads(lock_path.read_text())["archives"]["VOCtrainval.zip"]
    assert recorded["sha256"] == _sha256(files["VOCtrainval.zip"])
    assert recorded["size"] == files["VOCtrainval.zip"].stat().st_size

    assert dl.download("toy", root=root).verified, "later calls check the kept archives against the lock"

    kept = root / dl.ARCHIVE_DIR / "VOCtrainval.zip"
    with open(kept, "ab") as fh:
        fh.write(b"changed")
    with pytest.raises(ValueError, match=r"VOCtrainval\.zip: checksum mismatch") as err:
        dl.download("toy", root=root)
    message = str(err.value)
    assert f"expected sha256:{recorded['sha256']}" in message and f"found sha256:{_sha256(kept)}" in message
    assert str(lock_path) in message


def test_a_refetch_is_checked_against_the_lock(toy, tmp_path):
    entry, files, downloader = toy.entry, toy.files, toy.downloader
    for archive in entry["archives"].values():
        archive["checksum"] = None
    root = tmp_path / "toy"
    dl.download("toy", root=root, fetch=True, downloader=downloader)
    locked = _sha256(files["VOCtest.tar.gz"])
    shutil.rmtree(root / "VOCdevkit")
    (root / dl.ARCHIVE_DIR / "VOCtest.tar.gz").unlink()
    _tgz(files["VOCtest.tar.gz"], {**TEST, "VOCdevkit/VOC2007/extra.txt": b"the source changed"})
    with pytest.raises(ValueError, match=rf"VOCtest\.tar\.gz: checksum mismatch: expected sha256:{locked}"):
        dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert not (root / "VOCdevkit").exists() and not _leftovers(tmp_path)
    assert not (root / dl.ARCHIVE_DIR / "VOCtest.tar.gz").exists(), "the mismatching download is deleted"


def test_an_unreadable_lock_file_is_named(toy, tmp_path):
    downloader = toy.downloader
    root = tmp_path / "toy"
    dl.download("toy", root=root, fetch=True, downloader=downloader)
    (root / dl.LOCK_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(str(root / dl.LOCK_FILE))):
        dl.download("toy", root=root)


# ----------------------------------------------------------------------------- broken archives and layouts


@pytest.mark.parametrize("name", ["VOCtrainval.zip", "VOCtest.tar.gz"])
def test_a_truncated_archive_is_named(toy, tmp_path, name):
    entry, files, downloader = toy.entry, toy.files, toy.downloader
    data = files[name].read_bytes()
    files[name].write_bytes(data[: len(data) // 2])  # a download cut short
    entry["archives"][name]["checksum"] = None
    entry["archives"][name]["size"] = None
    root = tmp_path / "toy"
    with pytest.raises(ValueError, match=rf"{re.escape(name)}: cannot be unpacked .*deleted"):
        dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert not root.exists() and not _leftovers(tmp_path)


def test_a_short_download_of_known_size_is_named(toy, tmp_path):
    entry, downloader = toy.entry, toy.downloader
    entry["archives"]["pairs.txt"]["checksum"] = None
    entry["archives"]["pairs.txt"]["size"] += 100
    with pytest.raises(ValueError, match=r"pairs\.txt: size mismatch"):
        dl.download("toy", root=tmp_path / "toy", fetch=True, downloader=downloader)


def test_archives_with_the_wrong_layout_name_what_is_missing(toy, tmp_path):
    entry, files, downloader = toy.entry, toy.files, toy.downloader
    _zip(files["VOCtrainval.zip"], {"VOC2007/Annotations/000001.xml": b"<annotation/>"})  # no VOCdevkit/ level
    entry["archives"]["VOCtrainval.zip"].update(checksum=None, size=None)
    root = tmp_path / "toy"
    with pytest.raises(ValueError, match=r"nothing matches VOCdevkit/VOC2007/Annotations/\*\.xml"):
        dl.download("toy", root=root, fetch=True, downloader=downloader)
    assert not root.exists() and not _leftovers(tmp_path)


def test_an_incomplete_copy_on_disk_names_what_is_missing(toy, tmp_path):
    root = tmp_path / "toy"
    (root / "VOCdevkit/VOC2007/Annotations").mkdir(parents=True)
    (root / "VOCdevkit/VOC2007/Annotations/000001.xml").write_text("<annotation/>")
    with pytest.raises(FileNotFoundError, match=r"incomplete: nothing matches VOCdevkit/VOC2007/JPEGImages/\*\.jpg"):
        dl.download("toy", root=root)


# ----------------------------------------------------------------------------- messages and the registry


def test_missing_data_says_what_to_download_and_where(toy, tmp_path):
    entry, downloader = toy.entry, toy.downloader
    root = tmp_path / "toy"
    with pytest.raises(FileNotFoundError) as err:
        dl.download("toy", root=root)
    message = str(err.value)
    for name, archive in entry["archives"].items():
        assert archive["url"] in message and name in message and archive["checksum"] in message
        assert f"{archive['size']:,} bytes" in message
    for needle in (str(root), str(root / dl.ARCHIVE_DIR), "VOCdevkit/VOC2007/{Annotations,JPEGImages,ImageSets/Main}"):
        assert needle in message
    assert "fetch=True" in message and "internet" in message
    assert not root.exists(), "looking must not create the folder"
    assert downloader.calls == []


def test_unknown_name_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'") as err:
        dl.download("imagenet")
    assert all(name in str(err.value) for name in REAL)
    with pytest.raises(ValueError, match="known: "):
        dl.instructions("imagenet")


def test_cvlib_data_chooses_the_folder(toy, tmp_path, monkeypatch):
    downloader = toy.downloader
    monkeypatch.setenv("CVLIB_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "elsewhere" / "toy"))):
        dl.download("toy")
    found = dl.download("toy", fetch=True, downloader=downloader)
    assert found.root == tmp_path / "elsewhere" / "toy" and (found.root / "pairs.txt").is_file()


def test_the_registry_holds_every_data_set_the_lessons_use():
    assert set(dl.DATASETS) >= REAL


@pytest.mark.parametrize("name", sorted(REAL))
def test_registry_entries_are_well_formed(name, tmp_path):
    entry = dl.DATASETS[name]
    for field in ("title", "homepage", "license", "citation", "layout", "notes"):
        assert isinstance(entry[field], str) and entry[field].strip(), f"{name}: {field} must be filled in"
    assert entry["homepage"].startswith(("https://", "http://"))
    assert entry["archives"], f"{name}: no archive"
    for filename, archive in entry["archives"].items():
        assert archive["url"].startswith("https://"), f"{name}/{filename}: fetch over https"
        assert archive["url"].rsplit("/", 1)[-1] == filename, f"{name}/{filename}: the URL names another file"
        assert archive["size"] is None or (isinstance(archive["size"], int) and archive["size"] > 0)
        checksum = archive["checksum"]
        if checksum is not None:
            algorithm, _, digest = checksum.partition(":")
            assert algorithm in dl.HEX_DIGITS, f"{name}/{filename}: {checksum!r} is not sha256: or md5:"
            assert re.fullmatch(f"[0-9a-f]{{{dl.HEX_DIGITS[algorithm]}}}", digest), f"{name}/{filename}: {checksum!r}"
    assert entry["expected"]
    for pattern, count in entry["expected"].items():
        assert isinstance(pattern, str) and not pattern.startswith("/") and ".." not in pattern
        assert count is None or (isinstance(count, int) and count > 0)
    text = dl.instructions(name, root=tmp_path / name)
    assert str(tmp_path / name) in text and all(archive["url"] in text for archive in entry["archives"].values())


def test_otb100_lists_all_98_sequence_archives():
    archives = dl.DATASETS["otb100"]["archives"]
    assert len(archives) == len(set(dl.OTB100_SEQUENCES)) == 98
    assert {"Jogging.zip", "Skating2.zip", "Basketball.zip", "Vase.zip"} <= set(archives)


def test_existing_data_is_found_without_network(no_network, tmp_path):
    root = tmp_path / "omniglot"
    for split, alphabet in (("images_background", "Latin"), ("images_evaluation", "Tengwar")):
        glyph = root / split / alphabet / "character01" / "0001_01.png"
        glyph.parent.mkdir(parents=True)
        glyph.write_bytes(b"png")
        glyph.with_name("._0001_01.png").write_bytes(b"macOS metadata")  # not a drawing: not counted
    found = dl.download("omniglot", root=root)
    assert found.root == root and not found.verified
    assert "images_background: 1 of 19280" in found.note and "not re-checksummed" in found.note


def test_dataset_root_is_none_for_synthetic_and_lists_the_known_names_otherwise(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLIB_DATA", str(tmp_path))
    dataset_root = dl.dataset_root
    assert dataset_root("synthetic", ("voc2007",)) is None
    with pytest.raises(ValueError, match=r"'pets'.*known: 'synthetic', 'voc2007'"):
        dataset_root("pets", ("voc2007",))
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        dataset_root("synthetic", ("imagenet",))
    with pytest.raises(FileNotFoundError, match=r"VOCtrainval_06-Nov-2007\.tar"):
        dataset_root("voc2007", ("voc2007",))
    (tmp_path / "voc2007").mkdir()
    for pattern in dl.DATASETS["voc2007"]["expected"]:
        path = tmp_path / "voc2007" / pattern.replace("*", "x")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    assert dataset_root("voc2007", ("voc2007",)) == tmp_path / "voc2007"
