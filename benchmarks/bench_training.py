"""Five training choices on a CPU, measured on notebook 11's U-Net (depth 3, 16 filters, 64 x 64 scenes) and on
notebook 15's click networks (fused batch normalisation on both).

Run ``python benchmarks/bench_training.py``.

- tf.data's autotuner: Keras builds a ``tf.data`` pipeline for every ``fit`` epoch and every ``predict``; with
  the autotuner on (TensorFlow's default), deleting a finished iterator often waits, idle, for the tuning thread's
  next wake-up (10, 30, 70, 150 ... ms after the iterator started). ``import cvlib.config`` turns it off for
  pipelines that do not choose (``cvlib.config.tf_data_without_autotune``). Mean seconds of a one-epoch ``fit``
  and of a ``predict`` on 64 images, without and with the autotuner (means, not medians: see ``_autotune_rows``).
- XLA: ``compile(..., jit_compile=True)`` against Keras's default on a CPU-only machine (no XLA; TensorFlow's
  oneDNN kernels, which ``import cvlib.config`` switches on). Median seconds per epoch after a warm-up epoch.
- The optimizer built before ``fit``: a Keras optimizer whose variables are created inside the first ``fit``
  makes TensorFlow trace the training step a second time. ``model.optimizer.build(model.trainable_variables)``
  after ``compile`` saves that trace and leaves the trained weights bit for bit the same (checked here).
  Median seconds of a whole first ``fit`` (one short epoch: tracing dominates, as in a fast-mode notebook).
- Fused batch normalisation: ``cvlib.layers.FusedBatchNormalization`` (TensorFlow's fused kernel, forward and
  backward) against Keras's ``BatchNormalization`` (moments, then elementwise operations, each differentiated on
  its own), in notebook 11's U-Net and notebook 15's click FCN. Median seconds of one training step.
- Dilated convolutions: ``cvlib.layers.DilatedConv2D`` (TensorFlow's Conv2D op, which oneDNN dilates in place)
  against Keras's ``Conv2D`` (``tf.nn.convolution``: space-to-batch around an undilated convolution), in notebook
  15's click FCN (rates 1, 2, 4, 8, 1) and IAC network (rates 2, 4, 8). Median seconds of one training step.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, all_seconds, median_seconds

import cvlib.config  # noqa: F401 - oneDNN kernels on, as in the notebooks
from cvlib.models.unet import build_unet

IMAGES, SIZE, CLASSES, BATCH = 1024, 64, 7, 32


def _data(n: int):
    rng = np.random.default_rng(0)
    return rng.random((n, SIZE, SIZE, 3), np.float32), rng.integers(0, CLASSES, (n, SIZE, SIZE))


def _unet(jit_compile=False, build_optimizer=False):
    import keras

    keras.utils.set_random_seed(0)
    model = build_unet((SIZE, SIZE, 3), CLASSES, depth=3, base_filters=16, batch_norm=True)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    if build_optimizer:
        model.optimizer.build(model.trainable_variables)
    return model


def _epoch_seconds(jit_compile: bool, x, y) -> float:
    model = _unet(jit_compile)
    return median_seconds(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), repeat=3)


def _first_fit(build_optimizer: bool, x, y):
    model = _unet(build_optimizer=build_optimizer)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return model


def _train_step_seconds(model, loss, x, y, repeat: int) -> float:
    """Median seconds of one ``train_on_batch`` of ``model`` (Adam, ``loss``) on ``(x, y)``, after 5 warm-up steps."""
    import keras

    model.compile(keras.optimizers.Adam(1e-3), loss)
    model.optimizer.build(model.trainable_variables)
    return median_seconds(lambda: model.train_on_batch(x, y), repeat=repeat, warmup=5)


def _step_seconds(build, native: bool, batch: int) -> float:
    """Median seconds of one training step (``batch`` 48 x 48 inputs) of a click network, dilating natively or not."""
    from unittest import mock

    from cvlib.layers import atrous
    from cvlib.losses.interactive import HindsightLoss

    rng = np.random.default_rng(0)
    x = rng.random((batch, 48, 48, 5), np.float32)
    y = (rng.random((batch, 48, 48, 3)) > 0.5).astype(np.float32)
    path = atrous._tensorflow_dilates_natively if native else (lambda: False)
    with mock.patch.object(atrous, "_tensorflow_dilates_natively", path):  # the path is chosen at each call
        return _train_step_seconds(build(), HindsightLoss(), x, y, repeat=30)


def _dilated_rows() -> list[Row]:
    from cvlib.models.interactive import build_click_fcn, build_iac_fcn

    # each network with the batch size notebook 15 trains it with (BATCH_SIZE, IAC_BATCH_SIZE)
    networks = {"click FCN": (lambda: build_click_fcn((48, 48, 5), 1, 24), 16),
                "IAC network": (lambda: build_iac_fcn((48, 48, 5), 1, 24, 3, (1, 3, 5), (2, 4, 8)), 32)}
    return [Row(f"training step of notebook 15's {name}, {batch} of 48x48", _step_seconds(build, True, batch),
                _step_seconds(build, False, batch), "Keras's Conv2D, tf.nn.convolution",
                note="cvlib.layers.DilatedConv2D: the same weights, equal up to float rounding")
            for name, (build, batch) in networks.items()]


@contextlib.contextmanager
def _tf_data_autotune():
    """TensorFlow's default inside the block: tf.data pipelines iterated with the autotuner on."""
    import tensorflow as tf

    untuned = tf.data.Dataset.__iter__
    tf.data.Dataset.__iter__ = untuned.__wrapped__
    try:
        yield
    finally:
        tf.data.Dataset.__iter__ = untuned


def _autotune_rows(x, y) -> list[Row]:
    """A fit epoch and a predict with Keras's tf.data pipelines iterated without and with the autotuner.

    The wait happens at some iterators' ends and not at others, so a median can hide it: these rows give the
    mean over many runs, and the note counts the runs with the autotuner that took 1.3x the median without.
    """
    model = _unet()
    fit = lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # noqa: E731
    predict = lambda: model.predict(x[:64], batch_size=64, verbose=0)  # noqa: E731
    rows = []
    for task, fn, repeat in ((f"U-Net fit, one epoch of {len(x):,} images", fit, 12),
                             ("U-Net predict, 64 images", predict, 40)):
        fn()  # traced once, outside the timing
        untuned = all_seconds(fn, repeat)
        with _tf_data_autotune():
            tuned = all_seconds(fn, repeat)
        waited = sum(t > 1.3 * statistics.median(untuned) for t in tuned)
        rows.append(Row(f"{task} (mean of {repeat})", statistics.mean(untuned), statistics.mean(tuned),
                        "tf.data autotuner on, TensorFlow's default",
                        note=f"{waited} of {repeat} runs with the autotuner waited (1.3x the median without); "
                             "cvlib.config turns it off: the same weights and predictions"))
    return rows


def _norm_step_seconds(build, loss, x, y, fused: bool, repeat: int) -> float:
    """Median seconds of one training step of ``build()``'s model, its batch norm fused (cvlib's) or Keras's."""
    from unittest import mock

    import keras

    from cvlib.layers import normalization

    norm = normalization.FusedBatchNormalization if fused else keras.layers.BatchNormalization
    with mock.patch.object(normalization, "FusedBatchNormalization", norm):  # the layer is chosen when built
        keras.utils.set_random_seed(0)
        model = build()
    return _train_step_seconds(model, loss, x, y, repeat=repeat)


def _fused_norm_rows() -> list[Row]:
    """Notebook 11's U-Net (batch 16) and notebook 15's diverse click FCN (batch 16), batch norm fused or Keras's."""
    from cvlib.losses import CrossEntropyDiceLoss
    from cvlib.losses.interactive import HindsightLoss
    from cvlib.models.interactive import build_click_fcn

    rng = np.random.default_rng(0)
    unet_x, unet_y = rng.random((16, SIZE, SIZE, 3), np.float32), rng.integers(0, CLASSES, (16, SIZE, SIZE))
    click_x = rng.random((16, 48, 48, 5), np.float32)
    click_y = (rng.random((16, 48, 48, 3)) > 0.5).astype(np.float32)
    cases = {
        f"notebook 11's U-Net, 16 of {SIZE}x{SIZE}": (
            lambda: build_unet((SIZE, SIZE, 3), CLASSES, depth=3, base_filters=16, batch_norm=True),
            CrossEntropyDiceLoss(from_logits=True), unet_x, unet_y, 40),
        "notebook 15's diverse click FCN, 16 of 48x48": (
            lambda: build_click_fcn((48, 48, 5), 2, 24), HindsightLoss(relax=0.5), click_x, click_y, 30),
    }
    return [Row(f"training step of {name}", _norm_step_seconds(build, loss, x, y, True, repeat),
                _norm_step_seconds(build, loss, x, y, False, repeat), "Keras's BatchNormalization",
                note="cvlib.layers.FusedBatchNormalization: equal to Keras's layer up to float rounding")
            for name, (build, loss, x, y, repeat) in cases.items()]


def run() -> list[Row]:
    x, y = _data(IMAGES)
    rows = _autotune_rows(x, y)
    rows.append(Row(f"U-Net epoch, {IMAGES:,} {SIZE}x{SIZE} images, batch {BATCH}", _epoch_seconds(False, x, y),
                _epoch_seconds(True, x, y), "the same with XLA, jit_compile=True",
                note="Keras's default on a CPU (oneDNN kernels, no XLA) against XLA"))
    small_x, small_y = x[:128], y[:128]
    built, lazy = _first_fit(True, small_x, small_y), _first_fit(False, small_x, small_y)
    same = all(np.array_equal(a, b) for a, b in zip(built.get_weights(), lazy.get_weights()))
    assert same, "building the optimizer before fit must not change the trained weights"
    rows.append(Row(f"first fit of a U-Net, {len(small_x)} images", median_seconds(
        lambda: _first_fit(True, small_x, small_y), repeat=3, warmup=0), median_seconds(
        lambda: _first_fit(False, small_x, small_y), repeat=3, warmup=0), "optimizer built inside fit",
        note="optimizer.build(trainable_variables) after compile: its step traced once; the same weights"))
    return rows + _fused_norm_rows() + _dilated_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
