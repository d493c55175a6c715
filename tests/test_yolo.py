"""YOLO: target encoding and decoding, the loss and its terms, the two-step filtering, the model, augmentation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.boxes import batched_nms, iou
from cvlib.data.augment import flip_scale_translate, random_flip_scale_translate
from cvlib.data.shapes import generate_scenes
from cvlib.losses import YOLO_LOSS_TERMS, YoloLoss, yolo_loss, yolo_loss_terms
from cvlib.models import yolo as Y

ANCHORS = np.array([[0.1, 0.1], [0.25, 0.2], [0.4, 0.45]], np.float32)
GRID, SIZE, CLASSES = 8, 64, 3
# Three objects in three different cells, of three different shapes.
BOXES = np.array([[4.0, 6.0, 10.0, 12.0], [20.0, 30.0, 36.0, 42.0], [30.0, 2.0, 60.0, 31.0]])
LABELS = np.array([2, 0, 1])


def encoded(boxes=BOXES, labels=LABELS):
    return Y.encode_targets(boxes, labels, GRID, ANCHORS, CLASSES, SIZE)


def loss_terms(target, logits, **kwargs):
    terms = yolo_loss_terms(target[None], logits[None], ANCHORS, **kwargs)
    return {k: float(keras.ops.convert_to_numpy(v)[0]) for k, v in terms.items()}


# --------------------------------------------------------------------------- encoding and decoding


def test_each_object_goes_to_the_cell_of_its_centre_and_its_best_anchor():
    t = encoded()
    assert t.shape == (GRID, GRID, len(ANCHORS), 5 + CLASSES) and t.dtype == np.float32
    assert t[..., 4].sum() == 3, "one responsible anchor per object"
    # Box 0: centre (7, 9) px -> cell (row 1, col 0) at 8 px per cell; 6x6 px = 0.094 of the image -> anchor 0.
    slot = t[1, 0, 0]
    assert np.allclose(slot[:5], [7 / 8, 9 / 8 - 1, 6 / 64, 6 / 64, 1.0])
    assert np.array_equal(slot[5:], [0, 0, 1])
    # Box 2: 30x29 px = 0.47 x 0.45 of the image -> the largest anchor.
    assert t[2, 5, 2, 4] == 1 and t[2, 5, 2, 6] == 1


def test_encoding_then_decoding_returns_the_same_boxes():
    scenes = generate_scenes(20, SIZE, 1, 5, seed=3)
    for target in scenes.targets:
        grid = Y.encode_targets(target["boxes"], target["labels"], GRID, ANCHORS, 6, SIZE)
        back = Y.decode_targets(grid, SIZE)
        assert len(back["boxes"]) == len(target["boxes"]), "no object lost in encoding"
        # Objects come back in grid order: match each to its original by IoU.
        match = iou(target["boxes"], back["boxes"]).argmax(1)
        assert np.allclose(back["boxes"][match], target["boxes"], atol=1e-4)
        assert np.array_equal(back["labels"][match], target["labels"])


def test_two_objects_in_one_cell_take_two_anchors():
    boxes = np.array([[1.0, 1.0, 7.0, 7.0], [2.0, 2.0, 6.0, 6.0]])  # same cell, both fit anchor 0 best
    t = Y.encode_targets(boxes, [0, 1], GRID, ANCHORS, CLASSES, SIZE)
    assert t[0, 0, :, 4].sum() == 2, "the second object falls back to the next best free anchor"
    assert len(Y.decode_targets(t, SIZE)["boxes"]) == 2


def test_image_without_objects_gives_an_all_background_target():
    t = Y.encode_targets(np.zeros((0, 4)), [], GRID, ANCHORS, CLASSES, SIZE)
    assert t.shape == (GRID, GRID, len(ANCHORS), 5 + CLASSES) and not t.any()
    back = Y.decode_targets(t, SIZE)
    assert back["boxes"].shape == (0, 4) and back["labels"].shape == (0,)


def test_boxes_outside_the_image_are_clipped():
    t = Y.encode_targets([[-10.0, 40.0, 20.0, 80.0], [70.0, 70.0, 90.0, 90.0]], [0, 1], GRID, ANCHORS, CLASSES, SIZE)
    back = Y.decode_targets(t, SIZE)
    assert np.allclose(back["boxes"], [[0.0, 40.0, 20.0, 64.0]], atol=1e-4), "clipped; the box wholly outside dropped"


def test_encoding_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        Y.encode_targets(BOXES, [0, 1, 3], GRID, ANCHORS, CLASSES, SIZE)
    with pytest.raises(ValueError, match="labels"):
        Y.encode_targets(BOXES, [0, 1], GRID, ANCHORS, CLASSES, SIZE)
    with pytest.raises(ValueError, match="boxes"):
        Y.encode_targets([[0.0, 0.0, -1.0, 5.0]], [0], GRID, ANCHORS, CLASSES, SIZE)
    with pytest.raises(ValueError, match="anchors"):
        Y.encode_targets(BOXES, LABELS, GRID, [[0.1, -0.2]], CLASSES, SIZE)
    with pytest.raises(ValueError, match="grid_size"):
        Y.encode_targets(BOXES, LABELS, 0, ANCHORS, CLASSES, SIZE)
    with pytest.raises(ValueError, match="num_classes"):
        Y.encode_targets(BOXES, LABELS, GRID, ANCHORS, 0, SIZE)
    with pytest.raises(ValueError, match="image_size"):
        Y.encode_targets(BOXES, LABELS, GRID, ANCHORS, CLASSES, (64, -1))


def test_shape_iou_compares_shapes_centred_together():
    got = Y.shape_iou([[2.0, 2.0], [1.0, 4.0]], [[2.0, 2.0], [4.0, 1.0]])
    assert np.allclose(got, [[1.0, 2 / 6], [2 / 6, 1 / 7]])
    assert Y.shape_iou(np.zeros((0, 2)), [[1.0, 1.0]]).shape == (0, 1)
    with pytest.raises(ValueError, match="wh"):
        Y.shape_iou([[1.0, -1.0]], [[1.0, 1.0]])


def test_kmeans_anchors_find_the_shapes_of_two_clusters():
    rng = np.random.default_rng(0)
    small = rng.normal(8, 0.5, (50, 2))
    tall = rng.normal((10, 30), 0.5, (50, 2))
    wh = np.concatenate([small, tall])
    boxes = np.concatenate([np.zeros_like(wh), wh], axis=1)
    anchors = Y.kmeans_anchors(boxes, 2, 100)
    assert np.allclose(anchors, [[0.08, 0.08], [0.10, 0.30]], atol=0.01), "sorted by area, as fractions of the image"
    with pytest.raises(ValueError, match="boxes"):
        Y.kmeans_anchors(boxes[:1], 2, 100)
    with pytest.raises(ValueError, match="k"):
        Y.kmeans_anchors(boxes, 0, 100)


# --------------------------------------------------------------------------- the loss


def test_loss_is_zero_for_a_perfect_prediction_and_positive_otherwise():
    t = encoded()
    perfect = Y.targets_to_logits(t, ANCHORS)
    for name, value in loss_terms(t, perfect).items():
        assert value < 1e-4, f"{name} of a perfect prediction must be 0 (to float32 precision), got {value}"
    wrong = perfect + np.random.default_rng(0).normal(0, 0.5, perfect.shape).astype(np.float32)
    assert float(yolo_loss(t[None], wrong[None], ANCHORS)[0]) > 0.1
    # An untrained network's output (all zeros) is far from every target.
    assert float(yolo_loss(t[None], np.zeros_like(t)[None], ANCHORS)[0]) > 1.0


@pytest.mark.parametrize(
    ("term", "where", "channel"),
    [
        ("coordinates", (1, 0, 0), 0),  # the x offset of a responsible anchor
        ("coordinates", (1, 0, 0), 3),  # its log-height
        ("objectness", (1, 0, 0), 4),  # its object probability
        ("no_object", (5, 5, 1), 4),  # the object probability of an empty anchor
        ("class", (1, 0, 0), 5),  # a class score of a responsible anchor
    ],
)
def test_each_term_responds_to_its_own_error_only(term, where, channel):
    t = encoded()
    perfect = Y.targets_to_logits(t, ANCHORS)
    wrong = perfect.copy()
    if channel >= 4:
        wrong[(*where, channel)] *= -1  # objectness and class logits are +-30: say the opposite
    else:
        wrong[(*where, channel)] += 1.0
    terms = loss_terms(t, wrong, iou_aware=False)  # with iou_aware, a box error also moves the objectness target
    assert terms[term] > 1e-2, f"{term} must see the error"
    for other in set(YOLO_LOSS_TERMS) - {term}:
        assert terms[other] < 1e-6, f"{other} must not see an error in {term}"


def test_iou_aware_objectness_target_follows_the_box_quality():
    t = encoded()
    perfect = Y.targets_to_logits(t, ANCHORS)
    wider = perfect.copy()
    wider[1, 0, 0, 2] += np.log(2.0)  # twice as wide: IoU with the truth 0.5

    def objectness(logit, **kwargs):
        wider[1, 0, 0, 4] = logit
        return loss_terms(t, wider, **kwargs)["objectness"]

    # The cross-entropy against a target of 0.5 is smallest at P(object) = 0.5 (logit 0), where it is log 2.
    assert np.isclose(objectness(0.0), np.log(2), atol=1e-5)
    assert objectness(-0.5) > objectness(0.0) < objectness(0.5), "the IoU, 0.5, is the target"
    assert objectness(0.5, iou_aware=False) < objectness(0.0, iou_aware=False), "v1's target is 1 whatever the IoU"


def test_loss_weights_scale_their_terms():
    t = encoded()
    zeros = np.zeros_like(t)
    base = loss_terms(t, zeros)
    heavy = loss_terms(t, zeros, lambda_coord=10.0, lambda_noobj=1.0)
    assert np.isclose(heavy["coordinates"], 2 * base["coordinates"], rtol=1e-5)
    assert np.isclose(heavy["no_object"], 2 * base["no_object"], rtol=1e-5)
    assert np.isclose(heavy["class"], base["class"]) and np.isclose(heavy["class"], 3 * np.log(CLASSES), rtol=1e-5)


def test_empty_image_has_only_a_no_object_loss():
    t = np.zeros((GRID, GRID, len(ANCHORS), 5 + CLASSES), np.float32)
    terms = loss_terms(t, np.zeros_like(t))
    assert terms["coordinates"] == terms["objectness"] == terms["class"] == 0
    assert np.isclose(terms["no_object"], 0.5 * t[..., 4].size * np.log(2), rtol=1e-5), "every anchor at P = 0.5"


def test_loss_class_matches_the_function_and_round_trips_its_config():
    t = np.stack([encoded(), encoded(BOXES[:1], LABELS[:1])])
    logits = np.random.default_rng(1).normal(size=t.shape).astype(np.float32)
    loss = YoloLoss(ANCHORS, lambda_noobj=0.25)
    expected = float(np.mean(keras.ops.convert_to_numpy(yolo_loss(t, logits, ANCHORS, lambda_noobj=0.25))))
    assert np.isclose(float(loss(t, logits)), expected, rtol=1e-5)
    again = YoloLoss.from_config(loss.get_config())
    assert np.allclose(again.anchors, ANCHORS) and again.lambda_noobj == 0.25
    assert np.isclose(float(again(t, logits)), expected, rtol=1e-5)


def test_loss_rejects_bad_input():
    t = encoded()[None]
    with pytest.raises(ValueError, match="y_true"):
        yolo_loss(t[..., :-1], t, ANCHORS)
    with pytest.raises(ValueError, match="y_pred"):
        yolo_loss(t[0], t[0], ANCHORS)
    with pytest.raises(ValueError, match="anchors"):
        yolo_loss(t, t, ANCHORS[:2])
    with pytest.raises(ValueError, match="lambda_coord"):
        YoloLoss(ANCHORS, lambda_coord=-1)


# --------------------------------------------------------------------------- decoding and the two-step filtering


def test_decoding_a_perfect_prediction_finds_every_object_with_score_one():
    out = Y.decode_predictions(Y.targets_to_logits(encoded(), ANCHORS), ANCHORS, SIZE)
    match = iou(BOXES, out["boxes"]).argmax(1)
    assert len(out["boxes"]) == 3 and np.allclose(out["boxes"][match], BOXES, atol=1e-3)
    assert np.array_equal(out["labels"][match], LABELS) and np.allclose(out["scores"], 1.0)


def test_decode_grid_keeps_every_box_and_the_centre_in_its_cell():
    logits = np.random.default_rng(2).normal(0, 3, (GRID, GRID, len(ANCHORS), 5 + CLASSES)).astype(np.float32)
    every = Y.decode_grid(logits, ANCHORS, SIZE)
    k = GRID * GRID * len(ANCHORS)
    assert every["boxes"].shape == (k, 4) and every["class_probs"].shape == (k, CLASSES)
    centre = (every["boxes"][:, :2] + every["boxes"][:, 2:]) / 2
    cell = SIZE / GRID
    # Rows come in grid order (row, column, anchor).
    cols = np.repeat(np.tile(np.arange(GRID), GRID), len(ANCHORS))
    rows = np.repeat(np.arange(GRID), GRID * len(ANCHORS))
    assert np.all((centre[:, 0] >= cols * cell) & (centre[:, 0] <= (cols + 1) * cell)), "x inside its cell"
    assert np.all((centre[:, 1] >= rows * cell) & (centre[:, 1] <= (rows + 1) * cell)), "y inside its cell"
    assert np.allclose(every["scores"], every["objectness"] * every["class_probs"].max(1))
    assert np.allclose(every["class_probs"].sum(1), 1.0)


def test_the_two_steps_threshold_then_suppress_per_class():
    t = encoded(BOXES[:1], LABELS[:1])
    logits = Y.targets_to_logits(t, ANCHORS)
    # A near-duplicate of the object from the neighbouring anchor (same class, lower score), an overlapping box of
    # another class, and a faint box that only the score threshold removes.
    logits[1, 0, 1] = logits[1, 0, 0]
    logits[1, 0, 1, 2:4] = np.log((BOXES[0, 2:] - BOXES[0, :2]) / SIZE * 1.1 / ANCHORS[1])
    logits[1, 0, 1, 4] = 1.0
    logits[1, 0, 2] = logits[1, 0, 1]
    logits[1, 0, 2, 5:] = [-30.0, 30.0, -30.0]  # class 1
    logits[6, 6, 0, 4], logits[6, 6, 0, 5] = -4.0, 30.0
    every = Y.decode_grid(logits, ANCHORS, SIZE)
    assert (every["scores"] > 0.01).sum() == 4
    out = Y.decode_predictions(logits, ANCHORS, SIZE, score_threshold=0.05, iou_threshold=0.5)
    assert sorted(out["labels"].tolist()) == [1, 2], "the same-class duplicate is suppressed, the other class kept"
    assert out["scores"][0] > 0.99 and out["labels"][0] == 2, "best first"
    loose = Y.decode_predictions(logits, ANCHORS, SIZE, score_threshold=0.01, iou_threshold=1.0)
    assert len(loose["boxes"]) == 4, "without suppression every box above the threshold stays"


def test_batched_nms_on_crafted_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 5, 10, 15.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([0, 0, 1, 0, 0])
    # Box 1 overlaps box 0 by IoU 0.82: suppressed; box 2 is identical to box 0 but another class: kept;
    # box 4 overlaps box 0 by IoU 1/3: kept at threshold 0.5, suppressed at 0.3.
    assert batched_nms(boxes, scores, labels, 0.5).tolist() == [0, 2, 3, 4]
    assert batched_nms(boxes, scores, labels, 0.3).tolist() == [0, 2, 3]


def test_decoding_empty_and_batched_predictions():
    nothing = np.zeros((2, GRID, GRID, len(ANCHORS), 5 + CLASSES), np.float32)
    nothing[..., 4] = -30.0
    out = Y.decode_predictions(nothing, ANCHORS, SIZE)
    assert isinstance(out, list) and len(out) == 2
    assert out[0]["boxes"].shape == (0, 4) and out[0]["scores"].shape == (0,) and out[0]["labels"].shape == (0,)
    with pytest.raises(ValueError, match="predictions"):
        Y.decode_predictions(nothing[0, 0], ANCHORS, SIZE)
    with pytest.raises(ValueError, match="score_threshold"):
        Y.decode_predictions(nothing, ANCHORS, SIZE, score_threshold=2)
    with pytest.raises(ValueError, match="anchors"):
        Y.decode_predictions(nothing, ANCHORS[:2], SIZE)


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def model():
    return Y.build_yolo((SIZE, SIZE, 3), GRID, ANCHORS, CLASSES, width=8, depth_at_grid=1)


def test_model_output_is_the_grid(model):
    out = model.predict(np.zeros((2, SIZE, SIZE, 3), np.float32), verbose=0)
    assert out.shape == (2, GRID, GRID, len(ANCHORS), 5 + CLASSES)
    assert np.allclose(1 / (1 + np.exp(-out[..., 4])), 0.01, atol=0.01), "objectness starts at the 1% prior"


def test_model_saves_and_loads_as_keras(model, tmp_path):
    model.compile(optimizer="adam", loss=YoloLoss(ANCHORS))
    x = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    model.train_on_batch(x, Y.encode_batch([{"boxes": BOXES, "labels": LABELS}] * 2, GRID, ANCHORS, CLASSES, SIZE))
    path = tmp_path / "yolo.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert isinstance(loaded.loss, YoloLoss) and np.allclose(loaded.loss.anchors, ANCHORS)


def test_a_few_steps_of_training_lower_the_loss(model):
    scenes = generate_scenes(32, SIZE, 1, 3, classes=("circle", "square", "cross"), seed=5)
    seq = Y.YoloSequence(scenes.images, scenes.targets, GRID, ANCHORS, CLASSES, batch_size=16, augment=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=YoloLoss(ANCHORS))
    history = model.fit(seq, epochs=6, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_build_rejects_bad_input():
    with pytest.raises(ValueError, match="grid_size"):
        Y.build_yolo((96, 96, 3), 7, ANCHORS, CLASSES)  # 96 / 7 is no power of two
    with pytest.raises(ValueError, match="input_shape"):
        Y.build_yolo((64, 64, 1), GRID, ANCHORS, CLASSES)
    with pytest.raises(ValueError, match="num_classes"):
        Y.build_yolo((64, 64, 3), GRID, ANCHORS, 0)
    with pytest.raises(ValueError, match="anchors"):
        Y.build_yolo((64, 64, 3), GRID, np.zeros((0, 2)), CLASSES)


def test_detect_resizes_other_sizes_or_rejects_them(model):
    big = np.random.default_rng(0).uniform(0, 255, (96, 128, 3)).astype(np.float32)
    out = Y.detect(model, big, ANCHORS, score_threshold=0.0)
    assert out["boxes"].shape[1] == 4 and len(out["boxes"]) > 0
    assert out["boxes"][:, [0, 2]].max() <= 128 and out["boxes"][:, [1, 3]].max() <= 96, "boxes in the image's pixels"
    assert out["boxes"][:, [0, 2]].max() > 64, "scaled back from the 64 x 64 input"
    with pytest.raises(ValueError, match="images: the model expects 64x64"):
        Y.detect(model, big, ANCHORS, resize=False)
    with pytest.raises(ValueError, match="images"):
        Y.detect(model, np.zeros((64, 64)), ANCHORS)


# --------------------------------------------------------------------------- augmentation


def test_flip_scale_translate_moves_boxes_with_the_pixels():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 5:15] = 255  # a white square at xyxy (5, 10, 15, 20)
    box = [[5.0, 10.0, 15.0, 20.0]]
    for flip, scale, shift in [(True, 1.0, (0, 0)), (False, 1.5, (0, 0)), (False, 1.0, (7, -3)), (True, 0.8, (4, 2))]:
        out, boxes, labels = flip_scale_translate(image, box, [1], flip, scale, shift, fill=0)
        ys, xs = np.nonzero(out[..., 0] > 127)
        assert np.allclose(boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1.0), (flip, scale, shift)
        assert labels.tolist() == [1] and out.shape == image.shape and out.dtype == image.dtype


def test_augmentation_clips_and_drops_boxes_pushed_out():
    image = np.zeros((40, 40, 3), np.uint8)
    boxes = [[2.0, 2.0, 12.0, 12.0], [20.0, 20.0, 30.0, 30.0]]
    _, out, labels = flip_scale_translate(image, boxes, [0, 1], shift=(-8, 0), min_visible=0.5)
    assert labels.tolist() == [1] and np.allclose(out, [[12, 20, 22, 30]]), "box 0 keeps 20% of itself: dropped"
    _, out, labels = flip_scale_translate(image, boxes, [0, 1], shift=(-8, 0), min_visible=0.1)
    assert np.allclose(out[0], [0, 2, 4, 12]), "kept, clipped to the image"
    _, out, labels = random_flip_scale_translate(image, np.zeros((0, 4)), [], np.random.default_rng(0))
    assert out.shape == (0, 4) and labels.shape == (0,)


def test_augmentation_rejects_bad_input():
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="scale"):
        flip_scale_translate(image, [[0, 0, 1, 1]], [0], scale=0)
    with pytest.raises(ValueError, match="shift"):
        flip_scale_translate(image, [[0, 0, 1, 1]], [0], shift=(1, 2, 3))
    with pytest.raises(ValueError, match="labels"):
        flip_scale_translate(image, [[0, 0, 1, 1]], [0, 1])
    with pytest.raises(ValueError, match="image"):
        flip_scale_translate(np.zeros((10, 10, 7)), [[0, 0, 1, 1]], [0])
    with pytest.raises(ValueError, match="rng"):
        random_flip_scale_translate(image, [[0, 0, 1, 1]], [0], rng=0)


def test_sequence_batches_are_encoded_and_seeded():
    scenes = generate_scenes(10, SIZE, 0, 3, seed=4)
    seq = Y.YoloSequence(scenes.images, scenes.targets, GRID, ANCHORS, 6, batch_size=4, seed=1)
    x, y = seq[0]
    assert len(seq) == 3 and x.shape == (4, SIZE, SIZE, 3) and y.shape == (4, GRID, GRID, 3, 11)
    x2, y2 = Y.YoloSequence(scenes.images, scenes.targets, GRID, ANCHORS, 6, batch_size=4, seed=1)[0]
    assert np.array_equal(x, x2) and np.array_equal(y, y2), "the same seed gives the same batch"
    with pytest.raises(ValueError, match="targets"):
        Y.YoloSequence(scenes.images, scenes.targets[:3], GRID, ANCHORS, 6)
