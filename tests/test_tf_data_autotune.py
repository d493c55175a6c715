"""cvlib.config.tf_data_without_autotune: Keras's tf.data pipelines iterate without TensorFlow's autotuner, and
nothing they yield changes. (How much time it saves is measured in benchmarks/bench_training.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import cvlib.config  # installs the change, as every notebook does

ORIGINAL_ITER = tf.data.Dataset.__iter__.__wrapped__


@pytest.fixture
def autotune_seen(monkeypatch):
    """The ``autotune.enabled`` option of every pipeline iterated while the fixture is active, in order."""
    seen = []
    iterate = tf.data.Dataset.__iter__

    def spy(dataset):
        iterator = iterate(dataset)
        seen.append(iterator._dataset.options().autotune.enabled)  # the pipeline the iterator really runs
        return iterator

    monkeypatch.setattr(tf.data.Dataset, "__iter__", spy)
    return seen


def _pipeline():
    """Shuffling, a parallel map and prefetching, each left to the autotuner."""
    return (tf.data.Dataset.range(200).shuffle(64, seed=3)
            .map(lambda i: (i, tf.random.stateless_uniform((), seed=(i, 7))), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(16).prefetch(tf.data.AUTOTUNE))


def _tiny_model():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def _trained_weights_and_predictions():
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 6), np.float32), rng.random((96, 1), np.float32)
    model = _tiny_model()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=True, validation_data=(x[:16], y[:16]), verbose=0)
    return [w.copy() for w in model.get_weights()], model.predict(x, batch_size=32, verbose=0)


def test_keras_fits_and_predicts_without_the_autotuner(autotune_seen):
    weights, predictions = _trained_weights_and_predictions()
    assert len(autotune_seen) >= 4, "three training epochs, their validation and a predict each build a pipeline"
    assert set(autotune_seen) == {False}, autotune_seen
    assert np.isfinite(predictions).all() and len(weights) == 4


def test_training_and_predictions_are_the_same_bit_for_bit(monkeypatch):
    untuned = _trained_weights_and_predictions()
    monkeypatch.setattr(tf.data.Dataset, "__iter__", ORIGINAL_ITER)  # TensorFlow's default: the autotuner on
    tuned = _trained_weights_and_predictions()
    for a, b in zip(untuned[0], tuned[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(untuned[1], tuned[1])


def test_a_pipeline_yields_the_same_elements_in_the_same_order(autotune_seen):
    untuned = [tuple(t.numpy() for t in batch) for batch in _pipeline()]
    tuned_options = tf.data.Options()
    tuned_options.autotune.enabled = True
    tuned = [tuple(t.numpy() for t in batch) for batch in _pipeline().with_options(tuned_options)]
    assert autotune_seen == [False, True], "the default is changed, an explicit choice is kept"
    assert len(untuned) == len(tuned) == 13
    for (i_a, u_a), (i_b, u_b) in zip(untuned, tuned):
        np.testing.assert_array_equal(i_a, i_b)
        np.testing.assert_array_equal(u_a, u_b)
    assert sorted(np.concatenate([i for i, _ in untuned])) == list(range(200)), "every element exactly once"


def test_an_explicit_choice_to_turn_it_off_stays_and_numpy_iterators_follow(autotune_seen):
    options = tf.data.Options()
    options.autotune.enabled = False
    assert list(tf.data.Dataset.range(3).with_options(options).as_numpy_iterator()) == [0, 1, 2]
    assert list(tf.data.Dataset.range(3).as_numpy_iterator()) == [0, 1, 2]
    assert autotune_seen == [False, False]


def test_iterating_inside_a_tf_function_is_left_alone():
    @tf.function
    def total(dataset):
        result = tf.constant(0, tf.int64)
        for value in dataset:
            result += value
        return result

    assert int(total(tf.data.Dataset.range(5))) == 10


def test_installing_it_again_changes_nothing():
    installed = tf.data.Dataset.__iter__
    cvlib.config.tf_data_without_autotune()
    assert tf.data.Dataset.__iter__ is installed
    assert tf.data.Dataset.__iter__.__wrapped__ is ORIGINAL_ITER, "one wrapper, around TensorFlow's own method"


def test_importing_config_installs_it_in_a_fresh_process():
    script = ("import cvlib.config, tensorflow as tf\n"
              "iterator = iter(tf.data.Dataset.range(3).prefetch(tf.data.AUTOTUNE))\n"
              "print(iterator._dataset.options().autotune.enabled, [int(v) for v in iterator])")
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "False [0, 1, 2]", done.stderr
