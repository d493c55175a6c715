"""2-D face alignment by fiducial points: a similarity transform onto a canonical template (notebook 09).

DeepFace (Taigman et al., 2014) first aligns every detected face: it finds fiducial points (eye centres,
nose tip, mouth corners), fits the similarity transform (rotation, uniform scale, translation: 4 degrees of
freedom) that maps them best onto the same points of a canonical face, and warps the image with it. After
that every face has its eyes at the same pixels, so the recognition network spends none of its capacity on
where the face is, how large, or how tilted.

- ``five_points``: the five fiducial points from 68 landmarks (eye centres, nose tip 30, mouth corners 48, 54);
- ``TEMPLATE``: where they go, in fractions of the aligned crop's side (InsightFace's 112 x 112 ArcFace
  template divided by 112, the de-facto standard for 5-point alignment);
- ``similarity_matrix``: the least-squares similarity (Umeyama, 1991) via scikit-image's
  ``SimilarityTransform.from_estimate``, as a ``(2, 3)`` matrix;
- ``align_faces``: estimate and warp with ``cv2.warpAffine``; ``transform_points`` applies a matrix.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from cvlib._checks import check_finite, to_numpy
from cvlib.data.faces import check_landmarks

__all__ = ["TEMPLATE", "align_faces", "five_points", "similarity_matrix", "template_points", "transform_points"]

#: canonical positions of the five fiducial points (left eye, right eye, nose tip, left and right mouth
#: corner; "left" as the picture shows it), as fractions of the aligned image's side
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                     [70.7299, 92.2041]]) / 112.0


def template_points(size: int) -> np.ndarray:
    """``TEMPLATE`` in pixels of a ``size`` x ``size`` aligned image, ``(5, 2)``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an integer of at least 8 pixels, got {size!r}")
    return TEMPLATE * size


def five_points(landmarks) -> np.ndarray:
    """The five fiducial points of 68-point landmarks: ``(68, 2) -> (5, 2)`` or ``(N, 68, 2) -> (N, 5, 2)``."""
    pts = check_landmarks(landmarks)
    out = np.stack([pts[..., 36:42, :].mean(-2), pts[..., 42:48, :].mean(-2), pts[..., 30, :],
                    pts[..., 48, :], pts[..., 54, :]], axis=-2)
    return out


def _points(x, name: str) -> np.ndarray:
    arr = check_finite(to_numpy(x, name), name)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
        raise ValueError(f"{name}: expected (K, 2) points with K >= 2, got shape {arr.shape}")
    return arr


def similarity_matrix(src, dst) -> np.ndarray:
    """The ``(2, 3)`` similarity transform mapping ``src`` points ``(K, 2)`` onto ``dst`` ``(K, 2)`` (least squares).

    Exact when ``dst`` is a similarity image of ``src``; raises if the points are degenerate (all coincident).
    """
    s, d = _points(src, "src"), _points(dst, "dst")
    if s.shape != d.shape:
        raise ValueError(f"src, dst: expected the same number of points, got {s.shape} and {d.shape}")
    tform = SimilarityTransform.from_estimate(s, d)
    if not tform:
        raise ValueError("src: the points are degenerate (coincident); no similarity transform fits them")
    return tform.params[:2].copy()


def transform_points(matrix, points) -> np.ndarray:
    """Apply a ``(2, 3)`` affine ``matrix`` to ``(..., 2)`` points."""
    m = check_finite(to_numpy(matrix, "matrix"), "matrix")
    if m.shape != (2, 3):
        raise ValueError(f"matrix: expected shape (2, 3), got {m.shape}")
    p = check_finite(to_numpy(points, "points"), "points")
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(f"points: expected shape (..., 2), got {p.shape}")
    return p @ m[:, :2].T + m[:, 2]


def align_faces(images, landmarks, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Warp each face so its five fiducial points land on ``TEMPLATE``: ``(aligned, matrices)``.

    ``images``: ``(N, H, W, C)``; ``landmarks``: ``(N, 68, 2)`` pixels (predicted or true). Returns
    ``(N, size, size, C)`` images (borders replicated) and the ``(N, 2, 3)`` matrices from image to aligned
    pixels; ``transform_points(matrices[i], landmarks[i])`` gives the landmarks in the aligned image.
    """
    imgs = np.asarray(images)
    if imgs.ndim != 4 or imgs.shape[-1] not in (1, 3):
        raise ValueError(f"images: expected (N, H, W, C) with C in (1, 3) channels, got shape {imgs.shape}")
    pts = check_landmarks(landmarks, batch=True)
    if len(pts) != len(imgs):
        raise ValueError(f"landmarks: expected one set per image ({len(imgs)}), got {len(pts)}")
    dst = template_points(size)
    matrices = np.stack([similarity_matrix(p, dst) for p in five_points(pts)]) if len(pts) else np.zeros((0, 2, 3))
    aligned = np.empty((len(imgs), size, size, imgs.shape[-1]), imgs.dtype)
    for i, m in enumerate(matrices):
        out = cv2.warpAffine(imgs[i], m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        aligned[i] = out.reshape(size, size, -1)
    return aligned, matrices
