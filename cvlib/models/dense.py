"""DensePose-style dense correspondence: part classification plus per-part UV regression (notebook 16).

Güler, Neverova and Kokkinos, "DensePose: Dense Human Pose Estimation in the Wild" (CVPR 2018)
map every pixel of a person to one of 24 body parts and to (U, V) coordinates on that part's
surface. Their network has, at every pixel,

- a **part head**: scores for background + P parts (a softmax over P + 1 classes), and
- a **UV head**: for *each* of the P parts, the (U, V) the pixel would have if it belonged to that
  part — 2 P numbers. Training reads only the pair of the true part
  (``cvlib.losses.MaskedUVLoss``); prediction reads the pair of the predicted part
  (``decode_dense``). Regressing UV per part keeps the P charts apart: U = 0.3 on an arm and on a
  leg are different points, and one shared regressor would have to jump at every part boundary.

Two ways to run the heads, both here:

- ``build_dense_model``: **fully convolutional** on the whole image (DensePose's "DenseReg"-style
  baseline): a same-padding U-Net (``cvlib.models.unet.build_unet``) whose full-resolution decoder
  features (layer ``dec0_relu2``) feed the two heads. Output maps have the image's size.
- ``build_region_dense_model``: **region based**, as DensePose-RCNN: the same backbone, then for
  each figure's box a fixed ``roi_size x roi_size`` grid of features cut out by
  ``cvlib.layers.RoIAlign``, and the two heads on that grid. Each box gets its own part and UV
  maps, so overlapping figures are told apart; ``roi_targets`` cuts the matching targets out.

Post-processing (NumPy in, NumPy out): ``decode_dense`` (parts and the UV of the predicted part),
``texture_transfer`` (paint a texture onto the figures through their UV) and ``checkerboard``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from cvlib._checks import boxes_array, to_numpy
from cvlib.layers.roi import RoIAlign
from cvlib.models.unet import build_unet

__all__ = [
    "BoxesToRoIs",
    "build_dense_model",
    "build_region_dense_model",
    "checkerboard",
    "decode_dense",
    "roi_targets",
    "texture_transfer",
]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _heads(features, num_parts: int, head_filters: int, prefix: str = ""):
    """The part logits (..., P + 1) and the sigmoid UV (..., 2 P) of a feature map, each after one 3x3 conv + ReLU."""
    outputs = []
    for head, channels, activation in (("parts", num_parts + 1, None), ("uv", 2 * num_parts, "sigmoid")):
        x = layers.Conv2D(head_filters, 3, padding="same", activation="relu", name=f"{prefix}{head}_conv")(features)
        # float32 outputs, so a mixed-precision policy does not round the scores or the coordinates
        outputs.append(layers.Conv2D(channels, 1, activation=activation, dtype="float32",
                                     name=f"{prefix}{head}_scores")(x))
    return outputs


def build_dense_model(
    input_shape: Sequence[int] = (64, 64, 3),
    num_parts: int = 10,
    depth: int = 3,
    base_filters: int = 16,
    head_filters: int = 32,
    batch_norm: bool = True,
    name: str = "dense_unet",
):
    """Fully-convolutional dense-correspondence network: images (B, H, W, C) -> {"parts", "uv"}.

    - ``"parts"``: (B, H, W, P + 1) logits, class 0 the background (train with
      ``CrossEntropyDiceLoss(from_logits=True)`` on the part map);
    - ``"uv"``: (B, H, W, P, 2) the (U, V) in [0, 1] (a sigmoid) of each of the P parts at each pixel
      (train with ``MaskedUVLoss`` on ``pack_uv_targets(parts, uv)``).

    The backbone is ``build_unet(input_shape, ..., padding="same", batch_norm=batch_norm)`` taken up to its
    full-resolution decoder features; H and W must be given and divisible by 2**depth.
    """
    num_parts = _positive_int(num_parts, "num_parts")
    head_filters = _positive_int(head_filters, "head_filters")
    unet = build_unet(input_shape, num_parts + 1, depth=depth, base_filters=base_filters, padding="same",
                      batch_norm=batch_norm, name=f"{name}_backbone")
    height, width = unet.input.shape[1:3]
    if height is None or width is None:
        raise ValueError(f"input_shape: the dense model needs a fixed height and width, got {tuple(input_shape)!r}")
    features = unet.get_layer("dec0_relu2").output
    parts, uv = _heads(features, num_parts, head_filters)
    uv = layers.Reshape((height, width, num_parts, 2), name="uv")(uv)
    parts = layers.Identity(name="parts")(parts)
    return keras.Model(unet.input, {"parts": parts, "uv": uv}, name=name)


@keras.saving.register_keras_serializable(package="cvlib")
class BoxesToRoIs(keras.layers.Layer):
    """(B, K, 4) ``xyxy`` boxes, K per image -> (B * K, 5) RoI rows ``(image index, x1, y1, x2, y2)`` for RoIAlign."""

    def call(self, boxes):
        batch, k = ops.shape(boxes)[0], ops.shape(boxes)[1]
        index = ops.repeat(ops.arange(batch), k)
        flat = ops.reshape(boxes, (-1, 4))
        return ops.concatenate([ops.cast(index, flat.dtype)[:, None], flat], axis=1)

    def compute_output_shape(self, input_shape):
        b, k = input_shape[0], input_shape[1]
        return (None if b is None or k is None else b * k, 5)


@keras.saving.register_keras_serializable(package="cvlib")
class GroupRoIs(keras.layers.Layer):
    """(B * K, ...) per-RoI maps -> (B, K, ...): the RoIs of each image back together."""

    def __init__(self, rois_per_image: int, **kwargs):
        super().__init__(**kwargs)
        self.rois_per_image = _positive_int(rois_per_image, "rois_per_image")

    def call(self, x):
        return ops.reshape(x, (-1, self.rois_per_image, *x.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (None, self.rois_per_image, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "rois_per_image": self.rois_per_image}


def build_region_dense_model(
    image_shape: Sequence[int] = (96, 96, 3),
    rois_per_image: int = 2,
    roi_size: int = 32,
    num_parts: int = 10,
    depth: int = 3,
    base_filters: int = 16,
    head_filters: int = 32,
    roi_dilations: Sequence[int] = (1, 2, 4, 8),
    batch_norm: bool = True,
    name: str = "dense_rcnn",
):
    """Region-based dense correspondence: {"image": (B, H, W, C), "boxes": (B, K, 4) xyxy} -> {"parts", "uv"}.

    The U-Net backbone's full-resolution features and the image itself are cut out for each box by
    ``RoIAlign(roi_size, sampling_ratio=2, aligned=True)``; then one 3x3 convolution per entry of
    ``roi_dilations`` (dilated as given: (1, 2, 4, 8) gives a receptive field of 31 cells, the whole crop,
    which the head needs to tell the figure the box is centred on from a neighbour that reaches into it);
    their output, concatenated with the crop itself, feeds the heads of ``build_dense_model``.
    Outputs ``"parts"`` (B, K, R, R, P + 1) logits and ``"uv"`` (B, K, R, R, P, 2), with R = ``roi_size``:
    one part and UV map per box, on the box's own grid.
    """
    num_parts = _positive_int(num_parts, "num_parts")
    k = _positive_int(rois_per_image, "rois_per_image")
    size = _positive_int(roi_size, "roi_size")
    head_filters = _positive_int(head_filters, "head_filters")
    if isinstance(roi_dilations, (int, np.integer)) or not isinstance(roi_dilations, Sequence):
        raise ValueError(f"roi_dilations: expected a sequence of positive integers, got {roi_dilations!r}")
    dilations = [_positive_int(d, "roi_dilations") for d in roi_dilations]
    unet = build_unet(image_shape, num_parts + 1, depth=depth, base_filters=base_filters, padding="same",
                      batch_norm=batch_norm, name=f"{name}_backbone")
    image = unet.input
    boxes = keras.Input((k, 4), name="boxes")
    features = layers.Concatenate(name="features_and_image")([unet.get_layer("dec0_relu2").output, image])
    rois = BoxesToRoIs(name="rois")(boxes)
    crops = RoIAlign(size, spatial_scale=1.0, sampling_ratio=2, aligned=True, name="roi_align")([features, rois])
    x = crops
    for i, rate in enumerate(dilations, start=1):
        x = layers.Conv2D(head_filters, 3, padding="same", dilation_rate=rate, use_bias=not batch_norm,
                          name=f"roi_conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"roi_bn{i}")(x)
        x = layers.ReLU(name=f"roi_relu{i}")(x)
    # the heads see the context the dilated convolutions gathered and, unchanged, the crop's own features
    x = layers.Concatenate(name="roi_context_and_crop")([x, crops])
    parts, uv = _heads(x, num_parts, head_filters, prefix="roi_")
    uv = layers.Reshape((size, size, num_parts, 2), name="roi_uv")(uv)
    return keras.Model({"image": image, "boxes": boxes},
                       {"parts": GroupRoIs(k, name="parts")(parts), "uv": GroupRoIs(k, name="uv")(uv)}, name=name)


# --------------------------------------------------------------------------- post-processing (NumPy)


def decode_dense(outputs):
    """Part map and UV map from a dense model's outputs: ``{"parts": (..., P + 1), "uv": (..., P, 2)}``.

    Returns ``parts`` (...) int32, the best-scoring class, and ``uv`` (..., 2) float32, the (U, V) of
    that part (0 on the background). A ``(part_scores, uv)`` pair is accepted as well.
    """
    if isinstance(outputs, dict):
        if set(outputs) != {"parts", "uv"}:
            raise ValueError(f"outputs: expected the keys 'parts' and 'uv', got {sorted(outputs)}")
        scores, uv = outputs["parts"], outputs["uv"]
    elif isinstance(outputs, (tuple, list)) and len(outputs) == 2:
        scores, uv = outputs
    else:
        raise ValueError(f"outputs: expected a dict with 'parts' and 'uv' or a (scores, uv) pair, got "
                         f"{type(outputs).__name__}")
    scores, uv = to_numpy(scores, "parts", np.float32), to_numpy(uv, "uv", np.float32)
    if scores.ndim < 2 or scores.shape[-1] < 2:
        raise ValueError(f"parts: expected scores (..., P + 1) with at least 2 classes, got shape {scores.shape}")
    num_parts = scores.shape[-1] - 1
    if uv.shape != (*scores.shape[:-1], num_parts, 2):
        raise ValueError(f"uv: expected shape {(*scores.shape[:-1], num_parts, 2)} for part scores of shape "
                         f"{scores.shape}, got {uv.shape}")
    parts = scores.argmax(-1).astype(np.int32)
    index = np.clip(parts - 1, 0, num_parts - 1)[..., None, None]
    chosen = np.take_along_axis(uv, np.broadcast_to(index, (*parts.shape, 1, 2)), axis=-2)[..., 0, :]
    return parts, np.where(parts[..., None] > 0, chosen, 0.0).astype(np.float32)


def checkerboard(size: int = 64, squares: int = 8) -> np.ndarray:
    """A (size, size, 3) float32 black-and-white checkerboard of ``squares`` x ``squares``, with a red first row
    and a blue first column of squares so that the texture's orientation shows (U along columns, V along rows)."""
    size, squares = _positive_int(size, "size"), _positive_int(squares, "squares")
    cell = (np.arange(size) * squares) // size
    board = ((cell[:, None] + cell[None, :]) % 2).astype(np.float32)
    texture = np.repeat(board[..., None], 3, axis=-1) * 0.9 + 0.05
    texture[cell == 0, :] = texture[cell == 0, :] * [1.0, 0.2, 0.2] + [0.4, 0, 0]  # V near 0: red row
    texture[:, cell == 0] = texture[:, cell == 0] * [0.2, 0.2, 1.0] + [0, 0, 0.4]  # U near 0: blue column
    return np.clip(texture, 0.0, 1.0)


def texture_transfer(image, parts, uv, texture, alpha: float = 1.0) -> np.ndarray:
    """Paint ``texture`` onto every figure pixel through its (U, V): (H, W, 3) float32 in [0, 1].

    ``image`` (H, W, 3) uint8 (0-255) or float in [0, 1]; ``parts`` (H, W) with 0 the background;
    ``uv`` (H, W, 2) in [0, 1]; ``texture`` one (T, T', 3) image for every part, or an atlas
    (P, T, T', 3) with one per part (part p reads ``texture[p - 1]``), float in [0, 1]. A pixel of
    part p takes the texel at row ``floor(V * T)``, column ``floor(U * T')``, blended with ``alpha``.
    """
    img = to_numpy(image, "image", np.float32)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"image: expected (H, W, 3), got shape {img.shape}")
    if img.size and img.max() > 1.0:
        img = img / 255.0
    labels = to_numpy(parts, "parts")
    if labels.shape != img.shape[:2]:
        raise ValueError(f"parts: expected the image's height and width {img.shape[:2]}, got {labels.shape}")
    if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0):
        raise ValueError("parts: expected non-negative whole part indices (0 = background)")
    labels = labels.astype(np.int64)
    coords = to_numpy(uv, "uv", np.float32)
    if coords.shape != (*labels.shape, 2):
        raise ValueError(f"uv: expected shape {(*labels.shape, 2)}, got {coords.shape}")
    tex = to_numpy(texture, "texture", np.float32)
    if tex.ndim == 3:
        tex = tex[None]
    if tex.ndim != 4 or tex.shape[-1] != 3:
        raise ValueError(f"texture: expected (T, T', 3) or a per-part atlas (P, T, T', 3), got shape {tex.shape}")
    if tex.shape[0] > 1 and labels.size and labels.max() > tex.shape[0]:
        raise ValueError(f"parts: the atlas has {tex.shape[0]} parts, got part index {int(labels.max())}")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    figure = labels > 0
    values = coords[figure]
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1):
        raise ValueError(f"uv: expected U and V in [0, 1] on figure pixels, got values from {values.min():.4g} to "
                         f"{values.max():.4g}")
    out = img.copy()
    _, th, tw, _ = tex.shape
    page = np.where(tex.shape[0] > 1, labels[figure] - 1, 0)
    row = np.minimum((values[:, 1] * th).astype(int), th - 1)
    col = np.minimum((values[:, 0] * tw).astype(int), tw - 1)
    out[figure] = (1 - alpha) * img[figure] + alpha * tex[page, row, col]
    return out


def roi_targets(parts, uv, instances, boxes, output_size: int):
    """Cut each figure's own part and UV targets out of its box, on RoIAlign's grid: (K, R, R) and (K, R, R, 2).

    ``parts`` (H, W), ``uv`` (H, W, 2) and ``instances`` (H, W) (0 background, 1 + figure index) of
    one image; ``boxes`` (K, 4) ``xyxy``, box j for figure ``j + 1``. Grid cell (a, b) of box j reads the
    pixel under its centre, ``(x1 + (b + 0.5) w / R, y1 + (a + 0.5) h / R)``, the point RoIAlign's bin
    (a, b) is centred on; a pixel of another figure, or outside the image, is background for box j.
    """
    labels = to_numpy(parts, "parts")
    owner = to_numpy(instances, "instances")
    coords = to_numpy(uv, "uv", np.float32)
    if labels.ndim != 2:
        raise ValueError(f"parts: expected one image's part map (H, W), got shape {labels.shape}")
    if owner.shape != labels.shape:
        raise ValueError(f"instances: expected the part map's shape {labels.shape}, got {owner.shape}")
    if coords.shape != (*labels.shape, 2):
        raise ValueError(f"uv: expected shape {(*labels.shape, 2)}, got {coords.shape}")
    b = boxes_array(boxes, "boxes")
    size = _positive_int(output_size, "output_size")
    h, w = labels.shape
    steps = (np.arange(size) + 0.5) / size
    xs = b[:, 0:1] + steps[None] * (b[:, 2:3] - b[:, 0:1])  # (K, R) bin centres
    ys = b[:, 1:2] + steps[None] * (b[:, 3:4] - b[:, 1:2])
    cols, rows = np.floor(xs).astype(int), np.floor(ys).astype(int)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    r, c = np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :]
    mine = inside & (owner[r, c] == np.arange(1, len(b) + 1)[:, None, None])
    out_parts = np.where(mine, labels[r, c], 0).astype(np.int32)
    out_uv = np.where(mine[..., None], coords[r, c], 0.0).astype(np.float32)
    return out_parts, out_uv
