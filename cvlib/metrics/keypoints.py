"""Facial-landmark accuracy: NME by inter-ocular distance, cumulative error distribution, failure rate (notebook 07).

The normalised mean error of one face is the mean Euclidean distance between its predicted and true landmarks,
divided by the **inter-ocular distance**, the distance between the outer eye corners (points 36 and 45 of the
68-point scheme), as 300-W reports it:

    NME = (1 / 68) * sum_k ||p_k - g_k|| / ||g_36 - g_45||

Dividing by a length of the face itself makes the figure independent of image size and face scale. The
**cumulative error distribution** (CED) is the fraction of faces whose NME is at most each threshold; a face
with NME above 0.08 counts as a **failure** (the 300-W convention), and the area under the CED up to that
threshold (divided by it) summarises the curve in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvlib._checks import check_finite, to_numpy

__all__ = ["CED", "OUTER_EYE_CORNERS", "ced_curve", "failure_rate", "inter_ocular_distance", "nme", "nme_per_point"]

#: the points whose distance normalises the error: outer corners of the picture's left (36) and right (45) eye
OUTER_EYE_CORNERS = (36, 45)


def _points(x, name: str) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.ndim == 2 and arr.shape == (68, 2):
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (68, 2):
        raise ValueError(f"{name}: expected (N, 68, 2) or (68, 2) (x, y) landmarks, got shape {arr.shape}")
    return check_finite(arr, name)


def _pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    p, g = _points(pred, "pred"), _points(true, "true")
    if p.shape != g.shape:
        raise ValueError(f"pred, true: expected the same shape, got {p.shape} and {g.shape}")
    return p, g


def inter_ocular_distance(true) -> np.ndarray:
    """Distance between the outer eye corners 36 and 45 of each face, ``(N,)``; rejects coincident corners."""
    g = _points(true, "true")
    d = np.linalg.norm(g[:, OUTER_EYE_CORNERS[0]] - g[:, OUTER_EYE_CORNERS[1]], axis=-1)
    if np.any(d <= 0):
        raise ValueError(f"true: face {int(np.argmin(d))} has its outer eye corners 36 and 45 at the same point, "
                         "so the inter-ocular distance that normalises the error is 0")
    return d


def nme_per_point(pred, true) -> np.ndarray:
    """Each landmark's error divided by its face's inter-ocular distance, ``(N, 68)``."""
    p, g = _pair(pred, true)
    return np.linalg.norm(p - g, axis=-1) / inter_ocular_distance(g)[:, None]


def nme(pred, true) -> np.ndarray:
    """Normalised mean error of each face, ``(N,)``: mean landmark error / inter-ocular distance (36 to 45).

    ``pred``, ``true``: ``(N, 68, 2)`` (or one face ``(68, 2)``) in the same pixel units. Average the result
    for the data set's NME. An empty batch gives an empty result.
    """
    return nme_per_point(pred, true).mean(axis=1) if np.size(true) else np.zeros(0)


def failure_rate(errors, threshold: float = 0.08) -> float:
    """Fraction of faces whose NME exceeds ``threshold`` (0.08 by the 300-W convention); NaN for no face."""
    e = _errors(errors)
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold: expected a positive number, got {threshold!r}")
    return float(np.mean(e > threshold)) if e.size else float("nan")


def _errors(errors) -> np.ndarray:
    e = to_numpy(errors, "errors")
    if e.ndim != 1:
        raise ValueError(f"errors: expected a 1-D array of per-face NME (from nme), got shape {e.shape}")
    check_finite(e, "errors")
    if np.any(e < 0):
        raise ValueError("errors: NME values cannot be negative")
    return e


@dataclass(frozen=True)
class CED:
    """A cumulative error distribution: ``fraction[i]`` of faces have NME <= ``thresholds[i]``.

    ``auc``: area under the curve on ``[0, max_error]`` divided by ``max_error`` (1 = every face perfect);
    ``failure_rate``: fraction of faces with NME above ``max_error``.
    """

    thresholds: np.ndarray
    fraction: np.ndarray
    auc: float
    failure_rate: float


def ced_curve(errors, max_error: float = 0.08, steps: int = 161) -> CED:
    """The cumulative error distribution of per-face ``errors`` (NME) on ``steps`` thresholds in ``[0, max_error]``."""
    e = _errors(errors)
    if not np.isfinite(max_error) or max_error <= 0:
        raise ValueError(f"max_error: expected a positive number, got {max_error!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps: expected an integer >= 2, got {steps!r}")
    thresholds = np.linspace(0.0, max_error, steps)
    if not e.size:
        return CED(thresholds, np.zeros(steps), float("nan"), float("nan"))
    fraction = np.searchsorted(np.sort(e), thresholds, side="right") / e.size
    area = float(np.sum((fraction[1:] + fraction[:-1]) / 2 * np.diff(thresholds)) / max_error)
    return CED(thresholds, fraction, area, failure_rate(e, max_error))
