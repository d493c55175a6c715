"""Real data sets the course can use when a student has them: where to get them, how to check them.

``download(name)`` looks in the data directory first and returns the folder when the
data set is there. When it is missing it raises ``FileNotFoundError`` with the
instructions (URLs, archive sizes, where to unpack), *without touching the network*;
``download(name, fetch=True)`` fetches the archives with pooch (checksummed) and
unpacks them. Nothing else in the course downloads anything.

Checksums: an archive whose SHA-256 is known is verified by pooch. Where the registry
holds ``None`` the checksum has not been verified yet: the archive is fetched, its
SHA-256 printed for the maintainers to record here, and the result reported as
*unverified* (``Download.verified`` is False), never silently trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATASETS", "Download", "download", "instructions"]

DATASETS: dict[str, dict] = {
    "mosmeddata": {
        "title": "MosMedData: chest CT scans with COVID-19 related findings (keras-io subset: CT-0 and CT-23)",
        "homepage": "https://mosmed.ai/datasets/covid19_1110/",
        "license": "CC BY-NC-ND 3.0 (research and education; cite Morozov et al., 2020, arXiv:2005.06465)",
        "archives": {
            # The subset the keras-io example "3D image classification from CT scans" uses, 100 scans per class.
            # SHA-256 not yet verified by the course: to be filled on the first verified download.
            "CT-0.zip": {
                "url": "https://github.com/hasibzunair/3D-image-classification-tutorial/releases/download/v0.2/CT-0.zip",
                "sha256": None,
                "size": "1,045,162,547 bytes",
            },
            "CT-23.zip": {
                "url": "https://github.com/hasibzunair/3D-image-classification-tutorial/releases/download/v0.2/CT-23.zip",
                "sha256": None,
                "size": None,
            },
        },
        # what a complete copy looks like once unpacked under the data directory
        "expected": {"CT-0": 100, "CT-23": 100},
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
}


@dataclass
class Download:
    """Where a data set is, and whether its archives were checked against a recorded SHA-256."""

    name: str
    root: Path
    verified: bool
    note: str = ""

    def __fspath__(self) -> str:
        return str(self.root)


def _default_root(name: str) -> Path:
    from cvlib.config import data_dir

    return data_dir(name)


def _entry(name: str) -> dict:
    if name not in DATASETS:
        raise ValueError(f"name: unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _complete(entry: dict, root: Path) -> tuple[bool, dict[str, int]]:
    found = {}
    for folder in entry["expected"]:
        directory = root / folder
        found[folder] = len(list(directory.glob("*.nii*"))) if directory.is_dir() else 0
    return all(found[f] > 0 for f in entry["expected"]), found


def instructions(name: str, root=None) -> str:
    """How to get data set ``name`` by hand and where to put it."""
    entry = _entry(name)
    root = Path(root) if root is not None else _default_root(name)
    lines = [f"{entry['title']}", f"  home page: {entry['homepage']}", f"  licence: {entry['license']}",
             "  download these archives:"]
    for filename, archive in entry["archives"].items():
        digest = archive["sha256"] or "not yet recorded (to be filled on first verified download)"
        size = f" ({archive['size']})" if archive["size"] else ""
        lines.append(f"    {filename}{size}: {archive['url']}\n      sha256: {digest}")
    lines += [f"  and unzip them into {root} so that it holds:", *("    " + s for s in entry["layout"].splitlines()),
              f"  or, on a machine with internet access: cvlib.data.download({name!r}, fetch=True)",
              f"  {entry['notes']}"]
    return "\n".join(lines)


def download(name: str, root=None, fetch: bool = False) -> Download:
    """Locate (or, with ``fetch=True``, fetch) the real data set ``name``; see ``DATASETS``.

    ``root`` defaults to ``cvlib.config.data_dir(name)``. If the expected folders already
    hold files, returns at once without any network access. Otherwise, without ``fetch``
    raises ``FileNotFoundError`` whose message says how to get the data and where to put
    it; with ``fetch`` uses pooch to download and unzip the archives (verified against the
    registry's SHA-256 where one is recorded). Returns a ``Download`` (usable as a path).
    """
    entry = _entry(name)
    root = Path(root) if root is not None else _default_root(name)
    complete, found = _complete(entry, root)
    if complete:
        counts = ", ".join(f"{k}: {v}" for k, v in found.items())
        short = [f for f, n in entry["expected"].items() if found[f] < n]
        note = f"found {counts}" + (f" (fewer files than the full set in {short})" if short else "")
        return Download(name, root, verified=False, note=note + "; files on disk are not re-checksummed")
    if not fetch:
        raise FileNotFoundError(
            f"data set {name!r} is not in {root} (found {found}). It cannot be generated; get it like this:\n"
            + instructions(name, root)
        )
    return _fetch(name, entry, root)


def _fetch(name: str, entry: dict, root: Path) -> Download:  # pragma: no cover - needs the network
    import hashlib

    import pooch  # the course's downloader: retries, checksums, unpacking

    root.mkdir(parents=True, exist_ok=True)
    verified, notes = True, []
    for filename, archive in entry["archives"].items():
        known = f"sha256:{archive['sha256']}" if archive["sha256"] else None
        members = pooch.retrieve(archive["url"], known_hash=known, fname=filename, path=root / "archives",
                                 processor=pooch.Unzip(extract_dir=str(root)), progressbar=True)
        if known is None:
            verified = False
            digest = hashlib.sha256()
            with open(root / "archives" / filename, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            notes.append(f"{filename}: UNVERIFIED, sha256 {digest.hexdigest()} (record it in DATASETS)")
        del members
    complete, found = _complete(entry, root)
    if not complete:
        raise FileNotFoundError(f"{root}: the archives unpacked but the expected folders are missing ({found})")
    note = "; ".join(notes) or "all archives verified"
    print(f"{name}: {note}")
    return Download(name, root, verified=verified, note=note)
