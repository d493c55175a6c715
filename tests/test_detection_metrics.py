"""Unit tests of cvlib.metrics.detection: hand-computed curves, AP methods, COCO edge cases, bad input.

Parity with pycocotools on random data is in test_coco_parity.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from cvlib.data.formats import mask_to_rle
from cvlib.metrics.detection import COCO_STAT_NAMES, average_precision, evaluate_coco, precision_recall

# ---------------------------------------------------------------------------------------------
# precision_recall
# ---------------------------------------------------------------------------------------------


def test_precision_recall_hand_computed_single_image():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]  # A, B, C
    # Given out of score order on purpose. By score:
    #   .9 exact copy of A            -> TP (A)
    #   .8 A shifted by 1, IoU 90/110 -> FP: A is taken and nothing else overlaps
    #   .7 exact copy of B            -> TP (B)
    #   .6 background                 -> FP
    #   .5 left half of C, IoU 50/100 -> TP: the threshold is inclusive (IoU >= 0.5)
    dets = [[60, 0, 70, 10], [0, 0, 10, 10], [40, 0, 45, 10], [1, 0, 11, 10], [20, 0, 30, 10]]
    scores = [0.6, 0.9, 0.5, 0.8, 0.7]
    curve = precision_recall(gt, dets, scores)
    np.testing.assert_array_equal(curve.tp, [True, False, True, False, True])
    np.testing.assert_array_equal(curve.scores, [0.9, 0.8, 0.7, 0.6, 0.5])
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    assert curve.num_gt == 3
    assert curve.tp.dtype == bool


def test_precision_recall_takes_best_unmatched_ground_truth():
    # A = [0, 10], B = [5, 15] (x extent). The first detection takes A; the second overlaps A more
    # (IoU 80/120) than B (70/130 >= 0.5) but A is taken, so it takes B: a TP. (The VOC devkit
    # would call it a duplicate of A, an FP; the brief and COCOeval use the best *unmatched* one.)
    gt = [[0, 0, 10, 10], [5, 0, 15, 10]]
    curve = precision_recall(gt, [[0, 0, 10, 10], [2, 0, 12, 10]], [0.9, 0.8])
    np.testing.assert_array_equal(curve.tp, [True, True])


def test_precision_recall_iou_tie_goes_to_later_ground_truth():
    # The first detection straddles A and B with IoU 1/3 each (>= 0.3): as COCOeval, it takes
    # the later one, B. The second detection covers A exactly and takes it: two TPs. Had the
    # tie gone to A, the second would find A taken and B at IoU 0: an FP.
    gt = [[0, 0, 10, 10], [10, 0, 20, 10]]
    curve = precision_recall(gt, [[5, 0, 15, 10], [0, 0, 10, 10]], [0.9, 0.8], iou_threshold=0.3)
    np.testing.assert_array_equal(curve.tp, [True, True])


def test_precision_recall_score_ties_keep_input_order():
    # Same score on one object: the first given is the TP, the second a duplicate.
    curve = precision_recall([[0, 0, 10, 10]], [[0, 0, 10, 9], [0, 0, 10, 10]], [0.5, 0.5])
    np.testing.assert_array_equal(curve.tp, [True, False])
    # Across images, a tie ranks the earlier image first: image 0's detection misses, image 1's hits.
    curve = precision_recall(
        [np.zeros((0, 4)), [[0, 0, 10, 10]]], [[[50, 50, 60, 60]], [[0, 0, 10, 10]]], [[0.5], [0.5]]
    )
    np.testing.assert_array_equal(curve.tp, [False, True])
    np.testing.assert_allclose(curve.precision, [0, 0.5])
    np.testing.assert_allclose(curve.recall, [0, 1])


def test_precision_recall_several_images_ranked_together():
    gt = [[[0, 0, 10, 10]], [[0, 0, 10, 10], [20, 20, 30, 30]]]
    dets = [[[0, 0, 10, 10], [50, 50, 60, 60]], [[20, 20, 30, 30]]]
    scores = [[0.3, 0.9], [0.6]]
    curve = precision_recall(gt, dets, scores)
    # Ranked: 0.9 (image 0, background) FP, 0.6 (image 1) TP, 0.3 (image 0) TP.
    np.testing.assert_array_equal(curve.scores, [0.9, 0.6, 0.3])
    np.testing.assert_array_equal(curve.tp, [False, True, True])
    np.testing.assert_allclose(curve.recall, [0, 1 / 3, 2 / 3])
    assert curve.num_gt == 3
    # Ground truth is per image: image 1's box does not match image 0's identical detection.
    assert precision_recall([[], [[0, 0, 10, 10]]], [[[0, 0, 10, 10]], []], [[0.9], []]).tp.tolist() == [False]


def test_precision_recall_gt_ignore_is_voc_difficult():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]  # A is difficult
    dets = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10], [50, 0, 60, 10]]
    curve = precision_recall(gt, dets, [0.9, 0.8, 0.7, 0.6], gt_ignore=[True, False])
    # Both detections on A are dropped (neither TP nor FP, however many); then B TP, background FP.
    np.testing.assert_array_equal(curve.scores, [0.7, 0.6])
    np.testing.assert_array_equal(curve.tp, [True, False])
    np.testing.assert_allclose(curve.precision, [1, 0.5])
    np.testing.assert_allclose(curve.recall, [1, 1])
    assert curve.num_gt == 1
    # A detection prefers a regular object at IoU 0.5 over a difficult one at IoU 1.
    curve = precision_recall([[0, 0, 10, 10], [0, 0, 20, 10]], [[0, 0, 10, 10]], [0.9], gt_ignore=[True, False])
    np.testing.assert_array_equal(curve.tp, [True])


def test_precision_recall_formats_agree():
    gt = np.array([[0, 0, 10, 10], [20, 5, 30, 25.0]])
    dets = np.array([[1, 1, 10, 11], [19, 5, 31, 24], [0, 0, 3, 3.0]])
    scores = np.array([0.3, 0.8, 0.5])
    ref = precision_recall(gt, dets, scores)
    xywh = precision_recall(
        np.c_[gt[:, :2], gt[:, 2:] - gt[:, :2]], np.c_[dets[:, :2], dets[:, 2:] - dets[:, :2]], scores, format="xywh"
    )
    yxyx = precision_recall(gt[:, [1, 0, 3, 2]], dets[:, [1, 0, 3, 2]], scores, format="yxyx")
    for other in (xywh, yxyx):
        np.testing.assert_array_equal(other.tp, ref.tp)
        np.testing.assert_array_equal(other.precision, ref.precision)
    np.testing.assert_array_equal(ref.tp, [True, False, True])


def test_precision_recall_empty_inputs():
    curve = precision_recall([], [], [])
    assert curve.precision.shape == curve.recall.shape == curve.scores.shape == curve.tp.shape == (0,)
    assert curve.num_gt == 0
    curve = precision_recall([[0, 0, 1, 1]], np.zeros((0, 4)), [])
    assert curve.precision.shape == (0,) and curve.num_gt == 1
    assert average_precision(curve.recall, curve.precision) == 0.0
    # Detections but nothing to find: precision 0, recall undefined (NaN).
    curve = precision_recall(np.zeros((0, 4)), [[0, 0, 1, 1], [2, 2, 3, 3]], [0.5, 0.4])
    np.testing.assert_array_equal(curve.precision, [0, 0])
    assert np.isnan(curve.recall).all() and curve.num_gt == 0
    with pytest.raises(ValueError, match=r"recall: all NaN \(no ground truth, num_gt == 0\)"):
        average_precision(curve.recall, curve.precision)
    # No images at all.
    assert precision_recall([], [], np.zeros((0, 0))).num_gt == 0


def _evaluate_img_transcription(gt, dets, scores, threshold, ignore):
    """COCOeval.evaluateImg's matching loop for one image and one threshold, transcribed plainly.

    Ignored objects play COCO's crowd role (reusable), as precision_recall documents for gt_ignore.
    Returns (score, is_tp) for every detection that counts, best score first.
    """
    from cvlib.boxes import iou

    ious = iou(dets, gt) if len(dets) and len(gt) else np.zeros((len(dets), len(gt)))
    gt_order = np.argsort(ignore, kind="mergesort")  # regular objects first
    taken = np.zeros(len(gt), dtype=bool)
    out = []
    for d in np.argsort(-np.asarray(scores), kind="mergesort"):
        best, m = min(threshold, 1 - 1e-10), -1
        for g in gt_order:
            if taken[g] and not ignore[g]:
                continue
            if m > -1 and not ignore[m] and ignore[g]:
                break
            if ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m == -1:
            out.append((scores[d], False))
        elif not ignore[m]:
            taken[m] = True
            out.append((scores[d], True))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_precision_recall_matches_evaluate_img_transcription(seed):
    rng = np.random.default_rng(seed)
    threshold = float(rng.choice([0.3, 0.5, 0.75]))
    gts, dets, scores, ignores, expected = [], [], [], [], []
    for _ in range(rng.integers(1, 5)):
        # Integer boxes on a small grid: overlaps, exact IoU ties and duplicates are common.
        g = rng.integers(0, 12, (rng.integers(0, 6), 2))
        g = np.c_[g, g + rng.integers(1, 6, g.shape)].astype(float)
        d = rng.integers(0, 12, (rng.integers(0, 8), 2))
        d = np.c_[d, d + rng.integers(1, 6, d.shape)].astype(float)
        s = np.round(rng.random(len(d)), 1)  # ties
        ig = rng.random(len(g)) < 0.25
        for store, value in ((gts, g), (dets, d), (scores, s), (ignores, ig)):
            store.append(value)
        expected += _evaluate_img_transcription(g, d, s, threshold, ig)
    curve = precision_recall(gts, dets, scores, iou_threshold=threshold, gt_ignore=ignores)
    # Across images: stable sort by score of the per-image lists taken in image order.
    expected = [expected[i] for i in np.argsort([-e[0] for e in expected], kind="mergesort")]
    np.testing.assert_array_equal(curve.scores, [e[0] for e in expected])
    np.testing.assert_array_equal(curve.tp, [e[1] for e in expected])
    assert curve.num_gt == sum(int((~ig).sum()) for ig in ignores)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"det_scores": [0.9, 0.8]}, r"det_scores: expected 1 entries"),
        ({"det_scores": [np.nan]}, r"det_scores: contains NaN"),
        ({"det_boxes": [[0, 0, 1]]}, r"det_boxes: expected shape \(N, 4\)"),
        ({"det_boxes": [[0, 0, np.inf, 1]]}, r"det_boxes: contains inf"),
        ({"gt_boxes": [[5, 0, 1, 1]]}, r"gt_boxes: box \(0,\) has negative width"),
        ({"gt_ignore": [True, False]}, r"gt_ignore: expected 1 entries"),
        ({"iou_threshold": 0}, r"iou_threshold: expected a number in \(0, 1\]"),
        ({"iou_threshold": 1.5}, r"iou_threshold: expected a number in \[0, 1\]"),
        ({"iou_threshold": float("nan")}, r"iou_threshold"),
        ({"format": "xyzw"}, r"format: unknown box format 'xyzw'"),
    ],
)
def test_precision_recall_bad_input(kwargs, match):
    args = {"gt_boxes": [[0, 0, 1, 1]], "det_boxes": [[0, 0, 1, 1]], "det_scores": [0.9], **kwargs}
    with pytest.raises(ValueError, match=match):
        precision_recall(**args)


def test_precision_recall_bad_input_several_images():
    with pytest.raises(ValueError, match=r"gt_boxes: expected one entry per image \(2 images"):
        precision_recall([[[0, 0, 1, 1]]], [[[0, 0, 1, 1]], []], [[0.9], []])
    with pytest.raises(ValueError, match=r"gt_ignore: expected one entry per image"):
        precision_recall([[], []], [[], []], [[], [0.1, 0.2]], gt_ignore=[[]])
    with pytest.raises(ValueError, match=r"det_boxes\[1\]: expected shape"):
        precision_recall([[], []], [[], [[0, 1, 2]]], [[], [0.1, 0.2]])
    with pytest.raises(ValueError, match=r"det_scores\[1\]: expected 1 entries"):
        precision_recall([[], []], [[], [[0, 1, 2, 3]]], [[], [0.1, 0.2]])


# ---------------------------------------------------------------------------------------------
# average_precision
# ---------------------------------------------------------------------------------------------

# A curve with 4 objects and the TP/FP sequence T F T T F F T:
#   recall    .25  .25  .5   .75  .75  .75  1
#   precision 1    1/2  2/3  3/4  3/5  1/2  4/7
#   envelope  1    3/4  3/4  3/4  3/5  4/7  4/7
# voc12: area under the envelope, recall steps of 1/4 at envelope 1, 3/4, 3/4, 4/7:
#   (1 + 3/4 + 3/4 + 4/7) / 4 = 43/56
# voc07: t = 0, .1, .2 -> 1; t = .3, .4, .5 -> 3/4 (recall .5); t = .6, .7 -> 3/4 (recall .75);
#   t = .8, .9, 1 -> 4/7:  (3 + 9/4 + 6/4 + 12/7) / 11 = 237/308
# coco: recall thresholds 0..1 by .01: 26 points (0-.25) at 1, 50 (.26-.75) at 3/4, 25 (.76-1) at 4/7:
#   (26 + 37.5 + 100/7) / 101 = 1089/1414
HAND_RECALL = np.array([1, 1, 2, 3, 3, 3, 4]) / 4
HAND_PRECISION = np.array([1, 1 / 2, 2 / 3, 3 / 4, 3 / 5, 1 / 2, 4 / 7])


@pytest.mark.parametrize(("method", "expected"), [("voc12", 43 / 56), ("voc07", 237 / 308), ("coco", 1089 / 1414)])
def test_average_precision_hand_computed(method, expected):
    assert average_precision(HAND_RECALL, HAND_PRECISION, method) == pytest.approx(expected, abs=1e-12)


def test_average_precision_default_is_voc12_and_methods_differ():
    values = {m: average_precision(HAND_RECALL, HAND_PRECISION, m) for m in ("voc07", "voc12", "coco")}
    assert average_precision(HAND_RECALL, HAND_PRECISION) == values["voc12"]
    assert len(set(values.values())) == 3


def _devkit_voc_ap(rec, prec, use_07_metric):
    """Straight transcription of the VOC devkit's voc_ap logic (Python port), loops and all."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def _cocoeval_ap(rc, pr):
    """Transcription of COCOeval.accumulate's interpolation for one curve, then the mean."""
    rec_thrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    pr = list(pr)
    q = [0.0] * len(rec_thrs)
    for i in range(len(pr) - 1, 0, -1):
        if pr[i] > pr[i - 1]:
            pr[i - 1] = pr[i]
    for ri, pi in enumerate(np.searchsorted(rc, rec_thrs, side="left")):
        if pi >= len(pr):
            break
        q[ri] = pr[pi]
    return np.mean(q)


def _random_curve(rng):
    # 7 objects: recall k/7 never sits on a VOC07 threshold other than 0 and 1, where the
    # devkit's np.arange thresholds are exact (see test_voc07_thresholds_are_exact).
    n_gt = 7
    tp = rng.random(rng.integers(1, 30)) < rng.uniform(0.2, 0.9)
    tp[np.flatnonzero(tp)[n_gt:]] = False
    cum = np.cumsum(tp)
    return cum / n_gt, cum / np.arange(1, len(tp) + 1)


@pytest.mark.parametrize("seed", range(20))
def test_average_precision_matches_reference_transcriptions(seed):
    recall, precision = _random_curve(np.random.default_rng(seed))
    assert average_precision(recall, precision, "voc12") == pytest.approx(
        _devkit_voc_ap(recall, precision, False), abs=1e-12
    )
    assert average_precision(recall, precision, "voc07") == pytest.approx(
        _devkit_voc_ap(recall, precision, True), abs=1e-12
    )
    assert average_precision(recall, precision, "coco") == pytest.approx(_cocoeval_ap(recall, precision), abs=1e-12)


def test_voc07_thresholds_are_exact():
    # 10 objects, the first 3 found at precision 1: recall reaches exactly 0.3, so t = 0, .1, .2
    # and .3 see precision 1: AP = 4/11. The devkit's np.arange(0, 1.1, 0.1) has
    # 0.30000000000000004 as its fourth threshold and misses recall 0.3: 3/11.
    recall, precision = np.array([0.1, 0.2, 0.3]), np.ones(3)
    assert average_precision(recall, precision, "voc07") == pytest.approx(4 / 11, abs=1e-15)
    assert _devkit_voc_ap(recall, precision, True) == pytest.approx(3 / 11, abs=1e-15)


def test_average_precision_simple_curves():
    assert average_precision([1.0], [1.0], "voc12") == 1.0
    assert average_precision([1.0], [1.0], "voc07") == pytest.approx(1.0)
    assert average_precision([1.0], [1.0], "coco") == pytest.approx(1.0)
    # Half the objects at precision 1, never the rest.
    assert average_precision([0.5], [1.0], "voc12") == 0.5
    assert average_precision([0.5], [1.0], "voc07") == pytest.approx(6 / 11)
    assert average_precision([0.5], [1.0], "coco") == pytest.approx(51 / 101)
    for method in ("voc07", "voc12", "coco"):
        assert average_precision([], [], method) == 0.0
        assert average_precision([0.0, 0.0], [0.0, 0.0], method) == 0.0


@pytest.mark.parametrize(
    ("recall", "precision", "method", "match"),
    [
        ([0.5, 0.4], [1.0, 1.0], "voc12", r"recall: must be non-decreasing, falls from 0.5 to 0.4 at index 1"),
        ([0.5], [1.0, 1.0], "voc12", r"precision: expected 1 entries"),
        ([1.5], [1.0], "voc12", r"recall: values must be in \[0, 1\], got 1.5 at index 0"),
        ([0.5], [-0.1], "voc12", r"precision: values must be in \[0, 1\]"),
        ([0.5, np.nan], [1.0, 1.0], "voc12", r"recall: contains NaN"),
        ([[0.5]], [[1.0]], "voc12", r"recall: expected a 1-D array"),
        ([0.5], [1.0], "voc2012", r"method: expected one of 'voc07', 'voc12', 'coco', got 'voc2012'"),
        (["a"], [1.0], "coco", r"recall: expected an array of numbers"),
    ],
)
def test_average_precision_bad_input(recall, precision, method, match):
    with pytest.raises(ValueError, match=match):
        average_precision(recall, precision, method)


# ---------------------------------------------------------------------------------------------
# evaluate_coco (edge cases and bad input; pycocotools parity is in test_coco_parity.py)
# ---------------------------------------------------------------------------------------------


def _gt():
    return {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1}, {"id": 2}, {"id": 3}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 200, 100], "area": 20000, "iscrowd": 0},
        ],
    }


def _dets():
    return [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.8},
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 200, 100], "score": 0.7},
    ]


def test_evaluate_coco_perfect_detections():
    result = evaluate_coco(_gt(), _dets())
    assert set(COCO_STAT_NAMES) <= set(result)
    # COCOeval's precision is tp / (tp + fp + eps): a curve with a single TP peaks at 1/(1 + eps).
    for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR10", "AR100", "ARs", "ARm", "ARl"):
        assert result[name] == pytest.approx(1.0, abs=1e-12), name
    # AR1: one detection per image: class 1 has one object per image, class 2 one object: all found.
    assert result["AR1"] == pytest.approx(1.0)
    assert result["per_class_AP"][1] == pytest.approx(1.0) and result["per_class_AP"][2] == pytest.approx(1.0)
    assert result["per_class_AP"][3] == -1  # no ground truth
    # Class 2: one object, one detection: precision 1 / (1 + eps) at every recall threshold, exactly.
    assert (result["precision"][:, :, 1, 0, 2] == 1 / (1 + np.spacing(1))).all()
    assert result["precision"].shape == (10, 101, 3, 4, 3)
    assert result["recall"].shape == (10, 3, 4, 3)
    assert (result["precision"][:, :, 2] == -1).all()
    np.testing.assert_array_equal(result["category_ids"], [1, 2, 3])
    assert list(result["area_ranges"]) == ["all", "small", "medium", "large"]
    assert tuple(result["max_dets"]) == (1, 10, 100)
    np.testing.assert_allclose(result["iou_thresholds"], np.arange(10) * 0.05 + 0.5)
    assert len(result["recall_thresholds"]) == 101


def test_evaluate_coco_hand_computed_ap50():
    gt = _gt()
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [300, 300, 10, 10], "score": 0.95},  # FP
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 25], "score": 0.9},  # IoU 0.5 -> TP at .5 only
        {"image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5},  # TP
    ]
    result = evaluate_coco(gt, dets)
    # Class 1 at IoU .5: F T T over 2 objects; precision envelope 2/3 up to recall 1 -> AP50 = 2/3.
    p50 = result["precision"][0, :, 0, 0, 2]
    np.testing.assert_allclose(p50, 2 / 3)
    # At IoU .55-.95 only the last detection counts: F F T, precision 1/3 up to recall 1/2, then 0.
    p75 = result["precision"][5, :, 0, 0, 2]
    np.testing.assert_allclose(p75[:51], 1 / 3)
    np.testing.assert_array_equal(p75[51:], 0)
    assert result["recall"][0, 0, 0, 2] == 1.0 and result["recall"][1, 0, 0, 2] == 0.5


def test_evaluate_coco_crowd_absorbs_detections():
    gt = _gt()
    gt["annotations"].append(
        {"id": 4, "image_id": 1, "category_id": 1, "bbox": [100, 100, 200, 200], "area": 40000, "iscrowd": 1}
    )
    dets = _dets()
    # Three high-scoring boxes inside the crowd: IoU with a crowd = intersection / detection area = 1,
    # so they are ignored, not false positives (a regular object would have taken only one).
    dets += [{"image_id": 1, "category_id": 1, "bbox": [110 + 30 * i, 120, 20, 20], "score": 0.99} for i in range(3)]
    assert evaluate_coco(gt, dets)["per_class_AP"][1] == pytest.approx(1.0)
    gt["annotations"][-1]["iscrowd"] = 0
    assert evaluate_coco(gt, dets)["per_class_AP"][1] < 0.9


def test_evaluate_coco_empty_detections_and_ground_truth():
    result = evaluate_coco(_gt(), [])
    # No detections: 0 wherever there is ground truth; -1 where there is none (no small/medium
    # objects of class 2, nothing in class 3).
    assert result["AP"] == 0 and result["AR100"] == 0
    assert result["per_class_AP"] == {1: 0.0, 2: 0.0, 3: -1.0}
    assert (result["precision"][:, :, :2, 0] == 0).all()
    assert (result["precision"][:, :, 1, 1] == -1).all()
    no_gt = {**_gt(), "annotations": []}
    for dets in ([], _dets()):
        result = evaluate_coco(no_gt, dets)
        assert all(result[name] == -1 for name in COCO_STAT_NAMES)
        assert (result["precision"] == -1).all() and (result["recall"] == -1).all()
    empty = evaluate_coco({"images": [], "annotations": [], "categories": []}, [])
    assert empty["precision"].shape == (10, 101, 0, 4, 3) and empty["AP"] == -1 and empty["per_class_AP"] == {}


def test_evaluate_coco_keeps_100_best_detections_per_image_and_class():
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}],
    }
    background = [{"image_id": 1, "category_id": 1, "bbox": [100 + i, 0, 5, 5], "score": 0.9} for i in range(100)]
    hit = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]
    assert evaluate_coco(gt, background + hit)["AR100"] == 0  # the hit is the 101st
    assert evaluate_coco(gt, background[:99] + hit)["AR100"] == 1
    assert evaluate_coco(gt, background[:99] + hit)["AR10"] == 0


def test_evaluate_coco_does_not_modify_inputs():
    gt, dets = _gt(), _dets()
    gt_copy, dets_copy = copy.deepcopy(gt), copy.deepcopy(dets)
    evaluate_coco(gt, dets)
    assert gt == gt_copy and dets == dets_copy


def test_evaluate_coco_accepts_ignore_key_without_effect():
    gt = _gt()
    gt["annotations"][0]["ignore"] = 1  # pycocotools overwrites it with iscrowd
    assert evaluate_coco(gt, _dets())["AP"] == evaluate_coco(_gt(), _dets())["AP"]


def test_evaluate_coco_per_class_ap50_agrees_with_precision_recall():
    # The shared matcher: class 1's AP50 from evaluate_coco equals precision_recall + COCO AP,
    # up to COCOeval's eps in the precision denominator.
    rng = np.random.default_rng(0)
    images = [{"id": i} for i in range(5)]
    anns, dets, per_image = [], [], []
    for i in range(5):
        boxes = np.c_[rng.uniform(0, 100, (4, 2)), rng.uniform(100, 150, (4, 2))]  # large: no area effects
        det_boxes = np.r_[boxes + rng.normal(0, 20, boxes.shape), rng.uniform(0, 200, (3, 4))]
        det_boxes[:, 2:] = np.abs(det_boxes[:, 2:]) + 1
        scores = rng.random(len(det_boxes))
        anns += [
            {
                "id": len(anns) + 1 + j,
                "image_id": i,
                "category_id": 1,
                "bbox": b.tolist(),
                "area": b[2] * b[3],
                "iscrowd": 0,
            }
            for j, b in enumerate(boxes)
        ]
        dets += [{"image_id": i, "category_id": 1, "bbox": b.tolist(), "score": s} for b, s in zip(det_boxes, scores)]
        per_image.append((boxes, det_boxes, scores))
    result = evaluate_coco({"images": images, "annotations": anns, "categories": [{"id": 1}]}, dets)
    curve = precision_recall(*(list(x) for x in zip(*per_image)), iou_threshold=0.5, format="xywh")
    ap50 = result["precision"][0, :, 0, 0, 2].mean()
    assert 0.05 < ap50 < 0.95
    assert average_precision(curve.recall, curve.precision, "coco") == pytest.approx(ap50, abs=1e-12)


def _with(mutate):
    gt, dets = _gt(), _dets()
    mutate(gt, dets)
    return gt, dets


def _pop(d, key):
    d.pop(key)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda g, d: g.pop("categories"), r"ground_truth: missing key 'categories'"),
        (lambda g, d: g["images"].append({"name": "x"}), r"ground_truth\['images'\]\[2\]: missing key 'id'"),
        (lambda g, d: _pop(g["annotations"][1], "area"), r"ground_truth\['annotations'\]\[1\]: missing key 'area'"),
        (lambda g, d: _pop(g["annotations"][2], "iscrowd"), r"\[2\]: missing key 'iscrowd'"),
        (
            lambda g, d: g["annotations"][1].update(bbox=[1, 2, 3]),
            r"ground_truth\['annotations'\]\[1\]\['bbox'\]: expected 4 finite numbers",
        ),
        (lambda g, d: g["annotations"][0].update(bbox=[0, 0, -5, 5]), r"bbox'\]: box \(0,\) has negative width"),
        (lambda g, d: g["annotations"][0].update(area=float("nan")), r"\[0\]\['area'\]: expected a finite number"),
        (lambda g, d: g["annotations"][0].update(area=-1), r"\[0\]\['area'\]: expected a number >= 0, got -1"),
        (lambda g, d: g["annotations"][0].update(iscrowd=2), r"\[0\]\['iscrowd'\]: expected 0 or 1, got 2"),
        (lambda g, d: g["annotations"][2].update(id=1), r"\[2\]\['id'\]: 1 is not a unique id"),
        (lambda g, d: g["annotations"][2].update(image_id=7), r"\[2\]\['image_id'\]: 7 is not an id in ground_truth"),
        (lambda g, d: g["annotations"][2].update(category_id=8), r"\[2\]\['category_id'\]: 8 is not an id in"),
        (lambda g, d: g.update(annotations="x"), r"ground_truth\['annotations'\]: expected a list of dicts, got str"),
        (lambda g, d: _pop(d[1], "score"), r"detections\[1\]: missing key 'score'"),
        (lambda g, d: d[1].update(score=float("nan")), r"detections\[1\]\['score'\]: expected a finite number"),
        (lambda g, d: d[1].update(score="high"), r"detections\[1\]\['score'\]: expected a finite number, got 'high'"),
        (lambda g, d: d[2].update(bbox=[0, 0, float("inf"), 1]), r"detections\[2\]\['bbox'\]: expected 4 finite"),
        (lambda g, d: d[2].update(bbox=[[0, 0, 1, 1]]), r"detections\[2\]\['bbox'\]: expected 4 finite"),
        (lambda g, d: d[0].update(bbox=[0, 0, 1, -1]), r"detections\[i\]\['bbox'\]: box \(0,\) has negative"),
        (lambda g, d: d[1].update(image_id=99), r"detections\[1\]\['image_id'\]: 99 is not an id in ground_truth"),
        (lambda g, d: d[1].update(category_id=[1]), r"detections\[1\]\['category_id'\]: \[1\] is not an id in"),
        (lambda g, d: d.append("box"), r"detections\[3\]: expected a dict, got str"),
    ],
)
def test_evaluate_coco_bad_input(mutate, match):
    gt, dets = _with(mutate)
    with pytest.raises(ValueError, match=match):
        evaluate_coco(gt, dets)


def test_evaluate_coco_bad_top_level_and_iou_type():
    with pytest.raises(ValueError, match="ground_truth: expected a COCO dict, got list"):
        evaluate_coco([], [])
    with pytest.raises(ValueError, match="detections: expected a list of dicts, got dict"):
        evaluate_coco(_gt(), {"image_id": 1})
    with pytest.raises(NotImplementedError, match="'keypoints'"):
        evaluate_coco(_gt(), _dets(), iou_type="keypoints")
    with pytest.raises(ValueError, match="iou_type: expected 'bbox' or 'segm', got 'box'"):
        evaluate_coco(_gt(), _dets(), iou_type="box")


# ---------------------------------------------------------------------------------------------
# evaluate_coco(..., iou_type="segm"): masks (pycocotools parity is in test_coco_parity.py)
# ---------------------------------------------------------------------------------------------


def _square(y0, x0, side, shape=(20, 30)):
    mask = np.zeros(shape, bool)
    mask[y0 : y0 + side, x0 : x0 + side] = True
    return mask


def _segm_gt():
    return {
        "images": [{"id": 1, "height": 20, "width": 30}, {"id": 2}],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "area": 100.0, "iscrowd": 0, "segmentation": _square(0, 0, 10)},
            {"id": 2, "image_id": 2, "category_id": 2, "area": 16.0, "iscrowd": 0,
             "segmentation": mask_to_rle(_square(5, 5, 4, (12, 12)))},
        ],
    }


def _segm_dets():
    return [
        {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": _square(0, 5, 10)},  # IoU 50/150
        {"image_id": 2, "category_id": 2, "score": 0.8, "segmentation": _square(5, 5, 4, (12, 12))},  # exact
    ]


def test_evaluate_coco_segm_hand_computed():
    result = evaluate_coco(_segm_gt(), _segm_dets(), iou_type="segm")
    # Category 1: IoU 1/3 misses every threshold (AP 0); category 2 is exact (AP 1).
    assert result["per_class_AP"] == {1: 0.0, 2: pytest.approx(1.0)}
    assert result["AP50"] == pytest.approx(0.5)
    moved = _segm_dets()
    moved[0]["segmentation"] = _square(0, 2, 10)  # IoU 80/120 = 0.667: found at 0.5 to 0.65
    result = evaluate_coco(_segm_gt(), moved, iou_type="segm")
    np.testing.assert_array_equal(result["recall"][:, 0, 0, 2], [1, 1, 1, 1] + [0] * 6)


def test_evaluate_coco_segm_needs_no_bbox_and_ignores_it():
    gt, dets = _segm_gt(), _segm_dets()
    dets[0]["bbox"] = [0, 0, 10, 10]  # a box equal to the object's: the masks, not the boxes, are scored
    assert evaluate_coco(gt, dets, iou_type="segm")["per_class_AP"][1] == 0.0


def test_evaluate_coco_segm_empty_masks_have_iou_zero():
    dets = _segm_dets()
    dets[0]["segmentation"] = np.zeros((20, 30), bool)
    result = evaluate_coco(_segm_gt(), dets, iou_type="segm")
    assert result["per_class_AP"][1] == 0.0 and result["per_class_AP"][2] == pytest.approx(1.0)
    gt = _segm_gt()
    gt["annotations"][0]["segmentation"] = np.zeros((20, 30), bool)
    assert evaluate_coco(gt, _segm_dets(), iou_type="segm")["per_class_AP"][1] == 0.0
    assert evaluate_coco(_segm_gt(), [], iou_type="segm")["AP"] == 0.0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda g, d: d[0].update(segmentation=_square(0, 0, 10, (20, 31))),
         r"detections\[0\]\['segmentation'\]: the mask has shape \(20, 31\) but its image is 20x30"),
        (lambda g, d: g["annotations"][0].update(segmentation=_square(0, 0, 10, (21, 30))),
         r"annotations'\]\[0\]\['segmentation'\]: the mask has shape \(21, 30\) but its image is 20x30"),
        # image 2 lists no size: its ground-truth masks give it
        (lambda g, d: d[1].update(segmentation=np.zeros((12, 13), bool)),
         r"detections\[1\]\['segmentation'\]: the mask has shape \(12, 13\) but its image is 12x12"),
        (lambda g, d: d[0].update(segmentation=mask_to_rle(_square(0, 0, 3, (5, 5)))),
         r"detections\[0\]\['segmentation'\]: the mask has shape \(5, 5\) but its image is 20x30"),
        (lambda g, d: d[0].update(segmentation=np.zeros((2, 20, 30))), r"a 2-D \(H, W\) mask, got an array of shape"),
        (lambda g, d: d[0].update(segmentation=np.full((20, 30), 2)), r"a binary mask holds only 0/1"),
        (lambda g, d: d[0].update(segmentation={"counts": [5]}), r"\['segmentation'\]: expected an RLE dict"),
        (lambda g, d: d[0].update(segmentation={"counts": [5], "size": [20, 30]}), r"RLE size mismatch"),
        (lambda g, d: g["annotations"][1].update(segmentation=[[0, 0, 5, 0, 5, 5]]), r"polygons need the image's"),
        (lambda g, d: d[0].update(segmentation=[[0, 0, 5]]), r"a polygon needs at least 3 \(x, y\) points"),
        (lambda g, d: _pop(d[0], "segmentation"), r"detections\[0\]: missing key 'segmentation'"),
        (lambda g, d: _pop(g["annotations"][1], "segmentation"), r"annotations'\]\[1\]: missing key 'segmentation'"),
        (lambda g, d: d[1].update(category_id=3), r"detections\[1\]\['category_id'\]: 3 is not an id in"),
        (lambda g, d: g["images"][0].update(height=0), r"image 1 has height and width \(0, 30\)"),
    ],
)
def test_evaluate_coco_segm_bad_input(mutate, match):
    gt, dets = _segm_gt(), _segm_dets()
    mutate(gt, dets)
    with pytest.raises(ValueError, match=match):
        evaluate_coco(gt, dets, iou_type="segm")


def test_evaluate_coco_segm_polygons_with_the_image_size():
    gt, dets = _segm_gt(), _segm_dets()
    dets[0]["segmentation"] = [[0, 0, 10, 0, 10, 10, 0, 10]]  # the object's square, as a polygon
    assert evaluate_coco(gt, dets, iou_type="segm")["per_class_AP"][1] == pytest.approx(1.0)
