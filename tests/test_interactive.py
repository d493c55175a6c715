"""Interactive segmentation: NoC on scripted IoU sequences, the click protocol, the hindsight loss, the networks,
the click session and its widget.

NoC is checked on IoU sequences written by hand (when each threshold is first reached is known); the protocol
with a scripted "predictor" whose masks are known; the hindsight loss against a NumPy transcription of Li et al.'s
formula, and on outputs of which one is known to be best.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from cvlib.data.clicks import disk_map
from cvlib.losses import (
    HindsightLoss,
    best_output,
    binary_cross_entropy,
    click_consistency,
    hindsight_loss,
    relaxed_jaccard,
)
from cvlib.metrics.interactive import iou_curve, mean_noc, noc, simulate_clicks
from cvlib.metrics.segmentation import mask_iou
from cvlib.models.interactive import (
    ClickSession,
    build_click_fcn,
    build_iac_fcn,
    build_selection_net,
    choose_outputs,
    make_inputs,
    predict_masks,
)

# --------------------------------------------------------------------------- NoC


def test_noc_on_scripted_sequences():
    ious = np.array([
        [0.90, 0.95, 0.97],          # first click already good: 1 and 1
        [0.50, 0.86, 0.91],          # 0.85 after 2 clicks, 0.90 after 3
        [0.30, 0.60, 0.80],          # never: the budget
        [0.85, 0.84, 0.90],          # exactly 0.85 counts; a later dip does not undo it
    ])
    assert noc(ious, 0.85, max_clicks=20).tolist() == [1, 2, 20, 1]
    assert noc(ious, 0.90, max_clicks=20).tolist() == [1, 3, 20, 3]
    assert mean_noc(ious, 0.85) == pytest.approx((1 + 2 + 20 + 1) / 4)
    assert noc([0.1, 0.2, 0.9], 0.85) == 3, "one sequence gives one int"
    assert noc([0.1, 0.2, 0.9], 0.85, max_clicks=2) == 2, "clicks beyond the budget do not count"
    np.testing.assert_allclose(iou_curve(ious), ious.mean(axis=0))


def test_noc_empty_and_bad_input():
    assert noc(np.zeros((0, 20))).shape == (0,)
    assert np.isnan(mean_noc(np.zeros((0, 20))))
    with pytest.raises(ValueError, match="ious: IoU values must lie in"):
        noc([[0.5, 1.2]])
    with pytest.raises(ValueError, match="threshold"):
        noc([0.5], threshold=0)
    with pytest.raises(ValueError, match="max_clicks"):
        noc([0.5], max_clicks=0)
    with pytest.raises(ValueError, match="ious"):
        noc(np.zeros((2, 2, 2)))


def test_simulate_clicks_with_a_scripted_predictor():
    truth = np.zeros((2, 12, 12), bool)
    truth[0, 2:9, 2:9] = True
    truth[1, 3:6, 3:10] = True

    def predict(positive, negative):
        # a "network" that paints a 5x5 square around every positive click and clears one around every negative
        out = np.zeros(truth.shape, bool)
        for i, (pos, neg) in enumerate(zip(positive, negative)):
            for x, y in pos:
                out[i, max(0, y - 2): y + 3, max(0, x - 2): x + 3] = True
            for x, y in neg:
                out[i, max(0, y - 2): y + 3, max(0, x - 2): x + 3] = False
        return out

    ious, clicks = simulate_clicks(predict, truth, max_clicks=6)
    assert ious.shape == (2, 6)
    assert clicks[0][0] == (5, 5, True), "the first click at the centre of the 7x7 object"
    assert ious[0, 0] == pytest.approx(25 / 49), "a 5x5 square inside a 7x7 object"
    assert clicks[0][1].positive, "after click 1 the only error is the missed ring: a positive click"
    assert len(clicks[0]) == 6
    for i in range(2):  # each IoU is that of the predictor's mask from the clicks placed so far
        for k in range(6):
            pos = [np.asarray([(c.x, c.y) for c in clicks[i][: k + 1] if c.positive]).reshape(-1, 2)]
            neg = [np.asarray([(c.x, c.y) for c in clicks[i][: k + 1] if not c.positive]).reshape(-1, 2)]
            mask = predict(pos * 2, neg * 2)[i]
            assert ious[i, k] == pytest.approx(mask_iou(truth[i], mask)), f"IoU of object {i} after {k + 1} clicks"
    with pytest.raises(ValueError, match="masks: object 0 is empty"):
        simulate_clicks(predict, np.zeros((1, 4, 4), bool))
    with pytest.raises(ValueError, match="predict"):
        simulate_clicks(lambda p, n: np.zeros((2, 5, 5), bool), truth)


# --------------------------------------------------------------------------- the hindsight loss


def numpy_hindsight(mask, probs, clicks, weight):
    """Li et al.'s loss transcribed: min_m J + weight * mean_m C, per image."""
    out = []
    for y, f, s in zip(mask, probs, clicks):
        j = [1 - (np.minimum(y, f[..., m]).sum() + 1e-6) / (np.maximum(y, f[..., m]).sum() + 1e-6)
             for m in range(f.shape[-1])]
        sp, sn = s[..., 0], s[..., 1]
        c = [(np.abs(sp * (sp - f[..., m])).sum() + np.abs(sn * (sn - (1 - f[..., m]))).sum()) / (sp.sum() + sn.sum()
             + 1e-6) for m in range(f.shape[-1])]
        out.append(min(j) + weight * np.mean(c))
    return np.array(out)


def test_hindsight_loss_picks_the_best_output():
    mask = np.zeros((1, 8, 8), "float32")
    mask[0, 2:6, 2:6] = 1
    wrong = np.zeros((8, 8), "float32")
    wrong[0:2, 0:8] = 1
    half = mask[0].copy()
    half[2:4] = 0
    probs = np.stack([wrong, mask[0], half], axis=-1)[None]       # output 1 is the truth
    assert int(best_output(mask, probs, from_logits=False)[0]) == 1
    np.testing.assert_allclose(relaxed_jaccard(mask, probs, from_logits=False), [[1.0, 0.0, 0.5]], atol=1e-5)
    assert float(hindsight_loss(mask, probs, from_logits=False)[0]) == pytest.approx(0.0, abs=1e-5), (
        "the perfect output alone decides the loss, whatever the others are"
    )
    swapped = probs[..., [2, 0, 1]]
    assert float(hindsight_loss(mask, swapped, from_logits=False)[0]) == pytest.approx(0.0, abs=1e-5)
    assert int(best_output(mask, swapped, from_logits=False)[0]) == 2, "the order of the outputs does not matter"


def test_hindsight_gradient_reaches_only_the_best_output_without_clicks():
    import tensorflow as tf

    mask = np.zeros((1, 8, 8), "float32")
    mask[0, 2:6, 2:6] = 1
    logits = tf.Variable(np.stack([np.full((8, 8), -1.0), 4 * (mask[0] - 0.5), np.zeros((8, 8))], -1)[None],
                         dtype="float32")
    with tf.GradientTape() as tape:
        loss = hindsight_loss(mask, logits)
    grad = tape.gradient(loss, logits).numpy()
    assert np.abs(grad[..., 1]).sum() > 0 and np.abs(grad[..., [0, 2]]).sum() == 0, (
        "the min sends the gradient to the winning output only"
    )


def test_hindsight_loss_equals_the_formula():
    rng = np.random.default_rng(0)
    mask = (rng.random((3, 10, 10)) > 0.6).astype("float32")
    logits = rng.normal(size=(3, 10, 10, 4)).astype("float32")
    clicks = np.stack([np.stack([disk_map([(2, 3)], (10, 10), 1), disk_map([(7, 7)], (10, 10), 1)], -1)] * 3)
    probs = 1 / (1 + np.exp(-logits))
    got = np.asarray(hindsight_loss(mask, logits, clicks, click_weight=0.5, bce_weight=0.0))
    np.testing.assert_allclose(got, numpy_hindsight(mask, probs, clicks, 0.5), rtol=1e-5, atol=1e-6)
    packed = np.concatenate([mask[..., None], clicks], -1)
    keras_loss = HindsightLoss(click_weight=0.5, bce_weight=0.0)
    assert float(keras_loss(packed, logits)) == pytest.approx(got.mean(), rel=1e-5), "y_true may carry the clicks"
    restored = HindsightLoss.from_config(keras_loss.get_config())
    assert restored.click_weight == 0.5 and restored.from_logits and restored.bce_weight == 0.0


def test_cross_entropy_term_matches_keras():
    rng = np.random.default_rng(1)
    mask = (rng.random((2, 6, 6)) > 0.5).astype("float32")
    logits = (3 * rng.normal(size=(2, 6, 6, 3))).astype("float32")
    reference = np.stack([
        np.asarray(keras.losses.binary_crossentropy(mask[..., None], logits[..., m:m + 1], from_logits=True))
        .mean(axis=(1, 2)) for m in range(3)], -1)
    np.testing.assert_allclose(binary_cross_entropy(mask, logits), reference, rtol=1e-4, atol=1e-6)
    probs = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(binary_cross_entropy(mask, probs, from_logits=False), reference, rtol=1e-3, atol=1e-5)
    combined = np.asarray(relaxed_jaccard(mask, logits)) + 2.0 * reference
    expected = combined.min(axis=-1)
    np.testing.assert_allclose(hindsight_loss(mask, logits, bce_weight=2.0), expected, rtol=1e-5, atol=1e-6)


def test_click_term_is_zero_when_outputs_obey_the_clicks():
    clicks = np.zeros((1, 6, 6, 2), "float32")
    clicks[0, 1, 1, 0] = 1
    clicks[0, 4, 4, 1] = 1
    good = np.zeros((1, 6, 6, 2), "float32")
    good[0, 1, 1] = 1
    np.testing.assert_allclose(click_consistency(clicks, good, from_logits=False), [[0, 0]], atol=1e-5)
    bad = 1 - good
    np.testing.assert_allclose(click_consistency(clicks, bad, from_logits=False), [[1, 1]], atol=1e-5)


def _relaxed_case():
    rng = np.random.default_rng(2)
    mask = (rng.random((4, 9, 9)) > 0.5).astype("float32")
    logits = (2 * rng.normal(size=(4, 9, 9, 3))).astype("float32")
    per_output = np.asarray(relaxed_jaccard(mask, logits)) + np.asarray(binary_cross_entropy(mask, logits))
    return mask, logits, per_output


def test_relaxed_hindsight_loss_mixes_the_minimum_with_the_mean():
    mask, logits, per_output = _relaxed_case()
    for relax in (0.0, 0.3, 1.0):
        expected = (1 - relax) * per_output.min(-1) + relax * per_output.mean(-1)
        np.testing.assert_allclose(hindsight_loss(mask, logits, relax=relax), expected, rtol=1e-5, atol=1e-6)
    keras_loss = HindsightLoss(relax=0.3)
    assert float(keras_loss(mask[..., None], logits)) == pytest.approx(
        float(np.mean(0.7 * per_output.min(-1) + 0.3 * per_output.mean(-1))), rel=1e-5)
    assert HindsightLoss.from_config(keras_loss.get_config()).relax == 0.3


def test_relaxed_hindsight_gradient_reaches_every_output():
    import tensorflow as tf

    mask, logits, per_output = _relaxed_case()
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(hindsight_loss(mask, variable, relax=0.3))
    grad = np.abs(tape.gradient(loss, variable).numpy()).sum(axis=(1, 2))       # (B, M)
    assert np.all(grad > 0), "every output learns from every sample"
    winner = per_output.argmin(-1)
    assert np.all(grad[np.arange(4), winner] == grad.max(-1)), "the winning output still gets the most"


def test_hindsight_loss_bad_input():
    with pytest.raises(ValueError, match="y_pred"):
        hindsight_loss(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="y_true"):
        hindsight_loss(np.zeros((1, 5, 4)), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="clicks"):
        hindsight_loss(np.zeros((1, 4, 4)), np.zeros((1, 4, 4, 2)), clicks=np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="click_weight"):
        hindsight_loss(np.zeros((1, 4, 4)), np.zeros((1, 4, 4, 2)), click_weight=-1)
    with pytest.raises(ValueError, match="bce_weight"):
        HindsightLoss(bce_weight=-0.5)
    for relax in (-0.1, 1.5, True, "0.3", float("nan")):
        with pytest.raises(ValueError, match="relax"):
            hindsight_loss(np.zeros((1, 4, 4)), np.zeros((1, 4, 4, 2)), relax=relax)
    with pytest.raises(ValueError, match="relax"):
        HindsightLoss(relax=2)


# --------------------------------------------------------------------------- networks and the session


def test_networks_shapes():
    fcn = build_click_fcn((32, 32, 5), num_outputs=3, filters=8)
    iac = build_iac_fcn((32, 32, 5), num_outputs=1, filters=8, num_blocks=2)
    sel = build_selection_net((32, 32, 5), num_outputs=3, filters=4)
    x = np.zeros((2, 32, 32, 5), "float32")
    assert fcn(x).shape == (2, 32, 32, 3)
    assert iac(x).shape == (2, 32, 32, 1)
    lecture = build_iac_fcn((32, 32, 5), num_outputs=1, filters=8, num_blocks=2, arrangement="sequential")
    assert lecture(x).shape == (2, 32, 32, 1)
    assert [layer.arrangement for layer in lecture.layers if layer.name.startswith("iac")] == ["sequential"] * 2
    assert sel([x, np.zeros((2, 32, 32, 3), "float32")]).shape == (2, 3)
    assert any("context3_rate8" in layer.name for layer in fcn.layers), "the dilated stack with rates 1, 2, 4, 8, 1"
    with pytest.raises(ValueError, match="input_shape"):
        build_click_fcn((32, 32, 3))
    with pytest.raises(ValueError, match="input_shape"):
        build_click_fcn((31, 32, 5))
    with pytest.raises(ValueError, match="rates"):
        build_click_fcn(rates=())
    with pytest.raises(ValueError, match="num_outputs"):
        build_click_fcn(num_outputs=0)


def test_make_inputs_scales_to_unit_range():
    images = np.full((2, 8, 8, 3), 255, np.uint8)
    x = make_inputs(images, [[(1, 1)], [(2, 2)]], [[], [(5, 5)]])
    assert x.shape == (2, 8, 8, 5) and x.dtype == np.float32
    assert x[..., :3].max() == 1.0 and x[0, 1, 1, 3] == 0 and np.all(x[0, ..., 4] == 1.0), "no click: 1 everywhere"
    assert x[0, 1, 4, 3] == pytest.approx(3 / 8), "distances in image widths: 3 pixels on an 8-pixel image"
    assert x[0, 5, 5, 3] == pytest.approx(np.hypot(4, 4) / 8) and x[0, 7, 7, 3] == 1.0, "truncated at the side (8)"
    with pytest.raises(ValueError, match="positive, negative: expected one click set per image"):
        make_inputs(images, [[(1, 1)]], [[]])
    with pytest.raises(ValueError, match="both click sets are empty"):
        make_inputs(images, [[(1, 1)], []], [[], []])
    with pytest.raises(ValueError, match="images"):
        make_inputs(np.zeros((8, 8)), [(1, 1)], [])


def test_choose_outputs():
    probs = np.arange(2 * 2 * 2 * 3, dtype="float32").reshape(2, 2, 2, 3)
    np.testing.assert_array_equal(choose_outputs(probs, [2, 0]), np.stack([probs[0, ..., 2], probs[1, ..., 0]]))
    with pytest.raises(ValueError, match="choice"):
        choose_outputs(probs, [3, 0])


@pytest.fixture(scope="module")
def painter():
    """A fixed 'network' with 2 outputs: logit +10 within 3 pixels of a positive click (output 0) or everywhere
    except near negative clicks (output 1). Built from Keras layers so it runs like a trained model."""
    inputs = keras.Input((16, 16, 5))
    near_positive = keras.layers.Lambda(lambda x: 10.0 * (3.0 - 16.0 * x[..., 3:4]))(inputs)   # distances / 16
    near_negative = keras.layers.Lambda(lambda x: -10.0 * (3.0 - 16.0 * x[..., 4:5]))(inputs)
    return keras.Model(inputs, keras.layers.Concatenate()([near_positive, near_negative]))


def test_predict_masks_gives_the_same_answer_in_one_batch_or_in_several():
    # one batch goes through predict_on_batch (what a click needs: no per-call set-up), more through predict
    keras.utils.set_random_seed(3)
    net = build_click_fcn((16, 16, 5), num_outputs=2, filters=4)
    chooser = build_selection_net((16, 16, 5), num_outputs=2, filters=4)
    images = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    clicks = [[(2 + i, 3 + i)] for i in range(5)]
    one = predict_masks(net, images, clicks, [[]] * 5, selector=chooser)
    several = predict_masks(net, images, clicks, [[]] * 5, selector=chooser, batch_size=2)
    assert np.allclose(one[1], several[1], atol=1e-6) and np.array_equal(one[2], several[2])
    assert np.array_equal(one[0], several[0])


def test_predict_masks_and_session(painter):
    image = np.zeros((16, 16, 3), np.uint8)
    masks, probs, choice = predict_masks(painter, image[None], [[(5, 5)]], [[]], output=0)
    assert masks.shape == (1, 16, 16) and probs.shape == (1, 16, 16, 2) and choice.tolist() == [0]
    assert masks[0, 5, 5] and masks[0, 5, 7] and not masks[0, 5, 9]
    with pytest.raises(ValueError, match="selector"):
        predict_masks(painter, image[None], [[(5, 5)]], [[]])

    session = ClickSession(painter, image, output=0)
    assert not session.mask.any(), "no click yet: nothing selected"
    mask = session.add(5, 5)
    assert mask[5, 5] and mask.sum() == 25, "the pixels closer than 3 to the click: 25"
    session.add(12, 12, positive=True)
    assert session.mask[12, 12] and len(session.positive) == 2 and len(session.negative) == 0
    session.add(1, 1, positive=False)
    assert session.negative.tolist() == [[1, 1]]
    session.undo()
    assert len(session.clicks) == 2
    with pytest.raises(ValueError, match="outside the 16 x 16 image"):
        session.add(16, 3)
    assert len(session.clicks) == 2, "a refused click changes nothing"
    session.reset()
    assert not session.mask.any() and session.clicks == []
    with pytest.raises(ValueError, match="image: the model takes 16 x 16"):
        ClickSession(painter, np.zeros((20, 20, 3)), output=0)


def test_honouring_the_clicks_overrides_the_network_at_the_clicked_pixels_only(painter):
    # output 0 ignores negative clicks: a negative click inside its disk stays foreground, unless honoured
    image = np.zeros((16, 16, 3), np.uint8)
    positive, negative = [[(5, 5)]], [[(6, 5)]]
    plain, probs, _ = predict_masks(painter, image[None], positive, negative, output=0)
    honoured, probs_honoured, _ = predict_masks(painter, image[None], positive, negative, output=0,
                                                honour_clicks=True)
    assert plain[0, 5, 6] and not honoured[0, 5, 6]
    plain[0, 5, 6] = False
    assert np.array_equal(plain, honoured), "only the clicked pixel changes"
    assert np.array_equal(probs, probs_honoured), "the probabilities stay the network's"

    session = ClickSession(painter, image, output=0, honour_clicks=True)
    session.add(5, 5)
    session.add(6, 5, positive=False)
    assert session.mask[5, 5] and not session.mask[5, 6] and session.mask[5, 4]
    unhonoured = ClickSession(painter, image, output=0)
    unhonoured.add(5, 5)
    unhonoured.add(6, 5, positive=False)
    assert unhonoured.mask[5, 6] and np.sum(unhonoured.mask != session.mask) == 1
    session.add(6, 5, positive=True)                  # the user changes their mind: the last click on a pixel wins
    assert session.mask[5, 6]
    session.add(5, 5, positive=False)
    assert not session.mask[5, 5]


def test_widget_driven_by_its_handlers(painter):
    pytest.importorskip("ipywidgets")
    from cvlib.widgets import ClickDemo

    session = ClickSession(painter, np.zeros((16, 16, 3), np.uint8), output=0)
    demo = ClickDemo(session)
    assert demo.click(5, 5) is True and session.mask[5, 5]
    assert demo.click(-1, 5) is False and demo.click(3, 40) is False, "clicks outside the image are ignored"
    assert len(session.clicks) == 1
    demo.mode.value = "negative"
    assert demo.click(5, 6) is True and session.negative.tolist() == [[5, 6]]
    assert demo.click(9, 9, positive=True) and len(session.positive) == 2, "an explicit sign beats the mode"
    demo.undo()
    demo.reset()
    assert session.clicks == [] and "0 clicks" in demo.status.value
    assert len(demo.image.value) > 0, "the picture is rendered to PNG bytes"
