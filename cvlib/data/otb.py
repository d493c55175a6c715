"""OTB-100 as published (Wu, Lim and Yang, TPAMI 2015): a root of sequence folders, some with two targets.

One folder per sequence::

    Basketball/img/0001.jpg ...           frames; Board's are numbered 00001.jpg, BlurCar1 starts at 0247.jpg
    Basketball/groundtruth_rect.txt       one "x,y,w,h" line per frame, 1-based; commas, tabs or spaces
    Jogging/groundtruth_rect.1.txt        two targets: one file each (Jogging, Skating2; Human4 has only .2)
    Jogging/groundtruth_rect.2.txt

In five sequences the annotation covers only part of the frames (the benchmark's ``configSeqs.m``
gives the range): ``OTB_FRAME_RANGES``. ``cvlib.data.sequences.read_otb`` reads the plain case
(one ``groundtruth_rect.txt`` with one line per frame) and is used for it; this module adds the
two-target files, the partial annotations and the listing of a root. Boxes are ``xywh`` 0-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvlib._checks import boxes_array
from cvlib.data.sequences import IMAGE_SUFFIXES, Sequence, read_frames, read_otb

__all__ = ["OTB_FRAME_RANGES", "OTBEntry", "list_sequences", "read_groundtruth", "read_sequence"]

#: (first, last) annotated frame of the sequences whose ground truth is shorter than their img/ folder
OTB_FRAME_RANGES: dict[str, tuple[int, int]] = {
    "David": (300, 770),
    "Diving": (1, 215),
    "Football1": (1, 74),
    "Freeman3": (1, 460),
    "Freeman4": (1, 283),
}

_GROUNDTRUTH = re.compile(r"^groundtruth_rect(?:\.(\d+))?\.txt$")


@dataclass
class OTBEntry:
    """One tracked target of a root: ``name`` (``"Jogging.1"`` for the first of two targets), the sequence
    ``path``, its ``groundtruth`` file, ``target`` (None, 1 or 2), the ``frames`` (first, last) numbers of
    ``img/`` and ``num_boxes`` the ground-truth lines."""

    name: str
    path: Path
    groundtruth: Path
    target: int | None
    frames: tuple[int, int]
    num_boxes: int


def read_groundtruth(path) -> np.ndarray:
    """float64 (T, 4) 0-based ``xywh`` from an OTB ground-truth file (1-based ``x,y,w,h``; ``,``, tab or space).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ground-truth file")
    rows = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        # BlurCar1 mixes a space into a tab-separated file, so any run of separators splits
        values = [v for v in re.split(r"[,\s]+", line.strip()) if v]
        try:
            row = [float(v) for v in values]
        except ValueError:
            row = []
        if len(row) != 4:
            raise ValueError(f"{path.parent.name}/{path.name} line {k}: expected four numbers x,y,w,h, got {line!r}")
        rows.append(row)
    boxes = np.array(rows, np.float64).reshape(-1, 4)
    boxes[:, :2] -= 1.0
    return boxes_array(boxes, f"{path.parent.name}/{path.name}", "xywh")


def _frames(seq: Path) -> dict[int, Path]:
    img = seq / "img"
    if not img.is_dir():
        raise ValueError(f"{seq}: no img/ folder; an OTB sequence keeps its frames in img/0001.jpg, ...")
    frames = {int(p.stem): p for p in img.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()}
    if not frames:
        raise ValueError(f"{img}: no numbered frames (0001.jpg, ...)")
    return frames


def _groundtruth_files(seq: Path) -> dict[int | None, Path]:
    # Human4 also holds an empty "groundtruth_rect1.txt" (no dot): not a target, so the pattern skips it.
    out = {}
    for p in seq.iterdir():
        match = _GROUNDTRUTH.match(p.name)
        if match:
            out[int(match.group(1)) if match.group(1) else None] = p
    return out


def list_sequences(root) -> list[OTBEntry]:
    """Every target under ``root``, by folder name: one entry per ground-truth file of each sequence folder.

    Folders without ``img/`` or without a ground-truth file raise ``ValueError`` naming them.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected OTB sequence folders <Name>/img/ + groundtruth)")
    entries = []
    for seq in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _groundtruth_files(seq)
        if not files:
            raise ValueError(f"{seq}: no groundtruth_rect.txt (or groundtruth_rect.1.txt, .2.txt)")
        numbers = sorted(_frames(seq))
        for target in sorted(files, key=lambda t: t or 0):
            name = seq.name if target is None else f"{seq.name}.{target}"
            count = len(read_groundtruth(files[target]))
            entries.append(OTBEntry(name, seq, files[target], target, (numbers[0], numbers[-1]), count))
    if not entries:
        raise ValueError(f"{root}: no sequence folders")
    return entries


def read_sequence(path, target: int | None = None, frames: tuple[int, int] | None = None) -> Sequence:
    """Read one target of an OTB sequence folder into a ``Sequence`` (frames uint8 RGB, boxes xywh 0-based).

    ``target`` picks ``groundtruth_rect.<target>.txt`` (default: ``groundtruth_rect.txt``, or the only
    numbered file when there is one). ``frames`` = (first, last) frame numbers the ground truth covers;
    by default ``OTB_FRAME_RANGES`` for the sequences listed there, else the frames of ``img/``.
    ``attributes`` holds ``first_frame`` and ``target``.
    """
    seq = Path(path)
    if not seq.is_dir():
        raise FileNotFoundError(f"{seq}: no such sequence folder")
    files = _groundtruth_files(seq)
    if target is None and None not in files and len(files) == 1:
        target = next(iter(files))
    if target not in files:
        have = ", ".join(p.name for p in files.values()) or "none"
        want = "groundtruth_rect.txt" if target is None else f"groundtruth_rect.{target}.txt"
        raise FileNotFoundError(f"{seq / want}: no such file (ground truth here: {have})")
    if frames is None:
        frames = OTB_FRAME_RANGES.get(seq.name)
    if target is None and frames is None:
        return read_otb(seq)  # the plain case; it checks frames and lines agree
    boxes = read_groundtruth(files[target])
    available = _frames(seq)
    first, last = frames if frames is not None else (min(available), max(available))
    if last - first + 1 != len(boxes):
        raise ValueError(
            f"{files[target].name}: {len(boxes)} boxes for frames {first}-{last} "
            f"({last - first + 1} frames); pass frames=(first, last) to say which frames it covers"
        )
    missing = [n for n in range(first, last + 1) if n not in available]
    if missing:
        raise FileNotFoundError(f"{seq / 'img'}: frame {missing[0]} is missing ({len(missing)} missing)")
    name = seq.name if target is None else f"{seq.name}.{target}"
    frames_rgb = read_frames([available[n] for n in range(first, last + 1)])
    return Sequence(frames_rgb, boxes, name, {"first_frame": first, "target": target})
