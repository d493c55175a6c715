"""How many clicks a segmentation takes: NoC@85, NoC@90 and the mean-IoU-per-click curve (notebook 15).

The standard protocol of interactive segmentation (Xu et al. 2016, followed by Li et al. 2018, RITM and
every later paper): a simulated user clicks, the tool updates its mask, the user clicks again at the centre of
the largest error (``cvlib.data.clicks.next_click``), and so on, up to 20 clicks. Two scores come out:

- **NoC@85 / NoC@90**: the number of clicks needed to reach IoU 0.85 / 0.90 with the true mask; an object that
  never gets there within the budget counts as the budget (20). Lower is better; 1 means the first click did.
- **mean IoU against the number of clicks**: the average over the objects of the IoU after k clicks,
  k = 1 ... 20, a curve that rises quickly for a good tool.

``noc`` and ``iou_curve`` work on IoU sequences (one row per object, column k the IoU after k + 1 clicks);
``simulate_clicks`` produces them by running any predictor under the protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvlib._checks import check_finite, to_numpy
from cvlib.data.clicks import next_clicks

__all__ = ["MAX_CLICKS", "iou_curve", "mean_noc", "noc", "simulate_clicks"]

MAX_CLICKS = 20


def _ious(ious, name: str = "ious") -> tuple[np.ndarray, bool]:
    """(N, K) float64 IoU sequences and whether a single sequence (K,) was given."""
    arr = check_finite(to_numpy(ious, name), name)
    single = arr.ndim == 1
    if single:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected IoU sequences (K,) or (N, K), IoU after click 1 ... K; got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name}: IoU values must lie in [0, 1], got values from {arr.min():g} to {arr.max():g}")
    return arr, single


def _budget(max_clicks) -> int:
    if isinstance(max_clicks, bool) or not isinstance(max_clicks, (int, np.integer)) or max_clicks < 1:
        raise ValueError(f"max_clicks: expected a positive integer (20 in the protocol), got {max_clicks!r}")
    return int(max_clicks)


def noc(ious, threshold: float = 0.85, max_clicks: int = MAX_CLICKS):
    """Number of clicks to reach IoU >= ``threshold``, capped at ``max_clicks``.

    Args:
        ious: (K,) or (N, K): ``ious[..., k]`` is the IoU after ``k + 1`` clicks. Clicks beyond ``max_clicks``
            are ignored; a sequence that does not reach the threshold within its clicks counts ``max_clicks``.
        threshold: the IoU to reach, in (0, 1] (0.85 and 0.90 in the literature).

    Returns:
        int for one sequence, int64 (N,) for several; an empty (0, K) input gives an empty array.
    """
    arr, single = _ious(ious)
    budget = _budget(max_clicks)
    if not (np.isscalar(threshold) and 0 < float(threshold) <= 1):
        raise ValueError(f"threshold: expected an IoU in (0, 1], got {threshold!r}")
    reached = arr[:, :budget] >= threshold
    counts = np.where(reached.any(axis=1), np.argmax(reached, axis=1) + 1, budget).astype(np.int64)
    return int(counts[0]) if single else counts


def mean_noc(ious, threshold: float = 0.85, max_clicks: int = MAX_CLICKS) -> float:
    """``noc`` averaged over the objects (NaN for no object)."""
    counts = np.atleast_1d(noc(ious, threshold, max_clicks))
    return float(counts.mean()) if counts.size else float("nan")


def iou_curve(ious) -> np.ndarray:
    """Mean IoU after 1, 2, ..., K clicks: float64 (K,), the average of the columns of ``ious`` (N, K)."""
    arr, _ = _ious(ious)
    if len(arr) == 0:
        return np.full(arr.shape[1], np.nan)
    return arr.mean(axis=0)


def simulate_clicks(predict: Callable, masks, max_clicks: int = MAX_CLICKS, by: str = "area"):
    """Run the click protocol on N objects at once; return (ious (N, max_clicks), clicks).

    Args:
        predict: ``predict(positive, negative) -> masks`` where ``positive[i]``, ``negative[i]`` are the (P, 2)
            and (Q, 2) click arrays of object ``i`` (x, y) so far, and the result is bool (N, H, W). It is called
            once per click round with every object, so a network can predict them as one batch.
        masks: the true masks, bool (N, H, W), none empty.
        max_clicks: the budget (20).
        by: how ``next_click`` ranks the error regions (``"area"`` or ``"distance"``).

    Returns:
        ``ious`` float64 (N, max_clicks), IoU after each click; ``clicks``: per object the list of
        ``Click(x, y, positive)`` placed. Once a mask is perfect no error is left to click on: the object keeps
        its clicks and the predictor is still asked, with the same clicks, so every row has ``max_clicks`` values.
    """
    truth = to_numpy(masks, "masks")
    if truth.ndim != 3 or 0 in truth.shape[1:]:
        raise ValueError(f"masks: expected true masks (N, H, W), got shape {truth.shape}")
    if truth.size and not np.all((truth == 0) | (truth == 1)):
        raise ValueError("masks: expected binary masks (bool or 0/1)")
    truth = truth.astype(bool)
    budget = _budget(max_clicks)
    empty = ~truth.reshape(len(truth), -1).any(axis=1)
    if empty.any():
        raise ValueError(f"masks: object {int(np.argmax(empty))} is empty; there is nothing to click on")
    n = len(truth)
    ious = np.zeros((n, budget))
    clicks: list[list] = [[] for _ in range(n)]
    current = np.zeros_like(truth)
    for step in range(budget):
        for i, click in enumerate(next_clicks(truth, current, by=by)):
            if click is not None:
                clicks[i].append(click)
        positive = [np.asarray([(c.x, c.y) for c in cs if c.positive], np.int64).reshape(-1, 2) for cs in clicks]
        negative = [np.asarray([(c.x, c.y) for c in cs if not c.positive], np.int64).reshape(-1, 2) for cs in clicks]
        pred = np.asarray(predict(positive, negative)).astype(bool) if n else np.zeros_like(truth)
        if pred.shape != truth.shape:
            raise ValueError(f"predict: expected masks of the true masks' shape {truth.shape}, got {pred.shape}")
        current = pred
        union = (truth | pred).reshape(n, -1).sum(axis=1)
        ious[:, step] = (truth & pred).reshape(n, -1).sum(axis=1) / np.maximum(union, 1)
    return ious, clicks
