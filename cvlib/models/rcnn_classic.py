"""R-CNN (Girshick, Donahue, Darrell and Malik, CVPR 2014), the original pipeline, small enough for a CPU.

Notebook 04 (the R-CNN family) runs it next to Fast and Faster R-CNN (``cvlib.models.rcnn``).
R-CNN is four separate models glued together, each trained on its own:

1. **proposals**: about 2,000 selective-search boxes per image (``cvlib.proposals``);
2. **warp**: each proposal, enlarged by ``p`` pixels of context, is cut out and resized to a
   fixed square, whatever its aspect ratio (``warp_crops``; the paper: p = 16 at 227 x 227);
3. **features**: a CNN, fine-tuned as a (C + 1)-way classifier of warped proposals (IoU >= 0.5
   with an object: its class; else background; mini-batches of 32 foreground and 96 background
   windows), gives each crop a feature vector from its penultimate layer (``build_crop_cnn``);
4. **classifiers**: one linear SVM per class on those features (positives: the ground-truth
   boxes only; negatives: proposals with IoU < 0.3 with every object of the class), then
   per-class greedy NMS, then a per-class ridge **bounding-box regression** of the R-CNN
   deltas (``cvlib.boxes.encode_deltas``) from the pool5 features, trained on proposals with IoU > 0.6.

The CNN runs once per proposal, which is why R-CNN is slow (the paper: 13 s per image on a GPU)
and why Fast R-CNN runs the backbone once per image instead. ``RCNN.detect`` records the time
of each stage per image in ``RCNN.timing``.

What is scaled down here: crops of 32 x 32 (context p = 16 * 32 / 227 = 2.3 pixels), a small
CNN trained from scratch on the crops (the paper fine-tunes an ImageNet AlexNet), a few hundred
proposals per image, and no hard-negative mining: the paper mined hard negatives because the
fc7 features of 2,000 proposals x 5,000 images did not fit in memory; a few hundred scenes' worth
of proposals do, so each SVM sees every negative at once, which is what mining converges to.

Images are (H, W, 3), uint8 (0-255) or float (0-1); boxes ``xyxy`` in continuous pixels
(``cvlib.boxes``); object labels 0..C-1. The CNN's class 0 is background, so object label ``l``
is CNN class ``l + 1`` (as in ``cvlib.models.rcnn``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cvlib import boxes as box_lib
from cvlib._checks import boxes_array, check_finite, probability, to_numpy, vector

__all__ = [
    "PAPER_CONTEXT",
    "PAPER_CROP",
    "RCNN",
    "RCNNConfig",
    "build_crop_cnn",
    "context_boxes",
    "finetune_labels",
    "regression_targets",
    "sample_finetune",
    "svm_labels",
    "train_box_regressors",
    "train_svms",
    "warp_crops",
]

PAPER_CROP = 227  # AlexNet's input side in the paper
PAPER_CONTEXT = 16  # pixels of context around the proposal, at that size


# --------------------------------------------------------------------------- input checks


def _image(image, name: str = "image") -> np.ndarray:
    """One (H, W, C) image as float32 in [0, 1] (uint8 is divided by 255; floats are taken as they are)."""
    if hasattr(image, "numpy") and not isinstance(image, np.ndarray):
        image = image.numpy()
    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name}: expected an (H, W, 3) array of numbers, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"{name}: expected shape (H, W, C) with H, W, C >= 1, got {arr.shape}")
    out = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    check_finite(out, name)
    return out


def _positive_size(boxes: np.ndarray, name: str) -> np.ndarray:
    """Reject boxes of zero width or height: there is nothing to warp and no deltas to encode."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bad = np.flatnonzero((w <= 0) | (h <= 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: box {i} has zero area ({boxes[i].tolist()}); every box needs a positive width and "
            "height (remove such boxes, e.g. with cvlib.boxes.area(b) > 0)"
        )
    return boxes


def _int_at_least(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _target(target, name: str, num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One image's ground truth: (k, 4) xyxy boxes of positive area and (k,) labels in 0..C-1."""
    if not isinstance(target, dict) or "boxes" not in target or "labels" not in target:
        raise ValueError(f"{name}: expected a dict with 'boxes' (k, 4) and 'labels' (k,), got {type(target).__name__}")
    gt = _positive_size(boxes_array(target["boxes"], f"{name}['boxes']"), f"{name}['boxes']")
    labels = _labels(target["labels"], f"{name}['labels']", len(gt), num_classes)
    return gt, labels


def _labels(labels, name: str, length: int, num_classes: int | None) -> np.ndarray:
    lab = to_numpy(labels, name, dtype=None).reshape(-1) if np.size(labels) == 0 else vector(labels, name, length, None)
    if lab.size == 0:
        if length:
            raise ValueError(f"{name}: expected {length} labels (one per box), got 0")
        return np.zeros(0, np.int64)
    if not np.issubdtype(lab.dtype, np.integer) and not np.all(np.mod(lab, 1) == 0):
        raise ValueError(f"{name}: expected integer class labels, got {lab[:5].tolist()}")
    lab = lab.astype(np.int64)
    top = num_classes if num_classes is not None else np.iinfo(np.int64).max
    if (lab < 0).any() or (lab >= top).any():
        raise ValueError(f"{name}: labels must lie in 0..{top - 1}, got {lab.tolist()}")
    return lab


# --------------------------------------------------------------------------- the warp


def _context(size: int, context) -> float:
    """Context padding in output pixels; None is the paper's 16 at 227, scaled to ``size``."""
    if context is None:
        return PAPER_CONTEXT * size / PAPER_CROP
    arr = to_numpy(context, "context")
    if arr.ndim != 0 or not np.isfinite(arr) or not 0 <= float(arr) < size / 2:
        raise ValueError(f"context: expected a number of pixels in [0, size / 2) = [0, {size / 2:g}), got {context!r}")
    return float(arr)


def context_boxes(boxes, size: int = 32, context=None) -> np.ndarray:
    """The region each proposal's warp really samples: (N, 4) xyxy -> (N, 4) xyxy, enlarged boxes.

    The paper's "warp" with context padding: the box is enlarged so that, once the enlarged box
    is resized to ``size`` x ``size``, the original box fills the central ``size - 2p`` pixels
    and ``p = context`` pixels of surroundings frame it on every side. Each side grows by
    ``p / (size - 2p)`` of the box's width (left, right) or height (top, bottom).
    """
    size = _int_at_least(size, "size", 1)
    p = _context(size, context)
    b = boxes_array(boxes, "boxes")
    grow = p / (size - 2 * p)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] - grow * w, b[:, 1] - grow * h, b[:, 2] + grow * w, b[:, 3] + grow * h], axis=1)


def warp_crops(image, boxes, size: int = 32, context=None, fill=None) -> np.ndarray:
    """R-CNN's warped regions: one (H, W, C) image and (N, 4) xyxy boxes -> (N, size, size, C) float32.

    Each box is enlarged by ``context`` pixels (at the output scale; default the paper's
    p = 16 at 227, i.e. ``16 * size / 227``; see ``context_boxes``), then resized to
    ``size`` x ``size`` *anisotropically* (each axis on its own, whatever the box's aspect
    ratio), with bilinear sampling at the output pixels' centres.

    Values: uint8 images come out in [0, 1] (divided by 255), float images on their own scale.
    Where the enlarged box reaches outside the image, the samples outside get ``fill`` (a
    number or one per channel, on the output's scale; default the image's per-channel mean), as the paper pads with the
    mean, which its mean subtraction then turns into zeros; samples inside the image, up to its
    border, are the image's (the edge pixel within half a pixel of the border). So a box partly
    or wholly outside the image is valid: it is padded, not clipped.

    No boxes give (0, size, size, C); a box of zero width or height raises a ``ValueError``.
    """
    img = _image(image)
    size = _int_at_least(size, "size", 1)
    p = _context(size, context)
    b = _positive_size(boxes_array(boxes, "boxes"), "boxes")
    height, width, channels = img.shape
    if fill is None:
        fill = img.mean(axis=(0, 1))
    fill = to_numpy(fill, "fill").astype(np.float32)
    if fill.ndim > 1 or fill.size not in (1, channels):
        raise ValueError(f"fill: expected one number or one per channel ({channels}), got shape {fill.shape}")
    check_finite(fill, "fill")
    if len(b) == 0:
        return np.zeros((0, size, size, channels), np.float32)

    import tensorflow as tf  # only here, so that importing the module does not load TensorFlow

    region = context_boxes(b, size, p)
    # Output pixel j of a region [x1, x2] samples the continuous position x1 + (j + 0.5) (x2 - x1) / size
    # (pixel centres, as cv2.resize and tf.image.resize place them), likewise for y.
    steps = (np.arange(size) + 0.5) / size
    xs = region[:, :1] + steps[None] * (region[:, 2:3] - region[:, :1])  # (N, size)
    ys = region[:, 1:2] + steps[None] * (region[:, 3:4] - region[:, 1:2])
    # tf.image.crop_and_resize does the bilinear sampling of every box in one vectorised call, where
    # per-box resizes (OpenCV, scikit-image) would cost a Python call per proposal. It indexes pixel
    # centres (pixel c sits at c, not c + 0.5) and returns its extrapolation value for any sample beyond
    # the outer centres. We subtract the fill, pad one replicated edge pixel (so samples between the
    # outer centres and the border get the edge pixel, not the fill), extrapolate with 0 and zero the
    # samples outside [0, W] x [0, H] ourselves: adding the fill back gives "image inside, fill outside".
    padded = np.pad(img - fill, ((1, 1), (1, 1), (0, 0)), mode="edge")
    first, last = 0.5 + np.stack([ys[:, 0], xs[:, 0]], 1), 0.5 + np.stack([ys[:, -1], xs[:, -1]], 1)
    scale = np.array([height + 1, width + 1], np.float64)  # padded side - 1: crop_and_resize's normaliser
    norm = np.concatenate([first / scale, last / scale], axis=1)  # (y1, x1, y2, x2), as TensorFlow orders them
    crops = tf.image.crop_and_resize(
        padded[None], norm.astype(np.float32), tf.zeros(len(b), tf.int32), (size, size), method="bilinear",
        extrapolation_value=0.0,
    ).numpy()
    inside = ((ys >= 0) & (ys <= height))[:, :, None] & ((xs >= 0) & (xs <= width))[:, None, :]
    return (crops * inside[..., None] + fill).astype(np.float32)


# --------------------------------------------------------------------------- labelling


def _match(boxes: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best IoU of each box with any ground-truth box, and that box's index (0 when there is none)."""
    if len(gt) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes)), np.zeros(len(boxes), np.int64)
    overlaps = box_lib.iou(boxes, gt)
    return overlaps.max(axis=1), overlaps.argmax(axis=1)


def finetune_labels(proposals, gt_boxes, gt_labels, fg_iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The CNN's training labels: (N, 4) proposals, (k, 4) objects, (k,) labels -> classes (N,), IoU (N,).

    The paper's fine-tuning rule: a proposal with IoU >= ``fg_iou`` (0.5) with some object takes
    the class of the object it overlaps most, as CNN class ``label + 1``; every other proposal is
    background, class 0. Returns the classes (int64) and each proposal's best IoU.
    """
    props = boxes_array(proposals, "proposals")
    gt = boxes_array(gt_boxes, "gt_boxes")
    labels = _labels(gt_labels, "gt_labels", len(gt), None)
    fg_iou = probability(fg_iou, "fg_iou")
    best, matched = _match(props, gt)
    classes = np.where(best >= fg_iou, labels[matched] + 1 if len(gt) else 0, 0).astype(np.int64)
    return classes, best


def sample_finetune(classes, num: int, fg_fraction: float = 0.25, rng=None) -> np.ndarray:
    """Indices of a fine-tuning sample: at most ``fg_fraction * num`` foreground, background for the rest.

    The paper's mini-batch: 128 windows, 32 foreground (over all classes) and 96 background,
    drawn uniformly. With fewer candidates than asked, all of them are taken (so the result may
    be shorter than ``num``). ``classes`` (N,) is ``finetune_labels``' output; ``rng`` a NumPy
    Generator or a seed. Returns int64 indices, foreground first.
    """
    cls = vector(classes, "classes", dtype=None)
    num = _int_at_least(num, "num", 0)
    fg_fraction = probability(fg_fraction, "fg_fraction")
    rng = np.random.default_rng(rng)
    fg, bg = np.flatnonzero(cls > 0), np.flatnonzero(cls == 0)
    n_fg = min(len(fg), round(num * fg_fraction))
    n_bg = min(len(bg), num - n_fg)
    return np.concatenate(
        [rng.choice(fg, n_fg, replace=False), rng.choice(bg, n_bg, replace=False)]
    ).astype(np.int64)


def svm_labels(proposals, gt_boxes, gt_labels, num_classes: int, negative_iou: float = 0.3):
    """The SVMs' training labels: boxes (k + N, 4) (objects first, then proposals) and y (k + N, C) in {1, -1, 0}.

    For class c (the paper's rule, section 2.3): the ground-truth boxes of class c are its only
    positives (+1); a proposal whose IoU with every object of class c is below ``negative_iou``
    (0.3; the paper's grid search picked it, 0.5 cost 5 mAP points) is a negative (-1); the rest,
    including proposals that overlap a class-c object well but are not it, are ignored (0).
    Objects of other classes are negatives for c unless they overlap a class-c object that much.
    """
    props = boxes_array(proposals, "proposals")
    gt = boxes_array(gt_boxes, "gt_boxes")
    num_classes = _int_at_least(num_classes, "num_classes", 1)
    labels = _labels(gt_labels, "gt_labels", len(gt), num_classes)
    negative_iou = probability(negative_iou, "negative_iou")
    candidates = np.concatenate([gt, props])
    y = np.full((len(candidates), num_classes), -1, np.int8)
    if len(gt) and len(candidates):
        overlaps = box_lib.iou(candidates, gt)
        for c in range(num_classes):
            mine = labels == c
            if mine.any():
                y[overlaps[:, mine].max(axis=1) >= negative_iou, c] = 0
    y[np.arange(len(gt)), labels] = 1
    return candidates, y


def regression_targets(proposals, gt_boxes, gt_labels, min_iou: float = 0.6):
    """Bounding-box regression pairs: (N, 4) proposals -> indices (M,), labels (M,), deltas (M, 4).

    The paper's appendix C: a proposal P is paired with the object G it overlaps most when that
    IoU is above ``min_iou`` (0.6; a proposal far from every object teaches nothing), and the
    target is ``encode_deltas(P, G)``: (dx, dy) = centre shift over P's size, (dw, dh) = log
    size ratio. Returns the proposals' indices, their objects' labels and the deltas.
    """
    props = _positive_size(boxes_array(proposals, "proposals"), "proposals")
    gt = _positive_size(boxes_array(gt_boxes, "gt_boxes"), "gt_boxes")
    labels = _labels(gt_labels, "gt_labels", len(gt), None)
    min_iou = probability(min_iou, "min_iou")
    best, matched = _match(props, gt)
    keep = np.flatnonzero(best > min_iou) if len(gt) else np.zeros(0, np.int64)
    deltas = box_lib.encode_deltas(props[keep], gt[matched[keep]]) if keep.size else np.zeros((0, 4))
    return keep.astype(np.int64), labels[matched[keep]] if keep.size else np.zeros(0, np.int64), deltas


# --------------------------------------------------------------------------- the SVMs and the regressors


def _features(features, name: str = "features") -> np.ndarray:
    f = to_numpy(features, name)
    if f.ndim != 2:
        raise ValueError(f"{name}: expected shape (N, D), got {f.shape}")
    return check_finite(f, name)


def train_svms(features, y, C: float = 0.1, positive_weight: float = 2.0, seed: int = 0) -> list:
    """One linear SVM per class (scikit-learn's ``LinearSVC``): (N, D) features, (N, K) y in {1, -1, 0} -> K models.

    Class k's SVM learns from the rows with ``y[:, k] != 0`` (0 = ignored, as ``svm_labels``
    marks them). A class with no positive or no negative row gets ``None`` (it cannot be
    trained; ``RCNN`` then scores it -inf, so it never detects). ``C`` is the soft-margin
    constant (the paper's 0.001 on raw fc7; standardised features want a larger one);
    ``positive_weight`` up-weights the few positives as the paper's code does (w1 = 2).
    """
    from sklearn.svm import LinearSVC  # scikit-learn's liblinear: the paper trained with liblinear too

    f = _features(features)
    labels = to_numpy(y, "y", dtype=None)
    if labels.ndim != 2 or len(labels) != len(f):
        raise ValueError(f"y: expected shape ({len(f)}, K), one row per feature row, got {labels.shape}")
    if not np.isin(labels, (-1, 0, 1)).all():
        raise ValueError("y: expected values in {1, -1, 0} (positive, negative, ignored)")
    svms = []
    for k in range(labels.shape[1]):
        rows = np.flatnonzero(labels[:, k] != 0)
        target = labels[rows, k]
        if not (target == 1).any() or not (target == -1).any():
            svms.append(None)
            continue
        svm = LinearSVC(C=C, class_weight={1: positive_weight, -1: 1.0}, max_iter=10000, random_state=seed)
        svms.append(svm.fit(f[rows], target))
    return svms


def svm_scores(svms, features) -> np.ndarray:
    """The SVMs' margins: K models (or None), (N, D) features -> (N, K); an untrained class scores -inf."""
    f = _features(features)
    scores = np.full((len(f), len(svms)), -np.inf)
    for k, svm in enumerate(svms):
        if svm is not None and len(f):
            scores[:, k] = svm.decision_function(f)
    return scores


def train_box_regressors(features, labels, deltas, num_classes: int, alpha: float = 1000.0) -> list:
    """One ridge regression per class from features to R-CNN deltas: (M, D), (M,), (M, 4) -> C models.

    scikit-learn's ``Ridge`` solves the paper's regularised least squares; its lambda = 1000 is
    also the best of 10, 100 and 1000 on notebook 04's scenes with standardised pool5 features
    (smaller values overfit and lower AP at high IoU). A class without training pairs gets
    ``None``: its boxes are left as they are.
    """
    from sklearn.linear_model import Ridge

    f = _features(features)
    num_classes = _int_at_least(num_classes, "num_classes", 1)
    lab = _labels(labels, "labels", len(f), num_classes)
    d = to_numpy(deltas, "deltas")
    if d.shape != (len(f), 4):
        raise ValueError(f"deltas: expected shape ({len(f)}, 4), got {d.shape}")
    check_finite(d, "deltas")
    a = to_numpy(alpha, "alpha")
    if a.ndim != 0 or not np.isfinite(a) or a < 0:
        raise ValueError(f"alpha: expected a non-negative number, got {alpha!r}")
    return [Ridge(alpha=float(a)).fit(f[lab == c], d[lab == c]) if (lab == c).any() else None
            for c in range(num_classes)]


# --------------------------------------------------------------------------- the CNN


def build_crop_cnn(num_classes: int, size: int = 32, filters=(16, 32, 64), hidden: int = 128, dropout: float = 0.3):
    """A small CNN for warped crops: (B, size, size, 3) in [0, 1] -> (B, num_classes + 1) logits.

    Per entry of ``filters``: two 3x3 conv-BN-ReLU and a 2x2 max-pool; the last pooled map,
    flattened, is the layer ``"pool5"`` (named after AlexNet's: it keeps *where* things are in the
    crop, which the box regressors need, as in the paper's appendix C); then a ``hidden``-unit
    dense layer ``"features"`` (the penultimate layer, R-CNN's fc7, whose ReLU outputs feed the
    SVMs), dropout, and the (C + 1)-way classifier (class 0: background). Keras; trained by
    ``RCNN.fit`` with cross-entropy.
    """
    import keras
    from keras import layers

    num_classes = _int_at_least(num_classes, "num_classes", 1)
    size = _int_at_least(size, "size", 8)
    x = inputs = keras.Input((size, size, 3), name="crop")
    for i, f in enumerate(filters):
        for j in range(2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"block{i + 1}_conv{j + 1}")(x)
            # momentum 0.9, not Keras' 0.99: a few hundred steps must leave usable inference statistics.
            x = layers.BatchNormalization(momentum=0.9, name=f"block{i + 1}_bn{j + 1}")(x)
            x = layers.ReLU(name=f"block{i + 1}_relu{j + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
    x = layers.Flatten(name="pool5")(x)
    x = layers.Dense(hidden, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes + 1, name="logits")(x)
    return keras.Model(inputs, logits, name="crop_cnn")


# --------------------------------------------------------------------------- the detector


@dataclass
class RCNNConfig:
    """The knobs of R-CNN, with the paper's values scaled to small images.

    Warp: ``crop_size``, ``context`` (None: 16 * crop_size / 227). Fine-tuning: ``fg_iou`` (0.5),
    ``crops_per_image`` sampled with ``fg_fraction`` (the paper's 32 / 128) foreground, ``epochs``,
    ``batch_size``, ``learning_rate``. SVMs: ``negative_iou`` (0.3), ``svm_C``,
    ``svm_positive_weight``. Regression: ``regression_iou`` (0.6), ``ridge_alpha``. Detection:
    per-class NMS at ``nms_iou`` (the paper's code: 0.3), at most ``max_detections`` per image,
    SVM margins at or below ``score_threshold`` dropped (None keeps all).
    """

    crop_size: int = 32
    context: float | None = None
    fg_iou: float = 0.5
    crops_per_image: int = 64
    fg_fraction: float = 0.25
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    filters: tuple = (16, 32, 64)
    hidden: int = 128
    negative_iou: float = 0.3
    svm_C: float = 0.1
    svm_positive_weight: float = 2.0
    regression_iou: float = 0.6
    ridge_alpha: float = 1000.0
    nms_iou: float = 0.3
    max_detections: int = 100
    score_threshold: float | None = None
    max_proposals: int = 300


def _image_list(images, name: str = "images") -> list[np.ndarray]:
    """(N, H, W, 3) array or a list of (H, W, 3) images -> list of float32 [0, 1] images."""
    if isinstance(images, (list, tuple)):
        return [_image(im, f"{name}[{i}]") for i, im in enumerate(images)]
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.numpy()
    arr = np.asarray(images)
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected (N, H, W, 3) or a list of (H, W, 3) images, got shape {arr.shape}")
    return [_image(im, f"{name}[{i}]") for i, im in enumerate(arr)]


def _proposal_list(proposals, n: int, images: list[np.ndarray]) -> list[np.ndarray]:
    if not isinstance(proposals, (list, tuple)) or len(proposals) != n:
        got = f"{len(proposals)} arrays" if isinstance(proposals, (list, tuple)) else type(proposals).__name__
        raise ValueError(f"proposals: expected a list of {n} (P, 4) xyxy arrays (one per image), got {got}")
    return [_positive_size(boxes_array(p, f"proposals[{i}]"), f"proposals[{i}]") for i, p in enumerate(proposals)]


class RCNN:
    """R-CNN: selective-search proposals, warped crops, CNN features, per-class linear SVMs and box regression.

    ``fit(images, targets, proposals)`` trains the three stages one after the other (the CNN on
    labelled crops, then the SVMs on its penultimate (fc) features and the ridge box regressors on
    its pool5 features, both standardised);
    ``detect(images, proposals)`` returns one ``{"boxes" (k, 4) xyxy float32, "scores" (k,)
    float32 SVM margins, "labels" (k,) int64}`` dict per image and stores the seconds per image
    of each stage in ``timing``. ``proposals`` are one (P, 4) xyxy array per image (compute them
    once with ``cvlib.proposals.selective_search`` and reuse them); ``detect`` runs selective search
    itself when they are None. An image without proposals detects nothing.
    """

    def __init__(self, num_classes: int, config: RCNNConfig | None = None, seed: int = 0):
        self.num_classes = _int_at_least(num_classes, "num_classes", 1)
        self.config = config or RCNNConfig()
        self.seed = _int_at_least(seed, "seed", 0)
        self.rng = np.random.default_rng(self.seed)
        self.cnn = None
        self.feature_model = None
        self.scaler = None  # standardises the fc features for the SVMs
        self.pool5_scaler = None  # and the pool5 features for the box regressors
        self.svms: list = []
        self.regressors: list = []
        self.history: dict = {}
        self.timing: dict = {}

    # ------------------------------------------------------------------ pieces

    def warp(self, image, boxes) -> np.ndarray:
        """``warp_crops`` with this detector's crop size and context."""
        return warp_crops(image, boxes, self.config.crop_size, self.config.context)

    def features(self, image, boxes, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """CNN features of one image's boxes, not standardised: (N, 4) -> fc (N, hidden) and pool5 (N, D) float32.

        ``fc`` is the penultimate layer (``"features"``: the SVMs' input), ``pool5`` the flattened last
        conv block (the box regressors' input). The CNN runs once per box: R-CNN's cost.
        """
        if self.feature_model is None:
            raise ValueError("features: the CNN is not trained yet; call fit first")
        crops = self.warp(image, boxes)
        fc = [np.zeros((0, int(self.feature_model.outputs[0].shape[-1])), np.float32)]
        pool5 = [np.zeros((0, int(self.feature_model.outputs[1].shape[-1])), np.float32)]
        for first in range(0, len(crops), batch_size):
            a, b, _ = self.feature_model(crops[first : first + batch_size], training=False)
            fc.append(np.asarray(a))
            pool5.append(np.asarray(b))
        return np.concatenate(fc), np.concatenate(pool5)

    @staticmethod
    def _standardise(scaler, features: np.ndarray) -> np.ndarray:
        return scaler.transform(features) if len(features) else features

    # ------------------------------------------------------------------ training

    def fit(self, images, targets, proposals, verbose: int = 2) -> dict:
        """Train R-CNN's three stages on images, their targets and one (P, 4) proposal array per image.

        1. fine-tune the crop CNN on ``crops_per_image`` crops per image (``fit_cnn``);
        2. SVMs on the standardised features of every object and proposal (``svm_labels``);
        3. ridge box regressors on the proposals with IoU > ``regression_iou`` (``regression_targets``).

        Returns ``history``: the CNN's Keras history plus the seconds each stage took.
        """
        c = self.config
        ims, gts, props = self._training_set(images, targets, proposals)
        self._fit_cnn(ims, gts, props, verbose)
        timing = self.history["timing"]

        # 2. SVMs on every object and proposal of every image (no mining needed: see the module docstring).
        start = time.perf_counter()
        feats, ys, reg_feats, reg_labels, reg_deltas = [], [], [], [], []
        for im, (gt, lab), p in zip(ims, gts, props):
            cand, yy = svm_labels(p, gt, lab, self.num_classes, c.negative_iou)
            f, pool5 = self.features(im, cand)
            feats.append(f)
            ys.append(yy)
            idx, rl, rd = regression_targets(p, gt, lab, c.regression_iou)
            reg_feats.append(pool5[len(gt) + idx])
            reg_labels.append(rl)
            reg_deltas.append(rd)
        from sklearn.preprocessing import StandardScaler

        f_all = np.concatenate(feats)
        self.scaler = StandardScaler().fit(f_all)
        timing["features_s"] = time.perf_counter() - start
        start = time.perf_counter()
        self.svms = train_svms(
            self._standardise(self.scaler, f_all), np.concatenate(ys), c.svm_C, c.svm_positive_weight, self.seed
        )
        timing["svm_s"] = time.perf_counter() - start

        # 3. Box regression, one ridge per class, on the (standardised) pool5 features: fc features are
        # trained to name the class wherever it sits in the crop, pool5 still knows where it sits.
        start = time.perf_counter()
        reg_f = np.concatenate(reg_feats)
        self.pool5_scaler = StandardScaler().fit(reg_f)
        self.regressors = train_box_regressors(
            self._standardise(self.pool5_scaler, reg_f), np.concatenate(reg_labels),
            np.concatenate(reg_deltas).reshape(-1, 4), self.num_classes, c.ridge_alpha,
        )
        timing["regression_s"] = time.perf_counter() - start
        self.history.update(svm_rows=len(f_all), regression_pairs=len(reg_f))  # timing: the same dict, filled in
        return self.history

    def fit_cnn(self, images, targets, proposals, verbose: int = 2) -> dict:
        """R-CNN's first stage alone: fine-tune the crop CNN (``self.cnn``), as ``fit`` does before its SVMs.

        A crop classifier to start a two-stage detector's backbone from (``init_backbone_from``), trained on
        the same crops, labels and random draws as ``fit``'s. Returns ``history``: the CNN's Keras history and
        the seconds it took. ``detect`` needs ``fit``: the SVMs and box regressors are not trained.
        """
        self._fit_cnn(*self._training_set(images, targets, proposals), verbose)
        return self.history

    def _training_set(self, images, targets, proposals) -> tuple[list, list, list]:
        """Checked images, (boxes, labels) per image and proposals per image."""
        ims = _image_list(images)
        if not ims:
            raise ValueError("images: expected at least one training image, got none")
        if not isinstance(targets, (list, tuple)) or len(targets) != len(ims):
            raise ValueError(f"targets: expected a list of {len(ims)} dicts (one per image), got {len(targets)}")
        gts = [_target(t, f"targets[{i}]", self.num_classes) for i, t in enumerate(targets)]
        props = _proposal_list(proposals, len(ims), ims)
        if sum(len(g) for g, _ in gts) == 0:
            raise ValueError("targets: no objects in any image; R-CNN needs positives to learn from")
        return ims, gts, props

    def _fit_cnn(self, ims: list, gts: list, props: list, verbose: int) -> None:
        """Stage 1 on checked inputs: labelled warped crops (the objects' own boxes join the candidates, as in
        the paper's code; ``finetune_labels``, ``sample_finetune``), then the CNN's training."""
        import keras

        c = self.config
        timing = {}
        start = time.perf_counter()
        crops, classes = [], []
        for im, (gt, lab), p in zip(ims, gts, props):
            cand = np.concatenate([gt, p])
            cls, _ = finetune_labels(cand, gt, lab, c.fg_iou)
            pick = sample_finetune(cls, c.crops_per_image, c.fg_fraction, self.rng)
            crops.append(self.warp(im, cand[pick]))
            classes.append(cls[pick])
        x, y = np.concatenate(crops), np.concatenate(classes)
        timing["warp_train_s"] = time.perf_counter() - start
        start = time.perf_counter()
        self.cnn = build_crop_cnn(self.num_classes, c.crop_size, c.filters, c.hidden)
        self.cnn.compile(
            optimizer=keras.optimizers.Adam(c.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        self.cnn.optimizer.build(self.cnn.trainable_variables)  # before fit, which then traces its step only once
        order = self.rng.permutation(len(x))
        fit = self.cnn.fit(x[order], y[order], batch_size=c.batch_size, epochs=c.epochs, verbose=verbose)
        # One pass gives the SVMs' fc features, the regressors' pool5 features and the CNN's own logits.
        self.feature_model = keras.Model(
            self.cnn.input,
            [self.cnn.get_layer("features").output, self.cnn.get_layer("pool5").output, self.cnn.output],
        )
        timing["cnn_s"] = time.perf_counter() - start
        self.history = {"cnn": fit.history, "crops": len(x), "foreground_crops": int((y > 0).sum()), "timing": timing}

    # ------------------------------------------------------------------ detection

    def detect(self, images, proposals=None, regress: bool = True, scores: str = "svm") -> list[dict]:
        """Detections for (N, H, W, 3) images (or a list of images), one dict per image.

        Per image: proposals (given, or selective search in fast mode, ``max_proposals``), warp,
        CNN features, SVM margins for every class, per-class NMS (``cvlib.boxes.batched_nms`` at
        ``nms_iou``), then each kept box moved by its class's regressor (``regress=False`` skips
        it) and clipped to the image; at most ``max_detections``, best first. ``timing`` then
        holds the mean seconds per image of each stage and in total.

        ``scores="softmax"`` scores the boxes with the fine-tuned CNN's own class probabilities
        instead of the SVMs (the paper's appendix B compares the two: SVMs 54.2 mAP, softmax 50.9).
        """
        if self.feature_model is None:
            raise ValueError("detect: the detector is not trained yet; call fit first")
        if scores not in ("svm", "softmax"):
            raise ValueError(f"scores: expected 'svm' or 'softmax', got {scores!r}")
        ims = _image_list(images)
        props = None if proposals is None else _proposal_list(proposals, len(ims), ims)
        c = self.config
        stages = dict.fromkeys(("proposals", "warp", "cnn", "svm", "nms_regression"), 0.0)
        results = []
        for i, im in enumerate(ims):
            t0 = time.perf_counter()
            if props is None:
                from cvlib.proposals import selective_search

                p = selective_search(im, mode="fast", max_proposals=c.max_proposals)
            else:
                p = props[i]
            t1 = time.perf_counter()
            crops = self.warp(im, p)
            t2 = time.perf_counter()
            if len(crops):
                f, pool5, logits = (np.asarray(v) for v in self.feature_model(crops, training=False))
            else:
                f, pool5, logits = (np.zeros((0, int(o.shape[-1])), np.float32) for o in self.feature_model.outputs)
            t3 = time.perf_counter()
            if scores == "svm":
                margins = svm_scores(self.svms, self._standardise(self.scaler, f))
            else:  # the softmax over background and the C classes, without the background column
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                margins = (e / e.sum(axis=1, keepdims=True))[:, 1:]
            t4 = time.perf_counter()
            pool5 = self._standardise(self.pool5_scaler, pool5)
            results.append(self._decode(p, pool5, margins, im.shape[:2], regress))
            t5 = time.perf_counter()
            for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                stages[key] += dt
        n = max(len(ims), 1)
        self.timing = {f"{k}_s": v / n for k, v in stages.items()}
        self.timing["per_image_s"] = sum(stages.values()) / n
        self.timing["images"] = len(ims)
        return results

    def _decode(self, proposals, features, scores, image_size, regress: bool) -> dict:
        """One image's detections from its proposals' standardised pool5 features and (P, C) SVM margins."""
        c = self.config
        empty = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                 "labels": np.zeros(0, np.int64)}
        if len(proposals) == 0:
            return empty
        k = len(proposals)
        flat = scores.reshape(-1)  # proposal-major: row r, class l at r * C + l
        rows = np.repeat(np.arange(k), self.num_classes)
        labels = np.tile(np.arange(self.num_classes), k)
        ok = np.isfinite(flat)
        if c.score_threshold is not None:
            ok &= flat > c.score_threshold
        ok = np.flatnonzero(ok)
        kept = ok[box_lib.batched_nms(proposals[rows[ok]], flat[ok], labels[ok], c.nms_iou,
                                      max_output=c.max_detections)]
        boxes = proposals[rows[kept]].copy()
        if regress:
            for label in np.unique(labels[kept]):
                reg = self.regressors[label]
                if reg is None:
                    continue
                sel = np.flatnonzero(labels[kept] == label)
                deltas = reg.predict(features[rows[kept[sel]]])
                boxes[sel] = box_lib.decode_deltas(boxes[sel], deltas)
        boxes = box_lib.clip(boxes, image_size)
        # A box regressed wholly off the image clips to zero area: drop it rather than report it.
        good = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return {"boxes": boxes[good].astype(np.float32), "scores": flat[kept][good].astype(np.float32),
                "labels": labels[kept][good].astype(np.int64)}
