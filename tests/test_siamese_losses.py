"""Siamese losses against direct NumPy transcriptions of the lecture's formulas, mining, edge cases, saving."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib import losses as L
from cvlib.models.siamese import build_embedding_cnn, build_siamese

RNG = np.random.default_rng(0)


def np_dist(a, b):
    return float(np.sqrt(np.sum((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


# ------------------------------------------------------------------ NumPy transcriptions, one loop per formula


def ref_contrastive(y, d, m):
    return np.array([(1 - yi) * 0.5 * di**2 + yi * 0.5 * max(0.0, m - di) ** 2 for yi, di in zip(y, d)])


def ref_triplets(labels, e):
    n = len(labels)
    for a, p, k in itertools.product(range(n), repeat=3):
        if a != p and labels[a] == labels[p] and labels[k] != labels[a]:
            yield a, p, k


def ref_batch_all(labels, e, m):
    losses = [max(0.0, np_dist(e[a], e[p]) - np_dist(e[a], e[k]) + m) for a, p, k in ref_triplets(labels, e)]
    active = [v for v in losses if v > 1e-16]
    return float(np.mean(active)) if active else 0.0


def ref_batch_hard(labels, e, m):
    out = []
    for a in range(len(labels)):
        pos = [np_dist(e[a], e[p]) for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [np_dist(e[a], e[k]) for k in range(len(labels)) if labels[k] != labels[a]]
        if pos and neg:
            out.append(max(0.0, max(pos) - min(neg) + m))
    return float(np.mean(out)) if out else 0.0


def ref_semi_hard(labels, e, m):
    out = []
    n = len(labels)
    for a, p in itertools.product(range(n), repeat=2):
        if a == p or labels[a] != labels[p]:
            continue
        neg = [np_dist(e[a], e[k]) for k in range(n) if labels[k] != labels[a]]
        if not neg:
            continue
        d_ap = np_dist(e[a], e[p])
        farther = [d for d in neg if d > d_ap]
        d_an = min(farther) if farther else max(neg)
        out.append(max(0.0, d_ap - d_an + m))
    return float(np.mean(out)) if out else 0.0


# ------------------------------------------------------------------ pairs and triplets


def test_contrastive_matches_formula_on_random_inputs():
    y = RNG.integers(0, 2, 50)
    d = RNG.uniform(0, 2, 50)
    for m in (0.5, 1.0, 1.7):
        np.testing.assert_allclose(np.asarray(L.contrastive_loss(y, d, m)), ref_contrastive(y, d, m), rtol=1e-5,
                                   atol=1e-6)


def test_contrastive_zero_cases_of_the_lecture():
    # similar pair at distance 0, dissimilar pairs at or beyond the margin: no loss
    np.testing.assert_array_equal(np.asarray(L.contrastive_loss([0, 1, 1], [0.0, 1.0, 3.0], margin=1.0)), 0.0)
    # a similar pair pulls (D^2 / 2), a dissimilar one inside the margin pushes ((m - D)^2 / 2)
    np.testing.assert_allclose(np.asarray(L.contrastive_loss([0, 1], [0.6, 0.6], margin=1.0)), [0.18, 0.08], rtol=1e-6)


def test_siamese_bce_matches_formula():
    y = RNG.integers(0, 2, 40)
    p = RNG.uniform(0.01, 0.99, 40)
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(np.asarray(L.siamese_bce(y, p)), ref, rtol=1e-4)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(np.asarray(L.siamese_bce(y, logits[:, None], from_logits=True)), ref, rtol=1e-4)


def test_triplet_loss_matches_formula_and_is_zero_for_easy_triplets():
    a, p, n = (RNG.normal(size=(30, 8)) for _ in range(3))
    ref = [max(0.0, np_dist(x, y) - np_dist(x, z) + 0.3) for x, y, z in zip(a, p, n)]
    np.testing.assert_allclose(np.asarray(L.triplet_loss(a, p, n, 0.3)), ref, rtol=1e-5, atol=1e-6)
    easy = np.asarray(L.triplet_loss([[0.0, 0]], [[0.1, 0]], [[0.5, 0]], margin=0.3))  # d_an = d_ap + 0.4 > m
    assert easy[0] == 0.0
    assert list(L.triplet_type([0.1, 0.1, 0.5], [0.5, 0.3, 0.4], margin=0.3)) == ["easy", "semi-hard", "hard"]


# ------------------------------------------------------------------ in-batch mining


def test_mining_losses_match_transcriptions_on_random_batches():
    for trial, margin in enumerate([0.2, 0.5, 1.0, 2.0]):
        rng = np.random.default_rng(trial)
        labels = rng.integers(0, 4, 14)
        e = rng.normal(size=(14, 5)).astype(np.float32)
        ref = e.astype(float)
        assert float(L.batch_all_triplet_loss(labels, e, margin)) == pytest.approx(
            ref_batch_all(labels, ref, margin), rel=1e-4, abs=1e-5)
        assert float(L.batch_hard_triplet_loss(labels, e, margin)) == pytest.approx(
            ref_batch_hard(labels, ref, margin), rel=1e-4, abs=1e-5)
        assert float(L.batch_semi_hard_triplet_loss(labels, e, margin)) == pytest.approx(
            ref_semi_hard(labels, ref, margin), rel=1e-4, abs=1e-5)


def test_mining_picks_the_right_triplets_on_a_crafted_batch():
    # 1-D embeddings, so every distance is readable (and no two tie).  Class 0 at 0.0 and 1.0; class 1 at 0.6,
    # 1.5 and 3.0.
    labels = np.array([0, 0, 1, 1, 1])
    e = np.array([[0.0], [1.0], [0.6], [1.5], [3.0]], np.float32)
    margin = 1.0
    hard = {tuple(t) for t in L.mine_triplets(labels, e, "hard", margin)}
    # anchor 0: farthest positive 1 (d=1), closest negative 2 (d=0.6); anchor 3: positive 4 (1.5), negative 1 (0.5)
    assert hard == {(0, 1, 2), (1, 0, 2), (2, 4, 1), (3, 4, 1), (4, 2, 1)}
    semi = {tuple(t) for t in L.mine_triplets(labels, e, "semi-hard", margin)}
    # (0, 1): d_ap = 1; negatives at 0.6, 1.5, 3.0 -> semi-hard is the closest farther one: 3 (1.5)
    assert (0, 1, 3) in semi
    # (1, 0): d_ap = 1; negatives at 0.4, 0.5, 2.0 -> 4 (2.0), the only one farther than the positive
    assert (1, 0, 4) in semi
    # (2, 4): d_ap = 2.4; negatives at 0.6 and 0.4, both closer -> none farther: take the farthest, 0
    assert (2, 4, 0) in semi
    assert len(semi) == 2 + 6  # every positive pair: 2 of class 0, 6 of class 1
    everything = {tuple(t) for t in L.mine_triplets(labels, e, "all", margin)}
    assert (0, 1, 4) not in everything  # d_an = 3 >= d_ap + m: easy, loss 0, not averaged
    assert (0, 1, 2) in everything


@pytest.mark.parametrize("strategy, loss", [("all", L.batch_all_triplet_loss), ("hard", L.batch_hard_triplet_loss),
                                            ("semi-hard", L.batch_semi_hard_triplet_loss)])
@pytest.mark.parametrize("squared", [False, True])
def test_each_miner_equals_the_triplet_loss_over_its_triplets(strategy, loss, squared):
    labels = RNG.integers(0, 3, 16)
    e = RNG.normal(size=(16, 6)).astype(np.float32)
    t = L.mine_triplets(labels, e, strategy, 0.4, squared)
    per = np.asarray(L.triplet_loss(e[t[:, 0]], e[t[:, 1]], e[t[:, 2]], 0.4, squared))
    assert float(loss(labels, e, 0.4, squared)) == pytest.approx(per.mean() if len(t) else 0.0, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("loss", [L.batch_all_triplet_loss, L.batch_hard_triplet_loss, L.batch_semi_hard_triplet_loss])
@pytest.mark.parametrize("labels", [[3, 3, 3, 3, 3], [0, 1, 2, 3, 4], [7]], ids=["one class", "no positives", "one"])
def test_batches_without_a_triplet_give_zero_and_zero_gradient(loss, labels):
    x = tf.Variable(RNG.normal(size=(len(labels), 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        value = loss(np.array(labels), x, 0.5)
    grad = tape.gradient(value, x)
    assert float(value) == 0.0
    assert grad is None or np.all(np.asarray(grad) == 0)


@pytest.mark.parametrize("loss", [L.batch_all_triplet_loss, L.batch_hard_triplet_loss, L.batch_semi_hard_triplet_loss])
def test_gradients_finite_at_zero_distance(loss):
    # duplicated embeddings: distances of exactly 0, where d sqrt(x) / dx is infinite
    e = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]], np.float32)
    x = tf.Variable(e)
    with tf.GradientTape() as tape:
        value = loss(np.array([0, 0, 1, 1]), x, 2.0)
    grad = np.asarray(tape.gradient(value, x))
    assert np.isfinite(float(value)) and np.all(np.isfinite(grad))
    assert np.abs(grad).sum() > 0, "the negatives inside the margin must still push"
    for squared in (False, True):
        a = tf.Variable(np.zeros((3, 4), np.float32))
        with tf.GradientTape() as tape:
            d = L.euclidean_distance(a, tf.zeros((3, 4)), squared=squared)
        assert np.all(np.asarray(tape.gradient(d, a)) == 0)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="margin"):
        L.contrastive_loss([0], [0.1], margin=-1)
    with pytest.raises(ValueError, match="margin"):
        L.ContrastiveLoss(margin=float("nan"))
    with pytest.raises(ValueError, match="labels"):
        L.batch_hard_triplet_loss([0, 1, 0], np.zeros((4, 2)))
    with pytest.raises(ValueError, match="embeddings"):
        L.batch_all_triplet_loss([0, 1], np.zeros(2))
    with pytest.raises(ValueError, match="strategy"):
        L.mine_triplets([0, 1], np.zeros((2, 2)), "hardest")
    with pytest.raises(ValueError, match="a, b"):
        L.euclidean_distance(np.zeros((2, 3)), np.zeros((3, 3)))


# ------------------------------------------------------------------ Keras Loss classes: config and saving

LOSS_CLASSES = [
    (L.SiameseBCE, {"from_logits": True}),
    (L.ContrastiveLoss, {"margin": 0.7}),
    (L.TripletLoss, {"margin": 0.3, "squared": True}),
    (L.BatchAllTripletLoss, {"margin": 0.4}),
    (L.BatchHardTripletLoss, {"margin": 0.6}),
    (L.BatchSemiHardTripletLoss, {"margin": 0.25, "squared": True}),
]


@pytest.mark.parametrize("cls, kwargs", LOSS_CLASSES, ids=[c.__name__ for c, _ in LOSS_CLASSES])
def test_loss_classes_round_trip_their_config(cls, kwargs):
    loss = cls(**kwargs)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is cls
    for key, value in kwargs.items():
        assert getattr(again, key) == value


def test_loss_classes_equal_their_functions():
    labels = RNG.integers(0, 3, 12)
    e = RNG.normal(size=(12, 4)).astype(np.float32)
    assert float(L.BatchSemiHardTripletLoss(0.3)(labels, e)) == pytest.approx(
        float(L.batch_semi_hard_triplet_loss(labels, e, 0.3)), rel=1e-6)
    y, d = RNG.integers(0, 2, 10), RNG.uniform(0, 2, 10)
    assert float(L.ContrastiveLoss(1.0)(y, d)) == pytest.approx(float(np.mean(ref_contrastive(y, d, 1.0))), rel=1e-5)
    stacked = RNG.normal(size=(5, 3, 4)).astype(np.float32)
    ref = np.mean(np.asarray(L.triplet_loss(stacked[:, 0], stacked[:, 1], stacked[:, 2], 0.2)))
    assert float(L.TripletLoss(0.2)(np.zeros(5), stacked)) == pytest.approx(float(ref), rel=1e-6)


def test_models_trained_with_the_losses_save_and_load(tmp_path):
    x = RNG.uniform(size=(32, 8, 8, 1)).astype(np.float32)
    labels = np.repeat(np.arange(8), 4)
    embedding = build_embedding_cnn((8, 8, 1), embedding_dim=8, width=4)
    # run_eagerly: one step each is all we need, and tracing a graph would cost most of the test's time
    embedding.compile("adam", L.BatchSemiHardTripletLoss(margin=0.3), run_eagerly=True)
    assert np.isfinite(embedding.train_on_batch(x, labels))
    twin = build_siamese(embedding, head="distance")
    twin.compile("adam", L.ContrastiveLoss(margin=0.8), run_eagerly=True)
    assert np.isfinite(twin.train_on_batch([x, x[::-1]], (labels != labels[::-1]).astype(np.float32)))
    for name, model in [("embedding", embedding), ("twin", twin)]:
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded.loss) is type(model.loss) and loaded.loss.margin == model.loss.margin
        inputs = x if name == "embedding" else [x, x[::-1]]
        np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-5)
