"""Fast and Faster R-CNN pieces (cvlib.models.rcnn): shapes, targets, proposals, a short training, detection."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.boxes import clip, decode_deltas, iou
from cvlib.data.shapes import generate_scenes
from cvlib.models.rcnn import HEAD_VARIANCES, DetectorConfig, TwoStageDetector, build_box_head, build_rpn


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(16, 64, 1, 3, object_size=(0.3, 0.6), seed=4)


@pytest.fixture(scope="module")
def detector(scenes):
    keras.utils.set_random_seed(0)
    config = DetectorConfig(anchor_scales=(16, 32), rois_per_image=32, post_nms_train=64, post_nms_test=32)
    return TwoStageDetector((64, 64, 3), len(scenes.class_names), filters=(8, 16, 16), config=config, seed=0)


def test_head_and_rpn_shapes():
    head = build_box_head((8, 8, 16), num_classes=5, spatial_scale=1 / 8, pooling="pool", output_size=3, hidden=32)
    logits, deltas = head([np.zeros((2, 8, 8, 16), np.float32), np.array([[0, 0, 0, 20, 20], [1, 8, 8, 40, 60]],
                                                                          np.float32)])
    assert logits.shape == (2, 6) and deltas.shape == (2, 5, 4)
    objectness, rpn_deltas = build_rpn((8, 8, 16), num_anchors=9, channels=16)(np.zeros((3, 8, 8, 16), np.float32))
    assert objectness.shape == (3, 8 * 8 * 9) and rpn_deltas.shape == (3, 8 * 8 * 9, 4)
    with pytest.raises(ValueError, match="pooling"):
        build_box_head((8, 8, 16), 5, 1 / 8, pooling="max")


def test_rpn_targets_label_every_object_and_encode_its_box(detector, scenes):
    labels, deltas = detector.rpn_targets(scenes.targets[:4])
    assert labels.shape == (4, len(detector.anchors)) and deltas.shape == (4, len(detector.anchors), 4)
    for i, target in enumerate(scenes.targets[:4]):
        assert (labels[i] >= 0).sum() <= detector.config.rpn_batch
        pos = np.flatnonzero(labels[i] == 1)
        decoded = decode_deltas(detector.anchors[pos], deltas[i, pos])
        # Every positive's deltas lead exactly to a true box, and every object has a positive.
        overlaps = iou(decoded, target["boxes"])
        np.testing.assert_allclose(overlaps.max(axis=1), 1.0, atol=1e-5)
        assert set(overlaps.argmax(axis=1)) == set(range(len(target["boxes"])))


def test_proposals_follow_the_scores_and_the_deltas(detector):
    n = len(detector.anchors)
    logits = np.full((1, n), -5.0, np.float32)
    deltas = np.zeros((1, n, 4), np.float32)
    best = int(np.flatnonzero((detector.anchors >= 0).all(1) & (detector.anchors <= 64).all(1))[7])
    logits[0, best] = 5.0
    deltas[0, best] = [0.1, -0.2, 0.0, 0.3]
    proposals = detector.proposals_from_rpn(logits, deltas, training=False)[0]
    expected = clip(decode_deltas(detector.anchors[[best]], deltas[0, [best]]), (64, 64))[0]
    np.testing.assert_allclose(proposals[0], expected, atol=1e-5)
    assert len(proposals) <= detector.config.post_nms_test
    assert (proposals >= 0).all() and (proposals <= 64).all(), "proposals are clipped to the image"


def test_sampled_rois_carry_the_right_classes_and_deltas(detector, scenes):
    targets = scenes.targets[:3]
    proposals = [np.zeros((0, 4))] * 3  # only the true boxes and nothing else: all foreground
    rois, classes, deltas, weights = detector.sample_rois(proposals, targets)
    n = detector.config.rois_per_image
    assert rois.shape == (3 * n, 5) and classes.shape == weights.shape == (3 * n,)
    for i, target in enumerate(targets):
        rows = slice(i * n, (i + 1) * n)
        used = weights[rows] > 0
        assert used.sum() == len(target["boxes"]), "with no proposals, the true boxes are the only candidates"
        assert np.all(rois[rows][used, 0] == i)
        np.testing.assert_array_equal(np.sort(classes[rows][used]), np.sort(target["labels"] + 1))
        np.testing.assert_allclose(deltas[rows][used], 0.0, atol=1e-6)  # a true box needs no correction


def test_background_rois_get_class_zero(detector, scenes):
    far = [np.array([[0, 0, 3, 3], [60, 60, 63, 63]] * 20, float)] * 2
    rois, classes, deltas, weights = detector.sample_rois(far, scenes.targets[:2])
    fg = classes > 0
    assert fg.sum() <= 2 * int(detector.config.rois_per_image * detector.config.fg_fraction)
    assert (weights == 1).all(), "40 candidates per image fill all 32 RoI slots"
    assert (~fg).sum() > 0 and (deltas[~fg] == 0).all(), "background RoIs are sampled and have no box target"
    boxes = rois[fg, 1:]  # the far corner boxes overlap nothing: the only foreground are the true boxes themselves
    np.testing.assert_allclose(decode_deltas(boxes, deltas[fg], HEAD_VARIANCES), boxes, atol=1e-5)


def test_training_lowers_the_class_losses_and_detection_returns_dicts(detector, scenes):
    history = detector.fit(scenes.images, scenes.targets, epochs=6, batch_size=4, verbose=0)
    first, last = history[0], history[-1]
    for key in ("rpn_class", "head_class"):
        assert last[key] < first[key], f"{key} must fall while training ({first[key]:.3f} -> {last[key]:.3f})"
    predictions = detector.detect(scenes.images[:3])
    assert len(predictions) == 3
    for p in predictions:
        assert p["boxes"].shape == (len(p["scores"]), 4) and p["labels"].shape == p["scores"].shape
        assert (p["scores"] > detector.config.score_threshold).all()
        assert np.all(np.diff(p["scores"]) <= 0), "detections come best first"
    proposals = detector.proposals(scenes.images[:5], batch_size=2)
    assert len(proposals) == 5, "one proposal array per image, across batches"
    for p in proposals:
        assert p.shape[1] == 4 and 0 < len(p) <= detector.config.post_nms_test
        assert (p[:, 2:] > p[:, :2]).all() and (p >= 0).all() and (p <= 64).all(), "clipped boxes of positive size"


def test_fast_rcnn_needs_proposals_and_uses_them(scenes):
    config = DetectorConfig(rois_per_image=16)
    fast = TwoStageDetector((64, 64, 3), len(scenes.class_names), rpn=False, filters=(8, 8), config=config)
    assert fast.rpn is None
    with pytest.raises(ValueError, match="proposals"):
        fast.detect(scenes.images[:2])
    with pytest.raises(ValueError, match="no RPN"):
        fast.proposals(scenes.images[:2])
    proposals = [t["boxes"] for t in scenes.targets[:4]]
    fast.fit(scenes.images[:4], scenes.targets[:4], proposals=proposals, batch_size=2, verbose=0)
    out = fast.detect(scenes.images[:2], proposals=[np.zeros((0, 4)), proposals[1]])
    assert out[0]["boxes"].shape == (0, 4), "no proposals, no detections"


def test_an_xla_training_step_repeats_bit_for_bit_and_learns(scenes):
    def train(jit_compile):
        keras.utils.set_random_seed(3)
        config = DetectorConfig(anchor_scales=(16, 32), rois_per_image=16, post_nms_train=32, norm="batch",
                                jit_compile=jit_compile)
        det = TwoStageDetector((64, 64, 3), len(scenes.class_names), pooling="pool", filters=(8, 16, 16),
                               config=config, seed=3)
        history = det.fit(scenes.images, scenes.targets, epochs=3, batch_size=4, verbose=0)
        return history, [np.asarray(w) for w in det.backbone.weights + det.rpn.weights + det.head.weights]

    history, weights = train(True)
    again_history, again = train(True)
    assert all(np.array_equal(a, b) for a, b in zip(weights, again)), "one seed, the same weights bit for bit"
    assert [h["head_class"] for h in history] == [h["head_class"] for h in again_history]
    assert history[-1]["head_class"] < history[0]["head_class"], "the compiled step trains"
    graph_history, _ = train(False)
    # The graph runtime computes the same step, up to rounding: the first epoch's four steps give the same mean losses.
    for key in ("rpn_class", "rpn_box", "head_class", "head_box"):
        np.testing.assert_allclose(history[0][key], graph_history[0][key], rtol=1e-4)


def test_bad_inputs(scenes):
    with pytest.raises(ValueError, match="num_classes"):
        TwoStageDetector((64, 64, 3), 0)
    with pytest.raises(ValueError, match="jit_compile"):
        TwoStageDetector((64, 64, 3), 3, config=DetectorConfig(jit_compile="yes"))
    with pytest.raises(ValueError, match="image_shape"):
        TwoStageDetector((64, 64), 3)
    det = TwoStageDetector((64, 64, 3), 3, filters=(8, 8))
    with pytest.raises(ValueError, match=r"images: expected \(B, 64, 64, 3\)"):
        det.detect(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="targets"):
        det.fit(scenes.images[:4], scenes.targets[:3])
    with pytest.raises(ValueError, match="batch_size"):
        det.fit(scenes.images[:4], scenes.targets[:4], batch_size=8)


def test_backbone_stride_sets_the_feature_map_and_the_anchors():
    from cvlib.models.rcnn import build_backbone

    assert build_backbone((64, 64, 3), (8, 8, 8)).output.shape[1:] == (8, 8, 8), "three pools by default: stride 8"
    assert build_backbone((64, 64, 3), (8, 8, 8), stride=4).output.shape[1:] == (16, 16, 8), "the last block unpooled"
    det = TwoStageDetector((64, 64, 3), 2, filters=(8, 8, 8), config=DetectorConfig(stride=4, anchor_scales=(16,)))
    assert det.stride == 4 and len(det.anchors) == 16 * 16 * 3, "anchors on every cell of the 16 x 16 map"
    for bad in (3, 16, 0, 2.0):
        with pytest.raises(ValueError, match="stride"):
            build_backbone((64, 64, 3), (8, 8, 8), stride=bad)
    with pytest.raises(ValueError, match="filters"):
        build_backbone((64, 64, 3), ())


def test_batch_norm_backbone_trains_and_makes_training_proposals_in_training_mode(scenes):
    from cvlib.models.rcnn import build_backbone

    names = [layer.name for layer in build_backbone((32, 32, 3), (4, 4), norm="batch").layers]
    assert any("_bn" in n for n in names) and not any("_gn" in n for n in names)
    with pytest.raises(ValueError, match="norm"):
        build_backbone((32, 32, 3), (4, 4), norm="layer")
    config = DetectorConfig(norm="batch", anchor_scales=(16, 32), rois_per_image=16, post_nms_train=32)
    det = TwoStageDetector((64, 64, 3), len(scenes.class_names), filters=(8, 8, 8), config=config)
    before = [v.numpy().copy() for v in det.backbone.non_trainable_variables]
    det._compile()
    x = scenes.images[:4].astype(np.float32) / 255
    det._proposals(x, None, training=True)
    moved = [not np.allclose(a, v.numpy()) for a, v in zip(before, det.backbone.non_trainable_variables)]
    assert all(moved), "a training-mode pass uses (and updates) the batch statistics"
    frozen = [v.numpy().copy() for v in det.backbone.non_trainable_variables]
    det._proposals(x, None, training=False)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(frozen, det.backbone.non_trainable_variables))
    history = det.fit(scenes.images[:8], scenes.targets[:8], epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(list(history[-1].values())).all()


def test_backbone_starts_from_a_crop_classifier_with_the_same_blocks():
    from cvlib.models.rcnn_classic import build_crop_cnn

    classifier = build_crop_cnn(3, size=16, filters=(4, 8), hidden=8)
    det = TwoStageDetector((32, 32, 3), 3, filters=(4, 8), config=DetectorConfig(norm="batch", anchor_scales=(8,)))
    assert det.init_backbone_from(classifier) == 8, "two blocks of two convolutions and two BatchNorms each"
    for name in ("block1_conv1", "block2_bn2"):
        for mine, theirs in zip(det.backbone.get_layer(name).weights, classifier.get_layer(name).weights):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    wider = TwoStageDetector((32, 32, 3), 3, filters=(4, 16), config=DetectorConfig(norm="batch", anchor_scales=(8,)))
    with pytest.raises(ValueError, match="block2_conv1"):
        wider.init_backbone_from(classifier)
    with pytest.raises(ValueError, match="none of its layers"):
        det.init_backbone_from(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="other")]))
