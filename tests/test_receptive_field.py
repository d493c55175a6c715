"""cvlib.receptive_field: closed forms on hand-computed cases, analytic == measured, published values, bad input."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvlib import receptive_field as rf

L = keras.layers


def seq(size, *layers, channels=1):
    return keras.Sequential([keras.Input((*size, channels)), *layers])


def last(fields):
    return fields.rows[-1]


# ---------------------------------------------------------------- closed forms, computed by hand


def test_ten_stacked_3x3_see_21():
    fields = rf.compute(seq((32, 32), *[L.Conv2D(2, 3, activation="relu") for _ in range(10)]))
    assert [f.size[0] for f in fields.rows] == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert last(fields).jump == (1, 1) and last(fields).start == (0, 0)


def test_same_padding_stride_one_centres_the_field():
    f = last(rf.compute(seq((32, 32), *[L.Conv2D(2, 3, padding="same") for _ in range(10)])))
    assert f.size == (21, 21) and f.start == (-10, -10) and f.center == (0.0, 0.0)


def test_strided():
    # r: 1 -> 3 -> 3 + 2*2 = 7 -> 7 + 2*4 = 15; jumps 2, 4, 4
    fields = rf.compute(seq((33, 33), L.Conv2D(1, 3, strides=2), L.Conv2D(1, 3, strides=2), L.Conv2D(1, 3)))
    assert [(f.size[0], f.jump[0]) for f in fields.rows[1:]] == [(3, 2), (7, 4), (15, 4)]


def test_dilated():
    # k' = d (k - 1) + 1: 3, 5, 9 -> 3, 3 + 4 = 7, 7 + 8 = 15 (Yu & Koltun's exponential growth)
    fields = rf.compute(seq((40, 40), *[L.Conv2D(1, 3, dilation_rate=d) for d in (1, 2, 4)]))
    assert [f.size[0] for f in fields.rows[1:]] == [3, 7, 15]


def test_non_square_kernel_stride_and_dilation():
    f = last(rf.compute(seq((40, 40), L.Conv2D(1, (3, 5), dilation_rate=(1, 2)), L.Conv2D(1, (1, 3), strides=(2, 1)))))
    # rows: 3 then 3 + 0 = 3; columns: k' = 2*4 + 1 = 9, then 9 + 2 = 11
    assert f.size == (3, 11) and f.jump == (2, 1)


def test_pooled():
    # conv3 (3, j1), pool2 (4, j2), conv3 (4 + 2*2 = 8, j2), pool3/s2 (8 + 2*2 = 12, j4)
    fields = rf.compute(seq((32, 32), L.Conv2D(1, 3), L.MaxPooling2D(2), L.Conv2D(1, 3),
                            L.AveragePooling2D(3, strides=2)))
    assert [(f.size[0], f.jump[0]) for f in fields.rows[1:]] == [(3, 1), (4, 2), (8, 2), (12, 4)]


@pytest.mark.parametrize(("n", "start"), [(8, 0), (9, -1)])
def test_strided_same_padding_offset_depends_on_input_size(n, start):
    # TF pads max((ceil(n/s) - 1) s + k - n, 0), half of it (rounded down) before:
    # n = 8: (4 - 1) * 2 + 3 - 8 = 1 -> 0 before;  n = 9: (5 - 1) * 2 + 3 - 9 = 2 -> 1 before.
    model = seq((n, n), L.Conv2D(1, 3, strides=2, padding="same"))
    f = last(rf.compute(model))
    assert f.start == (start, start) and f.pad == (-start, -start) and f.output_size == (-(-n // 2),) * 2
    m = rf.measure(model, model.layers[-1].name, position=(0, 0))
    assert m.box == f.box((0, 0), clip_to=(n, n))


def test_padding_and_cropping_shift_the_field():
    fields = rf.compute(seq((20, 20), L.ZeroPadding2D(((2, 0), (3, 1))), L.Conv2D(1, 3, strides=2),
                            L.Cropping2D(((1, 0), (0, 2))), L.Conv2D(1, 3)))
    pad, conv, crop, conv2 = fields.rows[1:]
    assert pad.start == (-2, -3) and pad.output_size == (22, 24)
    assert conv.start == (-2, -3) and conv.jump == (2, 2)
    assert crop.start == (0, -3) and crop.output_size == (9, 9)
    assert conv2.size == (7, 7) and conv2.start == (0, -3)


def test_depthwise_and_separable():
    fields = rf.compute(seq((32, 32), L.DepthwiseConv2D(5, dilation_rate=2),
                            L.SeparableConv2D(2, 3, strides=2), channels=3))
    assert [f.size[0] for f in fields.rows[1:]] == [9, 11] and last(fields).jump == (2, 2)


def test_global_pooling_covers_every_unit_below():
    fields = rf.compute(seq((16, 16), L.Conv2D(2, 3, strides=2, padding="same"), L.GlobalAveragePooling2D(),
                            L.Dense(3)))
    gap = fields.rows[2]
    # 8 units, jump 2, each 3 wide, the first starting at 0: 3 + 7 * 2 = 17 pixels from 0 to 16
    assert gap.size == (17, 17) and gap.start == (0, 0) and "global" in gap.note
    assert fields.rows[3].size == (17, 17)


def test_merges_report_the_largest_and_say_so():
    x = keras.Input((24, 24, 1))
    a = L.Conv2D(2, 1, name="one")(x)
    b = L.Conv2D(2, 3, padding="same", name="three")(x)
    c = L.Conv2D(2, 3, padding="same", dilation_rate=4, name="nine")(x)
    cat = L.Concatenate(name="cat")([a, b, c])
    res = L.Add(name="res")([L.Conv2D(6, 3, padding="same")(cat), cat])
    fields = rf.compute(keras.Model(x, res))
    assert fields["cat"].size == (9, 9) and fields["cat"].paths_disagree
    assert "1, 3, 9" in fields["cat"].note and "largest" in fields["cat"].note
    assert fields["res"].size == (11, 11) and fields["res"].paths_disagree


def test_nested_sequential_block():
    block = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(1, 3), L.Conv2D(1, 3)], name="block")
    x = keras.Input((20, 20, 1))
    model = keras.Model(x, L.Conv2D(1, 3, name="head")(block(x)))
    fields = rf.compute(model)
    assert fields["head"].size == (7, 7) and fields["block/" + block.layers[-1].name].size == (5, 5)


def test_layer_restricts_the_walk_to_what_feeds_it():
    model = seq((16, 16), L.Conv2D(1, 3, name="c"), L.Flatten(name="flat"), L.Dense(2))
    assert rf.compute(model, layer="c")["c"].size == (3, 3)


def test_unknown_input_size_needs_input_size_only_when_it_matters():
    stride_one = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(1, 3, padding="same")])
    assert last(rf.compute(stride_one)).start == (-1, -1)
    strided = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(1, 3, strides=2, padding="same")])
    with pytest.raises(ValueError, match="input_size"):
        rf.compute(strided)
    assert last(rf.compute(strided, input_size=(9, 9))).start == (-1, -1)


def test_field_box():
    f = rf.Field("x", "Conv2D", size=(5, 7), jump=(2, 3), start=(-2, -3))
    assert f.box((1, 2)) == (0, 3, 4, 9)
    assert f.box((0, 0), clip_to=(10, 10)) == (0, 0, 2, 3)
    assert f.center == (0.0, 0.0)


# ---------------------------------------------------------------- analytic == measured


def _suite():
    def stacked():
        return seq((48, 48), *[L.Conv2D(2, 3, activation="relu") for _ in range(10)])

    def strided():
        return seq((64, 64), L.Conv2D(3, 5, strides=2, padding="same", activation="relu"),
                   L.Conv2D(3, 3, strides=2), L.Conv2D(3, (3, 1), padding="same"), channels=3)

    def dilated():
        return seq((64, 64), *[L.Conv2D(2, 3, dilation_rate=d, padding="same", activation="relu")
                               for d in (1, 2, 4, 8)])

    def pooled():
        return seq((64, 64), L.Conv2D(2, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(2),
                   L.Conv2D(2, 3), L.MaxPooling2D(3, strides=2, padding="same"), L.DepthwiseConv2D(3),
                   L.Dropout(0.5), L.SeparableConv2D(2, 3, dilation_rate=2))

    def residual():
        x = keras.Input((48, 48, 1))
        y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
        for _ in range(2):
            z = L.Conv2D(4, 3, padding="same", activation="relu")(y)
            z = L.Conv2D(4, 3, padding="same")(z)
            y = L.Activation("relu")(L.Add()([y, z]))
        return keras.Model(x, L.Conv2D(4, 3, strides=2)(y))

    def branches():
        x = keras.Input((40, 40, 1))
        a = L.Conv2D(2, 1)(x)
        b = L.Conv2D(2, 5, padding="same")(x)
        c = L.MaxPooling2D(3, strides=1, padding="same")(L.Conv2D(2, 3, padding="same", dilation_rate=3)(x))
        y = L.Concatenate()([a, b, c])
        y = L.Multiply()([y, L.Conv2D(6, 3, padding="same", activation="sigmoid")(y)])
        return keras.Model(x, L.Conv2D(2, 3, padding="valid")(y))

    return {f.__name__: f for f in (stacked, strided, dilated, pooled, residual, branches)}


SUITE = _suite()


@pytest.mark.parametrize("name", list(SUITE))
def test_analytic_equals_measured(name):
    keras.utils.set_random_seed(0)
    model = SUITE[name]()
    fields = rf.compute(model)
    for f in fields.rows[1:]:
        m = rf.measure(model, f.name)
        assert m.box == f.box(m.position), f"{name}/{f.name}: measured {m.box}, computed {f.box(m.position)}"
        assert m.size == f.size and not m.touches_border, f"{name}/{f.name}: the suite keeps centre fields inside"


def test_measure_sees_through_dead_relus_and_max_pooling():
    model = seq((24, 24), L.Conv2D(2, 3, activation="relu", bias_initializer=keras.initializers.Constant(-1e3)),
                L.MaxPooling2D(2), L.Conv2D(2, 3, activation="relu"))
    m = rf.measure(model, model.layers[-1].name)
    assert m.size == (8, 8) and m.density == 1.0


def test_dilation_leaves_holes_but_the_same_box():
    model = seq((16, 16), L.Conv2D(1, 3, dilation_rate=3))
    m = rf.measure(model, model.layers[-1].name)
    assert m.size == (7, 7) and np.isclose(m.density, 9 / 49)


def test_measure_one_channel_of_a_concatenation():
    x = keras.Input((20, 20, 1))
    y = L.Concatenate()([L.Conv2D(1, 1)(x), L.Conv2D(1, 5, padding="same")(x)])
    model = keras.Model(x, y)
    name = model.layers[-1].name
    assert rf.measure(model, name, channel=0).size == (1, 1)
    assert rf.measure(model, name, channel=1).size == (5, 5)
    assert rf.measure(model, name).size == (5, 5) == rf.compute(model)[name].size


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["conv", "pool"]), st.integers(1, 4), st.integers(1, 2),
                          st.integers(1, 3), st.sampled_from(["same", "valid"])), min_size=1, max_size=4),
       st.integers(20, 31))
def test_random_stacks_analytic_equals_measured(spec, n):
    layers = []
    for kind, k, s, d, padding in spec:
        if kind == "pool" or s > 1:
            d = 1  # Keras forbids stride and dilation together
        layers.append(L.Conv2D(1, k, strides=s, dilation_rate=d, padding=padding) if kind == "conv"
                      else L.MaxPooling2D(k, strides=s, padding=padding))
    try:
        model = seq((n, n), *layers)
    except ValueError as error:  # Keras refuses a stack that shrinks the map to nothing while it builds it
        assert "would be zero or negative" in str(error), error
        return
    try:
        fields = rf.compute(model)
    except ValueError:
        return  # the stack shrank the map below its window
    f = last(fields)
    # the first unit whose whole field lies inside the image (a clipped dilated field may begin with a hole)
    p = max(0, -(f.start[0] // f.jump[0]))
    if p >= f.output_size[0] or f.box((p, p))[2] > n - 1:
        return
    m = rf.measure(model, model.layers[-1].name, position=(p, p))
    assert m.box == f.box((p, p)) and m.size == f.size


# ---------------------------------------------------------------- real architectures vs published values

# Published values: Araujo, Norris & Sim, "Computing receptive fields of convolutional neural networks",
# Distill 2019, and its table of TF-Slim models (github.com/google-research/receptive_field,
# RECEPTIVE_FIELD_TABLE.md): vgg_16 pool5 212 (stride 32, effective padding 90; conv5_3 is 212 - 16 = 196),
# resnet_v1_50 block4 483 (stride 32), mobilenet_v1 Conv2d_13_pointwise 315 (stride 32, padding 126),
# inception_v3 Mixed_7c 1311 (stride 32). Keras builds these networks slightly differently from TF-Slim
# (ResNet50 puts the stride on the first 1x1 convolution of a stage, Slim on the last 3x3), which leaves
# the sizes unchanged; the only offset that differs is ResNet50's: Keras pads 1 pixel before the stem's
# 3x3 max pooling (start -241), Slim uses 'SAME' pooling that pads 0 before it at 224 (239).
APPLICATIONS = [
    ("VGG16", "block5_conv3", 196, 16, -90),
    ("VGG16", "block5_pool", 212, 32, -90),
    ("ResNet50", "conv5_block3_out", 483, 32, -241),
    ("MobileNet", "conv_pw_13_relu", 315, 32, -126),
    ("InceptionV3", "mixed10", 1311, 32, -618),
]


@pytest.fixture(scope="module")
def applications():
    built = {}

    def get(name):
        if name not in built:
            built[name] = getattr(keras.applications, name)(weights=None, include_top=False)
        return built[name]

    return get


@pytest.mark.parametrize(("net", "layer", "size", "jump", "start"), APPLICATIONS)
def test_published_receptive_fields(applications, net, layer, size, jump, start):
    f = rf.compute(applications(net), layer=layer, input_size=(224, 224) if net != "InceptionV3" else (299, 299))[layer]
    assert (f.size, f.jump, f.start) == ((size, size), (jump, jump), (start, start))


def test_vgg16_block4_pool_measured(applications):
    vgg = applications("VGG16")
    m = rf.measure(vgg, "block4_pool", input_size=(112, 112))
    f = rf.compute(vgg, layer="block4_pool", input_size=(112, 112))["block4_pool"]
    assert m.size == f.size == (100, 100) and m.box == f.box(m.position)


# ---------------------------------------------------------------- effective receptive field


def test_effective_field_of_uniform_linear_stack_is_binomial():
    def make():
        return seq((41, 41), *[L.Conv2D(1, 3, use_bias=False, kernel_initializer="ones") for _ in range(8)])

    erf = rf.effective_receptive_field(make, num_samples=2, batch_size=2)
    # the gradient is the 8-fold convolution of a 3-tap box: variance 8 * 2/3 per axis
    assert np.allclose(erf.sigma, np.sqrt(8 * 2 / 3)) and np.allclose(erf.center, (20, 20))
    assert erf.gaussian_overlap() > 0.97 and erf.extent(1.0) == 17


# ---------------------------------------------------------------- bad input


class Shift(keras.layers.Layer):
    def call(self, x):
        return keras.ops.roll(x, 1, axis=1)


@pytest.mark.parametrize(("layer", "name"), [
    (L.Flatten(name="flat"), "flat"),
    (L.Reshape((16, 16, 1), name="reshape_it"), "reshape_it"),
    (Shift(name="my_shift"), "my_shift"),
    (L.UpSampling2D(name="up"), "up"),
    (L.Conv2DTranspose(1, 3, name="deconv"), "deconv"),
    (L.Lambda(lambda t: t, name="lam"), "lam"),
])
def test_unknown_layers_are_named(layer, name):
    model = seq((16, 16), L.Conv2D(1, 3, padding="same"), layer)
    with pytest.raises(ValueError, match=f"'{name}'"):
        rf.compute(model)


def test_subclass_overriding_call_is_unknown():
    class Weird(L.Conv2D):
        def call(self, x):
            return super().call(keras.ops.flip(x, axis=1))

    with pytest.raises(ValueError, match="'weird'"):
        rf.compute(seq((8, 8), Weird(1, 3, name="weird")))


def test_measure_bad_layer_name_lists_the_valid_ones():
    model = seq((8, 8), L.Conv2D(1, 3, name="only_conv"))
    with pytest.raises(ValueError, match=r"'nope' is not a layer.*only_conv"):
        rf.measure(model, "nope")
    with pytest.raises(ValueError, match="'nope' is not a layer"):
        rf.compute(model, layer="nope")


def test_measure_bad_position_and_channel():
    model = seq((8, 8), L.Conv2D(2, 3, name="c"))
    with pytest.raises(ValueError, match="position"):
        rf.measure(model, "c", position=(6, 0))
    with pytest.raises(ValueError, match="channel"):
        rf.measure(model, "c", channel=2)


def test_bad_models():
    with pytest.raises(ValueError, match="model"):
        rf.compute("vgg")
    with pytest.raises(ValueError, match="Input"):
        rf.compute(keras.Sequential([L.Conv2D(1, 3)]))
    with pytest.raises(ValueError, match="input_size"):
        rf.compute(seq((8, 8), L.Conv2D(1, 3)), input_size=(9, 9))


def _raise_jumps():
    x = keras.Input((16, 16, 1))
    a = L.Conv2D(1, 3, strides=2, padding="same")(x)   # 8x8, jump 2
    b = L.Conv2D(1, 3, padding="same")(x)              # 16x16, jump 1 ...
    b = L.Cropping2D(((0, 8), (0, 8)))(b)              # ... cropped to 8x8: same shape, different jump
    rf.compute(keras.Model(x, L.Add()([a, b])))


def test_different_jumps_are_refused():
    with pytest.raises(ValueError, match="different jumps"):
        _raise_jumps()


# ---------------------------------------------------------------- volumes and signals: the same rules, axis by axis


def test_the_3d_cnn_of_notebook_06_sees_38_voxels_with_its_pooling_counted():
    from cvlib.models import cnn3d

    model = cnn3d.build_cnn3d((64, 64, 32, 1), filters=(2, 2, 2, 2), dense=4)
    fields = rf.compute(model)
    # conv, pool, conv, pool, conv, pool, conv: 1 -> 3 -> 4 -> 8 -> 10 -> 18 -> 22 -> 38
    assert [fields[n].size[0] for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "last_conv")] == [
        3, 4, 8, 10, 18, 22, 38]
    assert fields["last_conv"].size == (38, 38, 38) and fields["last_conv"].jump == (8, 8, 8)
    assert fields["gap"].output_size is None and fields["abnormal"].size == fields["gap"].size


def test_a_3d_field_computed_equals_the_measured_one_with_anisotropic_kernels():
    model = seq((24, 26, 20), L.Conv3D(2, (3, 5, 1), padding="same", name="a"), L.MaxPooling3D((2, 2, 1), name="p"),
                L.Conv3D(2, 3, dilation_rate=(1, 2, 2), name="b"), L.ReLU(), L.Conv3D(1, (1, 3, 3), strides=2,
                                                                                    padding="same", name="c"))
    fields = rf.compute(model)
    for name in ("a", "p", "b", "c"):
        measured = rf.measure(model, name)
        assert not measured.touches_border
        assert measured.size == fields[name].size, name
        # the box of the unit measured, as the closed form places it
        assert measured.box == fields[name].box(measured.position), name
    # per axis: a (3, 5, 1); pool (2, 2, 1) -> (4, 6, 1), jump (2, 2, 1); b, dilated to (3, 5, 5) -> (8, 14, 5);
    # c, (1, 3, 3) -> (8, 18, 7)
    assert fields["c"].size == (8, 18, 7) and fields["c"].jump == (4, 4, 2)


def test_a_1d_field_computed_equals_the_measured_one():
    model = seq((64,), L.Conv1D(2, 5, name="a"), L.AveragePooling1D(3, name="p"), L.ZeroPadding1D((2, 1), name="z"),
                L.SeparableConv1D(2, 3, dilation_rate=2, name="b"), L.Cropping1D((1, 0), name="c"),
                L.Conv1D(1, 3, strides=2, name="d"))
    fields = rf.compute(model)
    assert fields["d"].size == (5 + 2 + 2 * 2 * 3 + 2 * 3,)
    for name in ("a", "p", "b", "d"):
        measured = rf.measure(model, name)
        assert measured.size == fields[name].size and measured.box == fields[name].box(measured.position), name


def test_volume_positions_and_sizes_need_three_values():
    model = seq((8, 8, 8), L.Conv3D(1, 3, name="a"))
    with pytest.raises(ValueError, match="3 indices"):
        rf.measure(model, "a", position=(1, 1))
    with pytest.raises(ValueError, match="3 positive integers"):
        rf.compute(seq((None, None, None), L.Conv3D(1, 3, strides=2, padding="same")), input_size=(8, 8))
    with pytest.raises(ValueError, match="3 indices"):
        rf.compute(model)["a"].box((0, 0))
