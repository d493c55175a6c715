"""Anchors: the reference boxes a region proposal network scores and refines (notebook 04).

Faster R-CNN (Ren, He, Girshick and Sun, NeurIPS 2015) places ``A = len(scales) *
len(aspect_ratios)`` anchors on every cell of a backbone's feature map, predicts for each an
objectness score and four deltas (``cvlib.boxes.encode_deltas``), and trains on a sample of
anchors labelled by their IoU with the ground truth:

- **positive** (1): IoU of at least ``positive_iou`` (0.7) with some object, *or* the best
  anchor of an object (so every object gets one, however odd its shape);
- **negative** (0): IoU below ``negative_iou`` (0.3) with every object;
- **ignored** (-1): in between; they count in no loss.

Then ``sample_anchors`` keeps at most ``batch_size`` (256) labelled anchors per image, up to
``positive_fraction`` (half) of them positive, so the rare positives are not drowned.

Conventions as in ``cvlib.boxes``: NumPy in and out, boxes in continuous-pixel ``xyxy``.
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import boxes_array, probability, to_numpy
from cvlib.boxes import iou

__all__ = ["generate_anchors", "match_anchors", "sample_anchors"]


def _positive_numbers(values, name: str) -> np.ndarray:
    arr = to_numpy(values, name).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name}: expected one or more positive numbers, got {values!r}")
    return arr


def generate_anchors(
    feature_shape, stride, scales=(32, 64, 128), aspect_ratios=(0.5, 1.0, 2.0), offset: float = 0.5
) -> np.ndarray:
    """Anchors for a feature map of ``(rows, cols)`` cells: (rows * cols * A, 4) ``xyxy`` image pixels.

    Cell ``(i, j)`` is centred at ``((j + offset) * stride, (i + offset) * stride)``; 0.5 puts the
    centre in the middle of the ``stride x stride`` patch the cell summarises. Each anchor of
    scale ``s`` and aspect ratio ``r = h / w`` has area ``s**2``: ``w = s / sqrt(r)``,
    ``h = s * sqrt(r)``. Order: cells row by row, and within a cell scale-major
    (all ratios of the first scale first), so ``reshape(rows, cols, A, 4)`` gives the grid back.
    """
    size = to_numpy(feature_shape, "feature_shape")
    if size.shape != (2,) or np.any(size < 0) or np.any(size != np.round(size)):
        raise ValueError(f"feature_shape: expected (rows, cols) non-negative integers, got {feature_shape!r}")
    rows, cols = int(size[0]), int(size[1])
    stride = float(_positive_numbers(stride, "stride")[0])
    scales = _positive_numbers(scales, "scales")
    ratios = _positive_numbers(aspect_ratios, "aspect_ratios")
    offset = probability(offset, "offset")
    s, r = np.meshgrid(scales, ratios, indexing="ij")
    half_w, half_h = (s / np.sqrt(r)).ravel() / 2, (s * np.sqrt(r)).ravel() / 2  # (A,)
    cy, cx = np.meshgrid((np.arange(rows) + offset) * stride, (np.arange(cols) + offset) * stride, indexing="ij")
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)  # (cells, 1)
    anchors = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)  # (cells, A, 4)
    return anchors.reshape(-1, 4)


def match_anchors(
    anchors, gt_boxes, positive_iou: float = 0.7, negative_iou: float = 0.3, allow_low_quality: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Label anchors against the ground truth: (N, 4), (M, 4) ``xyxy`` -> (matched (N,) int64, labels (N,) int8).

    ``matched[i]`` is the index of the object anchor ``i`` overlaps most (-1 when there are no
    objects); ``labels[i]`` is 1 (positive), 0 (negative) or -1 (ignored), by the rules in the
    module docstring. With ``allow_low_quality``, every anchor that ties for an object's highest
    IoU becomes positive for it, as in Faster R-CNN (and torchvision's ``Matcher``); an object
    that overlaps no anchor at all (IoU 0) gets none. Thresholds: IoU >= ``positive_iou`` is
    positive, IoU < ``negative_iou`` negative.
    """
    a = boxes_array(anchors, "anchors")
    g = boxes_array(gt_boxes, "gt_boxes")
    positive_iou = probability(positive_iou, "positive_iou")
    negative_iou = probability(negative_iou, "negative_iou")
    if negative_iou > positive_iou:
        raise ValueError(f"negative_iou: {negative_iou} must not exceed positive_iou ({positive_iou})")
    if len(g) == 0:  # an image without objects: every anchor is background
        return np.full(len(a), -1, np.int64), np.zeros(len(a), np.int8)
    overlaps = iou(a, g)  # (N, M)
    matched = overlaps.argmax(axis=1) if len(a) else np.zeros(0, np.int64)
    best = overlaps.max(axis=1) if len(a) else np.zeros(0)
    labels = np.full(len(a), -1, np.int8)
    labels[best < negative_iou] = 0
    labels[best >= positive_iou] = 1
    if allow_low_quality and len(a):
        # Each object's best anchors become positive. Their box target stays the object they overlap
        # most (``matched``), as in torchvision, even when that is another object.
        best_per_object = overlaps.max(axis=0)  # (M,)
        labels[np.nonzero((overlaps == best_per_object) & (best_per_object > 0))[0]] = 1
    return matched.astype(np.int64), labels


def sample_anchors(labels, batch_size: int = 256, positive_fraction: float = 0.5, rng=None) -> np.ndarray:
    """Subsample labelled anchors: (N,) labels in {1, 0, -1} -> (N,) labels with the unsampled set to -1.

    Keeps at most ``batch_size * positive_fraction`` positives (drawn at random when there are
    more), then fills the rest of ``batch_size`` with random negatives, as Faster R-CNN's
    256-anchor mini-batch. ``rng`` is a ``numpy.random.Generator`` or a seed.
    """
    l = to_numpy(labels, "labels", dtype=None)
    if l.ndim != 1 or (l.size and not np.isin(l, (-1, 0, 1)).all()):
        raise ValueError(f"labels: expected a 1-D array of 1, 0 and -1, got shape {l.shape}, values {np.unique(l)[:5]}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    positive_fraction = probability(positive_fraction, "positive_fraction")
    rng = np.random.default_rng(rng)
    out = np.full(l.shape, -1, np.int8)
    positives, negatives = np.flatnonzero(l == 1), np.flatnonzero(l == 0)
    n_pos = min(len(positives), int(batch_size * positive_fraction))
    n_neg = min(len(negatives), batch_size - n_pos)
    out[rng.choice(positives, n_pos, replace=False)] = 1
    out[rng.choice(negatives, n_neg, replace=False)] = 0
    return out
