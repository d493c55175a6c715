"""Segmentation losses: soft Dice, and cross-entropy plus Dice (notebook 11).

The soft Dice loss (Milletari, Navab and Ahmadi, "V-Net", 2016, with the additive smoothing
of later work) scores class c by

    D_c = (2 * sum_i p_ic t_ic + s) / (sum_i p_ic + sum_i t_ic + s),     loss = 1 - mean_c D_c,

with p the predicted probabilities, t the one-hot truth and s the smoothing term. It is a
differentiable Dice: on hard 0/1 predictions it is the Dice coefficient of
``cvlib.metrics.segmentation`` (exactly so when s = 0). Each class counts the same however few
pixels it has, which is why it is added to cross-entropy, where the background's many pixels
dominate. With s > 0 a class absent from both truth and prediction scores D_c = s / s = 1:
two empty masks agree, and give a loss of 0.

Shapes. ``y_pred``: scores (B, H, W, C) (or any (B, ..., C)); probabilities, or logits with
``from_logits=True`` (softmax over C, or a sigmoid when C = 1, a binary mask). ``y_true``:
either integer labels (B, H, W) or (B, H, W, 1), one-hot encoded to C classes, or per-class
targets of the same shape as ``y_pred`` (one-hot, soft, or the 0/1 mask when C = 1).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["CrossEntropyDiceLoss", "DiceLoss", "cross_entropy_dice_loss", "dice_loss"]

_EPSILON = 1e-7


def _shapes(y_true, y_pred):
    """Tensors, a check that their shapes agree, and whether ``y_true`` holds labels (True) or per-class targets."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    pred, true = tuple(y_pred.shape), tuple(y_true.shape)
    if len(pred) < 2:
        raise ValueError(f"y_pred: expected scores (batch, ..., classes), got shape {pred}")

    def agree(a, b):  # None (unknown at trace time) agrees with anything
        return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))

    if agree(true, pred) and (pred[-1] == 1 or true[-1] == pred[-1]):
        return y_true, y_pred, False
    if agree(true, pred[:-1]) or agree(true, (*pred[:-1], 1)):
        return y_true, y_pred, True
    raise ValueError(f"y_true: expected labels of shape {pred[:-1]} (or with a trailing 1) or per-class targets of "
                     f"the shape of y_pred {pred}, got {true}")


def _check_labels(labels, num_labels: int) -> None:
    """Reject labels outside [0, num_labels) when their values can be seen (eager calls).

    Inside a compiled training step the values are symbolic and cannot be checked; there an
    out-of-range label would one-hot to all zeros ("no class"), so check the data set once
    beforehand (``cvlib.metrics.segmentation`` functions do).
    """
    try:
        values = ops.convert_to_numpy(labels)
    except Exception:  # a symbolic tensor (tf.function, JAX tracer): nothing to inspect
        return
    if values.size and (values.min() < 0 or values.max() >= num_labels):
        raise ValueError(f"y_true: labels must lie in [0, {num_labels}) for {num_labels} classes, got values from "
                         f"{int(values.min())} to {int(values.max())}")


def _targets_and_probabilities(y_true, y_pred, from_logits: bool):
    """(one-hot or per-class targets, probabilities, log-probabilities), all float (B, ..., C)."""
    y_true, y_pred, sparse = _shapes(y_true, y_pred)
    y_pred = ops.cast(y_pred, "float32")
    classes = y_pred.shape[-1]
    if sparse:
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        _check_labels(labels, max(classes, 2))
        target = ops.cast(labels[..., None], "float32") if classes == 1 else ops.one_hot(labels, classes)
    else:
        target = ops.cast(y_true, "float32")
    if classes == 1:
        # the two classes of a binary mask: log (1 - p) and log p, stable from the logit when there is one
        if from_logits:
            probs = ops.sigmoid(y_pred)
            log_probs = ops.concatenate([ops.log_sigmoid(-y_pred), ops.log_sigmoid(y_pred)], axis=-1)
        else:
            probs = y_pred
            log_probs = ops.log(ops.clip(ops.concatenate([1 - y_pred, y_pred], axis=-1), _EPSILON, 1.0))
        target_2 = ops.concatenate([1 - target, target], axis=-1)
        return target, probs, (target_2, log_probs)
    if from_logits:
        probs, log_probs = ops.softmax(y_pred, axis=-1), ops.log_softmax(y_pred, axis=-1)
    else:
        probs = y_pred / ops.maximum(ops.sum(y_pred, axis=-1, keepdims=True), _EPSILON)
        log_probs = ops.log(ops.clip(probs, _EPSILON, 1.0))
    return target, probs, (target, log_probs)


def _check_smooth(smooth) -> float:
    try:
        value = float(smooth)
    except (TypeError, ValueError):
        raise ValueError(f"smooth: expected a non-negative number, got {smooth!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"smooth: expected a non-negative number, got {smooth!r}")
    return value


def _dice(target, probs, smooth: float, per_image: bool):
    """1 - mean_c D_c: per image (B,) or over the whole batch (a scalar)."""
    axes = tuple(range(1, len(probs.shape) - 1)) if per_image else tuple(range(len(probs.shape) - 1))
    overlap = ops.sum(target * probs, axis=axes)
    total = ops.sum(target, axis=axes) + ops.sum(probs, axis=axes)
    score = (2.0 * overlap + smooth) / ops.maximum(total + smooth, _EPSILON)
    return 1.0 - ops.mean(score, axis=-1)


def dice_loss(y_true, y_pred, from_logits: bool = False, smooth: float = 1.0, per_image: bool = False):
    """Soft Dice loss, 1 - mean over classes of the soft Dice (module docstring for the shapes).

    ``per_image=False`` (default) sums each class's overlap over the whole batch, which keeps the
    loss smooth when a class is missing from most images; it returns a scalar. ``per_image=True``
    gives one loss per image, (B,); there a class absent from an image is scored on how close to 0
    its probabilities stay, so keep ``smooth`` about 1 (pixels) or more.
    """
    target, probs, _ = _targets_and_probabilities(y_true, y_pred, bool(from_logits))
    return _dice(target, probs, _check_smooth(smooth), bool(per_image))


def cross_entropy_dice_loss(
    y_true,
    y_pred,
    from_logits: bool = False,
    dice_weight: float = 1.0,
    smooth: float = 1.0,
    per_image: bool = False,
):
    """Per-pixel cross-entropy averaged over each image, plus ``dice_weight`` times the Dice loss: (B,).

    Cross-entropy gives every pixel a gradient and trains fast; Dice weighs every class equally
    and targets the overlap measures the task is scored by. The cross-entropy is categorical
    (binary when C = 1), computed from log-probabilities so large logits do not overflow.
    """
    dice_weight = float(dice_weight)
    if not dice_weight >= 0:
        raise ValueError(f"dice_weight: expected a non-negative number, got {dice_weight!r}")
    target, probs, (ce_target, log_probs) = _targets_and_probabilities(y_true, y_pred, bool(from_logits))
    axes = tuple(range(1, len(probs.shape) - 1))
    cross_entropy = ops.mean(-ops.sum(ce_target * log_probs, axis=-1), axis=axes)
    return cross_entropy + dice_weight * _dice(target, probs, _check_smooth(smooth), bool(per_image))


@keras.saving.register_keras_serializable(package="cvlib")
class DiceLoss(keras.losses.Loss):
    """``dice_loss`` as a Keras loss: ``y_true`` labels or per-class targets, ``y_pred`` scores (B, H, W, C)."""

    def __init__(self, from_logits: bool = False, smooth: float = 1.0, per_image: bool = False,
                 name: str = "dice_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits, self.smooth, self.per_image = bool(from_logits), _check_smooth(smooth), bool(per_image)

    def call(self, y_true, y_pred):
        return dice_loss(y_true, y_pred, self.from_logits, self.smooth, self.per_image)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "smooth": self.smooth,
                "per_image": self.per_image}


@keras.saving.register_keras_serializable(package="cvlib")
class CrossEntropyDiceLoss(keras.losses.Loss):
    """``cross_entropy_dice_loss`` as a Keras loss (U-Net training in notebook 11)."""

    def __init__(self, from_logits: bool = False, dice_weight: float = 1.0, smooth: float = 1.0,
                 per_image: bool = False, name: str = "cross_entropy_dice_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not float(dice_weight) >= 0:
            raise ValueError(f"dice_weight: expected a non-negative number, got {dice_weight!r}")
        self.from_logits, self.dice_weight = bool(from_logits), float(dice_weight)
        self.smooth, self.per_image = _check_smooth(smooth), bool(per_image)

    def call(self, y_true, y_pred):
        return cross_entropy_dice_loss(y_true, y_pred, self.from_logits, self.dice_weight, self.smooth,
                                       self.per_image)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "dice_weight": self.dice_weight,
                "smooth": self.smooth, "per_image": self.per_image}
