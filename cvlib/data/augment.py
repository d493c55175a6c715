"""Geometric augmentation that moves the boxes with the pixels (notebook 05, YOLO).

A detector trained on flipped, rescaled and shifted images must be shown the boxes flipped,
rescaled and shifted the same way: one affine map is applied to the image (OpenCV's
``warpAffine``) and to the box corners, and boxes are then clipped to the image. An object
pushed mostly out of the frame is dropped rather than kept as a sliver the network could not
recognise (``min_visible``).

- ``flip_scale_translate``: the map itself, with given parameters (deterministic; tested);
- ``random_flip_scale_translate``: the same with parameters drawn from a NumPy generator.
"""

from __future__ import annotations

import cv2
import numpy as np

from cvlib._checks import check_finite, probability, to_numpy, vector
from cvlib.boxes import clip, xyxy

__all__ = ["flip_scale_translate", "random_flip_scale_translate"]


def _check_image(image) -> np.ndarray:
    arr = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1 or (arr.ndim == 3 and not 1 <= arr.shape[2] <= 4):
        raise ValueError(f"image: expected (H, W) or (H, W, C) with H, W >= 1 and 1 <= C <= 4, got shape {arr.shape}")
    if arr.dtype.kind not in "uif":
        raise ValueError(f"image: expected numbers, got dtype {arr.dtype}")
    return arr


def flip_scale_translate(image, boxes, labels, flip: bool = False, scale: float = 1.0, shift=(0.0, 0.0),
                         min_visible: float = 0.4, fill=None):
    """Flip (left-right), scale about the centre, then shift an image and its boxes the same way.

    Args:
        image: (H, W) or (H, W, C) with C <= 4 (OpenCV's limit for a fill colour), any numeric dtype (kept).
        boxes: (N, 4) ``xyxy`` pixels; labels: (N,) (any dtype), one per box.
        flip: mirror left-right first. scale: > 0, about the image centre (> 1 zooms in).
        shift: (dx, dy) in pixels, applied last.
        min_visible: a box keeps this fraction of its (transformed) area inside the image, or it is dropped.
        fill: colour of the pixels uncovered by the map (scalar or one per channel); default the image's mean.

    Returns:
        ``(image, boxes, labels)``: the image of the same shape and dtype, boxes (M, 4) float64 clipped
        to the image and their labels (M,), M <= N.
    """
    img = _check_image(image)
    b = xyxy(boxes, "xyxy")
    lab = vector(labels, "labels", len(b), dtype=None)
    scale = float(to_numpy(scale, "scale"))
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale: expected a positive number, got {scale!r}")
    offset = check_finite(to_numpy(shift, "shift"), "shift")
    if offset.shape != (2,):
        raise ValueError(f"shift: expected (dx, dy) in pixels, got {shift!r}")
    dx, dy = offset
    min_visible = probability(min_visible, "min_visible")
    h, w = img.shape[:2]

    # x' = a x + bx, y' = s y + by, with a = -s for a flip: the image centre maps to itself plus the shift.
    a = -scale if flip else scale
    bx = w / 2 - a * w / 2 + dx
    by = h / 2 - scale * h / 2 + dy
    matrix = np.array([[a, 0.0, bx], [0.0, scale, by]])
    channels = 1 if img.ndim == 2 else img.shape[2]
    colour = img.reshape(h * w, channels).mean(0) if fill is None else to_numpy(fill, "fill").reshape(-1)
    if colour.size not in (1, channels):
        raise ValueError(f"fill: expected one value or one per channel ({channels}), got {fill!r}")
    colour = tuple(float(v) for v in np.broadcast_to(colour, (channels,)))
    warped = cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=colour)
    warped = warped.reshape(img.shape).astype(img.dtype, copy=False)

    xs = a * b[:, [0, 2]] + bx
    ys = scale * b[:, [1, 3]] + by
    moved = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)
    inside = clip(moved, (h, w))
    full = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    kept = (inside[:, 2] - inside[:, 0]) * (inside[:, 3] - inside[:, 1])
    keep = (kept > 0) & (kept >= min_visible * full)
    return warped, inside[keep], lab[keep]


def random_flip_scale_translate(image, boxes, labels, rng: np.random.Generator, flip_probability: float = 0.5,
                                scale_range=(0.8, 1.2), max_shift: float = 0.1, min_visible: float = 0.4):
    """``flip_scale_translate`` with a random flip, a scale from ``scale_range`` and a shift of at most
    ``max_shift`` of the image's width and height, drawn from ``rng``. Returns ``(image, boxes, labels)``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    flip_probability = probability(flip_probability, "flip_probability")
    lo, hi = (float(v) for v in scale_range)
    if not (0 < lo <= hi) or not np.isfinite(hi):
        raise ValueError(f"scale_range: expected 0 < low <= high, got {scale_range!r}")
    max_shift = probability(max_shift, "max_shift")
    h, w = _check_image(image).shape[:2]
    flip = bool(rng.random() < flip_probability)
    scale = float(rng.uniform(lo, hi))
    shift = rng.uniform(-max_shift, max_shift, 2) * (w, h)
    return flip_scale_translate(image, boxes, labels, flip, scale, shift, min_visible)
