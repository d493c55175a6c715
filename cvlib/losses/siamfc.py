"""SiamFC's balanced logistic loss over a score map (notebook 10).

Bertinetto et al., "Fully-Convolutional Siamese Networks for Object Tracking" (2016), eqs. (1)
and (3)-(4): every cell u of the score map v is a binary classifier ("is the exemplar centred
here?") with label y[u] in {-1, +1} and loss ``log(1 + exp(-y v))``; the map's loss is the
weighted mean over its cells,

    L(y, v) = sum_u w[u] * log(1 + exp(-y[u] v[u])),

with y[u] = +1 when the cell is within ``radius`` pixels of the centre *in the search image*
(``stride * ||u - c|| <= radius``, the network's total stride converting cells to pixels) and
-1 otherwise. Positives are few, so the paper balances the two classes: the positive cells
share a weight of 0.5 and the negative cells the other 0.5.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["SiamFCLogisticLoss", "balanced_weights", "siamfc_label_map", "siamfc_logistic_loss"]


def siamfc_label_map(size, radius: float, stride: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and balanced weights of a SiamFC score map: ``size`` (H, W) or int -> two (H, W) float32 maps.

    ``labels`` is +1 within ``radius`` search-image pixels of the map's centre (``stride`` pixels
    per cell), -1 elsewhere; ``weights`` gives the positives 0.5 in total and the negatives 0.5
    (SiamFC: 17 x 17 map, stride 8, radius 16 px, so the 13 cells within 2 cells of the centre).
    """
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(h) < 1 or int(w) < 1:
        raise ValueError(f"size: expected a positive map size, got {size!r}")
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius: expected a non-negative number of pixels, got {radius!r}")
    if not np.isfinite(stride) or stride <= 0:
        raise ValueError(f"stride: expected a positive number of pixels per cell, got {stride!r}")
    i, j = np.mgrid[0:h, 0:w].astype(np.float64)
    distance = stride * np.hypot(i - (h - 1) / 2, j - (w - 1) / 2)
    labels = np.where(distance <= radius, 1.0, -1.0).astype(np.float32)
    return labels, _balanced(labels)


def _balanced(labels: np.ndarray) -> np.ndarray:
    pos = labels > 0
    weights = np.zeros(labels.shape, dtype=np.float32)
    if pos.any():
        weights[pos] = 0.5 / pos.sum() if (~pos).any() else 1.0 / pos.sum()
    if (~pos).any():
        weights[~pos] = 0.5 / (~pos).sum() if pos.any() else 1.0 / (~pos).sum()
    return weights


def balanced_weights(labels):
    """Per-map balanced weights with ``keras.ops``: labels (B, H, W[, 1]) -> weights of the same shape.

    In each map the cells with label > 0 share 0.5 and the others 0.5 (1 when one class is absent).
    """
    labels = ops.convert_to_tensor(labels)
    pos = ops.cast(labels > 0, "float32")
    neg = 1.0 - pos
    axes = tuple(range(1, len(labels.shape)))
    n_pos = ops.sum(pos, axis=axes, keepdims=True)
    n_neg = ops.sum(neg, axis=axes, keepdims=True)
    share = ops.where((n_pos > 0) & (n_neg > 0), 0.5, 1.0)
    return share * (pos / ops.maximum(n_pos, 1.0) + neg / ops.maximum(n_neg, 1.0))


def siamfc_logistic_loss(labels, scores, weights=None):
    """SiamFC's logistic loss, one value per map: labels, scores (B, H, W[, 1]) -> (B,).

    ``labels``: +1 (positive, any value > 0) or -1 (negative; 0 is read as negative too).
    ``weights``: per-cell weights broadcastable to ``scores`` (e.g. ``siamfc_label_map``'s), or
    None for the plain mean over the cells. ``log(1 + exp(-y v))`` is computed as
    ``softplus(-y v)``, which does not overflow for large scores.
    """
    scores = ops.convert_to_tensor(scores)
    labels = ops.cast(ops.convert_to_tensor(labels), scores.dtype)
    if len(scores.shape) < 3:
        raise ValueError(f"scores: expected (batch, height, width[, 1]) score maps, got shape {tuple(scores.shape)}")
    if tuple(labels.shape)[1:] != tuple(scores.shape)[1:] and len(labels.shape) == len(scores.shape):
        raise ValueError(f"labels: expected the shape of scores {tuple(scores.shape)}, got {tuple(labels.shape)}")
    y = ops.where(labels > 0, 1.0, -1.0)
    per_cell = ops.softplus(-y * scores)
    axes = tuple(range(1, len(scores.shape)))
    if weights is None:
        return ops.mean(per_cell, axis=axes)
    weights = ops.cast(ops.convert_to_tensor(weights), scores.dtype)
    return ops.sum(weights * per_cell, axis=axes)


@keras.saving.register_keras_serializable(package="cvlib")
class SiamFCLogisticLoss(keras.losses.Loss):
    """``siamfc_logistic_loss`` as a Keras loss: ``y_true`` the label maps, ``y_pred`` the score maps.

    With ``balanced=True`` (SiamFC) each map's positives and negatives are weighted 0.5 : 0.5
    (``balanced_weights``); with ``balanced=False`` every cell counts the same.
    """

    def __init__(self, balanced: bool = True, name: str = "siamfc_logistic_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.balanced = bool(balanced)

    def call(self, y_true, y_pred):
        weights = balanced_weights(y_true) if self.balanced else None
        return siamfc_logistic_loss(y_true, y_pred, weights)

    def get_config(self):
        return {**super().get_config(), "balanced": self.balanced}
