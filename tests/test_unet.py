"""U-Net: output shapes for both paddings, the valid-padding geometry and skip crops, the ablation, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.losses import CrossEntropyDiceLoss
from cvlib.models.unet import build_unet, unet_geometry, valid_input_sizes


def _layer_size(model, name):
    return tuple(model.get_layer(name).output.shape[1:3])


# --------------------------------------------------------------------------- geometry


def test_paper_geometry_572_to_388():
    g = unet_geometry(572, depth=4)
    assert g.output_size == 388
    assert g.encoder_sizes == (568, 280, 136, 64)  # Fig. 1 of the paper
    assert g.bottleneck_size == 28
    assert g.upsampled_sizes == (392, 200, 104, 56)
    assert g.decoder_sizes == (388, 196, 100, 52)
    assert g.crops == (88, 40, 16, 4)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_crops_make_skip_and_upsampled_maps_agree(depth):
    for size in valid_input_sizes(depth, high=400)[:6]:
        g = unet_geometry(size, depth)
        for level in range(depth):
            assert g.encoder_sizes[level] - 2 * g.crops[level] == g.upsampled_sizes[level]
            assert g.crops[level] >= 0
        # each level: two 3x3 valid convolutions lose 4 pixels, pooling halves, up-convolution doubles
        assert g.encoder_sizes[0] == size - 4
        assert g.bottleneck_size == g.encoder_sizes[-1] // 2 - 4
        assert g.output_size == g.upsampled_sizes[0] - 4


def test_valid_input_sizes_are_exactly_the_legal_ones():
    legal = valid_input_sizes(4, high=700)
    assert 572 in legal and np.all(np.diff(legal) == 16)
    for size in range(100, 700):
        if size in legal:
            unet_geometry(size, 4)
        else:
            with pytest.raises(ValueError, match="input_size"):
                unet_geometry(size, 4)


def test_illegal_size_error_names_the_nearest_legal_sizes():
    with pytest.raises(ValueError, match=r"input_size: 570 is not legal.*\[556, 572\]"):
        unet_geometry(570, depth=4)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*depth = 8.*\[56, 64\]"):
        unet_geometry(60, depth=3, padding="same")


def test_same_geometry_only_halves_and_doubles():
    g = unet_geometry(96, depth=3, padding="same")
    assert g.output_size == 96 and g.encoder_sizes == (96, 48, 24) and g.bottleneck_size == 12
    assert g.crops == (0, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_size": 0}, "input_size"),
        ({"input_size": 572, "depth": 0}, "depth"),
        ({"input_size": 572, "padding": "full"}, "padding"),
        ({"input_size": 572.0}, "input_size"),
    ],
)
def test_geometry_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet_geometry(**kwargs)


# --------------------------------------------------------------------------- the model


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_same_padding_keeps_the_input_size(depth):
    size = 2**depth * 3
    model = build_unet((size, size + 2**depth, 3), num_classes=5, depth=depth, base_filters=4)
    out = model(np.zeros((2, size, size + 2**depth, 3), "float32"))
    assert tuple(out.shape) == (2, size, size + 2**depth, 5)
    assert _layer_size(model, "bottleneck_relu2") == (size // 2**depth, (size + 2**depth) // 2**depth)


def test_same_padding_with_unknown_size_runs_on_any_divisible_size():
    model = build_unet((None, None, 2), num_classes=1, depth=2, base_filters=4)
    for h, w in [(16, 16), (24, 40)]:
        assert tuple(model(np.zeros((1, h, w, 2), "float32")).shape) == (1, h, w, 1)


@pytest.mark.parametrize(("size", "depth"), [(188, 4), (92, 3), (44, 2), (20, 1)])
def test_valid_padding_output_and_crop_layers_follow_the_geometry(size, depth):
    g = unet_geometry(size, depth)
    model = build_unet((size, size, 1), num_classes=2, depth=depth, base_filters=2, padding="valid")
    assert model.output_shape == (None, g.output_size, g.output_size, 2)
    for level in range(depth):
        assert _layer_size(model, f"enc{level}_relu2") == (g.encoder_sizes[level],) * 2
        assert _layer_size(model, f"crop{level}") == (g.upsampled_sizes[level],) * 2
        assert _layer_size(model, f"dec{level}_relu2") == (g.decoder_sizes[level],) * 2
    out = model(np.zeros((1, size, size, 1), "float32"))
    assert tuple(out.shape) == (1, g.output_size, g.output_size, 2)


def test_valid_padding_skip_crop_takes_the_centre():
    """The crop keeps the centre of the skip: with a 1-level U-Net, check one cropped map against NumPy."""
    model = build_unet((20, 20, 1), num_classes=1, depth=1, base_filters=1, padding="valid")
    probe = keras.Model(model.input, [model.get_layer("enc0_relu2").output, model.get_layer("crop0").output])
    x = np.random.default_rng(0).normal(size=(1, 20, 20, 1)).astype("float32")
    skip, cropped = (np.asarray(t) for t in probe(x))
    c = unet_geometry(20, 1).crops[0]
    assert c > 0
    assert np.array_equal(cropped, skip[:, c:-c, c:-c])


def test_paper_model_channels_and_parameters():
    model = build_unet((572, 572, 1), num_classes=2, depth=4, base_filters=64, padding="valid")
    assert model.output_shape == (None, 388, 388, 2)
    assert model.get_layer("bottleneck_conv2").filters == 1024
    assert model.get_layer("skip3").output.shape[-1] == 1024  # 512 from the skip + 512 up-sampled

    # count the weights level by level: conv k*k*in*out + out, up-convolution 2*2*in*out + out
    def conv(k, cin, cout):
        return k * k * cin * cout + cout

    expected, cin = 0, 1
    for level in range(5):
        f = 64 * 2**level
        expected += conv(3, cin, f) + conv(3, f, f)
        cin = f
    for level in reversed(range(4)):
        f = 64 * 2**level
        expected += conv(2, 2 * f, f) + conv(3, 2 * f, f) + conv(3, f, f)
    expected += conv(1, 64, 2)
    assert model.count_params() == expected


def test_no_dense_layers_and_the_ablation_has_no_concatenation():
    with_skips = build_unet((32, 32, 3), 4, depth=3, base_filters=4)
    without = build_unet((32, 32, 3), 4, depth=3, base_filters=4, skip_connections=False)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in with_skips.layers)
    assert sum(isinstance(layer, keras.layers.Concatenate) for layer in with_skips.layers) == 3
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in without.layers)
    assert without.output_shape == with_skips.output_shape
    assert without.count_params() < with_skips.count_params()


def test_batch_norm_dropout_and_activation_options():
    model = build_unet((16, 16, 3), 3, depth=2, base_filters=4, batch_norm=True, dropout=0.5, activation="softmax")
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert model.get_layer("bottleneck_dropout").rate == 0.5
    out = np.asarray(model(np.random.default_rng(1).random((2, 16, 16, 3)).astype("float32")))
    assert np.allclose(out.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (64, 64)}, "input_shape"),
        ({"input_shape": (64, 64, 0)}, "input_shape"),
        ({"input_shape": (60, 64, 3)}, "height"),
        ({"input_shape": (64, 60, 3)}, "width"),
        ({"input_shape": (None, None, 3), "padding": "valid"}, "fixed height"),
        ({"input_shape": (570, 572, 1), "padding": "valid"}, "height"),
        ({"num_classes": 0}, "num_classes"),
        ({"depth": 0}, "depth"),
        ({"base_filters": 2.5}, "base_filters"),
        ({"padding": "reflect"}, "padding"),
        ({"skip_connections": "yes"}, "skip_connections"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_build_unet_bad_arguments(kwargs, match):
    args = {"input_shape": (64, 64, 3), "num_classes": 3, "depth": 3, "base_filters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_unet(**args)


def test_save_and_load_keras_with_the_segmentation_loss(tmp_path):
    model = build_unet((16, 16, 3), 4, depth=2, base_filters=4, batch_norm=True)
    model.compile(optimizer="adam", loss=CrossEntropyDiceLoss(from_logits=True, dice_weight=0.5))
    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 4, (4, 16, 16))
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert isinstance(loaded.loss, CrossEntropyDiceLoss) and loaded.loss.dice_weight == 0.5
    assert np.isclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5)
