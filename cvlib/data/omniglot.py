"""Omniglot as published (Lake et al., Science 2015): glyph images in the structure of ``cvlib.data.glyphs``.

The tree (``images_background.zip``: 30 alphabets, 964 characters; ``images_evaluation.zip``: 20
alphabets, 659 characters)::

    images_background/<Alphabet>/character01/0709_01.png
                                             0709_02.png      20 drawers per character
    images_evaluation/<Alphabet>/characterNN/<id>_<nn>.png

``<id>`` is the character's number over the whole data set (the same in every file of a folder),
``<nn>`` the drawer (01-20). Each image is 105 x 105, black strokes on white (1-bit PNG).
The course's glyphs are ink = 1 on a background of 0, so ``load_omniglot`` inverts by default:
a network sees the same polarity on generated and real glyphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["OMNIGLOT_SETS", "Omniglot", "load_omniglot"]

OMNIGLOT_SETS = ("images_background", "images_evaluation")

_FILE = re.compile(r"^(\d+)_(\d+)\.png$")
_CHARACTER = re.compile(r"^character(\d+)$")


@dataclass(frozen=True)
class Omniglot:
    """Glyphs read from disk, as ``cvlib.data.glyphs.Glyphs`` holds them.

    ``images``: float32 (N, H, W, 1) in [0, 1] (ink = 1 unless ``invert=False``); ``labels``: int64 (N,)
    the character, 0 .. C - 1 in the order of ``characters``; ``characters``: C names
    ``"<Alphabet>/characterNN"``; ``alphabet``: int64 (N,) index into ``alphabets``; ``drawers``: int64 (N,)
    the drawer number (1-20) from the file name; ``paths``: the N files.
    """

    images: np.ndarray
    labels: np.ndarray
    characters: list[str]
    alphabet: np.ndarray
    alphabets: list[str]
    drawers: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.labels)


def _subfolders(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_omniglot(
    root, subset: str = "images_background", size: int | None = None, invert: bool = True, first_class: int = 0
) -> Omniglot:
    """Read one Omniglot set, ``root/<subset>/<Alphabet>/<characterNN>/<id>_<nn>.png``.

    ``root`` may also be the subset folder itself. ``size`` resizes every glyph to ``size x size``
    (area averaging, so thin strokes stay grey rather than vanish); ``None`` keeps 105 x 105.
    ``first_class`` offsets the labels, as ``make_glyphs`` does, so two sets can share a label space.
    Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` naming the path for a
    folder or file name outside the layout or an image that cannot be read.
    """
    if subset not in OMNIGLOT_SETS:
        raise ValueError(f"subset: expected one of {OMNIGLOT_SETS}, got {subset!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8):
        raise ValueError(f"size: expected None or an integer of at least 8 pixels, got {size!r}")
    root = Path(root).expanduser()
    base = root if root.name == subset else root / subset
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no such folder (Omniglot unpacks to {subset}/<Alphabet>/characterNN/)")
    alphabets = _subfolders(base)
    if not alphabets:
        raise ValueError(f"{base}: no alphabet folders; expected {subset}/<Alphabet>/characterNN/<id>_<nn>.png")
    images, labels, alphabet_of, drawers, paths, characters = [], [], [], [], [], []
    for a, alphabet in enumerate(alphabets):
        folders = _subfolders(alphabet)
        if not folders:
            raise ValueError(f"{alphabet}: no character folders (expected character01, character02, ...)")
        for folder in folders:
            if not _CHARACTER.match(folder.name):
                raise ValueError(f"{folder}: expected a folder named characterNN")
            ids = set()
            files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
            if not files:
                raise ValueError(f"{folder}: no drawings (expected <id>_<nn>.png files)")
            for path in files:
                match = _FILE.match(path.name)
                if match is None:
                    raise ValueError(f"{path}: expected a file named <id>_<nn>.png (e.g. 0709_01.png)")
                ids.add(match.group(1))
                if len(ids) > 1:
                    raise ValueError(f"{path}: character id {match.group(1)} differs from the folder's {min(ids)}")
                glyph = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if glyph is None:
                    raise ValueError(f"{path}: cannot be read as an image")
                if size is not None:
                    glyph = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_AREA)
                images.append(glyph)
                labels.append(len(characters))
                alphabet_of.append(a)
                drawers.append(int(match.group(2)))
                paths.append(path)
            characters.append(f"{alphabet.name}/{folder.name}")
    if len({g.shape for g in images}) > 1:
        raise ValueError(f"{base}: the glyphs differ in size; pass size= to resize them")
    stack = np.stack(images).astype(np.float32) / np.float32(255)
    if invert:
        stack = 1 - stack
    return Omniglot(
        stack[..., None],
        np.asarray(labels, np.int64) + int(first_class),
        characters,
        np.asarray(alphabet_of, np.int64),
        [p.name for p in alphabets],
        np.asarray(drawers, np.int64),
        paths,
    )
