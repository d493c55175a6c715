"""Mask R-CNN: Faster R-CNN with a mask head, small enough to train on a CPU (notebook 12).

He, Gkioxari, Dollár and Girshick, "Mask R-CNN", ICCV 2017. The detector of ``cvlib.models.rcnn``
(backbone, RPN, box head) is kept as it is; a third branch runs beside the box head:

1. RPN proposals, as in Faster R-CNN;
2. the box head classifies each RoI and refines its box;
3. detections: per-class decoding, a score threshold and per-class NMS;
4. the **mask head** cuts each detection out of the feature map with ``RoIAlign`` (14 x 14), runs
   four 3x3 convolutions and a 2x2 transposed convolution (stride 2) and predicts one 28 x 28 mask
   *per class* (a 1x1 convolution, a sigmoid each); the mask of the detection's class is
   **pasted back** into the image inside its box (:func:`paste_masks`).

Training adds one loss to Faster R-CNN's four: for each *foreground* RoI, the binary
cross-entropy between the 28 x 28 mask of its true class and the ground truth cut out of its
object's full-image mask by RoIAlign over the same box (then thresholded at 0.5). The other
classes' masks get no gradient, so classes do not compete for a pixel (the paper's decoupling
of mask and class: a sigmoid per class, not a softmax over classes).

``pooling="pool"`` builds the same model with ``RoIPool`` in both heads: the paper's ablation,
where rounding the box to whole feature cells misaligns the masks.

Images are float32 in [0, 1] (or uint8), (B, H, W, 3); targets carry ``boxes`` (k, 4) xyxy,
``labels`` (k,) in 0..C-1 and ``masks`` bool (k, H, W) (``cvlib.data.shapes.generate_scenes``).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops
from scipy import ndimage

from cvlib._checks import boxes_array, probability, to_numpy
from cvlib.layers.roi import RoIAlign, RoIPool, roi_align
from cvlib.models.rcnn import DetectorConfig, TwoStageDetector, _as_images

__all__ = ["MASK_SIZE", "MaskRCNN", "build_mask_head", "mask_targets", "paste_masks"]

MASK_SIZE = 28  # the paper's mask resolution: RoIAlign to 14 x 14, doubled by the transposed convolution


def build_mask_head(
    feature_shape, num_classes: int, spatial_scale: float, pooling: str = "align", channels: int = 64,
    name: str = "mask_head",
) -> keras.Model:
    """Mask R-CNN's mask head: [features (B, h, w, C), rois (K, 5)] -> mask logits (K, 28, 28, num_classes).

    RoIAlign (or RoIPool) to 14 x 14, four 3x3 conv-ReLU of ``channels``, a 2x2 transposed
    convolution of stride 2 with ReLU (14 -> 28), and a 1x1 convolution giving one logit map per class.
    """
    if pooling not in ("align", "pool"):
        raise ValueError(f"pooling: expected 'align' or 'pool', got {pooling!r}")
    features = keras.Input(feature_shape, name="features")
    rois = keras.Input((5,), name="rois")
    half = MASK_SIZE // 2
    if pooling == "align":
        pooled = RoIAlign(half, spatial_scale, sampling_ratio=2, aligned=True, name="mask_roi_align")
    else:
        pooled = RoIPool(half, spatial_scale, name="mask_roi_pool")
    x = pooled([features, rois])
    for i in range(4):
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"mask_conv{i + 1}")(x)
    x = layers.Conv2DTranspose(channels, 2, strides=2, activation="relu", name="mask_upconv")(x)
    logits = layers.Conv2D(num_classes, 1, name="mask_logits")(x)
    return keras.Model([features, rois], logits, name=name)


def mask_targets(masks, rois, size: int = MASK_SIZE) -> np.ndarray:
    """The mask head's targets: each object mask cut out over its RoI by RoIAlign, thresholded at 0.5.

    ``masks`` (K, H, W) bool, one full-image mask per RoI; ``rois`` (K, 4) xyxy boxes in pixels.
    Returns (K, size, size) float32 of 0/1: pixel (i, j) is 1 when the bilinear average of the
    mask over that bin of the box is at least 0.5. An empty mask gives an all-zero target.
    """
    m = to_numpy(masks, "masks", bool)
    if m.ndim != 3:
        raise ValueError(f"masks: expected (K, H, W), got shape {m.shape}")
    boxes = boxes_array(rois, "rois")
    if len(boxes) != len(m):
        raise ValueError(f"rois: expected one box per mask ({len(m)}), got {len(boxes)}")
    if not len(m):
        return np.zeros((0, size, size), np.float32)
    # Each RoI reads its own mask: the masks are a batch of 1-channel images, RoI k reads image k.
    batch_rois = np.column_stack([np.arange(len(m)), boxes]).astype(np.float32)
    cut = roi_align(m[..., None].astype(np.float32), batch_rois, size, 1.0, sampling_ratio=2, aligned=True)
    return (np.asarray(cut)[..., 0] >= 0.5).astype(np.float32)


def paste_masks(masks, boxes, image_shape, threshold: float = 0.5) -> np.ndarray:
    """Paste per-box mask probabilities back into the image: (k, M, N) + (k, 4) xyxy -> (k, H, W) bool.

    Each mask covers its box: image pixel (r, c) inside the box (its centre ``(c + 0.5, r + 0.5)``
    within ``[x1, x2) x [y1, y2)``) reads the mask by bilinear interpolation at the matching
    point, with the mask's cells spread evenly over the box (its border values extend to the box's
    edges), and is set when that value is at least ``threshold``. Pixels outside the box stay
    False, so an all-ones mask covers exactly the pixels of its box. ``image_shape`` is (H, W) or
    (H, W, C). Empty input gives (0, H, W).
    """
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list, np.ndarray)) else ()
    if len(shape) not in (2, 3) or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape[:2]):
        raise ValueError(f"image_shape: expected (H, W) or (H, W, C) of positive integers, got {image_shape!r}")
    h, w = int(shape[0]), int(shape[1])
    threshold = probability(threshold, "threshold")
    probs = to_numpy(masks, "masks")
    if probs.size == 0 and probs.ndim != 3:
        probs = probs.reshape(0, 1, 1)
    if probs.ndim != 3:
        raise ValueError(f"masks: expected (k, M, N) mask probabilities, got shape {probs.shape}")
    boxes = boxes_array(boxes, "boxes")
    if len(boxes) != len(probs):
        raise ValueError(f"boxes: expected one box per mask ({len(probs)}), got {len(boxes)}")
    out = np.zeros((len(probs), h, w), bool)
    mh, mw = probs.shape[1:]
    for k, (mask, (x1, y1, x2, y2)) in enumerate(zip(probs, boxes)):
        if x2 <= x1 or y2 <= y1:
            continue
        # The pixels whose centres lie in [x1, x2) x [y1, y2), clipped to the image.
        c0, c1 = max(int(np.ceil(x1 - 0.5)), 0), min(int(np.ceil(x2 - 0.5)), w)
        r0, r1 = max(int(np.ceil(y1 - 0.5)), 0), min(int(np.ceil(y2 - 0.5)), h)
        if c1 <= c0 or r1 <= r0:
            continue
        # A pixel centre at fraction t of the box reads the mask at t * size - 0.5 (cell centres at j + 0.5).
        u = (np.arange(c0, c1) + 0.5 - x1) / (x2 - x1) * mw - 0.5
        v = (np.arange(r0, r1) + 0.5 - y1) / (y2 - y1) * mh - 0.5
        grid = np.meshgrid(np.clip(v, 0, mh - 1), np.clip(u, 0, mw - 1), indexing="ij")
        # scipy.ndimage does the bilinear interpolation (order=1).
        values = ndimage.map_coordinates(mask, grid, order=1, mode="nearest")
        out[k, r0:r1, c0:c1] = values >= threshold
    return out


class MaskRCNN(TwoStageDetector):
    """Mask R-CNN on ``TwoStageDetector``: ``fit(images, targets)`` with masks, ``detect`` adds ``"masks"``.

    ``pooling`` ("align" or "pool") is used by both the box head and the mask head;
    ``mask_channels`` is the width of the mask head's convolutions. Save with :meth:`save`,
    load with :meth:`MaskRCNN.load`.
    """

    def __init__(
        self, image_shape, num_classes: int, pooling: str = "align", filters=(32, 64, 128),
        config: DetectorConfig | None = None, seed: int = 0, mask_channels: int = 64,
    ):
        super().__init__(image_shape, num_classes, rpn=True, pooling=pooling, filters=filters, config=config,
                         seed=seed)
        self.pooling, self.filters, self.seed, self.mask_channels = pooling, tuple(filters), seed, int(mask_channels)
        feature_shape = tuple(self.backbone.output.shape[1:])
        self.mask_head = build_mask_head(feature_shape, self.num_classes, 1.0 / self.stride, pooling, mask_channels)
        self._mask_fn = None

    # ------------------------------------------------------------------ training

    def _check_targets(self, targets) -> None:
        """Every target has masks of the image's size, one per box, and labels in 0..C-1."""
        h, w = self.image_shape[:2]
        for i, t in enumerate(targets):
            if not isinstance(t, dict) or not {"boxes", "labels", "masks"} <= set(t):
                raise ValueError(f"targets[{i}]: expected a dict with 'boxes', 'labels' and 'masks'")
            boxes = boxes_array(t["boxes"], f"targets[{i}]['boxes']")
            labels = to_numpy(t["labels"], f"targets[{i}]['labels']").reshape(-1)
            masks = np.asarray(t["masks"])
            if masks.size == 0 and len(boxes) == 0:
                continue
            if masks.shape != (len(boxes), h, w):
                raise ValueError(f"targets[{i}]['masks']: expected shape ({len(boxes)}, {h}, {w}) (one mask of the "
                                 f"image's size per box), got {masks.shape}")
            bad = (labels < 0) | (labels >= self.num_classes) | (labels != np.round(labels))
            if len(labels) != len(boxes) or bad.any():
                raise ValueError(f"targets[{i}]['labels']: expected {len(boxes)} integer labels in 0.."
                                 f"{self.num_classes - 1}, got {labels.tolist()}")

    def fit(self, images, targets, epochs: int = 1, batch_size: int = 8, verbose: int = 1,
            learning_rate_schedule=None) -> list[dict]:
        """Train on (N, H, W, 3) images and targets with masks; returns the per-epoch mean losses.

        As ``TwoStageDetector.fit``, plus the mask loss (``"mask"`` in the history). An object with
        an empty mask is allowed: its RoIs learn an all-background mask.
        """
        if not isinstance(targets, (list, tuple)):
            raise ValueError(f"targets: expected a list of dicts, one per image, got {type(targets).__name__}")
        self._check_targets(targets)
        return super().fit(images, targets, epochs=epochs, batch_size=batch_size, verbose=verbose,
                           learning_rate_schedule=learning_rate_schedule)

    def _extra_targets(self, targets, rois, matches) -> tuple:
        """(K, 28, 28) mask targets: each foreground RoI's object mask cut out over the RoI; zeros elsewhere."""
        h, w = self.image_shape[:2]
        out = np.zeros((len(rois), MASK_SIZE, MASK_SIZE), np.float32)
        fg = np.flatnonzero(matches >= 0)
        if fg.size:
            image = rois[fg, 0].astype(int)
            objects = np.stack([np.asarray(targets[i]["masks"], bool).reshape(-1, h, w)[j]
                                for i, j in zip(image, matches[fg])])
            out[fg] = mask_targets(objects, rois[fg, 1:])
        return (out,)

    def _extra_losses(self, features, rois, classes, weights, extra_targets, training) -> dict:
        import tensorflow as tf

        (targets,) = extra_targets
        # Only foreground RoIs have a mask to learn: run the head on those alone (a quarter of the RoIs
        # at most), which saves most of its cost. One weight-0 row is always added, so that a batch
        # without any foreground still gives the convolutions a non-empty input.
        fg = tf.where(tf.logical_and(classes > 0, weights > 0))[:, 0]
        rows = tf.concat([fg, tf.zeros(1, fg.dtype)], axis=0)
        counts = tf.concat([tf.ones_like(fg, tf.float32), tf.zeros(1)], axis=0)
        logits = self.mask_head([features, tf.gather(rois, rows)], training=training)  # (F + 1, 28, 28, C)
        # The true class's mask only: the other classes' masks get no gradient.
        own_class = tf.maximum(tf.gather(classes, rows) - 1, 0)
        own = tf.gather(tf.transpose(logits, (0, 3, 1, 2)), own_class, axis=1, batch_dims=1)
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.gather(targets, rows), logits=own)
        per_roi = tf.reduce_mean(bce, axis=(1, 2))
        return {"mask": tf.reduce_sum(per_roi * counts) / tf.maximum(tf.reduce_sum(counts), 1.0)}

    def _extra_variables(self) -> list:
        return list(self.mask_head.trainable_variables)

    # ------------------------------------------------------------------ inference

    def predict_masks(self, images, detections) -> list[np.ndarray]:
        """The mask head on given boxes: one (k, 28, 28) array of probabilities (the box's class) per image.

        ``images`` float32 (B, H, W, 3) in [0, 1]; ``detections`` one dict per image with ``boxes`` and ``labels``.
        """
        import tensorflow as tf

        x = np.asarray(images, np.float32)
        if self._mask_fn is None:  # one trace for any number of images and boxes
            signature = [tf.TensorSpec((None, *self.image_shape), tf.float32), tf.TensorSpec((None, 5), tf.float32)]
            self._mask_fn = tf.function(self._mask_forward, input_signature=signature)
        rois = np.concatenate([np.column_stack([np.full(len(d["boxes"]), i), np.asarray(d["boxes"]).reshape(-1, 4)])
                               for i, d in enumerate(detections)] or [np.zeros((0, 5))]).astype(np.float32)
        if not len(rois):
            return [np.zeros((0, MASK_SIZE, MASK_SIZE), np.float32) for _ in detections]
        probs = np.asarray(self._mask_fn(x, rois))  # (K, 28, 28, C)
        labels = np.concatenate([np.asarray(d["labels"], np.int64).reshape(-1) for d in detections])
        own = probs[np.arange(len(rois)), :, :, labels]
        cuts = np.cumsum([len(d["boxes"]) for d in detections])[:-1]
        return np.split(own, cuts)

    def _mask_forward(self, batch, rois):
        return ops.sigmoid(self.mask_head([self.backbone(batch, training=False), rois], training=False))

    def detect(self, images, batch_size: int = 16, threshold: float = 0.5) -> list[dict]:
        """Detections with masks: one dict per image, ``boxes`` (k, 4), ``scores``, ``labels``,
        ``masks`` (k, H, W) bool (pasted at ``threshold``) and ``mask_probs`` (k, 28, 28)."""
        x = _as_images(images, self.image_shape)
        threshold = probability(threshold, "threshold")
        results = super().detect(x, batch_size=batch_size)
        for first in range(0, len(x), batch_size):
            chunk = results[first : first + batch_size]
            for d, probs in zip(chunk, self.predict_masks(x[first : first + batch_size], chunk)):
                d["mask_probs"] = probs
                d["masks"] = paste_masks(probs, d["boxes"], self.image_shape, threshold)
        return results

    # ------------------------------------------------------------------ saving

    _PARTS = ("backbone", "rpn", "head", "mask_head")

    def save(self, directory) -> Path:
        """Write the four networks as ``.keras`` files and the settings as ``maskrcnn.json`` into ``directory``."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        settings = {"image_shape": list(self.image_shape), "num_classes": self.num_classes, "pooling": self.pooling,
                    "filters": list(self.filters), "config": vars(self.config), "seed": self.seed,
                    "mask_channels": self.mask_channels}
        (path / "maskrcnn.json").write_text(json.dumps(settings, indent=1))
        for part in self._PARTS:
            getattr(self, part).save(path / f"{part}.keras")
        return path

    @classmethod
    def load(cls, directory) -> MaskRCNN:
        """A model written by :meth:`save`, ready for ``detect`` (the optimizer state is not kept)."""
        path = Path(directory)
        if not (path / "maskrcnn.json").is_file():
            raise ValueError(f"directory: no maskrcnn.json in {str(path)!r}; expected a folder written by save()")
        settings = json.loads((path / "maskrcnn.json").read_text())
        config = DetectorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings["config"].items()})
        model = cls(settings["image_shape"], settings["num_classes"], settings["pooling"], settings["filters"], config,
                    settings["seed"], settings["mask_channels"])
        for part in cls._PARTS:
            getattr(model, part).set_weights(keras.models.load_model(path / f"{part}.keras").get_weights())
        return model
