"""The Oxford-IIIT Pet data set (Parkhi et al., CVPR 2012): photos and trimaps for U-Net segmentation.

The tree as published (``images.tar.gz`` and ``annotations.tar.gz``)::

    images/Abyssinian_100.jpg
    annotations/trimaps/Abyssinian_100.png     1 = pet, 2 = background, 3 = border (not classified)
    annotations/trainval.txt, test.txt, list.txt
        "Image CLASS-ID SPECIES BREED-ID" lines, e.g. "Abyssinian_100 1 1 1", after "#" comment lines:
        CLASS-ID 1-37 (the breed over both species), SPECIES 1 = cat, 2 = dog, BREED-ID 1-25 (cats) or 1-12 (dogs)

Label maps follow the keras-io U-Net example ("Image segmentation with a U-Net-like architecture",
fchollet): the trimap minus one, so **0 = pet, 1 = background, 2 = border**, three classes.
(Unlike ``cvlib.data.shapes.semantic_map``, 0 is not the background here; a notebook that wants
it can remap.) Breeds are 0-based: ``labels = CLASS-ID - 1``; ``species`` 0 = cat, 1 = dog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PET_CLASSES", "PetsSegmentation", "load_pets", "read_pets_list"]

#: trimap value -> class id in the label maps (keras-io: "Ground truth labels are 1, 2, 3. Subtract one")
PET_CLASSES = ("pet", "background", "border")


@dataclass
class PetsSegmentation:
    """``images`` uint8 (N, S, S, 3); ``masks`` int32 (N, S, S) in {0 pet, 1 background, 2 border};
    ``names`` (N,) image names; ``labels`` int64 (N,) breed 0-36; ``species`` int64 (N,) 0 cat, 1 dog;
    ``breeds`` (37,) breed names in label order, from the image names (``Abyssinian``, ``american_bulldog``, ...)
    of ``list.txt`` (all 37) or, without it, of the split (``"class<ID>"`` for a breed it lacks)."""

    images: np.ndarray
    masks: np.ndarray
    names: list[str]
    labels: np.ndarray
    species: np.ndarray
    breeds: list[str]

    def __len__(self) -> int:
        return len(self.names)


def _pets_root(root) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected images/ and annotations/ of Oxford-IIIT Pet)")
    for sub in ("images", "annotations/trimaps"):
        if not (root / sub).is_dir():
            found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
            raise ValueError(f"{root}: not an Oxford-IIIT Pet folder: {sub}/ is missing (found {found})")
    return root


def read_pets_list(root, split: str = "trainval") -> list[tuple[str, int, int, int]]:
    """The lines of ``annotations/{split}.txt`` as ``(name, class_id, species, breed_id)``, the file's 1-based ids.

    ``split`` is ``"trainval"``, ``"test"`` or ``"list"`` (all annotated images). ``#`` lines are comments.
    """
    if split not in ("trainval", "test", "list"):
        raise ValueError(f"split: expected 'trainval', 'test' or 'list', got {split!r}")
    path = _pets_root(root) / "annotations" / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"annotations/{split}.txt: no such file in {path.parent.parent}")
    rows = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        try:
            if len(fields) != 4:
                raise ValueError
            name, class_id, species, breed = fields[0], *(int(v) for v in fields[1:])
        except ValueError:
            raise ValueError(
                f"annotations/{split}.txt line {k}: expected 'Image CLASS-ID SPECIES BREED-ID', got {line!r}"
            ) from None
        if not (1 <= class_id <= 37 and species in (1, 2) and breed >= 1):
            raise ValueError(
                f"annotations/{split}.txt line {k}: ids out of range (CLASS-ID 1-37, SPECIES 1-2, "
                f"BREED-ID from 1), got {line!r}"
            )
        rows.append((name, class_id, species, breed))
    return rows


def _breed(name: str) -> str:
    """A breed's name from an image name: ``"american_bulldog_12"`` -> ``"american_bulldog"``."""
    return name.rsplit("_", 1)[0]


def load_pets(root, split: str = "trainval", size: int = 128, max_images: int | None = None) -> PetsSegmentation:
    """Images and label maps of a split, resized to ``size x size`` (area-averaged images, nearest-neighbour maps).

    Raises ``FileNotFoundError`` when an image or trimap the list names is missing, and ``ValueError``
    naming the file for an unreadable image or a trimap with values other than 1, 2, 3.
    """
    from PIL import Image  # a few of the "JPEGs" are PNG or GIF inside; Pillow reads them by content

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an integer of at least 8 pixels, got {size!r}")
    root = _pets_root(root)
    rows = read_pets_list(root, split)[: max_images if max_images is not None else None]
    images = np.empty((len(rows), size, size, 3), np.uint8)
    masks = np.empty((len(rows), size, size), np.int32)
    for i, (name, *_) in enumerate(rows):
        arrays = []
        for path, what, mode in (
            (root / "images" / f"{name}.jpg", f"images/{name}.jpg", "RGB"),
            (root / "annotations" / "trimaps" / f"{name}.png", f"annotations/trimaps/{name}.png", None),
        ):
            if not path.is_file():
                raise FileNotFoundError(f"{what}: no such file (named by annotations/{split}.txt)")
            try:
                with Image.open(path) as im:
                    arrays.append(np.asarray(im.convert(mode) if mode else im))
            except OSError as err:
                raise ValueError(f"{what}: cannot be read as an image ({err})") from None
        rgb, trimap = arrays
        if trimap.ndim != 2:
            raise ValueError(f"annotations/trimaps/{name}.png: expected a one-channel trimap, got shape {trimap.shape}")
        bad = np.setdiff1d(np.unique(trimap), [1, 2, 3])
        if bad.size:
            raise ValueError(f"annotations/trimaps/{name}.png: value {int(bad[0])} is not a trimap value (1, 2, 3)")
        if trimap.shape != rgb.shape[:2]:
            raise ValueError(
                f"annotations/trimaps/{name}.png: size {trimap.shape[::-1]} differs from the image's {rgb.shape[1::-1]}"
            )
        images[i] = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        masks[i] = cv2.resize(trimap, (size, size), interpolation=cv2.INTER_NEAREST).astype(np.int32) - 1
    labels = np.array([r[1] - 1 for r in rows], np.int64)
    species = np.array([r[2] - 1 for r in rows], np.int64)
    named = read_pets_list(root, "list") if (root / "annotations" / "list.txt").is_file() else rows
    breeds = {class_id - 1: _breed(name) for name, class_id, _, _ in reversed(named)}  # the first name wins
    names = [breeds.get(k, f"class{k + 1}") for k in range(37)]
    return PetsSegmentation(images, masks, [r[0] for r in rows], labels, species, names)
