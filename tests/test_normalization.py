"""cvlib.layers.FusedBatchNormalization equals Keras's BatchNormalization (outputs, gradients, moving statistics),
takes TensorFlow's fused kernel exactly when it applies, and saves, loads and counts as a pointwise layer."""

from __future__ import annotations

from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from cvlib import receptive_field as rf
from cvlib.layers import FusedBatchNormalization

FUSED = tf.compat.v1.nn.fused_batch_norm


def _pair(shape, **kwargs):
    """Keras's layer and ours, built for ``shape`` with the same (random, non-trivial) weights."""
    keras_bn, fused_bn = keras.layers.BatchNormalization(**kwargs), FusedBatchNormalization(**kwargs)
    keras_bn.build(shape)
    fused_bn.build(shape)
    rng = np.random.default_rng(1)
    weights = [w + rng.normal(0, 0.2, w.shape).astype("float32") for w in keras_bn.get_weights()]
    weights = [np.abs(w) if "variance" in v.path else w for w, v in zip(weights, keras_bn.weights)]
    keras_bn.set_weights(weights)
    fused_bn.set_weights(weights)
    return keras_bn, fused_bn


def _steps(layer, inputs, steps=3):
    """Outputs and gradients (input, trainable weights) of ``steps`` training calls; the moving statistics after."""
    results = []
    for step in range(steps):
        x = tf.constant(inputs * (1 + step))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y) * y)  # a gradient that is not uniform across the batch
        results.append((y.numpy(), [g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_weights])]))
    return results, [w.numpy() for w in layer.non_trainable_weights]


CASES = {
    "4d": ((6, 9, 7, 5), {}),
    "4d, momentum 0.9, epsilon 1e-4": ((4, 8, 8, 3), {"momentum": 0.9, "epsilon": 1e-4}),
    "4d without scale and centre": ((4, 6, 6, 4), {"scale": False, "center": False}),
    "4d, axis 3": ((3, 5, 5, 6), {"axis": 3}),
    "5d volumes": ((2, 4, 6, 6, 3), {"momentum": 0.8}),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_training_equals_keras_batch_normalization(case):
    shape, kwargs = CASES[case]
    inputs = np.random.default_rng(0).normal(2.0, 3.0, shape).astype("float32")
    keras_bn, fused_bn = _pair(shape, **kwargs)
    with mock.patch.object(tf.compat.v1.nn, "fused_batch_norm", wraps=FUSED) as spy:
        ours, our_statistics = _steps(fused_bn, inputs)
    assert spy.call_count == 3, "the fused kernel, once per training call"
    theirs, their_statistics = _steps(keras_bn, inputs)
    for (y_ours, g_ours), (y_theirs, g_theirs) in zip(ours, theirs):
        np.testing.assert_allclose(y_ours, y_theirs, rtol=1e-5, atol=1e-5)
        for a, b in zip(g_ours, g_theirs):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
    for a, b in zip(our_statistics, their_statistics):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


FALLBACKS = {
    "inference": ((4, 6, 6, 3), {}, False),
    "2d features": ((8, 5), {}, True),
    "channels first (axis 1)": ((4, 3, 6, 6), {"axis": 1}, True),
    "epsilon below the kernel's minimum": ((4, 6, 6, 3), {"epsilon": 1e-6}, True),
    "synchronized": ((4, 6, 6, 3), {"synchronized": True}, True),
    "renorm": ((4, 6, 6, 3), {"renorm": True}, True),
    "float16": ((4, 6, 6, 3), {"dtype": "mixed_float16"}, True),
}


@pytest.mark.parametrize("case", FALLBACKS, ids=list(FALLBACKS))
def test_everything_else_is_keras_own_computation(case):
    shape, kwargs, training = FALLBACKS[case]
    inputs = np.random.default_rng(2).normal(1.0, 2.0, shape).astype("float32")
    keras_bn, fused_bn = _pair(shape, **kwargs)
    with mock.patch.object(tf.compat.v1.nn, "fused_batch_norm", wraps=FUSED) as spy:
        ours = fused_bn(inputs, training=training)
    assert spy.call_count == 0
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(keras_bn(inputs, training=training)))
    for a, b in zip(fused_bn.get_weights(), keras_bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_frozen_layer_uses_its_moving_statistics():
    inputs = np.random.default_rng(3).normal(5.0, 2.0, (4, 6, 6, 3)).astype("float32")
    keras_bn, fused_bn = _pair(inputs.shape)
    keras_bn.trainable = fused_bn.trainable = False
    np.testing.assert_array_equal(np.asarray(fused_bn(inputs, training=True)),
                                  np.asarray(keras_bn(inputs, training=True)))


def test_a_model_trains_like_one_with_keras_batch_normalization():
    rng = np.random.default_rng(4)
    x, y = rng.random((64, 12, 12, 3), np.float32), rng.integers(0, 2, 64)

    def trained(norm):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(8, 3), norm(momentum=0.9),
                                  keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
        model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), model.predict(x, verbose=0)

    (ours, ours_out), (theirs, theirs_out) = trained(FusedBatchNormalization), trained(keras.layers.BatchNormalization)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours_out, theirs_out, rtol=1e-4, atol=1e-4)


def test_saves_and_loads_with_keras_config(tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, FusedBatchNormalization(momentum=0.9, epsilon=1e-4, name="bn")(inputs))
    model.get_layer("bn").set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.get_layer("bn")) is FusedBatchNormalization
    assert loaded.get_layer("bn").get_config() == model.get_layer("bn").get_config()
    x = np.random.default_rng(6).random((2, 8, 8, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-4, name="bn").get_config()
    assert {k: v for k, v in model.get_layer("bn").get_config().items() if k != "dtype"} == {
        k: v for k, v in config.items() if k != "dtype"}, "the same arguments as Keras's layer"


def test_the_receptive_field_sees_a_pointwise_layer():
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(2, 3, name="c1")(inputs)
    x = FusedBatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(2, 3, name="c2")(x)
    fields = rf.compute(keras.Model(inputs, x))
    assert fields["bn"].size == fields["c1"].size == (3, 3), "a pointwise layer keeps its input's field"
    assert fields.rows[-1].size == (5, 5)
