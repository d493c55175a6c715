"""cvlib.layers.atrous: the NumPy dilated convolution against Keras/TensorFlow, and the ASPP layer.

What is compared with what:
- stride 1, any radius r, both paddings: ``keras.layers.Conv2D(dilation_rate=r + 1)``, in float64 (to 1e-9)
  and in float32 as students run it (to 1e-5);
- stride > 1 with r = 0: ``Conv2D(strides=s)``;
- stride > 1 with r > 0: Keras' ``Conv2D`` refuses the combination (checked below), so we compare with
  ``Conv2D(strides=s)`` carrying the equivalent zero-filled kernel (taps r + 1 apart, spanning
  (k - 1)(r + 1) + 1 pixels), and with ``tf.nn.conv2d(strides=s, dilations=r + 1)``, which does accept it.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib.layers import ASPP, dilated_conv2d_reference

RNG = np.random.default_rng(13)


def keras_conv(x, w, bias, dilation_rate=1, strides=1, padding="valid", dtype="float64"):
    layer = keras.layers.Conv2D(
        w.shape[-1], w.shape[:2], strides=strides, dilation_rate=dilation_rate, padding=padding, dtype=dtype
    )
    layer.build(x.shape)
    layer.set_weights([w.astype(dtype), bias.astype(dtype)])
    return np.asarray(layer(x.astype(dtype)))


def inflate(w, r):
    """The same kernel with r zeros between neighbouring taps: an ordinary kernel that equals the dilated one."""
    kh, kw = w.shape[:2]
    big = np.zeros(((kh - 1) * (r + 1) + 1, (kw - 1) * (r + 1) + 1, *w.shape[2:]))
    big[:: r + 1, :: r + 1] = w
    return big


def _fits(r, padding, kernel, size):
    """Keras rejects a "valid" dilated kernel wider than the image; that case is tested on its own below."""
    span = max((k - 1) * (r + 1) + 1 for k in kernel)
    return padding == "same" or span <= min(size)


CASES = [
    case
    for case in itertools.product(
        [0, 1, 2, 3], ["valid", "same"], [(1, 1), (3, 3), (2, 3), (4, 2)], [(11, 11), (12, 9)]
    )
    if _fits(*case)
]


@pytest.mark.parametrize("r, padding, kernel, size", CASES)
def test_matches_keras_conv2d_dilation_rate_r_plus_1(r, padding, kernel, size):
    x = RNG.uniform(-1, 1, (2, *size, 3))
    w = RNG.uniform(-1, 1, (*kernel, 3, 4)) / np.sqrt(kernel[0] * kernel[1] * 3)
    b = RNG.uniform(-1, 1, 4)
    ours = dilated_conv2d_reference(x, w, r, padding=padding, bias=b)
    theirs = keras_conv(x, w, b, dilation_rate=r + 1, padding=padding)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-9, err_msg="float64 parity")
    single = keras_conv(x, w, b, dilation_rate=r + 1, padding=padding, dtype="float32")
    assert np.abs(ours - single).max() < 1e-5, "float32 Keras must agree to 1e-5"


@pytest.mark.parametrize("stride, padding", itertools.product([2, 3, (2, 3)], ["valid", "same"]))
def test_strided_standard_convolution_matches_keras(stride, padding):
    x = RNG.uniform(-1, 1, (2, 13, 10, 2))
    w = RNG.uniform(-1, 1, (3, 3, 2, 5))
    b = RNG.uniform(-1, 1, 5)
    ours = dilated_conv2d_reference(x, w, 0, stride=stride, padding=padding, bias=b)
    np.testing.assert_allclose(ours, keras_conv(x, w, b, strides=stride, padding=padding), atol=1e-9)


def test_keras_refuses_stride_with_dilation():
    with pytest.raises(ValueError, match="dilation_rate"):
        keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)


@pytest.mark.parametrize("r, stride, padding", itertools.product([1, 2], [2, 3], ["valid", "same"]))
def test_strided_dilated_matches_inflated_kernel_and_tf_nn(r, stride, padding):
    x = RNG.uniform(-1, 1, (2, 17, 14, 3))
    w = RNG.uniform(-1, 1, (3, 3, 3, 4))
    b = RNG.uniform(-1, 1, 4)
    ours = dilated_conv2d_reference(x, w, r, stride=stride, padding=padding, bias=b)
    inflated = keras_conv(x, inflate(w, r), b, strides=stride, padding=padding)
    np.testing.assert_allclose(ours, inflated, atol=1e-9)
    low_level = tf.nn.conv2d(x, w, strides=stride, dilations=r + 1, padding=padding.upper()).numpy() + b
    np.testing.assert_allclose(ours, low_level, atol=1e-9)


def test_hand_checked_case():
    # 2x2 kernel of ones, r = 1: each output sums the four pixels two apart, y[i, j] = 4 * x[i, j] + 24.
    x = np.arange(25.0).reshape(5, 5, 1)
    y = dilated_conv2d_reference(x, np.ones((2, 2, 1, 1)), r=1)
    assert y[..., 0].tolist() == [[24, 28, 32], [44, 48, 52], [64, 68, 72]]
    # r = 0 is the standard convolution; an even "same" kernel pads after the input (TensorFlow's rule).
    row = np.array([[1.0], [2.0], [3.0], [4.0]])[None]  # (1, 4, 1)
    same = dilated_conv2d_reference(row, np.ones((1, 2, 1, 1)), r=0, padding="same")
    assert same[0, :, 0].tolist() == [3, 5, 7, 4]
    # A 3-tap kernel with r = 2 spans 7 pixels; "same" pads 3 on each side.
    line = np.zeros((1, 9, 1))
    line[0, 4] = 1.0
    w = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    assert dilated_conv2d_reference(line, w, r=2, padding="same")[0, :, 0].tolist() == [0, 3, 0, 0, 2, 0, 0, 1, 0]


def test_single_image_batch_and_empty_output():
    x = RNG.uniform(size=(7, 8, 2))
    w = RNG.uniform(size=(3, 3, 2, 3))
    np.testing.assert_allclose(dilated_conv2d_reference(x, w, 1), dilated_conv2d_reference(x[None], w, 1)[0])
    assert dilated_conv2d_reference(x, w, 3).shape == (0, 0, 3)  # a 9-pixel kernel does not fit a 7x8 image
    assert dilated_conv2d_reference(np.zeros((0, 7, 8, 2)), w, 1, padding="same").shape == (0, 7, 8, 3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"x": np.zeros((5, 5))}, "x"),
        ({"x": np.zeros((1, 1, 5, 5, 2))}, "x"),
        ({"x": np.full((5, 5, 2), np.nan)}, "x"),
        ({"w": np.zeros((3, 3, 2))}, "w"),
        ({"w": np.zeros((3, 3, 4, 1))}, "w"),  # channel mismatch
        ({"w": np.zeros((0, 3, 2, 1))}, "w"),
        ({"r": -1}, "r"),
        ({"r": 1.5}, "r"),
        ({"r": True}, "r"),
        ({"stride": 0}, "stride"),
        ({"stride": (1, 2, 3)}, "stride"),
        ({"padding": "full"}, "padding"),
        ({"padding": None}, "padding"),
        ({"bias": np.zeros(3)}, "bias"),
    ],
)
def test_reference_rejects_bad_input(kwargs, name):
    args = {"x": np.zeros((5, 5, 2)), "w": np.zeros((3, 3, 2, 1)), "r": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        dilated_conv2d_reference(**args)


# --- ASPP ---------------------------------------------------------------------------------------------------


def aspp_params(c_in, f, rates, image_pooling=True):
    """Weights by hand: bias-free convolutions, then 4 BatchNorm numbers per channel (2 trainable)."""
    branches = 1 + len(rates) + int(image_pooling)
    convs = c_in * f + 9 * c_in * f * len(rates) + (c_in * f if image_pooling else 0) + branches * f * f
    return convs + 4 * f * (branches + 1)


@pytest.mark.parametrize("rates, image_pooling", [((6, 12, 18), True), ((1, 2), False), ((), True)])
def test_aspp_shapes_and_parameter_count(rates, image_pooling):
    layer = ASPP(8, rates=rates, image_pooling=image_pooling)
    inputs = keras.Input((None, None, 5))
    model = keras.Model(inputs, layer(inputs))
    for shape in [(2, 17, 23, 5), (1, 9, 9, 5), (3, 32, 32, 5)]:
        assert tuple(model(np.zeros(shape, "float32")).shape) == (*shape[:3], 8)
    assert layer.count_params() == aspp_params(5, 8, rates, image_pooling)
    assert layer.num_branches == 1 + len(rates) + int(image_pooling)
    rates_used = [conv.dilation_rate for conv in layer.branch_convs[1:]]
    assert rates_used == [(r, r) for r in rates], "rates are Keras dilation rates, used as given"


def test_aspp_save_load_round_trip(tmp_path):
    inputs = keras.Input((None, None, 4))
    model = keras.Model(inputs, ASPP(6, rates=(2, 4), dropout=0.1, momentum=0.9, name="aspp")(inputs))
    # random weights everywhere, BatchNorm statistics included, so the comparison means something
    model.set_weights([RNG.uniform(0.5, 1.5, v.shape).astype("float32") for v in model.get_weights()])
    path = tmp_path / "aspp.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = RNG.uniform(-1, 1, (2, 13, 11, 4)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    assert loaded.get_layer("aspp").get_config() == model.get_layer("aspp").get_config()
    assert ASPP.from_config(model.get_layer("aspp").get_config()).rates == (2, 4)


def test_aspp_image_pooling_branch_is_global():
    # With only the pooling branch feeding the projection through a zero 1x1 branch, the output is constant.
    layer = ASPP(3, rates=())
    x = RNG.uniform(-1, 1, (1, 10, 12, 2)).astype("float32")
    layer(x)
    layer.branch_convs[0].set_weights([np.zeros_like(layer.branch_convs[0].get_weights()[0])])
    out = np.asarray(layer(x))
    assert np.allclose(out, out[:, :1, :1]), "the image-pooling branch is the same at every pixel"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"filters": 0}, "filters"),
        ({"filters": 2.5}, "filters"),
        ({"rates": (6, 0)}, "rates"),
        ({"rates": "6,12"}, "rates"),
        ({"image_pooling": "yes"}, "image_pooling"),
        ({"dropout": 1.0}, "dropout"),
        ({"momentum": -0.1}, "momentum"),
    ],
)
def test_aspp_rejects_bad_arguments(kwargs, name):
    args = {"filters": 4}
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        ASPP(**args)


def test_aspp_rejects_wrong_input_rank():
    with pytest.raises(ValueError, match=r"^inputs:"):
        ASPP(4)(np.zeros((2, 8, 8), "float32"))


# --------------------------------------------------------------------------- DilatedConv2D

DILATED_CASES = [  # (rate, kernel, padding, strides, input shape)
    (2, 3, "same", 1, (3, 25, 31, 4)),
    (8, 3, "same", 1, (2, 24, 24, 6)),
    ((2, 3), 3, "same", 1, (2, 20, 17, 3)),
    (4, 5, "valid", 1, (2, 30, 28, 2)),
    (16, 3, "same", 1, (1, 9, 9, 2)),    # taps beyond the image on every side
    (1, 3, "same", 2, (2, 16, 16, 3)),   # no dilation: Keras's own path
]


def _pair(layer_class, rate, kernel, padding, strides, shape):
    """Output and gradients (input, kernel, bias) of a layer of ``layer_class`` with weights drawn from a fixed seed."""
    rng = np.random.default_rng(7)
    layer = layer_class(5, kernel, strides=strides, dilation_rate=rate, padding=padding)
    layer.build(shape)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.sin(y))   # a non-linear loss, so every gradient entry is checked
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return [np.asarray(y), *(np.asarray(g) for g in grads)]


def _spy_on_tf_conv2d(monkeypatch) -> list:
    """Record the calls to ``tf.nn.conv2d`` (its ``dilations``) made from now on; the op still runs."""
    calls, conv2d = [], tf.nn.conv2d
    monkeypatch.setattr(tf.nn, "conv2d", lambda *a, **k: calls.append(k.get("dilations")) or conv2d(*a, **k))
    return calls


@pytest.mark.parametrize("rate, kernel, padding, strides, shape", DILATED_CASES)
def test_dilated_conv2d_forward_equals_keras_conv2d_on_any_backend(monkeypatch, rate, kernel, padding, strides,
                                                                   shape):
    from cvlib.layers import DilatedConv2D
    from cvlib.layers.atrous import _tensorflow_dilates_natively

    rng = np.random.default_rng(3)
    x = rng.normal(size=shape).astype("float32")
    layers = [cls(5, kernel, strides=strides, dilation_rate=rate, padding=padding)
              for cls in (DilatedConv2D, keras.layers.Conv2D)]
    for layer in layers:
        layer.build(shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layers[1].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    calls = _spy_on_tf_conv2d(monkeypatch)
    ours = keras.ops.convert_to_numpy(layers[0](x))
    monkeypatch.undo()
    theirs = keras.ops.convert_to_numpy(layers[1](x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
    # on another backend (JAX) DilatedConv2D is Keras's Conv2D and never touches TensorFlow
    native = max(np.atleast_1d(rate)) > 1 and _tensorflow_dilates_natively()
    assert len(calls) == int(native), "TensorFlow's Conv2D op computes the dilated case when it can, Keras the rest"


@pytest.mark.parametrize("rate, kernel, padding, strides, shape", DILATED_CASES)
def test_dilated_conv2d_equals_keras_conv2d(monkeypatch, rate, kernel, padding, strides, shape):
    from cvlib.layers import DilatedConv2D
    from cvlib.layers.atrous import _tensorflow_dilates_natively

    calls = _spy_on_tf_conv2d(monkeypatch)
    ours = _pair(DilatedConv2D, rate, kernel, padding, strides, shape)
    monkeypatch.undo()
    theirs = _pair(keras.layers.Conv2D, rate, kernel, padding, strides, shape)
    for name, a, b in zip(("output", "input gradient", "kernel gradient", "bias gradient"), ours, theirs):
        assert a.shape == b.shape, name
        # the same sums, added in another order: equal to float32 rounding
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max(), err_msg=name)
    dilated = max(np.atleast_1d(rate)) > 1
    expected = 1 if dilated and _tensorflow_dilates_natively() else 0
    assert len(calls) == expected, "TensorFlow's Conv2D op computes the dilated case when it can, Keras the rest"


def test_dilated_conv2d_falls_back_to_keras_without_onednn(monkeypatch):
    import cvlib.layers.atrous as atrous

    monkeypatch.setattr(atrous, "_tensorflow_dilates_natively", lambda: False)
    calls = _spy_on_tf_conv2d(monkeypatch)
    ours = _pair(atrous.DilatedConv2D, 4, 3, "same", 1, (2, 20, 20, 3))
    monkeypatch.undo()
    theirs = _pair(keras.layers.Conv2D, 4, 3, "same", 1, (2, 20, 20, 3))
    assert not calls, "without oneDNN TensorFlow's CPU Conv2D op cannot differentiate a dilated convolution"
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_onednn_dilates_natively_once_cvlib_config_is_imported():
    import platform
    import subprocess
    import sys

    code = ("import cvlib.config; from cvlib.layers.atrous import _tensorflow_dilates_natively as f; "
            "print(f())")
    # Keras on TensorFlow, as the notebooks run it, whatever backend this test process uses
    env = {**{k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}, "KERAS_BACKEND": "tensorflow"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    # cvlib.config switches oneDNN on for every x86 CPU; TensorFlow's other CPUs decide for themselves
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert out.stdout.strip() == "True", out.stderr[-500:]
    else:
        assert out.stdout.strip() in ("True", "False"), out.stderr[-500:]


def test_dilated_conv2d_saves_loads_and_counts_as_a_convolution(tmp_path):
    from cvlib import receptive_field
    from cvlib.layers import DilatedConv2D

    inputs = keras.Input((20, 20, 3))
    x = DilatedConv2D(4, 3, dilation_rate=2, padding="same", name="dilated")(inputs)
    model = keras.Model(inputs, DilatedConv2D(2, 3, dilation_rate=4, padding="same", name="wider")(x))
    path = tmp_path / "dilated.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("dilated")) is DilatedConv2D
    probe = RNG.uniform(-1, 1, (2, 20, 20, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(probe)), np.asarray(loaded(probe)))
    # the receptive field of two 3x3 convolutions at rates 2 and 4: 1 + 2 * 2 + 2 * 4 = 13
    assert receptive_field.compute(model)["wider"].size == (13, 13)
