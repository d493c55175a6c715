"""RoIPool and RoIAlign against straightforward loops written from torchvision's semantics.

The loops below transcribe, point by point, what ``torchvision.ops.roi_pool`` and
``torchvision.ops.roi_align`` compute (channels first there, last here): no vectorisation, so a
reader can check them line by line against the description in ``cvlib/layers/roi.py``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib.layers import RoIAlign, RoIPool, boxes_to_rois, roi_align, roi_pool


def _bilinear(fmap: np.ndarray, y: float, x: float) -> np.ndarray:
    """One channels-last read, as torchvision's bilinear_interpolate."""
    height, width = fmap.shape[:2]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(fmap.shape[2])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * fmap[y_low, x_low]
        + hy * lx * fmap[y_low, x_high]
        + ly * hx * fmap[y_high, x_low]
        + ly * lx * fmap[y_high, x_high]
    )


def roi_align_loop(features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    out_h, out_w = output_size
    out = np.zeros((len(rois), out_h, out_w, features.shape[3]))
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois.astype(np.float64)):
        fmap = features[int(b)].astype(np.float64)
        start_w, start_h = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        roi_w, roi_h = x2 * spatial_scale - offset - start_w, y2 * spatial_scale - offset - start_h
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
        count = max(grid_h * grid_w, 1)
        for ph in range(out_h):
            for pw in range(out_w):
                total = np.zeros(features.shape[3])
                for iy in range(grid_h):
                    y = start_h + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = start_w + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total += _bilinear(fmap, y, x)
                out[k, ph, pw] = total / count
    return out


def _c_round(v: float) -> int:
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


def roi_pool_loop(features, rois, output_size, spatial_scale):
    out_h, out_w = output_size
    height, width = features.shape[1:3]
    out = np.zeros((len(rois), out_h, out_w, features.shape[3]))
    for k, (b, x1, y1, x2, y2) in enumerate(rois.astype(np.float64)):
        fmap = features[int(b)].astype(np.float64)
        start_w, start_h = _c_round(x1 * spatial_scale), _c_round(y1 * spatial_scale)
        end_w, end_h = _c_round(x2 * spatial_scale), _c_round(y2 * spatial_scale)
        roi_w, roi_h = max(end_w - start_w + 1, 1), max(end_h - start_h + 1, 1)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        for ph in range(out_h):
            for pw in range(out_w):
                h0 = min(max(math.floor(ph * bin_h) + start_h, 0), height)
                h1 = min(max(math.ceil((ph + 1) * bin_h) + start_h, 0), height)
                w0 = min(max(math.floor(pw * bin_w) + start_w, 0), width)
                w1 = min(max(math.ceil((pw + 1) * bin_w) + start_w, 0), width)
                if h1 <= h0 or w1 <= w0:
                    continue  # an empty bin stays 0
                out[k, ph, pw] = fmap[h0:h1, w0:w1].max(axis=(0, 1))
    return out


def _random_case(rng, batch=2, height=11, width=13, channels=3, count=12, image_scale=4.0):
    """Features and RoIs in image pixels (feature map x image_scale), some partly or wholly outside."""
    features = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    xy = rng.uniform(-8, [width * image_scale + 8, height * image_scale + 8], size=(count, 2))
    wh = rng.uniform(0, 30, size=(count, 2))
    wh[:2] = 0.0  # zero-area boxes
    rois = np.column_stack([rng.integers(0, batch, count), xy, xy + wh]).astype(np.float32)
    return features, rois


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [2, 1, 3, 0, -1])
@pytest.mark.parametrize("output_size", [(7, 7), (2, 3), (1, 1)])
def test_roi_align_equals_the_loop(aligned, sampling_ratio, output_size):
    rng = np.random.default_rng(hash((aligned, sampling_ratio, output_size)) % 2**32)
    for _ in range(3):
        features, rois = _random_case(rng)
        ours = roi_align(features, rois, output_size, 0.25, sampling_ratio, aligned)
        loop = roi_align_loop(features, rois, output_size, 0.25, sampling_ratio, aligned)
        np.testing.assert_allclose(ours, loop, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("output_size", [(7, 7), (3, 2), (1, 1), (14, 14)])
@pytest.mark.parametrize("spatial_scale", [1.0, 0.25, 1 / 16])
def test_roi_pool_equals_the_loop(output_size, spatial_scale):
    rng = np.random.default_rng(len(output_size) + int(100 * spatial_scale) + output_size[0])
    for _ in range(3):
        features, rois = _random_case(rng, image_scale=1 / spatial_scale)
        ours = roi_pool(features, rois, output_size, spatial_scale)
        np.testing.assert_allclose(ours, roi_pool_loop(features, rois, output_size, spatial_scale), atol=1e-6)


def test_roi_pool_rounds_halves_away_from_zero():
    # x1 = 2.5 rounds to 3 in C (std::round), to 2 with NumPy's round-half-to-even: the bin then differs.
    features = np.arange(8, dtype=np.float32).reshape(1, 1, 8, 1)
    rois = np.array([[0, 2.5, 0, 3.4, 0]], np.float32)  # cells 3..3
    assert roi_pool(features, rois, 1)[0, 0, 0, 0] == 3.0
    assert roi_pool_loop(features, rois, (1, 1), 1.0)[0, 0, 0, 0] == 3.0


def test_roi_align_of_a_constant_map_is_that_constant_inside():
    features = np.full((1, 16, 16, 2), 3.5, np.float32)
    rois = np.array([[0, 2.3, 4.1, 9.7, 12.9]], np.float32)
    np.testing.assert_allclose(roi_align(features, rois, 5), 3.5, rtol=1e-6)


def test_roi_align_reproduces_a_linear_ramp_exactly():
    # Bilinear interpolation is exact on a linear function: the bin centres' values come back.
    height, width = 20, 24
    ramp = (np.arange(width, dtype=np.float32)[None, :] * 2.0 + np.arange(height, dtype=np.float32)[:, None])
    features = ramp[None, :, :, None]
    x1, y1, x2, y2 = 3.0, 4.0, 15.0, 13.0  # aligned=True: cell i's centre is at i + 0.5
    out = roi_align(features, np.array([[0, x1, y1, x2, y2]], np.float32), (3, 4), sampling_ratio=2)[0, :, :, 0]
    cx = x1 + (np.arange(4) + 0.5) * (x2 - x1) / 4 - 0.5
    cy = y1 + (np.arange(3) + 0.5) * (y2 - y1) / 3 - 0.5
    np.testing.assert_allclose(out, cy[:, None] + 2.0 * cx[None, :], atol=1e-4)


def test_quantisation_moves_roi_pool_but_not_roi_align():
    # The same ramp: shifting the box by 0.4 cell moves RoIAlign's answer by 0.4 slope, RoIPool's not at all.
    ramp = np.tile(np.arange(32, dtype=np.float32), (8, 1))[None, :, :, None]
    box = np.array([[0, 10.0, 0.0, 18.0, 8.0]], np.float32)
    shifted = box + np.array([[0, 0.4, 0, 0.4, 0]], np.float32)
    align_shift = roi_align(ramp, shifted, 2).mean() - roi_align(ramp, box, 2).mean()
    pool_shift = roi_pool(ramp, shifted, 2).mean() - roi_pool(ramp, box, 2).mean()
    assert align_shift == pytest.approx(0.4, abs=1e-4)
    assert pool_shift == 0.0


def test_empty_rois_give_an_empty_output():
    features = np.zeros((2, 8, 8, 5), np.float32)
    assert roi_align(features, np.zeros((0, 5)), (7, 7)).shape == (0, 7, 7, 5)
    assert roi_pool(features, np.zeros((0, 5)), 3).shape == (0, 3, 3, 5)
    assert roi_align(features, np.zeros((0, 5)), 2, sampling_ratio=0).shape == (0, 2, 2, 5)


@pytest.mark.parametrize("pool", [roi_align, roi_pool])
def test_bad_rois_raise_errors_naming_them(pool):
    features = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="batch has 2"):
        pool(features, [[2, 0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match="batch has 2"):
        pool(features, [[-1, 0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match=r"rois: expected shape \(K, 5\)"):
        pool(features, [[0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match="x2 < x1"):
        pool(features, [[0, 5, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match="NaN"):
        pool(features, [[0, np.nan, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match="whole numbers"):
        pool(features, [[0.5, 0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match="features"):
        pool(np.zeros((8, 8, 1)), [[0, 0, 0, 4, 4]], 2)


@pytest.mark.parametrize("bad", [0, -2, (2,), (2, 0), 2.5, "7"])
def test_bad_output_size(bad):
    with pytest.raises(ValueError, match="output_size"):
        RoIAlign(bad)
    with pytest.raises(ValueError, match="output_size"):
        RoIPool(bad)


def test_bad_scale_and_sampling_ratio():
    with pytest.raises(ValueError, match="spatial_scale"):
        RoIAlign(7, spatial_scale=0)
    with pytest.raises(ValueError, match="sampling_ratio"):
        RoIAlign(7, sampling_ratio=1.5)


@pytest.mark.parametrize("layer", [RoIAlign(3, 0.5), RoIPool(3, 0.5), RoIAlign(3, 0.5, sampling_ratio=0)])
def test_inside_a_traced_graph_a_missing_image_reads_zero(layer):
    features, rois = _random_case(np.random.default_rng(3), batch=2)
    rois[0, 0] = 5  # no such image

    @tf.function
    def run(f, r):
        return layer([f, r])

    out = run(tf.constant(features), tf.constant(rois)).numpy()
    assert np.all(out[0] == 0), "a RoI of a missing image gives zeros inside a graph"
    if isinstance(layer, RoIAlign):
        good = roi_align(features, rois[1:], 3, 0.5, layer.sampling_ratio)
    else:
        good = roi_pool(features, rois[1:], 3, 0.5)
    np.testing.assert_allclose(out[1:], good, atol=1e-5, err_msg="the other RoIs are pooled as usual")


def test_gradients_flow_through_roi_align():
    features, rois = _random_case(np.random.default_rng(4))
    f = tf.Variable(features)
    r = tf.Variable(rois)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(RoIAlign(4, 0.25)([f, r]) ** 2)
    d_features, d_rois = tape.gradient(loss, [f, r])
    assert d_features is not None and np.all(np.isfinite(d_features.numpy()))
    assert np.abs(d_features.numpy()).sum() > 0, "RoIAlign must pass gradients to the features it reads"
    assert d_rois is not None and np.abs(d_rois.numpy()[:, 1:]).sum() > 0, "and to the box coordinates"


def test_roi_align_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(1, 6, 6, 1)).astype(np.float32)
    rois = np.array([[0, 4.2, 3.1, 17.5, 19.0]], np.float32)
    layer = RoIAlign(2, 0.25)
    weights = rng.normal(size=(1, 2, 2, 1))

    def loss(fm):
        return float(np.sum(layer([tf.constant(fm), tf.constant(rois)]).numpy() * weights))

    f = tf.Variable(features)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(layer([f, tf.constant(rois)]) * weights)
    analytic = tape.gradient(value, f).numpy()
    eps = 0.5  # the output is linear in the features, so a large step is exact (and float32-safe)
    for idx in [(0, 1, 1, 0), (0, 2, 3, 0), (0, 4, 4, 0), (0, 0, 0, 0)]:
        bumped = features.copy()
        bumped[idx] += eps
        assert analytic[idx] == pytest.approx((loss(bumped) - loss(features)) / eps, abs=1e-4)


def test_layers_in_a_model_save_and_load(tmp_path):
    features_in = keras.Input((12, 12, 4))
    rois_in = keras.Input((5,), batch_size=None)
    aligned = RoIAlign((3, 3), spatial_scale=0.5, sampling_ratio=0, aligned=False)([features_in, rois_in])
    pooled = RoIPool(3, spatial_scale=0.5)([features_in, rois_in])
    model = keras.Model([features_in, rois_in], [aligned, pooled])
    features, rois = _random_case(np.random.default_rng(6), height=12, width=12, channels=4, image_scale=2.0)
    # The model sees RoIs as a batch of rows; its own "batch" axis is the K RoIs.
    before = [o.numpy() if hasattr(o, "numpy") else o for o in model([features, rois])]
    path = tmp_path / "roi.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = loaded([features, rois])
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-6)
    (align_layer,) = [layer for layer in loaded.layers if isinstance(layer, RoIAlign)]
    assert align_layer.sampling_ratio == 0 and align_layer.aligned is False and align_layer.spatial_scale == 0.5


def test_output_shape_is_known_when_building_a_model():
    features_in = keras.Input((None, None, 8))
    rois_in = keras.Input((5,))
    assert RoIAlign((7, 5))([features_in, rois_in]).shape == (None, 7, 5, 8)
    assert RoIPool(2)([features_in, rois_in]).shape == (None, 2, 2, 8)


def test_boxes_to_rois():
    rois = boxes_to_rois([np.array([[0, 0, 4, 4], [1, 1, 5, 6]]), np.zeros((0, 4)), [[2, 2, 3, 3]]])
    np.testing.assert_array_equal(rois[:, 0], [0, 0, 2])
    np.testing.assert_array_equal(rois[2, 1:], [2, 2, 3, 3])
    assert boxes_to_rois([]).shape == (0, 5)
    with pytest.raises(ValueError, match=r"boxes_per_image\[0\]"):
        boxes_to_rois([np.zeros((3, 3))])
    with pytest.raises(ValueError, match=r"one \(N, 4\) array per image"):
        boxes_to_rois(np.zeros((3, 4)))
