"""Input validation shared by every public function of cvlib.

Each check raises a ``ValueError`` that names the argument, says what was
expected and what came, so a student sees *which* input is wrong.
"""

from __future__ import annotations

import numpy as np

BOX_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")


def to_numpy(x, name: str, dtype=np.float64) -> np.ndarray:
    """Convert a list, NumPy array or backend tensor to a NumPy array of ``dtype``."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # TensorFlow / PyTorch eager tensors
        x = x.numpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers, got {type(x).__name__} ({err})") from None


def check_format(format: str, name: str = "format") -> str:
    """Return ``format`` if it is a known box format name."""
    if format not in BOX_FORMATS:
        raise ValueError(f"{name}: unknown box format {format!r}; expected one of {', '.join(BOX_FORMATS)}")
    return format


def check_finite(arr: np.ndarray, name: str) -> np.ndarray:
    """Reject NaN and infinity."""
    if arr.size and not np.all(np.isfinite(arr)):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"{name}: contains {bad}; every value must be finite")
    return arr


def check_shape_last(arr: np.ndarray, name: str, size: int, ndim: int | None = None) -> np.ndarray:
    """Require the last axis to have ``size`` entries (and exactly ``ndim`` axes if given)."""
    if arr.ndim == 0 or arr.shape[-1] != size or (ndim is not None and arr.ndim != ndim):
        lead = "(N, " if ndim == 2 else "(..., "
        raise ValueError(f"{name}: expected shape {lead}{size}), got {arr.shape}")
    return arr


def _sizes(arr: np.ndarray, format: str) -> tuple[np.ndarray, np.ndarray]:
    """Width and height of boxes in ``format`` (the last axis holds 4 coordinates)."""
    if format in ("xywh", "center_xywh"):
        return arr[..., 2], arr[..., 3]
    if format == "xyxy":
        return arr[..., 2] - arr[..., 0], arr[..., 3] - arr[..., 1]
    return arr[..., 3] - arr[..., 1], arr[..., 2] - arr[..., 0]  # yxyx


def boxes_array(boxes, name: str = "boxes", format: str = "xyxy", ndim: int | None = 2) -> np.ndarray:
    """Validate boxes: numbers, shape (N, 4) (or (..., 4) with ``ndim=None``), finite, no negative size.

    Returns a float64 copy-free view where possible. An empty input gives shape (0, 4).
    """
    check_format(format)
    arr = to_numpy(boxes, name)
    # "No boxes" may come as [] or np.zeros((0, 4)); a (5, 0) or (0, 3) array is a wrong shape, not empty.
    if ndim == 2 and arr.shape in ((0,), (0, 4)):
        return arr.reshape(0, 4)
    check_shape_last(arr, name, 4, ndim)
    check_finite(arr, name)
    w, h = _sizes(arr, format)
    if (w < 0).any() or (h < 0).any():
        i = np.argwhere((w < 0) | (h < 0))[0]
        raise ValueError(
            f"{name}: box {tuple(int(j) for j in i)} has negative width or height in format {format!r} "
            f"({arr[tuple(i)].tolist()})"
        )
    return arr


def vector(x, name: str, length: int | None = None, dtype=np.float64) -> np.ndarray:
    """Validate a 1-D array (optionally of a given length) of finite numbers."""
    arr = to_numpy(x, name, dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name}: expected {length} entries (one per box), got {arr.shape[0]}")
    if np.issubdtype(arr.dtype, np.floating):
        check_finite(arr, name)
    return arr


def probability(value, name: str) -> float:
    """Require a single number in [0, 1] (a Python number, 0-d array or scalar tensor)."""
    arr = to_numpy(value, name) if not isinstance(value, (str, bytes)) else None
    if arr is None or arr.ndim != 0 or not np.isfinite(arr) or not 0.0 <= float(arr) <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(arr)
