"""cvlib.models.cnn3d: the Conv3D formula against Keras, the classifier, saving, 3D Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cvlib.models.cnn3d import (  # noqa: E402
    build_cnn3d,
    conv3d_reference,
    conv_cost,
    grad_cam_3d,
    recalibrate_batchnorm,
)


@pytest.mark.parametrize("padding,stride", [("valid", 1), ("same", 1), ("valid", 2), ("same", (2, 1, 3))])
def test_conv3d_reference_matches_keras(padding, stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 8, 7, 3)).astype(np.float32)
    layer = keras.layers.Conv3D(4, (3, 2, 3), strides=stride, padding=padding, bias_initializer="random_normal")
    expected = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    ours = conv3d_reference(x, kernel, bias, stride=stride, padding=padding)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_conv3d_reference_is_the_direct_sum():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(1, 4, 4, 4, 2)), rng.normal(size=(2, 2, 2, 2, 3)), rng.normal(size=3)
    y = conv3d_reference(x, w, b)
    i, j, k, p = 1, 2, 0, 2
    direct = b[p] + sum(
        w[u, v, t, c, p] * x[0, i + u, j + v, k + t, c]
        for u in range(2) for v in range(2) for t in range(2) for c in range(2)
    )
    assert abs(y[0, i, j, k, p] - direct) < 1e-12


@pytest.mark.parametrize("kwargs,match", [
    (dict(x=np.zeros((4, 4, 4, 1)), kernel=np.zeros((3, 3, 3, 1, 2))), "x: expected shape"),
    (dict(x=np.zeros((1, 4, 4, 4, 2)), kernel=np.zeros((3, 3, 3, 1, 2))), "input channels"),
    (dict(x=np.zeros((1, 2, 4, 4, 1)), kernel=np.zeros((3, 3, 3, 1, 2))), "larger than"),
    (dict(x=np.zeros((1, 4, 4, 4, 1)), kernel=np.zeros((3, 3, 3, 1, 2)), padding="full"), "padding"),
    (dict(x=np.full((1, 4, 4, 4, 1), np.nan), kernel=np.zeros((3, 3, 3, 1, 2))), "NaN"),
    (dict(x=np.zeros((1, 4, 4, 4, 1)), kernel=np.zeros((3, 3, 3, 1, 2)), bias=np.zeros(3)), "bias"),
])
def test_conv3d_reference_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv3d_reference(**kwargs)


def test_conv_cost_matches_keras_parameter_count():
    params, macs = conv_cost((16, 16, 8), filters=8, kernel=3, in_channels=4)
    layer = keras.layers.Conv3D(8, 3, padding="same")
    layer.build((None, 16, 16, 8, 4))
    assert params == layer.count_params() == 27 * 4 * 8 + 8
    assert macs == 16 * 16 * 8 * 27 * 4 * 8
    params2d, _ = conv_cost((16, 16), filters=8, kernel=3, in_channels=4, dims=2)
    assert params2d == 9 * 4 * 8 + 8


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return build_cnn3d((32, 32, 16, 1), filters=(4, 8), dense=8)


def test_build_cnn3d_shapes_and_errors(small_model):
    assert small_model.output_shape == (None, 1)
    assert small_model.get_layer("last_conv").output.shape[1:] == (16, 16, 8, 8)
    with pytest.raises(ValueError, match=r"input_shape"):
        build_cnn3d((32, 32, 1))
    with pytest.raises(ValueError, match=r"too small"):
        build_cnn3d((8, 8, 8, 1), filters=(4, 4, 4, 4))
    with pytest.raises(ValueError, match=r"dropout"):
        build_cnn3d(dropout=1.5)


def test_model_saves_and_loads_as_keras(small_model, tmp_path):
    x = np.random.default_rng(0).random((3, 32, 32, 16, 1)).astype(np.float32)
    path = tmp_path / "cnn3d.keras"
    small_model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), small_model.predict(x, verbose=0))


def test_grad_cam_3d_shape_range_and_errors(small_model):
    volume = np.random.default_rng(3).random((32, 32, 16)).astype(np.float32)
    cam = grad_cam_3d(small_model, volume)
    assert cam.shape == (32, 32, 16) and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() <= 1.0
    assert grad_cam_3d(small_model, volume[..., None], upsample=False).shape == (16, 16, 8)
    with pytest.raises(ValueError, match=r"conv1"):
        grad_cam_3d(small_model, volume, layer="nope")
    with pytest.raises(ValueError, match=r"volume: expected shape"):
        grad_cam_3d(small_model, volume[:16])


def test_recalibrate_batchnorm_sets_the_average_batch_statistics():
    keras.utils.set_random_seed(1)
    model = build_cnn3d((16, 16, 8, 1), filters=(4,), dense=4)
    x = np.random.default_rng(4).random((6, 16, 16, 8, 1)).astype(np.float32)
    conv = keras.Model(model.input, model.get_layer("last_conv").output)
    feats = keras.ops.convert_to_numpy(conv(x))
    batch_means = [feats[i : i + 3].mean(axis=(0, 1, 2, 3)) for i in (0, 3)]
    assert recalibrate_batchnorm(model, x[..., 0], batch_size=3) == 6
    bn = model.get_layer("bn1")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), np.mean(batch_means, axis=0), rtol=1e-4)
    assert bn.momentum == 0.9, "the layer's own momentum is restored"
    with pytest.raises(ValueError, match="volumes"):
        recalibrate_batchnorm(model, x[:, :8])
