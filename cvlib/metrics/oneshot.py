"""N-way one-shot classification accuracy from a similarity matrix, with a confidence interval (notebook 08).

A one-shot classifier labels each query with the class of its most similar support example; a Siamese
network supplies the similarity (minus an embedding distance, or a head's "same" probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvlib._checks import check_finite, to_numpy

__all__ = ["OneShotResult", "one_shot_accuracy"]


@dataclass(frozen=True)
class OneShotResult:
    """Accuracy over all queries, the per-episode accuracies, and a 95% confidence interval of the mean."""

    accuracy: float
    per_episode: np.ndarray
    ci95: float

    @property
    def interval(self) -> tuple[float, float]:
        return self.accuracy - self.ci95, self.accuracy + self.ci95

    def __str__(self) -> str:
        return f"{self.accuracy:.3f} ± {self.ci95:.3f} (95% CI, {len(self.per_episode)} episodes)"


def one_shot_accuracy(similarity, episodes) -> OneShotResult:
    """N-way K-shot accuracy of ``episodes`` (``cvlib.data.pairs.Episodes``) under a similarity matrix.

    ``similarity``: ``(N, N)`` over the labelled set the episodes index, larger = more alike (pass minus a
    distance matrix). A query's score for a class is its best similarity to that class's ``k_shot`` support
    examples (nearest neighbour); ties go to the first class. The 95% interval is ``1.96 * std / sqrt(E)``
    over the episodes' accuracies (normal approximation; fine for hundreds of episodes).
    """
    sim = check_finite(to_numpy(similarity, "similarity"), "similarity")
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"similarity: expected a square (N, N) matrix, got shape {sim.shape}")
    for name in ("support", "query", "target"):
        if not hasattr(episodes, name):
            raise ValueError(f"episodes: expected cvlib.data.pairs.Episodes, got {type(episodes).__name__}")
    if len(episodes) == 0:
        raise ValueError("episodes: got no episode")
    top = max(int(episodes.support.max()), int(episodes.query.max()))
    if top >= sim.shape[0]:
        raise ValueError(f"similarity: episodes index example {top} but the matrix covers only {sim.shape[0]}")
    # scores[e, q, j, k] = similarity of query q to support example k of class j
    scores = sim[episodes.query[:, :, None, None], episodes.support[:, None, :, :]]
    predicted = scores.max(axis=3).argmax(axis=2)
    correct = predicted == episodes.target
    per_episode = correct.mean(axis=1)
    ci = 1.96 * per_episode.std(ddof=1) / np.sqrt(len(per_episode)) if len(per_episode) > 1 else float("nan")
    return OneShotResult(float(correct.mean()), per_episode, float(ci))
