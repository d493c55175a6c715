"""Landmark metrics (NME, CED, failure rate) and the keypoint models (regressor, heatmap net, soft-argmax)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.data import faces
from cvlib.metrics import keypoints as M
from cvlib.models import keypoints as K


def _faces(n=4, size=64, seed=0):
    return faces.render_faces(n, size=size, seed=seed)


# --------------------------------------------------------------------------- metrics


def test_nme_known_cases():
    true = _faces(3).landmarks.astype(np.float64)
    iod = np.linalg.norm(true[:, 36] - true[:, 45], axis=-1)
    np.testing.assert_allclose(M.inter_ocular_distance(true), iod)
    np.testing.assert_array_equal(M.nme(true, true), np.zeros(3))
    shifted = true + np.array([3.0, 4.0])  # every point 5 px off
    np.testing.assert_allclose(M.nme(shifted, true), 5.0 / iod)
    # one point off by the inter-ocular distance: that point's error is 1, the face's NME 1/68
    one = true.copy()
    one[:, 30, 0] += iod
    np.testing.assert_allclose(M.nme(one, true), np.full(3, 1 / 68))
    np.testing.assert_allclose(M.nme_per_point(one, true)[:, 30], 1.0)
    # the same relative error at any image scale
    np.testing.assert_allclose(M.nme(shifted * 3, true * 3), M.nme(shifted, true))
    assert M.nme(true[0], true[0]).shape == (1,), "one (68, 2) face is a batch of one"


def test_ced_and_failure_rate_known_cases():
    errors = np.array([0.01, 0.05, 0.09, 0.2])
    assert M.failure_rate(errors) == 0.5
    assert M.failure_rate(errors, threshold=0.04) == 0.75
    ced = M.ced_curve(errors, max_error=0.08, steps=9)
    np.testing.assert_allclose(ced.thresholds, np.linspace(0, 0.08, 9))
    np.testing.assert_allclose(ced.fraction, [0, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5])
    assert ced.failure_rate == 0.5
    # exact trapezoid area under the step-like curve, divided by 0.08
    expected = np.trapezoid(ced.fraction, ced.thresholds) / 0.08
    assert abs(ced.auc - expected) < 1e-12
    perfect = M.ced_curve(np.zeros(10))
    assert perfect.auc == 1.0 and perfect.failure_rate == 0.0
    assert np.all(np.diff(M.ced_curve(np.random.default_rng(0).uniform(0, 0.1, 50)).fraction) >= 0)


def test_metric_bad_inputs():
    true = _faces(2).landmarks
    with pytest.raises(ValueError, match=r"pred.*68"):
        M.nme(true[:, :5], true)
    with pytest.raises(ValueError, match="pred, true"):
        M.nme(true[:1], true)
    bad = true.copy()
    bad[1, 2, 1] = np.nan
    with pytest.raises(ValueError, match="pred: contains NaN"):
        M.nme(bad, true)
    same_corner = true.copy()
    same_corner[0, 45] = same_corner[0, 36]
    with pytest.raises(ValueError, match="36 and 45"):
        M.nme(true, same_corner)
    with pytest.raises(ValueError, match="errors"):
        M.failure_rate(np.array([-0.1]))
    with pytest.raises(ValueError, match="threshold"):
        M.failure_rate(np.array([0.1]), threshold=0)
    with pytest.raises(ValueError, match="steps"):
        M.ced_curve(np.array([0.1]), steps=1)
    assert M.nme(np.zeros((0, 68, 2)), np.zeros((0, 68, 2))).shape == (0,)
    assert np.isnan(M.failure_rate(np.zeros(0)))


# --------------------------------------------------------------------------- coordinates and decoding


def test_normalised_coordinates_round_trip_and_centre():
    f = _faces(3, size=48)
    v = K.to_normalized(f.landmarks, 48)
    assert v.shape == (3, 136) and np.abs(v).max() < 1.1
    np.testing.assert_allclose(K.from_normalized(v, 48), f.landmarks, atol=1e-4)
    centre = np.full((1, 68, 2), 23.5)  # the centre of a 48-pixel image, pixel centres at integers
    np.testing.assert_allclose(K.to_normalized(centre, 48), 0.0, atol=1e-7)
    with pytest.raises(ValueError, match="vectors"):
        K.from_normalized(np.zeros((2, 10)), 48)
    with pytest.raises(ValueError, match="size"):
        K.to_normalized(f.landmarks, 0)


def test_soft_argmax_and_argmax_find_a_peak():
    """A sharp peak in cell (row 3, column 5) of a 16 x 16 heatmap of a 64-pixel image is at pixel (21.5, 13.5)."""
    hm = np.full((2, 16, 16, 68), -50.0, np.float32)
    hm[:, 3, 5, :] = 50.0
    argmax = K.decode_heatmaps(hm, 64, method="argmax")
    np.testing.assert_allclose(argmax, np.broadcast_to([5 * 4 + 1.5, 3 * 4 + 1.5], (2, 68, 2)))
    soft = K.decode_heatmaps(hm, 64, method="soft")
    np.testing.assert_allclose(soft, argmax, atol=1e-6)
    layer = K.SoftArgmax2D(stride=4, image_size=64)
    out = keras.ops.convert_to_numpy(layer(hm))
    np.testing.assert_allclose(K.from_normalized(out, 64), argmax, atol=1e-3)
    # a flat heatmap's expectation is the image centre, where argmax would pick a corner
    flat = np.zeros((1, 16, 16, 68), np.float32)
    np.testing.assert_allclose(K.decode_heatmaps(flat, 64, "soft"), 31.5, atol=1e-9)
    with pytest.raises(ValueError, match="method"):
        K.decode_heatmaps(hm, 64, method="median")
    with pytest.raises(ValueError, match="heatmaps"):
        K.decode_heatmaps(hm[0], 64)


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize("builder", [K.build_keypoint_cnn, K.build_heatmap_net])
def test_models_output_136_and_save_load(builder, tmp_path):
    keras.utils.set_random_seed(0)
    model = builder((32, 32, 3)) if builder is K.build_heatmap_net else builder((32, 32, 3), widths=(8, 8, 16, 16),
                                                                                   dense=32)
    x = _faces(3, size=32).images
    out = model.predict(x, verbose=0)
    assert out.shape == (3, 136)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), out, atol=1e-5)
    pts = K.predict_landmarks(loaded, x)
    assert pts.shape == (3, 68, 2)


@pytest.mark.slow
def test_regressor_learns_on_a_few_faces():
    """A few steps of MSE training must bring the NME down (the model can learn, the targets are consistent)."""
    keras.utils.set_random_seed(0)
    f = faces.render_faces(64, size=32, seed=1, clutter=False)
    model = K.build_keypoint_cnn((32, 32, 3), widths=(16, 16, 32, 32), dense=64, dropout=0.0)
    model.compile(keras.optimizers.Adam(3e-3), "mse")
    before = M.nme(K.predict_landmarks(model, f.images), f.landmarks).mean()
    model.fit(f.images, K.to_normalized(f.landmarks, 32), epochs=30, batch_size=16, verbose=0)
    after = M.nme(K.predict_landmarks(model, f.images), f.landmarks).mean()
    assert after < 0.5 * before, f"training must reduce the NME ({before:.3f} -> {after:.3f})"


def test_regressor_starts_at_the_initial_landmarks():
    start = K.to_normalized(_faces(5, size=32).landmarks, 32).mean(0)
    model = K.build_keypoint_cnn((32, 32, 3), widths=(4, 4, 8, 8), dense=8, initial_landmarks=start)
    out = model.predict(_faces(3, size=32, seed=5).images, verbose=0)
    np.testing.assert_allclose(out, np.broadcast_to(start, out.shape), atol=1e-6)
    with pytest.raises(ValueError, match="initial_landmarks"):
        K.build_keypoint_cnn((32, 32, 3), initial_landmarks=np.zeros(10))


def test_model_bad_inputs():
    with pytest.raises(ValueError, match="input_shape"):
        K.build_keypoint_cnn((64, 48, 3))
    with pytest.raises(ValueError, match="input_shape"):
        K.build_heatmap_net((60, 60, 3))
    with pytest.raises(ValueError, match="widths"):
        K.build_keypoint_cnn((32, 32, 3), widths=(8, 8))
    model = K.build_keypoint_cnn((32, 32, 3), widths=(4, 4, 4, 4), dense=8)
    with pytest.raises(ValueError, match=r"images.*channels"):
        K.predict_landmarks(model, np.zeros((2, 32, 32, 4)))
    with pytest.raises(ValueError, match="images: expected 32 x 32"):
        K.predict_landmarks(model, np.zeros((2, 48, 48, 3)))
    assert K.predict_landmarks(model, np.zeros((0, 32, 32, 3))).shape == (0, 68, 2)
