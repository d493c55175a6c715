"""cvlib.postprocess: the lecture's R-CNN and YOLO rules, where they differ from greedy NMS and where they agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvlib.boxes import batched_nms, iou, nms
from cvlib.postprocess import rcnn_postprocess, yolo_postprocess

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def detections(draw, max_boxes: int = 12, num_classes: int = 3):
    """Integer-cornered xyxy boxes packed closely (so many overlap), float32 scores in [0, 1] and labels."""
    n = draw(st.integers(0, max_boxes))
    corner, size = st.integers(0, 30), st.integers(1, 20)
    rows = draw(st.lists(st.tuples(corner, corner, size, size), min_size=n, max_size=n))
    boxes = np.array([(x, y, x + w, y + h) for x, y, w, h in rows], dtype=float).reshape(-1, 4)
    scores = np.array(draw(st.lists(st.floats(0, 1, width=32), min_size=n, max_size=n)), dtype=np.float32)
    labels = np.array(draw(st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    return boxes, scores, labels


# --------------------------------------------------------------------------- R-CNN: where it agrees with greedy NMS


@SETTINGS
@given(detections(), st.sampled_from([0.1, 0.3, 0.5, 0.7]))
def test_rcnn_keep_without_threshold_is_batched_nms(dets, threshold):
    boxes, scores, labels = dets
    out = rcnn_postprocess(boxes, scores, labels, score_threshold=None, iou_threshold=threshold, merge="keep")
    expected = batched_nms(boxes, scores, labels, threshold)
    np.testing.assert_array_equal(out["indices"], expected)
    np.testing.assert_array_equal(out["boxes"], boxes[expected])
    np.testing.assert_array_equal(out["scores"], scores[expected])
    np.testing.assert_array_equal(out["labels"], labels[expected])


@SETTINGS
@given(detections(), st.sampled_from([0.0, 0.5, 0.9]))
def test_rcnn_keep_is_batched_nms_on_the_regions_that_pass(dets, score_threshold):
    boxes, scores, labels = dets
    out = rcnn_postprocess(boxes, scores, labels, score_threshold=score_threshold, iou_threshold=0.3)
    passing = np.flatnonzero(scores >= score_threshold)
    expected = passing[batched_nms(boxes[passing], scores[passing], labels[passing], 0.3)]
    np.testing.assert_array_equal(out["indices"], expected)
    assert np.all(scores[out["indices"]] >= score_threshold), "a region below the threshold was returned"


@SETTINGS
@given(detections())
def test_rcnn_average_keeps_the_same_regions_and_stays_in_their_hull(dets):
    boxes, scores, labels = dets
    keep = rcnn_postprocess(boxes, scores, labels, merge="keep")
    vote = rcnn_postprocess(boxes, scores, labels, merge="average")
    np.testing.assert_array_equal(vote["indices"], keep["indices"])
    np.testing.assert_array_equal(vote["scores"], keep["scores"])
    np.testing.assert_array_equal(vote["labels"], keep["labels"])
    if len(boxes):  # a weighted mean of boxes lies within their coordinate-wise range
        assert np.all(vote["boxes"] >= boxes.min(0) - 1e-9) and np.all(vote["boxes"] <= boxes.max(0) + 1e-9)


# --------------------------------------------------------------------------- R-CNN: crafted cases


def test_rcnn_score_threshold_removes_what_greedy_nms_keeps():
    boxes = np.array([[0, 0, 10, 10], [40, 40, 50, 50]], float)
    scores, labels = np.array([0.9, 0.4]), np.array([0, 0])
    assert list(batched_nms(boxes, scores, labels, 0.3)) == [0, 1], "greedy NMS keeps both separate boxes"
    out = rcnn_postprocess(boxes, scores, labels)
    assert list(out["indices"]) == [0], "the lecture discards the region scoring below 0.5"


def test_rcnn_score_equal_to_threshold_stays():
    out = rcnn_postprocess([[0, 0, 10, 10]], [0.5], [1])
    assert list(out["indices"]) == [0] and out["labels"].dtype == np.int64


def test_rcnn_merges_only_within_a_class_and_above_the_iou():
    # box 1 overlaps box 0 with IoU 0.5 (same class: absorbed), box 2 the same overlap but another class
    boxes = np.array([[0, 0, 30, 10], [10, 0, 40, 10], [10, 0, 40, 10], [20, 0, 50, 10]], float)
    scores, labels = np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 0, 1, 0])
    out = rcnn_postprocess(boxes, scores, labels, iou_threshold=0.3)
    # box 3 overlaps box 0 by IoU 0.25 (not absorbed) but box 1 by 0.5; box 1 is gone, so box 3 stays
    assert list(out["indices"]) == [0, 2, 3]


def test_box_voting_by_hand():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [1, 1, 9, 11], [50, 50, 60, 60]], float)
    scores, labels = np.array([0.9, 0.6, 0.5, 0.8]), np.array([0, 0, 0, 0])
    out = rcnn_postprocess(boxes, scores, labels, iou_threshold=0.3, merge="average")
    assert list(out["indices"]) == [0, 3]
    # box 0 absorbs boxes 1 (IoU 80/120) and 2 (IoU 72/108): weights 0.9, 0.6, 0.5, total 2.0
    x1 = (0.9 * 0 + 0.6 * 2 + 0.5 * 1) / 2.0
    y1 = (0.9 * 0 + 0.6 * 0 + 0.5 * 1) / 2.0
    x2 = (0.9 * 10 + 0.6 * 12 + 0.5 * 9) / 2.0
    y2 = (0.9 * 10 + 0.6 * 10 + 0.5 * 11) / 2.0
    np.testing.assert_allclose(out["boxes"][0], [x1, y1, x2, y2])
    np.testing.assert_array_equal(out["boxes"][1], boxes[3], err_msg="a region that absorbed nothing keeps its box")
    np.testing.assert_array_equal(out["scores"], [0.9, 0.8])
    keep = rcnn_postprocess(boxes, scores, labels, iou_threshold=0.3, merge="keep")
    np.testing.assert_array_equal(keep["boxes"], boxes[[0, 3]])


def test_box_voting_in_another_format_averages_the_same_boxes():
    xyxy_boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], float)
    xywh_boxes = np.column_stack([xyxy_boxes[:, :2], xyxy_boxes[:, 2:] - xyxy_boxes[:, :2]])
    a = rcnn_postprocess(xyxy_boxes, [0.9, 0.6], [0, 0], merge="average")
    b = rcnn_postprocess(xywh_boxes, [0.9, 0.6], [0, 0], merge="average", format="xywh")
    np.testing.assert_allclose(b["boxes"], np.column_stack([a["boxes"][:, :2], a["boxes"][:, 2:] - a["boxes"][:, :2]]))


def test_rcnn_empty_input_gives_empty_output():
    for merge in ("keep", "average"):
        out = rcnn_postprocess(np.zeros((0, 4)), [], [], merge=merge)
        assert out["boxes"].shape == (0, 4) and out["scores"].shape == (0,) and out["labels"].shape == (0,)
    out = rcnn_postprocess([[0, 0, 1, 1]], [0.1], [0])
    assert out["boxes"].shape == (0, 4), "everything below the threshold: nothing, in the right shape"


# --------------------------------------------------------------------------- YOLO


def _yolo_inputs(boxes, objectness, labels, num_classes=3):
    probs = np.full((len(boxes), num_classes), 0.1)
    probs[np.arange(len(boxes)), labels] = 0.8
    return np.asarray(boxes, float), np.asarray(objectness, float), probs


@SETTINGS
@given(detections(), st.sampled_from([0.0, 0.6]), st.sampled_from([0.3, 0.5]))
def test_yolo_rule_is_class_agnostic_nms_on_pc_after_the_filter(dets, pc_threshold, iou_threshold):
    boxes, pc, labels = dets
    boxes, pc, probs = _yolo_inputs(boxes, pc, labels)
    out = yolo_postprocess(boxes, pc, probs, pc_threshold, iou_threshold)
    passing = np.flatnonzero(pc >= pc_threshold)
    overlaps = iou(boxes[passing], boxes[passing])
    if np.any(np.isclose(overlaps, iou_threshold)):
        return  # an IoU exactly at the threshold: the lecture suppresses, nms does not (tested below)
    expected = passing[nms(boxes[passing], pc[passing], iou_threshold)]
    np.testing.assert_array_equal(out["indices"], expected)
    np.testing.assert_array_equal(out["labels"], labels[expected])
    np.testing.assert_array_equal(out["scores"], pc[expected])
    assert np.all(out["scores"] >= pc_threshold), "a box with p_c below the threshold was returned"


@SETTINGS
@given(detections())
def test_yolo_per_class_is_batched_nms_on_pc(dets):
    boxes, pc, labels = dets
    boxes, pc, probs = _yolo_inputs(boxes, pc, labels)
    out = yolo_postprocess(boxes, pc, probs, 0.0, 0.45, class_agnostic=False)
    expected = batched_nms(boxes, pc, labels, 0.45)
    overlaps = iou(boxes, boxes)
    if not np.any(np.isclose(overlaps, 0.45)):
        np.testing.assert_array_equal(out["indices"], expected)


def test_yolo_suppresses_across_classes_where_batched_nms_does_not():
    boxes, pc, probs = _yolo_inputs([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.8], [0, 1])
    out = yolo_postprocess(boxes, pc, probs)
    assert list(out["indices"]) == [0], "the lecture's rule is class-agnostic"
    assert list(batched_nms(boxes, pc, [0, 1], 0.5)) == [0, 1], "greedy NMS per class keeps both"
    assert list(yolo_postprocess(boxes, pc, probs, class_agnostic=False)["indices"]) == [0, 1]


def test_yolo_iou_equal_to_threshold_suppresses_where_nms_does_not():
    # IoU of [0, 10] and [0, 5] (same height): 50 / 100 = 0.5 exactly
    boxes, pc, probs = _yolo_inputs([[0, 0, 10, 10], [0, 0, 5, 10]], [0.9, 0.8], [0, 0])
    assert iou(boxes[:1], boxes[1:])[0, 0] == 0.5
    assert list(yolo_postprocess(boxes, pc, probs)["indices"]) == [0], "IoU >= 0.5 is discarded"
    assert list(nms(boxes, pc, 0.5)) == [0, 1], "nms suppresses only above the threshold"


def test_yolo_drops_low_objectness_however_confident_the_class():
    boxes = np.array([[0, 0, 10, 10], [30, 30, 40, 40], [60, 60, 70, 70]], float)
    pc = np.array([0.59, 0.6, 0.95])
    probs = np.array([[1.0, 0.0], [0.2, 0.8], [0.6, 0.4]])
    out = yolo_postprocess(boxes, pc, probs)
    assert list(out["indices"]) == [2, 1], "p_c 0.59 is below 0.6; 0.6 is not"
    assert list(out["labels"]) == [0, 1], "the class is the argmax of the class probabilities"
    np.testing.assert_array_equal(out["scores"], [0.95, 0.6])


def test_yolo_empty_and_formats():
    out = yolo_postprocess(np.zeros((0, 4)), [], np.zeros((0, 6)))
    assert out["boxes"].shape == (0, 4) and out["labels"].shape == (0,)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], float)
    centre = np.column_stack([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]])
    out = yolo_postprocess(centre, [0.9, 0.8], np.eye(2), format="center_xywh")
    np.testing.assert_array_equal(out["boxes"], centre[:1], err_msg="boxes come back in the format they came in")


# --------------------------------------------------------------------------- bad input


BOXES = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], float)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"boxes": np.zeros((2, 3))}, "boxes"),
        ({"boxes": [[0, 0, -1, 5], [0, 0, 1, 1]]}, "boxes"),
        ({"scores": [0.9]}, "scores"),
        ({"scores": [0.9, np.nan]}, "scores"),
        ({"labels": [0]}, "labels"),
        ({"labels": [0.5, 1]}, "labels"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"score_threshold": np.nan}, "score_threshold"),
        ({"iou_threshold": -0.1}, "iou_threshold"),
        ({"merge": "vote"}, "merge"),
        ({"format": "xyzw"}, "format"),
    ],
)
def test_rcnn_bad_input_names_the_argument(kwargs, argument):
    args = {"boxes": BOXES, "scores": [0.9, 0.8], "labels": [0, 1], **kwargs}
    with pytest.raises(ValueError, match=rf"^{argument}"):
        rcnn_postprocess(**args)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"boxes": np.zeros((2, 5))}, "boxes"),
        ({"objectness": [0.9, np.nan]}, "objectness"),
        ({"objectness": [0.9, 1.2]}, "objectness"),
        ({"objectness": [0.9]}, "objectness"),
        ({"class_probs": np.ones((3, 2))}, "class_probs"),
        ({"class_probs": np.ones(2)}, "class_probs"),
        ({"class_probs": [[0.5, np.nan], [0.5, 0.5]]}, "class_probs"),
        ({"objectness_threshold": 2}, "objectness_threshold"),
        ({"iou_threshold": 1.01}, "iou_threshold"),
        ({"class_agnostic": "yes"}, "class_agnostic"),
    ],
)
def test_yolo_bad_input_names_the_argument(kwargs, argument):
    args = {"boxes": BOXES, "objectness": [0.9, 0.8], "class_probs": np.eye(2), **kwargs}
    with pytest.raises(ValueError, match=rf"^{argument}"):
        yolo_postprocess(**args)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_score_equal_to_the_threshold_passes_at_the_precision_it_came_in(dtype):
    # float32(0.9) is 0.89999998 as a float64: compared there, a score written as 0.9 would fall below 0.9
    boxes = np.array([[0.0, 0.0, 1.0, 1.0]])
    score = np.array([0.9], dtype)
    assert rcnn_postprocess(boxes, score, [0], score_threshold=0.9)["indices"].tolist() == [0]
    assert yolo_postprocess(boxes, score, [[1.0]], objectness_threshold=0.9)["indices"].tolist() == [0]
