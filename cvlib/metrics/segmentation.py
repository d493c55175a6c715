"""Semantic-segmentation metrics: confusion matrix, IoU, Dice, pixel accuracy, boundary F1 (notebook 11).

All take integer label maps of any shape, ``y_true`` and ``y_pred`` of the same shape, e.g.
(N, H, W) or (H, W), with labels in ``[0, num_classes)``. ``y_pred`` may instead be scores of
shape ``y_true.shape + (num_classes,)`` (probabilities or logits), which are arg-maxed.
NumPy arrays, lists and tensors are accepted; results are NumPy.

Conventions (the same as ``keras.metrics.MeanIoU``, which the tests hold these to):

- ``confusion_matrix[i, j]`` counts pixels of true class i predicted as class j;
- the IoU of class c is TP / (TP + FP + FN) and its Dice 2 TP / (2 TP + FP + FN), both
  accumulated over *all* pixels given (a data set's IoU, not a mean of per-image IoUs);
- a class absent from both ``y_true`` and ``y_pred`` has an undefined IoU and Dice: the
  per-class functions give NaN for it and the means leave it out (it says nothing about the
  model). A class that is present in one of them and missed counts as 0.
- ``ignore_index`` (e.g. 255 for "void" pixels) drops pixels whose *true* label is it.

For two binary masks, ``mask_iou`` and ``mask_dice`` define the empty case: two empty masks
agree perfectly, so both give 1.0 (the value the smoothed Dice loss tends to as well).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cvlib._checks import to_numpy

__all__ = [
    "boundary_f1",
    "confusion_matrix",
    "dice",
    "mask_dice",
    "mask_iou",
    "mean_iou",
    "per_class_dice",
    "per_class_iou",
    "pixel_accuracy",
]


# --------------------------------------------------------------------------- input checks


def _num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    return int(num_classes)


def _integers(x, name: str) -> np.ndarray:
    """Labels as int64; floats are accepted only when they hold whole numbers."""
    arr = np.asarray(x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else x)
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    arr = to_numpy(arr, name)
    if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
        raise ValueError(f"{name}: expected integer class labels, got non-integer values such as "
                         f"{arr[~(np.isfinite(arr) & (arr == np.round(arr)))].ravel()[0]!r}")
    return arr.astype(np.int64)


def _check_range(arr: np.ndarray, name: str, num_classes: int, ignore_index: int | None = None) -> None:
    valid = (arr >= 0) & (arr < num_classes)
    if ignore_index is not None:
        valid |= arr == ignore_index
    if not valid.all():
        bad = np.unique(arr[~valid])
        raise ValueError(f"{name}: labels must lie in [0, {num_classes}) for num_classes={num_classes}"
                         f"{'' if ignore_index is None else f' (or be ignore_index={ignore_index})'}, "
                         f"got {bad[:5].tolist()}")


def _labels(y_true, y_pred, num_classes, ignore_index=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated (true, predicted) label arrays of one shape, flattened, with ignored pixels dropped."""
    num_classes = _num_classes(num_classes)
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))):
        raise ValueError(f"ignore_index: expected an integer label or None, got {ignore_index!r}")
    t = _integers(y_true, "y_true")
    raw = y_pred.numpy() if hasattr(y_pred, "numpy") and not isinstance(y_pred, np.ndarray) else y_pred
    p = np.asarray(raw)
    if p.shape == (*t.shape, num_classes) and num_classes > 1:
        p = to_numpy(p, "y_pred").argmax(-1)  # scores: the predicted class is the best-scoring one
    if p.shape != t.shape:
        raise ValueError(f"y_pred: expected the shape of y_true {t.shape} (labels) or {(*t.shape, num_classes)} "
                         f"(scores), got {p.shape}")
    p = _integers(p, "y_pred")
    _check_range(t, "y_true", num_classes, ignore_index)
    _check_range(p, "y_pred", num_classes)
    t, p = t.ravel(), p.ravel()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    return t, p, num_classes


def _binary(mask, name: str) -> np.ndarray:
    arr = _integers(mask, name)
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: expected a binary mask (bool or 0/1), got values {np.unique(arr)[:5].tolist()}")
    return arr.astype(bool)


def _masks(mask_true, mask_pred) -> tuple[np.ndarray, np.ndarray]:
    a, b = _binary(mask_true, "mask_true"), _binary(mask_pred, "mask_pred")
    if a.shape != b.shape:
        raise ValueError(f"mask_pred: expected the shape of mask_true {a.shape}, got {b.shape}")
    return a, b


# --------------------------------------------------------------------------- metrics


def confusion_matrix(y_true, y_pred, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class.

    The layout of ``keras.metrics.MeanIoU.total_cm`` and ``sklearn.metrics.confusion_matrix``.
    Empty inputs give a matrix of zeros.
    """
    t, p, c = _labels(y_true, y_pred, num_classes, ignore_index)
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)


def _confusion(y_true, y_pred, num_classes, ignore_index) -> np.ndarray:
    """A confusion matrix given directly (``y_pred=None``) or computed from labels."""
    if y_pred is None:
        cm = to_numpy(y_true, "confusion")
        if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or (cm.size and cm.min() < 0):
            raise ValueError(f"confusion: expected a square matrix of non-negative counts, got shape {cm.shape}")
        return cm
    return confusion_matrix(y_true, y_pred, num_classes, ignore_index)


def per_class_iou(y_true, y_pred=None, num_classes: int | None = None, ignore_index: int | None = None) -> np.ndarray:
    """IoU of each class, (num_classes,) float64: TP / (TP + FP + FN); NaN for a class absent from both.

    Call with label maps, ``per_class_iou(y_true, y_pred, num_classes)``, or with a confusion
    matrix alone, ``per_class_iou(cm)``.
    """
    cm = _confusion(y_true, y_pred, num_classes, ignore_index)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(y_true, y_pred=None, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Mean of ``per_class_iou`` over the classes present in ``y_true`` or ``y_pred`` (``keras.metrics.MeanIoU``).

    NaN if no class is present (no pixels).
    """
    iou = per_class_iou(y_true, y_pred, num_classes, ignore_index)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def per_class_dice(y_true, y_pred=None, num_classes: int | None = None, ignore_index: int | None = None) -> np.ndarray:
    """Dice (F1) of each class, (num_classes,) float64: 2 TP / (2 TP + FP + FN); NaN for a class absent from both.

    Dice = 2 IoU / (1 + IoU) class by class, so it ranks models as IoU does but reads higher.
    Takes label maps or a confusion matrix, like ``per_class_iou``.
    """
    cm = _confusion(y_true, y_pred, num_classes, ignore_index)
    tp = np.diag(cm).astype(np.float64)
    total = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * tp / total, np.nan)


def dice(y_true, y_pred=None, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Mean Dice over the classes present in ``y_true`` or ``y_pred``; NaN if there are no pixels."""
    d = per_class_dice(y_true, y_pred, num_classes, ignore_index)
    return float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")


def pixel_accuracy(y_true, y_pred=None, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Fraction of pixels labelled correctly; NaN if there are no pixels.

    Dominated by the largest class: a network that calls everything background scores the
    background's share (about 0.85 on the course's scenes), which is why segmentation reports IoU.
    """
    cm = _confusion(y_true, y_pred, num_classes, ignore_index)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def mask_iou(mask_true, mask_pred) -> float:
    """IoU of two binary masks of the same shape; 1.0 when both are empty (they agree perfectly)."""
    a, b = _masks(mask_true, mask_pred)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def mask_dice(mask_true, mask_pred) -> float:
    """Dice 2 |A ∩ B| / (|A| + |B|) of two binary masks of the same shape; 1.0 when both are empty."""
    a, b = _masks(mask_true, mask_pred)
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else 1.0


def _shifted(mask: np.ndarray, dy: int, dx: int, fill: bool) -> np.ndarray:
    """``mask`` (..., H, W) moved by (dy, dx): out[y, x] = mask[y - dy, x - dx], ``fill`` where that is outside."""
    h, w = mask.shape[-2:]
    out = np.full(mask.shape, fill)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = \
        mask[..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` (..., H, W) with a 4-neighbour outside it; the image border does not count as outside."""
    inner = mask.copy()
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        inner &= _shifted(mask, dy, dx, True)
    return mask & ~inner


def _near(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` (Euclidean) of a pixel of ``mask`` (..., H, W): its dilation by that disk.

    The same pixels as ``ndimage.distance_transform_edt(~mask) <= radius``, for every map of a stack at once.
    """
    r = int(np.floor(radius))
    offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= radius * radius]
    if len(offsets) > 49:  # a wide disk: one ndimage call beats many shifts
        disk = np.zeros((2 * r + 1, 2 * r + 1), bool)
        for dy, dx in offsets:
            disk[dy + r, dx + r] = True
        return ndimage.binary_dilation(mask, structure=disk.reshape((1,) * (mask.ndim - 2) + disk.shape))
    near = mask.copy()
    for dy, dx in offsets:
        if dy or dx:
            near |= _shifted(mask, dy, dx, False)
    return near


def boundary_f1(y_true, y_pred, num_classes: int, tolerance: float = 1.0, ignore_index: int | None = None) -> float:
    """Boundary F1 score (Csurka et al., "What is a good evaluation measure for semantic segmentation?", 2013).

    For each image and each class present in its truth or prediction, the class's boundary
    pixels are matched within ``tolerance`` pixels (Euclidean): precision is the fraction of
    predicted boundary pixels near a true one, recall the fraction of true boundary pixels
    near a predicted one, and the score is their harmonic mean (0 if one boundary is empty).
    The result is the mean over those (image, class) pairs; NaN if there are none.

    ``y_true``, ``y_pred``: (N, H, W) or (H, W) label maps (or scores, as elsewhere). Unlike IoU,
    which a large object dominates, it weighs outlines, so it shows blurred or shifted edges.
    Pixels labelled ``ignore_index`` in ``y_true`` count as no class's boundary.
    "Within ``tolerance`` of a boundary" is the boundary dilated by the disk of that radius (the
    same pixels as a distance transform thresholded at ``tolerance``), for all images of a class at once.
    """
    if not (np.isscalar(tolerance) and np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance: expected a non-negative number of pixels, got {tolerance!r}")
    t = _integers(y_true, "y_true")
    if t.ndim not in (2, 3):
        raise ValueError(f"y_true: expected label maps (H, W) or (N, H, W), got shape {t.shape}")
    _labels(y_true, y_pred, num_classes, ignore_index)  # the checks, and the arg-max of scores below
    p = np.asarray(y_pred.numpy() if hasattr(y_pred, "numpy") and not isinstance(y_pred, np.ndarray) else y_pred)
    p = p.argmax(-1) if p.shape != t.shape else _integers(p, "y_pred")
    if t.ndim == 2:
        t, p = t[None], p[None]
    scores = []
    for c in np.union1d(np.unique(t), np.unique(p)):
        if c == ignore_index:
            continue
        bt, bp = _boundary(t == c), _boundary(p == c)
        n_true, n_pred = bt.sum((1, 2)), bp.sum((1, 2))
        # an image with no outline of c in either map does not count (absent, or filling the image in both);
        # one with an outline in one map only scores 0
        scores.extend([0.0] * int(((n_true > 0) != (n_pred > 0)).sum()))
        both = (n_true > 0) & (n_pred > 0)
        if both.any():
            bt, bp, n_true, n_pred = bt[both], bp[both], n_true[both], n_pred[both]
            precision = (_near(bt, tolerance) & bp).sum((1, 2)) / n_pred
            recall = (_near(bp, tolerance) & bt).sum((1, 2)) / n_true
            total = precision + recall
            scores.extend(np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0).tolist())
    return float(np.mean(scores)) if scores else float("nan")
