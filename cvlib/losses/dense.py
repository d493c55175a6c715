"""Dense correspondence: the UV regression loss masked by part, as in DensePose (notebook 16).

A DensePose head predicts, for every pixel, a part (a classification over background + P parts)
and, for *each* of the P parts, the (U, V) the pixel would have on that part: P pairs of numbers.
Only one of them is ever right — the pair of the pixel's true part — so the regression loss reads
that pair alone and ignores the others, and background pixels add nothing:

    L_uv = 1 / |F| * sum_{i in F} [ smooth_l1(u_i^(p_i) - u_i) + smooth_l1(v_i^(p_i) - v_i) ],

with F the figure pixels of an image (true part p_i >= 1) and ``smooth_l1(x) = x^2 / (2 beta)`` for
|x| < beta and ``|x| - beta / 2`` beyond (Fast R-CNN's; DensePose trains its UV heads with it).
An image without figure pixels has a UV loss of 0. The classification is trained separately (here
with ``cvlib.losses.CrossEntropyDiceLoss``); at test time the UV of the predicted part is read out.

Shapes. ``y_pred``: (B, ..., P, 2), the (U, V) of each of the P parts at each pixel (``...`` are
the spatial axes, e.g. H, W). ``y_true``: (B, ..., 3), the true part index (0 background, 1..P)
and the true (U, V) packed along the last axis (``pack_uv_targets`` builds it), so that a Keras
loss, which receives a single ``y_true``, gets both.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cvlib._checks import to_numpy

__all__ = ["MaskedUVLoss", "masked_uv_loss", "pack_uv_targets"]


def pack_uv_targets(parts, uv, num_parts: int | None = None) -> np.ndarray:
    """Pack part labels (B, ...) and (U, V) targets (B, ..., 2) into the (B, ..., 3) float32 ``y_true`` of the loss.

    Checks that the shapes agree, the labels are whole numbers in [0, num_parts] (when ``num_parts``
    is given) and the UV values lie in [0, 1].
    """
    labels = to_numpy(parts, "parts")
    coords = to_numpy(uv, "uv")
    if coords.shape != (*labels.shape, 2):
        raise ValueError(f"uv: expected shape {(*labels.shape, 2)} (the part map's shape plus 2 for U and V), "
                         f"got {coords.shape}")
    if labels.size:
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)) or labels.min() < 0:
            raise ValueError("parts: expected non-negative whole part indices (0 = background)")
        if num_parts is not None and labels.max() > num_parts:
            raise ValueError(f"parts: part indices must lie in [0, {num_parts}] for num_parts={num_parts}, got "
                             f"{int(labels.max())}")
        if not np.all(np.isfinite(coords)) or coords.min() < 0 or coords.max() > 1:
            raise ValueError(f"uv: expected U and V in [0, 1], got values from {np.nanmin(coords):.4g} to "
                             f"{np.nanmax(coords):.4g}")
    return np.concatenate([labels[..., None], coords], axis=-1).astype(np.float32)


def _check_beta(beta) -> float:
    try:
        value = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"beta: expected a positive number, got {beta!r}") from None
    if not (0.0 < value < np.inf):
        raise ValueError(f"beta: expected a positive number, got {beta!r}")
    return value


def _eager_values(x):
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # a symbolic tensor inside a traced training step: nothing to inspect
        return None


def masked_uv_loss(y_true, y_pred, beta: float = 0.05):
    """Smooth-L1 UV error of each figure pixel's *true* part, averaged over the figure pixels of each image: (B,).

    ``y_true`` (B, ..., 3) packed (part, U, V); ``y_pred`` (B, ..., P, 2). Called eagerly, it checks the
    values (parts in [0, P], UV in [0, 1]) and raises a ``ValueError`` naming the problem; inside a
    compiled step the values are symbolic, so check the data once with ``pack_uv_targets``.
    """
    beta = _check_beta(beta)
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if len(pred_shape) < 3 or pred_shape[-1] != 2:
        raise ValueError(f"y_pred: expected (batch, ..., parts, 2) with U and V last, got shape {pred_shape}")
    expected = (*pred_shape[:-2], 3)
    if len(true_shape) != len(expected) or any(a is not None and b is not None and a != b
                                               for a, b in zip(true_shape, expected)):
        raise ValueError(f"y_true: expected packed (part, U, V) targets of shape {expected} for y_pred of shape "
                         f"{pred_shape}, got {true_shape}")
    num_parts = pred_shape[-2]
    values = _eager_values(y_true)
    if values is not None and values.size:
        labels, coords = values[..., 0], values[..., 1:]
        if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() > num_parts:
            raise ValueError(f"y_true: part indices must be whole numbers in [0, {num_parts}] for {num_parts} parts, "
                             f"got values from {labels.min():.4g} to {labels.max():.4g}")
        if not np.all(np.isfinite(coords)) or coords.min() < 0 or coords.max() > 1:
            raise ValueError(f"y_true: U and V must lie in [0, 1], got values from {np.nanmin(coords):.4g} to "
                             f"{np.nanmax(coords):.4g}")
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    labels = ops.cast(ops.round(y_true[..., 0]), "int32")
    # one_hot over 0..P, then drop the background column: a background pixel selects no part at all
    select = ops.one_hot(labels, num_parts + 1)[..., 1:]  # (B, ..., P)
    chosen = ops.sum(select[..., None] * y_pred, axis=-2)  # (B, ..., 2): the prediction for the true part
    error = ops.abs(chosen - y_true[..., 1:])
    smooth = ops.where(error < beta, 0.5 * error**2 / beta, error - 0.5 * beta)
    per_pixel = ops.sum(smooth, axis=-1) * ops.sum(select, axis=-1)  # 0 on the background
    axes = tuple(range(1, len(per_pixel.shape)))
    count = ops.sum(ops.sum(select, axis=-1), axis=axes)
    return ops.sum(per_pixel, axis=axes) / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="cvlib")
class MaskedUVLoss(keras.losses.Loss):
    """``masked_uv_loss`` as a Keras loss: ``y_true`` packed (B, ..., 3), ``y_pred`` (B, ..., P, 2)."""

    def __init__(self, beta: float = 0.05, name: str = "masked_uv_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = _check_beta(beta)

    def call(self, y_true, y_pred):
        return masked_uv_loss(y_true, y_pred, self.beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}
