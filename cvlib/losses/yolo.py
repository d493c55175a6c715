"""The YOLO loss: coordinates, objectness, no-object and class terms (notebook 05).

Redmon et al., "You Only Look Once" (CVPR 2016), eq. (3), in the anchor-based form of YOLOv2
("YOLO9000", CVPR 2017). Predictions and targets are grids of shape (N, S, S, B, 5 + C): for each
cell and each of its B anchors

- ``y_pred``: raw network outputs (t_x, t_y, t_w, t_h, t_o, class logits_1..C);
- ``y_true``: (x, y, w, h, p, one-hot class) from ``cvlib.models.yolo.encode_targets``: x, y the
  object's centre as an offset in [0, 1) inside its cell, w, h its size as fractions of the
  image, p = 1 for the one anchor responsible for an object and 0 everywhere else.

The prediction decodes as centre offset sigmoid(t_x), sigmoid(t_y) (so it stays in its cell),
size anchor * exp(t_w), anchor * exp(t_h) (free to extend beyond the cell), object probability
sigmoid(t_o) and class probabilities softmax(logits). The loss per image, summed over the grid,
with 1obj marking the responsible anchors, 1noobj the rest, and BCE(p, q) = -q log p - (1 - q) log(1 - p):

    coordinates  lambda_coord * sum 1obj [(sig(t_x) - x)^2 + (sig(t_y) - y)^2
                                         + (t_w - log(w / a_w))^2 + (t_h - log(h / a_h))^2]
    objectness                sum 1obj   BCE(sig(t_o), IoU(predicted box, true box))
    no object    lambda_noobj * sum 1noobj BCE(sig(t_o), 0) = -log(1 - sig(t_o))
    class                     sum 1obj   cross-entropy(one-hot class, softmax(logits))

with YOLO's weights lambda_coord = 5 and lambda_noobj = 0.5. Where this differs from v1's sum of
squared errors, the notebook explains why:

- the size error is taken in log space relative to the anchor (YOLOv2). Like v1's square roots
  of w and h it makes a pixel of error on a small box cost more than on a large one, but it is
  exactly scale-invariant, and it is the quantity the network predicts;
- the objectness target is the IoU of the predicted box with its object (YOLOv2 "predicts the IoU
  of the ground truth and the proposed box"; ``iou_aware=False`` gives v1's target of 1), so the
  score that ranks detections also says how well each box is localised;
- objectness and no-object terms are binary cross-entropies (as from YOLOv3 on) rather than
  squared errors of sig(t_o): the squared error's gradient 2 (p - q) p (1 - p) vanishes where
  p is near 0 -- exactly where every anchor starts -- and the hundreds of background anchors then
  hold the few object anchors down; the cross-entropy's gradient is p - q. Its minimum is still
  at p = q, so a perfect prediction (p = IoU = 1 on objects, 0 elsewhere) has zero loss;
- the class term is a cross-entropy where v1 used a squared error on the probabilities, for the
  same reason.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["YOLO_LOSS_TERMS", "YoloLoss", "yolo_loss", "yolo_loss_terms"]

YOLO_LOSS_TERMS = ("coordinates", "objectness", "no_object", "class")
_MAX_LOG_SCALE = 10.0  # exp(10) = 22,000 anchors: bounds the decoded size so an untrained net cannot overflow


def _check_anchors(anchors) -> np.ndarray:
    """(B, 2) positive finite anchor widths and heights (fractions of the image)."""
    try:
        arr = np.asarray(anchors, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"anchors: expected (B, 2) widths and heights, got {anchors!r}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"anchors: expected shape (B, 2) with B >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr <= 0).any():
        raise ValueError(f"anchors: every width and height must be positive and finite, got {arr.tolist()}")
    return arr


def _check_weight(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


def _boxes_iou(a_xy, a_wh, b_xy, b_wh):
    """IoU of centre-size boxes, element by element (any matching shapes (..., 2))."""
    a_lo, a_hi = a_xy - a_wh / 2, a_xy + a_wh / 2
    b_lo, b_hi = b_xy - b_wh / 2, b_xy + b_wh / 2
    overlap = ops.maximum(ops.minimum(a_hi, b_hi) - ops.maximum(a_lo, b_lo), 0.0)
    inter = overlap[..., 0] * overlap[..., 1]
    union = a_wh[..., 0] * a_wh[..., 1] + b_wh[..., 0] * b_wh[..., 1] - inter
    return inter / ops.maximum(union, 1e-9)


def yolo_loss_terms(y_true, y_pred, anchors, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
                    iou_aware: bool = True) -> dict:
    """The four weighted terms of the YOLO loss, each of shape (N,): a dict keyed by ``YOLO_LOSS_TERMS``.

    ``y_true``, ``y_pred``: (N, S, S, B, 5 + C) (see the module docstring); ``anchors``: (B, 2)
    widths and heights as fractions of the image.
    """
    a = _check_anchors(anchors)
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    if len(y_pred.shape) != 5 or (y_pred.shape[-1] is not None and y_pred.shape[-1] < 6):
        raise ValueError(f"y_pred: expected (N, S, S, B, 5 + C) with C >= 1, got shape {tuple(y_pred.shape)}")
    if tuple(y_true.shape)[1:] != tuple(y_pred.shape)[1:] or len(y_true.shape) != 5:
        raise ValueError(f"y_true: expected the shape of y_pred {tuple(y_pred.shape)}, got {tuple(y_true.shape)}")
    if y_pred.shape[3] is not None and y_pred.shape[3] != len(a):
        raise ValueError(f"anchors: y_pred has {y_pred.shape[3]} boxes per cell but {len(a)} anchors were given")
    lambda_coord = _check_weight(lambda_coord, "lambda_coord")
    lambda_noobj = _check_weight(lambda_noobj, "lambda_noobj")
    anchor_wh = ops.convert_to_tensor(a)  # (B, 2), broadcasts over (N, S, S, B, 2)

    responsible = y_true[..., 4]
    empty = 1.0 - responsible
    pred_xy = ops.sigmoid(y_pred[..., 0:2])
    pred_twh = y_pred[..., 2:4]
    # Target log-sizes exist only where there is an object; elsewhere w = h = 0, so guard the log
    # (those cells are multiplied by 0 anyway, but log(0) would turn 0 * -inf into NaN).
    true_wh = y_true[..., 2:4]
    true_twh = ops.log(ops.maximum(true_wh, 1e-9) / anchor_wh)

    xy_error = ops.sum(ops.square(pred_xy - y_true[..., 0:2]), axis=-1)
    wh_error = ops.sum(ops.square(pred_twh - true_twh), axis=-1)
    coordinates = lambda_coord * responsible * (xy_error + wh_error)

    t_o = y_pred[..., 4]
    if iou_aware:
        # Both boxes in cell units: the cell offset is common to both, so it cancels from the IoU;
        # sizes go from image fractions to cells by multiplying by the grid size.
        grid = ops.convert_to_tensor(np.array([y_pred.shape[2], y_pred.shape[1]], np.float32))
        pred_wh = anchor_wh * ops.exp(ops.minimum(pred_twh, _MAX_LOG_SCALE)) * grid
        overlap = _boxes_iou(pred_xy, pred_wh, y_true[..., 0:2], true_wh * grid)
        target = ops.stop_gradient(overlap)  # a target, not a path for gradients to move the box
    else:
        target = ops.ones_like(t_o)
    # BCE from the logit: softplus(t) - q t = -q log sig(t) - (1 - q) log(1 - sig(t)), without log(0).
    objectness = responsible * (ops.softplus(t_o) - target * t_o)
    no_object = lambda_noobj * empty * ops.softplus(t_o)

    log_probs = y_pred[..., 5:] - ops.logsumexp(y_pred[..., 5:], axis=-1, keepdims=True)
    class_term = -responsible * ops.sum(y_true[..., 5:] * log_probs, axis=-1)

    axes = (1, 2, 3)
    return {
        "coordinates": ops.sum(coordinates, axis=axes),
        "objectness": ops.sum(objectness, axis=axes),
        "no_object": ops.sum(no_object, axis=axes),
        "class": ops.sum(class_term, axis=axes),
    }


def yolo_loss(y_true, y_pred, anchors, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
              iou_aware: bool = True):
    """The YOLO loss of each image, (N,): the sum of ``yolo_loss_terms``."""
    terms = yolo_loss_terms(y_true, y_pred, anchors, lambda_coord, lambda_noobj, iou_aware)
    return terms["coordinates"] + terms["objectness"] + terms["no_object"] + terms["class"]


@keras.saving.register_keras_serializable(package="cvlib")
class YoloLoss(keras.losses.Loss):
    """``yolo_loss`` as a Keras loss: ``y_true`` from ``encode_targets``, ``y_pred`` the raw (N, S, S, B, 5 + C) grid.

    Keras averages the per-image sums over the batch.
    """

    def __init__(self, anchors, lambda_coord: float = 5.0, lambda_noobj: float = 0.5, iou_aware: bool = True,
                 name: str = "yolo_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.anchors = _check_anchors(anchors)
        self.lambda_coord = _check_weight(lambda_coord, "lambda_coord")
        self.lambda_noobj = _check_weight(lambda_noobj, "lambda_noobj")
        self.iou_aware = bool(iou_aware)

    def call(self, y_true, y_pred):
        return yolo_loss(y_true, y_pred, self.anchors, self.lambda_coord, self.lambda_noobj, self.iou_aware)

    def get_config(self):
        return {
            **super().get_config(),
            "anchors": self.anchors.tolist(),
            "lambda_coord": self.lambda_coord,
            "lambda_noobj": self.lambda_noobj,
            "iou_aware": self.iou_aware,
        }
