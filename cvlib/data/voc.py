"""PASCAL VOC 2007 as published: a split's images and boxes, instance masks, square ``Scenes`` for a notebook.

The tree (Everingham et al., IJCV 2010; the VOC 2007 development kit)::

    VOC2007/Annotations/000005.xml            one XML per image (read by ``cvlib.data.formats.read_voc_xml``)
    VOC2007/JPEGImages/000005.jpg
    VOC2007/ImageSets/Main/{train,val,trainval,test}.txt          one image id per line
    VOC2007/ImageSets/Segmentation/{train,val,trainval,test}.txt  the subset with masks
    VOC2007/SegmentationClass/000032.png      palette PNG: 0 background, 1-20 the class, 255 void
    VOC2007/SegmentationObject/000032.png     palette PNG: 0 background, i the XML's i-th object, 255 void

Boxes are 1-based inclusive pixels in the XML; they arrive here as continuous ``xyxy``
(``x1 = xmin - 1, x2 = xmax``). Labels index ``VOC_CLASSES``, the devkit's alphabetical order
(0-based here; the segmentation PNGs keep the devkit's 1-based class values). ``255`` in the
PNGs marks the void band drawn around every object's outline and hard-to-label regions: it is
neither object nor background, so masks leave it out and class maps keep it as 255.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cvlib.data.formats import read_voc_xml
from cvlib.data.shapes import Scenes

__all__ = [
    "VOC_CLASSES",
    "VOCSplit",
    "load_voc_scenes",
    "read_class_map",
    "read_instance_masks",
    "read_voc_split",
    "voc_root",
]

#: the 20 classes in the devkit's order (``VOCinit.m``); a label is the position in this tuple
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

VOID = 255


@dataclass
class VOCSplit:
    """One split read from disk: ``ids`` and ``image_paths`` (N,), ``targets`` one dict per image.

    A target holds ``boxes`` float32 (k, 4) xyxy continuous, ``labels`` int32 (k,) into ``VOC_CLASSES``,
    ``difficult`` and ``truncated`` bool (k,), ``image_shape`` (H, W, C) from the XML and ``objects``
    int (k,): each object's 0-based position in its XML (what ``SegmentationObject`` numbers from 1).
    """

    root: Path
    split: str
    ids: list[str]
    image_paths: list[Path]
    targets: list[dict]

    def __len__(self) -> int:
        return len(self.ids)


def voc_root(root) -> Path:
    """The ``VOC2007`` folder: ``root`` itself, ``root/VOC2007`` or ``root/VOCdevkit/VOC2007``.

    Raises ``FileNotFoundError`` for a missing folder, ``ValueError`` when it lacks ``Annotations/``
    or ``ImageSets/Main/``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected a PASCAL VOC 2007 tree, VOCdevkit/VOC2007)")
    for candidate in (root, root / "VOC2007", root / "VOCdevkit" / "VOC2007"):
        if (candidate / "Annotations").is_dir() and (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
    raise ValueError(
        f"{root}: not a PASCAL VOC 2007 folder: expected Annotations/, JPEGImages/ and ImageSets/Main/ "
        f"(here or in VOC2007/), found {found}"
    )


def _split_ids(root: Path, split: str, task: str) -> list[str]:
    path = root / "ImageSets" / task / f"{split}.txt"
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("*.txt") if "_" not in p.stem) if path.parent.is_dir() else []
        raise FileNotFoundError(f"ImageSets/{task}/{split}.txt: no such file in {root} (splits there: {have})")
    ids = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        # The per-class lists (aeroplane_train.txt) add a +-1 column; the split lists hold the id alone.
        if len(fields) != 1:
            raise ValueError(f"ImageSets/{task}/{split}.txt line {k}: expected one image id, got {line!r}")
        ids.append(fields[0])
    return ids


def read_voc_split(root, split: str = "trainval", task: str = "Main", keep_difficult: bool = True) -> VOCSplit:
    """Read the image paths and annotations of ``ImageSets/{task}/{split}.txt`` (no pixels are loaded).

    ``task`` is ``"Main"`` (detection) or ``"Segmentation"`` (the subset with masks). With
    ``keep_difficult=False`` objects flagged difficult are left out (VOC's AP ignores them).
    Raises ``FileNotFoundError`` for a missing split file, XML or image and ``ValueError`` for an
    XML that does not parse or names a class outside ``VOC_CLASSES``, each naming the file.
    """
    if task not in ("Main", "Segmentation"):
        raise ValueError(f"task: expected 'Main' or 'Segmentation', got {task!r}")
    root = voc_root(root)
    ids = _split_ids(root, split, task)
    paths, targets = [], []
    for image_id in ids:
        xml = root / "Annotations" / f"{image_id}.xml"
        if not xml.is_file():
            raise FileNotFoundError(
                f"Annotations/{image_id}.xml: no such file (listed in ImageSets/{task}/{split}.txt)"
            )
        try:
            ann = read_voc_xml(xml, VOC_CLASSES)
        except ValueError as err:
            # read_voc_xml names the absolute path; the tree-relative name is what a student can find
            raise ValueError(str(err).replace(str(xml), f"Annotations/{image_id}.xml")) from None
        image = root / "JPEGImages" / f"{image_id}.jpg"
        if not image.is_file():
            raise FileNotFoundError(f"JPEGImages/{image_id}.jpg: no such file (named by Annotations/{image_id}.xml)")
        keep = np.ones(len(ann["labels"]), bool) if keep_difficult else ~ann["difficult"]
        targets.append(
            {
                "boxes": ann["boxes"][keep],
                "labels": ann["labels"][keep],
                "difficult": ann["difficult"][keep],
                "truncated": ann["truncated"][keep],
                "image_shape": ann["image_shape"],
                "objects": np.flatnonzero(keep),
            }
        )
        paths.append(image)
    return VOCSplit(root, split, ids, paths, targets)


def _read_png(path: Path, what: str) -> np.ndarray:
    from PIL import Image  # Pillow keeps a palette PNG's indices; OpenCV would expand it to colours

    if not path.is_file():
        raise FileNotFoundError(f"{what}: no such file")
    try:
        with Image.open(path) as png:
            if png.mode not in ("P", "L"):
                raise ValueError(f"{what}: expected a palette (indexed) PNG, got mode {png.mode}")
            return np.array(png)
    except OSError as err:
        raise ValueError(f"{what}: cannot be read as PNG ({err})") from None


def read_class_map(root, image_id: str) -> np.ndarray:
    """``SegmentationClass/<id>.png`` as uint8 (H, W): 0 background, 1-20 = 1 + label, 255 void."""
    root = voc_root(root)
    what = f"SegmentationClass/{image_id}.png"
    out = _read_png(root / what, what)
    bad = np.setdiff1d(np.unique(out), np.r_[0 : len(VOC_CLASSES) + 1, VOID])
    if bad.size:
        raise ValueError(f"{what}: value {int(bad[0])} is neither 0, a class 1-20 nor void (255)")
    return out


def read_instance_masks(root, image_id: str, num_objects: int) -> np.ndarray:
    """bool (num_objects, H, W) from ``SegmentationObject/<id>.png``: mask ``i`` is where the PNG holds ``i + 1``.

    ``num_objects`` is the number of ``<object>`` entries in the image's XML (all of them,
    difficult ones included): the PNG numbers objects in the XML's order. The void band (255)
    belongs to no mask; an object the PNG does not show gets an empty mask.
    """
    root = voc_root(root)
    what = f"SegmentationObject/{image_id}.png"
    png = _read_png(root / what, what)
    values = np.setdiff1d(np.unique(png), [0, VOID])
    if values.size and values.max() > num_objects:
        raise ValueError(
            f"{what}: object index {int(values.max())} but Annotations/{image_id}.xml has {num_objects} objects"
        )
    return png[None] == np.arange(1, num_objects + 1, dtype=png.dtype)[:, None, None]


def _resize_image(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The image resized to ``size x size`` (RGB uint8) and its original (H, W)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"JPEGImages/{path.name}: cannot be read as an image")
    rgb = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return rgb, bgr.shape[:2]


def load_voc_scenes(
    root,
    split: str = "trainval",
    size: int = 128,
    keep_difficult: bool = False,
    masks: bool = False,
    max_images: int | None = None,
) -> Scenes:
    """A split as ``Scenes``: images resized (stretched) to ``size x size``, boxes scaled with them.

    ``images`` uint8 (N, size, size, 3); each target has ``boxes`` float32 (k, 4) xyxy in the resized
    image, ``labels`` int32, ``difficult`` and ``truncated`` bool, and with ``masks=True`` ``masks``
    bool (k, size, size) (nearest-neighbour resized). ``masks=True`` reads the Segmentation split
    (only those images have masks). Difficult objects are dropped by default (a notebook trains
    on what VOC scores); their masks are dropped with them, matched by XML position first.
    ``max_images`` keeps the first images of the split.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an integer of at least 8 pixels, got {size!r}")
    voc = read_voc_split(root, split, "Segmentation" if masks else "Main", keep_difficult=True)
    n = len(voc) if max_images is None else min(len(voc), int(max_images))
    images = np.empty((n, size, size, 3), np.uint8)
    targets = []
    for i in range(n):
        image_id, target = voc.ids[i], voc.targets[i]
        images[i], (h, w) = _resize_image(voc.image_paths[i], size)
        sx, sy = size / w, size / h
        keep = np.ones(len(target["labels"]), bool) if keep_difficult else ~target["difficult"]
        boxes = target["boxes"][keep].astype(np.float64) * np.array([sx, sy, sx, sy])
        out = {
            # float32 rounding of the scaled box may step past the border it touched: clip it back into the image
            "boxes": np.clip(boxes, 0.0, size).astype(np.float32),
            "labels": target["labels"][keep],
            "difficult": target["difficult"][keep],
            "truncated": target["truncated"][keep],
        }
        if masks:
            full = read_instance_masks(voc.root, image_id, len(target["labels"]))
            if full.shape[1:] != (h, w):
                raise ValueError(
                    f"SegmentationObject/{image_id}.png: size {full.shape[2]}x{full.shape[1]} "
                    f"differs from JPEGImages/{image_id}.jpg's {w}x{h}"
                )
            full = full[keep]
            out["masks"] = (
                np.stack(
                    [cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0 for m in full]
                )
                if len(full)
                else np.zeros((0, size, size), bool)
            )
        targets.append(out)
    return Scenes(images, targets, VOC_CLASSES)
