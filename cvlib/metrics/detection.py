"""Detection metrics: precision-recall curves, average precision (VOC07, VOC12, COCO), COCO evaluation.

- :func:`precision_recall` ranks the detections of one class by score and marks each a
  true or false positive at one IoU threshold (greedy matching, best score first);
- :func:`average_precision` turns such a curve into one number by the 11-point rule of
  VOC2007, the all-point rule of the VOC2010-2012 devkit or the 101-point rule of COCO;
- :func:`evaluate_coco` is the COCO benchmark for boxes (``COCOeval(..., "bbox")``:
  10 IoU thresholds, 4 object-size ranges, 1/10/100 detections per image) and, with
  ``iou_type="segm"``, for instance masks (``COCOeval(..., "segm")``: the same rules with mask
  IoU). It gives the same numbers as pycocotools, from NumPy only.

All three share one greedy matcher, so "true positive" means the same thing everywhere.
Boxes are in continuous pixel coordinates (no VOC "+1" on widths).
Introduced in notebook 01 (IoU and mAP); mask AP in notebook 12 (Mask R-CNN).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from cvlib._checks import check_format, probability, to_numpy, vector
from cvlib.boxes import iou, xyxy
from cvlib.data.formats import _polygons_to_mask, rle_to_mask

__all__ = ["AP_METHODS", "COCO_STAT_NAMES", "PRCurve", "average_precision", "evaluate_coco", "precision_recall"]


# ---------------------------------------------------------------------------------------------
# The greedy matcher shared by every metric here
# ---------------------------------------------------------------------------------------------


def _greedy_match(det_rank, pair_det, pair_gt, pair_iou, gt_ignore, gt_reusable, thresholds) -> np.ndarray:
    """Match detections to ground truth greedily, best score first, for T thresholds and A ignore masks at once.

    Detections and ground truths live in groups (an image, or an image and a class) and only meet
    inside their group. ``det_rank`` (D,) is each detection's place in its group's score order
    (0 = best). ``pair_det``, ``pair_gt``, ``pair_iou`` (P,) list the pairs that may match: a detection
    and a ground truth of the same group, with IoU >= the lowest threshold. ``gt_ignore`` (A, G) are
    alternative ignore masks (COCO's area ranges), ``gt_reusable`` (G,) marks ground truths that take
    any number of detections (COCO crowds), ``thresholds`` (T,).

    The rule is COCOeval's ``evaluateImg``: a detection takes, among the ground truths with IoU >=
    threshold that are still free (or reusable), a non-ignored one if there is any; among those the
    highest IoU, and on a tie the last in input order (so ground truths must be numbered in input
    order within each group). Otherwise it stays unmatched.

    Returns (T, A, D) int: the index of the matched ground truth, or -1.
    """
    T, A, D = len(thresholds), gt_ignore.shape[0], len(det_rank)
    matched = np.full((T, A, D), -1, dtype=np.int64)
    if len(pair_det) == 0:
        return matched
    # A detection only sees what better-scored detections of its own group took, so groups are
    # independent and advance in lock-step: step r matches the r-th detection of every group.
    # Sorting the pairs by (rank, detection) makes each step one slice, each detection a segment.
    order = np.lexsort((pair_det, det_rank[pair_det]))
    pair_det, pair_gt, pair_iou = pair_det[order], pair_gt[order], pair_iou[order]
    start = np.flatnonzero(np.r_[True, pair_det[1:] != pair_det[:-1]])
    seg_det = pair_det[start]
    seg = np.repeat(np.arange(len(start)), np.diff(np.r_[start, len(pair_det)]))
    local = np.arange(len(pair_det)) - start[seg]
    # The choice is the maximum of the key (not ignored, IoU, input order) over the free candidate
    # pairs. Rank each segment's pairs by that key once, per ignore mask: a step is then one
    # segment-maximum of integer ranks. by_key[a, start + j] is the pair of rank j in its segment.
    by_key = np.empty((A, len(pair_det)), dtype=np.int64)
    key = np.empty_like(by_key)
    for a in range(A):
        by_key[a] = np.lexsort((pair_gt, pair_iou, ~gt_ignore[a, pair_gt], seg))
        key[a, by_key[a]] = local
    above = pair_iou >= thresholds[:, None]  # (T, P)
    taken = np.zeros((T, A, gt_ignore.shape[1]), dtype=bool)
    seg_rank = det_rank[seg_det]
    steps = np.searchsorted(seg_rank, np.arange(seg_rank[-1] + 2))
    bounds = np.r_[start, len(pair_det)]
    a_axis = np.arange(A)[:, None]
    for s0, s1 in itertools.pairwise(steps):
        if s0 == s1:
            continue
        p0, p1 = bounds[s0], bounds[s1]
        candidate = ~taken[:, :, pair_gt[p0:p1]] & above[:, None, p0:p1]  # (T, A, pairs of this step)
        best = np.maximum.reduceat(np.where(candidate, key[:, p0:p1], -1), start[s0:s1] - p0, axis=2)
        hit = best >= 0
        gt = np.where(hit, pair_gt[by_key[a_axis, start[s0:s1] + np.maximum(best, 0)]], -1)
        matched[:, :, seg_det[s0:s1]] = gt
        t, a, j = np.nonzero(hit & ~gt_reusable[gt])  # gt is only read where hit
        taken[t, a, gt[t, a, j]] = True
    return matched


# ---------------------------------------------------------------------------------------------
# One class, one threshold: the precision-recall curve
# ---------------------------------------------------------------------------------------------


class PRCurve(NamedTuple):
    """Precision-recall curve of one class: one point per counted detection, best score first.

    precision (K,), recall (K,): after the k-th detection; scores (K,): its score (the
    threshold that gives this point); tp (K,) bool: whether it is a true positive;
    num_gt: number of ground-truth objects that count (not ignored).
    """

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    tp: np.ndarray
    num_gt: int


def _one_image(det_scores) -> bool:
    """A 1-D array of scores is one image; a sequence of per-image score arrays is several."""
    try:
        return to_numpy(det_scores, "det_scores").ndim <= 1
    except ValueError:  # ragged: one array per image, of different lengths
        return False


def _split_images(gt_boxes, det_boxes, det_scores, gt_ignore) -> tuple[list[tuple], bool]:
    """Per-image (gt_boxes, det_boxes, det_scores, gt_ignore) and whether several images were given."""
    if _one_image(det_scores):
        return [(gt_boxes, det_boxes, det_scores, gt_ignore)], False
    n = len(det_scores)
    given = {"gt_boxes": gt_boxes, "det_boxes": det_boxes}
    if gt_ignore is not None:
        given["gt_ignore"] = gt_ignore
    for name, value in given.items():
        if not hasattr(value, "__len__") or len(value) != n:
            got = len(value) if hasattr(value, "__len__") else type(value).__name__
            raise ValueError(f"{name}: expected one entry per image ({n} images in det_scores), got {got}")
    ignores = gt_ignore if gt_ignore is not None else [None] * n
    return list(zip(gt_boxes, det_boxes, det_scores, ignores)), True


def precision_recall(gt_boxes, det_boxes, det_scores, iou_threshold=0.5, format="xyxy", gt_ignore=None) -> PRCurve:
    """Precision-recall curve of one class at one IoU threshold.

    One image: ``gt_boxes`` (G, 4), ``det_boxes`` (D, 4), ``det_scores`` (D,), ``gt_ignore`` (G,) or
    None. Several images: sequences of such arrays, one per image, all of the same length.
    Boxes are in ``format`` ("xyxy", "yxyx", "xywh", "center_xywh").

    Matching is greedy, as in COCOeval: detections are taken best score first (a stable sort: ties
    keep input order), and each is matched to the still unmatched ground truth of highest IoU
    (:func:`cvlib.boxes.iou`) with IoU >= ``iou_threshold``; unmatched detections are false
    positives. (The VOC devkit differs in one detail: it looks only at the object of highest IoU
    and, if that one is taken, calls the detection a duplicate, and it needs IoU > 0.5.)
    Detections of all images are then ranked together by score (ties: earlier image first).

    ``gt_ignore`` marks objects that should neither be required nor penalised, like VOC's
    "difficult": they are left out of ``num_gt``, and a detection that can only match one of them
    (no regular object is free) is dropped from the curve, neither TP nor FP, however many
    detections land on it. Dropped detections are not among the K points.

    Returns a :class:`PRCurve`. With no ground truth (``num_gt == 0``) recall is undefined and is
    NaN; with no detections the arrays are empty.
    """
    check_format(format)
    threshold = probability(iou_threshold, "iou_threshold")
    if threshold == 0:
        raise ValueError("iou_threshold: expected a number in (0, 1], got 0 (every pair of boxes would match)")
    images, several = _split_images(gt_boxes, det_boxes, det_scores, gt_ignore)
    empty_int, empty_float = np.zeros(0, dtype=np.int64), np.zeros(0)
    ranks, pair_det, pair_gt = [empty_int], [empty_int], [empty_int]
    scores, pair_iou, ignores = [empty_float], [empty_float], [np.zeros(0, dtype=bool)]
    n_gt = n_det = 0
    for i, (g, d, s, ig) in enumerate(images):
        at = f"[{i}]" if several else ""
        g = xyxy(g, format, f"gt_boxes{at}")
        d = xyxy(d, format, f"det_boxes{at}")
        s = vector(s, f"det_scores{at}", len(d))
        ig = np.zeros(len(g), dtype=bool) if ig is None else vector(ig, f"gt_ignore{at}", len(g), dtype=bool)
        order = np.argsort(-s, kind="stable")
        overlap = iou(d[order], g)  # (D, G), rows in score order
        dd, gg = np.nonzero(overlap >= threshold)
        pair_det.append(dd + n_det)
        pair_gt.append(gg + n_gt)
        pair_iou.append(overlap[dd, gg])
        ranks.append(np.arange(len(d)))
        scores.append(s[order])
        ignores.append(ig)
        n_gt += len(g)
        n_det += len(d)
    ignore = np.concatenate(ignores)
    rank, score = np.concatenate(ranks), np.concatenate(scores)
    # Ignored objects are reusable: every detection on a difficult object is ignored, as in VOC.
    matched = _greedy_match(
        rank,
        np.concatenate(pair_det),
        np.concatenate(pair_gt),
        np.concatenate(pair_iou),
        ignore[None],
        ignore,
        np.array([threshold]),
    )[0, 0]
    hit = matched >= 0
    counted = ~np.append(ignore, False)[matched]  # matched == -1 reads the padding False
    order = np.argsort(-score, kind="stable")  # images are concatenated in order: ties go to the earlier image
    order = order[counted[order]]
    tp = hit[order]
    cum_tp = np.cumsum(tp)
    precision = cum_tp / np.arange(1, len(tp) + 1)
    num_gt = int(np.count_nonzero(~ignore))
    recall = cum_tp / num_gt if num_gt else np.full(len(tp), np.nan)
    return PRCurve(precision, recall, score[order], tp, num_gt)


# ---------------------------------------------------------------------------------------------
# Average precision
# ---------------------------------------------------------------------------------------------

AP_METHODS = ("voc07", "voc12", "coco")

# COCOeval's recall thresholds, built the same way so that the floats are identical.
_COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def _envelope(precision: np.ndarray) -> np.ndarray:
    """Monotone precision envelope: at each point, the best precision at this recall or beyond."""
    return np.maximum.accumulate(precision[::-1])[::-1]


def _precision_at(recall: np.ndarray, envelope: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Interpolated precision at recall ``points``: envelope at the first recall >= point, 0 past the end."""
    if len(recall) == 0:
        return np.zeros(len(points))
    idx = np.searchsorted(recall, points, side="left")
    return np.where(idx < len(recall), envelope[np.minimum(idx, len(recall) - 1)], 0.0)


def average_precision(recall, precision, method="voc12") -> float:
    """Average precision of one precision-recall curve: recall (K,) non-decreasing, precision (K,), in [0, 1].

    - ``"voc07"``: 11-point interpolation of VOC2007, mean over t in {0, 0.1, ..., 1} of the best
      precision at recall >= t (0 if recall never reaches t). The thresholds are exactly i/10; the
      common Python port (``np.arange(0, 1.1, 0.1)``) makes 0.3, 0.6 and 0.7 a hair too large and so
      misses a recall of exactly 0.3, 0.6 or 0.7.
    - ``"voc12"``: all-point AP of the VOC2010-2012 devkit, the area under the monotone precision
      envelope (the curve is closed with recall 0 and recall 1 at precision 0).
    - ``"coco"``: 101-point interpolation of COCOeval: at recall thresholds linspace(0, 1, 101), the
      envelope at the first point with recall >= threshold (0 past the last point), averaged.

    An empty curve (no detections) has AP 0. Use the output of :func:`precision_recall`.
    """
    if method not in AP_METHODS:
        raise ValueError(f"method: expected one of {', '.join(map(repr, AP_METHODS))}, got {method!r}")
    recall = to_numpy(recall, "recall")
    if recall.size and np.isnan(recall).all():
        # What precision_recall returns for a class without ground truth: there is nothing to recall.
        raise ValueError("recall: all NaN (no ground truth, num_gt == 0): AP is undefined; leave this class out")
    recall = vector(recall, "recall")
    precision = vector(precision, "precision")
    if len(precision) != len(recall):
        raise ValueError(f"precision: expected {len(recall)} entries (one per recall value), got {len(precision)}")
    for name, values in (("recall", recall), ("precision", precision)):
        bad = np.flatnonzero((values < 0) | (values > 1))
        if bad.size:
            raise ValueError(f"{name}: values must be in [0, 1], got {values[bad[0]]} at index {bad[0]}")
    drop = np.flatnonzero(np.diff(recall) < 0)
    if drop.size:
        i = drop[0]
        raise ValueError(f"recall: must be non-decreasing, falls from {recall[i]} to {recall[i + 1]} at index {i + 1}")
    if len(recall) == 0:
        return 0.0
    if method == "voc12":
        # The devkit pads the curve with (0, 0) and (1, 0), takes the envelope and sums
        # precision x recall step wherever the recall changes.
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = _envelope(np.concatenate([[0.0], precision, [0.0]]))
        step = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))
    points = np.arange(11) / 10 if method == "voc07" else _COCO_RECALL_THRESHOLDS
    return float(np.mean(_precision_at(recall, _envelope(precision), points)))


# ---------------------------------------------------------------------------------------------
# COCO evaluation
# ---------------------------------------------------------------------------------------------

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# COCOeval's default parameters, built the same way so that the floats are identical
# (linspace, not arange: arange drifts and 0.75 would not be found again in summarize).
_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
_AREA_RANGES = {"all": (0.0, 1e5**2), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}
_MAX_DETS = (1, 10, 100)


def _entries(items, name: str):
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"{name}: expected a list of dicts, got {type(items).__name__}")
    return items


def _column(items, key: str, name: str) -> list:
    """``[item[key] for item in items]``, or a ValueError naming the first entry without ``key``."""
    try:
        return [item[key] for item in items]
    except (KeyError, TypeError, IndexError):
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ValueError(f"{name}[{i}]: expected a dict, got {type(item).__name__}") from None
            if key not in item:
                raise ValueError(f"{name}[{i}]: missing key {key!r}") from None
        raise


def _numbers(values: list, name: str, width: int | None = None) -> np.ndarray:
    """One numeric field of every entry as float64, (N,) or (N, width); ``name`` has a {} for the entry."""
    shape = (len(values),) if width is None else (len(values), width)
    if not values:
        return np.zeros(shape)
    try:
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape == shape and np.isfinite(arr).all():
            return arr
    except (TypeError, ValueError):
        pass
    want = "a finite number" if width is None else f"{width} finite numbers [x, y, w, h]"
    for i, value in enumerate(values):
        try:
            ok = np.shape(value) == shape[1:] and np.isfinite(np.asarray(value, dtype=np.float64)).all()
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{name.format(i)}: expected {want}, got {value!r}")
    raise ValueError(f"{name.format('...')}: expected {want} in every entry")


def _sorted_ids(ids: list, name: str) -> list:
    try:
        return sorted(set(ids))
    except TypeError as err:  # unhashable, or numbers mixed with strings
        raise ValueError(f"{name}: ids must be all numbers or all strings ({err})") from None


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _first_unknown(values: list, known) -> int | None:
    """Index of the first value that is not hashable or not in ``known`` (a dict or set), else None."""
    for i, value in enumerate(values):
        try:
            if value in known:
                continue
        except TypeError:  # unhashable, e.g. a list
            pass
        return i
    return None


def _lookup(values: list, index: dict, name: str, where: str) -> np.ndarray:
    """Positions of ``values`` in ``index``; a ValueError names the first id that is not there."""
    try:
        pos = np.fromiter((index.get(v, -1) for v in values), dtype=np.int64, count=len(values))
        if (pos >= 0).all():
            return pos
    except TypeError:
        pass
    i = _first_unknown(values, index)
    raise ValueError(f"{name.format(i)}: {values[i]!r} is not an id in {where}")


class _Boxes(NamedTuple):
    """Parsed annotations or detections, in input order."""

    image: np.ndarray  # (N,) index into the sorted image ids
    category: np.ndarray  # (N,) index into the sorted category ids
    xywh: np.ndarray  # (N, 4)
    corners: np.ndarray  # (N, 4) xyxy
    area: np.ndarray  # (N,)
    crowd: np.ndarray  # (N,) bool
    score: np.ndarray  # (N,)
    masks: np.ndarray  # (N,) object: a bool (H, W) mask each for "segm", None for "bbox"


# ---------------------------------------------------------------------------------------------
# Masks ("segm")
# ---------------------------------------------------------------------------------------------


def _image_shapes(ground_truth, image_ids: list) -> list:
    """(height, width) of each sorted image id where its entry gives both, else None (then masks set it)."""
    shapes = dict.fromkeys(image_ids)
    for image in ground_truth["images"]:
        if "height" in image and "width" in image:
            shapes[image["id"]] = (image["height"], image["width"])
    out = []
    for image_id in image_ids:
        hw = shapes[image_id]
        if hw is not None and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                      for v in hw):
            raise ValueError(f"ground_truth['images']: image {image_id!r} has height and width {hw!r}; "
                             "expected positive integers")
        out.append(None if hw is None else (int(hw[0]), int(hw[1])))
    return out


def _decode_mask(segm, shape, name: str) -> np.ndarray:
    """One ``segmentation`` as a bool (H, W) mask: an RLE dict, a polygon list or a 2-D array.

    ``shape`` is the image's (H, W) when known (needed for polygons); a mask of another shape is an error.
    """
    if isinstance(segm, Mapping):
        mask = rle_to_mask(dict(segm), name)
    elif isinstance(segm, (list, tuple)):
        if shape is None:
            raise ValueError(f"{name}: polygons need the image's size: give its entry in ground_truth['images'] "
                             "a 'height' and a 'width'")
        mask = _polygons_to_mask(segm, *shape, name)
    else:
        mask = to_numpy(segm, name)
        if mask.ndim != 2:
            raise ValueError(f"{name}: expected an RLE dict, a list of polygons or a 2-D (H, W) mask, "
                             f"got an array of shape {mask.shape}")
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name}: a binary mask holds only 0/1 (or False/True), got values such as "
                             f"{mask[~np.isin(mask, (0, 1))][0]!r}")
        mask = mask.astype(bool)
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(f"{name}: the mask has shape {mask.shape} but its image is {shape[0]}x{shape[1]} "
                         "(height x width)")
    return mask


def _parse_masks(items, image: np.ndarray, shapes: list, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every entry's ``segmentation`` decoded: masks (N,) object and their tight boxes (N, 4) xywh.

    All masks of one image must have one shape: the image's ``height`` x ``width`` if its entry gives
    them, else the shape of its first mask.
    """
    segms = _column(items, "segmentation", name)
    shapes = list(shapes)
    masks = np.empty(len(segms), dtype=object)
    boxes = np.zeros((len(segms), 4))
    for i, (segm, k) in enumerate(zip(segms, image)):
        mask = _decode_mask(segm, shapes[k], f"{name}[{i}]['segmentation']")
        shapes[k] = mask.shape
        masks[i] = mask
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows.size:
            boxes[i] = [cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]]
    return masks, boxes


def _paired_mask_iou(det: _Boxes, gt: _Boxes, pair_det: np.ndarray, pair_gt: np.ndarray) -> np.ndarray:
    """Mask IoU of detection pair_det[i] with ground truth pair_gt[i] (P,), as pycocotools' ``rleIou``.

    Intersection over union of the pixel sets; against a crowd region the union is the detection's
    own area, as for boxes. Only pairs whose tight boxes overlap can share a pixel, so only their
    overlap windows are compared. The same integer counts divided in float64 give the same bits.
    """
    out = np.zeros(len(pair_det))
    d_box, g_box = det.corners[pair_det], gt.corners[pair_gt]
    x0, y0 = np.maximum(d_box[:, 0], g_box[:, 0]), np.maximum(d_box[:, 1], g_box[:, 1])
    x1, y1 = np.minimum(d_box[:, 2], g_box[:, 2]), np.minimum(d_box[:, 3], g_box[:, 3])
    overlap = np.flatnonzero((x1 > x0) & (y1 > y0))
    if not overlap.size:
        return out
    d_pixels = np.array([np.count_nonzero(m) for m in det.masks])  # the detection area is this count too
    g_pixels = np.array([np.count_nonzero(m) for m in gt.masks])  # not the annotation's "area" field
    inter = np.zeros(len(pair_det))
    for p in overlap:
        window = np.s_[int(y0[p]) : int(y1[p]), int(x0[p]) : int(x1[p])]
        inter[p] = np.count_nonzero(det.masks[pair_det[p]][window] & gt.masks[pair_gt[p]][window])
    d_area, g_area = d_pixels[pair_det], g_pixels[pair_gt]
    union = np.where(gt.crowd[pair_gt], d_area, d_area + g_area - inter)
    return np.divide(inter, union, out=out, where=inter > 0)


def _parse_ground_truth(ground_truth, iou_type: str) -> tuple[list, list, _Boxes]:
    if not isinstance(ground_truth, Mapping):
        raise ValueError(f"ground_truth: expected a COCO dict, got {type(ground_truth).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in ground_truth:
            raise ValueError(f"ground_truth: missing key {key!r} (COCO has 'images', 'annotations', 'categories')")
    ids = {}
    for key in ("images", "categories"):
        name = f"ground_truth[{key!r}]"
        ids[key] = _sorted_ids(_column(_entries(ground_truth[key], name), "id", name), name)
    name = "ground_truth['annotations']"
    anns = _entries(ground_truth["annotations"], name)
    ann_ids = _column(anns, "id", name)
    try:
        unique = len(set(ann_ids)) == len(ann_ids)
    except TypeError:
        unique = False
    if not unique:
        # pycocotools indexes annotations by id: a repeated id silently replaces an annotation.
        seen = set()
        for i, ann_id in enumerate(ann_ids):
            if not _hashable(ann_id) or ann_id in seen:
                raise ValueError(f"{name}[{i}]['id']: {ann_id!r} is not a unique id (annotation ids must be unique)")
            seen.add(ann_id)
    area = _numbers(_column(anns, "area", name), name + "[{}]['area']")
    crowd = _numbers(_column(anns, "iscrowd", name), name + "[{}]['iscrowd']")
    for field, bad in (("area", area < 0), ("iscrowd", (crowd != 0) & (crowd != 1))):
        if bad.any():
            i = int(np.argmax(bad))
            want = "a number >= 0" if field == "area" else "0 or 1"
            raise ValueError(f"{name}[{i}][{field!r}]: expected {want}, got {anns[i][field]!r}")
    index = {key: {v: i for i, v in enumerate(ids[key])} for key in ids}
    image = _lookup(
        _column(anns, "image_id", name), index["images"], name + "[{}]['image_id']", "ground_truth['images']"
    )
    category = _lookup(
        _column(anns, "category_id", name), index["categories"], name + "[{}]['category_id']",
        "ground_truth['categories']",
    )
    if iou_type == "segm":  # the box is the mask's; a "bbox" field is not needed (nor read)
        masks, boxes = _parse_masks(anns, image, _image_shapes(ground_truth, ids["images"]), name)
    else:
        masks, boxes = np.full(len(anns), None), _numbers(_column(anns, "bbox", name), name + "[{}]['bbox']", 4)
    parsed = _Boxes(
        image=image,
        category=category,
        xywh=boxes,
        corners=xyxy(boxes, "xywh", name + "[i]['bbox']"),
        area=area,
        crowd=crowd.astype(bool),
        score=np.zeros(len(anns)),
        masks=masks,
    )
    return ids["images"], ids["categories"], parsed


def _parse_detections(detections, image_ids: list, category_ids: list, iou_type: str, gt: _Boxes,
                      image_shapes: list | None) -> _Boxes:
    name = "detections"
    dets = _entries(detections, name)
    image = _lookup(
        _column(dets, "image_id", name), {v: i for i, v in enumerate(image_ids)}, name + "[{}]['image_id']",
        "ground_truth['images']",
    )
    category = _lookup(
        _column(dets, "category_id", name), {v: i for i, v in enumerate(category_ids)},
        name + "[{}]['category_id']", "ground_truth['categories']",
    )
    score = _numbers(_column(dets, "score", name), name + "[{}]['score']")
    if iou_type == "segm":
        # A detection's mask must have its image's shape: the listed height x width, else the shape
        # of the image's ground-truth masks.
        shapes = list(image_shapes)
        for k, mask in zip(gt.image, gt.masks):
            shapes[k] = shapes[k] or mask.shape
        masks, boxes = _parse_masks(dets, image, shapes, name)
        area = np.array([np.count_nonzero(m) for m in masks], dtype=np.float64)  # loadRes: the mask's area
    else:
        boxes = _numbers(_column(dets, "bbox", name), name + "[{}]['bbox']", 4)
        masks, area = np.full(len(dets), None), boxes[:, 2] * boxes[:, 3]  # what loadRes stores for boxes
    return _Boxes(
        image=image,
        category=category,
        xywh=boxes,
        corners=xyxy(boxes, "xywh", name + "[i]['bbox']"),
        area=area,
        crowd=np.zeros(len(dets), dtype=bool),
        score=score,
        masks=masks,
    )


def _paired_bbox_iou(det: _Boxes, gt: _Boxes, pair_det: np.ndarray, pair_gt: np.ndarray) -> np.ndarray:
    """IoU of detection pair_det[i] with ground truth pair_gt[i] (P,), bit for bit as pycocotools' C ``bbIou``.

    Against a crowd region the union is the detection's own area: a detection inside a crowd is
    not penalised for the part of the crowd it does not cover. Areas are w * h, not
    (x2 - x1) * (y2 - y1), which can differ in the last bit and flip a comparison at a threshold.
    """
    d, g = det.corners[pair_det], gt.corners[pair_gt]
    w = np.minimum(d[:, 2], g[:, 2]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3], g[:, 3]) - np.maximum(d[:, 1], g[:, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    d_area = det.xywh[pair_det, 2] * det.xywh[pair_det, 3]
    g_area = gt.xywh[pair_gt, 2] * gt.xywh[pair_gt, 3]
    union = np.where(gt.crowd[pair_gt], d_area, d_area + g_area - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


# The pieces that depend on the IoU type: the pairwise IoU here, and the parsing (for "segm" the
# masks are decoded, and a detection's area is its mask's pixel count).
_PAIRED_IOU = {"bbox": _paired_bbox_iou, "segm": _paired_mask_iou}


def evaluate_coco(ground_truth, detections, iou_type="bbox") -> dict:
    """COCO detection metrics: the 12 numbers of ``COCOeval(gt, dt, iou_type).summarize()``, and the curves.

    ``ground_truth`` is a COCO dict: ``images`` (each with ``id``), ``categories`` (each with
    ``id``) and ``annotations`` (each with ``id`` (unique), ``image_id``, ``category_id``,
    ``bbox`` [x, y, w, h], ``area`` and ``iscrowd`` 0/1). ``detections`` is a list of
    ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``, as for ``COCO.loadRes``.
    Every image and category is evaluated, as COCOeval does by default. Inputs are not modified.

    ``iou_type="segm"`` scores instance masks: every annotation and detection then needs a
    ``segmentation`` (a detection's ``bbox`` is not needed), which is an RLE dict (``{"counts",
    "size"}``, counts a list or COCO's compressed string; ``cvlib.data.formats.mask_to_rle``), a
    list of polygons (rasterised by pixel centre, as ``cvlib.data.formats.from_coco`` does; edge
    pixels may differ from pycocotools' rasteriser) or a NumPy (H, W) array of 0/1 (no RLE needed).
    The IoU is the masks' (intersection over union of pixel sets; over the detection's pixels
    against a crowd), a detection's area is its mask's pixel count, and an annotation's is still its
    ``area`` field, as in pycocotools. Masks are checked against their image: its ``height`` x
    ``width`` when the image entry gives them (polygons need them), else all masks of one image
    must have one shape; a mismatch raises a ValueError (pycocotools silently gives IoU -1). An
    empty mask is allowed: its IoU with everything is 0.

    Returns a dict with:

    - ``AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl``: floats, equal to
      pycocotools' ``stats`` (the order of :data:`COCO_STAT_NAMES`);
    - ``per_class_AP``: {category id: AP@[.50:.95] (area all, 100 detections)};
    - ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M), as ``COCOeval.eval``, with
      ``iou_thresholds`` (T=10), ``recall_thresholds`` (R=101), ``category_ids`` (K, sorted),
      ``area_ranges`` ({"all", "small", "medium", "large"} -> (low, high), the A axis in order),
      ``max_dets`` (1, 10, 100; the M axis).

    As pycocotools: a value is -1 where there is no ground truth to find (a category without
    annotations, or none in that size range), and a summary figure is the mean of the values
    that are not -1 (-1 if there are none). So with no detections every figure is 0 where there
    is ground truth, and with no annotations every figure is -1. Semantics matched: crowd
    annotations are ignored and may absorb any number of detections (IoU = intersection / detection
    area); annotations outside an area range (by their ``area`` field, bounds inclusive) are
    ignored; a detection matched to an ignored annotation is ignored, as is an unmatched detection
    outside the range (its area is w * h, or its mask's pixel count); the 100 best-scored
    detections per image and category are kept; score ties keep input order (stable sorts). An
    ``ignore`` key in an annotation is accepted and, as in pycocotools (whose ``_prepare``
    overwrites it with ``iscrowd``), has no effect.

    Stricter than pycocotools: an annotation or detection whose image or category is not listed
    raises a ValueError (pycocotools asserts on a detection's unknown image and silently drops the
    rest), as do repeated annotation ids (pycocotools silently loses one) and malformed fields.
    One deliberate difference: pycocotools stores the matched annotation's id and takes 0 to mean
    "unmatched", so a detection matching an annotation of id 0 counts as a false positive there;
    here it is a true positive.

    Speed: about 15x pycocotools on 5,000 images (benchmarks/bench_detection.py).
    """
    if iou_type not in _PAIRED_IOU:
        if iou_type == "keypoints":
            raise NotImplementedError("iou_type: 'keypoints' evaluation is not implemented; use 'bbox' or 'segm'")
        raise ValueError(f"iou_type: expected 'bbox' or 'segm', got {iou_type!r}")
    image_ids, category_ids, gt = _parse_ground_truth(ground_truth, iou_type)
    shapes = _image_shapes(ground_truth, image_ids) if iou_type == "segm" else None
    det = _parse_detections(detections, image_ids, category_ids, iou_type, gt, shapes)
    n_img, K, A = len(image_ids), len(category_ids), len(_AREA_RANGES)
    low, high = np.array(list(_AREA_RANGES.values())).T[:, :, None]  # (A, 1) each

    # Group by (category, image), as COCOeval evaluates each pair on its own. Ground truths keep
    # input order inside a group (it breaks IoU ties); detections go best score first, ties in
    # input order (lexsort is stable, like COCOeval's mergesort).
    g_order = np.argsort(gt.category * n_img + gt.image, kind="stable")
    gt = _Boxes(*(field[g_order] for field in gt))
    g_key = gt.category * n_img + gt.image
    d_order = np.lexsort((-det.score, det.category * n_img + det.image))
    det = _Boxes(*(field[d_order] for field in det))
    d_key = det.category * n_img + det.image
    rank = np.arange(len(d_key)) - np.searchsorted(d_key, d_key, side="left")
    keep = rank < _MAX_DETS[-1]  # COCOeval only looks at the 100 best detections per image and category
    det = _Boxes(*(field[keep] for field in det))
    d_key, rank = d_key[keep], rank[keep]

    # Every detection meets every ground truth of its group.
    first = np.searchsorted(g_key, d_key, side="left")
    count = np.searchsorted(g_key, d_key, side="right") - first
    pair_det = np.repeat(np.arange(len(d_key)), count)
    pair_gt = np.repeat(first - (np.cumsum(count) - count), count) + np.arange(count.sum())
    pair_iou = _PAIRED_IOU[iou_type](det, gt, pair_det, pair_gt)
    # COCOeval caps each threshold at 1 - 1e-10 so that a threshold of 1.0 would still accept boxes
    # equal up to rounding (with the default thresholds, at most 0.95, the cap changes nothing).
    thresholds = np.minimum(_IOU_THRESHOLDS, 1 - 1e-10)
    near = pair_iou >= thresholds.min()  # pairs below every threshold can never match
    gt_ignore = gt.crowd | (gt.area < low) | (gt.area > high)  # (A, G)
    matched = _greedy_match(rank, pair_det[near], pair_gt[near], pair_iou[near], gt_ignore, gt.crowd, thresholds)

    hit = matched >= 0
    # matched == -1 reads the padding column of False.
    on_ignored = np.pad(gt_ignore, ((0, 0), (0, 1)))[np.arange(A)[:, None], matched]
    outside = (det.area < low) | (det.area > high)  # (A, D)
    tp = hit & ~on_ignored
    fp = ~hit & ~outside
    num_gt = np.stack([np.bincount(gt.category[~ig], minlength=K) for ig in gt_ignore], axis=1)  # (K, A)
    precision, recall = _accumulate(det, rank, tp, fp, num_gt)

    result = dict(zip(COCO_STAT_NAMES, _summarize(precision, recall)))
    result["per_class_AP"] = {c: _mean_valid(precision[:, :, k, 0, -1]) for k, c in enumerate(category_ids)}
    result.update(
        precision=precision,
        recall=recall,
        iou_thresholds=_IOU_THRESHOLDS.copy(),
        recall_thresholds=_COCO_RECALL_THRESHOLDS.copy(),
        category_ids=np.array(category_ids),
        area_ranges=dict(_AREA_RANGES),
        max_dets=_MAX_DETS,
    )
    return result


def _accumulate(det: _Boxes, rank, tp, fp, num_gt) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate: precision (T, R, K, A, M) and recall (T, K, A, M), -1 where no ground truth.

    ``tp``, ``fp`` (T, A, D) per detection; a detection that is neither is ignored (it stays in the
    ranking as a flat step, exactly as in COCOeval). ``num_gt`` (K, A) counts non-ignored ground truth.
    """
    T, A = tp.shape[:2]
    K, R, M = num_gt.shape[0], len(_COCO_RECALL_THRESHOLDS), len(_MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    # Rank each category's detections over all images: by score, then image (sorted ids), then
    # rank in the image, the order COCOeval's stable sort of the per-image lists gives.
    order = np.lexsort((rank, det.image, -det.score, det.category))
    cuts = np.searchsorted(det.category[order], np.arange(K + 1))
    for k in range(K):
        areas = np.flatnonzero(num_gt[k] > 0)
        if not areas.size:
            continue
        in_k = order[cuts[k] : cuts[k + 1]]
        for m, max_det in enumerate(_MAX_DETS):
            cols = in_k[rank[in_k] < max_det]
            tps = np.cumsum(tp[:, areas][:, :, cols], axis=2).astype(float)
            fps = np.cumsum(fp[:, areas][:, :, cols], axis=2).astype(float)
            rc = tps / num_gt[k, areas][:, None]
            # np.spacing(1) keeps 0/0 away; it also makes a lone first TP 1/(1 + eps), as in COCOeval.
            pr = tps / (fps + tps + np.spacing(1))
            recall[:, k, areas, m] = rc[:, :, -1] if len(cols) else 0.0
            envelope = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]
            for t in range(T):
                for j, a in enumerate(areas):
                    precision[t, :, k, a, m] = _precision_at(rc[t, j], envelope[t, j], _COCO_RECALL_THRESHOLDS)
    return precision, recall


def _mean_valid(values: np.ndarray) -> float:
    """Mean of the entries that are not -1 (COCO's "no ground truth" mark), or -1 if none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _summarize(precision: np.ndarray, recall: np.ndarray) -> list[float]:
    """COCOeval.summarize for boxes: the 12 figures, each a mean over the selected slice."""
    area = {name: i for i, name in enumerate(_AREA_RANGES)}
    at = {threshold: np.where(threshold == _IOU_THRESHOLDS)[0] for threshold in (0.5, 0.75)}
    # Same slices, in the same memory order, as pycocotools, so that the sums round identically.
    stats = [
        _mean_valid(precision[:, :, :, 0, 2]),
        _mean_valid(precision[at[0.5]][:, :, :, 0, 2]),
        _mean_valid(precision[at[0.75]][:, :, :, 0, 2]),
    ]
    stats += [_mean_valid(precision[:, :, :, area[a], 2]) for a in ("small", "medium", "large")]
    stats += [_mean_valid(recall[:, :, 0, m]) for m in range(len(_MAX_DETS))]
    stats += [_mean_valid(recall[:, :, area[a], 2]) for a in ("small", "medium", "large")]
    return stats
