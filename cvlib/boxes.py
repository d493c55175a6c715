"""Box maths: formats, area, IoU and GIoU, clipping, R-CNN deltas, non-maximum suppression.

Formats are named as ``keras.utils.bounding_boxes`` names them:

- ``"xyxy"``: (x1, y1, x2, y2), corners;
- ``"yxyx"``: (y1, x1, y2, x2), TensorFlow's order;
- ``"xywh"``: (x, y, w, h), top-left corner and size (COCO);
- ``"center_xywh"``: (cx, cy, w, h), centre and size (YOLO).

Coordinates are continuous pixels: a box from 0 to 10 is 10 wide (no "+1").
Inputs may be lists, NumPy arrays or tensors; outputs are NumPy (float64 boxes,
int64 indices).

- ``convert_format``, ``area``, ``intersection``, ``iou``, ``giou``: notebook 01 (IoU and mAP);
- ``clip``, ``encode_deltas``, ``decode_deltas``: the R-CNN family (Girshick et al. 2014,
  Ren et al. 2015) and SSD (Liu et al. 2016);
- ``nms``, ``batched_nms``: greedy non-maximum suppression, identical to
  ``tf.image.non_max_suppression`` (which works in float32; see ``nms``).
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import (
    boxes_array,
    check_finite,
    check_format,
    check_shape_last,
    probability,
    to_numpy,
    vector,
)

__all__ = [
    "area",
    "batched_nms",
    "clip",
    "convert_format",
    "decode_deltas",
    "encode_deltas",
    "giou",
    "intersection",
    "iou",
    "nms",
]


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
    arr = to_numpy(boxes, "boxes")
    # An empty list has shape (0,): read it as no boxes, (0, 4), rather than as a wrong shape.
    arr = boxes_array(arr, "boxes", source, ndim=2 if arr.size == 0 and arr.ndim < 2 else None)
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
    """Intersection areas of validated xyxy boxes: (N, 4), (M, 4) -> (N, M)."""
    w = np.minimum(a[:, None, 2], b[None, :, 2])
    w -= np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3])
    h -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(w, 0, out=w)  # boxes apart: no overlap, not a negative one
    np.maximum(h, 0, out=h)
    w *= h
    return w


def intersection(boxes1, boxes2, format: str = "xyxy") -> np.ndarray:
    """Pairwise intersection areas: (N, 4) and (M, 4) -> (N, M)."""
    return _pairwise_intersection(xyxy(boxes1, format, "boxes1"), xyxy(boxes2, format, "boxes2"))


# Pairs per block in _iou_xyxy: a block's few temporaries (this many float64 each, 256 KiB) stay in the
# CPU's cache, which makes a 1,000 x 1,000 IoU about twice as fast as one whole-array expression.
_BLOCK_PAIRS = 1 << 15


def _iou_xyxy(a: np.ndarray, b: np.ndarray, with_union: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """IoU of validated xyxy boxes, (N, 4), (M, 4) -> (N, M), and their union too if ``with_union``.

    The formula of ``_pairwise_intersection`` and ``area``, written for speed: each step writes into
    a buffer reused from block to block (``out=``), so no temporary arrays are made, and each box's
    area is computed once. It stays in float64, even for float32 boxes: pycocotools computes IoUs in
    float64 too, and COCO's matching compares them with >= thresholds, where one rounding can flip a match.
    """
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    n, m = len(a), len(b)
    result = np.empty((n, m))
    union = np.empty((n, m)) if with_union else None
    rows = max(1, _BLOCK_PAIRS // max(m, 1))
    b_coords = np.ascontiguousarray(b.T)  # x1, y1, x2, y2 of b, each a contiguous row to broadcast against
    width_buffer, height_buffer, union_buffer = (np.empty((min(rows, n), m)) for _ in range(3))
    for start in range(0, n, rows):
        block = slice(start, start + rows)
        a_block, k = a[block], len(a[block])
        width, height = width_buffer[:k], height_buffer[:k]
        u = union[block] if with_union else union_buffer[:k]  # the union, and a scratch array before it
        # Overlap along x and y, negative when the boxes are apart: then no overlap, not a negative one.
        np.minimum(a_block[:, 2, None], b_coords[2], out=width)
        width -= np.maximum(a_block[:, 0, None], b_coords[0], out=u)
        np.maximum(width, 0, out=width)
        np.minimum(a_block[:, 3, None], b_coords[3], out=height)
        height -= np.maximum(a_block[:, 1, None], b_coords[1], out=u)
        np.maximum(height, 0, out=height)
        inter = np.multiply(width, height, out=width)
        np.add(area_a[block, None], area_b, out=u)
        u -= inter
        with np.errstate(invalid="ignore"):  # 0/0 for two zero-area boxes, fixed below
            np.divide(inter, u, out=result[block])
    # The intersection is no larger than either box, so the union is 0 only for two zero-area boxes:
    # their IoU is defined as 0, not 0/0 = NaN. Fixing those few pairs afterwards keeps the division unmasked.
    empty_a, empty_b = area_a == 0, area_b == 0
    if empty_a.any() and empty_b.any():
        result[np.ix_(empty_a, empty_b)] = 0.0
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
    overlap, union = _iou_xyxy(a, b, with_union=True)
    cw = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    ch = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    hull = cw * ch
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(hull > 0, (hull - union) / np.where(hull > 0, hull, 1), 0.0)
    return overlap - penalty


# --------------------------------------------------------------------------- clipping


def clip(boxes, image_shape, format: str = "xyxy") -> np.ndarray:
    """Clip boxes to the image: (N, 4) in ``format`` -> (N, 4) in ``format``, inside [0, W] x [0, H].

    ``image_shape`` is (H, W) or (H, W, C), as ``image.shape`` gives it. A box wholly outside the
    image becomes a zero-width or zero-height box on the border (filter those with ``area``).
    """
    b = xyxy(boxes, format)
    shape = to_numpy(image_shape, "image_shape")
    if shape.ndim != 1 or shape.shape[0] not in (2, 3):
        raise ValueError(f"image_shape: expected (H, W) or (H, W, C), got {shape.tolist()}")
    check_finite(shape, "image_shape")
    height, width = shape[0], shape[1]
    if height < 0 or width < 0:
        raise ValueError(f"image_shape: height and width must be non-negative, got {shape.tolist()}")
    clipped = np.stack(
        [
            np.clip(b[:, 0], 0, width),
            np.clip(b[:, 1], 0, height),
            np.clip(b[:, 2], 0, width),
            np.clip(b[:, 3], 0, height),
        ],
        axis=-1,
    )
    return _from_xyxy(clipped, format)


# --------------------------------------------------------------------------- R-CNN box deltas

# Largest dw, dh that decode_deltas lets through, as torchvision and Detectron do
# (their "bbox_xform_clip"): an untrained or diverging regression head can predict
# a large dw, and exp() of it overflows to inf, which turns the loss into NaN. The
# bound lets a box grow to at most 1000/16 = 62.5 times its anchor: a 16-pixel
# anchor (the finest feature stride) may still cover a 1000-pixel image.
MAX_LOG_SCALE = float(np.log(1000.0 / 16))


def _centre_size(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres and sizes (cx, cy, w, h) of xyxy boxes."""
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h


def _positive_size(b: np.ndarray, name: str) -> np.ndarray:
    """Reject boxes of zero width or height: deltas divide by the anchor's size and take log(w), log(h)."""
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    bad = np.flatnonzero((w <= 0) | (h <= 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: box {i} has width {w[i]:g} and height {h[i]:g}; box deltas need a positive width and "
            "height (they divide by the anchor's size and take log(w), log(h))"
        )
    return b


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_b}: expected {len(a)} rows (one per row of {name_a}), got {len(b)}")


def _variances(variances) -> np.ndarray:
    """The 4 positive scales (for dx, dy, dw, dh); None means no scaling."""
    if variances is None:
        return np.ones(4)
    v = to_numpy(variances, "variances")
    if v.shape != (4,):
        raise ValueError(f"variances: expected 4 numbers (for dx, dy, dw, dh), got shape {v.shape}")
    check_finite(v, "variances")
    if (v <= 0).any():
        raise ValueError(f"variances: every value must be positive, got {v.tolist()}")
    return v


def encode_deltas(anchors, boxes, variances=None, format: str = "xyxy") -> np.ndarray:
    """Regression targets of ``boxes`` relative to ``anchors``: (N, 4), (N, 4) in ``format`` -> (N, 4).

    The R-CNN parameterisation (Girshick et al. 2014; Faster R-CNN, SSD) on centres and sizes::

        dx = (gx - ax) / aw    dy = (gy - ay) / ah    dw = log(gw / aw)    dh = log(gh / ah)

    each column divided by ``variances`` (e.g. SSD's (0.1, 0.1, 0.2, 0.2)) when given, which
    brings the targets to roughly unit scale. Anchors and boxes need a positive width and height.
    """
    a = _positive_size(xyxy(anchors, format, "anchors"), "anchors")
    g = xyxy(boxes, format, "boxes")
    _same_length(a, g, "anchors", "boxes")
    g = _positive_size(g, "boxes")
    v = _variances(variances)
    ax, ay, aw, ah = _centre_size(a)
    gx, gy, gw, gh = _centre_size(g)
    deltas = np.stack([(gx - ax) / aw, (gy - ay) / ah, np.log(gw / aw), np.log(gh / ah)], axis=-1)
    return deltas / v


def decode_deltas(anchors, deltas, variances=None, format: str = "xyxy") -> np.ndarray:
    """Boxes from regression deltas, the inverse of ``encode_deltas``: (N, 4), (N, 4) -> (N, 4) in ``format``.

    ``gx = ax + dx * aw``, ``gw = aw * exp(dw)`` (and the same for y, h), after multiplying the
    deltas by ``variances``. dw and dh are clamped at log(1000/16) so exp() cannot overflow.
    """
    a = _positive_size(xyxy(anchors, format, "anchors"), "anchors")
    d = to_numpy(deltas, "deltas")
    d = d.reshape(0, 4) if d.size == 0 and d.ndim < 2 else check_shape_last(d, "deltas", 4, ndim=2)
    check_finite(d, "deltas")
    _same_length(a, d, "anchors", "deltas")
    d = d * _variances(variances)
    ax, ay, aw, ah = _centre_size(a)
    cx = ax + d[:, 0] * aw
    cy = ay + d[:, 1] * ah
    w = aw * np.exp(np.minimum(d[:, 2], MAX_LOG_SCALE))
    h = ah * np.exp(np.minimum(d[:, 3], MAX_LOG_SCALE))
    return _from_xyxy(np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1), format)


# --------------------------------------------------------------------------- non-maximum suppression


def _scalar(value, name: str) -> float:
    """A single number; 0-d arrays and tensors are read as their value."""
    arr = to_numpy(value, name)
    if arr.ndim != 0 or np.isnan(arr):
        raise ValueError(f"{name}: expected a single number, got {value!r}")
    return float(arr)


def _max_output(value) -> int:
    """None means no limit; otherwise a non-negative integer."""
    if value is None:
        return np.iinfo(np.int64).max
    arr = to_numpy(value, "max_output", dtype=None)
    if arr.ndim != 0 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or arr < 0:
        raise ValueError(f"max_output: expected None or a non-negative integer, got {value!r}")
    return int(arr)


def _iou_one_to_many_float32(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box with many, computed as TensorFlow's NMS kernel does, in float32.

    Columns are (x1, y1, x2, y2, area): ``box`` is (5,), ``others`` (5, M); or both (5, M), pair by
    pair (every operation is symmetric, so the order of a pair does not matter). The operations come
    in TensorFlow's order, so the rounding (and so a comparison with the threshold) is the same.
    A zero-area box overlaps nothing: its IoU is 0, or 0/0 = NaN when both are empty, and
    neither is above any threshold, as TensorFlow's explicit "area <= 0 -> 0" gives.
    """
    x1, y1, x2, y2, area_box = box
    ox1, oy1, ox2, oy2, area_others = others
    inter_h = np.maximum(np.minimum(oy2, y2) - np.maximum(oy1, y1), 0)
    inter_w = np.maximum(np.minimum(ox2, x2) - np.maximum(ox1, x1), 0)
    inter = inter_h * inter_w
    return inter / (area_others + area_box - inter)


def _columns(b: np.ndarray) -> np.ndarray:
    """(5, N) float32 columns (x1, y1, x2, y2, area) of xyxy boxes, the area as TensorFlow computes it."""
    x1, y1, x2, y2 = b.T
    return np.stack([x1, y1, x2, y2, (y2 - y1) * (x2 - x1)])


# IoU(A, B) <= overlap / max(width_A, width_B) along either axis, so a pair that overlaps by no more
# than threshold x the larger side cannot be suppressed. The pruning below keeps a margin of 1e-3
# (far beyond float32's rounding), so that no pair whose float32 IoU could pass the threshold is dropped.
_PRUNE_MARGIN = 1.0 - 1e-3


def _x_sweep(columns: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes sorted by x1 (positions, (N,)) and, for the i-th of them, how many of the next ones could
    overlap it by more than ``threshold`` (counts, (N,)): the only boxes it may suppress or be suppressed by.

    The next box j overlaps box i along x by at most x2_i - x1_j, which must exceed threshold x width_i.
    """
    by_x1 = np.argsort(columns[0], kind="stable")
    x1, x2 = columns[0][by_x1].astype(np.float64), columns[2][by_x1].astype(np.float64)
    ends = np.searchsorted(x1, x2 - _PRUNE_MARGIN * threshold * (x2 - x1), side="left")
    return by_x1, np.maximum(ends - np.arange(len(ends)) - 1, 0)


def _suppress_one_by_one(columns: np.ndarray, max_output: int, threshold: np.float32, by_x1: np.ndarray,
                         counts: np.ndarray) -> list[int]:
    """Greedy NMS as it is taught: positions (in visiting order) of the kept boxes.

    ``columns`` (5, N) are the candidates, best first. Visiting them in that order, a box not yet
    suppressed is kept, and one vectorised IoU against its neighbours marks the boxes it suppresses.
    Its neighbours are the boxes close enough along x to overlap it by more than the threshold
    (``_x_sweep``): a contiguous window of the boxes sorted by x1, so nothing is copied or searched.
    Fast when a few kept boxes suppress most of the others.
    """
    n = columns.shape[1]
    sorted_columns = columns[:, by_x1]
    x_rank = np.empty(n, dtype=np.int64)
    x_rank[by_x1] = np.arange(n)
    # Box i (in x1 order) may meet boxes i + 1 ... i + counts[i] after it, and before it every box j
    # whose reach j + counts[j] gets to i: all from the first j whose running maximum reach does.
    reach = np.arange(n) + counts
    window_start = np.searchsorted(np.maximum.accumulate(reach), np.arange(n), side="left").tolist()
    window_stop = (reach + 1).tolist()
    suppressed = np.zeros(n, dtype=bool)  # in x1 order
    keep = []
    for position, i in enumerate(x_rank.tolist()):
        if suppressed[i]:
            continue
        # Not suppressed by any box kept before it: keep it.
        keep.append(position)
        if len(keep) == max_output:
            break
        # Mark the neighbours it suppresses (an IoU equal to the threshold stays). The window also holds
        # the box itself and boxes already visited; marking those changes nothing, as none is visited again.
        window = slice(window_start[i], window_stop[i])
        suppressed[window] |= _iou_one_to_many_float32(sorted_columns[:, i], sorted_columns[:, window]) > threshold
    return keep


def _suppression_graph(columns: np.ndarray, threshold: np.float32, by_x1: np.ndarray, counts: np.ndarray,
                       chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions (a, b), a < b (a visited first), whose IoU is above ``threshold``: two (E,) arrays.

    In x1 order (``_x_sweep``), box i can only meet boxes i + 1 ... i + counts[i]; of those, pairs
    that overlap too little along y are dropped too, and the IoUs of the rest are computed pair by
    pair, about ``chunk`` pairs at a time to bound the memory.
    """
    sorted_columns = columns[:, by_x1]
    y1, y2 = sorted_columns[1], sorted_columns[3]
    height = y2 - y1
    pairs_before = np.concatenate([[0], np.cumsum(counts)])
    edges_a, edges_b = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    start = 0
    while start < len(counts):
        stop = max(int(np.searchsorted(pairs_before, pairs_before[start] + chunk, side="right")) - 1, start + 1)
        n = counts[start:stop]
        first = np.repeat(np.arange(start, stop), n)
        # the k-th partner of sorted box i is sorted box i + 1 + k
        second = np.arange(pairs_before[start], pairs_before[stop]) + np.repeat(
            np.arange(start + 1, stop + 1) - pairs_before[start:stop], n
        )
        overlap_y = np.minimum(np.repeat(y2[start:stop], n), y2[second])
        overlap_y -= np.maximum(np.repeat(y1[start:stop], n), y1[second])
        larger = np.maximum(np.repeat(height[start:stop], n), height[second])
        close = np.flatnonzero(overlap_y > _PRUNE_MARGIN * threshold * larger)
        first, second = first[close], second[close]
        above = _iou_one_to_many_float32(sorted_columns[:, first], sorted_columns[:, second]) > threshold
        a, b = by_x1[first[above]], by_x1[second[above]]
        edges_a.append(np.minimum(a, b))
        edges_b.append(np.maximum(a, b))
        start = stop
    return np.concatenate(edges_a), np.concatenate(edges_b)


def _suppress_through_graph(columns: np.ndarray, max_output: int, threshold: np.float32, by_x1: np.ndarray,
                            counts: np.ndarray) -> list[int]:
    """The same greedy NMS, from the graph of all pairs above the threshold: fast when boxes are sparse.

    Visiting the boxes best first, a box still standing is kept and knocks out its later
    neighbours in the graph, exactly as the one-by-one loop would have.
    """
    a, b = _suppression_graph(columns, threshold, by_x1, counts)
    order = np.argsort(a, kind="stable")
    neighbours = b[order]
    first = np.searchsorted(a[order], np.arange(columns.shape[1] + 1)).tolist()
    removed = np.zeros(columns.shape[1], dtype=bool)
    keep = []
    for position in range(columns.shape[1]):
        if removed[position]:
            continue
        keep.append(position)
        if len(keep) == max_output:
            break
        removed[neighbours[first[position]:first[position + 1]]] = True
    return keep


# The graph costs 10 to 30 ns per pair the sweep finds, the loop about 20 us per kept box: past a few
# hundred pairs per box, boxes are so crowded that a few kept ones suppress the rest and the loop wins.
# Measured on 10,000 boxes at a threshold of 0.5: scattered (270 pairs per box, 64 % kept) the graph is 3x
# faster; around 50 objects (487 pairs per box, 8 % kept) the loop is 9x faster.
_GRAPH_PAIRS_PER_BOX = 384


def _nms_xyxy(
    b: np.ndarray, s: np.ndarray, iou_threshold: float, score_threshold: float, max_output: int
) -> np.ndarray:
    """Greedy NMS on validated xyxy boxes and scores; returns kept indices (int64) in selection order.

    Every number is float32, as in TensorFlow's kernel: then equal scores, and IoUs equal to
    the threshold, come out the same as there, bit for bit.
    """
    b = b.astype(np.float32)
    s = s.astype(np.float32)
    threshold = np.float32(iou_threshold)
    with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as in TensorFlow
        score_threshold = np.float32(score_threshold)
    # Candidates: score strictly above score_threshold. Visit them by descending score; the stable
    # sort of the negated scores puts equal scores in index order (TensorFlow's tie-break).
    candidates = np.flatnonzero(s > score_threshold)
    order = candidates[np.argsort(-s[candidates], kind="stable")]
    if max_output == 0 or not order.size:
        return np.empty(0, dtype=np.int64)
    columns = _columns(b[order])
    # Two ways to the same answer. Which is faster depends on how many pairs of boxes could overlap
    # enough (a sweep along x counts them cheaply): few (boxes spread out, many kept) favours the
    # graph; many (crowded boxes, a few kept suppressing the rest) favours the one-by-one loop.
    by_x1, counts = _x_sweep(columns, float(threshold))
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for two empty boxes, see above
        if counts.sum() <= _GRAPH_PAIRS_PER_BOX * len(order):
            keep = _suppress_through_graph(columns, max_output, threshold, by_x1, counts)
        else:
            keep = _suppress_one_by_one(columns, max_output, threshold, by_x1, counts)
    return order[np.asarray(keep, dtype=np.int64)]


def _nms_inputs(boxes, scores, iou_threshold, score_threshold, max_output, format):
    b = xyxy(boxes, format)
    s = vector(scores, "scores", len(b))
    iou_threshold = probability(_scalar(iou_threshold, "iou_threshold"), "iou_threshold")
    return b, s, iou_threshold, _scalar(score_threshold, "score_threshold"), _max_output(max_output)


def nms(
    boxes, scores, iou_threshold: float = 0.5, score_threshold: float = -np.inf, max_output=None, format: str = "xyxy"
) -> np.ndarray:
    """Greedy non-maximum suppression: (N, 4) boxes in ``format``, (N,) scores -> kept indices, (K,) int64.

    Visit the boxes by descending score and keep a box unless its IoU with a box already kept
    is *greater* than ``iou_threshold``. Boxes with a score not above ``score_threshold`` are
    dropped first; at most ``max_output`` indices are returned (None: no limit), best first.

    The result is identical to ``tf.image.non_max_suppression`` (on the same boxes as yxyx),
    including its conventions: equal scores are visited lower index first, IoU exactly at the
    threshold does not suppress, both thresholds are strict, and, like TensorFlow, boxes, scores
    and thresholds are rounded to float32 before anything is compared.
    """
    b, s, iou_threshold, score_threshold, max_output = _nms_inputs(
        boxes, scores, iou_threshold, score_threshold, max_output, format
    )
    return _nms_xyxy(b, s, iou_threshold, score_threshold, max_output)


def batched_nms(
    boxes,
    scores,
    labels,
    iou_threshold: float = 0.5,
    score_threshold: float = -np.inf,
    max_output=None,
    format: str = "xyxy",
) -> np.ndarray:
    """Non-maximum suppression within each class: (N, 4), (N,), (N,) labels -> kept indices, (K,) int64.

    Boxes of different labels never suppress each other. The kept indices of all classes come
    back together by descending (float32) score, equal scores lower index first, at most
    ``max_output`` of them. Arguments as in ``nms``.
    """
    b, s, iou_threshold, score_threshold, max_output = _nms_inputs(
        boxes, scores, iou_threshold, score_threshold, max_output, format
    )
    l = vector(labels, "labels", len(b), dtype=None)
    # One nms per class (rather than torchvision's trick of shifting each class far apart, which
    # changes the coordinates and so the float32 IoUs). No class can contribute more than
    # max_output boxes to the best max_output overall, so each class may stop there.
    kept = [np.empty(0, dtype=np.int64)]
    for label in np.unique(l):
        members = np.flatnonzero(l == label)
        kept.append(members[_nms_xyxy(b[members], s[members], iou_threshold, score_threshold, max_output)])
    kept = np.concatenate(kept)
    # Descending float32 score, then ascending index: the order nms itself uses.
    kept = kept[np.lexsort((kept, -s.astype(np.float32)[kept]))]
    return kept[:max_output]
