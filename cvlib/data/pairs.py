"""Pairs, triplets and N-way one-shot episodes over a labelled set, and the digits split (notebook 08).

Everything works on *indices* into a labelled array, so the same sampler serves images, embeddings or
file names, and nothing is copied until a batch is built (``x[pairs.first]``). Every sampler is seeded
and gives the same draw for the same seed.

- ``sample_pairs``: balanced same/different pairs for BCE and contrastive training;
- ``sample_triplets``: (anchor, positive, negative) index triplets;
- ``sample_episodes``: N-way K-shot episodes (Vinyals et al., 2016; Koch et al., 2015) for one-shot evaluation;
- ``digits_split``: scikit-learn's handwritten digits (ships offline), split into training classes and
  classes never seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvlib._checks import to_numpy

__all__ = [
    "DigitsSplit",
    "Episodes",
    "Pairs",
    "digits_split",
    "sample_class_batches",
    "sample_episodes",
    "sample_pairs",
    "sample_triplets",
]


def _labels(labels, name: str = "labels") -> np.ndarray:
    arr = to_numpy(labels, name, dtype=None)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.str_)):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: expected integer (or string) class labels, got dtype {arr.dtype}")
    return arr


def _count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _by_class(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    classes = np.unique(labels)
    return classes, [np.flatnonzero(labels == c) for c in classes]


@dataclass(frozen=True)
class Pairs:
    """Index pairs: ``first[i]`` and ``second[i]`` index the labelled set; ``same[i]`` is 1 for the same class."""

    first: np.ndarray
    second: np.ndarray
    same: np.ndarray

    def __len__(self) -> int:
        return len(self.same)


def sample_pairs(labels, num_pairs: int, positive_fraction: float = 0.5, seed: int = 0) -> Pairs:
    """Draw ``num_pairs`` pairs, exactly ``round(num_pairs * positive_fraction)`` of them of the same class.

    Positive pairs pick a class uniformly (among classes with at least two examples), then two distinct
    examples of it; negative pairs pick two different classes uniformly, then one example of each.
    Uniform over classes, not examples, so rare classes are not drowned out. The pairs come shuffled.
    """
    labels = _labels(labels)
    num_pairs = _count(num_pairs, "num_pairs")
    if isinstance(positive_fraction, bool) or not 0.0 <= float(positive_fraction) <= 1.0:
        raise ValueError(f"positive_fraction: expected a number in [0, 1], got {positive_fraction!r}")
    classes, members = _by_class(labels)
    num_pos = round(num_pairs * float(positive_fraction))
    num_neg = num_pairs - num_pos
    multi = [m for m in members if len(m) >= 2]
    if num_pos and not multi:
        raise ValueError("labels: positive pairs need a class with at least two examples; every class has one")
    if num_neg and len(classes) < 2:
        raise ValueError(f"labels: negative pairs need at least two classes, got {len(classes)}")
    rng = np.random.default_rng(seed)
    first, second = np.empty(num_pairs, np.int64), np.empty(num_pairs, np.int64)
    for i, c in enumerate(rng.integers(len(multi), size=num_pos) if num_pos else []):
        first[i], second[i] = rng.choice(multi[c], size=2, replace=False)
    for i in range(num_pos, num_pairs):
        a, b = rng.choice(len(classes), size=2, replace=False)
        first[i], second[i] = rng.choice(members[a]), rng.choice(members[b])
    same = np.r_[np.ones(num_pos, np.int64), np.zeros(num_neg, np.int64)]
    order = rng.permutation(num_pairs)
    return Pairs(first[order], second[order], same[order])


def sample_triplets(labels, num_triplets: int, seed: int = 0) -> np.ndarray:
    """Draw ``(num_triplets, 3)`` index triplets ``(anchor, positive, negative)``, uniformly over anchor classes.

    The positive is another example of the anchor's class, the negative an example of another class.
    These are *random* (mostly easy) triplets; the batch miners of ``cvlib.losses`` pick harder ones.
    """
    labels = _labels(labels)
    num_triplets = _count(num_triplets, "num_triplets")
    classes, members = _by_class(labels)
    anchors = [i for i, m in enumerate(members) if len(m) >= 2]
    if not anchors:
        raise ValueError("labels: triplets need a class with at least two examples; every class has one")
    if len(classes) < 2:
        raise ValueError(f"labels: triplets need at least two classes, got {len(classes)}")
    rng = np.random.default_rng(seed)
    out = np.empty((num_triplets, 3), np.int64)
    for i in range(num_triplets):
        c = anchors[rng.integers(len(anchors))]
        out[i, :2] = rng.choice(members[c], size=2, replace=False)
        other = rng.integers(len(classes) - 1)
        out[i, 2] = rng.choice(members[other + (other >= c)])
    return out


def sample_class_batches(labels, num_batches: int, classes_per_batch: int = 16, per_class: int = 4,
                         seed: int = 0) -> np.ndarray:
    """``(num_batches, classes_per_batch * per_class)`` indices: "P x K" batches for in-batch triplet mining.

    Each batch holds ``per_class`` distinct examples of each of ``classes_per_batch`` distinct classes
    (Hermans et al., 2017), so every anchor has positives and negatives to mine; random batches over many
    classes would hold almost no positive pair. Classes with fewer than ``per_class`` examples are skipped.
    """
    labels = _labels(labels)
    num_batches = _count(num_batches, "num_batches")
    classes_per_batch = _count(classes_per_batch, "classes_per_batch", 2)
    per_class = _count(per_class, "per_class", 2)
    _, members = _by_class(labels)
    usable = [m for m in members if len(m) >= per_class]
    if len(usable) < classes_per_batch:
        raise ValueError(f"classes_per_batch: {classes_per_batch} classes with at least {per_class} examples "
                         f"needed, labels has {len(usable)}")
    rng = np.random.default_rng(seed)
    out = np.empty((num_batches, classes_per_batch, per_class), np.int64)
    for b in range(num_batches):
        for j, c in enumerate(rng.choice(len(usable), size=classes_per_batch, replace=False)):
            out[b, j] = rng.choice(usable[c], size=per_class, replace=False)
    return out.reshape(num_batches, -1)


@dataclass(frozen=True)
class Episodes:
    """N-way K-shot episodes over a labelled set (all arrays hold indices into it).

    ``classes``: ``(E, n_way)`` the episode's classes; ``support``: ``(E, n_way, k_shot)``, support example
    ``support[e, j]`` of class ``classes[e, j]``; ``query``: ``(E, Q)`` query examples, never in the support;
    ``target``: ``(E, Q)`` the position ``j`` (0 .. n_way - 1) of each query's class.
    """

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def n_way(self) -> int:
        return self.classes.shape[1]


def sample_episodes(labels, num_episodes: int, n_way: int = 5, k_shot: int = 1, queries_per_class: int = 1,
                    seed: int = 0) -> Episodes:
    """Draw ``num_episodes`` N-way K-shot episodes: ``n_way`` distinct classes, ``k_shot`` support examples and
    ``queries_per_class`` queries of each, all distinct examples.

    One-shot evaluation (``k_shot=1``) classifies each query by the most similar support example; see
    ``cvlib.metrics.oneshot``.
    """
    labels = _labels(labels)
    num_episodes = _count(num_episodes, "num_episodes")
    n_way = _count(n_way, "n_way", 2)
    k_shot = _count(k_shot, "k_shot")
    queries_per_class = _count(queries_per_class, "queries_per_class")
    classes, members = _by_class(labels)
    need = k_shot + queries_per_class
    usable = np.array([i for i, m in enumerate(members) if len(m) >= need])
    if len(usable) < n_way:
        raise ValueError(f"n_way: {n_way}-way episodes need {n_way} classes with at least {need} examples "
                         f"(k_shot + queries_per_class); labels has {len(usable)}")
    rng = np.random.default_rng(seed)
    ep_classes = np.empty((num_episodes, n_way), dtype=classes.dtype)
    support = np.empty((num_episodes, n_way, k_shot), np.int64)
    query = np.empty((num_episodes, n_way, queries_per_class), np.int64)
    for e in range(num_episodes):
        chosen = rng.choice(usable, size=n_way, replace=False)
        ep_classes[e] = classes[chosen]
        for j, c in enumerate(chosen):
            picked = rng.choice(members[c], size=need, replace=False)
            support[e, j], query[e, j] = picked[:k_shot], picked[k_shot:]
    target = np.broadcast_to(np.arange(n_way)[:, None], (n_way, queries_per_class))
    # shuffle the queries so that the target order carries no information
    order = np.argsort(rng.random((num_episodes, n_way * queries_per_class)), axis=1)
    query = np.take_along_axis(query.reshape(num_episodes, -1), order, axis=1)
    target = np.take_along_axis(np.tile(target.reshape(1, -1), (num_episodes, 1)), order, axis=1)
    return Episodes(ep_classes, support, query, target)


@dataclass(frozen=True)
class DigitsSplit:
    """The digits split by class: images ``(N, 8, 8, 1)`` in [0, 1] and integer labels (the digit)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_unseen: np.ndarray
    y_unseen: np.ndarray
    train_classes: tuple[int, ...]
    unseen_classes: tuple[int, ...]


def digits_split(train_classes=(0, 1, 2, 3, 4)) -> DigitsSplit:
    """scikit-learn's 1,797 handwritten digits (8 x 8, 16 grey levels; ships with scikit-learn, no download),
    split into ``train_classes`` for training and the remaining digits, never seen in training.
    """
    from sklearn.datasets import load_digits  # scikit-learn ships the data set; imported here to keep cvlib light

    train = tuple(sorted({int(c) for c in np.atleast_1d(to_numpy(train_classes, "train_classes", dtype=np.int64))}))
    if not train or min(train) < 0 or max(train) > 9 or len(train) > 8:
        raise ValueError(f"train_classes: expected between 1 and 8 distinct digits 0..9 (leaving at least two "
                         f"unseen), got {train_classes!r}")
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    seen = np.isin(y, train)
    unseen = tuple(c for c in range(10) if c not in train)
    return DigitsSplit(x[seen], y[seen], x[~seen], y[~seen], train, unseen)
