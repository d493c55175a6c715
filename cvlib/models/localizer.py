"""Localisation by regression: a CNN classifier whose class layer is swapped for a 4-number box head (notebook 02).

The lecture's modular design: a classifier is a *convolutional base* (features) followed by a
*head* (here Flatten, a hidden Dense layer and the class scores). For single-object
localisation keep the base, drop the head, and put on a new head that regresses the object's
box, 4 numbers, trained with a box loss (``cvlib.losses.l2_box_loss``, ``smooth_l1_loss``,
``giou_loss``). Starting from the classifier's filters is *transfer learning*; the same
architecture trained from random weights is the baseline (``build_localizer(input_shape=...)``).

Boxes are ``xyxy`` in *normalised* coordinates, fractions of the image's width and height
in [0, 1] (``normalize_boxes`` / ``denormalize_boxes``): the targets then have the same scale
whatever the image size, and a sigmoid output keeps every prediction inside the image.

Every model takes uint8-range images (N, H, W, 3) as they come from ``cvlib.data.shapes``: the
base starts with ``Rescaling(1/255)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvlib._checks import boxes_array, check_finite, check_shape_last, to_numpy

__all__ = [
    "build_base",
    "build_classifier",
    "build_localizer",
    "denormalize_boxes",
    "normalize_boxes",
    "single_object_targets",
    "to_localizer",
]

_HEAD_ACTIVATIONS = ("sigmoid", "linear")


# --------------------------------------------------------------------------- input checks


def _input_shape(input_shape, blocks: int) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape: expected (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape: expected (height, width, channels) of positive sizes, got {input_shape!r}")
    if min(shape[:2]) < 2**blocks:
        raise ValueError(
            f"input_shape: {shape[:2]} is too small for {blocks} blocks of 2x pooling "
            f"(each side needs at least {2**blocks} pixels)"
        )
    return shape


def _positive_ints(values, name: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sequence of positive integers, got {values!r}") from None
    if not out or min(out) < 1:
        raise ValueError(f"{name}: expected a non-empty sequence of positive integers, got {values!r}")
    return out


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _rate(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name}: expected a rate in [0, 1), got {value!r}")
    return float(value)


def _image_size(image_size) -> tuple[float, float]:
    """(H, W) from a side, (H, W) or an image's shape (H, W, C)."""
    pair = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)[:2]
    try:
        h, w = (float(s) for s in pair)
    except (TypeError, ValueError):
        raise ValueError(f"image_size: expected a positive side or (height, width), got {image_size!r}") from None
    if any(isinstance(s, bool) for s in pair) or not (np.isfinite([h, w]).all() and h > 0 and w > 0):
        raise ValueError(f"image_size: expected a positive side or (height, width), got {image_size!r}")
    return h, w


# --------------------------------------------------------------------------- targets


def normalize_boxes(boxes, image_size) -> np.ndarray:
    """Pixel ``xyxy`` boxes (N, 4) -> fractions of the image, (N, 4) float32 in [0, 1].

    ``image_size`` is the image's side, (H, W) or ``image.shape``'s first two entries.
    A box reaching outside the image raises a ``ValueError`` (clip it first with
    ``cvlib.boxes.clip``): a sigmoid box head cannot predict it. Zero-area boxes are
    accepted; their IoU with anything is 0.
    """
    b = boxes_array(boxes, "boxes")
    h, w = _image_size(image_size)
    outside = np.flatnonzero((b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] > w) | (b[:, 3] > h))
    if outside.size:
        i = int(outside[0])
        raise ValueError(
            f"boxes: box {i} {b[i].tolist()} lies outside the {h:g} x {w:g} image; clip it with "
            "cvlib.boxes.clip first"
        )
    return (b / np.array([w, h, w, h])).astype(np.float32)


def denormalize_boxes(boxes, image_size) -> np.ndarray:
    """Normalised ``xyxy`` boxes (N, 4) -> pixel boxes (N, 4) float64 (the inverse of ``normalize_boxes``).

    Predictions are taken as they come (a linear head may predict outside [0, 1] or x2 < x1);
    only NaN, infinity and a wrong shape are rejected.
    """
    b = check_finite(check_shape_last(to_numpy(boxes, "boxes"), "boxes", 4, ndim=2), "boxes")
    h, w = _image_size(image_size)
    return b * np.array([w, h, w, h])


def single_object_targets(scenes) -> tuple[np.ndarray, np.ndarray]:
    """Class labels (N,) int32 and normalised boxes (N, 4) float32 of single-object ``Scenes``.

    ``scenes`` comes from ``cvlib.data.shapes.generate_scenes(..., min_objects=1, max_objects=1)``;
    an image with no object or several raises a ``ValueError`` naming it.
    """
    targets = getattr(scenes, "targets", None)
    if targets is None or not hasattr(scenes, "image_size"):
        raise ValueError(f"scenes: expected a cvlib.data.shapes.Scenes, got {type(scenes).__name__}")
    counts = np.array([len(t["labels"]) for t in targets], dtype=np.int64)
    bad = np.flatnonzero(counts != 1)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"scenes: image {i} holds {counts[i]} objects; localisation by regression needs exactly one per "
            "image (generate_scenes(..., min_objects=1, max_objects=1))"
        )
    if not len(targets):
        return np.zeros(0, np.int32), np.zeros((0, 4), np.float32)
    labels = np.array([t["labels"][0] for t in targets], dtype=np.int32)
    boxes = np.concatenate([t["boxes"] for t in targets])
    return labels, normalize_boxes(boxes, scenes.image_size)


# --------------------------------------------------------------------------- models


def build_base(
    input_shape: Sequence[int] = (64, 64, 3),
    filters: Sequence[int] = (16, 32, 64, 128),
    bn_momentum: float = 0.9,
    name: str = "base",
):
    """The convolutional base: (N, H, W, C) uint8-range images -> (N, H / 2^B, W / 2^B, filters[-1]).

    One block per entry of ``filters`` (B blocks): ``Conv2D(f, 3, "same") -> BatchNorm -> ReLU ->
    MaxPool(2)``, after ``Rescaling(1/255)``. BatchNorm's ``bn_momentum`` is 0.9 rather than Keras'
    0.99 so the statistics used at test time keep up over a few hundred training steps. Returns a
    ``keras.Model`` named ``name``, the piece that ``to_localizer`` carries over.
    """
    import keras
    from keras import layers

    filters = _positive_ints(filters, "filters")
    shape = _input_shape(input_shape, len(filters))
    momentum = _rate(bn_momentum, "bn_momentum")
    inputs = keras.Input(shape, name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for i, f in enumerate(filters, 1):
        # No conv bias: the BatchNorm that follows has its own offset.
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=momentum, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return keras.Model(inputs, x, name=name)


def _head(x, hidden: int, dropout: float, prefix: str):
    from keras import layers

    # Flatten, not global pooling: the box head needs to know *where* a feature fired, and
    # flattening keeps each cell of the feature map in its own weights.
    x = layers.Flatten(name=f"{prefix}_flatten")(x)
    x = layers.Dense(hidden, activation="relu", name=f"{prefix}_hidden")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
    return x


def build_classifier(
    input_shape: Sequence[int] = (64, 64, 3),
    num_classes: int = 6,
    filters: Sequence[int] = (16, 32, 64, 128),
    hidden: int = 128,
    dropout: float = 0.3,
    name: str = "classifier",
):
    """A small CNN classifier: images (N, H, W, C) -> class probabilities (N, num_classes).

    ``build_base(input_shape, filters)`` as a sub-model named ``"base"``, then the head: Flatten,
    ``Dense(hidden, relu)``, ``Dropout(dropout)`` and ``Dense(num_classes, softmax)`` named
    ``"classes"``. Compile it with ``SparseCategoricalCrossentropy``.
    """
    import keras
    from keras import layers

    num_classes = _positive_int(num_classes, "num_classes")
    hidden = _positive_int(hidden, "hidden")
    dropout = _rate(dropout, "dropout")
    base = build_base(input_shape, filters)
    inputs = keras.Input(base.input_shape[1:], name="image")
    # Which shape it is does not depend on where it is: global average pooling says so, and it
    # trains far faster here than a Flatten + Dense head (which stalled at chance in our runs).
    x = layers.GlobalAveragePooling2D(name="class_pool")(base(inputs))
    if dropout:
        x = layers.Dropout(dropout, name="class_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=name)


def build_localizer(
    base=None,
    input_shape: Sequence[int] | None = None,
    filters: Sequence[int] = (16, 32, 64, 128),
    hidden: int = 128,
    dropout: float = 0.0,
    activation: str = "sigmoid",
    train_base: bool = True,
    name: str = "localizer",
):
    """A single-object localiser: images (N, H, W, C) -> one normalised ``xyxy`` box per image, (N, 4).

    With ``base`` (a ``keras.Model``, e.g. a trained classifier's ``get_layer("base")``) the
    localiser starts from a *copy* of its weights, so the classifier is left as it was (``filters``
    is then not used); with ``base=None`` it builds ``build_base(input_shape, filters)`` with fresh
    random weights (the from-scratch baseline). Either way the head is new: Flatten, ``Dense(hidden, relu)``,
    optional ``Dropout`` and ``Dense(4)`` named ``"box"``.

    ``activation`` of the box layer: ``"sigmoid"`` (default) keeps every coordinate in (0, 1),
    inside the image, which suits objects that lie wholly inside it; ``"linear"`` can
    reach any value (boxes cut by the border, or coordinates of another parameterisation)
    but may predict boxes outside the image early in training. ``train_base=False`` freezes
    the base (only the head learns: feature extraction rather than fine-tuning).
    """
    import keras
    from keras import layers

    if activation not in _HEAD_ACTIVATIONS:
        raise ValueError(f"activation: expected one of {_HEAD_ACTIVATIONS}, got {activation!r}")
    if not isinstance(train_base, (bool, np.bool_)):
        raise ValueError(f"train_base: expected True or False, got {train_base!r}")
    hidden = _positive_int(hidden, "hidden")
    dropout = _rate(dropout, "dropout")
    if base is None:
        if input_shape is None:
            raise ValueError("input_shape: give it (e.g. (64, 64, 3)) when no base is given to start from")
        base = build_base(input_shape, filters)
    else:
        if not isinstance(base, keras.Model):
            raise ValueError(f"base: expected a keras.Model (a classifier's get_layer('base')), got "
                             f"{type(base).__name__}")
        if input_shape is not None and tuple(input_shape) != tuple(base.input_shape[1:]):
            raise ValueError(f"input_shape: {tuple(input_shape)} differs from the base's {base.input_shape[1:]}")
        trained = base
        base = keras.models.clone_model(trained)  # same architecture, then the trained weights
        base.set_weights(trained.get_weights())
    base.trainable = bool(train_base)
    inputs = keras.Input(base.input_shape[1:], name="image")
    x = _head(base(inputs), hidden, dropout, "box")
    # Start every image at the central box covering the middle half of each side, with a zero
    # kernel: the first predictions are a sensible box (never a saturated sigmoid, never a
    # zero-area box, where GIoU's gradient vanishes), and the kernel learns from the first step.
    start = np.array([0.25, 0.25, 0.75, 0.75])
    bias = np.log(start / (1 - start)) if activation == "sigmoid" else start
    outputs = layers.Dense(
        4, activation=activation, kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(bias.tolist()), name="box",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def to_localizer(classifier, **kwargs):
    """Keep ``classifier``'s convolutional base (its ``"base"`` sub-model) and put a box head on it.

    The lecture's recipe: a trained classifier becomes a localiser by replacing its class
    layer with a 4-number regression head. ``kwargs`` go to ``build_localizer`` (``hidden``,
    ``activation``, ``train_base``, ...); the classifier itself is not changed.
    """
    import keras

    if not isinstance(classifier, keras.Model):
        raise ValueError(f"classifier: expected a keras.Model from build_classifier, got {type(classifier).__name__}")
    try:
        base = classifier.get_layer("base")
    except ValueError:
        raise ValueError(
            "classifier: it has no layer named 'base' (the convolutional base that build_classifier makes)"
        ) from None
    return build_localizer(base, **kwargs)
