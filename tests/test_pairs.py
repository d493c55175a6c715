"""Pair, triplet, P x K batch and episode samplers; the digits split; the glyph alphabet; one-shot accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib.data.glyphs import make_glyphs
from cvlib.data.pairs import (
    digits_split,
    sample_class_batches,
    sample_episodes,
    sample_pairs,
    sample_triplets,
)
from cvlib.metrics.oneshot import one_shot_accuracy

LABELS = np.repeat(np.arange(6), [5, 3, 8, 2, 4, 6])


def test_pairs_are_balanced_deterministic_and_correct():
    pairs = sample_pairs(LABELS, 101, positive_fraction=0.3, seed=3)
    assert len(pairs) == 101 and pairs.same.sum() == round(101 * 0.3)
    np.testing.assert_array_equal(pairs.same, LABELS[pairs.first] == LABELS[pairs.second])
    assert np.all(pairs.first != pairs.second)
    again = sample_pairs(LABELS, 101, positive_fraction=0.3, seed=3)
    np.testing.assert_array_equal(pairs.first, again.first)
    np.testing.assert_array_equal(pairs.second, again.second)
    assert not np.array_equal(pairs.first, sample_pairs(LABELS, 101, positive_fraction=0.3, seed=4).first)
    assert 0 < pairs.same[:50].sum() < 50, "pairs come shuffled, not positives first"


def test_pairs_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="num_pairs"):
        sample_pairs(LABELS, 0)
    with pytest.raises(ValueError, match="positive_fraction"):
        sample_pairs(LABELS, 10, positive_fraction=1.5)
    with pytest.raises(ValueError, match="labels"):
        sample_pairs(np.zeros(5, int), 10)  # one class: no negative pair
    with pytest.raises(ValueError, match="labels"):
        sample_pairs(np.arange(5), 10)  # every class once: no positive pair
    with pytest.raises(ValueError, match="labels"):
        sample_pairs(np.zeros((3, 2)), 4)
    assert len(sample_pairs(np.arange(5), 10, positive_fraction=0.0)) == 10  # negatives only are fine


def test_triplets_have_a_positive_and_a_negative():
    t = sample_triplets(LABELS, 200, seed=1)
    assert t.shape == (200, 3)
    assert np.all(LABELS[t[:, 0]] == LABELS[t[:, 1]]) and np.all(t[:, 0] != t[:, 1])
    assert np.all(LABELS[t[:, 0]] != LABELS[t[:, 2]])
    np.testing.assert_array_equal(t, sample_triplets(LABELS, 200, seed=1))
    with pytest.raises(ValueError, match="labels"):
        sample_triplets(np.zeros(4, int), 3)
    with pytest.raises(ValueError, match="num_triplets"):
        sample_triplets(LABELS, -1)


def test_class_batches_hold_k_examples_of_p_classes():
    batches = sample_class_batches(LABELS, 7, classes_per_batch=3, per_class=3, seed=0)
    assert batches.shape == (7, 9)
    for b in batches:
        assert len(set(b)) == 9
        groups = LABELS[b].reshape(3, 3)
        assert np.all(groups == groups[:, :1]) and len(set(groups[:, 0])) == 3
        assert 3 not in groups, "class 3 has only two examples and cannot fill a group of three"
    with pytest.raises(ValueError, match="classes_per_batch"):
        sample_class_batches(LABELS, 2, classes_per_batch=6, per_class=3)


def test_episodes_structure():
    eps = sample_episodes(LABELS, 50, n_way=4, k_shot=2, queries_per_class=1, seed=0)
    assert len(eps) == 50 and eps.n_way == 4
    assert eps.classes.shape == (50, 4) and eps.support.shape == (50, 4, 2) and eps.query.shape == (50, 4)
    for e in range(50):
        assert len(set(eps.classes[e])) == 4
        assert np.all(LABELS[eps.support[e]] == eps.classes[e][:, None])
        np.testing.assert_array_equal(LABELS[eps.query[e]], eps.classes[e][eps.target[e]])
        used = np.r_[eps.support[e].ravel(), eps.query[e]]
        assert len(set(used)) == len(used), "a query is never its own support"
    assert 3 not in eps.classes, "class 3 has two examples, too few for two shots and a query"
    assert not np.all(eps.target == np.arange(4)), "queries come shuffled"
    np.testing.assert_array_equal(eps.query, sample_episodes(LABELS, 50, 4, 2, seed=0).query)
    with pytest.raises(ValueError, match="n_way"):
        sample_episodes(LABELS, 5, n_way=7)
    with pytest.raises(ValueError, match="num_episodes"):
        sample_episodes(LABELS, 0)


def test_one_shot_accuracy_on_a_known_similarity():
    eps = sample_episodes(LABELS, 200, n_way=5, seed=2)
    perfect = (LABELS[:, None] == LABELS[None, :]).astype(float)
    assert one_shot_accuracy(perfect, eps).accuracy == 1.0
    assert one_shot_accuracy(-perfect, eps).accuracy == 0.0
    chance = one_shot_accuracy(np.random.default_rng(0).normal(size=(len(LABELS),) * 2), eps)
    assert abs(chance.accuracy - 0.2) < 3 * chance.ci95 + 0.02
    assert chance.interval[0] < chance.accuracy < chance.interval[1]
    with pytest.raises(ValueError, match="similarity"):
        one_shot_accuracy(np.zeros((3, 3)), eps)
    with pytest.raises(ValueError, match="episodes"):
        one_shot_accuracy(perfect, [1, 2])


def test_digits_split_separates_the_classes():
    d = digits_split(train_classes=(0, 2, 4, 6, 8))
    assert d.unseen_classes == (1, 3, 5, 7, 9)
    assert set(d.y_train) == {0, 2, 4, 6, 8} and set(d.y_unseen) == {1, 3, 5, 7, 9}
    assert d.x_train.shape[1:] == (8, 8, 1) and len(d.x_train) + len(d.x_unseen) == 1797
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    with pytest.raises(ValueError, match="train_classes"):
        digits_split(train_classes=(3, 12))


def test_glyphs_are_seeded_and_vary_within_a_class():
    g = make_glyphs(6, per_class=4, size=16, seed=5)
    assert g.images.shape == (24, 16, 16, 1) and g.images.dtype == np.float32
    assert 0.0 <= g.images.min() and g.images.max() <= 1.0 and g.images.mean() > 0.02
    np.testing.assert_array_equal(g.images, make_glyphs(6, per_class=4, size=16, seed=5).images)
    flat = g.images.reshape(24, -1)
    within = np.abs(flat[0] - flat[1]).sum()
    assert within > 0, "drawings of one character differ"
    still = make_glyphs(3, per_class=2, size=16, jitter=0.0, seed=5).images
    np.testing.assert_array_equal(still[0], still[1])
    assert make_glyphs(2, 2, seed=0, first_class=100).labels.tolist() == [100, 100, 101, 101]
    with pytest.raises(ValueError, match="jitter"):
        make_glyphs(2, jitter=-1)
    with pytest.raises(ValueError, match="size"):
        make_glyphs(2, size=4)
