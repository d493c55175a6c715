"""Box losses against NumPy transcriptions of their formulas and against cvlib.boxes, degenerate boxes, bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib import boxes as B
from cvlib import losses as L

RNG = np.random.default_rng(0)


def random_boxes(n, rng=RNG, low=-0.2, high=1.2):
    """Random valid xyxy boxes, some reaching outside [0, 1] (the losses do not know the image)."""
    xy = rng.uniform(low, high, (n, 2))
    wh = rng.uniform(0.01, 0.6, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def pairs(n=200):
    """True boxes and predictions: overlapping, nested, disjoint and identical pairs mixed."""
    t = random_boxes(n)
    p = np.concatenate([t[: n // 4] + RNG.normal(0, 0.05, (n // 4, 4)), random_boxes(n - n // 4)])
    p[:10] = t[:10]  # identical
    p = np.concatenate([np.minimum(p[:, :2], p[:, 2:]), np.maximum(p[:, :2], p[:, 2:])], axis=1)
    return t, p


# ------------------------------------------------------------------ NumPy transcriptions, one loop per formula


def ref_l2(t, p):
    return np.array([sum((pk - tk) ** 2 for pk, tk in zip(pi, ti)) for ti, pi in zip(t, p)])


def ref_smooth_l1(t, p, beta):
    def f(x):
        return 0.5 * x * x / beta if abs(x) < beta else abs(x) - 0.5 * beta

    return np.array([sum(f(pk - tk) for pk, tk in zip(pi, ti)) for ti, pi in zip(t, p)])


def test_l2_matches_formula():
    t, p = pairs()
    np.testing.assert_allclose(np.asarray(L.l2_box_loss(t, p)), ref_l2(t, p), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 0.1, 0.02])
def test_smooth_l1_matches_formula_and_keras_huber(beta):
    t, p = pairs()
    ours = np.asarray(L.smooth_l1_loss(t, p, beta))
    np.testing.assert_allclose(ours, ref_smooth_l1(t, p, beta), rtol=1e-5, atol=1e-6)
    # Keras' Huber(delta) is beta times smooth L1, averaged rather than summed over the 4 coordinates.
    huber = keras.losses.Huber(delta=beta, reduction=None)(t.astype("float32"), p.astype("float32"))
    np.testing.assert_allclose(ours, 4 * np.asarray(huber) / beta, rtol=1e-4, atol=1e-6)


def test_smooth_l1_with_large_beta_is_half_l2():
    t, p = pairs()
    np.testing.assert_allclose(np.asarray(L.smooth_l1_loss(t, p, beta=10.0)),
                               np.asarray(L.l2_box_loss(t, p)) / 20.0, rtol=1e-5, atol=1e-7)


def test_giou_loss_and_iou_equal_cvlib_boxes():
    t, p = pairs()
    np.testing.assert_allclose(np.asarray(L.giou_loss(t, p)), 1 - np.diag(B.giou(t, p)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(L.paired_iou(t, p)), np.diag(B.iou(t, p)), rtol=1e-5, atol=1e-5)


def test_giou_loss_in_pixels_equals_cvlib_boxes():
    t, p = pairs()
    np.testing.assert_allclose(np.asarray(L.giou_loss(64 * t, 64 * p)), 1 - np.diag(B.giou(64 * t, 64 * p)),
                               rtol=1e-4, atol=1e-5)


def test_giou_loss_sorts_predicted_corners():
    t, p = pairs()
    flipped = p[:, [2, 3, 0, 1]]  # x2 < x1 and y2 < y1: what an untrained network may predict
    np.testing.assert_allclose(np.asarray(L.giou_loss(t, flipped)), np.asarray(L.giou_loss(t, p)), atol=1e-6)


def test_every_loss_is_zero_for_perfect_boxes_and_positive_otherwise():
    t, p = pairs()
    for loss in (L.l2_box_loss, L.smooth_l1_loss, L.giou_loss):
        assert np.allclose(np.asarray(loss(t, t)), 0.0, atol=1e-6), loss.__name__
        assert (np.asarray(loss(t[10:], p[10:])) > 0).all(), loss.__name__
    assert np.allclose(np.asarray(L.paired_iou(t, t)), 1.0)


def test_giou_keeps_growing_for_disjoint_boxes_where_iou_is_flat():
    t = np.array([[0.0, 0.0, 0.1, 0.1]] * 3)
    p = np.array([[0.2, 0.0, 0.3, 0.1], [0.5, 0.0, 0.6, 0.1], [0.9, 0.0, 1.0, 0.1]])
    loss = np.asarray(L.giou_loss(t, p))
    assert np.allclose(np.asarray(L.paired_iou(t, p)), 0.0)
    assert 1 < loss[0] < loss[1] < loss[2] < 2, "farther disjoint boxes must cost more"
    pred = tf.Variable(p, dtype="float32")
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(L.giou_loss(tf.constant(t, "float32"), pred))
    grad = tape.gradient(value, pred).numpy()
    assert (grad[:, 0] > 0).all(), "moving a disjoint box towards its target must lower the GIoU loss"


# ------------------------------------------------------------ degenerate boxes: documented values, finite gradients


def test_zero_area_boxes_have_documented_values():
    t = np.array([[0.2, 0.2, 0.6, 0.6], [0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], [0.1, 0.1, 0.1, 0.5]])
    p = np.array([[0.4, 0.4, 0.4, 0.4], [0.3, 0.3, 0.3, 0.3], [0.2, 0.2, 0.5, 0.5], [0.1, 0.1, 0.1, 0.5]])
    assert np.allclose(np.asarray(L.paired_iou(t, p)), 0.0), "a zero-area box overlaps nothing"
    np.testing.assert_allclose(np.asarray(L.giou_loss(t, p)), 1 - np.diag(B.giou(t, p)), atol=1e-6)
    assert np.isclose(float(L.giou_loss(t[1:2], p[1:2])[0]), 1.0), "an empty union has GIoU 0"


@pytest.mark.parametrize("loss", [L.l2_box_loss, L.smooth_l1_loss, L.giou_loss, L.paired_iou])
def test_gradients_are_finite_for_degenerate_boxes(loss):
    t = tf.constant([[0.3, 0.3, 0.3, 0.3], [0.2, 0.2, 0.6, 0.6], [0.5, 0.1, 0.5, 0.9], [0.0, 0.0, 0.0, 0.0]])
    pred = tf.Variable([[0.3, 0.3, 0.3, 0.3], [0.4, 0.4, 0.4, 0.4], [0.5, 0.1, 0.5, 0.9], [0.7, 0.7, 0.2, 0.2]])
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(loss(t, pred))
    grad = tape.gradient(value, pred)
    assert np.isfinite(value.numpy()) and np.isfinite(grad.numpy()).all()


def test_empty_inputs_give_empty_losses():
    for loss in (L.l2_box_loss, L.smooth_l1_loss, L.giou_loss, L.paired_iou):
        assert tuple(loss(np.zeros((0, 4)), []).shape) == (0,)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        (np.zeros((3, 3)), np.zeros((3, 4)), "y_true: expected shape"),
        (np.zeros((3, 4)), np.zeros((3, 4, 1)), "y_pred: expected shape"),
        (np.zeros((3, 4)), np.zeros((2, 4)), "y_pred: expected the shape of y_true"),
        (np.full((1, 4), np.nan), np.zeros((1, 4)), "y_true: contains NaN"),
        (np.zeros((1, 4)), np.full((1, 4), np.inf), "y_pred: contains inf"),
        ([[0.5, 0.5, 0.2, 0.9]], [[0.0, 0.0, 1.0, 1.0]], "y_true: box .* negative width"),
        ("boxes", np.zeros((1, 4)), "y_true: expected an array of numbers"),
        (tf.zeros((2, 5)), tf.zeros((2, 5)), "y_true: expected shape"),
    ],
)
@pytest.mark.parametrize("loss", [L.l2_box_loss, L.smooth_l1_loss, L.giou_loss])
def test_bad_input_raises_naming_the_argument(loss, y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        loss(y_true, y_pred)


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), True, "1"])
def test_smooth_l1_rejects_bad_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        L.smooth_l1_loss(np.zeros((1, 4)), np.zeros((1, 4)), beta=beta)
    with pytest.raises(ValueError, match="beta"):
        L.SmoothL1Loss(beta=beta)


# ------------------------------------------------------------------ Keras losses: reduction, config, training, saving


@pytest.mark.parametrize(
    ("cls", "fn", "kwargs"),
    [(L.L2BoxLoss, L.l2_box_loss, {}), (L.SmoothL1Loss, L.smooth_l1_loss, {"beta": 0.05}),
     (L.GIoULoss, L.giou_loss, {})],
)
def test_keras_loss_is_the_batch_mean_and_round_trips_its_config(cls, fn, kwargs):
    t, p = pairs(64)
    loss = cls(**kwargs)
    assert np.isclose(float(loss(t, p)), float(np.mean(np.asarray(fn(t, p, **kwargs)))), rtol=1e-5)
    clone = cls.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert keras.saving.get_registered_object(f"cvlib>{cls.__name__}") is cls


def test_a_model_trained_with_giou_loss_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(64, 8)).astype("float32")
    t = np.clip(np.sort(RNG.uniform(0, 1, (64, 2, 2)), axis=1).reshape(64, 4)[:, [0, 2, 1, 3]], 0, 1)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="sigmoid")])
    model.compile(optimizer="adam", loss=L.SmoothL1Loss(beta=0.1), metrics=[L.paired_iou])
    history = model.fit(x, t.astype("float32"), epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.compile(optimizer="adam", loss=L.GIoULoss())
    model.fit(x, t.astype("float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, L.GIoULoss)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
