"""cvlib.layers.IACBlock: output shapes, the weight count worked out by hand, options, saving, bad input."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from cvlib.layers import IACBlock


def test_shapes_any_size():
    block = IACBlock(16)
    assert block(np.zeros((2, 12, 10, 16), "float32")).shape == (2, 12, 10, 16)
    assert block(np.zeros((1, 7, 9, 16), "float32")).shape == (1, 7, 9, 16), "same padding, any size"
    assert IACBlock(8, residual=False)(np.zeros((1, 5, 5, 3), "float32")).shape == (1, 5, 5, 8)
    assert block.num_branches == 5, "1x1, 3x3, 5x5 and atrous rates 2 and 4"


def test_weight_count_by_hand():
    # C = 12 inputs, F = 16 filters, b = 4 branch channels; kernels 1, 3, 5 and atrous 3x3 at rates 2, 4
    block = IACBlock(16)
    block.build((None, 8, 8, 12))
    branches = 12 * 4 * (1 + 9 + 25) + 12 * 4 * 9 * 2   # 2544 kernel weights
    branch_norms = 5 * 4 * 4                           # gamma, beta, mean, variance per channel
    collation = 5 * 4 * 16 + 4 * 16                    # 1x1 over the 20 concatenated channels, and its BatchNorm
    projection = 12 * 16                               # the residual needs 12 -> 16 channels
    expected = branches + branch_norms + collation + projection
    assert block.count_params() == expected == block.num_weights(12) == 3200
    same = IACBlock(16)
    same.build((None, 8, 8, 16))
    assert same.count_params() == same.num_weights(16), "no projection when the channels already match"
    assert same.count_params() == 16 * 4 * (35 + 18) + 80 + 320 + 64
    wide = IACBlock(32, kernel_sizes=(3,), rates=(2, 4, 8), branch_filters=8, residual=False)
    wide.build((None, 8, 8, 32))
    assert wide.count_params() == 32 * 8 * 9 * 4 + 4 * 8 * 4 + 4 * 8 * 32 + 4 * 32


def test_dilation_rates_are_used():
    block = IACBlock(8, kernel_sizes=(1,), rates=(3,))
    block.build((None, 9, 9, 8))
    atrous = next(c for c in block.branch_convs if "atrous" in c.name)
    assert atrous.dilation_rate == (3, 3)
    # an impulse in the middle reaches the atrous branch's taps 3 pixels away, not the neighbours
    x = np.zeros((1, 9, 9, 8), "float32")
    x[0, 4, 4] = 1.0
    response = np.asarray(atrous(x))[0, ..., 0]
    assert response[4, 1] != 0 and response[4, 3] == 0 and response[4, 2] == 0


def test_config_and_saving(tmp_path):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, IACBlock(8, kernel_sizes=(1, 3), rates=(2,), branch_filters=3, name="iac")(inputs))
    path = tmp_path / "iac.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(restored(x)), np.asarray(model(x)), atol=1e-6)
    config = restored.get_layer("iac").get_config()
    assert config["kernel_sizes"] == [1, 3] and config["rates"] == [2] and config["branch_filters"] == 3


def test_sequential_weight_count_by_hand():
    # the lecture's order: Inception (1, 3, 5) on the C = 12 inputs, atrous 3x3 at rates 2, 4 on its 3 b = 12
    # channels, the collation over the atrous outputs only
    block = IACBlock(16, arrangement="sequential")
    block.build((None, 8, 8, 12))
    inception = 12 * 4 * (1 + 9 + 25)                  # 1680
    atrous = (3 * 4) * 4 * 9 * 2                       # 864: each rate reads all three Inception scales
    norms = 5 * 4 * 4 + 4 * 16
    collation = 2 * 4 * 16                             # 1x1 over the 8 atrous channels
    projection = 12 * 16
    assert block.count_params() == block.num_weights(12) == inception + atrous + norms + collation + projection
    for kernel_sizes, rates in (((3,), (2, 4)), ((1, 3), ()), ((), (2,))):
        lone = IACBlock(8, kernel_sizes=kernel_sizes, rates=rates, branch_filters=3, arrangement="sequential")
        lone.build((None, 8, 8, 5))
        assert lone.count_params() == lone.num_weights(5), (kernel_sizes, rates)


def test_sequential_block_sees_further_than_the_parallel_one():
    # 5x5 then rate-4 3x3 in sequence reach 2 + 4 = 6 pixels; side by side, at most 4
    x = np.zeros((1, 17, 17, 4), "float32")
    far = x.copy()
    far[0, 8, 14] = 1.0                                # 6 pixels right of the centre
    keras.utils.set_random_seed(0)
    for arrangement, reaches in (("sequential", True), ("parallel", False)):
        block = IACBlock(4, kernel_sizes=(5,), rates=(4,), branch_filters=8, residual=False, arrangement=arrangement)
        centre, centre_far = (np.asarray(block(inputs, training=False))[0, 8, 8] for inputs in (x, far))
        moved = not np.allclose(centre_far, centre)
        assert moved == reaches, arrangement


def test_sequential_shapes_and_saving(tmp_path):
    inputs = keras.Input((8, 8, 4))
    block = IACBlock(8, kernel_sizes=(1, 3), rates=(2,), branch_filters=3, arrangement="sequential", name="iac")
    model = keras.Model(inputs, block(inputs))
    assert model.output_shape == (None, 8, 8, 8)
    model.save(tmp_path / "iac.keras")
    restored = keras.models.load_model(tmp_path / "iac.keras")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(restored(x)), np.asarray(model(x)), atol=1e-6)
    assert restored.get_layer("iac").get_config()["arrangement"] == "sequential"


@pytest.mark.parametrize("kwargs, name", [
    (dict(filters=8, arrangement="serial"), "arrangement"),
    (dict(filters=0), "filters"),
    (dict(filters=8, kernel_sizes=(2,)), "kernel_sizes"),
    (dict(filters=8, rates=(0,)), "rates"),
    (dict(filters=8, kernel_sizes=(), rates=()), "kernel_sizes, rates"),
    (dict(filters=8, branch_filters=0), "branch_filters"),
    (dict(filters=8, residual="yes"), "residual"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IACBlock(**kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="inputs"):
        IACBlock(8).build((None, 8, 8))
