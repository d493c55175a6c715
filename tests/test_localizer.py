"""Localisation by regression: classifier and localiser models, the base carried over, targets, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib import losses as L
from cvlib.data.shapes import generate_scenes
from cvlib.models import localizer as M

SHAPE = (32, 32, 3)
FILTERS = (4, 8)


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    return M.build_classifier(SHAPE, num_classes=3, filters=FILTERS, hidden=16)


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE)).astype("float32")


# ------------------------------------------------------------------ models


def test_classifier_has_a_named_base_and_gives_probabilities(classifier):
    base = classifier.get_layer("base")
    assert isinstance(base, keras.Model)
    assert tuple(base.output.shape) == (None, 8, 8, FILTERS[-1]), "two 2x poolings of a 32-pixel image"
    p = np.asarray(classifier(images(5)))
    assert p.shape == (5, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_to_localizer_starts_from_a_copy_of_the_classifier_base(classifier):
    loc = M.to_localizer(classifier, hidden=16)
    base, copied = classifier.get_layer("base"), loc.get_layer("base")
    assert copied is not base
    for a, b in zip(base.get_weights(), copied.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Training the localiser must leave the classifier as it was.
    before = [w.copy() for w in base.get_weights()]
    loc.compile(optimizer=keras.optimizers.Adam(1e-2), loss=L.L2BoxLoss())
    loc.fit(images(16), np.tile([[0.1, 0.2, 0.6, 0.9]], (16, 1)).astype("float32"), epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, copied.get_weights())), "the copy is fine-tuned"
    for a, b in zip(before, base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_localizer_predicts_the_central_box_first_and_stays_inside_the_image(classifier):
    loc = M.to_localizer(classifier, hidden=16)
    out = np.asarray(loc(images(4)))
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out, np.tile([0.25, 0.25, 0.75, 0.75], (4, 1)), atol=1e-6)
    linear = M.to_localizer(classifier, hidden=16, activation="linear")
    np.testing.assert_allclose(np.asarray(linear(images(2))), np.tile([0.25, 0.25, 0.75, 0.75], (2, 1)), atol=1e-6)


def test_scratch_localizer_has_the_same_architecture(classifier):
    tuned = M.to_localizer(classifier, hidden=16)
    scratch = M.build_localizer(input_shape=SHAPE, filters=FILTERS, hidden=16)
    assert tuned.count_params() == scratch.count_params()
    assert [w.shape for w in tuned.weights] == [w.shape for w in scratch.weights]
    differs = [not np.array_equal(a, b) for a, b in zip(tuned.get_layer("base").get_weights(),
                                                        scratch.get_layer("base").get_weights())]
    assert any(differs), "the scratch base has its own random weights"


def test_frozen_base_trains_only_the_head(classifier):
    loc = M.to_localizer(classifier, hidden=16, train_base=False)
    head = loc.get_layer("box_hidden").count_params() + loc.get_layer("box").count_params()
    assert sum(int(np.prod(w.shape)) for w in loc.trainable_weights) == head


def test_localizer_learns_a_box():
    """A few epochs on 200 scenes of one large object must beat the constant central box."""
    keras.utils.set_random_seed(0)
    scenes = generate_scenes(200, 32, 1, 1, object_size=(0.4, 0.8), background="plain", seed=3)
    _, boxes = M.single_object_targets(scenes)
    loc = M.build_localizer(input_shape=SHAPE, filters=(8, 16), hidden=32)
    loc.compile(optimizer=keras.optimizers.Adam(3e-3), loss=L.L2BoxLoss())
    start = float(np.mean(np.asarray(L.paired_iou(boxes, np.asarray(loc(scenes.images))))))
    loc.fit(scenes.images, boxes, epochs=15, batch_size=20, verbose=0)
    end = float(np.mean(np.asarray(L.paired_iou(boxes, loc.predict(scenes.images, verbose=0)))))
    assert end > start + 0.15, f"mean IoU went from {start:.3f} to {end:.3f}"


def test_localizer_saves_and_loads_as_keras(classifier, tmp_path):
    loc = M.to_localizer(classifier, hidden=16)
    loc.compile(optimizer="adam", loss=L.GIoULoss(), metrics=[L.paired_iou])
    x = images(8, seed=1)
    loc.fit(x, np.tile([[0.1, 0.1, 0.5, 0.7]], (8, 1)).astype("float32"), epochs=1, verbose=0)
    loc.save(tmp_path / "localizer.keras")
    loaded = keras.models.load_model(tmp_path / "localizer.keras")
    assert isinstance(loaded.loss, L.GIoULoss)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(loc(x)), atol=1e-6)


# ------------------------------------------------------------------ targets


def test_single_object_targets_normalise_the_scene_boxes():
    scenes = generate_scenes(6, 48, 1, 1, seed=0)
    labels, boxes = M.single_object_targets(scenes)
    assert labels.dtype == np.int32 and boxes.dtype == np.float32 and boxes.shape == (6, 4)
    np.testing.assert_array_equal(labels, [t["labels"][0] for t in scenes.targets])
    np.testing.assert_allclose(M.denormalize_boxes(boxes, 48), np.concatenate([t["boxes"] for t in scenes.targets]),
                               atol=1e-4)
    assert (boxes >= 0).all() and (boxes <= 1).all()


def test_single_object_targets_rejects_other_counts():
    with pytest.raises(ValueError, match=r"scenes: image .* holds 0 objects"):
        M.single_object_targets(generate_scenes(3, 32, 0, 0, seed=0))
    with pytest.raises(ValueError, match=r"scenes: image .* holds 2 objects"):
        M.single_object_targets(generate_scenes(3, 32, 2, 2, seed=0))
    with pytest.raises(ValueError, match=r"scenes: expected a cvlib\.data\.shapes\.Scenes"):
        M.single_object_targets(np.zeros((3, 32, 32, 3)))
    labels, boxes = M.single_object_targets(generate_scenes(0, 32, 1, 1))
    assert labels.shape == (0,) and boxes.shape == (0, 4)


def test_normalize_boxes_rectangular_images_and_documented_edge_cases():
    b = np.array([[0, 0, 40, 20], [10, 5, 10, 5]])  # the second has zero area: accepted
    out = M.normalize_boxes(b, (20, 40, 3))
    np.testing.assert_allclose(out, [[0, 0, 1, 1], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(M.denormalize_boxes(out, (20, 40)), b)
    with pytest.raises(ValueError, match=r"boxes: box 0 .* outside the 20 x 40 image; clip it"):
        M.normalize_boxes([[-1, 0, 10, 10]], (20, 40))
    with pytest.raises(ValueError, match=r"boxes: box .* negative width"):
        M.normalize_boxes([[10, 0, 5, 10]], 64)
    with pytest.raises(ValueError, match="image_size"):
        M.normalize_boxes([[0, 0, 5, 5]], 0)
    with pytest.raises(ValueError, match="boxes: contains NaN"):
        M.denormalize_boxes([[np.nan, 0, 1, 1]], 64)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.build_base((8, 8, 3), filters=(4, 4, 4, 4)), "input_shape: .* too small"),
        (lambda: M.build_base((32, 32)), "input_shape: expected"),
        (lambda: M.build_base(SHAPE, filters=()), "filters"),
        (lambda: M.build_base(SHAPE, filters=(4, 0)), "filters"),
        (lambda: M.build_base(SHAPE, bn_momentum=1.5), "bn_momentum"),
        (lambda: M.build_classifier(SHAPE, num_classes=0), "num_classes"),
        (lambda: M.build_classifier(SHAPE, dropout=1.0), "dropout"),
        (lambda: M.build_localizer(), "input_shape: give it"),
        (lambda: M.build_localizer(input_shape=SHAPE, activation="relu"), "activation"),
        (lambda: M.build_localizer(input_shape=SHAPE, hidden=0), "hidden"),
        (lambda: M.build_localizer(input_shape=SHAPE, train_base="yes"), "train_base"),
        (lambda: M.build_localizer(base="vgg16"), "base: expected a keras.Model"),
        (lambda: M.to_localizer("classifier"), "classifier: expected a keras.Model"),
        (lambda: M.to_localizer(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])), "no layer named 'base'"),
    ],
)
def test_bad_arguments_raise_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_base_and_input_shape_must_agree(classifier):
    with pytest.raises(ValueError, match=r"input_shape: .* differs"):
        M.build_localizer(classifier.get_layer("base"), input_shape=(64, 64, 3))
