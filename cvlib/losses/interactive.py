"""Latent-diversity losses for interactive segmentation: the hindsight loss over M outputs (notebook 15).

Li, Chen and Koltun, "Interactive Image Segmentation with Latent Diversity" (CVPR 2018). Clicks are
ambiguous — a click on a door may mean the door or the whole house — so the network ``f`` returns M
segmentations ``f_1 ... f_M`` instead of one, and is trained with

    L = min_m [J(Y, f_m) + beta * BCE(Y, f_m)]  +  lambda * (1 / M) sum_m C(S_p, S_n, f_m),

- ``J`` the **relaxed Jaccard** distance between the truth Y and the soft mask f_m (probabilities),
  ``J(A, B) = 1 - sum_p min(A_p, B_p) / sum_p max(A_p, B_p)``;
- ``min_m``: the **hindsight** (multiple-choice) term: only the output closest to the truth is asked to match
  it, so the other outputs are free to cover the *other* plausible answers, which is where the diversity comes
  from (a single output trained on ambiguous data learns their blurry average instead);
- ``C``: the **click term**, applied to *every* output: each must agree with the clicks,
  ``C = |S_p * (S_p - f_m)|_1 + |S_n * (S_n - (1 - f_m))|_1`` with ``S_p``, ``S_n`` binary (disk) click maps
  and ``*`` the element-wise product. It keeps the outputs the hindsight term does not pick from drifting to
  anything at all: they stay plausible answers that respect the user's input. The paper sums C over the pixels;
  here it is divided by the number of click pixels, so ``lambda`` does not depend on the disk radius.

``BCE`` is the mean per-pixel binary cross-entropy, weighted by ``beta`` (``bce_weight``). Li et al. use J
alone (their network starts from VGG-19 features); trained from scratch on a CPU budget of minutes, the
per-pixel term gives every pixel a gradient from the first step and converges several times faster. With
``bce_weight=0`` the loss is the paper's.

With M = 1 the loss is the per-output loss plus the click term: the single-output baseline.

**Relaxed minimum** (``relax`` = epsilon, default 0): ``(1 - epsilon) min_m l_m + epsilon mean_m l_m`` in place of
``min_m l_m``, a form of the relaxed winner-takes-all of Rupprecht et al. ("Learning in an Uncertain World:
Representing Ambiguity Through Multiple Hypotheses", ICCV 2017; they give the winner 1 - epsilon and every other
output epsilon / (M - 1)). Where most training samples are unambiguous, a pure minimum lets the outputs split them
between themselves at random, and each output learns from only its share; the epsilon part keeps every output
learning from every sample, while the minimum still lets them part on the ambiguous ones.

Shapes: ``y_pred`` logits (or probabilities with ``from_logits=False``) (B, H, W, M); ``y_true`` the mask
(B, H, W) or (B, H, W, 1), or (B, H, W, 3) = mask + positive and negative disk maps (how ``HindsightLoss``
receives the click maps through ``fit``); ``clicks`` (B, H, W, 2) binary disk maps for the function form.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "HindsightLoss",
    "best_output",
    "binary_cross_entropy",
    "click_consistency",
    "hindsight_loss",
    "per_output_loss",
    "relaxed_jaccard",
]

_EPSILON = 1e-6


def _split(y_true, y_pred, clicks):
    """(mask (B, H, W, 1), probabilities-or-logits (B, H, W, M), clicks (B, H, W, 2) or None), with shape checks."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    pred, true = tuple(y_pred.shape), tuple(y_true.shape)
    if len(pred) != 4:
        raise ValueError(f"y_pred: expected M output maps (batch, height, width, M), got shape {pred}")

    def agree(a, b):  # None (unknown while tracing) agrees with anything
        return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))

    if agree(true, pred[:3]):
        y_true = y_true[..., None]
    elif not (agree(true[:3], pred[:3]) and len(true) == 4 and true[3] in (1, 3)):
        raise ValueError(f"y_true: expected the mask (B, H, W) or (B, H, W, 1), or mask + click maps (B, H, W, 3), "
                         f"matching y_pred {pred}; got {true}")
    y_true = ops.cast(y_true, "float32")
    if y_true.shape[-1] == 3:
        if clicks is not None:
            raise ValueError("clicks: given twice, as the last two channels of y_true and as clicks")
        y_true, clicks = y_true[..., :1], y_true[..., 1:]
    if clicks is not None:
        clicks = ops.cast(ops.convert_to_tensor(clicks), "float32")
        if not agree(tuple(clicks.shape), (*pred[:3], 2)):
            raise ValueError(f"clicks: expected positive and negative disk maps (B, H, W, 2) matching y_pred {pred}, "
                             f"got {tuple(clicks.shape)}")
    return y_true, ops.cast(y_pred, "float32"), clicks


def _probabilities(y_pred, from_logits: bool):
    return ops.sigmoid(y_pred) if from_logits else ops.clip(y_pred, 0.0, 1.0)


def relaxed_jaccard(y_true, y_pred, from_logits: bool = True):
    """Relaxed Jaccard distance of each output to the truth: (B, M), ``1 - sum min(Y, f_m) / sum max(Y, f_m)``.

    Equals 1 - IoU on 0/1 masks; two empty masks are at distance 0.
    """
    mask, logits, _ = _split(y_true, y_pred, None)
    probs = _probabilities(logits, from_logits)
    intersection = ops.sum(ops.minimum(mask, probs), axis=(1, 2))
    union = ops.sum(ops.maximum(mask, probs), axis=(1, 2))
    return 1.0 - (intersection + _EPSILON) / (union + _EPSILON)


def click_consistency(clicks, y_pred, from_logits: bool = True):
    """How much each output disagrees with the clicks: (B, M), Li et al.'s click term per click pixel.

    ``(|S_p * (S_p - f_m)|_1 + |S_n * (S_n - (1 - f_m))|_1) / (|S_p|_1 + |S_n|_1)``: 0 when every output is 1 on
    the positive disks and 0 on the negative ones.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    dummy = ops.zeros(ops.shape(y_pred)[:3])
    _, logits, clicks = _split(dummy, y_pred, clicks)
    if clicks is None:
        raise ValueError("clicks: expected positive and negative disk maps (B, H, W, 2), got None")
    probs = _probabilities(logits, from_logits)
    pos, neg = clicks[..., :1], clicks[..., 1:]
    violation = ops.sum(pos * ops.abs(pos - probs) + neg * ops.abs(neg - (1.0 - probs)), axis=(1, 2))
    return violation / (ops.sum(pos + neg, axis=(1, 2)) + _EPSILON)


def best_output(y_true, y_pred, from_logits: bool = True):
    """Index of the output closest to the truth (smallest relaxed Jaccard): int (B,), the selection network's target."""
    return ops.argmin(relaxed_jaccard(y_true, y_pred, from_logits), axis=-1)


def binary_cross_entropy(y_true, y_pred, from_logits: bool = True):
    """Mean per-pixel binary cross-entropy of each output: (B, M)."""
    mask, logits, _ = _split(y_true, y_pred, None)
    if from_logits:  # log(1 + e^-|z|) + max(z, 0) - z y: stable for any logit
        bce = ops.relu(logits) - logits * mask + ops.log1p(ops.exp(-ops.abs(logits)))
    else:
        probs = ops.clip(logits, _EPSILON, 1.0 - _EPSILON)
        bce = -(mask * ops.log(probs) + (1.0 - mask) * ops.log(1.0 - probs))
    return ops.mean(bce, axis=(1, 2))


def per_output_loss(y_true, y_pred, from_logits: bool = True, bce_weight: float = 1.0):
    """The loss of each output against the truth, (B, M): ``J(Y, f_m) + bce_weight * BCE(Y, f_m)``."""
    loss = relaxed_jaccard(y_true, y_pred, from_logits)
    if bce_weight:
        loss = loss + bce_weight * binary_cross_entropy(y_true, y_pred, from_logits)
    return loss


def _weight(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return float(value)


def _share(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def hindsight_loss(y_true, y_pred, clicks=None, from_logits: bool = True, click_weight: float = 1.0,
                   bce_weight: float = 1.0, relax: float = 0.0):
    """Li et al.'s loss, per image (B,): ``min_m [J + bce_weight * BCE](Y, f_m) + click_weight * mean_m C``.

    ``clicks`` (B, H, W, 2) binary disk maps, or carried as channels 1-2 of ``y_true``; without them (or with
    ``click_weight=0``) only the hindsight term is computed. ``relax`` in [0, 1] replaces the minimum by
    ``(1 - relax) * min_m + relax * mean_m`` (0: the paper's minimum, 1: every output trained on every sample).
    """
    click_weight = _weight(click_weight, "click_weight")
    bce_weight = _weight(bce_weight, "bce_weight")
    relax = _share(relax, "relax")
    mask, logits, clicks = _split(y_true, y_pred, clicks)
    per_output = per_output_loss(mask, logits, from_logits, bce_weight)
    loss = ops.min(per_output, axis=-1)
    if relax:
        loss = (1.0 - relax) * loss + relax * ops.mean(per_output, axis=-1)
    if clicks is not None and click_weight:
        loss = loss + click_weight * ops.mean(click_consistency(clicks, logits, from_logits), axis=-1)
    return loss


@keras.saving.register_keras_serializable(package="cvlib")
class HindsightLoss(keras.losses.Loss):
    """``hindsight_loss`` as a Keras loss; pass the click disk maps as channels 1-2 of ``y_true`` (B, H, W, 3)."""

    def __init__(self, from_logits: bool = True, click_weight: float = 1.0, bce_weight: float = 1.0,
                 relax: float = 0.0, name: str = "hindsight_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = bool(from_logits)
        self.click_weight = _weight(click_weight, "click_weight")
        self.bce_weight = _weight(bce_weight, "bce_weight")
        self.relax = _share(relax, "relax")

    def call(self, y_true, y_pred):
        return hindsight_loss(y_true, y_pred, from_logits=self.from_logits, click_weight=self.click_weight,
                              bce_weight=self.bce_weight, relax=self.relax)

    def get_config(self):
        config = super().get_config()
        config.update(from_logits=self.from_logits, click_weight=self.click_weight, bce_weight=self.bce_weight,
                      relax=self.relax)
        return config
