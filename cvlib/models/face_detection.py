"""Viola-Jones face detection with OpenCV's shipped Haar cascades, and face crops for a landmark model (07, 09).

Viola and Jones (2001) slide a window over an image pyramid and run a *cascade* of boosted classifiers on
Haar-like features (differences of rectangle sums, read in constant time from an integral image); most
windows are rejected by the first, cheap stages. OpenCV ships trained cascades (``cv2.data.haarcascades``),
so we use them rather than re-train one: ``detect_faces`` wraps ``CascadeClassifier.detectMultiScale3``.

Boxes are ``"xyxy"`` pixels (continuous coordinates, DESIGN.md's convention). ``crop_faces`` cuts a square
around each box, enlarged by ``margin``, resized to the landmark model's input; ``uncrop_landmarks`` maps
landmarks predicted in a crop back to the photograph.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from cvlib._checks import boxes_array, check_finite, to_numpy

__all__ = ["DEFAULT_CASCADE", "crop_faces", "detect_faces", "load_cascade", "to_gray_uint8", "uncrop_landmarks"]

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


@lru_cache(maxsize=8)
def load_cascade(name: str = DEFAULT_CASCADE) -> cv2.CascadeClassifier:
    """One of OpenCV's shipped Haar cascades by file name (e.g. ``"haarcascade_frontalface_alt2.xml"``)."""
    path = Path(cv2.data.haarcascades) / name
    if not path.is_file():
        shipped = sorted(p.name for p in Path(cv2.data.haarcascades).glob("*.xml"))
        raise ValueError(f"name: no cascade {name!r} in OpenCV's data; shipped: {', '.join(shipped)}")
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ValueError(f"name: OpenCV could not load the cascade {path}")
    return cascade


def _image(image, name: str = "image") -> np.ndarray:
    arr = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ValueError(f"{name}: expected a grey (H, W) or RGB (H, W, 3) image, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: the image is empty, shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        check_finite(arr, name)
    return arr


def to_gray_uint8(image) -> np.ndarray:
    """A grey uint8 image from an RGB or grey image, uint8 (0-255) or float (0-1)."""
    arr = _image(image)
    if arr.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    return cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY) if arr.ndim == 3 else arr


def detect_faces(image, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24,
                 cascade: str = DEFAULT_CASCADE) -> dict[str, np.ndarray]:
    """Detect faces with a Haar cascade: ``{"boxes": (N, 4) xyxy float, "scores": (N,)}``, best first.

    ``image``: RGB ``(H, W, 3)`` or grey ``(H, W)``, uint8 or float in [0, 1]. ``scale_factor``: pyramid step;
    ``min_neighbors``: how many overlapping raw detections a face needs (higher = fewer false positives);
    ``min_size``: smallest face side in pixels. ``scores`` are the cascade's last-stage confidences
    (``levelWeights``). No face gives ``boxes`` of shape ``(0, 4)``, never an error.
    """
    if not np.isfinite(scale_factor) or scale_factor <= 1.0:
        raise ValueError(f"scale_factor: expected a number > 1, got {scale_factor!r}")
    if isinstance(min_neighbors, bool) or not isinstance(min_neighbors, (int, np.integer)) or min_neighbors < 0:
        raise ValueError(f"min_neighbors: expected a non-negative integer, got {min_neighbors!r}")
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise ValueError(f"min_size: expected a positive integer, got {min_size!r}")
    gray = cv2.equalizeHist(to_gray_uint8(image))  # the cascades were trained on contrast-normalised windows
    rects, _, weights = load_cascade(cascade).detectMultiScale3(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size),
        outputRejectLevels=True)
    if len(rects) == 0:
        return {"boxes": np.zeros((0, 4)), "scores": np.zeros(0)}
    rects = np.asarray(rects, np.float64).reshape(-1, 4)
    scores = np.asarray(weights, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    boxes = np.c_[rects[:, :2], rects[:, :2] + rects[:, 2:]][order]
    return {"boxes": boxes, "scores": scores[order]}


def _square(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Squares around ``boxes`` (xyxy) with side ``(1 + 2 * margin) * max(w, h)``, same centres."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (1 + 2 * margin) * np.max(boxes[:, 2:] - boxes[:, :2], axis=1, keepdims=True) / 2
    return np.c_[centre - half, centre + half]


def crop_faces(image, boxes, size: int = 64, margin: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Square crops around face ``boxes`` (xyxy), enlarged by ``margin`` per side and resized to ``size``.

    Returns ``(crops, squares)``: ``(N, size, size, C)`` float32 in [0, 1] (grey images keep one channel) and
    the ``(N, 4)`` xyxy squares that were cut (parts outside the photo are filled by replicating its border),
    which ``uncrop_landmarks`` needs to map landmarks back.
    """
    arr = _image(image)
    b = boxes_array(boxes)
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin: expected a non-negative number, got {margin!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size: expected a positive integer, got {size!r}")
    img = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    squares = _square(b, margin) if len(b) else np.zeros((0, 4))
    crops = np.zeros((len(b), size, size, 1 if img.ndim == 2 else 3), np.float32)
    for i, (x0, y0, x1, _) in enumerate(squares):
        # The affine map from the square (continuous coords) onto the crop's pixel grid, centres at integers.
        s = size / (x1 - x0)
        m = np.array([[s, 0, (-x0 + 0.5) * s - 0.5], [0, s, (-y0 + 0.5) * s - 0.5]], np.float64)
        out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        crops[i] = out.reshape(size, size, -1)
    return crops, squares


def uncrop_landmarks(landmarks, squares, size: int) -> np.ndarray:
    """Map ``(N, K, 2)`` pixel landmarks of ``size``-pixel crops back into the photo, given ``crop_faces``' squares."""
    pts = check_finite(to_numpy(landmarks, "landmarks"), "landmarks")
    sq = boxes_array(squares, "squares")
    if pts.ndim != 3 or pts.shape[-1] != 2 or len(pts) != len(sq):
        raise ValueError(f"landmarks: expected (N, K, 2) with N = {len(sq)} squares, got shape {pts.shape}")
    s = (sq[:, 2] - sq[:, 0])[:, None, None] / size
    return (pts + 0.5) * s + sq[:, None, :2] - 0.5
