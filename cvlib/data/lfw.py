"""Labeled Faces in the Wild (Huang et al., 2007): the image tree and its verification pairs files.

The tree and files as published::

    lfw/<Name>/<Name>_0001.jpg            250 x 250 JPEGs, one folder per person
    pairs.txt                             first line "10<TAB>300": 10 folds of 300 matched + 300 mismatched
    pairsDevTrain.txt, pairsDevTest.txt   first line "1100" / "500": one fold of that many of each

after which come, fold by fold, the matched lines ``name<TAB>i<TAB>j`` (images ``i`` and ``j`` of one
person, 1-based) and then the mismatched lines ``name1<TAB>i<TAB>name2<TAB>j``. A verification model
is scored by 10-fold cross-validation over the folds (the "View 2" protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["LFWPairs", "image_path", "list_people", "load_faces", "read_pairs"]


@dataclass
class LFWPairs:
    """Pairs of face images: ``path_a``, ``path_b`` (N,) paths; ``same`` bool (N,); ``fold`` int64 (N,), 0-based."""

    path_a: list[Path]
    path_b: list[Path]
    same: np.ndarray
    fold: np.ndarray

    def __len__(self) -> int:
        return len(self.same)


def image_path(images_root, name: str, number: int) -> Path:
    """``images_root/<name>/<name>_<number:04d>.jpg``: image ``number`` (1-based) of a person."""
    return Path(images_root) / name / f"{name}_{number:04d}.jpg"


def _images_root(root: Path) -> Path:
    """The folder of per-person folders: ``root/lfw`` when it exists, else ``root``."""
    return root / "lfw" if (root / "lfw").is_dir() else root


def read_pairs(pairs_file, root=None, check: bool = True) -> LFWPairs:
    """Read ``pairs.txt`` (10 folds) or ``pairsDevTrain.txt`` / ``pairsDevTest.txt`` (one fold).

    Paths are made under ``root`` (the folder holding ``lfw/``, or ``lfw/`` itself; default: the pairs
    file's folder). With ``check`` a pair naming a missing image raises ``FileNotFoundError`` naming
    the line. A header, a line that fits neither form, or a fold with the wrong number of lines
    raises ``ValueError`` naming the file and line.
    """
    pairs_file = Path(pairs_file)
    if not pairs_file.is_file():
        raise FileNotFoundError(f"{pairs_file}: no such pairs file")
    images = _images_root(Path(root) if root is not None else pairs_file.parent)
    lines = pairs_file.read_text(encoding="utf-8").splitlines()
    where = pairs_file.name
    header = lines[0].split() if lines else []
    try:
        numbers = [int(v) for v in header]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        folds, per_fold = 1, numbers[0]
    elif len(numbers) == 2:
        folds, per_fold = numbers
    else:
        raise ValueError(f"{where} line 1: expected 'folds<TAB>pairs' or 'pairs', got {lines[0] if lines else ''!r}")
    body = [(k, line.split()) for k, line in enumerate(lines[1:], start=2) if line.strip()]
    if len(body) != 2 * folds * per_fold:
        raise ValueError(
            f"{where}: the header promises {folds} fold(s) of {per_fold} matched and {per_fold} "
            f"mismatched pairs ({2 * folds * per_fold} lines), found {len(body)}"
        )
    path_a, path_b, same, fold = [], [], [], []
    for n, (k, fields) in enumerate(body):
        matched = n % (2 * per_fold) < per_fold  # each fold: its matched pairs, then its mismatched ones
        try:
            if matched and len(fields) == 3:
                a, b = (fields[0], int(fields[1])), (fields[0], int(fields[2]))
            elif not matched and len(fields) == 4:
                a, b = (fields[0], int(fields[1])), (fields[2], int(fields[3]))
            else:
                raise ValueError
        except ValueError:
            form = "'name i j' (a matched pair)" if matched else "'name1 i name2 j' (a mismatched pair)"
            raise ValueError(f"{where} line {k}: expected {form}, got {lines[k - 1]!r}") from None
        pa, pb = image_path(images, *a), image_path(images, *b)
        if check:
            for p in (pa, pb):
                if not p.is_file():
                    raise FileNotFoundError(f"{where} line {k}: image {p} does not exist")
        path_a.append(pa)
        path_b.append(pb)
        same.append(matched)
        fold.append(n // (2 * per_fold))
    return LFWPairs(path_a, path_b, np.array(same, bool), np.array(fold, np.int64))


def list_people(root, min_images: int = 1) -> tuple[list[Path], np.ndarray, list[str]]:
    """Every image of the tree: ``(paths, identity, names)``; ``identity`` int64 (N,) indexes ``names``.

    People with fewer than ``min_images`` images are left out (``min_images=2`` keeps those a
    verification pair can be drawn from). Names are sorted, images in file-name order.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected lfw/<Name>/<Name>_0001.jpg)")
    images = _images_root(root)
    people = sorted(p for p in images.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not people:
        raise ValueError(f"{images}: no per-person folders; expected lfw/<Name>/<Name>_0001.jpg")
    paths, identity, names = [], [], []
    for person in people:
        files = sorted(person.glob("*.jpg"))
        for f in files:
            if not f.stem.startswith(person.name + "_") or not f.stem[len(person.name) + 1 :].isdigit():
                raise ValueError(f"{f}: expected a file named {person.name}_NNNN.jpg in {person.name}/")
        if len(files) < min_images:
            continue
        paths += files
        identity += [len(names)] * len(files)
        names.append(person.name)
    return paths, np.array(identity, np.int64), names


def load_faces(paths, size: int | None = None, crop: int | None = None) -> np.ndarray:
    """float32 (N, S, S, 3) RGB in [0, 1] from LFW's JPEGs.

    ``crop`` keeps the central ``crop x crop`` pixels first (LFW's 250 x 250 images are centred on
    the face by the Viola-Jones detector, with much background); ``size`` then resizes.
    """
    out = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"{path}: missing or not an image")
        if crop is not None:
            h, w = bgr.shape[:2]
            if not 0 < crop <= min(h, w):
                raise ValueError(f"crop: expected 1 .. {min(h, w)} pixels for {path.name}, got {crop!r}")
            y0, x0 = (h - crop) // 2, (w - crop) // 2
            bgr = bgr[y0 : y0 + crop, x0 : x0 + crop]
        if size is not None:
            bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not out:
        side = size or crop or 250
        return np.zeros((0, side, side, 3), np.float32)
    if len({a.shape for a in out}) > 1:
        raise ValueError("paths: the images differ in size; pass size= to resize them")
    return np.stack(out).astype(np.float32) / np.float32(255)
