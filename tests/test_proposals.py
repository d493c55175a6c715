"""Tests of cvlib.proposals: sliding windows, the selective-search steps, ranking, recall/ABO, bad input,
and a comparison with OpenCV's selective search (opencv-contrib, a test-only reference)."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib import proposals as P
from cvlib.boxes import iou
from cvlib.data import generate_scenes


@pytest.fixture(scope="module")
def scene():
    scenes = generate_scenes(1, image_size=(72, 96), min_objects=3, max_objects=3, seed=3)
    return scenes.images[0], scenes.targets[0]


@pytest.fixture(scope="module")
def grouped(scene):
    image, _ = scene
    img = P.to_colour_space(image, "hsv")
    labels = P.oversegment(img, 50)
    features = P.region_features(labels, img)
    pairs = P.adjacent_pairs(labels)
    return labels, features, pairs, P.hierarchical_grouping(features, pairs)


# --------------------------------------------------------------------------- sliding windows


def test_window_count_matches_the_windows():
    args = ((375, 500), (32, 64, 128, 400), (0.5, 1.0, 2.0), 4)
    windows = P.sliding_windows(*args)
    assert P.count_sliding_windows(*args) == len(windows)
    assert np.all(windows[:, 0] >= 0) and np.all(windows[:, 2] <= 500) and np.all(windows[:, 3] <= 375)


def test_window_count_by_hand():
    # a 10x10 window in a 12x11 (H x W) image: 3 rows x 2 columns of positions; at stride 2: 2 x 1
    assert P.count_sliding_windows((12, 11), [10], [1.0], 1) == 6
    assert P.count_sliding_windows((12, 11), [10], [1.0], 2) == 2
    assert P.count_sliding_windows((12, 11), [4], [4.0], 1) == 4 * 11  # an 8 x 2 window: w/h = 4, area 4 ** 2
    assert P.count_sliding_windows((12, 11), [20], [1.0]) == 0  # does not fit
    assert P.sliding_windows((12, 11), [20]).shape == (0, 4)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"scales": [0]}, "scales"), ({"scales": []}, "scales"), ({"aspect_ratios": [-1]}, "aspect_ratios"),
     ({"stride": 0}, "stride"), ({"image_size": (0, 5)}, "image_size")],
)
def test_window_bad_input(kwargs, name):
    args = {"image_size": (50, 50), "scales": [10], "aspect_ratios": [1.0], "stride": 1, **kwargs}
    with pytest.raises(ValueError, match=name):
        P.count_sliding_windows(**args)


# --------------------------------------------------------------------------- the grouping steps


def test_colour_spaces_in_unit_range(scene):
    image, _ = scene
    for space in P.COLOUR_SPACES:
        out = P.to_colour_space(image, space)
        assert out.shape[:2] == image.shape[:2] and out.shape[2] == (1 if space in ("h", "i") else 3)
        assert out.min() >= 0 and out.max() <= 1, space
    rgi = P.to_colour_space(image, "rgi")
    assert np.allclose(rgi[..., 2], image.mean(-1) / 255)


def test_adjacent_pairs_by_hand():
    labels = np.array([[0, 0, 1], [2, 2, 1], [3, 3, 3]])
    assert P.adjacent_pairs(labels).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]
    assert P.adjacent_pairs(np.zeros((3, 3), int)).shape == (0, 2)


def test_region_features(grouped):
    labels, features, _, _ = grouped
    n = labels.max() + 1
    assert len(features) == n and features.sizes.sum() == labels.size
    np.testing.assert_allclose(features.colour.sum(1), 1)
    np.testing.assert_allclose(features.texture.sum(1), 1)
    assert features.colour.shape == (n, 3 * 25) and features.texture.shape == (n, 3 * 8 * 10)
    r = int(np.argmax(features.sizes))
    rows, cols = np.nonzero(labels == r)
    assert features.boxes[r].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_texture_separates_stripes_from_flat():
    rng = np.random.default_rng(0)
    image = np.full((40, 80), 0.5)
    image[:, 40:] = 0.5 + 0.3 * np.sign(np.sin(np.arange(40) * 1.2))[None, :]  # vertical stripes on the right
    image = image + rng.normal(0, 0.005, image.shape)
    labels = np.zeros((40, 80), np.int64)
    labels[:, 20:40], labels[:, 40:60], labels[:, 60:] = 1, 2, 3
    f = P.region_features(labels, np.clip(image, 0, 1)[..., None])
    s = P.similarity(f.sizes, f.boxes, f.colour, f.texture, [0, 2], [1, 3], f.image_area, ["texture"])
    cross = P.similarity(f.sizes, f.boxes, f.colour, f.texture, [0], [3], f.image_area, ["texture"])
    assert s.min() > cross[0] + 0.1, "flat-flat and stripe-stripe must be more alike than flat-stripe"


def test_similarity_terms_by_hand():
    sizes = np.array([10.0, 20.0])
    boxes = np.array([[0, 0, 5, 2], [0, 2, 10, 4]], float)
    colour = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    texture = np.array([[1.0, 0.0], [1.0, 0.0]])
    sim = lambda use: P.similarity(sizes, boxes, colour, texture, [0], [1], 100, use)[0]  # noqa: E731
    assert sim(["colour"]) == pytest.approx(0.5)
    assert sim(["texture"]) == pytest.approx(1.0)
    assert sim(["size"]) == pytest.approx(1 - 30 / 100)
    assert sim(["fill"]) == pytest.approx(1 - (40 - 30) / 100)  # box around both is 10 x 4
    assert sim(P.SIMILARITIES) == pytest.approx(0.5 + 1 + 0.7 + 0.9)


def test_hierarchy_merges_every_region_into_one(grouped):
    labels, features, _, h = grouped
    n = len(features)
    assert len(h) == 2 * n - 1 and h.merges.shape == (n - 1, 2)
    assert h.sizes[-1] == labels.size, "the last region must be the whole image"
    assert h.boxes[-1].tolist() == [0, 0, labels.shape[1], labels.shape[0]]
    used = h.merges.ravel()
    assert len(np.unique(used)) == len(used) == 2 * n - 2, "every region but the last is merged exactly once"
    assert np.all(h.merges < np.arange(n, 2 * n - 1)[:, None]), "a merge only uses regions made before it"
    np.testing.assert_allclose(h.sizes[n:], h.sizes[h.merges[:, 0]] + h.sizes[h.merges[:, 1]])


def test_first_merge_is_the_most_similar_pair(grouped):
    _, f, pairs, h = grouped
    sims = P.similarity(f.sizes, f.boxes, f.colour, f.texture, pairs[:, 0], pairs[:, 1], f.image_area)
    assert sorted(h.merges[0].tolist()) == pairs[np.argmax(sims)].tolist()


def test_merged_histogram_is_the_histogram_of_the_union(scene, grouped):
    labels, features, _, h = grouped
    img = P.to_colour_space(scene[0], "hsv")
    a, b = h.merges[0]
    union = np.where((labels == a) | (labels == b), 0, 1 + labels)
    _, union = np.unique(union, return_inverse=True)
    direct = P.region_features(union.reshape(labels.shape), img)  # the union counted from its pixels: region 0
    n = len(features)
    merged = (features.sizes[a] * features.colour[a] + features.sizes[b] * features.colour[b]) / h.sizes[n]
    np.testing.assert_allclose(merged, direct.colour[0], atol=1e-12)
    np.testing.assert_allclose(h.boxes[n], direct.boxes[0])


# --------------------------------------------------------------------------- selective_search


def test_boxes_inside_image_xyxy_unique(scene):
    image, _ = scene
    boxes = P.selective_search(image, "fast")
    h, w = image.shape[:2]
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 10
    assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 1] >= 0)
    assert np.all(boxes[:, 2] <= w) and np.all(boxes[:, 3] <= h)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    assert len(np.unique(boxes, axis=0)) == len(boxes), "proposals must be unique"


def test_ranking_is_deterministic_for_a_seed(scene):
    image, _ = scene
    a = P.selective_search(image, "fast", seed=1)
    assert np.array_equal(a, P.selective_search(image, "fast", seed=1))
    b = P.selective_search(image, "fast", seed=2)
    assert not np.array_equal(a, b), "another seed must give another ranking"
    assert np.array_equal(np.unique(a, axis=0), np.unique(b, axis=0)), "... of the same set of boxes"


def test_max_proposals_truncates_the_ranking(scene):
    image, _ = scene
    full = P.selective_search(image, "fast", max_proposals=None)
    assert np.array_equal(P.selective_search(image, "fast", max_proposals=7), full[:7])
    assert P.selective_search(image, "fast", max_proposals=0).shape == (0, 4)


def test_modes_grow(scene):
    image, target = scene
    counts = {m: len(P.selective_search(image, m, max_proposals=None)) for m in P.MODES}
    assert counts["single"] < counts["fast"] < counts["quality"]
    assert P.proposal_recall(P.selective_search(image, "quality"), target["boxes"], 0.7) >= P.proposal_recall(
        P.selective_search(image, "single"), target["boxes"], 0.7)


def test_finds_the_objects(scene):
    image, target = scene
    assert P.proposal_recall(P.selective_search(image, "fast"), target["boxes"], 0.7) == 1.0


def test_grayscale_rgba_and_float_images(scene):
    image, _ = scene
    gray = image.mean(-1).astype(np.uint8)
    for variant in (gray, gray[..., None], gray / 255.0):
        boxes = P.selective_search(variant, "single")
        assert boxes.shape[1] == 4 and len(boxes) > 0
    assert np.array_equal(P.selective_search(gray, "single"), P.selective_search(gray[..., None], "single"))
    rgba = np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], axis=-1)
    assert np.array_equal(P.selective_search(rgba, "single"), P.selective_search(image, "single"))
    assert np.array_equal(P.selective_search(image / 255.0, "single"), P.selective_search(image, "single"))


def test_tiny_and_empty_images():
    assert P.selective_search(np.zeros((0, 5, 3), np.uint8)).shape == (0, 4)
    one = P.selective_search(np.zeros((1, 1, 3), np.uint8), "single")
    assert one.tolist() == [[0, 0, 1, 1]]


@pytest.mark.parametrize(
    ("image", "kwargs", "name"),
    [
        (np.zeros((8, 8, 2), np.uint8), {}, "image"),
        (np.zeros((2, 8, 8, 3), np.uint8), {}, "image"),
        (np.full((8, 8, 3), 300, np.int32), {}, "image"),
        (np.full((8, 8, 3), 2.0), {}, "image"),
        (np.full((8, 8, 3), np.nan), {}, "image"),
        (np.zeros((8, 8, 3), bool), {}, "image"),
        (np.zeros((8, 8, 3), np.uint8), {"mode": "slow"}, "mode"),
        (np.zeros((8, 8, 3), np.uint8), {"max_proposals": -1}, "max_proposals"),
        (np.zeros((8, 8, 3), np.uint8), {"max_proposals": 2.5}, "max_proposals"),
        (np.zeros((8, 8, 3), np.uint8), {"seed": -1}, "seed"),
    ],
)
def test_selective_search_bad_input(image, kwargs, name):
    with pytest.raises(ValueError, match=name):
        P.selective_search(image, **kwargs)


def test_step_bad_input():
    with pytest.raises(ValueError, match="space"):
        P.to_colour_space(np.zeros((4, 4, 3)), "cmyk")
    with pytest.raises(ValueError, match="k"):
        P.oversegment(np.zeros((4, 4, 3)), 0)
    with pytest.raises(ValueError, match="k"):
        P.oversegment(np.zeros((4, 4, 3)), "100")
    with pytest.raises(ValueError, match="sigma"):
        P.oversegment(np.zeros((4, 4, 3)), 100, sigma=-1)
    with pytest.raises(ValueError, match="labels"):
        P.adjacent_pairs(np.zeros((4, 4)))  # float labels
    with pytest.raises(ValueError, match="labels"):
        P.region_features(np.array([[0, 2]]), np.zeros((1, 2, 3)))  # label 1 missing
    with pytest.raises(ValueError, match="labels"):
        P.region_features(np.zeros((0, 3), np.int64), np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="similarities"):
        P.similarity(np.ones(2), np.zeros((2, 4)), np.ones((2, 1)), np.ones((2, 1)), 0, 1, 4, ["shape"])


# --------------------------------------------------------------------------- recall and ABO


def test_recall_and_abo_by_hand():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    proposals = np.array([[0, 0, 10, 10], [20, 20, 30, 35], [50, 50, 60, 60]], float)
    # best overlaps: 1 for the first box, 100/150 for the second
    np.testing.assert_allclose(P.best_overlaps(proposals, gt), [1.0, 100 / 150])
    assert P.proposal_recall(proposals, gt, 0.5) == 1.0
    assert P.proposal_recall(proposals, gt, 0.7) == 0.5
    assert P.abo(proposals, gt) == pytest.approx((1 + 100 / 150) / 2)
    assert P.mabo(proposals, gt, [0, 1]) == pytest.approx((1 + 100 / 150) / 2)
    assert P.mabo(proposals, np.vstack([gt, gt[:1]]), [0, 0, 1]) == pytest.approx(((1 + 100 / 150) / 2 + 1) / 2)


def test_recall_over_images_counts_every_box():
    gts = [np.array([[0, 0, 10, 10]]), np.zeros((0, 4)), np.array([[0, 0, 4, 4], [5, 5, 9, 9]])]
    props = [np.array([[0, 0, 10, 10]]), np.array([[1, 1, 2, 2]]), np.array([[0, 0, 4, 4]])]
    assert P.proposal_recall(props, gts) == pytest.approx(2 / 3)
    assert P.mabo(props, gts, [[3], [], [3, 5]]) == pytest.approx((1.0 + 0.0) / 2)


def test_recall_empty_and_degenerate_cases():
    gt = np.array([[0, 0, 10, 10]], float)
    assert P.proposal_recall(np.zeros((0, 4)), gt) == 0.0
    assert P.abo([], gt) == 0.0
    assert P.proposal_recall(np.array([[3, 3, 3, 8]]), gt) == 0.0  # zero-area proposals overlap nothing
    assert P.proposal_recall(np.array([[-5, -5, 10, 10]]), gt, 0.4) == 1.0  # boxes may leave the image
    with pytest.raises(ValueError, match="gt_boxes"):
        P.proposal_recall(gt, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="zero area"):
        P.proposal_recall(gt, np.array([[0, 0, 0, 10]]))
    with pytest.raises(ValueError, match="iou_threshold"):
        P.proposal_recall(gt, gt, 1.5)
    with pytest.raises(ValueError, match="proposals"):
        P.proposal_recall(np.zeros((3, 3)), gt)
    with pytest.raises(ValueError, match="proposals"):
        P.proposal_recall(gt, [gt, gt])  # a list of gt per image needs a list of proposals
    with pytest.raises(ValueError, match="gt_labels"):
        P.mabo(gt, gt, [0, 1])


def test_recall_agrees_with_iou_matrix():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (40, 2))
    props = np.hstack([xy, xy + rng.uniform(1, 30, (40, 2))])
    gt = props[:5] + rng.normal(0, 2, (5, 4)) * [0, 0, 1, 1]
    gt[:, 2:] = np.maximum(gt[:, 2:], gt[:, :2] + 1)
    expected = np.mean(iou(gt, props).max(1) >= 0.6)
    assert P.proposal_recall(props, gt, 0.6) == expected


# --------------------------------------------------------------------------- against OpenCV


def _opencv_fast(image: np.ndarray) -> np.ndarray:
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "ximgproc"):
        pytest.skip("opencv-contrib (cv2.ximgproc) is not installed")
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(image[..., ::-1]))  # OpenCV wants BGR
    ss.switchToSelectiveSearchFast()
    rects = ss.process().astype(np.float64).reshape(-1, 4)
    return np.hstack([rects[:, :2], rects[:, :2] + rects[:, 2:]])  # xywh -> xyxy


def test_recall_at_least_opencv_fast():
    scenes = generate_scenes(4, image_size=(96, 128), min_objects=3, max_objects=8, object_size=(0.1, 0.4),
                             noise=15, seed=11)
    gt = [t["boxes"] for t in scenes.targets]
    ours = [P.selective_search(img, "fast", max_proposals=2000) for img in scenes.images]
    reference = [_opencv_fast(img)[:2000] for img in scenes.images]
    for boxes in reference:
        assert np.all(boxes[:, 2] <= 128) and np.all(boxes[:, 3] <= 96), "the xywh -> xyxy conversion is wrong"
    for t in (0.5, 0.7):
        assert P.proposal_recall(ours, gt, t) >= P.proposal_recall(reference, gt, t) - 0.05, f"recall at IoU {t}"
    assert P.abo(ours, gt) >= P.abo(reference, gt) - 0.02
