"""Single-object tracking metrics: the OTB one-pass evaluation (OPE) (notebook 10).

Wu, Lim and Yang, "Online Object Tracking: A Benchmark" (CVPR 2013) and "Object Tracking
Benchmark" (TPAMI 2015) judge a tracker that is started once on the first frame's ground
truth and never re-initialised by two curves over the frames of a sequence:

- **success plot**: the fraction of frames whose overlap (IoU) with the ground truth is
  *greater than* a threshold, for 21 thresholds 0, 0.05, ..., 1; its **AUC** is the mean of
  those 21 values (the same as the mean IoU, up to the sampling of the thresholds);
- **precision plot**: the fraction of frames whose centre error (Euclidean distance between
  the centres of the predicted and the true box, in pixels) is *at most* a threshold,
  0, 1, ..., 50 pixels; the figure quoted is **precision at 20 pixels**.

Boxes are (N, 4), one per frame, in ``"xywh"`` (OTB's own format, the default) or any
format of ``cvlib.boxes``; NumPy in, NumPy out.
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import check_finite, check_format, to_numpy
from cvlib.boxes import convert_format, xyxy

__all__ = [
    "PRECISION_THRESHOLDS",
    "SUCCESS_THRESHOLDS",
    "center_errors",
    "evaluate",
    "overlaps",
    "precision_at",
    "precision_curve",
    "success_auc",
    "success_curve",
]

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)  # OTB: 0, 0.05, ..., 1
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)  # OTB: 0, 1, ..., 50 pixels


def _pair(pred_boxes, gt_boxes, format: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated (N, 4) xyxy predictions and ground truth, one row per frame."""
    check_format(format)
    p = xyxy(pred_boxes, format, "pred_boxes")
    g = xyxy(gt_boxes, format, "gt_boxes")
    if len(p) != len(g):
        raise ValueError(f"pred_boxes: expected {len(g)} boxes (one per frame of gt_boxes), got {len(p)}")
    return p, g


def _thresholds(thresholds, name: str = "thresholds") -> np.ndarray:
    t = check_finite(to_numpy(thresholds, name), name)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of thresholds, got shape {t.shape}")
    return t


def overlaps(pred_boxes, gt_boxes, format: str = "xywh") -> np.ndarray:
    """Per-frame IoU of ``pred_boxes[i]`` with ``gt_boxes[i]``: (N, 4), (N, 4) -> (N,).

    The diagonal of ``cvlib.boxes.iou(pred_boxes, gt_boxes)``, computed row by row (O(N), not O(N^2)).
    """
    p, g = _pair(pred_boxes, gt_boxes, format)
    iw = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
    ih = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
    inter = iw * ih
    union = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def center_errors(pred_boxes, gt_boxes, format: str = "xywh") -> np.ndarray:
    """Per-frame distance in pixels between the centres of predicted and true boxes: -> (N,)."""
    p, g = _pair(pred_boxes, gt_boxes, format)
    pc = convert_format(p, "xyxy", "center_xywh")[:, :2]
    gc = convert_format(g, "xyxy", "center_xywh")[:, :2]
    return np.hypot(*(pc - gc).T) if len(p) else np.zeros(0)


def success_curve(pred_boxes, gt_boxes, thresholds=SUCCESS_THRESHOLDS, format: str = "xywh"):
    """OTB success plot: for each overlap threshold t, the fraction of frames with IoU > t.

    Returns ``(thresholds, success)``, two arrays of shape (T,). No frames give zeros.
    """
    t = _thresholds(thresholds)
    iou = overlaps(pred_boxes, gt_boxes, format)
    if iou.size == 0:
        return t, np.zeros_like(t)
    return t, (iou[None, :] > t[:, None]).mean(axis=1)


def success_auc(pred_boxes, gt_boxes, format: str = "xywh") -> float:
    """Area under the OTB success plot: the mean success rate over the 21 thresholds 0, 0.05, ..., 1."""
    return float(success_curve(pred_boxes, gt_boxes, SUCCESS_THRESHOLDS, format)[1].mean())


def precision_curve(pred_boxes, gt_boxes, thresholds=PRECISION_THRESHOLDS, format: str = "xywh"):
    """OTB precision plot: for each distance t (pixels), the fraction of frames with centre error <= t.

    Returns ``(thresholds, precision)``, two arrays of shape (T,). No frames give zeros.
    """
    t = _thresholds(thresholds)
    err = center_errors(pred_boxes, gt_boxes, format)
    if err.size == 0:
        return t, np.zeros_like(t)
    return t, (err[None, :] <= t[:, None]).mean(axis=1)


def precision_at(pred_boxes, gt_boxes, pixels: float = 20.0, format: str = "xywh") -> float:
    """Fraction of frames whose centre error is at most ``pixels`` (OTB quotes 20 pixels)."""
    return float(precision_curve(pred_boxes, gt_boxes, [pixels], format)[1][0])


def evaluate(pred_boxes, gt_boxes, format: str = "xywh", skip_first: bool = False) -> dict:
    """One-pass evaluation of one sequence: success AUC, precision at 20 px, mean IoU and centre error.

    ``skip_first`` leaves out frame 0, where every tracker is given the true box (OTB keeps it in, the
    default; leaving it out is a little stricter on short sequences). Returns a dict
    with ``"auc"``, ``"precision20"``, ``"mean_iou"``, ``"mean_center_error"`` and ``"frames"``.
    """
    p, g = _pair(pred_boxes, gt_boxes, format)
    if skip_first:
        p, g = p[1:], g[1:]
    iou = overlaps(p, g, "xyxy")
    err = center_errors(p, g, "xyxy")
    return {
        "auc": success_auc(p, g, "xyxy"),
        "precision20": precision_at(p, g, 20.0, "xyxy"),
        "mean_iou": float(iou.mean()) if iou.size else 0.0,
        "mean_center_error": float(err.mean()) if err.size else 0.0,
        "frames": len(p),
    }
