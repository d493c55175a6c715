"""Classic R-CNN (cvlib.models.rcnn_classic): the warp, the labelling rules, SVMs and box regression, detection."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib.boxes import decode_deltas, encode_deltas, iou
from cvlib.data.shapes import generate_scenes
from cvlib.models.rcnn_classic import (
    PAPER_CONTEXT,
    PAPER_CROP,
    RCNN,
    RCNNConfig,
    build_crop_cnn,
    context_boxes,
    finetune_labels,
    regression_targets,
    sample_finetune,
    svm_labels,
    svm_scores,
    train_box_regressors,
    train_svms,
    warp_crops,
)

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (20, 30, 3)).astype(np.uint8)
PIXELS = IMAGE.astype(np.float32) / 255.0


# --------------------------------------------------------------------------- the warp


def test_warp_of_a_box_of_the_output_size_is_the_region_itself():
    crop = warp_crops(IMAGE, [[5, 3, 13, 11]], size=8, context=0)
    assert crop.shape == (1, 8, 8, 3) and crop.dtype == np.float32
    np.testing.assert_allclose(crop[0], PIXELS[3:11, 5:13], atol=1e-6)


def test_warp_is_an_anisotropic_resize_of_the_region():
    # A 16 x 8 (w x h) box to 8 x 8: each output pixel is the mean of a 1-tall, 2-wide block.
    crop = warp_crops(IMAGE, [[4, 2, 20, 10]], size=8, context=0)
    expected = PIXELS[2:10, 4:20].reshape(8, 1, 8, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(crop[0], expected, atol=1e-6)
    # The whole image, upsampled: tf.image.resize (bilinear, pixel centres) gives the same, borders included.
    crop = warp_crops(IMAGE, [[0, 0, 30, 20]], size=48, context=0)
    np.testing.assert_allclose(crop[0], tf.image.resize(PIXELS, (48, 48), method="bilinear").numpy(), atol=1e-5)


def test_context_padding_puts_the_box_in_the_central_size_minus_2p_pixels():
    image = np.zeros((40, 40, 3), np.float32)
    image[12:28, 12:28] = 1.0  # a 16-pixel square, the box below
    crop = warp_crops(image, [[12, 12, 28, 28]], size=16, context=4, fill=0.0)
    expected = np.zeros((16, 16, 3), np.float32)
    expected[4:12, 4:12] = 1.0  # p = 4 pixels of surroundings on every side
    np.testing.assert_allclose(crop[0], expected, atol=1e-6)
    np.testing.assert_allclose(context_boxes([[12, 12, 28, 28]], size=16, context=4), [[4, 4, 36, 36]])
    # The default is the paper's 16 pixels at 227, scaled: the box grows by p / (size - 2p) per side.
    p = PAPER_CONTEXT * 32 / PAPER_CROP
    grow = 10 * p / (32 - 2 * p)
    np.testing.assert_allclose(context_boxes([[0, 0, 10, 20]], size=32), [[-grow, -2 * grow, 10 + grow, 20 + 2 * grow]])


def test_warp_pads_outside_the_image_with_the_mean_or_the_fill():
    crop = warp_crops(IMAGE, [[-8, -8, 8, 8]], size=4, context=0)[0]  # samples at -6, -2, 2, 6
    mean = PIXELS.mean(axis=(0, 1))
    outside = np.zeros((4, 4), bool)
    outside[:2] = outside[:, :2] = True
    np.testing.assert_allclose(crop[outside], np.broadcast_to(mean, (outside.sum(), 3)), atol=1e-6)
    inside = warp_crops(IMAGE, [[0, 0, 8, 8]], size=2, context=0)[0]  # the same bilinear samples at 2, 6
    np.testing.assert_allclose(crop[2:, 2:], inside, atol=1e-6)
    far = warp_crops(IMAGE, [[100, 100, 110, 120]], size=4, fill=(0.1, 0.2, 0.3))[0]
    np.testing.assert_allclose(far, np.broadcast_to([0.1, 0.2, 0.3], (4, 4, 3)), atol=1e-6)


def test_warp_bad_and_empty_input():
    assert warp_crops(IMAGE, np.zeros((0, 4)), size=12).shape == (0, 12, 12, 3)
    assert warp_crops(IMAGE, [], size=12).shape == (0, 12, 12, 3)
    with pytest.raises(ValueError, match="boxes: box 1 has zero area"):
        warp_crops(IMAGE, [[0, 0, 5, 5], [3, 3, 3, 9]])
    with pytest.raises(ValueError, match="boxes"):
        warp_crops(IMAGE, [[0, 0, np.nan, 5]])
    with pytest.raises(ValueError, match="boxes"):
        warp_crops(IMAGE, [[5, 5, 0, 0]])  # negative size
    with pytest.raises(ValueError, match="boxes"):
        warp_crops(IMAGE, [[0, 0, 5]])
    with pytest.raises(ValueError, match="image"):
        warp_crops(IMAGE[..., 0], [[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="image"):
        warp_crops(np.full((4, 4, 3), np.inf), [[0, 0, 2, 2]])
    with pytest.raises(ValueError, match="context"):
        warp_crops(IMAGE, [[0, 0, 5, 5]], size=8, context=4)
    with pytest.raises(ValueError, match="size"):
        warp_crops(IMAGE, [[0, 0, 5, 5]], size=0)
    with pytest.raises(ValueError, match="fill"):
        warp_crops(IMAGE, [[0, 0, 5, 5]], fill=(0.0, 0.0))


# --------------------------------------------------------------------------- labelling

GT = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
GT_LABELS = np.array([2, 0])


def test_finetune_labels_follow_the_half_iou_rule():
    proposals = np.array([
        [0, 0, 10, 10],  # the first object: class 2 + 1
        [0, 0, 10, 5],  # IoU exactly 0.5 with it: foreground
        [0, 0, 10, 4.9],  # IoU 0.49: background
        [21, 21, 30, 30],  # IoU 0.81 with the second object: class 0 + 1
        [40, 40, 50, 50],  # nothing: background
    ])
    classes, best = finetune_labels(proposals, GT, GT_LABELS)
    np.testing.assert_array_equal(classes, [3, 3, 0, 1, 0])
    np.testing.assert_allclose(best, [1.0, 0.5, 0.49, 0.81, 0.0])
    classes, best = finetune_labels(proposals, np.zeros((0, 4)), [])
    np.testing.assert_array_equal(classes, 0)
    assert finetune_labels(np.zeros((0, 4)), GT, GT_LABELS)[0].shape == (0,)
    with pytest.raises(ValueError, match="gt_labels"):
        finetune_labels(proposals, GT, [1])
    with pytest.raises(ValueError, match="fg_iou"):
        finetune_labels(proposals, GT, GT_LABELS, fg_iou=1.5)


def test_sample_finetune_keeps_the_foreground_fraction():
    classes = np.array([1] * 10 + [0] * 100)
    pick = sample_finetune(classes, 16, 0.25, rng=0)
    assert len(pick) == 16 and len(set(pick)) == 16
    assert (classes[pick] > 0).sum() == 4  # the paper's 32 of 128
    np.testing.assert_array_equal(pick, sample_finetune(classes, 16, 0.25, rng=0))
    few = np.array([2, 5] + [0] * 100)
    assert (few[sample_finetune(few, 16, 0.25, rng=1)] > 0).sum() == 2  # all there is; background fills the rest
    assert len(sample_finetune(few, 16, 0.25, rng=1)) == 16
    assert len(sample_finetune(np.array([1, 0, 0]), 16, 0.25, rng=1)) == 3  # fewer candidates than asked
    assert sample_finetune(np.zeros(0, int), 16).shape == (0,)
    with pytest.raises(ValueError, match="fg_fraction"):
        sample_finetune(classes, 16, -0.1)
    with pytest.raises(ValueError, match="num"):
        sample_finetune(classes, -1)


def test_svm_labels_positives_are_the_objects_negatives_below_03():
    proposals = np.array([
        [0, 0, 10, 6],  # IoU 0.6 with the class-2 object: ignored for class 2, negative for the others
        [0, 0, 10, 3],  # IoU exactly 0.3: still ignored (negatives are below 0.3)
        [0, 0, 10, 2.9],  # IoU 0.29: a negative for class 2 too
        [40, 40, 50, 50],  # background: negative for every class
    ])
    boxes, y = svm_labels(proposals, GT, GT_LABELS, num_classes=4)
    np.testing.assert_array_equal(boxes, np.concatenate([GT, proposals]))
    expected = np.array([
        [-1, -1, 1, -1],  # the class-2 object: a positive for class 2 only
        [1, -1, -1, -1],  # the class-0 object
        [-1, -1, 0, -1],
        [-1, -1, 0, -1],
        [-1, -1, -1, -1],
        [-1, -1, -1, -1],
    ])
    np.testing.assert_array_equal(y, expected)
    boxes, y = svm_labels(np.zeros((0, 4)), np.zeros((0, 4)), [], num_classes=2)
    assert boxes.shape == (0, 4) and y.shape == (0, 2)
    with pytest.raises(ValueError, match="gt_labels"):
        svm_labels(proposals, GT, [2, 5], num_classes=4)


def test_regression_targets_pair_proposals_above_06_with_their_object():
    proposals = np.array([[1, 1, 11, 11], [0, 0, 10, 6], [0, 0, 10, 6.5], [22, 20, 31, 30], [40, 40, 45, 45]])
    index, labels, deltas = regression_targets(proposals, GT, GT_LABELS)
    np.testing.assert_array_equal(index, [0, 2, 3])  # IoU 0.68, 0.65, 0.73; 0.6 itself is not above 0.6
    np.testing.assert_array_equal(labels, [2, 2, 0])
    np.testing.assert_allclose(decode_deltas(proposals[index], deltas), GT[[0, 0, 1]], atol=1e-9)
    np.testing.assert_allclose(deltas, encode_deltas(proposals[index], GT[[0, 0, 1]]))
    index, labels, deltas = regression_targets(proposals, np.zeros((0, 4)), [])
    assert index.shape == (0,) and labels.shape == (0,) and deltas.shape == (0, 4)
    with pytest.raises(ValueError, match="proposals: box 0 has zero area"):
        regression_targets([[1, 1, 1, 5]], GT, GT_LABELS)


# --------------------------------------------------------------------------- SVMs and regressors


def test_svms_separate_a_separable_problem_and_ignore_the_zero_rows():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(3, 0.5, (20, 2)), rng.normal(-3, 0.5, (40, 2)), rng.normal(-3, 0.5, (5, 2))])
    y = np.zeros((65, 2), np.int8)
    y[:20, 0], y[20:60, 0] = 1, -1
    y[60:, 0] = 0  # ignored rows on the negative side: were they read as positives, they could not be separated
    y[:, 1] = -1  # class 1 has no positive: it cannot be trained
    svms = train_svms(features, y, C=1.0)
    assert svms[1] is None
    scores = svm_scores(svms, features)
    assert scores.shape == (65, 2)
    assert (scores[:20, 0] > 0).all() and (scores[20:, 0] < 0).all()
    assert np.isneginf(scores[:, 1]).all()
    assert svm_scores(svms, np.zeros((0, 2))).shape == (0, 2)
    with pytest.raises(ValueError, match="y"):
        train_svms(features, y[:10])
    with pytest.raises(ValueError, match="y"):
        train_svms(features, y + 3)
    with pytest.raises(ValueError, match="features"):
        train_svms(features[:, 0], y)


def test_box_regressors_recover_a_linear_map_per_class():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 3))
    labels = np.repeat([0, 2], 30)
    maps = {0: rng.normal(size=(3, 4)), 2: rng.normal(size=(3, 4))}
    deltas = np.stack([features[i] @ maps[labels[i]] for i in range(60)])
    regressors = train_box_regressors(features, labels, deltas, num_classes=3, alpha=1e-6)
    assert regressors[1] is None
    for c in (0, 2):
        np.testing.assert_allclose(regressors[c].predict(features[labels == c]), deltas[labels == c], atol=1e-4)
    with pytest.raises(ValueError, match="deltas"):
        train_box_regressors(features, labels, deltas[:, :3], num_classes=3)
    with pytest.raises(ValueError, match="labels"):
        train_box_regressors(features, labels, deltas, num_classes=2)
    with pytest.raises(ValueError, match="alpha"):
        train_box_regressors(features, labels, deltas, num_classes=3, alpha=-1)


def test_crop_cnn_has_a_feature_layer_and_c_plus_1_outputs():
    model = build_crop_cnn(5, size=16, filters=(4, 8), hidden=12)
    assert model.output.shape[1:] == (6,)
    assert model.get_layer("features").output.shape[1:] == (12,)
    assert model.get_layer("pool5").output.shape[1:] == (4 * 4 * 8,)  # spatial: two 2x2 pools of 16
    with pytest.raises(ValueError, match="num_classes"):
        build_crop_cnn(0)


# --------------------------------------------------------------------------- the detector

TINY = RCNNConfig(crop_size=16, filters=(4, 8), hidden=16, epochs=1, batch_size=32, crops_per_image=16)


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(8, 32, 1, 2, object_size=(0.4, 0.7), seed=3)


def _proposals(scenes):
    """Proposals made by jittering the true boxes and adding fixed background windows: no selective search needed."""
    rng = np.random.default_rng(2)
    out = []
    for t in scenes.targets:
        jitter = np.repeat(t["boxes"], 4, axis=0) + rng.uniform(-2, 2, (4 * len(t["boxes"]), 4))
        windows = np.array([[0, 0, 12, 12], [20, 20, 32, 32], [0, 16, 16, 32], [8, 8, 24, 24]])
        out.append(np.concatenate([jitter, windows]))
    return out


@pytest.fixture(scope="module")
def trained(scenes):
    keras.utils.set_random_seed(0)
    model = RCNN(len(scenes.class_names), TINY, seed=0)
    history = model.fit(scenes.images, scenes.targets, _proposals(scenes), verbose=0)
    return model, history


def test_fit_records_the_stages(trained):
    model, history = trained
    assert len(model.svms) == len(model.regressors) == 6
    assert history["crops"] > 0 and 0 < history["foreground_crops"] < history["crops"]
    assert {"cnn_s", "svm_s", "regression_s"} <= set(history["timing"])
    fc, pool5 = model.features(np.zeros((32, 32, 3), np.uint8), [[0, 0, 10, 10], [5, 5, 30, 20]])
    assert fc.shape == (2, 16) and pool5.shape == (2, 4 * 4 * 8)
    fc, pool5 = model.features(np.zeros((32, 32, 3), np.uint8), np.zeros((0, 4)))
    assert fc.shape == (0, 16) and pool5.shape == (0, 4 * 4 * 8)


def test_fit_cnn_is_fits_first_stage_alone(trained, scenes):
    model, history = trained
    keras.utils.set_random_seed(0)
    alone = RCNN(len(scenes.class_names), TINY, seed=0)
    first = alone.fit_cnn(scenes.images, scenes.targets, _proposals(scenes), verbose=0)
    assert alone.svms == [] and model.svms, "no SVMs: only the crop CNN is trained"
    assert first["crops"] == history["crops"] and first["foreground_crops"] == history["foreground_crops"]
    assert first["cnn"] == history["cnn"], "the same crops, labels and draws train the same CNN"
    for a, b in zip(alone.cnn.get_weights(), model.cnn.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no objects"):
        RCNN(6, TINY).fit_cnn(scenes.images[:1], [{"boxes": np.zeros((0, 4)), "labels": []}], _proposals(scenes)[:1])


def test_regression_moves_the_kept_boxes_and_keeps_their_scores(trained, scenes):
    model, _ = trained
    proposals = _proposals(scenes)[:2]
    plain = model.detect(scenes.images[:2], proposals, regress=False)
    moved = model.detect(scenes.images[:2], proposals, regress=True)
    for a, b in zip(plain, moved):
        np.testing.assert_array_equal(a["labels"], b["labels"])
        np.testing.assert_array_equal(a["scores"], b["scores"])
    assert not np.allclose(np.concatenate([r["boxes"] for r in plain]), np.concatenate([r["boxes"] for r in moved]))


def test_detect_output_format_nms_and_timing(trained, scenes):
    model, _ = trained
    proposals = _proposals(scenes)
    for regress, scores in ((False, "svm"), (True, "svm"), (False, "softmax")):
        results = model.detect(scenes.images[:3], proposals[:3], regress=regress, scores=scores)
        assert len(results) == 3
        for r in results:
            assert set(r) == {"boxes", "scores", "labels"}
            k = len(r["scores"])
            assert r["boxes"].shape == (k, 4) and r["boxes"].dtype == np.float32
            assert r["scores"].dtype == np.float32 and r["labels"].dtype == np.int64
            assert (np.diff(r["scores"]) <= 0).all()  # best first
            assert ((r["labels"] >= 0) & (r["labels"] < 6)).all()
            assert (r["boxes"] >= 0).all() and (r["boxes"] <= 32).all()
            assert (r["boxes"][:, 2:] > r["boxes"][:, :2]).all()
            if scores == "softmax":
                assert ((r["scores"] >= 0) & (r["scores"] <= 1)).all()
            if not regress:  # per-class NMS at 0.3: no two kept boxes of one class overlap more
                for label in np.unique(r["labels"]):
                    b = r["boxes"][r["labels"] == label]
                    overlaps = iou(b, b) - np.eye(len(b))
                    assert (overlaps <= model.config.nms_iou + 1e-6).all()
    assert {"proposals_s", "warp_s", "cnn_s", "svm_s", "nms_regression_s", "per_image_s"} <= set(model.timing)
    assert model.timing["per_image_s"] > 0 and model.timing["images"] == 3


def test_detect_with_empty_proposals_and_with_selective_search(trained, scenes):
    model, _ = trained
    results = model.detect(scenes.images[:2], [np.zeros((0, 4)), []])
    for r in results:
        assert r["boxes"].shape == (0, 4) and r["scores"].shape == (0,) and r["labels"].shape == (0,)
    results = model.detect(scenes.images[:1])  # proposals None: selective search runs inside, timed
    assert len(results) == 1 and model.timing["proposals_s"] > 0
    # Images of different sizes may come as a list: the CNN only ever sees the fixed-size crops.
    results = model.detect([scenes.images[0], scenes.images[1][:24, :20]], [[[2, 2, 20, 20]], [[1, 1, 18, 22]]])
    assert len(results) == 2 and (results[1]["boxes"][:, [2, 3]] <= [20, 24]).all()


def test_bad_input_gives_clear_errors(trained, scenes):
    model, _ = trained
    proposals = _proposals(scenes)
    with pytest.raises(ValueError, match="not trained"):
        RCNN(6, TINY).detect(scenes.images[:1], proposals[:1])
    with pytest.raises(ValueError, match="proposals: expected a list of 2"):
        model.detect(scenes.images[:2], proposals[:1])
    with pytest.raises(ValueError, match=r"proposals\[0\]: box 1 has zero area"):
        model.detect(scenes.images[:1], [np.array([[0, 0, 5, 5], [4, 4, 4, 8]])])
    with pytest.raises(ValueError, match=r"proposals\[0\]"):
        model.detect(scenes.images[:1], [np.array([[0, 0, np.nan, 5]])])
    with pytest.raises(ValueError, match="images"):
        model.detect(scenes.images[0], proposals[:1])
    with pytest.raises(ValueError, match="scores"):
        model.detect(scenes.images[:1], proposals[:1], scores="logits")
    fresh = RCNN(6, TINY)
    with pytest.raises(ValueError, match="targets"):
        fresh.fit(scenes.images[:2], scenes.targets[:1], proposals[:2])
    with pytest.raises(ValueError, match=r"targets\[0\]\['labels'\]"):
        fresh.fit(scenes.images[:1], [{"boxes": [[0, 0, 5, 5]], "labels": [6]}], proposals[:1])
    with pytest.raises(ValueError, match=r"targets\[0\]\['boxes'\]: box 0 has zero area"):
        fresh.fit(scenes.images[:1], [{"boxes": [[0, 0, 0, 5]], "labels": [1]}], proposals[:1])
    with pytest.raises(ValueError, match="no objects"):
        fresh.fit(scenes.images[:1], [{"boxes": np.zeros((0, 4)), "labels": []}], proposals[:1])
    with pytest.raises(ValueError, match="num_classes"):
        RCNN(0)
