"""YOLO: one network pass predicts a grid of boxes (notebook 05).

Redmon, Divvala, Girshick and Farhadi, "You Only Look Once: Unified, Real-Time Object Detection"
(CVPR 2016), with the anchors of YOLOv2 (Redmon and Farhadi, "YOLO9000", CVPR 2017). The image is
cut into an S x S grid; each cell predicts B boxes, one per anchor shape, each as
(t_x, t_y, t_w, t_h, t_o) plus C class scores, so the output is (S, S, B, 5 + C) (the lecture's
19 x 19 x 5 x 85 for 80 classes). A box decodes as

    centre  ((col + sigmoid(t_x)) / S, (row + sigmoid(t_y)) / S)   inside its cell
    size    (a_w exp(t_w), a_h exp(t_h))                            may extend beyond the cell
    score   sigmoid(t_o) * softmax(class logits)                    P(object) * P(class | object)

Units: boxes are ``xyxy`` pixels of the model's input image; anchors are (B, 2) widths and heights
as *fractions of the image* (so one set fits any input size); targets store the centre as an
offset in [0, 1) inside its cell and the size as fractions of the image.

- ``build_yolo``: the network (a small Darknet-like CNN, BatchNorm + LeakyReLU) -> raw grid;
- ``kmeans_anchors``, ``shape_iou``: YOLOv2's anchors, k-means on box shapes with 1 - IoU as the distance;
- ``encode_targets`` / ``decode_targets``: boxes <-> the target grid of one image;
- ``targets_to_logits``: the raw output that predicts a target grid exactly (tests, the notebook);
- ``decode_grid``: every box of a raw grid with its scores, before any filtering;
- ``decode_predictions``: the lecture's two steps: drop low scores, then per-class NMS;
- ``detect``: images in (resized to the model's input when needed), detections out;
- ``YoloSequence``: training batches, augmented (boxes move with the pixels) and encoded.
"""

from __future__ import annotations

import math

import cv2
import keras
import numpy as np

from cvlib._checks import probability, to_numpy, vector
from cvlib.boxes import batched_nms, clip, xyxy
from cvlib.data.augment import random_flip_scale_translate
from cvlib.losses.yolo import _MAX_LOG_SCALE, _check_anchors

__all__ = [
    "YoloSequence",
    "build_yolo",
    "decode_grid",
    "decode_predictions",
    "decode_targets",
    "detect",
    "encode_batch",
    "encode_targets",
    "kmeans_anchors",
    "shape_iou",
    "targets_to_logits",
]


# --------------------------------------------------------------------------- input checks


def _grid(grid_size) -> tuple[int, int]:
    """(rows, cols) from an int S or a pair."""
    pair = (grid_size, grid_size) if np.isscalar(grid_size) else tuple(grid_size)
    if len(pair) != 2 or any(isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 for g in pair):
        raise ValueError(f"grid_size: expected a positive integer S or (rows, cols), got {grid_size!r}")
    return int(pair[0]), int(pair[1])


def _hw(image_size, name: str = "image_size") -> tuple[int, int]:
    """(H, W) from an int, (H, W) or (H, W, C)."""
    pair = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)[:2]
    if len(pair) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in pair):
        raise ValueError(f"{name}: expected a positive integer, (H, W) or (H, W, C), got {image_size!r}")
    return int(pair[0]), int(pair[1])


def _num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    return int(num_classes)


def _grid_tensor(grid, name: str, ndim: int) -> np.ndarray:
    """A (.., S, S, B, 5 + C) float32 array with ``ndim`` axes."""
    arr = to_numpy(grid, name, np.float32)
    if arr.ndim != ndim or arr.shape[-1] < 6:
        lead = "(S, S, B, 5 + C)" if ndim == 4 else "(N, S, S, B, 5 + C)"
        raise ValueError(f"{name}: expected shape {lead} with C >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf; every value must be finite")
    return arr


# --------------------------------------------------------------------------- the network


def build_yolo(input_shape, grid_size, anchors, num_classes: int, width: int = 32, depth_at_grid: int = 3,
               name: str = "yolo") -> keras.Model:
    """A YOLO network: images (N, H, W, 3) in [0, 255] -> raw predictions (N, S, S, B, 5 + C).

    A small Darknet-like backbone: 3x3 convolutions with BatchNorm and LeakyReLU(0.1), channels
    doubling after each 2x2 max-pool until the feature map is S x S (so H / S must be a power of
    two), ``depth_at_grid`` more 3x3 convolutions there (to widen the receptive field to the
    largest objects), and a 1x1 convolution to B (5 + C) numbers per cell. The objectness biases
    start at logit(0.01): almost every anchor is background, and an untrained network that says
    so does not open training with a flood of no-object loss (RetinaNet's prior).

    ``anchors`` (B, 2) only sets B here; the same anchors decode the output (``decode_predictions``).
    """
    h, w = _hw(input_shape, "input_shape")
    if not np.isscalar(input_shape) and len(tuple(input_shape)) == 3 and tuple(input_shape)[2] != 3:
        raise ValueError(f"input_shape: expected 3 colour channels, got {tuple(input_shape)}")
    rows, cols = _grid(grid_size)
    b = len(_check_anchors(anchors))
    c = _num_classes(num_classes)
    stride = h / rows
    if h % rows or w % cols or stride != w / cols or stride < 1 or not float(math.log2(stride)).is_integer():
        raise ValueError(
            f"grid_size: the input {h}x{w} must be the grid {rows}x{cols} times a power of two (one stride for "
            f"both axes), got a stride of {h / rows:g} x {w / cols:g}"
        )
    for value, label in ((width, "width"), (depth_at_grid, "depth_at_grid")):
        low = 2 if label == "width" else 0
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{label}: expected an integer >= {low}, got {value!r}")

    def conv(x, filters, kernel, label):
        x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{label}_conv")(x)
        # momentum 0.9 rather than Keras's 0.99: the running statistics that inference uses then follow the
        # quickly changing weights of a short training run (with 0.99 they lag ~100 steps behind, and the
        # model in inference mode predicts much worse than in training mode for the first epochs).
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{label}_bn")(x)
        return keras.layers.LeakyReLU(0.1, name=f"{label}_leaky")(x)

    inputs = keras.Input((h, w, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    filters = int(width) // 2
    x = conv(x, filters, 3, "stem")
    for level in range(int(math.log2(stride))):
        x = keras.layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
        filters *= 2
        x = conv(x, filters, 3, f"block{level + 1}")
    for k in range(int(depth_at_grid)):
        # Alternate 3x3 and 1x1 (half as many channels) layers as Darknet does: the 1x1 mixes channels cheaply.
        x = conv(x, filters if k % 2 == 0 else filters // 2, 3 if k % 2 == 0 else 1, f"grid{k + 1}")
    prior = np.zeros((b, 5 + c), np.float32)
    prior[:, 4] = np.log(0.01 / 0.99)
    head = keras.layers.Conv2D(
        b * (5 + c), 1, name="head", bias_initializer=keras.initializers.Constant(prior.reshape(-1))
    )(x)
    outputs = keras.layers.Reshape((rows, cols, b, 5 + c), name="grid")(head)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- anchors


def shape_iou(wh, anchors) -> np.ndarray:
    """IoU of (N, 2) box shapes (w, h) with (K, 2) anchor shapes, all centred at the same point: (N, K).

    The fit YOLOv2 uses to pick an object's anchor and to cluster anchors; any unit, the same for both.
    """
    wh = to_numpy(wh, "wh")
    wh = wh.reshape(0, 2) if wh.size == 0 else wh
    anchors = _check_anchors(anchors).astype(np.float64)
    if wh.ndim != 2 or wh.shape[1] != 2 or (wh < 0).any() or not np.isfinite(wh).all():
        raise ValueError(f"wh: expected (N, 2) non-negative widths and heights, got shape {wh.shape}")
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = wh[:, 0:1] * wh[:, 1:2] + (anchors[:, 0] * anchors[:, 1])[None] - inter
    return inter / np.maximum(union, 1e-12)


def kmeans_anchors(boxes, k: int, image_size, seed: int = 0, iterations: int = 100) -> np.ndarray:
    """YOLOv2's anchors: k-means on box widths and heights with distance 1 - IoU. -> (k, 2) sorted by area.

    ``boxes`` (N, 4) ``xyxy`` pixels (of images of ``image_size``); the anchors come back as
    fractions of the image. 1 - IoU, unlike the Euclidean distance, does not let large boxes
    dominate: a cluster's error is relative to its size. Zero-size boxes are left out.
    """
    b = xyxy(boxes)
    h, w = _hw(image_size)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations: expected a positive integer, got {iterations!r}")
    wh = np.stack([(b[:, 2] - b[:, 0]) / w, (b[:, 3] - b[:, 1]) / h], axis=1)
    wh = wh[(wh > 0).all(1)]
    if len(wh) < k:
        raise ValueError(f"boxes: k-means needs at least k = {k} boxes of positive size, got {len(wh)}")
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), k, replace=False)]
    for _ in range(int(iterations)):
        nearest = shape_iou(wh, centres).argmax(1)
        # The median (as in the YOLOv2 reference scripts) is robust to a few extreme shapes.
        new = np.stack([np.median(wh[nearest == j], 0) if (nearest == j).any() else centres[j] for j in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    return centres[np.argsort(centres[:, 0] * centres[:, 1])].astype(np.float32)


# --------------------------------------------------------------------------- targets


def encode_targets(boxes, labels, grid_size, anchors, num_classes: int, image_size) -> np.ndarray:
    """The target grid of one image: (N, 4) ``xyxy`` pixel boxes, (N,) labels -> (S, S, B, 5 + C) float32.

    Each object goes to the cell that contains its centre and, in that cell, to the anchor whose
    shape fits it best (highest IoU of the two shapes centred together). That slot holds
    (x, y, w, h, 1, one-hot class): x, y the centre's offset inside the cell in [0, 1), w, h the
    size as fractions of the image; every other slot is all zeros ("no object"). Boxes are clipped
    to the image first; boxes left with no area are skipped. If the best anchor is taken by an
    earlier object in the same cell, the next best free one is used; an object finding every
    anchor of its cell taken is dropped (which B anchors per cell make rare). An image without
    objects gives an all-zero (all background) grid.
    """
    h, w = _hw(image_size)
    rows, cols = _grid(grid_size)
    a = _check_anchors(anchors)
    c = _num_classes(num_classes)
    b = clip(xyxy(boxes), (h, w))
    lab = vector(labels, "labels", len(b), dtype=np.int64)
    if lab.size and (lab.min() < 0 or lab.max() >= c):
        bad = int(lab[(lab < 0) | (lab >= c)][0])
        raise ValueError(f"labels: expected classes 0..{c - 1} (num_classes = {c}), got {bad}")

    target = np.zeros((rows, cols, len(a), 5 + c), np.float32)
    bw, bh = (b[:, 2] - b[:, 0]) / w, (b[:, 3] - b[:, 1]) / h
    cx, cy = (b[:, 0] + b[:, 2]) / 2 / w * cols, (b[:, 1] + b[:, 3]) / 2 / h * rows  # in cells
    # A centre on the image's right or bottom edge belongs to the last cell (offset 1 there).
    col = np.minimum(np.floor(cx), cols - 1).astype(int)
    row = np.minimum(np.floor(cy), rows - 1).astype(int)
    fit = shape_iou(np.stack([bw, bh], 1), a) if len(b) else np.zeros((0, len(a)))
    for i in np.flatnonzero((bw > 0) & (bh > 0)):
        for anchor in np.argsort(-fit[i], kind="stable"):
            slot = target[row[i], col[i], anchor]
            if slot[4] == 0:
                slot[:5] = (cx[i] - col[i], cy[i] - row[i], bw[i], bh[i], 1.0)
                slot[5 + lab[i]] = 1.0
                break
    return target


def encode_batch(targets, grid_size, anchors, num_classes: int, image_size) -> np.ndarray:
    """``encode_targets`` of each ``{"boxes", "labels"}`` dict of a list: -> (N, S, S, B, 5 + C)."""
    if isinstance(targets, dict):
        raise ValueError("targets: expected a list with one {'boxes', 'labels'} dict per image, got one dict")
    rows, cols = _grid(grid_size)
    out = np.zeros((len(targets), rows, cols, len(_check_anchors(anchors)), 5 + _num_classes(num_classes)), np.float32)
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or "boxes" not in t or "labels" not in t:
            raise ValueError(f"targets[{i}]: expected a dict with 'boxes' and 'labels'")
        out[i] = encode_targets(t["boxes"], t["labels"], grid_size, anchors, num_classes, image_size)
    return out


def _cell_origins(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row index of every cell, shaped (S, S, 1) to broadcast over anchors."""
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    return c[..., None], r[..., None]


def _to_pixels(cx, cy, bw, bh, rows, cols, h, w) -> np.ndarray:
    """Centres in cells and sizes in image fractions -> (..., 4) xyxy pixels."""
    x, y = cx / cols * w, cy / rows * h
    half_w, half_h = bw * w / 2, bh * h / 2
    return np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=-1)


def decode_targets(target, image_size) -> dict:
    """The objects of one target grid (S, S, B, 5 + C): ``{"boxes": (K, 4) xyxy pixels, "labels": (K,)}``.

    The inverse of ``encode_targets`` (objects come out in grid order: row, column, anchor).
    """
    t = _grid_tensor(target, "target", 4)
    h, w = _hw(image_size)
    rows, cols = t.shape[:2]
    col0, row0 = _cell_origins(rows, cols)
    boxes = _to_pixels(col0 + t[..., 0], row0 + t[..., 1], t[..., 2], t[..., 3], rows, cols, h, w)
    present = t[..., 4] > 0.5
    return {"boxes": boxes[present].astype(np.float64), "labels": t[..., 5:][present].argmax(-1).astype(np.int64)}


def targets_to_logits(target, anchors, confidence: float = 30.0) -> np.ndarray:
    """The raw network output that decodes to ``target`` exactly: (..., S, S, B, 5 + C) -> same shape.

    The inverse of the decoding: t_x = logit(x), t_w = log(w / a_w), objectness and class logits
    +-``confidence`` (sigmoid(30) is 1 in float32). Offsets are kept within [1e-6, 1 - 1e-6], where
    the logit is finite. The YOLO loss of this "perfect prediction" is zero (to float precision).
    """
    t = to_numpy(target, "target", np.float32)
    a = _check_anchors(anchors)
    if t.ndim < 4 or t.shape[-1] < 6 or t.shape[-2] != len(a):
        raise ValueError(f"target: expected (..., S, S, B, 5 + C) with B = {len(a)} anchors, got {t.shape}")
    out = np.zeros_like(t)
    present = t[..., 4:5] > 0.5
    xy = np.clip(t[..., 0:2], 1e-6, 1 - 1e-6)
    out[..., 0:2] = np.where(present, np.log(xy / (1 - xy)), 0.0)
    with np.errstate(divide="ignore"):
        out[..., 2:4] = np.where(present, np.log(np.maximum(t[..., 2:4], 1e-9) / a), 0.0)
    out[..., 4] = np.where(present[..., 0], confidence, -confidence)
    out[..., 5:] = np.where(present, confidence * (2 * t[..., 5:] - 1), 0.0)
    return out


# --------------------------------------------------------------------------- decoding


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow for large |x|


def decode_grid(prediction, anchors, image_size) -> dict:
    """Every box of one raw prediction grid (S, S, B, 5 + C), before any filtering.

    Returns a dict of S * S * B rows in grid order (row, column, anchor): ``boxes`` (K, 4)
    ``xyxy`` pixels, ``objectness`` (K,) P(object), ``class_probs`` (K, C) P(class | object),
    ``labels`` (K,) the most likely class, and ``scores`` (K,) = objectness * P(label | object),
    YOLO's class-specific confidence.
    """
    p = _grid_tensor(prediction, "prediction", 4).astype(np.float64)
    a = _check_anchors(anchors).astype(np.float64)
    if p.shape[2] != len(a):
        raise ValueError(f"anchors: the prediction has {p.shape[2]} boxes per cell but {len(a)} anchors were given")
    h, w = _hw(image_size)
    rows, cols = p.shape[:2]
    col0, row0 = _cell_origins(rows, cols)
    size = a * np.exp(np.minimum(p[..., 2:4], _MAX_LOG_SCALE))
    boxes = _to_pixels(col0 + _sigmoid(p[..., 0]), row0 + _sigmoid(p[..., 1]), size[..., 0], size[..., 1],
                       rows, cols, h, w)
    logits = p[..., 5:] - p[..., 5:].max(-1, keepdims=True)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    objectness = _sigmoid(p[..., 4])
    labels = probs.argmax(-1)
    scores = objectness * np.take_along_axis(probs, labels[..., None], -1)[..., 0]
    k = rows * cols * len(a)
    return {
        "boxes": boxes.reshape(k, 4),
        "objectness": objectness.reshape(k),
        "class_probs": probs.reshape(k, -1),
        "labels": labels.reshape(k).astype(np.int64),
        "scores": scores.reshape(k),
    }


def decode_predictions(predictions, anchors, image_size, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100):
    """Detections from raw grids: YOLO's two steps of filtering after ``decode_grid``.

    1. drop boxes whose score (P(object) * P(class | object)) is not above ``score_threshold``;
    2. non-maximum suppression within each class (``cvlib.boxes.batched_nms``) at ``iou_threshold``,
       keeping at most ``max_detections``, best first.

    ``predictions``: one grid (S, S, B, 5 + C) -> one dict, or a batch (N, S, S, B, 5 + C) -> a list of
    dicts, each ``{"boxes": (K, 4) xyxy pixels clipped to the image, "scores": (K,), "labels": (K,)}``.
    """
    arr = to_numpy(predictions, "predictions", np.float32)
    if arr.ndim not in (4, 5):
        raise ValueError(f"predictions: expected (S, S, B, 5 + C) or (N, S, S, B, 5 + C), got shape {arr.shape}")
    score_threshold = probability(score_threshold, "score_threshold")
    iou_threshold = probability(iou_threshold, "iou_threshold")
    if isinstance(max_detections, bool) or not isinstance(max_detections, (int, np.integer)) or max_detections < 0:
        raise ValueError(f"max_detections: expected a non-negative integer, got {max_detections!r}")
    h, w = _hw(image_size)
    results = []
    for grid in arr if arr.ndim == 5 else arr[None]:
        every = decode_grid(grid, anchors, (h, w))
        confident = np.flatnonzero(every["scores"] > score_threshold)  # step 1
        boxes = clip(every["boxes"][confident], (h, w))
        scores, labels = every["scores"][confident], every["labels"][confident]
        kept = batched_nms(boxes, scores, labels, iou_threshold, max_output=int(max_detections))  # step 2
        results.append({"boxes": boxes[kept], "scores": scores[kept], "labels": labels[kept]})
    return results if arr.ndim == 5 else results[0]


def _images(images, name: str = "images") -> tuple[np.ndarray, bool]:
    """(N, H, W, 3) images and whether a single (H, W, 3) image was given."""
    arr = np.asarray(images.numpy() if hasattr(images, "numpy") else images)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype.kind not in "uif":
        raise ValueError(f"{name}: expected (H, W, 3) or (N, H, W, 3) colour images, got shape {arr.shape}, "
                         f"dtype {arr.dtype}")
    return arr, single


def detect(model: keras.Model, images, anchors, score_threshold: float = 0.05, iou_threshold: float = 0.5,
           max_detections: int = 100, resize: bool = True, batch_size: int = 64):
    """Run a YOLO model on images in [0, 255] and return its detections in the images' own pixels.

    ``images``: (H, W, 3) -> one dict, or (N, H, W, 3) -> a list (see ``decode_predictions``). Images
    of another size than the model's input are resized to it (bilinear) and the boxes scaled back,
    or, with ``resize=False``, rejected with a ValueError.
    """
    arr, single = _images(images)
    mh, mw = model.input_shape[1:3]
    h, w = arr.shape[1:3]
    if (h, w) != (mh, mw):
        if not resize:
            raise ValueError(f"images: the model expects {mh}x{mw} images, got {h}x{w}; resize them or pass "
                             "resize=True")
        arr = np.stack([cv2.resize(im.astype(np.float32), (mw, mh), interpolation=cv2.INTER_LINEAR) for im in arr])
    grids = model.predict(arr.astype(np.float32), batch_size=batch_size, verbose=0)
    results = decode_predictions(grids, anchors, (mh, mw), score_threshold, iou_threshold, max_detections)
    if (h, w) != (mh, mw):
        back = np.array([w / mw, h / mh, w / mw, h / mh])
        results = [{**r, "boxes": r["boxes"] * back} for r in results]
    return results[0] if single else results


# --------------------------------------------------------------------------- training data


class YoloSequence(keras.utils.PyDataset):
    """Training batches ``(images (b, H, W, 3) float32 in [0, 255], targets (b, S, S, B, 5 + C))``.

    Each epoch visits the images in a new random order; with ``augment`` each image is flipped,
    rescaled and shifted at random with its boxes (``cvlib.data.augment``), then encoded. Seeded:
    epoch e of a given ``seed`` is always the same.
    """

    def __init__(self, images, targets, grid_size, anchors, num_classes: int, batch_size: int = 32,
                 augment: bool = True, seed: int = 0, scale_range=(0.75, 1.25), max_shift: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        arr, _ = _images(images)
        if len(targets) != len(arr):
            raise ValueError(f"targets: expected one target per image ({len(arr)}), got {len(targets)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        self.images, self.targets = arr, list(targets)
        self.grid_size, self.anchors, self.num_classes = _grid(grid_size), _check_anchors(anchors), int(num_classes)
        self.batch_size, self.augment, self.seed = int(batch_size), bool(augment), int(seed)
        self.scale_range, self.max_shift = scale_range, float(max_shift)
        self.epoch = 0
        self._order = np.random.default_rng([self.seed, 0]).permutation(len(arr))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __getitem__(self, index):
        picked = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        h, w = self.images.shape[1:3]
        images = np.empty((len(picked), h, w, 3), np.float32)
        grids = []
        for k, i in enumerate(picked):
            image, boxes, labels = self.images[i], self.targets[i]["boxes"], self.targets[i]["labels"]
            if self.augment:
                image, boxes, labels = random_flip_scale_translate(image, boxes, labels, rng, 0.5, self.scale_range,
                                                                   self.max_shift)
            images[k] = image
            grids.append(encode_targets(boxes, labels, self.grid_size, self.anchors, self.num_classes, (h, w)))
        return images, np.stack(grids)
