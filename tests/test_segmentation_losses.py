"""Dice and cross-entropy + Dice losses: known values, the metric they relax, label formats, gradients, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib.losses import CrossEntropyDiceLoss, DiceLoss, cross_entropy_dice_loss, dice_loss
from cvlib.metrics import segmentation as S

RNG = np.random.default_rng(0)


def _one_hot(labels, num_classes):
    return np.eye(num_classes, dtype="float32")[labels]


def test_hard_predictions_give_one_minus_the_dice_metric():
    truth = RNG.integers(0, 4, (3, 12, 12))
    pred = np.where(RNG.random(truth.shape) < 0.6, truth, RNG.integers(0, 4, truth.shape))
    loss = float(dice_loss(truth, _one_hot(pred, 4), smooth=0.0))
    assert loss == pytest.approx(1 - S.dice(truth, pred, num_classes=4), abs=1e-6)


def test_per_image_dice_by_hand():
    truth = RNG.integers(0, 3, (2, 5, 5))
    probs = RNG.dirichlet(np.ones(3), size=(2, 5, 5)).astype("float32")
    t = _one_hot(truth, 3)
    overlap, total = (t * probs).sum((1, 2)), t.sum((1, 2)) + probs.sum((1, 2))
    expected = 1 - ((2 * overlap + 1) / (total + 1)).mean(-1)
    got = np.asarray(dice_loss(truth, probs, smooth=1.0, per_image=True))
    assert got.shape == (2,)
    assert np.allclose(got, expected, atol=1e-6)


def test_batch_dice_sums_over_the_batch():
    truth = RNG.integers(0, 3, (4, 6, 6))
    probs = RNG.dirichlet(np.ones(3), size=(4, 6, 6)).astype("float32")
    t = _one_hot(truth, 3)
    overlap, total = (t * probs).sum((0, 1, 2)), t.sum((0, 1, 2)) + probs.sum((0, 1, 2))
    expected = 1 - ((2 * overlap + 1) / (total + 1)).mean()
    got = dice_loss(truth, probs)
    assert tuple(got.shape) == ()
    assert float(got) == pytest.approx(float(expected), abs=1e-6)


def test_label_formats_agree():
    truth = RNG.integers(0, 5, (2, 8, 8))
    logits = RNG.normal(size=(2, 8, 8, 5)).astype("float32")
    sparse = float(dice_loss(truth, logits, from_logits=True))
    trailing = float(dice_loss(truth[..., None], logits, from_logits=True))
    one_hot = float(dice_loss(_one_hot(truth, 5), logits, from_logits=True))
    probs = float(dice_loss(truth, np.asarray(keras.ops.softmax(logits)), from_logits=False))
    assert sparse == pytest.approx(trailing) == pytest.approx(one_hot) == pytest.approx(probs, abs=1e-6)


def test_two_empty_masks_give_zero_loss_and_a_miss_gives_almost_one():
    empty = np.zeros((1, 8, 8, 1), "float32")
    assert float(dice_loss(empty, empty)) == pytest.approx(0.0)
    confident_no = np.full((1, 8, 8, 1), -20.0, "float32")
    assert float(dice_loss(empty, confident_no, from_logits=True)) == pytest.approx(0, abs=1e-6)
    full = np.ones((1, 8, 8, 1), "float32")
    assert float(dice_loss(full, empty)) == pytest.approx(1 - 1 / 65)  # (0 + 1) / (64 + 1)


def test_perfect_prediction_gives_zero_loss():
    truth = RNG.integers(0, 3, (2, 6, 6))
    assert float(dice_loss(truth, _one_hot(truth, 3))) == pytest.approx(0.0, abs=1e-6)
    assert float(np.max(cross_entropy_dice_loss(truth, 50 * _one_hot(truth, 3), from_logits=True))) < 1e-5


def test_binary_mask_uses_a_sigmoid():
    mask = (RNG.random((2, 6, 6)) < 0.3).astype("float32")
    logits = RNG.normal(size=(2, 6, 6, 1)).astype("float32")
    p = 1 / (1 + np.exp(-logits[..., 0]))
    expected = 1 - (2 * (mask * p).sum() + 1) / (mask.sum() + p.sum() + 1)
    assert float(dice_loss(mask, logits, from_logits=True)) == pytest.approx(expected, abs=1e-6)
    assert float(dice_loss(mask[..., None], logits, from_logits=True)) == pytest.approx(expected, abs=1e-6)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)(mask[..., None], logits)
    combined = np.asarray(cross_entropy_dice_loss(mask, logits, from_logits=True, dice_weight=0.0))
    assert np.mean(combined) == pytest.approx(float(bce), abs=1e-5)


def test_cross_entropy_part_equals_keras():
    truth = RNG.integers(0, 4, (3, 7, 7))
    logits = (5 * RNG.normal(size=(3, 7, 7, 4))).astype("float32")
    ours = np.asarray(cross_entropy_dice_loss(truth, logits, from_logits=True, dice_weight=0.0))
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(truth, logits)
    assert ours.shape == (3,)
    assert np.allclose(ours, np.asarray(keras_ce).mean((1, 2)), atol=1e-5)
    both = np.asarray(cross_entropy_dice_loss(truth, logits, from_logits=True, dice_weight=2.0))
    assert np.allclose(both - ours, 2 * float(dice_loss(truth, logits, from_logits=True)), atol=1e-5)


def test_large_logits_stay_finite():
    truth = np.zeros((1, 4, 4), int)
    logits = np.zeros((1, 4, 4, 3), "float32")
    logits[..., 1] = 1e4  # confidently wrong
    value = np.asarray(cross_entropy_dice_loss(truth, logits, from_logits=True))
    assert np.isfinite(value).all() and value[0] > 1000


def test_gradient_lowers_the_loss():
    truth = RNG.integers(0, 3, (2, 8, 8))
    logits = tf.Variable(RNG.normal(size=(2, 8, 8, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        before = dice_loss(truth, logits, from_logits=True)
    grad = tape.gradient(before, logits)
    assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).max() > 0
    after = dice_loss(truth, logits - 50.0 * grad, from_logits=True)
    assert float(after) < float(before)


def test_loss_classes_match_the_functions_and_round_trip_their_config():
    truth = RNG.integers(0, 3, (2, 6, 6))
    logits = RNG.normal(size=(2, 6, 6, 3)).astype("float32")
    dice = DiceLoss(from_logits=True, smooth=0.5, per_image=True)
    assert float(dice(truth, logits)) == pytest.approx(float(np.mean(dice_loss(truth, logits, True, 0.5, True))))
    combined = CrossEntropyDiceLoss(from_logits=True, dice_weight=0.3)
    expected = np.mean(cross_entropy_dice_loss(truth, logits, from_logits=True, dice_weight=0.3))
    assert float(combined(truth, logits)) == pytest.approx(float(expected), abs=1e-6)
    for loss in (dice, combined):
        clone = type(loss).from_config(loss.get_config())
        assert clone.get_config() == loss.get_config()
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
        assert float(restored(truth, logits)) == pytest.approx(float(loss(truth, logits)))


@pytest.mark.parametrize(
    ("truth_shape", "pred_shape", "match"),
    [
        ((2, 8, 8), (2, 8, 6, 3), "y_true: expected labels of shape"),
        ((2, 8, 8, 2), (2, 8, 8, 3), "y_true: expected labels of shape"),
        ((2, 8), (2, 8, 8, 3), "y_true"),
        ((2,), (2,), "y_pred: expected scores"),
    ],
)
def test_mismatched_shapes(truth_shape, pred_shape, match):
    with pytest.raises(ValueError, match=match):
        dice_loss(np.zeros(truth_shape, "float32"), np.zeros(pred_shape, "float32"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"smooth": -1.0}, "smooth"), ({"smooth": "a"}, "smooth"), ({"dice_weight": -1.0}, "dice_weight")],
)
def test_bad_options(kwargs, match):
    truth, pred = np.zeros((1, 4, 4)), np.zeros((1, 4, 4, 2), "float32")
    with pytest.raises(ValueError, match=match):
        cross_entropy_dice_loss(truth, pred, **kwargs)
    with pytest.raises(ValueError, match=match):
        CrossEntropyDiceLoss(**kwargs)


def test_labels_outside_the_class_range():
    pred = np.zeros((1, 4, 4, 3), "float32")
    for bad in (3, -1):
        with pytest.raises(ValueError, match=r"y_true: labels must lie in \[0, 3\)"):
            dice_loss(np.full((1, 4, 4), bad), pred)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        cross_entropy_dice_loss(np.full((1, 4, 4), 2), np.zeros((1, 4, 4, 1), "float32"))


def test_trains_inside_a_compiled_step():
    """The checks must not break tracing: fit a 1x1-conv model under tf.function."""
    x = RNG.random((8, 8, 8, 3)).astype("float32")
    y = x.argmax(-1)  # the brightest channel: a 1x1 convolution can learn it
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=CrossEntropyDiceLoss(from_logits=True))
    history = model.fit(x, y, epochs=40, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < 0.6 * history[0]
