"""Mask R-CNN (cvlib.models.maskrcnn): paste-back geometry, mask targets, the mask loss, training, saving, bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.data.shapes import generate_scenes
from cvlib.models.maskrcnn import MASK_SIZE, MaskRCNN, build_mask_head, mask_targets, paste_masks
from cvlib.models.rcnn import DetectorConfig


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(16, 64, 1, 3, object_size=(0.3, 0.6), seed=12)


@pytest.fixture(scope="module")
def trained(scenes):
    keras.utils.set_random_seed(0)
    config = DetectorConfig(anchor_scales=(16, 32), rois_per_image=16, post_nms_train=32, post_nms_test=16)
    model = MaskRCNN((64, 64, 3), len(scenes.class_names), filters=(8, 16, 16), config=config, mask_channels=8)
    model.fit(scenes.images, scenes.targets, epochs=2, batch_size=4, verbose=0)
    return model


# ------------------------------------------------------------------ paste-back geometry


@pytest.mark.parametrize("box", [(3, 5, 20, 11), (0, 0, 64, 48), (10, 30, 11, 31), (40, 2, 63, 47)])
def test_a_box_shaped_mask_covers_exactly_its_box(box):
    x1, y1, x2, y2 = box
    pasted = paste_masks(np.ones((1, MASK_SIZE, MASK_SIZE)), [box], (48, 64))
    expected = np.zeros((48, 64), bool)
    expected[y1:y2, x1:x2] = True
    assert pasted.shape == (1, 48, 64) and pasted.dtype == bool
    np.testing.assert_array_equal(pasted[0], expected)


def test_fractional_and_clipped_boxes_take_the_pixels_whose_centres_are_inside():
    pasted = paste_masks(np.ones((2, 7, 7)), [(2.4, 1.6, 5.5, 4.5), (-10, -5, 3, 2)], (8, 8, 3))
    expected = np.zeros((2, 8, 8), bool)
    expected[0, 2:4, 2:5] = True  # centres 2.5..4.5 in x (5.5 is outside [2.4, 5.5)), 2.5..3.5 in y
    expected[1, 0:2, 0:3] = True  # the box sticks out of the image: only the visible part is pasted
    np.testing.assert_array_equal(pasted, expected)


def test_paste_puts_the_mask_the_right_way_round_and_scales_it():
    mask = np.zeros((MASK_SIZE, MASK_SIZE))
    mask[:, : MASK_SIZE // 2] = 1.0  # left half
    mask[: MASK_SIZE // 4] = 0.0  # minus the top quarter
    pasted = paste_masks(mask[None], [(8, 4, 48, 44)], (64, 64))[0]
    expected = np.zeros((64, 64), bool)
    expected[14:44, 8:28] = True  # the box is 40 x 40: left 20 columns, all but the top 10 rows
    np.testing.assert_array_equal(pasted, expected)
    assert not paste_masks(mask[None] * 0.49, [(8, 4, 48, 44)], (64, 64)).any(), "below the threshold: nothing"
    assert paste_masks(mask[None] * 0.49, [(8, 4, 48, 44)], (64, 64), threshold=0.3).sum() == expected.sum()


def test_mask_targets_then_paste_recovers_the_object(scenes):
    image, target = scenes[0]
    masks, boxes = target["masks"], target["boxes"]
    cut = mask_targets(masks, boxes)
    assert cut.shape == (len(masks), MASK_SIZE, MASK_SIZE) and set(np.unique(cut)) <= {0.0, 1.0}
    back = paste_masks(cut, boxes, image.shape)
    for m, b in zip(masks, back):
        assert (m & b).sum() / (m | b).sum() > 0.85, "28 x 28 is enough to give the object back"
    square = np.zeros((1, 40, 40), bool)
    square[0, 10:30, 10:20] = True
    np.testing.assert_array_equal(mask_targets(square, [[10, 10, 20, 30]])[0], 1.0)  # the RoI is the object
    left = mask_targets(square, [[10, 10, 30, 30]])[0]  # the object fills the left half of the RoI
    np.testing.assert_array_equal(left[:, :14], 1.0)
    np.testing.assert_array_equal(left[:, 14:], 0.0)
    np.testing.assert_array_equal(mask_targets(np.zeros((1, 40, 40), bool), [[0, 0, 9, 9]]), 0.0)


def test_paste_and_targets_empty_and_bad_input():
    assert paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), (10, 12)).shape == (0, 10, 12)
    assert paste_masks([], [], (10, 12)).shape == (0, 10, 12)
    assert mask_targets(np.zeros((0, 10, 10), bool), np.zeros((0, 4))).shape == (0, MASK_SIZE, MASK_SIZE)
    with pytest.raises(ValueError, match=r"boxes: expected one box per mask \(2\), got 1"):
        paste_masks(np.ones((2, 28, 28)), [[0, 0, 5, 5]], (10, 10))
    with pytest.raises(ValueError, match=r"masks: expected \(k, M, N\)"):
        paste_masks(np.ones((28, 28)), [[0, 0, 5, 5]], (10, 10))
    with pytest.raises(ValueError, match="image_shape"):
        paste_masks(np.ones((1, 28, 28)), [[0, 0, 5, 5]], 10)
    with pytest.raises(ValueError, match="threshold"):
        paste_masks(np.ones((1, 28, 28)), [[0, 0, 5, 5]], (10, 10), threshold=1.5)
    with pytest.raises(ValueError, match="negative width"):
        paste_masks(np.ones((1, 28, 28)), [[5, 0, 0, 5]], (10, 10))
    with pytest.raises(ValueError, match=r"rois: expected one box per mask \(1\), got 2"):
        mask_targets(np.ones((1, 10, 10), bool), [[0, 0, 5, 5]] * 2)


# ------------------------------------------------------------------ the head and its loss


def test_mask_head_shapes_and_pooling():
    for pooling in ("align", "pool"):
        head = build_mask_head((8, 8, 16), num_classes=5, spatial_scale=1 / 8, pooling=pooling, channels=8)
        out = head([np.zeros((2, 8, 8, 16), np.float32), np.array([[0, 0, 0, 20, 20], [1, 8, 8, 40, 60]], np.float32)])
        assert out.shape == (2, MASK_SIZE, MASK_SIZE, 5)
    with pytest.raises(ValueError, match="pooling"):
        build_mask_head((8, 8, 16), 5, 1 / 8, pooling="max")


def test_mask_loss_reads_only_the_true_class_of_foreground_rois(trained):
    import tensorflow as tf

    target = np.zeros((3, MASK_SIZE, MASK_SIZE), np.float32)
    target[:, 5:20, 3:9] = 1.0
    classes = tf.constant([2, 0, 1])  # head classes: object label 1, background, object label 0
    weights = tf.constant([1.0, 1.0, 1.0])
    logits = np.random.default_rng(0).normal(0, 5, (3, MASK_SIZE, MASK_SIZE, trained.num_classes)).astype(np.float32)
    logits[0, :, :, 1] = np.where(target[0] > 0, 30.0, -30.0)  # the true class's mask is right
    logits[2, :, :, 0] = np.where(target[2] > 0, 30.0, -30.0)
    saved = trained.mask_head
    try:
        # The head sees the foreground RoIs only (rows 0 and 2, then row 0 again with weight 0).
        trained.mask_head = lambda inputs, training: tf.constant(logits[[0, 2, 0]])
        rois = tf.zeros((3, 5))
        loss = float(trained._extra_losses(None, rois, classes, weights, (tf.constant(target),), False)["mask"])
        assert loss < 1e-6, "other classes' masks and background RoIs must not count"
        logits[0, :, :, 1] *= -1  # now the true class's mask is wrong: a large loss
        loss = float(trained._extra_losses(None, rois, classes, weights, (tf.constant(target),), False)["mask"])
        assert loss == pytest.approx(30.0 / 2, rel=1e-3), "mean BCE over the two foreground RoIs (one wrong)"
    finally:
        trained.mask_head = saved


# ------------------------------------------------------------------ training, detection, saving


def test_training_reports_the_mask_loss_and_detect_returns_masks(trained, scenes):
    assert {"rpn_class", "rpn_box", "head_class", "head_box", "mask"} <= set(trained.history[-1])
    assert all(np.isfinite(v) for v in trained.history[-1].values())
    results = trained.detect(scenes.images[:3])
    for r in results:
        k = len(r["boxes"])
        assert r["masks"].shape == (k, 64, 64) and r["masks"].dtype == bool
        assert r["mask_probs"].shape == (k, MASK_SIZE, MASK_SIZE)
        for mask, (x1, y1, x2, y2) in zip(r["masks"], r["boxes"]):
            rows, cols = np.nonzero(mask)
            if rows.size:  # a pasted mask never leaves its box
                assert cols.min() + 0.5 >= x1 and cols.max() + 0.5 < x2
                assert rows.min() + 0.5 >= y1 and rows.max() + 0.5 < y2


def test_save_and_load_give_the_same_detections(trained, scenes, tmp_path):
    trained.save(tmp_path / "model")
    loaded = MaskRCNN.load(tmp_path / "model")
    assert loaded.config == trained.config and loaded.pooling == trained.pooling
    before, after = trained.detect(scenes.images[:4]), loaded.detect(scenes.images[:4])
    for a, b in zip(before, after):
        np.testing.assert_allclose(a["boxes"], b["boxes"], atol=1e-4)
        np.testing.assert_array_equal(a["labels"], b["labels"])
        np.testing.assert_array_equal(a["masks"], b["masks"])
    with pytest.raises(ValueError, match=r"no maskrcnn\.json"):
        MaskRCNN.load(tmp_path / "nothing")


def test_bad_targets_give_clear_errors_and_empty_masks_train(scenes):
    model = MaskRCNN((64, 64, 3), 6, filters=(8, 8, 8), mask_channels=4,
                     config=DetectorConfig(anchor_scales=(16, 32), rois_per_image=8, post_nms_train=16))
    images, targets = scenes.images[:2], [dict(t) for t in scenes.targets[:2]]
    wrong = [{**targets[0], "masks": targets[0]["masks"][:, :32]}, targets[1]]
    with pytest.raises(ValueError, match=r"targets\[0\]\['masks'\]: expected shape \(\d, 64, 64\)"):
        model.fit(images, wrong, batch_size=2, verbose=0)
    wrong = [targets[0], {**targets[1], "labels": np.full(len(targets[1]["labels"]), 6)}]
    with pytest.raises(ValueError, match=r"targets\[1\]\['labels'\]: expected \d integer labels in 0..5"):
        model.fit(images, wrong, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match=r"targets\[0\]: expected a dict with 'boxes', 'labels' and 'masks'"):
        model.fit(images, [{"boxes": targets[0]["boxes"], "labels": targets[0]["labels"]}, targets[1]], verbose=0,
                  batch_size=2)
    empty = [{**targets[0], "masks": np.zeros_like(targets[0]["masks"])}, targets[1]]
    history = model.fit(images, empty, batch_size=2, verbose=0)
    assert np.isfinite(history[-1]["mask"]), "an empty mask is a defined (all-background) target"
    none = [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "masks": np.zeros((0, 64, 64), bool)}] * 2
    assert np.isfinite(model.fit(images, none, batch_size=2, verbose=0)[-1]["mask"]), "images without objects"
