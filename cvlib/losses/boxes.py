"""Box-regression losses on paired boxes: L2 on the vertices, smooth L1, and 1 - GIoU (notebook 02).

Each loss compares a predicted box with its true box, row by row: ``y_true`` and ``y_pred``
are (N, 4) ``xyxy`` boxes (any unit: pixels, or fractions of the image side as the
localiser of ``cvlib.models.localizer`` predicts them), and the function returns one loss
per box, shape (N,). The ``keras.losses.Loss`` classes wrap the functions for
``model.compile`` (Keras then averages over the batch) and are registered for ``.keras`` saving.

- ``l2_box_loss``: the lecture's L2 loss, the squared distance between the four predicted and
  true numbers, ``sum_k (p_k - t_k)^2``;
- ``smooth_l1_loss``: Fast R-CNN's smooth L1 (Girshick 2015, eq. 3) with a threshold ``beta``:
  quadratic for errors below ``beta``, linear above, so large errors pull with a bounded gradient;
- ``giou_loss``: ``1 - GIoU`` (Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019),
  which optimises the overlap itself, is scale-invariant, and still has a gradient when the
  boxes do not overlap (where ``1 - IoU`` is flat);
- ``paired_iou``: the IoU of each pair, (N,), e.g. as a training metric.

Documented results for unusual boxes (never an error, so a training step never crashes):

- boxes may lie partly or wholly outside the image, the losses do not know the image;
- a zero-area box (x1 == x2 or y1 == y2) overlaps nothing: its IoU is 0, and two pairs
  with an empty union get IoU 0 and GIoU 0 (as ``cvlib.boxes.iou`` and ``giou`` define them);
  every gradient stays finite;
- a *predicted* box with x2 < x1 (or y2 < y1), which an untrained network produces, is read
  by ``giou_loss`` with its corners sorted, as Rezatofighi et al.'s Algorithm 1 does.

Bad input raises a ``ValueError`` naming the argument: a shape other than (N, 4), different
shapes of ``y_true`` and ``y_pred``, and, when the boxes are given as NumPy arrays or lists
(not as tensors, which may be symbolic inside ``fit``), NaN or infinity, or a true box with a
negative width or height.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cvlib._checks import boxes_array, check_finite, check_shape_last, to_numpy

__all__ = [
    "GIoULoss",
    "L2BoxLoss",
    "SmoothL1Loss",
    "giou_loss",
    "l2_box_loss",
    "paired_iou",
    "smooth_l1_loss",
]


def _pair(y_true, y_pred):
    """Check a pair of (N, 4) box sets and return them as float32 tensors."""
    concrete = {}
    for name, value in (("y_true", y_true), ("y_pred", y_pred)):
        if ops.is_tensor(value):
            if len(value.shape) != 2 or value.shape[-1] != 4:
                raise ValueError(f"{name}: expected shape (N, 4) (xyxy boxes), got {tuple(value.shape)}")
        else:
            # NumPy or a list: its values are known now, so check them too.
            arr = to_numpy(value, name)
            arr = arr.reshape(0, 4) if arr.shape == (0,) else check_shape_last(arr, name, 4, ndim=2)
            # A true box must be a box; a prediction may be anything finite (see the module docstring).
            concrete[name] = boxes_array(arr, name) if name == "y_true" else check_finite(arr, name)
    shapes = [tuple(concrete.get(n, v).shape) for n, v in (("y_true", y_true), ("y_pred", y_pred))]
    if None not in shapes[0] + shapes[1] and shapes[0] != shapes[1]:
        raise ValueError(f"y_pred: expected the shape of y_true {shapes[0]} (one prediction per box), got {shapes[1]}")
    y_true = ops.cast(ops.convert_to_tensor(concrete.get("y_true", y_true)), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(concrete.get("y_pred", y_pred)), "float32")
    return y_true, y_pred


def _safe_divide(numerator, denominator):
    """numerator / denominator where the denominator is positive, else 0, with finite gradients.

    The inner ``where`` keeps the division itself away from 0/0: a single ``where`` would give
    the right value but a NaN gradient, since both branches are differentiated.
    """
    positive = denominator > 0
    return ops.where(positive, numerator / ops.where(positive, denominator, 1.0), 0.0)


def _iou_and_giou(y_true, y_pred):
    """Row-wise IoU and GIoU of validated float32 tensors, with the predicted corners sorted."""
    tx1, ty1, tx2, ty2 = (y_true[:, k] for k in range(4))
    px1, px2 = ops.minimum(y_pred[:, 0], y_pred[:, 2]), ops.maximum(y_pred[:, 0], y_pred[:, 2])
    py1, py2 = ops.minimum(y_pred[:, 1], y_pred[:, 3]), ops.maximum(y_pred[:, 1], y_pred[:, 3])
    area_t = (tx2 - tx1) * (ty2 - ty1)
    area_p = (px2 - px1) * (py2 - py1)
    inter_w = ops.maximum(ops.minimum(tx2, px2) - ops.maximum(tx1, px1), 0.0)
    inter_h = ops.maximum(ops.minimum(ty2, py2) - ops.maximum(ty1, py1), 0.0)
    inter = inter_w * inter_h
    union = area_t + area_p - inter
    iou = _safe_divide(inter, union)
    # C, the smallest box enclosing both: GIoU subtracts the share of C that neither box covers.
    hull = (ops.maximum(tx2, px2) - ops.minimum(tx1, px1)) * (ops.maximum(ty2, py2) - ops.minimum(ty1, py1))
    return iou, iou - _safe_divide(hull - union, hull)


@keras.saving.register_keras_serializable(package="cvlib")
def paired_iou(y_true, y_pred):
    """IoU of each true box with its prediction: (N, 4), (N, 4) xyxy -> (N,) in [0, 1].

    The diagonal of ``cvlib.boxes.iou(y_true, y_pred)``, with ``keras.ops`` so it works as a
    Keras metric (``metrics=[paired_iou]``; registered, so a compiled model still loads);
    an empty union gives 0.
    """
    return _iou_and_giou(*_pair(y_true, y_pred))[0]


def l2_box_loss(y_true, y_pred):
    """The lecture's L2 loss on the box vertices: (N, 4), (N, 4) -> (N,), ``sum_k (p_k - t_k)^2``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.sum(ops.square(y_pred - y_true), axis=-1)


def _beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta > 0 \
            or not np.isfinite(beta):
        raise ValueError(f"beta: expected a positive number (where smooth L1 turns from quadratic to linear), "
                         f"got {beta!r}")
    return float(beta)


def smooth_l1_loss(y_true, y_pred, beta: float = 1.0):
    """Fast R-CNN's smooth L1 loss, summed over the 4 coordinates: (N, 4), (N, 4) -> (N,).

    Per coordinate, with x = p - t: ``0.5 x^2 / beta`` if ``|x| < beta``, else ``|x| - 0.5 beta``
    (Girshick 2015 uses beta = 1 on its normalised deltas; this is the form of torchvision and
    Detectron). It equals ``keras.losses.Huber(delta=beta)`` divided by beta. Choose ``beta`` in
    the unit of the boxes: on coordinates in [0, 1] every error is below 1, so beta = 1 is just
    half the L2 loss, and a beta of a few pixels' worth (e.g. 0.05 on 64 pixels) is what
    makes the loss robust.
    """
    beta = _beta(beta)
    y_true, y_pred = _pair(y_true, y_pred)
    x = ops.abs(y_pred - y_true)
    return ops.sum(ops.where(x < beta, 0.5 * ops.square(x) / beta, x - 0.5 * beta), axis=-1)


def giou_loss(y_true, y_pred):
    """``1 - GIoU`` of each true box and its prediction: (N, 4), (N, 4) xyxy -> (N,) in [0, 2].

    GIoU = IoU - |C minus (A ∪ B)| / |C|, C the smallest box enclosing A and B (Rezatofighi et al.,
    CVPR 2019). The loss is 0 for a perfect box, below 1 while the boxes overlap, and keeps
    growing as disjoint boxes move apart (1 - IoU would stay at 1). The predicted corners are
    sorted first, as in the paper's Algorithm 1; a pair with an empty union (two zero-area
    boxes) has GIoU 0, so loss 1.
    """
    return 1.0 - _iou_and_giou(*_pair(y_true, y_pred))[1]


# --------------------------------------------------------------------------- Keras losses


@keras.saving.register_keras_serializable(package="cvlib")
class L2BoxLoss(keras.losses.Loss):
    """``l2_box_loss`` as a Keras loss: ``y_true`` and ``y_pred`` are (batch, 4) xyxy boxes."""

    def __init__(self, name: str = "l2_box_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return l2_box_loss(y_true, y_pred)


@keras.saving.register_keras_serializable(package="cvlib")
class SmoothL1Loss(keras.losses.Loss):
    """``smooth_l1_loss`` with threshold ``beta`` as a Keras loss, on (batch, 4) xyxy boxes."""

    def __init__(self, beta: float = 1.0, name: str = "smooth_l1_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = _beta(beta)

    def call(self, y_true, y_pred):
        return smooth_l1_loss(y_true, y_pred, self.beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="cvlib")
class GIoULoss(keras.losses.Loss):
    """``giou_loss`` (1 - GIoU) as a Keras loss, on (batch, 4) xyxy boxes."""

    def __init__(self, name: str = "giou_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return giou_loss(y_true, y_pred)
