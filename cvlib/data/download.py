"""Real data sets a lesson can switch to: where to get them, where they go, and how they are checked.

``download(name)`` looks in the data set's folder (``cvlib.config.data_dir() / name``, moved by
``CVLIB_DATA``) and returns it, without any network access, when the expected files are there.
When they are missing it raises ``FileNotFoundError`` saying what to download (URLs, file names,
sizes, checksums), where to put it and the layout it must have once unpacked. The course runs
offline, so fetching is never implicit: ``download(name, fetch=True)`` fetches the archives with
pooch, checks them and unpacks them.

Checksums. Every archive is checked before anything is unpacked: against the checksum its
publisher (or a well-known loader) states, recorded below as ``"sha256:<hex>"`` or ``"md5:<hex>"``;
where none is known, against the SHA-256 that the first successful download wrote to
``<root>/checksums.lock.json``. The lock file holds the SHA-256 of every archive of the set, so each
later call (``download(name)`` with the archives still in ``<root>/archives/``, or a new fetch) is
checked against the bytes first seen. A mismatch is an error naming the file and both digests.

Nothing half-unpacked is left behind: archives are fetched and unpacked in a temporary folder
beside ``<root>`` and moved in only when every archive of the set is checked and unpacked. On any
failure that folder is removed with what was fetched into it; an archive that was already in
``<root>/archives/`` and fails is kept aside as ``<file>.rejected``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ARCHIVE_DIR", "DATASETS", "LOCK_FILE", "SYNTHETIC", "ChecksumError", "Download", "dataset_root", "download",
    "instructions",
]  # fmt: skip

LOCK_FILE = "checksums.lock.json"  # in the data set's folder
ARCHIVE_DIR = "archives"  # archives are kept here after unpacking, so later calls can re-check them
SYNTHETIC = "synthetic"  # a notebook's DATASET for its own generated data, the default
HEX_DIGITS = {"sha256": 64, "md5": 32}  # the checksum algorithms the registry may use, and their lengths

# The 98 archives of OTB-100 (100 targets: Jogging and Skating2 hold two each), as the benchmark page listed them.
OTB100_SEQUENCES = (
    "Basketball", "Biker", "Bird1", "BlurBody", "BlurCar2", "BlurFace", "BlurOwl", "Bolt", "Box", "Car1", "Car4",
    "CarDark", "CarScale", "ClifBar", "Couple", "Crowds", "David", "Deer", "Diving", "DragonBaby", "Dudek", "Football",
    "Freeman4", "Girl", "Human3", "Human4", "Human6", "Human9", "Ironman", "Jump", "Jumping", "Liquor", "Matrix",
    "MotorRolling", "Panda", "RedTeam", "Shaking", "Singer2", "Skating1", "Skating2", "Skiing", "Soccer", "Surfer",
    "Sylvester", "Tiger2", "Trellis", "Walking", "Walking2", "Woman", "Bird2", "BlurCar1", "BlurCar3", "BlurCar4",
    "Board", "Bolt2", "Boy", "Car2", "Car24", "Coke", "Coupon", "Crossing", "Dancer", "Dancer2", "David2", "David3",
    "Dog", "Dog1", "Doll", "FaceOcc1", "FaceOcc2", "Fish", "FleetFace", "Football1", "Freeman1", "Freeman3", "Girl2",
    "Gym", "Human2", "Human5", "Human7", "Human8", "Jogging", "KiteSurf", "Lemming", "Man", "Mhyang", "MountainBike",
    "Rubik", "Singer1", "Skater", "Skater2", "Subway", "Suv", "Tiger1", "Toy", "Trans", "Twinnings", "Vase",
)  # fmt: skip
# The benchmark's own server (cvlab.hanyang.ac.kr) no longer answers; the Internet Archive keeps its copies.
_OTB_SEQ = "https://web.archive.org/web/http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/"
_IBUG = "ibug_300W_large_face_landmark_dataset"

# Each entry: title, homepage, license, citation; "archives" maps a file name to its source URL, its size in
# bytes and its checksum (None where neither the publisher nor a well-known loader states one); "expected"
# maps a glob pattern (relative to the data set's folder) to the number of matches in a complete copy (None
# where that number is not published); "layout" describes the unpacked tree; "notes" says what else to know.
DATASETS: dict[str, dict] = {
    "voc2007": {
        "title": "PASCAL Visual Object Classes Challenge 2007 (VOC2007), trainval and test with annotations",
        "homepage": "https://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
        "license": (
            "images from flickr, under the flickr terms of use; annotations by the VOC organisers, for research "
            "(see the home page)"
        ),
        "citation": (
            "Everingham, Van Gool, Williams, Winn and Zisserman, The PASCAL Visual Object Classes (VOC) Challenge, "
            "IJCV 88(2):303-338, 2010"
        ),
        "archives": {
            # SHA-256: torchvision's prototype VOC loader (official host) and tensorflow-datasets' checksums
            # (same digests and these sizes for the mirror copy of the same file). torchvision's VOCDetection
            # states MD5 c52e279531787c972589f7e41ab4ae64 and b6e924de25625d8de591ea690078ad9f for them.
            "VOCtrainval_06-Nov-2007.tar": {
                "url": "https://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
                "size": 460_032_000,
                "checksum": "sha256:7d8cd951101b0957ddfd7a530bdc8a94f06121cfc1e511bb5937e973020c7508",
            },
            "VOCtest_06-Nov-2007.tar": {
                "url": "https://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar",
                "size": 451_020_800,
                "checksum": "sha256:6836888e2e01dca84577a849d339fa4f73e1e4f135d312430c4856b5609b4892",
            },
        },
        "expected": {
            "VOCdevkit/VOC2007/Annotations/*.xml": 9963,
            "VOCdevkit/VOC2007/JPEGImages/*.jpg": 9963,
            "VOCdevkit/VOC2007/ImageSets/Main/trainval.txt": 1,
            "VOCdevkit/VOC2007/ImageSets/Main/test.txt": 1,
            "VOCdevkit/VOC2007/ImageSets/Segmentation/*.txt": None,
            "VOCdevkit/VOC2007/SegmentationClass/*.png": None,
            "VOCdevkit/VOC2007/SegmentationObject/*.png": None,
        },
        "layout": (
            "VOCdevkit/VOC2007/Annotations/<id>.xml          (9,963: 5,011 trainval + 4,952 test)\n"
            "VOCdevkit/VOC2007/JPEGImages/<id>.jpg\n"
            "VOCdevkit/VOC2007/ImageSets/Main/{train,val,trainval,test}.txt and <class>_<split>.txt\n"
            "VOCdevkit/VOC2007/ImageSets/Segmentation/{train,val,trainval,test}.txt\n"
            "VOCdevkit/VOC2007/SegmentationClass/<id>.png and SegmentationObject/<id>.png (the segmentation subset)"
        ),
        "notes": (
            "Both archives unpack into the same VOCdevkit/VOC2007 tree. Boxes are VOC XML "
            "(cvlib.data.formats.read_voc_xml reads them); the 11-point AP of cvlib.metrics.detection is VOC2007's."
        ),
    },
    "mosmeddata": {
        "title": "MosMedData: chest CT scans with COVID-19 related findings (keras-io subset: CT-0 and CT-23)",
        "homepage": "https://mosmed.ai/datasets/covid19_1110/",
        "license": "CC BY-NC-ND 3.0 (research and education)",
        "citation": (
            "Morozov et al., MosMedData: Chest CT Scans With COVID-19 Related Findings Dataset, arXiv:2005.06465, 2020"
        ),
        "archives": {
            # The subset the keras-io example "3D image classification from CT scans" uses, 100 scans per class.
            # No checksum is published; sizes are the Content-Length the example's download log shows.
            "CT-0.zip": {
                "url": "https://github.com/hasibzunair/3D-image-classification-tutorial/releases/download/v0.2/CT-0.zip",
                "size": 1_065_471_431,
                "checksum": None,
            },
            "CT-23.zip": {
                "url": "https://github.com/hasibzunair/3D-image-classification-tutorial/releases/download/v0.2/CT-23.zip",
                "size": 1_045_162_547,
                "checksum": None,
            },
        },
        "expected": {"CT-0/*.nii*": 100, "CT-23/*.nii*": 100},
        "layout": (
            "CT-0/study_XXXX.nii.gz   (100 scans, normal lung tissue)\n"
            "CT-23/study_XXXX.nii.gz  (100 scans, ground glass and consolidation in 25-75% of the lung)"
        ),
        "notes": (
            "The full data set (COVID19_1110) holds 1,110 studies in studies/CT-0 (254, normal), CT-1 (684, <25% of "
            "lung involved), CT-2 (125, 25-50%), CT-3 (45, 50-75%) and CT-4 (2, >75%), plus 50 lesion masks in "
            "masks/. keras-io uses CT-0 as 'normal' and the union CT-2 + CT-3 (its CT-23 folder) as 'abnormal'. "
            "cvlib.data.ct.load_dataset(root) reads either layout (classes=MOSMED_FOLDERS for the full one)."
        ),
    },
    "ibug300w": {
        "title": "iBUG 300-W faces with 68-point landmarks (dlib's ibug_300W_large_face_landmark_dataset)",
        "homepage": "https://ibug.doc.ic.ac.uk/resources/300-W/",
        "license": "annotations for research only, commercial use prohibited (300-W terms); images from the web",
        "citation": (
            "Sagonas, Antonakos, Tzimiropoulos, Zafeiriou and Pantic, 300 Faces In-The-Wild Challenge: database and "
            "results, Image and Vision Computing 47:3-18, 2016"
        ),
        "archives": {
            # dlib packs the four re-annotated 300-W parts (AFW, HELEN, iBUG, LFPW) with their .pts files and adds
            # train/test XML lists. Neither dlib nor iBUG publishes a size or checksum: the lock file records it.
            f"{_IBUG}.tar.gz": {
                "url": f"https://dlib.net/files/data/{_IBUG}.tar.gz",
                "size": None,
                "checksum": None,
            },
        },
        "expected": {
            # the 300-W parts' published image counts (3,148 training + 689 test faces)
            f"{_IBUG}/afw/*.pts": 337,
            f"{_IBUG}/helen/trainset/*.pts": 2000,
            f"{_IBUG}/helen/testset/*.pts": 330,
            f"{_IBUG}/ibug/*.pts": 135,
            f"{_IBUG}/lfpw/trainset/*.pts": 811,
            f"{_IBUG}/lfpw/testset/*.pts": 224,
            f"{_IBUG}/labels_ibug_300W_train.xml": 1,
            f"{_IBUG}/labels_ibug_300W_test.xml": 1,
        },
        "layout": (
            f"{_IBUG}/afw/<image>.jpg with <image>.pts beside it  (68 points, 1-based pixels)\n"
            f"{_IBUG}/helen/{{trainset,testset}}/<image>.jpg + .pts\n"
            f"{_IBUG}/ibug/<image>.jpg + .pts\n"
            f"{_IBUG}/lfpw/{{trainset,testset}}/<image>.png + .pts\n"
            f"{_IBUG}/labels_ibug_300W_train.xml and labels_ibug_300W_test.xml (dlib's lists with face boxes)"
        ),
        "notes": (
            "The usual split: train = AFW + HELEN trainset + LFPW trainset (3,148), test 'common' = HELEN testset + "
            "LFPW testset (554) and 'challenging' = iBUG (135). The .pts coordinates follow MATLAB's 1-based "
            "convention (the top-left pixel is (1, 1)). The same parts are also on the home page as afw.zip, "
            "helen.zip, ibug.zip and lfpw.zip (behind a licence form)."
        ),
    },
    "omniglot": {
        "title": "Omniglot: 1,623 handwritten characters from 50 alphabets, 20 drawers each (background + evaluation)",
        "homepage": "https://github.com/brendenlake/omniglot",
        "license": "MIT (the repository's LICENSE)",
        "citation": (
            "Lake, Salakhutdinov and Tenenbaum, Human-level concept learning through probabilistic program "
            "induction, Science 350(6266):1332-1338, 2015"
        ),
        "archives": {
            # SHA-256 and sizes: tensorflow-datasets' checksums. torchvision's Omniglot states MD5
            # 68d2efa1b9178cc56df9314c21c6e718 for images_background.zip.
            "images_background.zip": {
                "url": "https://github.com/brendenlake/omniglot/raw/master/python/images_background.zip",
                "size": 9_464_212,
                "checksum": "sha256:ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
            },
            "images_evaluation.zip": {
                "url": "https://github.com/brendenlake/omniglot/raw/master/python/images_evaluation.zip",
                "size": 6_462_886,
                "checksum": "sha256:1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
            },
        },
        "expected": {
            "images_background/*/character*/*.png": 19280,  # 30 alphabets, 964 characters x 20 drawings
            "images_evaluation/*/character*/*.png": 13180,  # 20 alphabets, 659 characters x 20 drawings
        },
        "layout": (
            "images_background/<alphabet>/characterNN/<id>_<drawer>.png  (30 alphabets, 964 characters)\n"
            "images_evaluation/<alphabet>/characterNN/<id>_<drawer>.png  (20 alphabets, 659 characters)"
        ),
        "notes": (
            "105 x 105 binary images. Background alphabets are for training; one-shot tests draw from the "
            "evaluation alphabets, whose characters are never seen in training."
        ),
    },
    "lfw": {
        "title": "Labeled Faces in the Wild (LFW), original images, with the verification pairs (pairs.txt)",
        "homepage": "https://vis-www.cs.umass.edu/lfw/",
        "license": "no licence stated; news photographs of public figures, distributed for research",
        "citation": (
            "Huang, Ramesh, Berg and Learned-Miller, Labeled Faces in the Wild: A Database for Studying Face "
            "Recognition in Unconstrained Environments, University of Massachusetts Amherst, Technical Report "
            "07-49, 2007"
        ),
        "archives": {
            # SHA-256 and size: tensorflow-datasets' checksums and scikit-learn's LFW loader (whose figshare copy
            # https://ndownloader.figshare.com/files/5976018 has the same digest).
            "lfw.tgz": {
                "url": "https://vis-www.cs.umass.edu/lfw/lfw.tgz",
                "size": 180_566_744,
                "checksum": "sha256:055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0",
            },
            # MD5: torchvision's LFW loader. scikit-learn states SHA-256
            # ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592 for its figshare copy
            # (https://ndownloader.figshare.com/files/5976006).
            "pairs.txt": {
                "url": "https://vis-www.cs.umass.edu/lfw/pairs.txt",
                "size": None,
                "checksum": "md5:9f1ba174e4e1c508ff7cdf10ac338a7d",
            },
        },
        "expected": {"lfw/*/*.jpg": 13233, "pairs.txt": 1},
        "layout": (
            "lfw/<Person_Name>/<Person_Name>_0001.jpg  (13,233 images of 5,749 people, 250 x 250)\n"
            "pairs.txt  (10 folds of 300 same-person and 300 different-person pairs)"
        ),
        "notes": (
            "pairs.txt is a plain file: it is copied, not unpacked. If the UMass server is down, scikit-learn's "
            "figshare copies hold both files: https://ndownloader.figshare.com/files/5976018 (lfw.tgz, same "
            "SHA-256) and https://ndownloader.figshare.com/files/5976006 (pairs.txt)."
        ),
    },
    "otb100": {
        "title": "Object Tracking Benchmark OTB-100 (OTB-2015): 100 annotated targets in 98 sequences",
        "homepage": "http://cvlab.hanyang.ac.kr/tracker_benchmark/datasets.html",
        "license": "no licence stated; sequences collected from earlier tracking papers, distributed for research",
        "citation": "Wu, Lim and Yang, Object Tracking Benchmark, IEEE TPAMI 37(9):1834-1848, 2015",
        "archives": {
            # No size or checksum was ever published: the lock file records them at the first download.
            f"{seq}.zip": {"url": f"{_OTB_SEQ}{seq}.zip", "size": None, "checksum": None}
            for seq in OTB100_SEQUENCES
        },
        "expected": {"*/img": 98, "*/groundtruth_rect*.txt": None},
        "layout": (
            "<Sequence>/groundtruth_rect.txt  (one x,y,w,h line per frame, 1-based)\n"
            "<Sequence>/img/0001.jpg, 0002.jpg, ...  (Board: 00001.jpg)\n"
            "Jogging and Skating2 hold groundtruth_rect.1.txt and groundtruth_rect.2.txt (two targets)"
        ),
        "notes": (
            "The archives come from the Internet Archive's copy of the benchmark page, as its own server is "
            "offline. cvlib.data.sequences.read_otb(root / '<Sequence>') reads one sequence. A few sequences are "
            "evaluated on a frame range only (David 300-770, Football1 1-74, Freeman3 1-460, Freeman4 1-283, "
            "Diving 1-215)."
        ),
    },
    "oxford_pets": {
        "title": "The Oxford-IIIT Pet Dataset: 37 breeds, about 200 images each, with pixel trimaps",
        "homepage": "https://www.robots.ox.ac.uk/~vgg/data/pets/",
        "license": "CC BY-SA 4.0",
        "citation": "Parkhi, Vedaldi, Zisserman and Jawahar, Cats and Dogs, CVPR 2012",
        "archives": {
            # The URLs of the keras-io U-Net example; SHA-256 and sizes: tensorflow-datasets' checksums (the same
            # digests for the www.robots.ox.ac.uk copies). torchvision states MD5 5c4f3ee8e5d25df40f4fd59a7f44e54c
            # and 95a8c909bbe2e81eed6a22bccdf3f68f for them.
            "images.tar.gz": {
                "url": "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",
                "size": 791_918_971,
                "checksum": "sha256:67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
            },
            "annotations.tar.gz": {
                "url": "https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz",
                "size": 19_173_078,
                "checksum": "sha256:52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
            },
        },
        "expected": {
            "images/*.jpg": 7390,
            "annotations/trimaps/*.png": 7390,
            "annotations/trainval.txt": 1,
            "annotations/test.txt": 1,
        },
        "layout": (
            "images/<Breed>_<n>.jpg  (7,390; cats' breeds are capitalised)\n"
            "annotations/trimaps/<Breed>_<n>.png  (1 pet, 2 background, 3 border)\n"
            "annotations/{trainval,test,list}.txt and annotations/xmls/ (head boxes)"
        ),
        "notes": (
            "annotations/trimaps also holds macOS '._*' files; skip names starting with a dot, as the keras-io "
            "example does. Subtract 1 from the trimap values to get classes 0, 1, 2."
        ),
    },
}


class ChecksumError(ValueError):
    """An archive's bytes are not the ones recorded for it (published checksum or lock file)."""


@dataclass
class Download:
    """Where a data set is; ``verified`` says whether every archive of it matched a recorded checksum just now."""

    name: str
    root: Path
    verified: bool
    note: str = ""

    def __fspath__(self) -> str:
        return str(self.root)


def _entry(name: str) -> dict:
    if name not in DATASETS:
        raise ValueError(f"name: unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _resolve_root(name: str, root) -> Path:
    if root is not None:
        return Path(root).expanduser()
    from cvlib.config import data_dir  # reads CVLIB_DATA

    return data_dir() / name  # not created here: a missing data set leaves no empty folder behind


def _label(pattern: str) -> str:
    """The fixed part of a glob pattern, for messages: ``CT-0/*.nii*`` -> ``CT-0``."""
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return "/".join(fixed) or pattern


def _survey(entry: dict, root: Path) -> dict[str, int]:
    """How many files (or folders) under ``root`` match each expected pattern.

    Names starting with a dot are left out: pathlib's glob matches them, and archives made on macOS carry
    '._<name>' companions of every file (the Oxford pets trimaps do).
    """
    return {
        pattern: sum(1 for path in root.glob(pattern) if not path.name.startswith(".")) for pattern in entry["expected"]
    }


def _size_text(size) -> str:
    return f"{size:,} bytes" if size else "size not published"


def _layout_lines(entry: dict) -> list[str]:
    lines = ["    " + line for line in entry["layout"].splitlines()]
    lines.append("    download() takes it as present when each of these matches (count in a complete copy):")
    width = max(len(pattern) for pattern in entry["expected"])
    for pattern, count in entry["expected"].items():
        lines.append(f"      {pattern:<{width}}  {f'{count:,}' if count else 'at least one'}")
    return lines


def instructions(name: str, root=None) -> str:
    """How to get data set ``name`` (URLs, sizes, checksums), where to put it and the layout it must have."""
    entry = _entry(name)
    root = _resolve_root(name, root)
    archives = entry["archives"]
    lines = [
        entry["title"],
        f"  home page: {entry['homepage']}",
        f"  licence: {entry['license']}",
        f"  cite: {entry['citation']}",
        f"  1. download {'this file' if len(archives) == 1 else f'these {len(archives)} files'}:",
    ]
    for filename, archive in archives.items():
        digest = archive["checksum"] or f"not yet recorded: the first download writes its SHA-256 to {LOCK_FILE}"
        lines += [f"    {filename}  ({_size_text(archive['size'])})", f"      {archive['url']}", f"      {digest}"]
    plain = [f for f in archives if _kind(f) == "file"]
    lines += [
        f"  2. unpack them into {root}"
        + (f" ({', '.join(plain)} goes there as it is)" if plain else "")
        + " so that it holds:",
        *_layout_lines(entry),
        f"     Or put them, still packed, in {root / ARCHIVE_DIR}/ and run cvlib.data.download({name!r}, fetch=True),",
        "     which checks and unpacks them there without any network access.",
        f"  3. Or, on a machine with internet access, run cvlib.data.download({name!r}, fetch=True) and copy the",
        f"     {root.name}/ folder it fills (in that machine's data directory) to {root}.",
        "  Every archive is checked before unpacking, against the checksum above; where none is published, the",
        f"  first download writes its SHA-256 to {root / LOCK_FILE} and later uses are checked against it.",
        f"  {entry['notes']}",
    ]
    return "\n".join(lines)


def download(name: str, root=None, fetch: bool = False, downloader=None) -> Download:
    """Locate (or, with ``fetch=True``, fetch, check and unpack) the real data set ``name``; see ``DATASETS``.

    ``root`` defaults to ``cvlib.config.data_dir() / name`` (``CVLIB_DATA`` moves it). When every expected
    pattern matches under ``root``, returns at once without network access, after checking the archives
    kept in ``root/archives`` against their recorded checksums (published or lock file). Otherwise, without
    ``fetch``, raises ``FileNotFoundError`` with the instructions (see ``instructions``); with ``fetch``,
    gets each archive (from ``root/archives`` if it is there, else with ``pooch.retrieve``; ``downloader``
    is passed on to pooch), checks it, unpacks the set in a temporary folder beside ``root`` and moves it in.

    Raises ``ValueError`` for an unknown name, a checksum mismatch (naming the file and both digests), an
    archive that cannot be unpacked (naming it) or archives that unpack to the wrong layout (naming what is
    missing). Returns a ``Download``, usable as a path.
    """
    entry = _entry(name)
    root = _resolve_root(name, root)
    found = _survey(entry, root)
    missing = [pattern for pattern, n in found.items() if n == 0]
    if not missing:
        return _present(name, entry, root, found)
    if not fetch:
        if len(missing) == len(found):
            where = f"data set {name!r} is not in {root}"
        else:
            where = f"the copy of {name!r} in {root} is incomplete: nothing matches {', '.join(missing)}"
        raise FileNotFoundError(f"{where}. It cannot be generated; get it like this:\n{instructions(name, root)}")
    return _fetch(name, entry, root, downloader)


def _present(name: str, entry: dict, root: Path, found: dict[str, int]) -> Download:
    lock_path = root / LOCK_FILE
    lock = _read_lock(lock_path)
    checked = []
    for filename, archive in entry["archives"].items():
        path = root / ARCHIVE_DIR / filename
        if path.is_file() and (archive["checksum"] or filename in lock):
            _verify(filename, path, archive, lock.get(filename), lock_path, on_failure="left in place")
            checked.append(filename)
    counts = ", ".join(
        f"{_label(p)}: {n}" + (f" of {entry['expected'][p]}" if entry["expected"][p] else "") for p, n in found.items()
    )
    short = [_label(p) for p, n in found.items() if entry["expected"][p] and n < entry["expected"][p]]
    note = f"found {counts}" + (f" (fewer files than a complete copy in {', '.join(short)})" if short else "")
    verified = len(checked) == len(entry["archives"])
    if checked:
        note += f"; {len(checked)} of {len(entry['archives'])} archives checked against their recorded checksums"
    else:
        note += "; no archive kept to check, so the unpacked files are not re-checksummed"
    return Download(name, root, verified=verified, note=note)


# ----------------------------------------------------------------------------- checksums and the lock file


def _digests(path: Path, algorithms) -> dict[str, str]:
    """Hex digests of ``path`` for each of ``algorithms``, read once."""
    hashes = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for h in hashes.values():
                h.update(block)
    return {algorithm: h.hexdigest() for algorithm, h in hashes.items()}


def _read_lock(lock_path: Path) -> dict[str, dict]:
    """The lock file's records, ``{file name: {"sha256": hex, "size": bytes, "url": ...}}``; {} if there is none."""
    if not lock_path.is_file():
        return {}
    try:
        records = json.loads(lock_path.read_text())["archives"]
        for filename, record in records.items():
            if len(record["sha256"]) != HEX_DIGITS["sha256"]:
                raise ValueError(f"{filename}: sha256 is not 64 hex digits")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{lock_path}: not a readable checksum lock file ({type(err).__name__}: {err}); restore it, or delete "
            "it to trust the archives as they are now"
        ) from err
    return records


def _write_lock(lock_path: Path, name: str, records: dict[str, dict]) -> None:
    text = json.dumps(
        {
            "dataset": name,
            "about": "SHA-256 of each archive at its first download; cvlib.data.download checks later copies "
            "against it. Delete an entry only if the publisher has really changed the file.",
            "archives": dict(sorted(records.items())),
        },
        indent=2,
    )
    partial = lock_path.with_name(lock_path.name + ".partial")
    partial.write_text(text + "\n")
    os.replace(partial, lock_path)  # a crash never leaves a half-written lock


def _verify(filename: str, path: Path, archive: dict, locked, lock_path: Path, on_failure: str) -> tuple[str, str]:
    """Check ``path`` against the published checksum, then the lock; returns (its SHA-256, what it matched).

    ``on_failure`` says, for the error message, what happens to the file when it does not match.
    """
    published = archive["checksum"]
    algorithms = {"sha256"}
    if published:
        algorithms.add(published.split(":", 1)[0])
    found = _digests(path, algorithms)
    size = path.stat().st_size
    if published:
        algorithm, expected = published.split(":", 1)
        if found[algorithm] != expected.lower():
            raise ChecksumError(
                f"{filename}: checksum mismatch: expected {algorithm}:{expected} (published), found "
                f"{algorithm}:{found[algorithm]} ({size:,} bytes at {path}); the download is corrupt or incomplete, "
                f"or the file was changed at the source; it was {on_failure}"
            )
    if locked and found["sha256"] != locked["sha256"]:
        raise ChecksumError(
            f"{filename}: checksum mismatch: expected sha256:{locked['sha256']} (recorded in {lock_path} at the "
            f"first download), found sha256:{found['sha256']} ({size:,} bytes at {path}); the file changed since "
            f"then; it was {on_failure}"
        )
    if not published and not locked and archive["size"] and size != archive["size"]:
        raise ChecksumError(
            f"{filename}: size mismatch: expected {archive['size']:,} bytes, found {size:,} bytes at {path}; the "
            f"download is incomplete or not the published file; it was {on_failure}"
        )
    return found["sha256"], "published" if published else ("lock" if locked else "")


# ----------------------------------------------------------------------------- fetching and unpacking


def _kind(filename: str) -> str:
    """``"zip"``, ``"tar"`` (any compression tarfile reads) or ``"file"`` (copied as it is), from the name."""
    lower = filename.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return "tar"
    return "file"


def _unpack(filename: str, path: Path, destination: Path) -> None:
    """Unpack a .zip or .tar(.gz/.tgz/...) archive into ``destination``; any other file is copied there."""
    destination.mkdir(parents=True, exist_ok=True)
    kind = _kind(filename)
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                archive.extractall(destination)  # zipfile drops absolute paths and '..' from member names
        elif kind == "tar":
            with tarfile.open(path) as archive:
                archive.extractall(destination, filter="data")  # refuses members that would land outside
        else:
            shutil.copy2(path, destination / filename)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(
            f"{filename}: cannot be unpacked ({type(err).__name__}: {err}); it is not a complete archive "
            f"(a download cut short, or an error page saved under its name)"
        ) from err


def _set_aside(path: Path) -> str:
    """Rename an archive that failed to ``<file>.rejected`` (replacing an older one); returns what was done."""
    rejected = path.with_name(path.name + ".rejected")
    os.replace(path, rejected)
    return f"kept aside as {rejected}"


def _move_in(content: Path, root: Path) -> None:
    """Move the unpacked tree into ``root``: a rename when ``root`` is new, else entry by entry."""
    if not root.exists():
        os.replace(content, root)
        return
    for item in content.iterdir():
        target = root / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)  # an earlier partial copy is replaced by the checked one
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(item, target)


class _WithoutKnownHashHint(logging.Filter):
    """Drops pooch's advice to pass the printed SHA-256 as ``known_hash``: here the lock file records it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SHA256 hash of downloaded file")


def _fetch(name: str, entry: dict, root: Path, downloader) -> Download:
    import pooch  # fetching: HTTP(S)/FTP, written to a temporary name and moved when complete

    hint = _WithoutKnownHashHint()
    pooch.get_logger().addFilter(hint)
    try:
        return _fetch_with(pooch, name, entry, root, downloader)
    finally:
        pooch.get_logger().removeFilter(hint)


def _fetch_with(pooch, name: str, entry: dict, root: Path, downloader) -> Download:
    kept = root / ARCHIVE_DIR
    lock_path = root / LOCK_FILE
    lock = _read_lock(lock_path)
    root.parent.mkdir(parents=True, exist_ok=True)
    # Beside root, so the final moves are renames on one file system; a dot keeps it out of listings.
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        fetched_dir = staging / ARCHIVE_DIR
        paths, records, matched = {}, dict(lock), {}
        for filename, archive in entry["archives"].items():
            path = kept / filename
            if path.is_file():  # placed there by hand, or kept from an earlier fetch: no network needed
                on_failure = f"kept aside as {path.name}.rejected"
            else:
                retrieved = pooch.retrieve(
                    archive["url"], known_hash=None, fname=filename, path=fetched_dir, downloader=downloader
                )
                path, on_failure = Path(retrieved), "deleted"
            try:
                sha256, matched[filename] = _verify(filename, path, archive, lock.get(filename), lock_path, on_failure)
            except ChecksumError:
                if path.parent == kept:
                    _set_aside(path)
                raise
            paths[filename] = path
            records[filename] = {"sha256": sha256, "size": path.stat().st_size, "url": archive["url"]}
        content = staging / "content"
        for filename, path in paths.items():  # unpacked only once every archive of the set is checked
            try:
                _unpack(filename, path, content)
            except ValueError as err:
                fate = _set_aside(path) if path.parent == kept else "deleted"
                raise ValueError(f"{err}; it was {fate}") from err
        found = _survey(entry, content)
        missing = [pattern for pattern, n in found.items() if n == 0]
        if missing:
            top = sorted(p.name for p in content.iterdir()) if content.exists() else []
            raise ValueError(
                f"{name}: the archives unpacked, but nothing matches {', '.join(missing)} (the top level holds "
                f"{top[:10]}); they are not the expected files: nothing was moved into {root}, and the archives "
                "downloaded now were deleted"
            )
        _move_in(content, root)
        kept.mkdir(exist_ok=True)
        for filename, path in paths.items():
            if path.parent != kept:
                os.replace(path, kept / filename)
        _write_lock(lock_path, name, records)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    first = [f for f, how in matched.items() if not how]
    verified = not first
    note = f"{len(matched)} archive(s) checked and unpacked into {root}"
    if first:
        note += (
            f"; no published checksum for {', '.join(first[:5])}{' ...' if len(first) > 5 else ''}: their SHA-256 "
            f"is now recorded in {lock_path} and later uses are checked against it"
        )
    return Download(name, root, verified=verified, note=note)


def dataset_root(dataset: str, real: tuple[str, ...] | list[str]) -> Path | None:
    """The folder of a notebook's ``DATASET``: ``None`` for ``"synthetic"``, else ``download(dataset).root``.

    ``real`` names the data sets the notebook can switch to. Any other name is a ``ValueError`` that lists
    the names it knows; a real data set that is not on disk is ``download``'s ``FileNotFoundError``, which
    says what to download and where to put it.
    """
    for name in real:
        _entry(name)  # a notebook may only offer data sets the registry knows
    if dataset == SYNTHETIC:
        return None
    if dataset not in real:
        known = ", ".join(repr(n) for n in (SYNTHETIC, *real))
        raise ValueError(f"DATASET: unknown data set {dataset!r} for this notebook; known: {known}")
    return download(dataset).root
