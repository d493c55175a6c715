"""Two-stage detectors: Fast R-CNN and Faster R-CNN, small enough to train on a CPU (notebook 04).

Both share one design: a convolutional **backbone** runs once over the image; each region
proposal is cut out of its feature map by ``RoIPool`` or ``RoIAlign`` (``cvlib.layers.roi``)
into a fixed grid; a **box head** of two dense layers scores every class (plus background) and
refines the box with class-specific deltas (``cvlib.boxes.encode_deltas``).

- **Fast R-CNN** (Girshick, ICCV 2015) takes its proposals from outside, e.g. selective search.
- **Faster R-CNN** (Ren, He, Girshick and Sun, NeurIPS 2015) learns them: a **region proposal
  network** (RPN) slides a 3x3 convolution over the features and, for each of the ``A`` anchors
  of every cell (``cvlib.anchors``), predicts an objectness logit and four deltas. Its best
  boxes after NMS are the head's proposals.

Training follows the papers' recipe, written out so each step can be read:

1. RPN targets per image: anchors matched to objects (IoU >= 0.7 positive, < 0.3 negative),
   256 sampled, half positive at most (``cvlib.anchors``);
2. proposals: the RPN's top boxes, decoded, clipped, small ones dropped, NMS at 0.7;
3. head targets: proposals plus the true boxes, matched to objects (IoU >= 0.5: the object's
   class, else background), ``rois_per_image`` sampled, a quarter foreground at most;
4. one gradient step on the sum of four losses: RPN objectness (binary cross-entropy) and box
   (smooth L1), head class (cross-entropy) and box (smooth L1 on the true class's deltas only).

Proposals are computed with the weights of the moment and treated as constants (the paper's
"approximate joint training"). Steps 1-3 are NumPy (``cvlib.anchors``, ``cvlib.boxes``); step 4
is one compiled TensorFlow function. At test time: proposals, head, per-class decoding, a score
threshold and per-class NMS (``cvlib.boxes.batched_nms``).

Images are float32 in [0, 1], (B, H, W, 3); boxes ``xyxy`` in pixels; labels 0..C-1 (the head's
class 0 is background, so object label ``l`` is head class ``l + 1``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from cvlib import anchors as anchor_lib
from cvlib import boxes as box_lib
from cvlib.layers.roi import RoIAlign, RoIPool
from cvlib.losses.boxes import smooth_l1_loss

__all__ = ["DetectorConfig", "TwoStageDetector", "build_backbone", "build_box_head", "build_rpn"]

HEAD_VARIANCES = (0.1, 0.1, 0.2, 0.2)  # head deltas are scaled to unit variance, as in Fast R-CNN's code


def build_backbone(input_shape=(128, 128, 3), filters=(32, 64, 128), stride: int | None = None, norm: str = "group",
                   name="backbone") -> keras.Model:
    """A small VGG-style backbone: per entry of ``filters`` two 3x3 conv-norm-ReLU, then a 2x2 max-pool.

    (B, H, W, 3) -> (B, H / stride, W / stride, filters[-1]). ``stride`` is a power of two up to
    ``2 ** len(filters)`` (the default): the first ``log2(stride)`` blocks end with a pool, the
    others keep the resolution (finer features for small objects, as FPN's stride-4 level).

    ``norm="group"``: group normalisation (Wu and He, 2018), which has no running statistics, so
    the features are the same in training and inference; it is how He, Girshick and Dollár
    ("Rethinking ImageNet Pre-training", 2019) train detectors from scratch. ``norm="batch"``:
    batch normalisation with momentum 0.9, so its moving statistics keep up with weights that
    change fast from scratch (the detector then makes its training proposals in training mode:
    inference-mode features lag behind the weights while they train).
    """
    if norm not in ("group", "batch"):
        raise ValueError(f"norm: expected 'group' or 'batch', got {norm!r}")
    pools = _pools(filters, stride)
    x = inputs = keras.Input(input_shape, name="image")
    for i, f in enumerate(filters):
        for j in range(2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"block{i + 1}_conv{j + 1}")(x)
            if norm == "group":
                x = layers.GroupNormalization(groups=min(8, f), name=f"block{i + 1}_gn{j + 1}")(x)
            else:
                x = layers.BatchNormalization(momentum=0.9, name=f"block{i + 1}_bn{j + 1}")(x)
            x = layers.ReLU(name=f"block{i + 1}_relu{j + 1}")(x)
        if i < pools:
            x = layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
    return keras.Model(inputs, x, name=name)


def _pools(filters, stride) -> int:
    """How many of the backbone's blocks end with a 2x2 pool for the requested ``stride``."""
    filters = tuple(filters)
    if not filters or not all(isinstance(f, (int, np.integer)) and f > 0 for f in filters):
        raise ValueError(f"filters: expected one or more positive integers, got {filters!r}")
    if stride is None:
        return len(filters)
    pools = np.log2(stride) if isinstance(stride, (int, np.integer)) and stride >= 1 else -1.0
    if pools != int(pools) or not 0 <= pools <= len(filters):
        raise ValueError(f"stride: expected a power of two from 1 to {2 ** len(filters)} "
                         f"(one pool per block of filters), got {stride!r}")
    return int(pools)


def build_rpn(feature_shape, num_anchors: int, channels: int = 128, name="rpn") -> keras.Model:
    """The region proposal network: (B, h, w, C) features -> objectness (B, h*w*A) and deltas (B, h*w*A, 4).

    A 3x3 convolution (the paper's sliding window), then two 1x1 convolutions: A logits and 4A
    deltas per cell. Flattened cell by cell, anchor within cell, as ``generate_anchors`` orders them.
    """
    features = keras.Input(feature_shape, name="features")
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="rpn_conv")(features)
    logits = layers.Conv2D(num_anchors, 1, name="rpn_objectness")(x)
    deltas = layers.Conv2D(4 * num_anchors, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                           name="rpn_deltas")(x)
    logits = layers.Reshape((-1,), name="objectness")(logits)
    deltas = layers.Reshape((-1, 4), name="deltas")(deltas)
    return keras.Model(features, [logits, deltas], name=name)


def build_box_head(
    feature_shape, num_classes: int, spatial_scale: float, pooling: str = "align", output_size: int = 7,
    hidden: int = 256, name: str = "box_head",
) -> keras.Model:
    """Fast R-CNN's head: [features (B, h, w, C), rois (K, 5)] -> class logits (K, C+1) and deltas (K, C, 4).

    ``pooling`` is ``"align"`` (``RoIAlign``, sampling ratio 2, aligned) or ``"pool"``
    (``RoIPool``); then two fully connected layers, a (C + 1)-way classifier (0: background) and
    one set of four deltas per object class.
    """
    if pooling not in ("align", "pool"):
        raise ValueError(f"pooling: expected 'align' or 'pool', got {pooling!r}")
    features = keras.Input(feature_shape, name="features")
    rois = keras.Input((5,), name="rois")
    if pooling == "align":
        pooled = RoIAlign(output_size, spatial_scale, sampling_ratio=2, aligned=True, name="roi_align")
    else:
        pooled = RoIPool(output_size, spatial_scale, name="roi_pool")
    x = layers.Flatten(name="flatten")(pooled([features, rois]))
    x = layers.Dense(hidden, activation="relu", name="fc6")(x)
    x = layers.Dense(hidden, activation="relu", name="fc7")(x)
    logits = layers.Dense(num_classes + 1, name="class_logits")(x)
    deltas = layers.Dense(4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                          name="box_deltas")(x)
    deltas = layers.Reshape((num_classes, 4), name="class_deltas")(deltas)
    return keras.Model([features, rois], [logits, deltas], name=name)


@dataclass
class DetectorConfig:
    """The knobs of a two-stage detector, with the papers' values scaled to small images.

    Anchors: ``anchor_scales`` (pixels, one square side of equal area) x ``aspect_ratios`` (h / w).
    RPN: ``rpn_batch`` sampled anchors per image, ``pre_nms`` best boxes before NMS at
    ``rpn_nms``, ``post_nms_train`` / ``post_nms_test`` kept as proposals, boxes below
    ``min_size`` pixels dropped. Head: ``rois_per_image`` sampled, ``fg_fraction`` at most
    foreground, IoU ``fg_iou`` for a foreground match. Detection: ``score_threshold``, per-class
    NMS at ``nms_iou``, at most ``max_detections`` per image. Backbone: ``stride`` (None:
    ``2 ** len(filters)``) and ``norm`` (``"group"`` or ``"batch"``; see ``build_backbone``).
    ``jit_compile``: compile the training step with XLA. On a CPU the compiled step repeats bit for bit;
    TensorFlow's graph runtime, which runs operations side by side, has given the same step of a RoIPool
    Faster R-CNN, repeated from the same weights and images, different last bits.
    """

    anchor_scales: tuple = (16, 32, 64)
    aspect_ratios: tuple = (0.5, 1.0, 2.0)
    rpn_batch: int = 256
    rpn_positive_iou: float = 0.7
    rpn_negative_iou: float = 0.3
    pre_nms: int = 600
    rpn_nms: float = 0.7
    post_nms_train: int = 300
    post_nms_test: int = 100
    min_size: float = 2.0
    rois_per_image: int = 64
    fg_fraction: float = 0.25
    fg_iou: float = 0.5
    score_threshold: float = 0.05
    nms_iou: float = 0.5
    max_detections: int = 100
    learning_rate: float = 1e-3
    smooth_l1_beta: float = 1.0 / 9.0
    stride: int | None = None
    norm: str = "group"
    jit_compile: bool = False


def _as_images(images, image_shape) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(f"images: expected (B, {', '.join(map(str, image_shape))}), got shape {x.shape}")
    if x.dtype == np.uint8:  # the scenes' native format
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


class TwoStageDetector:
    """Faster R-CNN (``rpn=True``) or Fast R-CNN fed with external proposals (``rpn=False``).

    ``fit(images, targets, ...)`` trains from scratch; ``detect(images)`` returns one
    ``{"boxes", "scores", "labels"}`` dict per image. For Fast R-CNN pass ``proposals`` (one
    (P, 4) array per image) to both. ``pooling`` chooses RoIAlign or RoIPool in the head.
    """

    def __init__(
        self, image_shape, num_classes: int, rpn: bool = True, pooling: str = "align",
        filters=(32, 64, 128), config: DetectorConfig | None = None, seed: int = 0,
    ):
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape: expected (H, W, channels), got {image_shape!r}")
        self.num_classes = int(num_classes)
        self.use_rpn = bool(rpn)
        self.config = config or DetectorConfig()
        if not isinstance(self.config.jit_compile, bool):
            raise ValueError(f"config.jit_compile: expected True or False, got {self.config.jit_compile!r}")
        self.rng = np.random.default_rng(seed)  # sampling of anchors and RoIs; weights follow Keras' seed
        c = self.config
        self.stride = 2 ** _pools(filters, c.stride)
        self.backbone = build_backbone(self.image_shape, filters, self.stride, c.norm)
        feature_shape = tuple(self.backbone.output.shape[1:])
        self.anchors = anchor_lib.generate_anchors(feature_shape[:2], self.stride, c.anchor_scales, c.aspect_ratios)
        num_anchors = len(c.anchor_scales) * len(c.aspect_ratios)
        self.rpn = build_rpn(feature_shape, num_anchors) if self.use_rpn else None
        self.head = build_box_head(feature_shape, self.num_classes, 1.0 / self.stride, pooling)
        self.optimizer = keras.optimizers.Adam(c.learning_rate)
        self.history: list[dict] = []
        self._train_fn = None
        self._rpn_fn = None
        self._head_fn = None

    def init_backbone_from(self, model: keras.Model) -> int:
        """Start the backbone from a trained classifier: copy the weights of its layers of the same name and shape.

        The papers start Fast and Faster R-CNN from an ImageNet classifier; here a classifier of
        object crops whose convolutional blocks are built like ``build_backbone`` (e.g. R-CNN's
        crop CNN, ``cvlib.models.rcnn_classic.build_crop_cnn``, with the same ``filters`` and
        ``norm="batch"``) plays that part: a fully convolutional stack runs on any image size.
        Returns how many layers were copied; raises a ValueError when none match.
        """
        theirs = {layer.name: layer for layer in model.layers}
        copied = 0
        for layer in self.backbone.layers:
            other = theirs.get(layer.name)
            if other is None or not layer.weights:
                continue
            if [w.shape for w in layer.weights] != [w.shape for w in other.weights]:
                raise ValueError(f"model: layer {layer.name!r} has weights of shapes "
                                 f"{[tuple(w.shape) for w in other.weights]}, the backbone's are "
                                 f"{[tuple(w.shape) for w in layer.weights]}")
            layer.set_weights(other.get_weights())
            copied += 1
        if not copied:
            raise ValueError(f"model: none of its layers matches the backbone's ({self.backbone.layers[1].name}, ...)")
        return copied

    # ------------------------------------------------------------------ targets (NumPy)

    def rpn_targets(self, targets) -> tuple[np.ndarray, np.ndarray]:
        """Sampled anchor labels (B, N) in {1, 0, -1} and their box deltas (B, N, 4) for a batch of targets."""
        c = self.config
        labels = np.full((len(targets), len(self.anchors)), -1, np.int8)
        deltas = np.zeros((len(targets), len(self.anchors), 4), np.float32)
        for i, t in enumerate(targets):
            gt = np.asarray(t["boxes"], np.float64).reshape(-1, 4)
            matched, lab = anchor_lib.match_anchors(self.anchors, gt, c.rpn_positive_iou, c.rpn_negative_iou)
            labels[i] = anchor_lib.sample_anchors(lab, c.rpn_batch, 0.5, self.rng)
            pos = np.flatnonzero(labels[i] == 1)
            if pos.size:
                deltas[i, pos] = box_lib.encode_deltas(self.anchors[pos], gt[matched[pos]])
        return labels, deltas

    def proposals_from_rpn(self, logits: np.ndarray, deltas: np.ndarray, training: bool) -> list[np.ndarray]:
        """The RPN's proposals: (B, N) logits, (B, N, 4) deltas -> one (P, 4) xyxy array per image, best first."""
        c = self.config
        keep = c.post_nms_train if training else c.post_nms_test
        h, w = self.image_shape[:2]
        out = []
        for score, delta in zip(logits, deltas):
            top = np.argsort(-score, kind="stable")[: c.pre_nms]
            boxes = box_lib.clip(box_lib.decode_deltas(self.anchors[top], delta[top]), (h, w))
            size_ok = np.flatnonzero(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= c.min_size)
            kept = box_lib.nms(boxes[size_ok], score[top][size_ok], c.rpn_nms, max_output=keep)
            out.append(boxes[size_ok][kept])
        return out

    def sample_rois(self, proposals, targets, return_matches: bool = False) -> tuple[np.ndarray, ...]:
        """Head training RoIs for a batch: rois (K, 5), classes (K,) 0..C, deltas (K, 4), weights (K,).

        K = ``rois_per_image * B``. The true boxes join the proposals (so the head sees good
        boxes from the first step); a batch short of candidates is padded with weight-0 rows.
        ``return_matches=True`` also returns matches (K,): for a foreground RoI the index of its
        object in its image's target, else -1 (Mask R-CNN cuts that object's mask).
        """
        c = self.config
        n = c.rois_per_image
        rois = np.zeros((len(targets) * n, 5), np.float32)
        classes = np.zeros(len(rois), np.int32)
        deltas = np.zeros((len(rois), 4), np.float32)
        weights = np.zeros(len(rois), np.float32)
        matches = np.full(len(rois), -1, np.int64)
        for i, (props, t) in enumerate(zip(proposals, targets)):
            gt = np.asarray(t["boxes"], np.float64).reshape(-1, 4)
            gt_labels = np.asarray(t["labels"], np.int64).reshape(-1)
            cand = np.concatenate([np.asarray(props, np.float64).reshape(-1, 4), gt])
            cand = cand[(cand[:, 2] > cand[:, 0]) & (cand[:, 3] > cand[:, 1])]
            if len(gt):
                overlaps = box_lib.iou(cand, gt)
                best, matched = overlaps.max(1), overlaps.argmax(1)
            else:
                best, matched = np.zeros(len(cand)), np.zeros(len(cand), np.int64)
            fg, bg = np.flatnonzero(best >= c.fg_iou), np.flatnonzero(best < c.fg_iou)
            n_fg = min(len(fg), int(n * c.fg_fraction))
            n_bg = min(len(bg), n - n_fg)
            pick = np.concatenate([self.rng.choice(fg, n_fg, replace=False), self.rng.choice(bg, n_bg, replace=False)])
            rows = slice(i * n, i * n + len(pick))
            rois[rows] = np.column_stack([np.full(len(pick), i), cand[pick]])
            weights[rows] = 1.0
            classes[i * n : i * n + n_fg] = gt_labels[matched[pick[:n_fg]]] + 1
            matches[i * n : i * n + n_fg] = matched[pick[:n_fg]]
            if n_fg:
                deltas[i * n : i * n + n_fg] = box_lib.encode_deltas(
                    cand[pick[:n_fg]], gt[matched[pick[:n_fg]]], HEAD_VARIANCES
                )
        return (rois, classes, deltas, weights, matches) if return_matches else (rois, classes, deltas, weights)

    # ------------------------------------------------------------------ extension hook (Mask R-CNN)

    def _extra_targets(self, targets, rois, matches) -> tuple:
        """NumPy targets of extra heads for a batch's sampled RoIs (``sample_rois``); none here."""
        return ()

    def _extra_losses(self, features, rois, classes, weights, extra_targets, training) -> dict:
        """Extra loss terms, added to the four (traced in the train step); none here."""
        return {}

    def _extra_variables(self) -> list:
        """Trainable variables of extra heads; none here."""
        return []

    # ------------------------------------------------------------------ compiled pieces (TensorFlow)

    def _compile(self):
        import tensorflow as tf  # the training loop is TensorFlow's; the model pieces are plain Keras

        beta = self.config.smooth_l1_beta

        def losses(images, rpn_labels, rpn_deltas, rois, classes, deltas, weights, extra, training):
            features = self.backbone(images, training=training)
            parts = {}
            if self.use_rpn:
                logits, pred = self.rpn(features, training=training)
                sampled = tf.cast(rpn_labels >= 0, tf.float32)
                positive = tf.cast(rpn_labels == 1, tf.float32)
                normaliser = tf.maximum(tf.reduce_sum(sampled), 1.0)
                bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=logits)
                parts["rpn_class"] = tf.reduce_sum(bce * sampled) / normaliser
                box = tf.reshape(smooth_l1_loss(tf.reshape(rpn_deltas, (-1, 4)), tf.reshape(pred, (-1, 4)), beta),
                                 tf.shape(positive))
                parts["rpn_box"] = tf.reduce_sum(box * positive) / normaliser
            class_logits, class_deltas = self.head([features, rois], training=training)
            roi_total = tf.maximum(tf.reduce_sum(weights), 1.0)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=classes, logits=class_logits)
            parts["head_class"] = tf.reduce_sum(ce * weights) / roi_total
            foreground = tf.cast(classes > 0, tf.float32) * weights
            # Each RoI's deltas for its own class (class 0, background, has none: index it as class 1, then mask).
            own = tf.gather(class_deltas, tf.maximum(classes - 1, 0), axis=1, batch_dims=1)
            parts["head_box"] = tf.reduce_sum(smooth_l1_loss(deltas, own, beta) * foreground) / roi_total
            parts.update(self._extra_losses(features, rois, classes, weights, extra, training))
            return parts

        variables = self.backbone.trainable_variables + self.head.trainable_variables + self._extra_variables()
        if self.use_rpn:
            variables += self.rpn.trainable_variables

        @tf.function(reduce_retracing=True, jit_compile=self.config.jit_compile)
        def train_step(images, rpn_labels, rpn_deltas, rois, classes, deltas, weights, extra=()):
            with tf.GradientTape() as tape:
                parts = losses(images, rpn_labels, rpn_deltas, rois, classes, deltas, weights, extra, True)
                total = tf.add_n(list(parts.values()))
            self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            return parts

        # Inference takes any number of images and RoIs: one trace each, whatever an image's proposal count.
        image_spec = tf.TensorSpec((None, *self.image_shape), tf.float32)

        @tf.function(input_signature=[image_spec, tf.TensorSpec((), tf.bool)])
        def rpn_forward(images, training):
            def run(mode):
                return lambda: self.rpn(self.backbone(images, training=mode), training=mode)

            if self.config.norm != "batch":
                return run(False)()
            # Training proposals of a BatchNorm backbone come from batch statistics (its moving ones lag behind).
            return tf.cond(training, run(True), run(False))

        @tf.function(input_signature=[image_spec, tf.TensorSpec((None, 5), tf.float32)])
        def head_forward(images, rois):
            logits, deltas = self.head([self.backbone(images, training=False), rois], training=False)
            return tf.nn.softmax(logits), deltas

        self.optimizer.build(variables)
        self._train_fn, self._rpn_fn, self._head_fn = train_step, rpn_forward, head_forward

    # ------------------------------------------------------------------ training and inference

    def _proposals(self, images: np.ndarray, proposals, training: bool) -> list[np.ndarray]:
        if self.use_rpn:
            logits, deltas = self._rpn_fn(images, training)
            return self.proposals_from_rpn(np.asarray(logits), np.asarray(deltas), training)
        if proposals is None:
            raise ValueError("proposals: a detector without an RPN (Fast R-CNN) needs one (P, 4) array per image")
        return [np.asarray(p, np.float64).reshape(-1, 4) for p in proposals]

    def fit(self, images, targets, epochs: int = 1, batch_size: int = 8, proposals=None, verbose: int = 1,
            learning_rate_schedule=None) -> list[dict]:
        """Train on (N, H, W, 3) images and their targets; returns the per-epoch mean losses.

        ``proposals``: for Fast R-CNN, one (P, 4) array per image. ``learning_rate_schedule``:
        an optional function of the epoch index giving that epoch's learning rate.
        """
        x = _as_images(images, self.image_shape)
        if len(targets) != len(x):
            raise ValueError(f"targets: expected one per image ({len(x)}), got {len(targets)}")
        if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= len(x):
            raise ValueError(f"batch_size: expected an integer from 1 to the {len(x)} images, got {batch_size!r}")
        if proposals is not None and len(proposals) != len(x):
            raise ValueError(f"proposals: expected one array per image ({len(x)}), got {len(proposals)}")
        if self._train_fn is None:
            self._compile()
        empty_rpn = (np.zeros((0, 0), np.int8), np.zeros((0, 0, 4), np.float32))
        for epoch in range(epochs):
            if learning_rate_schedule is not None:
                self.optimizer.learning_rate.assign(float(learning_rate_schedule(epoch)))
            start, sums, steps = time.perf_counter(), {}, 0
            order = self.rng.permutation(len(x))
            for first in range(0, len(x) - batch_size + 1, batch_size):  # whole batches: one compiled shape
                idx = order[first : first + batch_size]
                batch_targets = [targets[i] for i in idx]
                batch_props = None if proposals is None else [proposals[i] for i in idx]
                props = self._proposals(x[idx], batch_props, training=True)
                rpn_labels, rpn_deltas = self.rpn_targets(batch_targets) if self.use_rpn else empty_rpn
                rois, classes, deltas, weights, matches = self.sample_rois(props, batch_targets, return_matches=True)
                extra = self._extra_targets(batch_targets, rois, matches)
                parts = self._train_fn(x[idx], rpn_labels, rpn_deltas, rois, classes, deltas, weights, extra)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                steps += 1
            record = {k: v / max(steps, 1) for k, v in sums.items()}
            record["seconds"] = time.perf_counter() - start
            self.history.append(record)
            if verbose:
                losses = ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k != "seconds")
                print(f"epoch {len(self.history)}: {losses} ({record['seconds']:.0f} s)")
        return self.history

    def proposals(self, images, batch_size: int = 16) -> list[np.ndarray]:
        """The RPN's test-time proposals for (N, H, W, 3) images: one (P, 4) xyxy array per image, best first.

        At most ``config.post_nms_test`` per image, after NMS at ``config.rpn_nms``. Only for Faster R-CNN.
        """
        if not self.use_rpn:
            raise ValueError("proposals: this detector has no RPN (Fast R-CNN takes its proposals from outside)")
        x = _as_images(images, self.image_shape)
        if self._train_fn is None:
            self._compile()
        out = []
        for first in range(0, len(x), batch_size):
            out += self._proposals(x[first : first + batch_size], None, training=False)
        return out

    def detect(self, images, proposals=None, batch_size: int = 16) -> list[dict]:
        """Detections for (N, H, W, 3) images: one dict per image, ``boxes`` (k, 4) xyxy, ``scores``, ``labels``."""
        x = _as_images(images, self.image_shape)
        if self._train_fn is None:
            self._compile()
        c = self.config
        h, w = self.image_shape[:2]
        results = []
        for first in range(0, len(x), batch_size):
            batch = x[first : first + batch_size]
            batch_props = None if proposals is None else proposals[first : first + batch_size]
            props = self._proposals(batch, batch_props, training=False)
            rois = np.concatenate(
                [np.column_stack([np.full(len(p), i), p]) for i, p in enumerate(props)] or [np.zeros((0, 5))]
            ).astype(np.float32)
            probs, deltas = (np.asarray(v) for v in self._head_fn(batch, rois))
            for i, p in enumerate(props):
                mine = rois[:, 0] == i
                results.append(self._decode(p, probs[mine], deltas[mine], (h, w), c))
        return results

    def _decode(self, proposals, probs, deltas, image_size, c: DetectorConfig) -> dict:
        """Per-class boxes from one image's proposals: score threshold, then per-class NMS."""
        if len(proposals) == 0:
            return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                    "labels": np.zeros(0, np.int64)}
        k = len(proposals)
        repeated = np.repeat(proposals, self.num_classes, axis=0)  # (k * C, 4): proposal-major
        boxes = box_lib.decode_deltas(repeated, deltas.reshape(-1, 4), HEAD_VARIANCES)
        boxes = box_lib.clip(boxes, image_size)
        scores = probs[:, 1:].reshape(-1)
        labels = np.tile(np.arange(self.num_classes), k)
        ok = np.flatnonzero((scores > c.score_threshold) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
        kept = ok[box_lib.batched_nms(boxes[ok], scores[ok], labels[ok], c.nms_iou, max_output=c.max_detections)]
        return {"boxes": boxes[kept].astype(np.float32), "scores": scores[kept].astype(np.float32),
                "labels": labels[kept].astype(np.int64)}
