"""cvlib.data.clicks: distance and disk maps on hand-placed clicks, the click simulator on crafted errors.

The distance maps are checked against distances written out by hand (and a brute-force NumPy minimum over the
clicks); the simulator against error maps whose largest region and its centre are known by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cvlib.data.clicks import (
    TRUNCATE,
    Click,
    check_clicks,
    disk_map,
    distance_map,
    encode_clicks,
    error_regions,
    honour_clicks,
    next_click,
    next_clicks,
    object_samples,
    sample_training_clicks,
)
from cvlib.data.shapes import generate_scenes


def brute_force_distance(clicks, shape, truncate=TRUNCATE):
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    d = np.full(shape, np.inf)
    for x, y in clicks:
        d = np.minimum(d, np.hypot(xs - x, ys - y))
    return np.minimum(d, truncate)


# --------------------------------------------------------------------------- encoding


def test_distance_map_of_one_click_by_hand():
    d = distance_map([(2, 1)], (4, 5))  # x = column 2, y = row 1
    assert d.shape == (4, 5) and d.dtype == np.float32
    assert d[1, 2] == 0, "zero on the click itself (row y = 1, column x = 2)"
    assert d[1, 4] == 2 and d[3, 2] == 2, "two pixels right, two pixels down"
    assert d[0, 1] == pytest.approx(np.sqrt(2)), "a diagonal neighbour"
    assert d[3, 0] == pytest.approx(np.sqrt(8))


def test_distance_map_takes_the_nearest_click_and_truncates():
    clicks = [(0, 0), (9, 2), (4, 7)]
    np.testing.assert_allclose(distance_map(clicks, (8, 10)), brute_force_distance(clicks, (8, 10)), atol=1e-5)
    far = distance_map([(0, 0)], (300, 300))
    assert far.max() == TRUNCATE and far[299, 299] == TRUNCATE, "distances beyond 255 are truncated at 255"
    np.testing.assert_allclose(distance_map(clicks, (8, 10), truncate=3.0), brute_force_distance(clicks, (8, 10), 3.0),
                               atol=1e-5)


def test_empty_click_set_is_truncate_everywhere():
    assert np.all(distance_map([], (3, 4)) == TRUNCATE)
    assert np.all(distance_map(np.zeros((0, 2)), (3, 4)) == TRUNCATE)
    assert not disk_map([], (3, 4)).any()


def test_fractional_clicks_fall_in_their_pixel():
    assert check_clicks([(3.7, 1.2)], (5, 5)).tolist() == [[3, 1]]
    np.testing.assert_array_equal(distance_map([(3.7, 1.2)], (5, 5)), distance_map([(3, 1)], (5, 5)))


def test_disk_map_radius():
    disk = disk_map([(5, 5)], (11, 11), radius=2)
    assert disk.sum() == 13, "a radius-2 digital disk has 13 pixels (distance <= 2)"
    assert disk[5, 7] == 1 and disk[5, 8] == 0 and disk[6, 6] == 1 and disk[7, 7] == 0
    assert disk_map([(5, 5)], (11, 11), radius=0).sum() == 1, "radius 0 marks the clicked pixel only"


def test_encode_clicks_channels():
    maps = encode_clicks([(1, 1)], [(3, 2)], (4, 5))
    assert maps.shape == (4, 5, 2) and maps.dtype == np.float32
    assert maps[1, 1, 0] == 0 and maps[2, 3, 1] == 0, "channel 0 positive, channel 1 negative"
    only_positive = encode_clicks([(1, 1)], [], (4, 5))
    assert np.all(only_positive[..., 1] == TRUNCATE), "no negative click: the negative map is 255 everywhere"
    disks = encode_clicks([(1, 1)], [(3, 2)], (4, 5), mode="disk", radius=1)
    assert set(np.unique(disks)) == {0.0, 1.0} and disks[1, 1, 0] == 1 and disks[2, 3, 1] == 1


@pytest.mark.parametrize("clicks", [[(5, 0)], [(0, 4)], [(-1, 0)], [(0, -0.5)], [(2, 2), (7, 1)]])
def test_click_outside_the_image_is_an_error(clicks):
    with pytest.raises(ValueError, match="outside the 5 x 4 image"):
        distance_map(clicks, (4, 5))


@pytest.mark.parametrize("clicks", [[1, 2, 3], [[1, 2, 3]], [[np.nan, 1]], np.zeros((2, 2, 2))])
def test_malformed_clicks_are_errors(clicks):
    with pytest.raises(ValueError, match="clicks"):
        check_clicks(clicks, (4, 5))


def test_no_click_at_all_is_an_error():
    with pytest.raises(ValueError, match="both click sets are empty"):
        encode_clicks([], [], (4, 4))


def test_bad_options():
    with pytest.raises(ValueError, match="mode"):
        encode_clicks([(0, 0)], [], (4, 4), mode="gauss")
    with pytest.raises(ValueError, match="truncate"):
        distance_map([(0, 0)], (4, 4), truncate=0)
    with pytest.raises(ValueError, match="radius"):
        disk_map([(0, 0)], (4, 4), radius=-1)
    with pytest.raises(ValueError, match="shape"):
        distance_map([(0, 0)], (4,))


# --------------------------------------------------------------------------- the simulator


def test_first_click_is_at_the_centre_of_the_object():
    truth = np.zeros((20, 30), bool)
    truth[4:13, 11:20] = True  # a 9x9 square, rows 4..12, columns 11..19: centre (x, y) = (15, 8)
    click = next_click(truth, np.zeros_like(truth))
    assert click == Click(15, 8, True), "an empty mask misses the whole object: a positive click in its middle"


def test_largest_error_region_wins_and_its_sign():
    truth = np.zeros((30, 30), bool)
    truth[2:12, 2:12] = True
    pred = truth.copy()
    pred[2:5, 2:5] = False            # a 3x3 miss (9 pixels)
    pred[18:27, 16:25] = True         # a 9x9 false positive (81 pixels): the largest region, centre (20, 22)
    click = next_click(truth, pred)
    assert click == Click(20, 22, False), "negative click at the centre of the false positive"
    pred[18:27, 16:25] = False
    pred[20, 20] = True               # now a single false pixel against the 9-pixel miss
    click = next_click(truth, pred)
    assert click.positive and (click.x, click.y) == (3, 3), "positive click in the middle of the missed corner"


def test_region_cut_by_the_border_gets_an_inner_centre():
    truth = np.zeros((10, 10), bool)
    pred = np.zeros((10, 10), bool)
    pred[:, 6:] = True                # a false-positive strip on the right edge, columns 6..9
    click = next_click(truth, pred)
    assert not click.positive and click.x in (7, 8), "the image border is a boundary: the centre is inside"


def test_area_and_distance_rankings_differ():
    truth = np.zeros((40, 40), bool)
    truth[5:16, 5:16] = True          # an 11x11 block the mask misses entirely: deep (centre 6 px inside)
    pred = np.zeros_like(truth)
    pred[25:28, 0:40] = True          # a 3x40 false-positive strip: 120 pixels, shallow
    pred[30:32, 0:10] = True          # 20 more false pixels, a separate region
    assert next_click(truth, pred, by="area").positive, "121 missed pixels beat a 120-pixel strip"
    pred[24, 0:40] = True             # the strip grows to 160 pixels, still 2 pixels deep at most
    assert not next_click(truth, pred, by="area").positive, "by area the 160-pixel strip wins"
    assert next_click(truth, pred, by="distance").positive, "by depth the square block (6 deep) wins"


def test_perfect_mask_needs_no_click():
    truth = np.eye(5, dtype=bool)
    assert next_click(truth, truth) is None


def one_object_reference(truth, pred, by):
    """The protocol written out for one object, region by region: what the batched simulator must give."""
    candidates = []
    for positive, errors in ((True, truth & ~pred), (False, pred & ~truth)):
        if not errors.any():
            continue
        if by == "area":
            labels, count = ndimage.label(errors)  # 4-connected
            sizes = [int((labels == j).sum()) for j in range(1, count + 1)]
            errors = labels == 1 + sizes.index(max(sizes))  # the first of the largest regions in raster order
            key = max(sizes)
        depth = ndimage.distance_transform_edt(np.pad(errors, 1))[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        candidates.append(((key if by == "area" else depth[y, x], positive), Click(int(x), int(y), positive)))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


@pytest.mark.parametrize("by", ["area", "distance"])
@pytest.mark.parametrize("size, density", [((5, 7), 0.3), ((12, 9), 0.5), ((48, 48), 0.02)])
def test_batched_clicks_equal_the_protocol_object_by_object(by, size, density):
    rng = np.random.default_rng(sum(size))
    truth = rng.random((300, *size)) < 0.5
    truth[:, 1:-1, 1:-1] |= rng.random((300, size[0] - 2, size[1] - 2)) < 0.3
    pred = truth ^ (rng.random(truth.shape) < density)  # scattered errors: many regions of equal size, ties
    pred[:20] = truth[:20]                              # some perfect masks: no click
    pred[20:40] = False                                 # some empty ones: the whole object is missed
    got = next_clicks(truth, pred, by=by)
    assert got == [one_object_reference(t, p, by) for t, p in zip(truth, pred)]
    assert got[:20] == [None] * 20 and all(c.positive for c in got[20:40])
    assert [next_click(t, p, by=by) for t, p in zip(truth[40:80], pred[40:80])] == got[40:80]


def test_batched_clicks_bad_input():
    assert next_clicks(np.zeros((0, 4, 4), bool), np.zeros((0, 4, 4), bool)) == []
    with pytest.raises(ValueError, match="masks_pred: expected masks of the true masks' shape"):
        next_clicks(np.zeros((2, 4, 4), bool), np.zeros((2, 4, 5), bool))
    with pytest.raises(ValueError, match="masks_true: expected masks"):
        next_clicks(np.zeros((4, 4), bool), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="masks_pred: expected binary masks"):
        next_clicks(np.zeros((1, 4, 4), bool), np.full((1, 4, 4), 0.5))
    with pytest.raises(ValueError, match="by"):
        next_clicks(np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), bool), by="size")


def test_simulator_bad_input():
    truth = np.zeros((5, 5), bool)
    with pytest.raises(ValueError, match="mask_pred: expected a mask of the image's size"):
        next_click(truth, np.zeros((5, 6), bool))
    with pytest.raises(ValueError, match="mask_true"):
        next_click(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="mask_pred: expected a binary mask"):
        next_click(truth, np.full((5, 5), 0.5))
    with pytest.raises(ValueError, match="by"):
        next_click(truth, truth, by="size")
    missed, extra = error_regions(np.eye(3), np.zeros((3, 3)))
    assert missed.sum() == 3 and not extra.any()


def test_honour_clicks_sets_the_clicked_pixels_only():
    rng = np.random.default_rng(4)
    masks = rng.random((3, 6, 7)) > 0.5
    positive = [[(0, 0), (6, 5)], [], [(2.7, 1.2)]]                  # (x, y); a fraction falls in its pixel
    negative = [[(3, 2)], [(1, 4)], []]
    before = masks.copy()
    out = honour_clicks(masks, positive, negative)
    assert np.array_equal(masks, before), "the input is not changed"
    assert out.dtype == bool and out.shape == masks.shape
    assert out[0, 0, 0] and out[0, 5, 6] and not out[0, 2, 3] and not out[1, 4, 1] and out[2, 1, 2]
    changed = np.zeros_like(masks)
    changed[0, [0, 5, 2], [0, 6, 3]] = changed[1, 4, 1] = changed[2, 1, 2] = True
    assert np.array_equal(out[~changed], masks[~changed]), "every other pixel keeps its value"


def test_honour_clicks_makes_the_next_click_move_on():
    # a mask that ignores its positive click: the simulated user would click the same pixel again
    truth = np.zeros((1, 9, 9), bool)
    truth[0, 2:7, 2:7] = True
    ignored = np.zeros_like(truth)
    first = next_clicks(truth, ignored)[0]
    honoured = honour_clicks(ignored, [[(first.x, first.y)]], [[]])
    assert next_clicks(truth, honoured)[0] != first


def test_honour_clicks_on_a_pixel_clicked_both_ways_keeps_the_mask():
    masks = np.array([[[True, False]]])
    out = honour_clicks(masks, [[(0, 0), (1, 0)]], [[(0, 0), (1, 0)]])
    assert np.array_equal(out, masks), "contradicting clicks cancel"


def test_honour_clicks_bad_input():
    masks = np.zeros((2, 4, 4), bool)
    with pytest.raises(ValueError, match="one click set per mask"):
        honour_clicks(masks, [[(1, 1)]], [[], []])
    with pytest.raises(ValueError, match=r"negative\[1\]: click 0 .* outside"):
        honour_clicks(masks, [[], []], [[], [(4, 0)]])
    with pytest.raises(ValueError, match="masks: expected binary masks"):
        honour_clicks(np.full((1, 4, 4), 0.5), [[]], [[]])
    with pytest.raises(ValueError, match="masks: expected masks"):
        honour_clicks(np.zeros((4, 4), bool), [[]], [[]])


# --------------------------------------------------------------------------- training clicks


def test_training_clicks_respect_the_object():
    truth = np.zeros((48, 48), bool)
    truth[10:30, 12:34] = True
    others = np.zeros_like(truth)
    others[36:46, 2:20] = True
    rng = np.random.default_rng(0)
    depth = ndimage.distance_transform_edt(np.pad(truth, 1))[1:-1, 1:-1]
    first_at_centre = 0
    for _ in range(200):
        pos, neg = sample_training_clicks(truth, rng, others)
        assert len(pos) >= 1 and pos.shape[1] == 2 and neg.shape[1] == 2
        assert truth[pos[0, 1], pos[0, 0]], "the first positive click lies on the object"
        first_at_centre += depth[pos[0, 1], pos[0, 0]] == depth.max()
        assert all(0 <= x < 48 and 0 <= y < 48 for x, y in np.concatenate([pos, neg]))
    assert 60 < first_at_centre < 140, "about half of the first clicks at the centre (p_centre = 0.5)"
    a = sample_training_clicks(truth, np.random.default_rng(3), others)
    b = sample_training_clicks(truth, np.random.default_rng(3), others)
    assert all(np.array_equal(u, v) for u, v in zip(a, b)), "seeded: the same clicks again"
    with pytest.raises(ValueError, match="mask: the object is empty"):
        sample_training_clicks(np.zeros((5, 5), bool), rng)


def test_object_samples_and_groups():
    scenes = generate_scenes(30, 48, min_objects=2, max_objects=3, object_size=(0.3, 0.5), seed=5)
    plain = object_samples(scenes, seed=1)
    assert len(plain["masks"]) == sum(len(t["labels"]) for t in scenes.targets), "one sample per object"
    assert not plain["group"].any() and np.array_equal(plain["masks"], plain["objects"])
    grouped = object_samples(scenes, seed=1, p_group=1.0)
    assert grouped["group"].any(), "touching objects exist in these scenes, and p_group=1 groups them"
    for i in np.nonzero(grouped["group"])[0]:
        mask, obj = grouped["masks"][i], grouped["objects"][i]
        assert (mask & obj).sum() == obj.sum() and mask.sum() > obj.sum(), "the group contains the object and more"
        x, y = grouped["positive"][i][0]
        assert obj[y, x], "the first click of a group sample is on the clicked object"
    with pytest.raises(ValueError, match="p_group"):
        object_samples(scenes, p_group=2)
