"""Annotation files: COCO JSON and PASCAL VOC XML, written and read.

Inside cvlib a set of objects travels as a target dict ``{"boxes": (k, 4) xyxy,
"labels": (k,), "masks": (k, H, W) bool (optional)}`` in continuous pixel
coordinates (``cvlib.boxes``). The two classic files store them differently:

**COCO** (Lin et al., ECCV 2014; the format ``pycocotools`` evaluates):
- images and categories have ids; here image ``i`` (0-based position in the list)
  gets id ``i + 1`` and label ``l`` gets ``category_id = l + 1``, as COCO's ids start
  at 1. Reading maps the other way: a label is the position of the category
  among the categories sorted by id, so COCO 2017's ids 1..90 (with gaps) become
  labels 0..79. ``detections_to_coco(..., category_ids=...)`` takes that list of ids
  to write results for a data set whose ids have gaps.
- ``bbox`` is ``[x, y, w, h]`` in continuous pixels (no "+1");
- ``segmentation`` is either polygons ``[[x1, y1, x2, y2, ...], ...]`` or a run-length
  encoding (RLE) ``{"counts": ..., "size": [h, w]}``: the mask is read in column-major
  (Fortran) order and ``counts`` alternates run lengths of 0s and 1s, starting with 0s
  (so a mask whose first pixel is set starts with a 0-length run). ``counts`` is a list
  of ints ("uncompressed", what ``to_coco`` writes) or COCO's compact ASCII string
  ("compressed", what results files and ``detections_to_coco`` use).

**PASCAL VOC** (Everingham et al., IJCV 2010): one XML file per image; each
``<object>`` has a ``<name>``, ``<difficult>``, ``<truncated>`` and a ``<bndbox>`` of
1-based, inclusive pixel indices. The conversion to continuous coordinates is
``x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax``: a box covering pixel
columns 0..9 is written ``xmin=1, xmax=10`` and read back as ``x1=0, x2=10``.

The run-length coder is written out here, not taken from ``pycocotools``, because
the format is part of the lesson and ``pycocotools`` stays a test-only reference:
``tests/test_formats.py`` checks the two agree.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cvlib._checks import boxes_array, to_numpy, vector

__all__ = [
    "coco_class_names",
    "detections_to_coco",
    "from_coco",
    "load_coco",
    "mask_to_rle",
    "read_voc_xml",
    "rle_to_mask",
    "save_coco",
    "to_coco",
    "to_voc_xml",
    "write_voc_dataset",
]


# --------------------------------------------------------------------------- run-length encoding


def _runs(mask: np.ndarray) -> list[int]:
    """COCO run lengths of a 2-D mask: column-major, alternating 0s and 1s, starting with 0s."""
    flat = mask.ravel(order="F")
    if flat.size == 0:
        return []
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], edges, [flat.size]]))
    if flat[0]:
        counts = np.concatenate([[0], counts])
    return counts.tolist()


def _compress(counts: list[int]) -> str:
    """COCO's compact string for run lengths.

    From the third run on, each run is stored as the difference to the run two
    before it; each number is then written in 5-bit groups, least significant first,
    as characters ``chr(48 + group)``, with bit 0x20 set on every group but the last
    (the last group's bit 0x10 carries the sign).
    """
    chars = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        while True:
            group = x & 0x1F
            x >>= 5  # arithmetic shift: negative numbers end at -1
            more = x != -1 if group & 0x10 else x != 0
            chars.append(chr(48 + (group | 0x20 if more else group)))
            if not more:
                break
    return "".join(chars)


def _decompress(text: str, name: str) -> list[int]:
    """Run lengths from COCO's compact string (the inverse of ``_compress``)."""
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        x, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise ValueError(f"{name}: compressed RLE string ends in the middle of a number")
            group = ord(text[pos]) - 48
            if not 0 <= group < 64:
                raise ValueError(f"{name}: invalid character {text[pos]!r} in compressed RLE string")
            x |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            pos += 1
            shift += 5
            if not more and group & 0x10:
                x -= 1 << shift  # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def mask_to_rle(mask, compressed: bool = False) -> dict:
    """COCO run-length encoding of a 2-D mask (H, W): ``{"counts": ..., "size": [H, W]}``.

    ``counts`` is a list of ints, or COCO's compact string with ``compressed=True``
    (the form ``pycocotools.mask.encode`` gives and results files use).
    """
    arr = to_numpy(mask, "mask", bool)
    if arr.ndim != 2:
        raise ValueError(f"mask: expected a 2-D (H, W) mask, got shape {arr.shape}")
    counts = _runs(arr)
    return {"counts": _compress(counts) if compressed else counts, "size": [int(arr.shape[0]), int(arr.shape[1])]}


def rle_to_mask(rle: dict, name: str = "rle") -> np.ndarray:
    """Decode a COCO RLE (uncompressed list or compressed string ``counts``) to a bool (H, W) mask."""
    if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
        raise ValueError(f"{name}: expected an RLE dict with 'counts' and 'size', got {type(rle).__name__}")
    size = rle["size"]
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in size):
        raise ValueError(f"{name}['size']: expected [height, width] of non-negative integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = _decompress(counts, name)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if (counts < 0).any():
        raise ValueError(f"{name}['counts']: run lengths must be >= 0, got {int(counts.min())}")
    if int(counts.sum()) != h * w:
        raise ValueError(
            f"{name}: RLE size mismatch: the runs cover {int(counts.sum())} pixels but size {h}x{w} has {h * w}"
        )
    values = np.arange(counts.size) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")


def _polygons_to_mask(polygons, h: int, w: int, name: str) -> np.ndarray:
    """Rasterise COCO polygons (a list of flat [x1, y1, x2, y2, ...] lists) by the even-odd rule.

    A pixel is set when its centre lies inside a polygon (the union over the
    polygons). ``pycocotools`` uses its own rasteriser, so edge pixels may differ.
    """
    mask = np.zeros((h, w), bool)
    for j, poly in enumerate(polygons):
        pts = to_numpy(poly, f"{name}[{j}]").reshape(-1)
        if pts.size < 6 or pts.size % 2:
            raise ValueError(f"{name}[{j}]: a polygon needs at least 3 (x, y) points, got {pts.size} numbers")
        xy = pts.reshape(-1, 2)
        x0, y0 = max(int(np.floor(xy[:, 0].min())), 0), max(int(np.floor(xy[:, 1].min())), 0)
        x1, y1 = min(int(np.ceil(xy[:, 0].max())), w), min(int(np.ceil(xy[:, 1].max())), h)
        if x1 <= x0 or y1 <= y0:
            continue
        xc = np.arange(x0, x1) + 0.5
        yc = (np.arange(y0, y1) + 0.5)[:, None]
        ax, ay = xy[:, 0][:, None], xy[:, 1][:, None]
        bx, by = np.roll(xy[:, 0], -1)[:, None], np.roll(xy[:, 1], -1)[:, None]
        spans = (ay <= yc.T) != (by <= yc.T)  # (edges, rows): the edge crosses the row's centre line
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = np.where(spans, ax + (yc.T - ay) * (bx - ax) / (by - ay), -np.inf)
        inside = (cross_x[:, :, None] > xc[None, None, :]).sum(0) % 2 == 1
        mask[y0:y1, x0:x1] |= inside
    return mask


# --------------------------------------------------------------------------- COCO


def _image_sizes(image_size, n: int) -> list[tuple[int, int]]:
    arr = np.asarray(image_size, dtype=object)
    bad = f"image_size: expected an int, (H, W) or one (H, W) per image ({n}), got {image_size!r}"
    if arr.ndim == 0:
        sizes = [(image_size, image_size)] * n
    elif arr.ndim == 1 and len(arr) in (2, 3):
        sizes = [tuple(arr[:2])] * n
    elif arr.ndim == 2 and arr.shape[1] in (2, 3):
        if len(arr) != n:
            raise ValueError(f"image_size: expected one (H, W) per image ({n}), got {len(arr)}")
        sizes = [tuple(row[:2]) for row in arr]
    else:
        raise ValueError(bad)
    for hw in sizes:
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0 for s in hw):
            raise ValueError(bad)
    return [(int(h), int(w)) for h, w in sizes]


def _check_target(target, name: str, num_classes: int, hw: tuple[int, int] | None):
    """Validated (boxes, labels, masks or None) of one target dict called ``name`` in messages."""
    if not isinstance(target, dict):
        raise ValueError(f"{name}: expected a dict with 'boxes' and 'labels', got {type(target).__name__}")
    for key in ("boxes", "labels"):
        if key not in target:
            raise ValueError(f"{name}: missing key {key!r}")
    boxes = boxes_array(target["boxes"], f"{name}['boxes']")
    labels = vector(target["labels"], f"{name}['labels']", len(boxes), dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels[(labels < 0) | (labels >= num_classes)][0])
        raise ValueError(f"{name}['labels']: label {bad} is outside 0..{num_classes - 1} (one per class name)")
    masks = None
    if target.get("masks") is not None:
        masks = to_numpy(target["masks"], f"{name}['masks']", bool)
        if masks.size == 0 and hw is not None:
            masks = masks.reshape(0, *hw)
        if masks.ndim != 3 or masks.shape[0] != len(boxes) or (hw is not None and masks.shape[1:] != hw):
            shape = f"({len(boxes)}, {hw[0]}, {hw[1]})" if hw is not None else f"({len(boxes)}, H, W)"
            raise ValueError(f"{name}['masks']: expected shape {shape} (one mask per box), got {masks.shape}")
    return boxes, labels, masks


def _class_names(class_names) -> list[str]:
    names = [class_names] if isinstance(class_names, str) else list(class_names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"class_names: expected a non-empty list of names, got {class_names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names: each name may appear once, got {names}")
    return names


def _xywh(box) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def to_coco(
    targets: Sequence[dict],
    image_size,
    class_names: Sequence[str],
    file_names: Sequence[str] | None = None,
    scores: bool = False,
) -> dict:
    """A COCO data set dict (``images``, ``annotations``, ``categories``) from per-image targets.

    Args:
        targets: one dict per image with ``boxes`` (k, 4) xyxy, ``labels`` (k,) ints indexing
            ``class_names``, and optionally ``masks`` bool (k, H, W), ``iscrowd`` (k,) and ``scores`` (k,).
        image_size: an int (square), (H, W) for every image, or a list with one (H, W) per image.
        class_names: the names labels index; category ids are ``label + 1``.
        file_names: one per image; default ``"000000.png"``, ``"000001.png"``, ...
        scores: also write each object's ``score`` (from ``target["scores"]``), e.g. to keep predictions.

    Image ids are 1, 2, ... in list order; annotation ids run 1, 2, ... over all images.
    ``area`` is the mask's pixel count when there are masks, else the box's w * h;
    ``segmentation`` (with masks only) is an uncompressed RLE.
    """
    if isinstance(targets, dict) or not isinstance(targets, Sequence):
        raise ValueError(f"targets: expected a list with one dict per image, got {type(targets).__name__}")
    names = _class_names(class_names)
    sizes = _image_sizes(image_size, len(targets))
    if file_names is None:
        file_names = [f"{i:06d}.png" for i in range(len(targets))]
    elif isinstance(file_names, str) or len(file_names) != len(targets):
        raise ValueError(f"file_names: expected one name per image ({len(targets)}), got {file_names!r}")
    images, annotations = [], []
    for i, (target, (h, w)) in enumerate(zip(targets, sizes)):
        boxes, labels, masks = _check_target(target, f"targets[{i}]", len(names), (h, w))
        iscrowd = vector(target.get("iscrowd", np.zeros(len(boxes))), f"targets[{i}]['iscrowd']", len(boxes))
        if scores:
            if "scores" not in target:
                raise ValueError(f"targets[{i}]: missing key 'scores' (scores=True)")
            score = vector(target["scores"], f"targets[{i}]['scores']", len(boxes))
        images.append({"id": i + 1, "file_name": str(file_names[i]), "height": h, "width": w})
        for j in range(len(boxes)):
            ann = {
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": int(labels[j]) + 1,
                "bbox": _xywh(boxes[j]),
                "iscrowd": int(bool(iscrowd[j])),
            }
            if masks is not None:
                ann["area"] = float(masks[j].sum())
                ann["segmentation"] = mask_to_rle(masks[j])
            else:
                ann["area"] = ann["bbox"][2] * ann["bbox"][3]
            if scores:
                ann["score"] = float(score[j])
            annotations.append(ann)
    categories = [{"id": k + 1, "name": name, "supercategory": "object"} for k, name in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def _require(record, keys: Sequence[str], name: str) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"{name}: expected a dict, got {type(record).__name__}")
    for key in keys:
        if key not in record:
            raise ValueError(f"{name}: missing key {key!r}")


def _sorted_categories(coco: dict) -> list[dict]:
    _require(coco, ("images", "categories"), "coco")
    for k, cat in enumerate(coco["categories"]):
        _require(cat, ("id", "name"), f"coco['categories'][{k}]")
    return sorted(coco["categories"], key=lambda c: c["id"])


def coco_class_names(coco: dict) -> list[str]:
    """The category names of a COCO dict in label order (categories sorted by id), as ``from_coco`` labels them."""
    return [c["name"] for c in _sorted_categories(coco)]


def from_coco(coco: dict) -> list[dict]:
    """Per-image targets from a COCO data set dict, in the order of ``coco["images"]``.

    Each target has ``boxes`` float32 (k, 4) xyxy, ``labels`` int32 (k,) (position of the
    category among the categories sorted by id; names from ``coco_class_names``),
    ``iscrowd`` bool (k,), ``image_id`` (int), plus ``masks`` bool (k, H, W) when every
    annotation of the image has a ``segmentation`` (RLE decoded exactly; polygons
    rasterised by pixel centre) and ``scores`` float32 (k,) when they have a ``score``.
    An image where only some annotations have a ``segmentation`` is an error.
    """
    label_of = {c["id"]: k for k, c in enumerate(_sorted_categories(coco))}
    per_image: dict = {}
    for i, img in enumerate(coco["images"]):
        _require(img, ("id", "height", "width"), f"coco['images'][{i}]")
        if img["id"] in per_image:
            raise ValueError(f"coco['images'][{i}]['id']: image id {img['id']} appears twice")
        per_image[img["id"]] = []
    annotations = coco.get("annotations", [])
    for j, ann in enumerate(annotations):
        name = f"coco['annotations'][{j}]"
        _require(ann, ("image_id", "category_id", "bbox"), name)
        if ann["image_id"] not in per_image:
            raise ValueError(f"{name}['image_id']: image id {ann['image_id']!r} is not in coco['images']")
        if ann["category_id"] not in label_of:
            raise ValueError(f"{name}['category_id']: category id {ann['category_id']!r} is not in coco['categories']")
        per_image[ann["image_id"]].append((j, ann))
    # Images without objects get empty masks / scores when the data set has them elsewhere.
    any_segm = any("segmentation" in a for a in annotations)
    any_score = any("score" in a for a in annotations)
    # One validation for all boxes (COCO train has ~860k): a bad row's index is the annotation's.
    all_xywh = boxes_array([a["bbox"] for a in annotations], "coco['annotations'][i]['bbox']", "xywh")

    targets = []
    for img in coco["images"]:
        h, w = int(img["height"]), int(img["width"])
        anns = per_image[img["id"]]
        xywh = all_xywh[[j for j, _ in anns]].reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).astype(np.float32)
        target = {
            "boxes": boxes,
            "labels": np.array([label_of[a["category_id"]] for _, a in anns], np.int32),
            "iscrowd": np.array([bool(a.get("iscrowd", 0)) for _, a in anns], bool),
            "image_id": img["id"],
        }
        with_segm = [("segmentation" in a) for _, a in anns]
        if all(with_segm) and any_segm:
            target["masks"] = np.zeros((0, h, w), bool)
            if anns:
                target["masks"] = np.stack([_segmentation_mask(a["segmentation"], h, w, j) for j, a in anns])
        elif any(with_segm):
            j = anns[with_segm.index(False)][0]
            raise ValueError(
                f"coco['annotations'][{j}]: missing key 'segmentation' while other objects of image {img['id']} "
                "have one"
            )
        if any_score and all("score" in a for _, a in anns):
            target["scores"] = np.array([a["score"] for _, a in anns], np.float32)
        targets.append(target)
    return targets


def _segmentation_mask(segm, h: int, w: int, j: int) -> np.ndarray:
    name = f"coco['annotations'][{j}]['segmentation']"
    if isinstance(segm, list):
        return _polygons_to_mask(segm, h, w, name)
    mask = rle_to_mask(segm, name)
    if mask.shape != (h, w):
        raise ValueError(f"{name}: RLE size mismatch: size is {list(mask.shape)} but the image is {h}x{w}")
    return mask


def detections_to_coco(
    predictions: Sequence[dict],
    image_ids: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
) -> list[dict]:
    """The results list ``pycocotools`` evaluates: ``[{"image_id", "category_id", "bbox", "score"}, ...]``.

    Args:
        predictions: one dict per image with ``boxes`` (k, 4) xyxy, ``labels`` (k,), ``scores`` (k,)
            and optionally ``masks`` (k, H, W) (then each result also has a compressed-RLE
            ``segmentation``, for ``COCOeval(..., "segm")``).
        image_ids: the COCO image id of each prediction; default 1, 2, ... (as ``to_coco`` numbers them).
        category_ids: the category id of each label; default ``label + 1`` (as ``to_coco``). For a data set
            with gaps in its ids pass ``sorted(c["id"] for c in coco["categories"])``.
    """
    if isinstance(predictions, dict) or not isinstance(predictions, Sequence):
        raise ValueError(f"predictions: expected a list with one dict per image, got {type(predictions).__name__}")
    if image_ids is None:
        image_ids = range(1, len(predictions) + 1)
    elif len(image_ids) != len(predictions):
        raise ValueError(f"image_ids: expected one id per prediction ({len(predictions)}), got {len(image_ids)}")
    num_classes = 2**31 if category_ids is None else len(category_ids)
    results = []
    for i, (pred, image_id) in enumerate(zip(predictions, image_ids)):
        boxes, labels, masks = _check_target(pred, f"predictions[{i}]", num_classes, None)
        if "scores" not in pred:
            raise ValueError(f"predictions[{i}]: missing key 'scores'")
        scores = vector(pred["scores"], f"predictions[{i}]['scores']", len(boxes))
        for j in range(len(boxes)):
            label = int(labels[j])
            result = {
                "image_id": int(image_id),
                "category_id": label + 1 if category_ids is None else int(category_ids[label]),
                "bbox": _xywh(boxes[j]),
                "score": float(scores[j]),
            }
            if masks is not None:
                result["segmentation"] = mask_to_rle(masks[j], compressed=True)
            results.append(result)
    return results


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def save_coco(path, coco) -> Path:
    """Write a COCO dict (or results list) as JSON; NumPy numbers and arrays are converted. Returns the path."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(coco, f, default=_json_default)
    return path


def load_coco(path) -> dict | list:
    """Read a COCO JSON file (data set dict or results list)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


# --------------------------------------------------------------------------- PASCAL VOC


def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def to_voc_xml(target: dict, filename: str, image_shape, class_names: Sequence[str]) -> str:
    """One image's PASCAL VOC annotation as an XML string.

    ``target`` holds ``boxes`` (k, 4) xyxy continuous and ``labels`` (k,) indexing
    ``class_names``, and optionally ``difficult`` and ``truncated`` (k,) flags (default 0).
    ``image_shape`` is (H, W) or (H, W, C). Boxes are written as 1-based inclusive pixels,
    ``xmin = x1 + 1, ymin = y1 + 1, xmax = x2, ymax = y2``, after rounding to whole pixel
    edges, so boxes on integer edges round-trip exactly through ``read_voc_xml``.
    """
    names = _class_names(class_names)
    shape = tuple(np.asarray(image_shape).reshape(-1).tolist())
    if len(shape) not in (2, 3) or any(not isinstance(s, int) or s <= 0 for s in shape):
        raise ValueError(f"image_shape: expected (H, W) or (H, W, C) of positive integers, got {image_shape!r}")
    boxes, labels, _ = _check_target(target, "target", len(names), None)
    boxes = np.rint(boxes).astype(np.int64)
    flags = {}
    for key in ("difficult", "truncated"):
        flags[key] = vector(target.get(key, np.zeros(len(boxes))), f"target['{key}']", len(boxes))
    root = ET.Element("annotation")
    _sub(root, "folder", "cvlib")
    _sub(root, "filename", filename)
    size = _sub(root, "size")
    _sub(size, "width", shape[1])
    _sub(size, "height", shape[0])
    _sub(size, "depth", shape[2] if len(shape) == 3 else 3)
    _sub(root, "segmented", 0)
    for j, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        if x2 <= x1 or y2 <= y1:
            raise ValueError(
                f"target['boxes']: box {j} {target['boxes'][j]} is empty after rounding to whole pixels; "
                "VOC cannot store it"
            )
        obj = _sub(root, "object")
        _sub(obj, "name", names[int(labels[j])])
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", int(bool(flags["truncated"][j])))
        _sub(obj, "difficult", int(bool(flags["difficult"][j])))
        box = _sub(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2)):
            _sub(box, tag, value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _number(element: ET.Element | None, tag: str, source: str, where: str, default=None) -> float:
    child = element.find(tag) if element is not None else None
    if child is None or child.text is None or not child.text.strip():
        if default is not None:
            return default
        raise ValueError(f"{source}: {where} has no <{tag}>")
    try:
        return float(child.text)
    except ValueError:
        raise ValueError(f"{source}: {where} <{tag}> is not a number: {child.text!r}") from None


def read_voc_xml(source, class_names: Sequence[str] | None = None) -> dict:
    """Read a PASCAL VOC annotation from a file path or an XML string.

    Returns ``{"filename": str, "image_shape": (H, W, C), "boxes": float32 (k, 4) xyxy continuous,
    "names": list of k str, "difficult": bool (k,), "truncated": bool (k,)}``, plus ``"labels"``
    int32 (k,) when ``class_names`` is given (an unknown name is an error). Continuous
    coordinates are ``x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax``; missing
    ``<difficult>`` / ``<truncated>`` count as 0.
    """
    if isinstance(source, str) and source.lstrip().startswith("<"):
        where, text = "VOC XML string", source
    elif isinstance(source, (str, Path)):
        where, text = str(source), Path(source).read_text(encoding="utf-8")  # a missing file: FileNotFoundError
    else:
        raise ValueError(f"source: expected a file path or an XML string, got {type(source).__name__}")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ValueError(f"{where}: malformed XML ({err})") from None
    if root.tag != "annotation":
        raise ValueError(f"{where}: expected an <annotation> root element, got <{root.tag}>")
    names, boxes, difficult, truncated = [], [], [], []
    for j, obj in enumerate(root.findall("object")):
        label = f"object {j}"
        name = obj.findtext("name")
        if name is None or not name.strip():
            raise ValueError(f"{where}: {label} has no <name>")
        box = obj.find("bndbox")
        if box is None:
            raise ValueError(f"{where}: {label} ({name.strip()}) has no <bndbox>")
        xmin, ymin, xmax, ymax = (
            _number(box, tag, where, f"{label} <bndbox>") for tag in ("xmin", "ymin", "xmax", "ymax")
        )
        if xmax < xmin - 1 or ymax < ymin - 1:
            raise ValueError(
                f"{where}: {label} ({name.strip()}) <bndbox> has negative size "
                f"(xmin={xmin:g}, ymin={ymin:g}, xmax={xmax:g}, ymax={ymax:g})"
            )
        names.append(name.strip())
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        difficult.append(bool(_number(obj, "difficult", where, label, default=0.0)))
        truncated.append(bool(_number(obj, "truncated", where, label, default=0.0)))
    size = root.find("size")
    shape = tuple(int(_number(size, tag, where, "<size>", default=0.0)) for tag in ("height", "width", "depth"))
    out = {
        "filename": (root.findtext("filename") or "").strip(),
        "image_shape": shape,
        "boxes": np.array(boxes, np.float32).reshape(-1, 4),
        "names": names,
        "difficult": np.array(difficult, bool),
        "truncated": np.array(truncated, bool),
    }
    if class_names is not None:
        known = {n: k for k, n in enumerate(_class_names(class_names))}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"{where}: unknown class name {unknown[0]!r}; class_names are {list(known)}")
        out["labels"] = np.array([known[n] for n in names], np.int32)
    return out


def write_voc_dataset(directory, scenes, split: str = "trainval") -> Path:
    """Write ``Scenes`` as a PASCAL VOC folder: ``JPEGImages/``, ``Annotations/`` and ``ImageSets/Main/{split}.txt``.

    Images are named ``000000``, ``000001``, ... and saved as JPEG (quality 95, with Pillow,
    which matplotlib already installs). Returns the directory.
    """
    from PIL import Image  # Pillow comes with matplotlib; imported here to keep this module light

    root = Path(directory)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    stems = [f"{i:06d}" for i in range(len(scenes))]
    for stem, (image, target) in zip(stems, scenes):
        Image.fromarray(np.asarray(image, np.uint8)).save(root / "JPEGImages" / f"{stem}.jpg", quality=95)
        xml = to_voc_xml(target, f"{stem}.jpg", np.shape(image), scenes.class_names)
        (root / "Annotations" / f"{stem}.xml").write_text(xml + "\n", encoding="utf-8")
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(s + "\n" for s in stems), encoding="utf-8")
    return root
