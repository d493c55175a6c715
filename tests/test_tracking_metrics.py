"""OTB one-pass evaluation metrics (cvlib.metrics.tracking) on hand-checked cases and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib import boxes as B
from cvlib.metrics import tracking as T

GT = np.array([[10.0, 10.0, 20.0, 20.0], [30.0, 30.0, 10.0, 10.0], [0.0, 0.0, 8.0, 4.0]])


def test_perfect_tracker():
    t, s = T.success_curve(GT, GT)
    assert np.allclose(t, np.linspace(0, 1, 21))
    # IoU = 1 exceeds every threshold but the last (OTB counts IoU > t), so a perfect AUC is 20/21.
    assert np.all(s[:-1] == 1) and s[-1] == 0
    assert T.success_auc(GT, GT) == pytest.approx(20 / 21)
    assert T.precision_at(GT, GT) == 1.0
    assert np.all(T.center_errors(GT, GT) == 0)


def test_disjoint_boxes_score_zero():
    far = GT + np.array([500.0, 500.0, 0, 0])
    assert T.success_auc(far, GT) == 0.0
    assert T.precision_at(far, GT) == 0.0


def test_known_overlaps_and_success():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]] * 3)
    pred = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 10.0, 10.0], [20.0, 0.0, 10.0, 10.0]])
    iou = T.overlaps(pred, gt)
    assert np.allclose(iou, [1.0, 1 / 3, 0.0])
    _, s = T.success_curve(pred, gt, thresholds=[0.0, 0.3, 1 / 3, 0.5, 1.0])
    assert np.allclose(s, [2 / 3, 2 / 3, 1 / 3, 1 / 3, 0.0]), "success counts IoU strictly above the threshold"
    expected_auc = np.mean([(iou > th).mean() for th in np.linspace(0, 1, 21)])
    assert T.success_auc(pred, gt) == pytest.approx(expected_auc)


def test_precision_counts_errors_up_to_the_threshold():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]] * 4)
    pred = gt + np.array([[0, 0, 0, 0], [20, 0, 0, 0], [12, 16, 0, 0], [30, 0, 0, 0]], dtype=float)
    assert np.allclose(T.center_errors(pred, gt), [0, 20, 20, 30])
    assert T.precision_at(pred, gt, 20) == 0.75, "an error of exactly 20 px counts as precise"
    t, p = T.precision_curve(pred, gt)
    assert len(t) == 51 and p[0] == 0.25 and p[19] == 0.25 and p[20] == 0.75 and p[-1] == 1.0


def test_formats_agree_and_match_boxes_iou():
    rng = np.random.default_rng(0)
    gt = np.column_stack([rng.uniform(0, 50, (40, 2)), rng.uniform(1, 30, (40, 2))])
    pred = gt + rng.normal(0, 5, gt.shape) * [1, 1, 0.3, 0.3]
    pred[:, 2:] = np.abs(pred[:, 2:])
    assert np.allclose(T.overlaps(pred, gt), np.diag(B.iou(pred, gt, format="xywh")))
    xyxy = dict(format="xyxy")
    pa, ga = B.convert_format(pred, "xywh", "xyxy"), B.convert_format(gt, "xywh", "xyxy")
    assert T.success_auc(pa, ga, **xyxy) == pytest.approx(T.success_auc(pred, gt))
    assert T.precision_at(pa, ga, **xyxy) == pytest.approx(T.precision_at(pred, gt))


def test_evaluate_can_skip_the_first_frame():
    pred = GT.copy()
    pred[1:] += 300
    full = T.evaluate(pred, GT)
    rest = T.evaluate(pred, GT, skip_first=True)
    assert full["frames"] == 3 and rest["frames"] == 2
    assert full["auc"] > 0 and rest["auc"] == 0.0 and rest["precision20"] == 0.0


def test_empty_inputs_give_zeros():
    _, s = T.success_curve([], [])
    assert s.shape == (21,) and not s.any()
    assert T.center_errors(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0,)
    assert T.evaluate([], [])["frames"] == 0


@pytest.mark.parametrize(
    ("pred", "gt", "kwargs", "match"),
    [
        (GT[:2], GT, {}, "pred_boxes"),
        (GT[:, :3], GT, {}, "pred_boxes"),
        (GT, [[0, 0, -1, 5]] * 3, {}, "gt_boxes"),
        (np.full((3, 4), np.nan), GT, {}, "pred_boxes"),
        (GT, GT, {"format": "ltwh"}, "format"),
        (GT, GT, {"thresholds": []}, "thresholds"),
        (GT, GT, {"thresholds": [[0.1]]}, "thresholds"),
    ],
)
def test_bad_input(pred, gt, kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.success_curve(pred, gt, **kwargs)
