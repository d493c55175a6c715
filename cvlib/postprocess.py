"""Post-processing as the lecture states it, beside greedy NMS (``cvlib.boxes.nms`` / ``batched_nms``).

- ``rcnn_postprocess``: the lecture's rule for R-CNN (Girshick et al., CVPR 2014): discard the regions scoring
  below 0.5, then merge overlapping lower-scoring regions into a higher-scoring region of the same class. Merged
  regions either vanish (``merge="keep"``: R-CNN's per-class greedy NMS, IoU 0.3 in the paper's code) or vote on
  the box (``merge="average"``: box voting, Gidaris and Komodakis, ICCV 2015);
- ``yolo_postprocess``: the lecture's rule for YOLO (Redmon et al., CVPR 2016, as Andrew Ng's YOLO lecture
  states it): discard every box whose object probability p_c is below 0.6, then repeatedly keep the box of
  highest p_c and discard the remaining boxes that overlap it with IoU >= 0.5, whatever their class.

Both return ``{"boxes", "scores", "labels", "indices"}`` best first, NumPy in and out (tensors accepted).
Notebooks 04 (R-CNN family) and 05 (YOLO) compare them in AP with the greedy NMS the course uses.
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import check_finite, probability, to_numpy, vector
from cvlib.boxes import convert_format, iou, xyxy

__all__ = ["MERGE_MODES", "rcnn_postprocess", "yolo_postprocess"]

MERGE_MODES = ("keep", "average")


def _labels(labels, n: int) -> np.ndarray:
    """(n,) integer class labels (whole-valued floats accepted)."""
    arr = vector(labels, "labels", n, dtype=None)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"labels: expected integer class labels, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and arr.size and not np.all(arr == np.round(arr)):
        raise ValueError(f"labels: expected integer class labels, got {arr[arr != np.round(arr)][:3].tolist()}")
    return arr.astype(np.int64)


def _greedy(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou_threshold: float,
            inclusive: bool) -> list[tuple[int, np.ndarray]]:
    """Greedy suppression within each group: (kept index, indices it absorbed) pairs, best first.

    Boxes are visited by descending score, equal scores lower index first (as ``cvlib.boxes.nms``).
    A box still standing is kept and absorbs every remaining box of its group whose IoU with it is
    above ``iou_threshold`` (at or above it when ``inclusive``).
    """
    order = np.argsort(-scores, kind="stable")
    kept = []
    for group in np.unique(groups):
        remaining = order[groups[order] == group]
        while remaining.size:
            best, rest = remaining[0], remaining[1:]
            overlap = iou(boxes[best][None], boxes[rest])[0]
            absorbed = overlap >= iou_threshold if inclusive else overlap > iou_threshold
            kept.append((int(best), rest[absorbed]))
            remaining = rest[~absorbed]
    # all groups together, by descending score, equal scores lower index first (batched_nms's order)
    kept.sort(key=lambda pair: (-scores[pair[0]], pair[0]))
    return kept


def _result(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, indices: list[int], format: str) -> dict:
    idx = np.asarray(indices, dtype=np.int64)
    return {
        "boxes": convert_format(boxes.reshape(-1, 4), "xyxy", format),
        "scores": scores[idx],
        "labels": labels[idx],
        "indices": idx,
    }


def _passing(given, checked: np.ndarray, threshold: float) -> np.ndarray:
    """Indices whose value is at least ``threshold``, compared at the precision the values came in.

    ``checked`` is ``given`` validated as float64. A float32 score of 0.9 is 0.89999998 in float64 and would
    fall below a threshold of 0.9; compared as float32, as the caller wrote them, it passes.
    """
    dtype = getattr(given, "dtype", None)
    if dtype is not None and np.issubdtype(dtype, np.floating):
        return np.flatnonzero(checked.astype(dtype) >= dtype.type(threshold))
    return np.flatnonzero(checked >= threshold)


def rcnn_postprocess(boxes, scores, labels, score_threshold: float | None = 0.5, iou_threshold: float = 0.3,
                     merge: str = "keep", format: str = "xyxy") -> dict:
    """The lecture's R-CNN rule: drop regions scoring below ``score_threshold``, merge overlaps into the best.

    ``boxes`` (N, 4) in ``format``, ``scores`` (N,) finite, ``labels`` (N,) integers. Regions with a score
    below ``score_threshold`` (None: keep all) are discarded. The rest are visited by descending score (equal
    scores lower index first); a region not yet absorbed absorbs every lower-scoring region *of its class*
    not yet absorbed whose IoU with it is above ``iou_threshold`` (the R-CNN paper's code: 0.3).

    ``merge`` says what absorbing does to the absorbing region's box:

    - ``"keep"`` (the default): it keeps its coordinates and the absorbed regions vanish. This is R-CNN's
      own per-class greedy NMS, so with ``score_threshold=None`` the result is ``cvlib.boxes.batched_nms``
      at the same IoU; it is the default because it is what the R-CNN paper did, and it never moves a box
      the detector scored highest;
    - ``"average"``: its coordinates become the score-weighted mean of itself and every region it absorbed,
      weights max(score, 0) (box voting, Gidaris and Komodakis, ICCV 2015; a region with no positive weight
      in its group keeps its box). It helps when the absorbed boxes err on both sides of the object;
      notebook 04 measures whether it does.

    Returns ``{"boxes": (K, 4) in format, "scores": (K,), "labels": (K,) int64, "indices": (K,) int64}``,
    best first; ``indices`` are the kept (absorbing) regions' rows in the input, the scores theirs.
    """
    b = xyxy(boxes, format)
    s = vector(scores, "scores", len(b))
    l = _labels(labels, len(b))
    if score_threshold is not None:
        score_threshold = probability(score_threshold, "score_threshold")
    iou_threshold = probability(iou_threshold, "iou_threshold")
    if not isinstance(merge, str) or merge not in MERGE_MODES:
        raise ValueError(f"merge: expected one of {', '.join(map(repr, MERGE_MODES))}, got {merge!r}")
    candidates = np.arange(len(b)) if score_threshold is None else _passing(scores, s, score_threshold)
    groups = _greedy(b[candidates], s[candidates], l[candidates], iou_threshold, inclusive=False)
    indices = [int(candidates[best]) for best, _ in groups]
    if merge == "keep":
        out = b[indices]
    else:
        out = np.empty((len(groups), 4))
        for row, (best, absorbed) in enumerate(groups):
            members = candidates[np.concatenate([[best], absorbed]).astype(np.int64)]
            weights = np.maximum(s[members], 0.0)
            out[row] = weights @ b[members] / weights.sum() if weights.sum() > 0 else b[members[0]]
    return _result(out, s, l, indices, format)


def _class_probs(class_probs, n: int) -> np.ndarray:
    """(n, C) class probabilities, C >= 1, finite."""
    arr = to_numpy(class_probs, "class_probs")
    if n == 0 and arr.size == 0:
        return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 1)
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 1:
        raise ValueError(f"class_probs: expected shape ({n}, C) (one row of class probabilities per box), "
                         f"got {arr.shape}")
    return check_finite(arr, "class_probs")


def yolo_postprocess(boxes, objectness, class_probs, objectness_threshold: float = 0.6, iou_threshold: float = 0.5,
                     class_agnostic: bool = True, format: str = "xyxy") -> dict:
    """The lecture's YOLO rule: drop boxes with p_c below ``objectness_threshold``, then suppress by p_c.

    ``boxes`` (N, 4) in ``format``, ``objectness`` (N,) p_c = P(object) in [0, 1], ``class_probs`` (N, C)
    P(class | object) (as ``cvlib.models.yolo.decode_grid`` returns them). Each box's label is the argmax of
    its class probabilities. The rule, as the lecture states it:

    1. discard every box with p_c below ``objectness_threshold`` (the lecture: 0.6);
    2. while boxes remain: keep the one with the highest p_c (equal p_c: lower index first), and discard
       every remaining box whose IoU with it is **at or above** ``iou_threshold`` (the lecture: 0.5).

    With ``class_agnostic=True`` (the lecture) boxes of every class suppress each other; with False, only
    boxes of the same label do. Away from IoUs exactly equal to the threshold this is greedy NMS
    (``cvlib.boxes.nms``, which suppresses only *above* it) on p_c after step 1.

    Returns ``{"boxes": (K, 4) in format, "scores": (K,) p_c, "labels": (K,) int64, "indices": (K,) int64}``,
    best first.
    """
    b = xyxy(boxes, format)
    p = vector(objectness, "objectness", len(b))
    if p.size and ((p < 0).any() or (p > 1).any()):
        raise ValueError(f"objectness: expected probabilities in [0, 1], got values from {p.min():g} to {p.max():g}")
    probs = _class_probs(class_probs, len(b))
    objectness_threshold = probability(objectness_threshold, "objectness_threshold")
    iou_threshold = probability(iou_threshold, "iou_threshold")
    if not isinstance(class_agnostic, (bool, np.bool_)):
        raise ValueError(f"class_agnostic: expected True or False, got {class_agnostic!r}")
    labels = probs.argmax(axis=1).astype(np.int64)
    candidates = _passing(objectness, p, objectness_threshold)
    groups = np.zeros(len(candidates), np.int64) if class_agnostic else labels[candidates]
    kept = _greedy(b[candidates], p[candidates], groups, iou_threshold, inclusive=True)
    indices = [int(candidates[best]) for best, _ in kept]
    return _result(b[indices], p, labels, indices, format)
