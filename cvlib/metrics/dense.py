"""Dense-correspondence metrics: part IoU, UV error on correctly labelled pixels, a GPS-style score (notebook 16).

Inputs are NumPy arrays (lists and tensors are accepted) of one image or a stack of images:

- ``parts_true``, ``parts_pred``: integer part maps of one shape S, e.g. (N, H, W); 0 is the background,
  1..P the parts;
- ``uv_true``, ``uv_pred``: (U, V) maps of shape S + (2,), values in [0, 1] (the background's values
  are not read).

The scores:

- **part IoU**: per-class IoU of the part maps, background included, accumulated over every pixel
  given (``cvlib.metrics.segmentation``'s conventions: a class absent from both maps is NaN and left
  out of the mean);
- **UV error** of a pixel: the Euclidean distance between predicted and true (U, V),
  ``sqrt((u' - u)^2 + (v' - v)^2)``, on the pixels of a figure whose part is predicted correctly — the
  only pixels where comparing coordinates makes sense, since U and V of different parts live on
  different surfaces. DensePose measures a *geodesic* distance on the body surface; inside one part
  of our figures UV is an affine chart, so this plain distance is its simple stand-in;
- **GPS-style score** at a threshold t: the fraction of *all* true figure pixels whose part is
  predicted correctly and whose UV error is below t. A wrongly labelled or missed pixel counts as a
  failure, so the score falls with both kinds of error. (DensePose's geodesic point similarity
  instead scores each annotated point by ``exp(-g^2 / (2 kappa^2))`` with g the geodesic distance in
  centimetres, and averages precision over GPS thresholds like COCO's OKS-AP; with no surface and no
  instances to match here, a fraction of correct points keeps the idea: a point counts if it lands
  close enough on the right part.)
"""

from __future__ import annotations

import numpy as np

from cvlib._checks import to_numpy
from cvlib.metrics import segmentation as seg

__all__ = ["check_dense_maps", "gps_score", "mean_part_iou", "part_iou", "uv_errors", "uv_summary"]


def _num_parts(num_parts) -> int:
    if isinstance(num_parts, bool) or not isinstance(num_parts, (int, np.integer)) or num_parts < 1:
        raise ValueError(f"num_parts: expected a positive integer, got {num_parts!r}")
    return int(num_parts)


def _part_map(x, name: str, num_parts: int) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.size:
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: expected whole part indices, got non-integer values")
        if arr.min() < 0 or arr.max() > num_parts:
            bad = np.unique(arr[(arr < 0) | (arr > num_parts)])
            raise ValueError(f"{name}: part indices must lie in [0, {num_parts}] (0 = background) for "
                             f"num_parts={num_parts}, got {bad[:5].astype(int).tolist()}")
    return arr.astype(np.int64)


def _uv_map(x, name: str, shape: tuple[int, ...], parts: np.ndarray) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.shape != (*shape, 2):
        raise ValueError(f"{name}: expected shape {(*shape, 2)} (the part map's shape plus 2 for U and V), "
                         f"got {arr.shape}")
    figure = arr[parts > 0]
    if figure.size and (not np.all(np.isfinite(figure)) or figure.min() < 0 or figure.max() > 1):
        raise ValueError(f"{name}: expected U and V in [0, 1] on figure pixels, got values from "
                         f"{np.nanmin(figure):.4g} to {np.nanmax(figure):.4g}")
    return arr


def check_dense_maps(parts_true, uv_true, parts_pred, uv_pred, num_parts: int):
    """Validate the four maps (module docstring); return them as NumPy arrays in the same order.

    Raises a ``ValueError`` naming the argument for mismatched shapes, part indices outside
    [0, num_parts], or U, V outside [0, 1] (checked on the pixels each part map calls figure).
    """
    num_parts = _num_parts(num_parts)
    pt = _part_map(parts_true, "parts_true", num_parts)
    pp = _part_map(parts_pred, "parts_pred", num_parts)
    if pp.shape != pt.shape:
        raise ValueError(f"parts_pred: expected the shape of parts_true {pt.shape}, got {pp.shape}")
    ut = _uv_map(uv_true, "uv_true", pt.shape, pt)
    up = _uv_map(uv_pred, "uv_pred", pt.shape, pp)
    return pt, ut, pp, up


def part_iou(parts_true, parts_pred, num_parts: int) -> np.ndarray:
    """IoU of the background and of each part, (num_parts + 1,) float64 (NaN for a class absent from both maps)."""
    num_parts = _num_parts(num_parts)
    pt = _part_map(parts_true, "parts_true", num_parts)
    pp = _part_map(parts_pred, "parts_pred", num_parts)
    if pp.shape != pt.shape:
        raise ValueError(f"parts_pred: expected the shape of parts_true {pt.shape}, got {pp.shape}")
    return seg.per_class_iou(pt, pp, num_parts + 1)


def mean_part_iou(parts_true, parts_pred, num_parts: int, include_background: bool = True) -> float:
    """Mean of ``part_iou`` over the classes present (NaN if none); without the background if asked."""
    iou = part_iou(parts_true, parts_pred, num_parts)
    iou = iou if include_background else iou[1:]
    return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan")


def uv_errors(parts_true, uv_true, parts_pred, uv_pred, num_parts: int) -> np.ndarray:
    """UV error (Euclidean, in UV units) of every figure pixel whose part is predicted correctly: 1-D float64.

    Pixels are taken in the maps' C order; an empty array if no pixel qualifies.
    """
    pt, ut, pp, up = check_dense_maps(parts_true, uv_true, parts_pred, uv_pred, num_parts)
    correct = (pt > 0) & (pp == pt)
    return np.sqrt(((up[correct] - ut[correct]) ** 2).sum(-1))


def gps_score(parts_true, uv_true, parts_pred, uv_pred, num_parts: int, threshold=0.1):
    """Fraction of true figure pixels labelled with the right part *and* within ``threshold`` in UV.

    ``threshold`` a number (returns a float) or an array of thresholds (returns an array of the
    same shape, a curve). NaN when there are no figure pixels.
    """
    t = to_numpy(threshold, "threshold")
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"threshold: expected non-negative finite UV distances, got {threshold!r}")
    pt, ut, pp, up = check_dense_maps(parts_true, uv_true, parts_pred, uv_pred, num_parts)
    figure = int((pt > 0).sum())
    if figure == 0:
        out = np.full(t.shape, np.nan)
    else:
        correct = (pt > 0) & (pp == pt)
        errors = np.sort(np.sqrt(((up[correct] - ut[correct]) ** 2).sum(-1)))
        out = np.searchsorted(errors, t, side="left") / figure  # errors strictly below t
    return float(out) if out.ndim == 0 else out


def uv_summary(parts_true, uv_true, parts_pred, uv_pred, num_parts: int, threshold: float = 0.1) -> dict:
    """The notebook's headline numbers in one call: part mIoU (with and without the background), mean and
    median UV error on correctly labelled pixels, the share of figure pixels labelled correctly, and the
    GPS-style score at ``threshold``."""
    pt, ut, pp, up = check_dense_maps(parts_true, uv_true, parts_pred, uv_pred, num_parts)
    errors = uv_errors(pt, ut, pp, up, num_parts)
    figure = (pt > 0).sum()
    return {
        "part_mIoU": mean_part_iou(pt, pp, num_parts),
        "part_mIoU_no_background": mean_part_iou(pt, pp, num_parts, include_background=False),
        "uv_error_mean": float(errors.mean()) if errors.size else float("nan"),
        "uv_error_median": float(np.median(errors)) if errors.size else float("nan"),
        "correct_part_fraction": float(errors.size / figure) if figure else float("nan"),
        "gps_score": gps_score(pt, ut, pp, up, num_parts, threshold),
    }
