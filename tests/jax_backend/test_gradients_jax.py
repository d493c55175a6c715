"""Run by ``make test-jax`` only: the checks that the TensorFlow suite makes with ``tf.GradientTape`` and
``tf.function``, made with ``jax.grad`` and ``jax.jit`` on the same cvlib functions and layers.

tools/jax_tests.py deselects those TensorFlow-driven tests; these are their JAX counterparts, so the
gradients and traced execution of the keras.ops code are checked on both backends.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cvlib import losses as L
from cvlib.layers.roi import RoIAlign, RoIPool, roi_align, roi_pool
from cvlib.losses.segmentation import dice_loss


def test_giou_gradient_pulls_a_disjoint_box_towards_its_target():
    t = jnp.asarray([[0.0, 0.0, 0.1, 0.1]] * 3, "float32")
    p = jnp.asarray([[0.2, 0.0, 0.3, 0.1], [0.5, 0.0, 0.6, 0.1], [0.9, 0.0, 1.0, 0.1]], "float32")
    grad = np.asarray(jax.grad(lambda q: jnp.sum(L.giou_loss(t, q)))(p))
    assert (grad[:, 0] > 0).all(), "moving a disjoint box towards its target must lower the GIoU loss"


@pytest.mark.parametrize("loss", [L.l2_box_loss, L.smooth_l1_loss, L.giou_loss, L.paired_iou])
def test_gradients_are_finite_for_degenerate_boxes(loss):
    t = jnp.asarray([[0.3, 0.3, 0.3, 0.3], [0.2, 0.2, 0.6, 0.6], [0.5, 0.1, 0.5, 0.9], [0.0, 0.0, 0.0, 0.0]])
    p = jnp.asarray([[0.3, 0.3, 0.3, 0.3], [0.4, 0.4, 0.4, 0.4], [0.5, 0.1, 0.5, 0.9], [0.7, 0.7, 0.2, 0.2]])
    value, grad = jax.value_and_grad(lambda q: jnp.sum(loss(t, q)))(p)
    assert np.isfinite(float(value)) and np.isfinite(np.asarray(grad)).all()


def test_dice_gradient_lowers_the_loss():
    rng = np.random.default_rng(0)
    truth = jnp.asarray(rng.integers(0, 3, (2, 8, 8)))
    logits = jnp.asarray(rng.normal(size=(2, 8, 8, 3)).astype("float32"))
    before, grad = jax.value_and_grad(lambda z: jnp.mean(dice_loss(truth, z, from_logits=True)))(logits)
    assert np.isfinite(np.asarray(grad)).all() and float(jnp.abs(grad).max()) > 0
    assert float(jnp.mean(dice_loss(truth, logits - 50.0 * grad, from_logits=True))) < float(before)


def _case(rng, batch=2, height=11, width=13, channels=3, count=12, image_scale=4.0):
    features = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    xy = rng.uniform(-8, [width * image_scale + 8, height * image_scale + 8], size=(count, 2))
    wh = rng.uniform(0, 30, size=(count, 2))
    rois = np.column_stack([rng.integers(0, batch, count), xy, xy + wh]).astype(np.float32)
    return features, rois


def test_roi_align_passes_gradients_to_features_and_boxes():
    features, rois = _case(np.random.default_rng(4))
    layer = RoIAlign(4, 0.25)
    d_features, d_rois = jax.grad(lambda f, r: jnp.sum(layer([f, r]) ** 2), argnums=(0, 1))(
        jnp.asarray(features), jnp.asarray(rois)
    )
    assert np.isfinite(np.asarray(d_features)).all() and float(jnp.abs(d_features).sum()) > 0
    assert float(jnp.abs(d_rois[:, 1:]).sum()) > 0, "and to the box coordinates"


def test_roi_align_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(1, 6, 6, 1)).astype(np.float32)
    rois = jnp.asarray([[0, 4.2, 3.1, 17.5, 19.0]], "float32")
    layer = RoIAlign(2, 0.25)
    weights = jnp.asarray(rng.normal(size=(1, 2, 2, 1)).astype("float32"))

    def loss(fm):
        return jnp.sum(layer([fm, rois]) * weights)

    analytic = np.asarray(jax.grad(loss)(jnp.asarray(features)))
    eps = 0.5  # linear in the features: a large step is exact
    for idx in [(0, 1, 1, 0), (0, 2, 3, 0), (0, 4, 4, 0), (0, 0, 0, 0)]:
        bumped = features.copy()
        bumped[idx] += eps
        numeric = (float(loss(jnp.asarray(bumped))) - float(loss(jnp.asarray(features)))) / eps
        assert analytic[idx] == pytest.approx(numeric, abs=1e-4)


# Not RoIAlign(sampling_ratio=0): its adaptive grid has as many sample points as the boxes' sizes ask
# for, a shape that depends on the data, which XLA cannot trace under jax.jit (it runs eagerly on JAX,
# and under tf.function on TensorFlow). The README lists this with the TensorFlow-only pieces.
@pytest.mark.parametrize("layer", [RoIAlign(3, 0.5), RoIPool(3, 0.5), RoIAlign(3, 0.5, sampling_ratio=2)])
def test_inside_jit_a_missing_image_reads_zero(layer):
    features, rois = _case(np.random.default_rng(3), batch=2)
    rois[0, 0] = 5  # no such image
    out = np.asarray(jax.jit(lambda f, r: layer([f, r]))(jnp.asarray(features), jnp.asarray(rois)))
    assert np.all(out[0] == 0), "a RoI of a missing image gives zeros inside a traced function"
    if isinstance(layer, RoIAlign):
        good = roi_align(features, rois[1:], 3, 0.5, layer.sampling_ratio)
    else:
        good = roi_pool(features, rois[1:], 3, 0.5)
    np.testing.assert_allclose(out[1:], good, atol=1e-5, err_msg="the other RoIs are pooled as usual")


TRIPLET_LOSSES = [L.batch_all_triplet_loss, L.batch_hard_triplet_loss, L.batch_semi_hard_triplet_loss]


@pytest.mark.parametrize("loss", TRIPLET_LOSSES)
@pytest.mark.parametrize("labels", [[3, 3, 3, 3, 3], [0, 1, 2, 3, 4], [7]], ids=["one class", "no positives", "one"])
def test_batches_without_a_triplet_give_zero_and_zero_gradient(loss, labels):
    x = jnp.asarray(np.random.default_rng(1).normal(size=(len(labels), 4)).astype(np.float32))
    value, grad = jax.value_and_grad(lambda e: loss(np.array(labels), e, 0.5))(x)
    assert float(value) == 0.0 and np.all(np.asarray(grad) == 0)


@pytest.mark.parametrize("loss", TRIPLET_LOSSES)
def test_triplet_gradients_finite_at_zero_distance(loss):
    e = jnp.asarray([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]], "float32")  # distances of exactly 0
    value, grad = jax.value_and_grad(lambda x: loss(np.array([0, 0, 1, 1]), x, 2.0))(e)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
    assert float(jnp.abs(grad).sum()) > 0, "the negatives inside the margin must still push"
    for squared in (False, True):
        grad = jax.grad(lambda a, sq=squared: jnp.sum(L.euclidean_distance(a, jnp.zeros((3, 4)), squared=sq)))(
            jnp.zeros((3, 4))
        )
        assert np.all(np.asarray(grad) == 0)


def test_masked_uv_loss_inside_jit_gives_the_eager_value():
    parts_count = 3
    rng = np.random.default_rng(1)
    y_true = L.pack_uv_targets(rng.integers(0, parts_count + 1, (4, 5, 5)), rng.uniform(0, 1, (4, 5, 5, 2)),
                               parts_count)
    pred = rng.uniform(0, 1, (4, 5, 5, parts_count, 2)).astype("float32")
    traced = jax.jit(lambda t, p: L.masked_uv_loss(t, p))(jnp.asarray(y_true), jnp.asarray(pred))
    np.testing.assert_allclose(np.asarray(traced), np.asarray(L.masked_uv_loss(y_true, pred)), rtol=1e-5)


def test_hindsight_gradient_reaches_only_the_best_output_without_clicks():
    from cvlib.losses.interactive import hindsight_loss

    mask = np.zeros((1, 8, 8), "float32")
    mask[0, 2:6, 2:6] = 1
    logits = jnp.asarray(np.stack([np.full((8, 8), -1.0), 4 * (mask[0] - 0.5), np.zeros((8, 8))], -1)[None],
                         "float32")
    grad = np.asarray(jax.grad(lambda z: jnp.sum(hindsight_loss(mask, z)))(logits))
    assert np.abs(grad[..., 1]).sum() > 0 and np.abs(grad[..., [0, 2]]).sum() == 0, (
        "the min sends the gradient to the winning output only"
    )


def test_relaxed_hindsight_gradient_reaches_every_output():
    from cvlib.losses.interactive import hindsight_loss, per_output_loss

    rng = np.random.default_rng(2)
    mask = (rng.random((4, 9, 9)) > 0.5).astype("float32")
    logits = jnp.asarray((2 * rng.normal(size=(4, 9, 9, 3))).astype("float32"))
    grad = np.abs(np.asarray(jax.grad(lambda z: jnp.sum(hindsight_loss(mask, z, relax=0.3)))(logits))).sum(axis=(1, 2))
    assert np.all(grad > 0), "every output learns from every sample"
    winner = np.asarray(per_output_loss(mask, logits)).argmin(-1)
    assert np.all(grad[np.arange(4), winner] == grad.max(-1)), "the winning output still gets the most"
