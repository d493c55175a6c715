"""Siamese losses: pair BCE, contrastive, triplet and in-batch triplet mining (notebook 08).

A Siamese network maps each input to an embedding with one shared network; these losses
turn embeddings (or the distances between them) into a training signal.

- ``siamese_bce``: binary cross-entropy on a pair's "same class" probability (Koch et al., 2015);
  here ``y_true = 1`` means *same* class, as for any binary classifier.
- ``contrastive_loss``: Hadsell, Chopra and LeCun (2006), with the lecture's convention
  ``Y = 0`` for a **similar** pair and ``Y = 1`` for a **dissimilar** one (the opposite of BCE's labels):
  ``L = (1 - Y) * 1/2 * D^2 + Y * 1/2 * max(0, m - D)^2``.
- ``triplet_loss``: FaceNet's ``L = max(0, d(a, p) - d(a, n) + m)`` (Schroff et al., 2015), on given triplets.
- ``batch_all_triplet_loss``, ``batch_hard_triplet_loss``, ``batch_semi_hard_triplet_loss``: the triplets are
  mined inside a labelled batch of embeddings (Hermans, Beyer and Leibe, 2017, "In Defense of the Triplet
  Loss"; semi-hard as in FaceNet and TensorFlow Addons' ``triplet_semihard_loss``).

Distances are Euclidean (``squared=True`` gives squared distances). The square root is guarded as the
reference implementations guard it: where a squared distance is exactly 0 its gradient would be infinite,
so there we take the root of a tiny epsilon and multiply the result by 0, which makes both the value and the
gradient 0 instead of NaN.

Batches without a usable triplet are defined, never NaN: a batch with a single class (no negatives) or
with every class seen once (no positive pairs) gives a loss of exactly 0 (and zero gradients), and anchors
that lack a positive or a negative are left out of the average.

Every loss comes as a function (per-example values for pairs and triplets, one scalar for a mined batch) and
as a ``keras.losses.Loss`` registered for ``.keras`` saving. All tensor code is ``keras.ops``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = [
    "BatchAllTripletLoss",
    "BatchHardTripletLoss",
    "BatchSemiHardTripletLoss",
    "ContrastiveLoss",
    "SiameseBCE",
    "TripletLoss",
    "batch_all_triplet_loss",
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "contrastive_loss",
    "euclidean_distance",
    "mine_triplets",
    "pairwise_distances",
    "siamese_bce",
    "triplet_loss",
    "triplet_type",
]

_EPSILON = 1e-16
_STRATEGIES = ("all", "hard", "semi-hard")


def _check_margin(margin) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)):
        raise ValueError(f"margin: expected a non-negative number, got {margin!r}")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin: expected a finite, non-negative number, got {margin!r}")
    return float(margin)


def _safe_sqrt(squared):
    """sqrt with value and gradient 0 where ``squared`` is 0 (plain sqrt has an infinite gradient there)."""
    squared = ops.maximum(squared, 0.0)  # rounding can make a squared distance slightly negative
    zero = ops.cast(ops.less_equal(squared, 0.0), squared.dtype)
    return ops.sqrt(squared + zero * _EPSILON) * (1.0 - zero)


def _float(x):
    x = ops.convert_to_tensor(x)
    return x if keras.backend.is_float_dtype(x.dtype) else ops.cast(x, "float32")


def euclidean_distance(a, b, squared: bool = False):
    """Row-wise Euclidean distance ``||a_i - b_i||`` of two ``(N, D)`` batches, shape ``(N,)``.

    Gradient-safe at zero distance (see the module docstring).
    """
    a, b = _float(a), _float(b)
    if len(a.shape) != 2 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a, b: expected two (N, D) batches of the same shape, got {a.shape} and {b.shape}")
    d2 = ops.sum(ops.square(a - b), axis=-1)
    return d2 if squared else _safe_sqrt(d2)


def pairwise_distances(embeddings, squared: bool = False):
    """All pairwise Euclidean distances of a batch ``(N, D)``, shape ``(N, N)``, exact zeros on the diagonal.

    Computed from the differences (an ``(N, N, D)`` intermediate), not from ``|a|^2 - 2ab + |b|^2``: that
    form is faster but its rounding error turns equal embeddings into distances of about 1e-3 in float32,
    which would change which triplets the miners pick. Batches in this course are small, so exact wins.
    """
    e = _float(embeddings)
    if len(e.shape) != 2:
        raise ValueError(f"embeddings: expected shape (N, D), got {e.shape}")
    diff = ops.expand_dims(e, 1) - ops.expand_dims(e, 0)
    d2 = ops.sum(ops.square(diff), axis=-1)
    return d2 if squared else _safe_sqrt(d2)


# --------------------------------------------------------------------------- pairs


def siamese_bce(y_true, y_pred, from_logits: bool = False):
    """Binary cross-entropy of a Siamese head's "same class" output, per pair, shape ``(N,)``.

    ``y_true``: 1 for a pair of the same class, 0 otherwise; ``y_pred``: the head's probability
    (or logit with ``from_logits=True``), shape ``(N,)`` or ``(N, 1)``.
    ``L = -[y log p + (1 - y) log(1 - p)]``.
    """
    y_pred = ops.reshape(_float(y_pred), (-1,))
    y_true = ops.cast(ops.reshape(ops.convert_to_tensor(y_true), (-1,)), y_pred.dtype)
    return keras.losses.binary_crossentropy(
        ops.expand_dims(y_true, -1), ops.expand_dims(y_pred, -1), from_logits=from_logits
    )


def contrastive_loss(y_true, distance, margin: float = 1.0):
    """Contrastive loss of Hadsell, Chopra and LeCun (2006), per pair, shape ``(N,)``.

    ``y_true``: **0 for a similar pair, 1 for a dissimilar pair** (the lecture's ``Y``);
    ``distance``: the Euclidean distance ``D`` between the two embeddings, ``(N,)`` or ``(N, 1)``.

        L = (1 - Y) * 1/2 * D^2  +  Y * 1/2 * max(0, m - D)^2

    Zero for a similar pair at ``D = 0`` and for a dissimilar pair at ``D >= m``: dissimilar pairs
    farther apart than the margin no longer push.
    """
    margin = _check_margin(margin)
    d = ops.reshape(_float(distance), (-1,))
    y = ops.cast(ops.reshape(ops.convert_to_tensor(y_true), (-1,)), d.dtype)
    return (1.0 - y) * 0.5 * ops.square(d) + y * 0.5 * ops.square(ops.maximum(margin - d, 0.0))


def triplet_loss(anchor, positive, negative, margin: float = 0.2, squared: bool = False):
    """Triplet loss of given triplets, ``max(0, d(a, p) - d(a, n) + m)``, per triplet, shape ``(N,)``.

    ``anchor``, ``positive``, ``negative``: ``(N, D)`` embeddings; ``p`` shares ``a``'s class, ``n`` does not.
    Zero for an *easy* triplet, where the negative is at least ``m`` farther than the positive.
    """
    margin = _check_margin(margin)
    d_ap = euclidean_distance(anchor, positive, squared)
    d_an = euclidean_distance(anchor, negative, squared)
    return ops.maximum(d_ap - d_an + margin, 0.0)


def triplet_type(d_ap, d_an, margin: float = 0.2) -> np.ndarray:
    """Name each triplet by its distances: ``"easy"``, ``"semi-hard"`` or ``"hard"`` (NumPy, shape of inputs).

    easy: ``d_an >= d_ap + m`` (loss 0); semi-hard: ``d_ap < d_an < d_ap + m`` (the negative is farther than
    the positive, but inside the margin); hard: ``d_an <= d_ap`` (the negative is closer than the positive).
    """
    margin = _check_margin(margin)
    d_ap, d_an = np.asarray(d_ap, dtype=float), np.asarray(d_an, dtype=float)
    kind = np.full(np.broadcast(d_ap, d_an).shape, "semi-hard", dtype=object)
    kind[d_an >= d_ap + margin] = "easy"
    kind[d_an <= d_ap] = "hard"
    return kind


# --------------------------------------------------------------------------- in-batch mining


def _masks(labels, n):
    """Positive-pair mask (same label, a != p) and negative mask (different label), both ``(N, N)`` bool."""
    labels = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    if labels.shape[0] is not None and n is not None and labels.shape[0] != n:
        raise ValueError(f"labels: expected one label per embedding ({n}), got {labels.shape[0]}")
    same = ops.equal(ops.expand_dims(labels, 0), ops.expand_dims(labels, 1))
    not_self = ops.logical_not(ops.cast(ops.eye(ops.shape(same)[0]), "bool"))
    return ops.logical_and(same, not_self), ops.logical_not(same)


def _prepare(labels, embeddings, margin, squared):
    margin = _check_margin(margin)
    dist = pairwise_distances(embeddings, squared)
    positive, negative = _masks(labels, dist.shape[0])
    return margin, dist, positive, negative


def _masked_mean(values, mask):
    """Mean of ``values`` where ``mask`` holds; 0 (with zero gradient) when the mask is empty."""
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def batch_all_triplet_loss(labels, embeddings, margin: float = 0.2, squared: bool = False):
    """Triplet loss averaged over every valid triplet of a batch that still has a positive loss ("batch all").

    ``labels``: ``(N,)`` integer classes; ``embeddings``: ``(N, D)``. A triplet ``(a, p, n)`` is valid when
    ``a != p`` share a label and ``n`` has another. Averaging only over the triplets with ``loss > 0``
    (Hermans et al.'s "BA≠0") keeps the many easy triplets from diluting the gradient as training
    proceeds. Returns a scalar; 0 when the batch has no valid triplet or every triplet is easy.
    """
    margin, dist, positive, negative = _prepare(labels, embeddings, margin, squared)
    # t[a, p, n] = d(a, p) - d(a, n) + m
    t = ops.expand_dims(dist, 2) - ops.expand_dims(dist, 1) + margin
    valid = ops.logical_and(ops.expand_dims(positive, 2), ops.expand_dims(negative, 1))
    losses = ops.maximum(t, 0.0)
    active = ops.logical_and(valid, ops.greater(losses, _EPSILON))
    return _masked_mean(losses, active)


def _hard_indices(dist, positive, negative):
    """For each anchor: its farthest positive and its closest negative (indices), and whether it has both."""
    big = ops.max(dist) + 1.0
    hardest_positive = ops.argmax(ops.where(positive, dist, -1.0), axis=1)
    hardest_negative = ops.argmin(ops.where(negative, dist, big), axis=1)
    valid = ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1))
    return hardest_positive, hardest_negative, valid


def batch_hard_triplet_loss(labels, embeddings, margin: float = 0.2, squared: bool = False):
    """Batch-hard triplet loss: per anchor, its farthest positive against its closest negative, averaged.

    ``L = mean_a max(0, max_p d(a, p) - min_n d(a, n) + m)`` (Hermans et al., 2017), over the anchors that
    have at least one positive and one negative in the batch; 0 if none has. Returns a scalar.
    """
    margin, dist, positive, negative = _prepare(labels, embeddings, margin, squared)
    p, n, valid = _hard_indices(dist, positive, negative)
    d_ap = ops.squeeze(ops.take_along_axis(dist, ops.expand_dims(p, 1), axis=1), 1)
    d_an = ops.squeeze(ops.take_along_axis(dist, ops.expand_dims(n, 1), axis=1), 1)
    return _masked_mean(ops.maximum(d_ap - d_an + margin, 0.0), valid)


def _semi_hard_indices(dist, positive, negative):
    """For each pair ``(a, p)``: the index of its semi-hard negative, and whether the pair is usable.

    The semi-hard negative is the closest negative that is still *farther* than the positive,
    ``argmin { d(a, n) : d(a, n) > d(a, p) }``; if every negative is closer than the positive we take
    the farthest negative instead, the one nearest to being semi-hard (TensorFlow Addons' rule).
    """
    big = ops.max(dist) + 1.0
    d_an = ops.expand_dims(dist, 1)  # [a, ., n]
    d_ap = ops.expand_dims(dist, 2)  # [a, p, .]
    neg = ops.expand_dims(negative, 1)
    farther = ops.logical_and(neg, ops.greater(d_an, d_ap))  # [a, p, n]
    d_an_full = ops.broadcast_to(d_an, ops.shape(farther))
    semi_hard = ops.argmin(ops.where(farther, d_an_full, big), axis=2)
    fallback = ops.broadcast_to(ops.expand_dims(ops.argmax(ops.where(negative, dist, -1.0), axis=1), 1),
                                ops.shape(semi_hard))
    chosen = ops.where(ops.any(farther, axis=2), semi_hard, fallback)
    valid = ops.logical_and(positive, ops.expand_dims(ops.any(negative, axis=1), 1))
    return chosen, valid


def batch_semi_hard_triplet_loss(labels, embeddings, margin: float = 0.2, squared: bool = False):
    """Semi-hard triplet loss (FaceNet): every positive pair ``(a, p)`` against its semi-hard negative.

    For each ``a != p`` of the same label the negative is the closest one with ``d(a, n) > d(a, p)``
    (falling back to the farthest negative when there is none, as TensorFlow Addons does). The loss
    ``max(0, d(a, p) - d(a, n) + m)`` is averaged over all positive pairs whose anchor has a negative
    (equal to ``tfa.losses.triplet_semihard_loss`` with ``distance_metric="L2"`` whenever every anchor has
    one); 0 when there is no such pair. Returns a scalar.
    """
    margin, dist, positive, negative = _prepare(labels, embeddings, margin, squared)
    chosen, valid = _semi_hard_indices(dist, positive, negative)
    d_an = ops.take_along_axis(dist, chosen, axis=1)  # [a, p] -> d(a, chosen[a, p])
    return _masked_mean(ops.maximum(dist - d_an + margin, 0.0), valid)


def mine_triplets(labels, embeddings, strategy: str = "semi-hard", margin: float = 0.2, squared: bool = False):
    """The triplets a batch miner uses, as NumPy ``(M, 3)`` indices ``(anchor, positive, negative)``.

    ``strategy``: ``"all"`` (every valid triplet with a positive loss, as ``batch_all_triplet_loss``
    averages), ``"hard"`` (one per anchor) or ``"semi-hard"`` (one per positive pair). The matching loss
    equals ``triplet_loss`` averaged over these triplets, which the tests check.
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy: expected one of {', '.join(_STRATEGIES)}, got {strategy!r}")
    margin, dist, positive, negative = _prepare(labels, embeddings, margin, squared)
    d = ops.convert_to_numpy(dist)
    pos, neg = ops.convert_to_numpy(positive), ops.convert_to_numpy(negative)
    if strategy == "all":
        valid = pos[:, :, None] & neg[:, None, :]
        active = valid & (d[:, :, None] - d[:, None, :] + margin > _EPSILON)
        return np.argwhere(active).astype(np.int64).reshape(-1, 3)
    if strategy == "hard":
        p, n, valid = (ops.convert_to_numpy(v) for v in _hard_indices(dist, positive, negative))
        a = np.flatnonzero(valid)
        return np.stack([a, p[a], n[a]], axis=1).astype(np.int64).reshape(-1, 3)
    chosen, valid = (ops.convert_to_numpy(v) for v in _semi_hard_indices(dist, positive, negative))
    a, p = np.nonzero(valid)
    return np.stack([a, p, chosen[a, p]], axis=1).astype(np.int64).reshape(-1, 3)


# --------------------------------------------------------------------------- keras.losses.Loss classes


@keras.saving.register_keras_serializable(package="cvlib")
class SiameseBCE(keras.losses.Loss):
    """``siamese_bce`` as a Keras loss: ``y_true`` 1 for same-class pairs, ``y_pred`` the head's output."""

    def __init__(self, from_logits: bool = False, name: str = "siamese_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        return siamese_bce(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="cvlib")
class ContrastiveLoss(keras.losses.Loss):
    """``contrastive_loss`` as a Keras loss: ``y_true`` is ``Y`` (0 similar, 1 dissimilar), ``y_pred`` the distance."""

    def __init__(self, margin: float = 1.0, name: str = "contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = _check_margin(margin)

    def call(self, y_true, y_pred):
        return contrastive_loss(y_true, y_pred, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="cvlib")
class TripletLoss(keras.losses.Loss):
    """``triplet_loss`` as a Keras loss on stacked embeddings: ``y_pred`` ``(N, 3, D)`` = anchor, positive,
    negative (``y_true`` is ignored; pass zeros)."""

    def __init__(self, margin: float = 0.2, squared: bool = False, name: str = "triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = _check_margin(margin)
        self.squared = bool(squared)

    def call(self, y_true, y_pred):
        if len(y_pred.shape) != 3 or y_pred.shape[1] != 3:
            raise ValueError(f"y_pred: expected stacked triplets of shape (N, 3, D), got {y_pred.shape}")
        return triplet_loss(y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], self.margin, self.squared)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "squared": self.squared}


class _MinedTripletLoss(keras.losses.Loss):
    """Base of the in-batch mining losses: ``y_true`` the labels ``(N,)``, ``y_pred`` the embeddings ``(N, D)``."""

    _function = None

    def __init__(self, margin: float = 0.2, squared: bool = False, name: str | None = None, **kwargs):
        super().__init__(name=name or self.__class__.__name__, **kwargs)
        self.margin = _check_margin(margin)
        self.squared = bool(squared)

    def call(self, y_true, y_pred):
        return type(self)._function(y_true, y_pred, self.margin, self.squared)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "squared": self.squared}


@keras.saving.register_keras_serializable(package="cvlib")
class BatchAllTripletLoss(_MinedTripletLoss):
    """``batch_all_triplet_loss`` as a Keras loss (``y_true`` labels, ``y_pred`` embeddings)."""

    _function = staticmethod(batch_all_triplet_loss)


@keras.saving.register_keras_serializable(package="cvlib")
class BatchHardTripletLoss(_MinedTripletLoss):
    """``batch_hard_triplet_loss`` as a Keras loss (``y_true`` labels, ``y_pred`` embeddings)."""

    _function = staticmethod(batch_hard_triplet_loss)


@keras.saving.register_keras_serializable(package="cvlib")
class BatchSemiHardTripletLoss(_MinedTripletLoss):
    """``batch_semi_hard_triplet_loss`` as a Keras loss (``y_true`` labels, ``y_pred`` embeddings)."""

    _function = staticmethod(batch_semi_hard_triplet_loss)
