"""Face verification by a distance threshold: pair distances, ROC, the best threshold, accuracy (notebook 09).

Verification answers "same person?" for a pair of faces: *same* when the distance between their embeddings is
at most a threshold. The ROC curve sweeps the threshold (true-positive rate against false-positive rate, via
scikit-learn's ``roc_curve``); the threshold itself is chosen on a validation split, by accuracy, and only then
applied to the test pairs — choosing it on the test pairs would flatter the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from cvlib._checks import check_finite, to_numpy

__all__ = ["ROC", "best_threshold", "pair_distances", "verification_accuracy", "verification_roc"]


def pair_distances(first, second) -> np.ndarray:
    """Euclidean distance between row ``i`` of ``first`` and row ``i`` of ``second`` (both ``(N, D)``), ``(N,)``."""
    a = check_finite(to_numpy(first, "first"), "first")
    b = check_finite(to_numpy(second, "second"), "second")
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"first, second: expected two (N, D) arrays of the same shape, got {a.shape} and {b.shape}")
    return np.linalg.norm(a - b, axis=1)


def _pairs(distances, same) -> tuple[np.ndarray, np.ndarray]:
    d = check_finite(to_numpy(distances, "distances"), "distances")
    s = to_numpy(same, "same")
    if d.ndim != 1 or s.shape != d.shape:
        raise ValueError(f"distances, same: expected two 1-D arrays of the same length, got {d.shape} and {s.shape}")
    if not np.all((s == 0) | (s == 1)):
        raise ValueError("same: expected 1 for a pair of the same identity and 0 otherwise")
    if d.size and (s.min() == s.max()):
        raise ValueError("same: need both same-identity and different-identity pairs")
    return d, s.astype(bool)


def verification_accuracy(distances, same, threshold: float) -> float:
    """Fraction of pairs decided right when "same" means ``distance <= threshold``."""
    d, s = _pairs(distances, same)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
    return float(np.mean((d <= threshold) == s))


def best_threshold(distances, same) -> tuple[float, float]:
    """The threshold with the highest accuracy on these pairs, and that accuracy: ``(threshold, accuracy)``.

    Candidates are the midpoints between consecutive sorted distances (and both ends), so the threshold sits
    between two pairs, not on one; ties go to the smallest threshold.
    """
    d, s = _pairs(distances, same)
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    # accepting the k closest pairs as "same": correct = same among them + different among the rest
    correct = np.r_[0, np.cumsum(ss)] + (np.sum(~ss) - np.r_[0, np.cumsum(~ss)])
    # a cut after position k is only possible where the next distance is larger (ties stay together)
    possible = np.r_[True, ds[1:] > ds[:-1], True]
    k = int(np.flatnonzero(possible)[np.argmax(correct[possible])])
    threshold = ds[0] - 1e-6 if k == 0 else (ds[-1] + 1e-6 if k == len(ds) else (ds[k - 1] + ds[k]) / 2)
    return float(threshold), float(correct[k] / len(d))


@dataclass(frozen=True)
class ROC:
    """False- and true-positive rates over thresholds (``distance <= thresholds[i]`` means same), and the AUC."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


def verification_roc(distances, same) -> ROC:
    """The ROC curve of verification by distance (scikit-learn's ``roc_curve`` on minus the distance)."""
    d, s = _pairs(distances, same)
    fpr, tpr, thr = roc_curve(s, -d)
    return ROC(fpr, tpr, -thr, float(roc_auc_score(s, -d)))
