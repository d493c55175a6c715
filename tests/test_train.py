"""``cvlib.train.fit``: the same training on one device and under MirroredStrategy over two logical CPUs.

Logical devices must be configured before TensorFlow initialises, so the comparison runs in a fresh
Python process; it trains the paper's U-Net (no BatchNorm) of notebook 11 for a few SGD steps on
generated scenes, from the same initial weights, and compares the trained weights and losses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from cvlib import train
    devices = train.logical_cpus(2)  # first, before TensorFlow makes any tensor
    import keras
    import tensorflow as tf
    import cvlib.config
    from cvlib.data.shapes import generate_scenes, semantic_map
    from cvlib.models.unet import build_unet

    cvlib.config.setup(0)
    scenes = generate_scenes(32, 32, seed=3)
    x = scenes.images.astype("float32") / 255.0
    y = np.stack([semantic_map(t, x.shape[1:3]) for t in scenes.targets])
    num_classes = int(y.max()) + 1

    def compiled():
        model = build_unet((32, 32, 3), num_classes, depth=2, base_filters=4, padding="same")
        model.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    reference = compiled()
    start = reference.get_weights()
    results = {"devices": devices}
    for name, strategy, batch in [("single", None, 8), ("mirrored", tf.distribute.MirroredStrategy(devices[:2]), 8),
                                  ("half_batch", None, 4)]:
        model = compiled()
        model.set_weights(start)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
        history = train.fit(model, data, strategy, epochs=2, shuffle=False, verbose=0)
        results[name] = {"loss": history.history["loss"], "weights": [w.tolist() for w in model.get_weights()]}
        if strategy is not None:
            results["replicas"] = strategy.num_replicas_in_sync
    results["start"] = [w.tolist() for w in start]
    json.dump(results, sys.stdout)
    """
)


@pytest.fixture(scope="module")
def runs():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _max_diff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(runs):
    assert runs["replicas"] == 2 and len(runs["devices"]) == 2, runs["devices"]
    moved = _max_diff(runs["single"]["weights"], runs["start"])
    assert moved > 1e-2, "training must change the weights for the comparison to mean anything"
    diff = _max_diff(runs["mirrored"]["weights"], runs["single"]["weights"])
    assert diff < 1e-4, f"two replicas drifted {diff:.2e} from one device"
    np.testing.assert_allclose(runs["mirrored"]["loss"], runs["single"]["loss"], rtol=1e-4)
    # The tolerance is far below what a real difference in training gives: half the batch size.
    assert _max_diff(runs["half_batch"]["weights"], runs["single"]["weights"]) > 100 * max(diff, 1e-6)


def test_fit_single_device_and_bad_input():
    import keras

    from cvlib import train

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"model: .* is not compiled"):
        train.fit(model, (np.zeros((4, 3)), np.zeros((4, 1))), batch_size=2)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="strategy: expected None"):
        train.fit(model, (np.zeros((4, 3)), np.zeros((4, 1))), strategy="mirrored", batch_size=2)
    with pytest.raises(ValueError, match="batch_size: give the global batch size"):
        train.fit(model, (np.zeros((4, 3)), np.zeros((4, 1))))
    with pytest.raises(ValueError, match="data: expected"):
        train.fit(model, (np.zeros((4, 3)),), batch_size=2)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, (np.zeros((4, 3)), np.zeros((4, 1))), batch_size=2, epochs=0)
    with pytest.raises(ValueError, match="model: expected a compiled"):
        train.fit("unet", (np.zeros((4, 3)), np.zeros((4, 1))), batch_size=2)
    with pytest.raises(ValueError, match="count"):
        train.logical_cpus(0)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    history = train.fit(model, (x, x @ np.array([[1.0], [2.0], [3.0]], "float32")), batch_size=4, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]


def test_side_by_side_gives_the_weights_of_one_after_the_other():
    import keras
    import tensorflow as tf

    from cvlib.train import side_by_side

    rng = np.random.default_rng(0)
    x, y = rng.random((96, 12, 12, 3), np.float32), rng.random((96, 12, 12, 1), np.float32)

    def model(name):
        keras.utils.set_random_seed(1)
        net = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                keras.layers.Conv2D(1, 3, padding="same")], name=name)
        net.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return net

    def train(net, seed):
        batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(8)
        net.fit(batches, epochs=3, verbose=0, shuffle=False)  # the pipeline has shuffled
        return net.get_weights()

    one_after_the_other = [train(model("a"), 3), train(model("b"), 4)]
    a, b = model("a"), model("b")
    together = side_by_side(lambda: train(a, 3), lambda: train(b, 4))
    for alone, beside in zip(one_after_the_other, together):
        assert all(np.array_equal(u, v) for u, v in zip(alone, beside))
    assert not np.array_equal(together[0][0], together[1][0]), "two shuffles: two different trainings"


def test_side_by_side_returns_in_order_and_raises_a_failing_job():
    from cvlib.train import side_by_side

    assert side_by_side(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]
    finished = []

    def fails():
        raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        side_by_side(fails, lambda: finished.append(True))
    assert finished == [True], "the other job still runs to its end"
    with pytest.raises(ValueError, match="jobs"):
        side_by_side()
    with pytest.raises(ValueError, match="jobs"):
        side_by_side(1)
