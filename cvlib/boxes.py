"""Box maths: formats, area, IoU and GIoU, clipping, R-CNN deltas, non-maximum suppression.

Formats are named as ``keras.utils.bounding_boxes`` names them:

- ``"xyxy"``: (x1, y1, x2, y2), corners;
- ``"yxyx"``: (y1, x1, y2, x2), TensorFlow's order;
- ``"xywh"``: (x, y, w, h), top-left corner and size (COCO);
- ``"center_xywh"``: (cx, cy, w, h), centre and size (YOLO).

Coordinates are continuous pixels: a box from 0 to 10 is 10 wide (no "+1").
Inputs may be lists, NumPy arrays or tensors; outputs are NumPy float64.
Introduced in notebook 01 (IoU and mAP).
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import boxes_array, check_format

__all__ = ["convert_format", "area", "intersection", "iou", "giou"]


def _to_xyxy(arr: np.ndarray, format: str) -> np.ndarray:
    a, b, c, d = np.moveaxis(arr, -1, 0)
    if format == "xyxy":
        return arr
    if format == "yxyx":
        return np.stack([b, a, d, c], axis=-1)
    if format == "xywh":
        return np.stack([a, b, a + c, b + d], axis=-1)
    return np.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=-1)  # center_xywh


def _from_xyxy(arr: np.ndarray, format: str) -> np.ndarray:
    x1, y1, x2, y2 = np.moveaxis(arr, -1, 0)
    if format == "xyxy":
        return arr
    if format == "yxyx":
        return np.stack([y1, x1, y2, x2], axis=-1)
    if format == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)  # center_xywh


def convert_format(boxes, source: str, target: str) -> np.ndarray:
    """Convert boxes of shape (..., 4) from format ``source`` to format ``target``."""
    check_format(source, "source")
    check_format(target, "target")
    arr = boxes_array(boxes, "boxes", source, ndim=None)
    if source == target:
        return arr.copy()
    return _from_xyxy(_to_xyxy(arr, source), target)


def xyxy(boxes, format: str = "xyxy", name: str = "boxes") -> np.ndarray:
    """Validate (N, 4) boxes in ``format`` and return them as ``xyxy`` (a helper for the rest of cvlib)."""
    return _to_xyxy(boxes_array(boxes, name, format), format)


def area(boxes, format: str = "xyxy") -> np.ndarray:
    """Area of each box: (N, 4) -> (N,)."""
    b = xyxy(boxes, format)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _pairwise_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def intersection(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise intersection areas: (N, 4) and (M, 4) -> (N, M)."""
    return _pairwise_intersection(xyxy(boxes1, format, "boxes1"), xyxy(boxes2, format, "boxes2"))


def _iou_xyxy(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and union of validated xyxy boxes."""
    inter = _pairwise_intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    # Two zero-area boxes have no union: their IoU is defined as 0, not NaN.
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return result, union


def iou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise intersection over union: (N, 4) and (M, 4) -> (N, M), values in [0, 1].

    IoU(A, B) = |A ∩ B| / |A ∪ B|; pairs whose union is empty (two degenerate boxes) get 0.
    """
    return _iou_xyxy(xyxy(boxes1, format, "boxes1"), xyxy(boxes2, format, "boxes2"))[0]


def giou(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise generalised IoU (Rezatofighi et al., CVPR 2019): (N, 4), (M, 4) -> (N, M) in [-1, 1].

    GIoU = IoU - |C \\ (A ∪ B)| / |C|, with C the smallest box enclosing A and B.
    """
    a = xyxy(boxes1, format, "boxes1")
    b = xyxy(boxes2, format, "boxes2")
    overlap, union = _iou_xyxy(a, b)
    cw = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    ch = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    hull = cw * ch
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(hull > 0, (hull - union) / np.where(hull > 0, hull, 1), 0.0)
    return overlap - penalty
