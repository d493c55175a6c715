"""Property tests of cvlib.boxes (hypothesis): what must hold for every input, not just hand-picked ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvlib.boxes import batched_nms, convert_format, decode_deltas, encode_deltas, giou, iou, nms

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")
# Small examples keep the whole file to a few seconds.
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def grid_boxes(draw, min_size: int = 0, max_boxes: int = 6) -> np.ndarray:
    """(N, 4) xyxy boxes with integer corners, so translating and scaling them is exact enough to compare."""
    n = draw(st.integers(1, max_boxes))
    corner = st.integers(-50, 50)
    size = st.integers(min_size, 30)
    rows = draw(st.lists(st.tuples(corner, corner, size, size), min_size=n, max_size=n))
    return np.array([(x, y, x + w, y + h) for x, y, w, h in rows], dtype=float)


@st.composite
def float_boxes(draw, fmt: str, max_boxes: int = 5) -> np.ndarray:
    """(N, 4) boxes in ``fmt`` with arbitrary float positions and non-negative sizes."""
    n = draw(st.integers(1, max_boxes))
    coordinate = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    size = st.floats(0, 1e3, allow_nan=False, allow_infinity=False)
    rows = np.array(draw(st.lists(st.tuples(coordinate, coordinate, size, size), min_size=n, max_size=n)))
    x, y, w, h = rows.T
    return {
        "xyxy": np.stack([x, y, x + w, y + h], axis=-1),
        "yxyx": np.stack([y, x, y + h, x + w], axis=-1),
        "xywh": rows,
        "center_xywh": rows,
    }[fmt]


# --------------------------------------------------------------------------- IoU and GIoU


@SETTINGS
@given(grid_boxes(), grid_boxes())
def test_iou_is_symmetric_and_in_unit_interval(a, b):
    forward = iou(a, b)
    assert forward.shape == (len(a), len(b))
    np.testing.assert_array_equal(forward, iou(b, a).T)
    assert np.all((forward >= 0) & (forward <= 1))


@SETTINGS
@given(grid_boxes(min_size=1))
def test_iou_of_a_box_with_itself_is_one(a):
    np.testing.assert_allclose(np.diag(iou(a, a)), 1.0)


@SETTINGS
@given(grid_boxes(), grid_boxes(), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_iou_is_translation_invariant(a, b, dx, dy):
    shift = np.array([dx, dy, dx, dy])
    np.testing.assert_allclose(iou(a + shift, b + shift), iou(a, b), atol=1e-9)


@SETTINGS
@given(grid_boxes(), grid_boxes(), st.floats(1e-2, 1e2))
def test_iou_is_scale_invariant(a, b, factor):
    np.testing.assert_allclose(iou(a * factor, b * factor), iou(a, b), atol=1e-9)


@SETTINGS
@given(grid_boxes(), grid_boxes())
def test_giou_is_at_most_iou_and_in_range(a, b):
    g = giou(a, b)
    assert np.all(np.isfinite(g))
    assert np.all(g <= iou(a, b) + 1e-12)
    assert np.all((g >= -1) & (g <= 1))


# --------------------------------------------------------------------------- formats and deltas


@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(FORMATS, 2)))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_format_conversion_round_trips(source, target, data):
    boxes = data.draw(float_boxes(source))
    there = convert_format(boxes, source, target)
    np.testing.assert_allclose(convert_format(there, target, source), boxes, rtol=1e-12, atol=1e-9)


sizes = st.floats(1, 50)  # sizes within 62.5x of each other: decode_deltas does not clamp them
positions = st.floats(-100, 100)
variances = st.one_of(st.none(), st.tuples(*[st.floats(0.05, 2.0)] * 4))


@st.composite
def anchors_and_boxes(draw):
    n = draw(st.integers(1, 5))
    rows = draw(st.lists(st.tuples(positions, positions, sizes, sizes), min_size=2 * n, max_size=2 * n))
    x, y, w, h = np.array(rows).T
    xyxy = np.stack([x, y, x + w, y + h], axis=-1)
    return xyxy[:n], xyxy[n:]


@SETTINGS
@given(anchors_and_boxes(), variances, st.sampled_from(FORMATS))
def test_deltas_round_trip(pair, var, fmt):
    anchors, boxes = (convert_format(b, "xyxy", fmt) for b in pair)
    deltas = encode_deltas(anchors, boxes, var, format=fmt)
    decoded = decode_deltas(anchors, deltas, var, format=fmt)
    np.testing.assert_allclose(decoded, boxes, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(encode_deltas(anchors, decoded, var, format=fmt), deltas, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- NMS


@st.composite
def detections(draw, max_boxes: int = 12):
    """Boxes on a small grid (so overlaps are frequent), scores with ties, and labels."""
    n = draw(st.integers(0, max_boxes))
    corner, size = st.integers(0, 12), st.integers(0, 8)
    rows = draw(st.lists(st.tuples(corner, corner, size, size), min_size=n, max_size=n))
    boxes = np.array([(x, y, x + w, y + h) for x, y, w, h in rows], dtype=float).reshape(n, 4)
    scores = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=float) / 4
    labels = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=int)
    return boxes, scores, labels


@SETTINGS
@given(detections(), st.sampled_from([0.0, 0.3, 0.5, 1.0]))
def test_nms_is_greedy_suppression(detection, threshold):
    boxes, scores, _ = detection
    kept = nms(boxes, scores, iou_threshold=threshold)
    # best first, ties by index
    assert [(-scores[i], i) for i in kept] == sorted((-scores[i], i) for i in kept)
    # no two kept boxes overlap by more than the threshold
    overlap = iou(boxes[kept], boxes[kept])
    np.fill_diagonal(overlap, 0)
    assert np.all(overlap <= threshold + 1e-6)
    # every dropped box overlaps a kept box that comes before it by more than the threshold
    rank = {int(i): r for r, i in enumerate(sorted(range(len(boxes)), key=lambda i: (-scores[i], i)))}
    for i in sorted(set(range(len(boxes))) - set(kept.tolist())):
        earlier = [k for k in kept if rank[int(k)] < rank[i]]
        assert earlier and iou(boxes[[i]], boxes[earlier]).max() > threshold - 1e-6


@SETTINGS
@given(detections(), st.sampled_from([0.0, 0.5, 0.9]), st.one_of(st.none(), st.integers(0, 5)))
def test_batched_nms_is_nms_per_class(detection, threshold, limit):
    boxes, scores, labels = detection
    kept = batched_nms(boxes, scores, labels, iou_threshold=threshold, max_output=limit)
    per_class = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        per_class += members[nms(boxes[members], scores[members], iou_threshold=threshold)].tolist()
    expected = sorted(per_class, key=lambda i: (-scores[i], i))[:limit]
    np.testing.assert_array_equal(kept, expected)
    if len(np.unique(labels)) <= 1:
        np.testing.assert_array_equal(kept, nms(boxes, scores, iou_threshold=threshold, max_output=limit))
