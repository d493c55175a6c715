"""Anchor grids, anchor-to-object matching and anchor sampling (cvlib.anchors)."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib.anchors import generate_anchors, match_anchors, sample_anchors
from cvlib.boxes import iou


def test_anchor_count_order_and_geometry():
    anchors = generate_anchors((3, 4), stride=16, scales=(32, 64), aspect_ratios=(0.5, 1.0, 2.0))
    assert anchors.shape == (3 * 4 * 6, 4)
    grid = anchors.reshape(3, 4, 6, 4)
    centres = (grid[..., :2] + grid[..., 2:]) / 2
    np.testing.assert_allclose(centres[2, 1, :, 0], 1.5 * 16)  # column 1: x = (1 + 0.5) * 16
    np.testing.assert_allclose(centres[2, 1, :, 1], 2.5 * 16)  # row 2
    w, h = grid[..., 2] - grid[..., 0], grid[..., 3] - grid[..., 1]
    np.testing.assert_allclose(w * h, np.repeat([32.0**2, 64.0**2], 3)[None, None].repeat(3, 0).repeat(4, 1))
    np.testing.assert_allclose((h / w)[0, 0], [0.5, 1.0, 2.0, 0.5, 1.0, 2.0])  # scale-major


def test_anchors_equal_a_loop():
    stride, scales, ratios, offset = 8.0, (16, 40), (0.25, 1.0), 0.0
    expected = []
    for i in range(2):
        for j in range(5):
            for s in scales:
                for r in ratios:
                    w, h = s / np.sqrt(r), s * np.sqrt(r)
                    cx, cy = (j + offset) * stride, (i + offset) * stride
                    expected.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    np.testing.assert_allclose(generate_anchors((2, 5), stride, scales, ratios, offset), expected)


def test_empty_feature_map_gives_no_anchors():
    assert generate_anchors((0, 7), 16).shape == (0, 4)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"feature_shape": (2, 2, 2)}, "feature_shape"),
        ({"feature_shape": (2.5, 2)}, "feature_shape"),
        ({"feature_shape": (-1, 2)}, "feature_shape"),
        ({"stride": 0}, "stride"),
        ({"scales": ()}, "scales"),
        ({"scales": (32, -4)}, "scales"),
        ({"aspect_ratios": (np.nan,)}, "aspect_ratios"),
        ({"offset": 1.5}, "offset"),
    ],
)
def test_bad_anchor_arguments(kwargs, name):
    args = {"feature_shape": (2, 2), "stride": 16, **kwargs}
    with pytest.raises(ValueError, match=name):
        generate_anchors(**args)


def test_match_labels_by_iou():
    gt = np.array([[0, 0, 10, 10], [50, 50, 70, 90]], float)
    anchors = np.array(
        [
            [0, 0, 10, 10],  # IoU 1 with object 0: positive
            [0, 0, 10, 12],  # IoU 0.83: positive
            [0, 0, 10, 20],  # IoU 0.5: ignored
            [100, 100, 110, 110],  # no overlap: negative
            [5, 0, 15, 10],  # IoU 1/3: ignored (not below 0.3)
            [48, 50, 70, 95],  # object 1's best (IoU 0.8): positive
        ],
        float,
    )
    matched, labels = match_anchors(anchors, gt)
    np.testing.assert_array_equal(labels, [1, 1, -1, 0, -1, 1])
    np.testing.assert_array_equal(matched[[0, 1, 5]], [0, 0, 1])
    assert labels.dtype == np.int8 and matched.dtype == np.int64


def test_every_object_gets_its_best_anchor_even_below_the_threshold():
    gt = np.array([[0, 0, 10, 40]], float)  # a tall object no square anchor fits well
    anchors = np.array([[0, 0, 10, 10], [0, 10, 10, 20], [0, 0, 20, 20], [30, 30, 40, 40]], float)
    best = iou(anchors, gt)[:, 0]
    assert best.max() < 0.7
    _, labels = match_anchors(anchors, gt)
    ties = np.flatnonzero(best == best.max())
    assert set(np.flatnonzero(labels == 1)) == set(ties), "all anchors tying for the best IoU become positive"
    _, strict = match_anchors(anchors, gt, allow_low_quality=False)
    assert not (strict == 1).any()


def test_an_object_no_anchor_touches_gets_no_positive():
    anchors = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    _, labels = match_anchors(anchors, np.array([[100, 100, 110, 110]], float))
    np.testing.assert_array_equal(labels, [0, 0])


def test_match_equals_a_loop_on_random_boxes():
    rng = np.random.default_rng(0)
    anchors = generate_anchors((6, 6), 8, scales=(8, 16, 24), aspect_ratios=(0.5, 1, 2))
    for _ in range(20):
        xy = rng.uniform(0, 40, (4, 2))
        gt = np.hstack([xy, xy + rng.uniform(4, 20, (4, 2))])
        matched, labels = match_anchors(anchors, gt, 0.6, 0.25)
        overlaps = iou(anchors, gt)
        for i, row in enumerate(overlaps):
            expected = 1 if row.max() >= 0.6 else (0 if row.max() < 0.25 else -1)
            if any(row[j] == overlaps[:, j].max() > 0 for j in range(len(gt))):
                expected = 1
            assert labels[i] == expected
            assert matched[i] == row.argmax()


def test_match_without_objects_or_anchors():
    matched, labels = match_anchors(generate_anchors((2, 2), 16), np.zeros((0, 4)))
    assert (labels == 0).all() and (matched == -1).all() and len(labels) == 2 * 2 * 9
    matched, labels = match_anchors(np.zeros((0, 4)), [[0, 0, 5, 5]])
    assert matched.shape == labels.shape == (0,)


def test_bad_match_arguments():
    with pytest.raises(ValueError, match="negative_iou"):
        match_anchors([[0, 0, 1, 1]], [[0, 0, 1, 1]], positive_iou=0.3, negative_iou=0.7)
    with pytest.raises(ValueError, match="positive_iou"):
        match_anchors([[0, 0, 1, 1]], [[0, 0, 1, 1]], positive_iou=1.5)
    with pytest.raises(ValueError, match="gt_boxes"):
        match_anchors([[0, 0, 1, 1]], [[0, 0, 1]])
    with pytest.raises(ValueError, match="anchors"):
        match_anchors([[0, 0, np.nan, 1]], [[0, 0, 1, 1]])


def test_sampling_caps_positives_and_fills_with_negatives():
    labels = np.array([1] * 200 + [0] * 1000 + [-1] * 50, np.int8)
    out = sample_anchors(labels, batch_size=256, positive_fraction=0.5, rng=0)
    assert (out == 1).sum() == 128 and (out == 0).sum() == 128
    assert np.all(labels[out == 1] == 1) and np.all(labels[out == 0] == 0), "sampling never relabels an anchor"
    few = sample_anchors(np.array([1] * 10 + [0] * 1000), batch_size=256, rng=0)
    assert (few == 1).sum() == 10 and (few == 0).sum() == 246, "missing positives are made up with negatives"
    np.testing.assert_array_equal(sample_anchors(labels, rng=3), sample_anchors(labels, rng=3))
    assert sample_anchors(np.zeros(0, np.int8)).shape == (0,)


def test_bad_sampling_arguments():
    with pytest.raises(ValueError, match="labels"):
        sample_anchors([2, 0, 1])
    with pytest.raises(ValueError, match="batch_size"):
        sample_anchors([1, 0], batch_size=0)
    with pytest.raises(ValueError, match="positive_fraction"):
        sample_anchors([1, 0], positive_fraction=2)
