"""Dense correspondence: the masked UV loss, the metrics on known maps, decoding, texture transfer, RoI targets,
and the two models (shapes, saving and loading)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.data.figures import generate_figures
from cvlib.losses import CrossEntropyDiceLoss, MaskedUVLoss, masked_uv_loss, pack_uv_targets
from cvlib.metrics import dense as dm
from cvlib.metrics import segmentation as seg
from cvlib.models.dense import (
    BoxesToRoIs,
    build_dense_model,
    build_region_dense_model,
    checkerboard,
    decode_dense,
    roi_targets,
    texture_transfer,
)

P = 3  # parts in the hand-made examples


def _smooth_l1(x, beta):
    x = np.abs(x)
    return np.where(x < beta, 0.5 * x**2 / beta, x - 0.5 * beta)


@pytest.fixture
def example():
    """One 2x3 image: background, part 1 and part 3 pixels; predictions (1, 2, 3, P, 2)."""
    rng = np.random.default_rng(0)
    parts = np.array([[[0, 1, 1], [3, 3, 0]]])
    uv = rng.uniform(0, 1, (1, 2, 3, 2))
    uv[parts == 0] = 0
    pred = rng.uniform(0, 1, (1, 2, 3, P, 2)).astype("float32")
    return parts, uv, pred


# --------------------------------------------------------------------------- the loss


def test_loss_value_by_hand(example):
    parts, uv, pred = example
    y_true = pack_uv_targets(parts, uv, P)
    expected = np.mean([_smooth_l1(pred[0, r, c, parts[0, r, c] - 1] - uv[0, r, c], 0.05).sum()
                        for r, c in zip(*np.nonzero(parts[0]))])
    np.testing.assert_allclose(masked_uv_loss(y_true, pred), [expected], rtol=1e-5)
    np.testing.assert_allclose(MaskedUVLoss(beta=0.05)(y_true, pred), expected, rtol=1e-5)


def test_loss_ignores_other_parts_and_background(example):
    parts, uv, pred = example
    y_true = pack_uv_targets(parts, uv, P)
    base = float(masked_uv_loss(y_true, pred)[0])
    changed = pred.copy()
    changed[parts == 0] = 0.123                      # anything at background pixels
    for r, c in zip(*np.nonzero(parts[0])):
        others = [k for k in range(P) if k != parts[0, r, c] - 1]
        changed[0, r, c, others] = 1 - changed[0, r, c, others]   # the other parts' UV at figure pixels
    assert float(masked_uv_loss(y_true, changed)[0]) == pytest.approx(base, rel=1e-6)
    # ... but the true part's UV counts
    moved = pred.copy()
    moved[0, 0, 1, 0] += 0.3
    assert float(masked_uv_loss(y_true, moved)[0]) != pytest.approx(base, rel=1e-3)


def test_loss_is_zero_for_a_perfect_prediction_and_an_empty_image():
    parts = np.array([[[1, 2], [0, 0]], [[0, 0], [0, 0]]])
    uv = np.zeros((2, 2, 2, 2))
    uv[0, 0, 0], uv[0, 0, 1] = (0.2, 0.7), (0.9, 0.1)
    pred = np.full((2, 2, 2, 2, 2), 0.5, "float32")
    pred[0, 0, 0, 0], pred[0, 0, 1, 1] = (0.2, 0.7), (0.9, 0.1)
    loss = np.asarray(masked_uv_loss(pack_uv_targets(parts, uv, 2), pred))
    np.testing.assert_allclose(loss, [0.0, 0.0], atol=1e-7)


def test_loss_trains_inside_a_compiled_step():
    """In a traced graph the values cannot be checked, and the loss still gives the right number."""
    rng = np.random.default_rng(1)
    parts = rng.integers(0, P + 1, (4, 5, 5))
    uv = rng.uniform(0, 1, (4, 5, 5, 2))
    pred = rng.uniform(0, 1, (4, 5, 5, P, 2)).astype("float32")
    y_true = pack_uv_targets(parts, uv, P)
    import tensorflow as tf

    graph = tf.function(lambda t, p: masked_uv_loss(t, p))
    np.testing.assert_allclose(graph(y_true, pred), masked_uv_loss(y_true, pred), rtol=1e-5)


@pytest.mark.parametrize(
    ("true_shape", "pred_shape", "match"),
    [
        ((1, 2, 3, 3), (1, 2, 3, P, 3), "y_pred"),         # three coordinates instead of (U, V)
        ((1, 2, 4, 3), (1, 2, 3, P, 2), "y_true"),         # maps of different sizes
        ((1, 2, 3, 2), (1, 2, 3, P, 2), "y_true"),         # not packed with the part index
    ],
)
def test_loss_rejects_mismatched_shapes(true_shape, pred_shape, match):
    with pytest.raises(ValueError, match=match):
        masked_uv_loss(np.zeros(true_shape, "float32"), np.zeros(pred_shape, "float32"))


def test_loss_rejects_bad_values(example):
    parts, uv, pred = example
    y_true = pack_uv_targets(parts, uv, P)
    bad = y_true.copy()
    bad[0, 0, 1, 0] = P + 1
    with pytest.raises(ValueError, match=r"part indices must be whole numbers in \[0, 3\]"):
        masked_uv_loss(bad, pred)
    bad = y_true.copy()
    bad[0, 0, 1, 1] = 1.5
    with pytest.raises(ValueError, match=r"U and V must lie in \[0, 1\]"):
        masked_uv_loss(bad, pred)
    with pytest.raises(ValueError, match="beta"):
        masked_uv_loss(y_true, pred, beta=0)
    with pytest.raises(ValueError, match="beta"):
        MaskedUVLoss(beta=-1)


def test_pack_uv_targets_checks():
    parts = np.array([[0, 1], [2, 2]])
    uv = np.full((2, 2, 2), 0.5)
    packed = pack_uv_targets(parts, uv, 2)
    assert packed.shape == (2, 2, 3) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[..., 0], parts)
    with pytest.raises(ValueError, match=r"uv: expected shape \(2, 2, 2\)"):
        pack_uv_targets(parts, uv[:, :1], 2)
    with pytest.raises(ValueError, match=r"parts: part indices must lie in \[0, 1\]"):
        pack_uv_targets(parts, uv, 1)
    with pytest.raises(ValueError, match="parts"):
        pack_uv_targets(parts - 1, uv)
    with pytest.raises(ValueError, match=r"uv: expected U and V in \[0, 1\]"):
        pack_uv_targets(parts, uv + 0.6, 2)


def test_loss_config_round_trip():
    loss = MaskedUVLoss(beta=0.1)
    again = MaskedUVLoss.from_config(loss.get_config())
    assert again.beta == 0.1 and again.name == "masked_uv_loss"


# --------------------------------------------------------------------------- metrics on known maps


def test_metrics_on_known_maps():
    parts_true = np.array([[0, 1, 1, 2],
                           [0, 1, 2, 2]])
    parts_pred = np.array([[0, 1, 2, 2],
                           [1, 1, 2, 0]])
    uv_true = np.zeros((2, 4, 2))
    uv_pred = np.zeros((2, 4, 2))
    uv_true[0, 1], uv_pred[0, 1] = (0.5, 0.5), (0.5, 0.5)      # error 0
    uv_true[1, 1], uv_pred[1, 1] = (0.2, 0.2), (0.5, 0.6)      # error 0.5 (3-4-5)
    uv_true[0, 3], uv_pred[0, 3] = (0.9, 0.1), (0.9, 0.15)     # error 0.05
    uv_true[1, 2], uv_pred[1, 2] = (0.1, 0.1), (0.1, 0.3)      # error 0.2
    uv_true[0, 2], uv_pred[0, 2] = (0.3, 0.3), (1.0, 1.0)      # wrong part: not counted
    uv_pred[1, 0] = (0.7, 0.7)                                 # background called part 1: not counted
    # IoU: background 1 / 3, part 1 2 / 4, part 2 2 / 4
    np.testing.assert_allclose(dm.part_iou(parts_true, parts_pred, 2), [1 / 3, 0.5, 0.5])
    assert dm.mean_part_iou(parts_true, parts_pred, 2) == pytest.approx((1 / 3 + 1) / 3)
    assert dm.mean_part_iou(parts_true, parts_pred, 2, include_background=False) == pytest.approx(0.5)
    np.testing.assert_allclose(dm.part_iou(parts_true, parts_pred, 2), seg.per_class_iou(parts_true, parts_pred, 3))
    errors = dm.uv_errors(parts_true, uv_true, parts_pred, uv_pred, 2)
    np.testing.assert_allclose(np.sort(errors), [0.0, 0.05, 0.2, 0.5])
    # 6 figure pixels; under 0.1: two of them; under 0.3: three
    assert dm.gps_score(parts_true, uv_true, parts_pred, uv_pred, 2, threshold=0.1) == pytest.approx(2 / 6)
    np.testing.assert_allclose(dm.gps_score(parts_true, uv_true, parts_pred, uv_pred, 2, threshold=[0.01, 0.3, 1]),
                               [1 / 6, 3 / 6, 4 / 6])
    summary = dm.uv_summary(parts_true, uv_true, parts_pred, uv_pred, 2)
    assert summary["uv_error_median"] == pytest.approx(0.125)
    assert summary["uv_error_mean"] == pytest.approx(0.1875)
    assert summary["correct_part_fraction"] == pytest.approx(4 / 6)


def test_metrics_perfect_and_empty():
    f = generate_figures(3, 64, seed=2)
    summary = dm.uv_summary(f.parts, f.uv, f.parts, f.uv, 10)
    assert summary["part_mIoU"] == 1.0 and summary["uv_error_median"] == 0.0 and summary["gps_score"] == 1.0
    empty = np.zeros((2, 2), int)
    assert np.isnan(dm.gps_score(empty, np.zeros((2, 2, 2)), empty, np.zeros((2, 2, 2)), 3))
    assert dm.uv_errors(empty, np.zeros((2, 2, 2)), empty, np.zeros((2, 2, 2)), 3).shape == (0,)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"parts_pred": np.zeros((2, 3), int)}, r"parts_pred: expected the shape of parts_true \(2, 2\)"),
        ({"uv_true": np.zeros((2, 2, 3))}, r"uv_true: expected shape \(2, 2, 2\)"),
        ({"uv_pred": np.zeros((2, 2))}, "uv_pred: expected shape"),
        ({"parts_true": np.array([[0, 1], [4, 1]])}, r"parts_true: part indices must lie in \[0, 3\].*\[4\]"),
        ({"parts_pred": np.array([[0, -1], [1, 1]])}, "parts_pred: part indices"),
        ({"parts_true": np.array([[0, 1.5], [1, 1]])}, "parts_true: expected whole part indices"),
        ({"uv_true": np.full((2, 2, 2), 1.2)}, r"uv_true: expected U and V in \[0, 1\]"),
        ({"uv_pred": np.full((2, 2, 2), -0.1)}, r"uv_pred: expected U and V in \[0, 1\]"),
        ({"num_parts": 0}, "num_parts"),
    ],
)
def test_metrics_reject_bad_maps(change, match):
    args = {"parts_true": np.array([[0, 1], [2, 1]]), "uv_true": np.full((2, 2, 2), 0.5),
            "parts_pred": np.array([[0, 1], [1, 1]]), "uv_pred": np.full((2, 2, 2), 0.5), "num_parts": 3}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        dm.uv_summary(**args)


def test_gps_threshold_checked():
    one = np.ones((1, 1), int)
    with pytest.raises(ValueError, match="threshold"):
        dm.gps_score(one, np.zeros((1, 1, 2)), one, np.zeros((1, 1, 2)), 1, threshold=-0.1)


# --------------------------------------------------------------------------- decoding and texture transfer


def test_decode_reads_the_predicted_parts_uv():
    scores = np.zeros((1, 2, P + 1), "float32")
    scores[0, 0, 2] = 5.0       # part 2
    scores[0, 1, 0] = 5.0       # background
    uv = np.random.default_rng(0).uniform(0, 1, (1, 2, P, 2)).astype("float32")
    parts, picked = decode_dense({"parts": scores, "uv": uv})
    np.testing.assert_array_equal(parts, [[2, 0]])
    np.testing.assert_allclose(picked[0, 0], uv[0, 0, 1])
    np.testing.assert_array_equal(picked[0, 1], [0, 0])
    with pytest.raises(ValueError, match=r"uv: expected shape \(1, 2, 3, 2\)"):
        decode_dense((scores, uv[..., :2, :]))
    with pytest.raises(ValueError, match="outputs"):
        decode_dense({"parts": scores})


def test_texture_transfer_paints_through_uv():
    texture = checkerboard(8, 2)
    assert texture.shape == (8, 8, 3) and 0 <= texture.min() and texture.max() <= 1
    image = np.full((2, 2, 3), 255, np.uint8)
    parts = np.array([[0, 1], [2, 0]])
    uv = np.zeros((2, 2, 2))
    uv[0, 1] = (0.99, 0.0)    # column 7, row 0
    uv[1, 0] = (0.3, 0.6)     # column 2, row 4
    out = texture_transfer(image, parts, uv, texture)
    np.testing.assert_allclose(out[0, 1], texture[0, 7])
    np.testing.assert_allclose(out[1, 0], texture[4, 2])
    np.testing.assert_allclose(out[0, 0], [1, 1, 1])        # background untouched
    atlas = np.stack([np.zeros((4, 4, 3)), np.ones((4, 4, 3))])
    np.testing.assert_allclose(texture_transfer(image, parts, uv, atlas, alpha=0.5)[1, 0], [1, 1, 1])
    np.testing.assert_allclose(texture_transfer(image, parts, uv, atlas, alpha=0.5)[0, 1], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="uv: expected U and V"):
        texture_transfer(image, parts, uv + 1, texture)
    with pytest.raises(ValueError, match=r"parts: expected the image's height and width"):
        texture_transfer(image, parts[:1], uv, texture)
    with pytest.raises(ValueError, match="texture"):
        texture_transfer(image, parts, uv, texture[..., :2])


# --------------------------------------------------------------------------- region-based targets


def test_roi_targets_keep_only_their_own_figure():
    crowd = generate_figures(4, 96, figures_per_image=2, figure_size=(0.5, 0.7), seed=7)
    for i in range(4):
        whole = np.array([[0, 0, 96, 96]] * 2, "float32")
        parts, uv = roi_targets(crowd.parts[i], crowd.uv[i], crowd.instances[i], whole, 96)
        for j in range(2):   # a box over the whole image on a 96 x 96 grid reads every pixel once
            mine = crowd.instances[i] == j + 1
            np.testing.assert_array_equal(parts[j], np.where(mine, crowd.parts[i], 0))
            np.testing.assert_array_equal(uv[j], np.where(mine[..., None], crowd.uv[i], 0))
        parts, _ = roi_targets(crowd.parts[i], crowd.uv[i], crowd.instances[i], crowd.boxes[i], 32)
        assert parts.shape == (2, 32, 32) and all((p > 0).mean() > 0.15 for p in parts)
    with pytest.raises(ValueError, match="instances"):
        roi_targets(crowd.parts[0], crowd.uv[0], crowd.instances[0][:5], crowd.boxes[0], 8)
    with pytest.raises(ValueError, match="boxes"):
        roi_targets(crowd.parts[0], crowd.uv[0], crowd.instances[0], [[5, 5, 1, 1]], 8)


def test_boxes_to_rois():
    boxes = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    rois = np.asarray(BoxesToRoIs()(boxes))
    np.testing.assert_array_equal(rois[:, 0], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(rois[:, 1:], boxes.reshape(-1, 4))


# --------------------------------------------------------------------------- models


def _compile(model):
    model.compile(optimizer="adam", loss={"parts": CrossEntropyDiceLoss(from_logits=True), "uv": MaskedUVLoss()})
    return model


def test_dense_model_shapes_training_and_save_load(tmp_path):
    f = generate_figures(4, 32, seed=0)
    model = _compile(build_dense_model((32, 32, 3), num_parts=10, depth=2, base_filters=4, head_filters=4))
    x = f.images.astype("float32") / 255
    out = model.predict(x, verbose=0)
    assert out["parts"].shape == (4, 32, 32, 11) and out["uv"].shape == (4, 32, 32, 10, 2)
    assert out["uv"].min() >= 0 and out["uv"].max() <= 1
    # the losses accept the model's outputs and the packed targets (one eager evaluation, no training graph)
    losses = model.compute_loss(x=x, y={"parts": f.parts, "uv": pack_uv_targets(f.parts, f.uv, 10)}, y_pred=out)
    assert np.isfinite(float(losses)) and float(losses) > 0
    path = tmp_path / "dense.keras"
    model.save(path)
    again = keras.models.load_model(path)
    reloaded = again.predict(x, verbose=0)
    for key in ("parts", "uv"):
        np.testing.assert_allclose(reloaded[key], model.predict(x, verbose=0)[key], atol=1e-5)
    assert isinstance(again.loss["uv"], MaskedUVLoss)


def test_region_model_shapes_and_save_load(tmp_path):
    crowd = generate_figures(2, 32, figures_per_image=2, figure_size=(0.5, 0.7), seed=1)
    model = build_region_dense_model((32, 32, 3), rois_per_image=2, roi_size=8, num_parts=10, depth=1,
                                     base_filters=4, head_filters=4)
    inputs = {"image": crowd.images.astype("float32") / 255, "boxes": np.stack(crowd.boxes)}
    out = model.predict(inputs, verbose=0)
    assert out["parts"].shape == (2, 2, 8, 8, 11) and out["uv"].shape == (2, 2, 8, 8, 10, 2)
    path = tmp_path / "region.keras"
    model.save(path)
    again = keras.models.load_model(path).predict(inputs, verbose=0)
    np.testing.assert_allclose(again["uv"], out["uv"], atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (None, None, 3)}, "input_shape"),
        ({"input_shape": (62, 62, 3)}, "input_shape"),
        ({"num_parts": 0}, "num_parts"),
        ({"head_filters": 0}, "head_filters"),
    ],
)
def test_dense_model_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_dense_model(**{"depth": 2, "base_filters": 4, **kwargs})
