"""Unit tests of cvlib.boxes on hand-computed values, plus bad and empty inputs for every public function."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from cvlib import boxes as B
from cvlib.boxes import (
    area,
    batched_nms,
    clip,
    convert_format,
    decode_deltas,
    encode_deltas,
    giou,
    intersection,
    iou,
    nms,
)

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")

# The same two boxes written in each format, worked out by hand:
# x from 1 to 5, y from 2 to 8; and x from -2 to 3, y from 1 to 4 (a fractional centre).
SAME_BOXES = {
    "xyxy": [[1, 2, 5, 8], [-2, 1, 3, 4]],
    "yxyx": [[2, 1, 8, 5], [1, -2, 4, 3]],
    "xywh": [[1, 2, 4, 6], [-2, 1, 5, 3]],
    "center_xywh": [[3, 5, 4, 6], [0.5, 2.5, 5, 3]],
}


# --------------------------------------------------------------------------- convert_format


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FORMATS, FORMATS)))
def test_convert_format_every_pair(source, target):
    out = convert_format(SAME_BOXES[source], source, target)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, SAME_BOXES[target])


def test_convert_format_keeps_leading_axes():
    boxes = np.tile(np.array(SAME_BOXES["xyxy"], dtype=float), (3, 1, 1))  # (3, 2, 4)
    out = convert_format(boxes, "xyxy", "center_xywh")
    assert out.shape == (3, 2, 4)
    np.testing.assert_allclose(out[2], SAME_BOXES["center_xywh"])


def test_convert_format_same_format_returns_a_copy():
    boxes = np.array(SAME_BOXES["xyxy"], dtype=float)
    out = convert_format(boxes, "xyxy", "xyxy")
    out[0, 0] = 100.0
    assert boxes[0, 0] == 1.0


@pytest.mark.parametrize("empty", [[], np.zeros((0, 4))])
def test_convert_format_empty(empty):
    assert convert_format(empty, "xyxy", "center_xywh").shape == (0, 4)


# --------------------------------------------------------------------------- area, intersection, iou, giou


def test_area():
    np.testing.assert_allclose(area([[1, 2, 5, 8], [0, 0, 0, 3], [2, 2, 2, 2]]), [24.0, 0.0, 0.0])
    np.testing.assert_allclose(area(SAME_BOXES["center_xywh"], format="center_xywh"), [24.0, 15.0])


def test_intersection():
    a = [[0, 0, 4, 4]]
    b = [[2, 2, 6, 6], [4, 0, 8, 4], [5, 5, 6, 6], [1, 1, 3, 3], [-1, 1, 5, 2]]
    # overlap 2x2; sharing an edge; disjoint; contained; a strip crossing the box (4 wide, 1 high)
    np.testing.assert_allclose(intersection(a, b), [[4.0, 0.0, 0.0, 4.0, 4.0]])
    assert intersection(a, b).shape == (1, 5)
    np.testing.assert_allclose(intersection(b, a), intersection(a, b).T)


def test_iou_hand_computed():
    a = [[0, 0, 4, 4]]
    b = [[2, 2, 6, 6], [0, 0, 4, 4], [4, 0, 8, 4], [1, 1, 3, 3], [0, 0, 4, 2]]
    # 4 / (16 + 16 - 4); identical; edge only; contained 4/16; half of it
    np.testing.assert_allclose(iou(a, b), [[1 / 7, 1.0, 0.0, 0.25, 0.5]])


def test_iou_format_argument():
    a = convert_format([[0, 0, 4, 4]], "xyxy", "xywh")
    b = convert_format([[2, 2, 6, 6]], "xyxy", "xywh")
    np.testing.assert_allclose(iou(a, b, format="xywh"), [[1 / 7]])


def test_iou_of_degenerate_boxes_is_zero_not_nan():
    point = [[1, 1, 1, 1]]
    line = [[0, 1, 3, 1]]
    box = [[0, 0, 2, 2]]
    assert iou(point, point)[0, 0] == 0.0
    assert iou(line, line)[0, 0] == 0.0
    assert iou(point, box)[0, 0] == 0.0
    assert iou(box, line)[0, 0] == 0.0


def test_iou_in_blocks_matches_the_formula_and_warns_of_nothing():
    # iou works a block of rows at a time; every block, the last partial one and zero-area boxes on
    # both sides (their 0/0 becomes 0) must give the plain formula's numbers, without a NaN warning.
    rng = np.random.default_rng(4)
    a, b = (np.concatenate([xy, xy + rng.integers(0, 4, xy.shape)], axis=1).astype(float)
            for xy in (rng.integers(0, 8, (301, 2)), rng.integers(0, 8, (257, 2))))
    w = np.clip(np.minimum(a[:, None, 2], b[:, 2]) - np.maximum(a[:, None, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[:, 3]) - np.maximum(a[:, None, 1], b[:, 1]), 0, None)
    area_a, area_b = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b - w * h
    expected = np.divide(w * h, union, out=np.zeros_like(union), where=union > 0)
    assert ((area_a == 0).any() and (area_b == 0).any()), "the test needs zero-area boxes on both sides"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(iou(a, b), expected)
        assert np.isfinite(giou(a, b)).all()


def test_giou_known_values():
    unit = [[0, 0, 1, 1]]
    # side by side, one apart: hull 3, union 2 -> 0 - 1/3
    assert giou(unit, [[2, 0, 3, 1]])[0, 0] == pytest.approx(-1 / 3)
    # diagonal, one apart: hull 9, union 2 -> -7/9
    assert giou(unit, [[2, 2, 3, 3]])[0, 0] == pytest.approx(-7 / 9)
    # overlapping: inter 1, union 7, hull 9
    assert giou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7 - 2 / 9)
    assert giou(unit, unit)[0, 0] == pytest.approx(1.0)
    # far apart, the penalty tends to 1
    assert giou(unit, [[1000, 1000, 1001, 1001]])[0, 0] == pytest.approx(-1.0, abs=1e-5)


def test_giou_of_degenerate_boxes_is_finite():
    point = [[1, 1, 1, 1]]
    assert giou(point, point)[0, 0] == 0.0
    # two points: no union, hull 1x1 -> penalty 1
    assert giou(point, [[2, 2, 2, 2]])[0, 0] == pytest.approx(-1.0)
    assert np.isfinite(giou([[0, 0, 0, 5]], [[0, 0, 0, 5], [0, 0, 3, 0]])).all()


@pytest.mark.parametrize("fn", [intersection, iou, giou])
def test_pairwise_empty_shapes(fn):
    some = [[0, 0, 1, 1], [0, 0, 2, 2]]
    assert fn(some, []).shape == (2, 0)
    assert fn([], some).shape == (0, 2)
    assert fn(np.zeros((0, 4)), []).shape == (0, 0)


# --------------------------------------------------------------------------- clip


def test_clip_xyxy():
    boxes = [[-5, -5, 50, 50], [2, 3, 4, 5], [40, 1, 45, 9], [-9, 25, -1, 30]]
    expected = [[0, 0, 30, 20], [2, 3, 4, 5], [30, 1, 30, 9], [0, 20, 0, 20]]
    np.testing.assert_allclose(clip(boxes, (20, 30)), expected)
    np.testing.assert_allclose(clip(boxes, (20, 30, 3)), expected)  # (H, W, C), as image.shape gives it


@pytest.mark.parametrize("fmt", FORMATS)
def test_clip_keeps_the_format(fmt):
    boxes = convert_format([[-5, 2, 12, 30], [1, 2, 3, 4]], "xyxy", fmt)
    expected = convert_format([[0, 2, 10, 20], [1, 2, 3, 4]], "xyxy", fmt)
    np.testing.assert_allclose(clip(boxes, (20, 10), format=fmt), expected)


def test_clip_empty():
    assert clip([], (10, 10)).shape == (0, 4)


# --------------------------------------------------------------------------- encode_deltas, decode_deltas

ANCHORS = [[0, 0, 10, 10], [10, 20, 30, 30]]
# centre (7, 14), size 10 x 20 against anchor centre (5, 5), size 10 x 10; and the second anchor itself
TARGETS = [[2, 4, 12, 24], [10, 20, 30, 30]]
DELTAS = [[0.2, 0.9, 0.0, math.log(2.0)], [0.0, 0.0, 0.0, 0.0]]


def test_encode_deltas_hand_computed():
    np.testing.assert_allclose(encode_deltas(ANCHORS, TARGETS), DELTAS, atol=1e-12)


def test_encode_deltas_variances_divide():
    variances = (0.1, 0.1, 0.2, 0.2)
    expected = np.array(DELTAS) / variances
    np.testing.assert_allclose(encode_deltas(ANCHORS, TARGETS, variances), expected, atol=1e-12)
    np.testing.assert_allclose(decode_deltas(ANCHORS, expected, variances), TARGETS, atol=1e-12)


def test_decode_deltas_hand_computed():
    np.testing.assert_allclose(decode_deltas(ANCHORS, DELTAS), TARGETS, atol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_deltas_format_argument(fmt):
    anchors = convert_format(ANCHORS, "xyxy", fmt)
    targets = convert_format(TARGETS, "xyxy", fmt)
    np.testing.assert_allclose(encode_deltas(anchors, targets, format=fmt), DELTAS, atol=1e-12)
    np.testing.assert_allclose(decode_deltas(anchors, DELTAS, format=fmt), targets, atol=1e-12)


def test_decode_deltas_clamps_growth():
    anchor = [[0, 0, 16, 16]]
    out = decode_deltas(anchor, [[0, 0, 100.0, 1e6]])  # exp(1e6) would overflow to inf
    np.testing.assert_allclose(out, [[8 - 500, 8 - 500, 8 + 500, 8 + 500]])  # at most 1000/16 times the anchor
    # shrinking is not clamped (exp of a large negative number is just small)
    shrunk = decode_deltas([[-8, -8, 8, 8]], [[0, 0, -100.0, -50.0]])
    half_w, half_h = 8 * math.exp(-100.0), 8 * math.exp(-50.0)
    np.testing.assert_allclose(shrunk, [[-half_w, -half_h, half_w, half_h]], rtol=1e-12)


def test_deltas_empty():
    assert encode_deltas([], []).shape == (0, 4)
    assert decode_deltas([], []).shape == (0, 4)
    assert decode_deltas(np.zeros((0, 4)), np.zeros((0, 4)), (0.1, 0.1, 0.2, 0.2)).shape == (0, 4)


# --------------------------------------------------------------------------- nms

# Two boxes overlapping by IoU 81/119 (~0.68), a third away from both.
OVERLAPPING = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]


def test_nms_keeps_the_best_of_overlapping_boxes():
    kept = nms(OVERLAPPING, [0.9, 0.8, 0.7])
    assert kept.dtype == np.int64
    np.testing.assert_array_equal(kept, [0, 2])
    np.testing.assert_array_equal(nms(OVERLAPPING, [0.8, 0.9, 0.95]), [2, 1])


def test_nms_threshold_is_strict():
    # IoU of these two is exactly 0.5 (area 2 and 1, the smaller inside the larger)
    boxes = [[0, 0, 2, 1], [0, 0, 1, 1]]
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8], iou_threshold=0.5), [0, 1])  # equal: kept
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8], iou_threshold=0.49), [0])  # above: suppressed


def test_nms_threshold_extremes():
    touching = [[0, 0, 1, 1], [1, 0, 2, 1], [0.5, 0, 1.5, 1]]
    # threshold 0: any positive overlap suppresses, sharing an edge does not
    np.testing.assert_array_equal(nms(touching, [0.9, 0.8, 0.7], iou_threshold=0.0), [0, 1])
    # threshold 1: even identical boxes survive (IoU 1 is not above 1)
    np.testing.assert_array_equal(nms([[0, 0, 1, 1]] * 3, [0.5, 0.7, 0.6], iou_threshold=1.0), [1, 2, 0])


def test_nms_equal_scores_lower_index_first():
    far_apart = [[10 * i, 0, 10 * i + 1, 1] for i in range(4)]
    np.testing.assert_array_equal(nms(far_apart, [0.5, 0.5, 0.5, 0.5]), [0, 1, 2, 3])
    np.testing.assert_array_equal(nms(far_apart, [0.4, 0.5, 0.5, 0.4]), [1, 2, 0, 3])
    # many ties (a sort that is not stable reorders them once there are more than a handful)
    many = [[10 * i, 0, 10 * i + 1, 1] for i in range(40)]
    scores = [0.7 if i % 7 == 3 else 0.5 for i in range(40)]
    expected = [i for i in range(40) if i % 7 == 3] + [i for i in range(40) if i % 7 != 3]
    np.testing.assert_array_equal(nms(many, scores), expected)
    # identical boxes with equal scores: the lower index wins
    np.testing.assert_array_equal(nms([[0, 0, 1, 1]] * 3, [0.5, 0.5, 0.5]), [0])


def test_nms_compares_scores_in_float32():
    far_apart = [[0, 0, 1, 1], [5, 5, 6, 6]]
    # 0.1 and 0.1 + 1e-12 are the same float32, so this is a tie, as in TensorFlow
    np.testing.assert_array_equal(nms(far_apart, [0.1, 0.1 + 1e-12]), [0, 1])
    # score_threshold is rounded too: float32(0.1) is not above float32(0.1)
    np.testing.assert_array_equal(nms(far_apart, np.float32([0.1, 0.5]), score_threshold=0.1), [1])


def test_nms_score_threshold_is_strict():
    np.testing.assert_array_equal(nms(OVERLAPPING, [0.9, 0.8, 0.7], score_threshold=0.7), [0])
    np.testing.assert_array_equal(nms(OVERLAPPING, [0.9, 0.8, 0.7], score_threshold=0.69), [0, 2])
    assert nms(OVERLAPPING, [0.9, 0.8, 0.7], score_threshold=0.9).shape == (0,)


def test_nms_suppressed_box_does_not_suppress():
    # 1 overlaps 0 and 2, but 0 and 2 do not overlap: greedy NMS keeps 0 and 2
    chain = [[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]]
    np.testing.assert_array_equal(nms(chain, [0.9, 0.8, 0.7], iou_threshold=0.3), [0, 2])


def test_nms_max_output():
    far_apart = [[10 * i, 0, 10 * i + 1, 1] for i in range(5)]
    scores = [0.1, 0.5, 0.3, 0.9, 0.2]
    np.testing.assert_array_equal(nms(far_apart, scores, max_output=2), [3, 1])
    np.testing.assert_array_equal(nms(far_apart, scores, max_output=np.int64(10)), [3, 1, 2, 4, 0])
    np.testing.assert_array_equal(nms(far_apart, scores, max_output=None), [3, 1, 2, 4, 0])
    assert nms(far_apart, scores, max_output=0).shape == (0,)


def test_nms_degenerate_boxes_neither_suppress_nor_are_suppressed():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 0], [5, 5, 5, 5], [5, 5, 5, 5]]
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8, 0.7, 0.6], iou_threshold=0.0), [0, 1, 2, 3])


@pytest.mark.parametrize("fmt", FORMATS)
def test_nms_format_argument(fmt):
    np.testing.assert_array_equal(nms(convert_format(OVERLAPPING, "xyxy", fmt), [0.9, 0.8, 0.7], format=fmt), [0, 2])


def test_nms_empty():
    for kept in (nms([], []), nms(np.zeros((0, 4)), np.zeros(0), score_threshold=0.5, max_output=3)):
        assert kept.shape == (0,) and kept.dtype == np.int64


# --------------------------------------------------------------------------- batched_nms


def test_batched_nms_classes_do_not_suppress_each_other():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30]]
    scores = [0.6, 0.9, 0.8, 0.7]
    np.testing.assert_array_equal(batched_nms(boxes, scores, [0, 0, 1, 1]), [1, 2, 3])
    np.testing.assert_array_equal(batched_nms(boxes, scores, [0, 0, 0, 0]), nms(boxes, scores))
    np.testing.assert_array_equal(batched_nms(boxes, scores, [0, 1, 2, 3]), [1, 2, 3, 0])


def test_batched_nms_orders_ties_by_index_across_classes():
    boxes = [[0, 0, 1, 1]] * 4
    np.testing.assert_array_equal(batched_nms(boxes, [0.5, 0.5, 0.5, 0.7], [3, 1, 2, 1]), [3, 0, 2])


def test_batched_nms_max_output_caps_the_total():
    boxes = [[10 * i, 0, 10 * i + 1, 1] for i in range(6)]
    scores = [0.1, 0.9, 0.8, 0.7, 0.6, 0.5]
    labels = [0, 0, 0, 1, 1, 2]
    np.testing.assert_array_equal(batched_nms(boxes, scores, labels, max_output=4), [1, 2, 3, 4])
    assert batched_nms(boxes, scores, labels, max_output=0).shape == (0,)


def test_batched_nms_thresholds_and_labels_of_any_kind():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]]
    scores = [0.9, 0.8, 0.3]
    np.testing.assert_array_equal(batched_nms(boxes, scores, ["cat", "cat", "dog"], score_threshold=0.5), [0])
    np.testing.assert_array_equal(batched_nms(boxes, scores, ["cat", "cat", "dog"], iou_threshold=0.7), [0, 1, 2])


def test_batched_nms_empty():
    kept = batched_nms([], [], [])
    assert kept.shape == (0,) and kept.dtype == np.int64


# --------------------------------------------------------------------------- bad inputs

GOOD = [[0, 0, 2, 2], [1, 1, 3, 3]]
BAD_BOXES = {
    "wrong shape": ([[0, 0, 1]], "expected shape"),
    "not numbers": ([["a", "b", "c", "d"]], "array of numbers"),
    "NaN": ([[0, 0, np.nan, 1]], "NaN"),
    "inf": ([[0, 0, np.inf, 1]], "inf"),
    "negative width": ([[2, 0, 1, 1]], "negative width"),
}

# Every public function that takes (N, 4) boxes, with the argument name its errors use.
CALLS = {
    "area": (lambda b, fmt="xyxy": area(b, fmt), "boxes"),
    "intersection/boxes1": (lambda b, fmt="xyxy": intersection(b, GOOD, fmt), "boxes1"),
    "intersection/boxes2": (lambda b, fmt="xyxy": intersection(GOOD, b, fmt), "boxes2"),
    "iou/boxes1": (lambda b, fmt="xyxy": iou(b, GOOD, fmt), "boxes1"),
    "iou/boxes2": (lambda b, fmt="xyxy": iou(GOOD, b, fmt), "boxes2"),
    "giou/boxes1": (lambda b, fmt="xyxy": giou(b, GOOD, fmt), "boxes1"),
    "giou/boxes2": (lambda b, fmt="xyxy": giou(GOOD, b, fmt), "boxes2"),
    "clip": (lambda b, fmt="xyxy": clip(b, (10, 10), fmt), "boxes"),
    "encode_deltas/anchors": (lambda b, fmt="xyxy": encode_deltas(b, b, format=fmt), "anchors"),
    "encode_deltas/boxes": (lambda b, fmt="xyxy": encode_deltas([[0, 0, 1, 1]] * len(b), b, format=fmt), "boxes"),
    "decode_deltas": (lambda b, fmt="xyxy": decode_deltas(b, np.zeros((len(b), 4)), format=fmt), "anchors"),
    "nms": (lambda b, fmt="xyxy": nms(b, np.ones(len(b)), format=fmt), "boxes"),
    "batched_nms": (lambda b, fmt="xyxy": batched_nms(b, np.ones(len(b)), np.zeros(len(b)), format=fmt), "boxes"),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("case", BAD_BOXES)
def test_bad_boxes_name_the_argument(call, case):
    fn, name = CALLS[call]
    boxes, what = BAD_BOXES[case]
    with pytest.raises(ValueError, match=f"^{name}: .*{what}"):
        fn(boxes)


@pytest.mark.parametrize("call", CALLS)
def test_unknown_format(call):
    fn, _ = CALLS[call]
    with pytest.raises(ValueError, match="format: unknown box format 'xyxy2'"):
        fn(GOOD, "xyxy2")


@pytest.mark.parametrize("fmt", ["xywh", "center_xywh", "yxyx"])
def test_negative_size_depends_on_the_format(fmt):
    bad = [[5, 5, -1, 2]] if fmt != "yxyx" else [[0, 2, 1, 1]]  # width -1 / x2 < x1
    with pytest.raises(ValueError, match=f"boxes: box \\(0,\\) has negative width or height in format '{fmt}'"):
        area(bad, fmt)


def test_convert_format_bad_inputs():
    with pytest.raises(ValueError, match="source: unknown box format 'xy'"):
        convert_format(GOOD, "xy", "xyxy")
    with pytest.raises(ValueError, match="target: unknown box format 'cxcywh'"):
        convert_format(GOOD, "xyxy", "cxcywh")
    with pytest.raises(ValueError, match=r"boxes: expected shape \(\.\.\., 4\), got \(2, 3\)"):
        convert_format([[0, 0, 1], [0, 0, 1]], "xyxy", "xywh")
    with pytest.raises(ValueError, match="boxes: contains NaN"):
        convert_format([[0, 0, 1, np.nan]], "xyxy", "xywh")
    with pytest.raises(ValueError, match=r"boxes: .*negative width"):
        convert_format([[0, 0, 1, -1]], "xywh", "xyxy")


@pytest.mark.parametrize("shape", [(10,), (10, 10, 3, 1), (-1, 10), (10, np.nan), ((10, 10),), "big"])
def test_clip_bad_image_shape(shape):
    with pytest.raises(ValueError, match=r"^image_shape: "):
        clip(GOOD, shape)


def test_deltas_bad_inputs():
    with pytest.raises(ValueError, match=r"boxes: expected 2 rows .* got 1"):
        encode_deltas(GOOD, [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"deltas: expected 2 rows .* got 3"):
        decode_deltas(GOOD, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"deltas: expected shape \(N, 4\), got \(2, 3\)"):
        decode_deltas(GOOD, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="deltas: contains NaN"):
        decode_deltas(GOOD, [[0, 0, 0, 0], [0, np.nan, 0, 0]])
    with pytest.raises(ValueError, match="deltas: contains inf"):
        decode_deltas(GOOD, [[0, 0, 0, 0], [0, 0, np.inf, 0]])
    # zero width or height: the log (and the division by the anchor's size) is undefined
    with pytest.raises(ValueError, match="anchors: box 1 has width 0 and height 3"):
        encode_deltas([[0, 0, 1, 1], [2, 2, 2, 5]], GOOD)
    with pytest.raises(ValueError, match="boxes: box 0 has width 2 and height 0"):
        encode_deltas(GOOD, [[0, 0, 2, 0], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="anchors: box 0 has width 0"):
        decode_deltas([[1, 1, 1, 1]], [[0, 0, 0, 0]])


@pytest.mark.parametrize("fn", [encode_deltas, decode_deltas])
@pytest.mark.parametrize(
    ("variances", "message"),
    [((0.1, 0.2), "4 numbers"), ((0.1, 0.1, 0.2, 0.0), "positive"), ((0.1, np.nan, 0.2, 0.2), "NaN"), ("abcd", "")],
)
def test_deltas_bad_variances(fn, variances, message):
    with pytest.raises(ValueError, match=f"^variances: .*{message}"):
        fn(GOOD, np.zeros((2, 4)) if fn is decode_deltas else GOOD, variances)


NMS_BAD_ARGUMENTS = {
    "scores length": (dict(scores=[0.9]), "scores: expected 2 entries"),
    "scores shape": (dict(scores=[[0.9, 0.8]]), r"scores: expected a 1-D array, got shape \(1, 2\)"),
    "scores NaN": (dict(scores=[0.9, np.nan]), "scores: contains NaN"),
    "scores inf": (dict(scores=[0.9, np.inf]), "scores: contains inf"),
    "iou_threshold above 1": (dict(iou_threshold=1.5), r"iou_threshold: expected a number in \[0, 1\], got 1.5"),
    "iou_threshold negative": (dict(iou_threshold=-0.1), r"iou_threshold: expected a number in \[0, 1\]"),
    "iou_threshold NaN": (dict(iou_threshold=np.nan), "iou_threshold: expected a single number, got nan"),
    "iou_threshold array": (dict(iou_threshold=[0.5, 0.6]), "iou_threshold: expected a single number"),
    "score_threshold NaN": (dict(score_threshold=np.nan), "score_threshold: expected a single number"),
    "score_threshold text": (dict(score_threshold="low"), "score_threshold: expected an array of numbers"),
    "max_output negative": (dict(max_output=-1), "max_output: expected None or a non-negative integer, got -1"),
    "max_output float": (dict(max_output=2.0), "max_output: expected None or a non-negative integer, got 2.0"),
    "max_output bool": (dict(max_output=True), "max_output: expected None or a non-negative integer"),
}


@pytest.mark.parametrize("fn", [nms, batched_nms])
@pytest.mark.parametrize("case", NMS_BAD_ARGUMENTS)
def test_nms_bad_arguments(fn, case):
    kwargs, message = NMS_BAD_ARGUMENTS[case]
    kwargs = {"boxes": GOOD, "scores": [0.9, 0.8], **kwargs}
    if fn is batched_nms:
        kwargs["labels"] = [0, 1]
    with pytest.raises(ValueError, match=f"^{message}"):
        fn(**kwargs)


@pytest.mark.parametrize(
    ("labels", "message"),
    [([0], "labels: expected 2 entries"), ([[0, 1]], "labels: expected a 1-D array"), ([0, np.nan], "labels: .*NaN")],
)
def test_batched_nms_bad_labels(labels, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        batched_nms(GOOD, [0.9, 0.8], labels)


def test_all_lists_the_public_functions():
    public = ["convert_format", "area", "intersection", "iou", "giou", "clip"]
    public += ["encode_deltas", "decode_deltas", "nms", "batched_nms"]
    assert sorted(B.__all__) == sorted(public)
    for name in B.__all__:
        assert callable(getattr(B, name)) and getattr(B, name).__doc__
