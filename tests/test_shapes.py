"""Tests of cvlib.data.shapes: the seeded synthetic scene generator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from cvlib.data import shapes
from cvlib.data.shapes import BACKGROUNDS, CLASS_NAMES, Scenes, generate_scenes, instance_map, semantic_map


@pytest.fixture(scope="module")
def scenes() -> Scenes:
    return generate_scenes(300, 64, seed=0)


def assert_scenes_equal(a: Scenes, b: Scenes) -> None:
    assert np.array_equal(a.images, b.images)
    assert len(a.targets) == len(b.targets)
    for ta, tb in zip(a.targets, b.targets):
        for key in ("boxes", "labels", "masks"):
            assert np.array_equal(ta[key], tb[key]), key


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_scenes():
    assert_scenes_equal(generate_scenes(8, 48, seed=3), generate_scenes(8, 48, seed=3))


def test_a_short_set_is_a_prefix_of_a_long_one():
    assert_scenes_equal(generate_scenes(30, 48, seed=5)[:10], generate_scenes(10, 48, seed=5))


def test_different_seeds_give_different_scenes():
    a, b = generate_scenes(5, 48, seed=1), generate_scenes(5, 48, seed=2)
    assert all(not np.array_equal(x, y) for x, y in zip(a.images, b.images))


# --------------------------------------------------------------------------- structure


def test_shapes_and_dtypes(scenes):
    assert scenes.images.shape == (300, 64, 64, 3) and scenes.images.dtype == np.uint8
    assert len(scenes) == 300 and scenes.image_size == (64, 64)
    assert scenes.class_names == CLASS_NAMES
    for t in scenes.targets:
        k = len(t["labels"])
        assert 1 <= k <= 4
        assert t["boxes"].shape == (k, 4) and t["boxes"].dtype == np.float32
        assert t["labels"].dtype == np.int32 and t["labels"].min() >= 0 and t["labels"].max() < len(CLASS_NAMES)
        assert t["masks"].shape == (k, 64, 64) and t["masks"].dtype == bool


def test_boxes_are_tight_around_the_visible_masks(scenes):
    for t in scenes.targets[:100]:
        for box, mask in zip(t["boxes"], t["masks"]):
            rows, cols = np.where(mask)
            assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_masks_are_disjoint_and_occlusion_happens(scenes):
    touching = 0
    for t in scenes.targets:
        assert t["masks"].sum(0).max() <= 1, "visible masks of one image must not overlap"
        assert t["masks"].sum((1, 2)).min() > 0, "every object keeps some visible pixels"
        inst = instance_map(t)
        for i, mask in enumerate(t["masks"]):
            ring = ndimage.binary_dilation(mask) & ~mask
            touching += bool(((inst[ring] > 0) & (inst[ring] != i + 1)).any())
    assert touching >= 20, "objects should often overlap or touch"


@pytest.mark.parametrize("occlusion", [True, False])
def test_each_object_keeps_min_visible_of_its_area(occlusion):
    kwargs = dict(
        classes=CLASS_NAMES,
        size_range=(0.3, 0.6),
        backgrounds=("plain",),
        min_objects=5,
        max_objects=5,
        occlusion=occlusion,
        min_visible=0.6,
        noise=0.0,
    )
    lost = []
    for i in range(40):
        _, target, full_area = shapes._scene(np.random.default_rng([0, i]), 48, 48, **kwargs)
        visible = target["masks"].sum((1, 2))
        assert len(visible) >= 1
        assert np.all(visible >= 0.6 * full_area)
        lost.append(full_area - visible)
    lost = np.concatenate(lost)
    assert (lost.max() > 0) == occlusion  # with occlusion=False nothing is hidden


def test_every_class_appears(scenes):
    counts = np.bincount(np.concatenate([t["labels"] for t in scenes.targets]), minlength=len(CLASS_NAMES))
    assert counts.min() >= 60, dict(zip(CLASS_NAMES, counts))


def test_objects_contrast_with_their_surroundings(scenes):
    """The mean colour of each object differs from the background just around it."""
    distances = []
    for image, t in scenes[:150]:
        objects = t["masks"].any(0)
        for mask in t["masks"]:
            ring = ndimage.binary_dilation(mask, iterations=2) & ~objects
            if ring.sum() >= 5:
                inside, around = image[mask].mean(0), image[ring].mean(0)
                distances.append(np.linalg.norm(inside - around))
    assert len(distances) > 200
    assert min(distances) > 40, "every object must stand out from the background around it"


def test_objects_are_solid_colours_without_noise():
    sc = generate_scenes(20, 48, noise=0.0, background="plain", seed=4)
    for image, t in sc:
        for mask in t["masks"]:
            assert len(np.unique(image[mask], axis=0)) == 1
        background = image[~t["masks"].any(0)]
        assert len(np.unique(background, axis=0)) == 1


def test_backgrounds_are_varied_and_each_kind_works():
    for kind in BACKGROUNDS:
        sc = generate_scenes(2, 32, min_objects=0, max_objects=0, background=kind, noise=0.0, seed=1)
        spread = sc.images.reshape(2, -1, 3).std(1).max()
        assert (spread == 0) == (kind == "plain"), kind
    mixed = generate_scenes(30, 32, min_objects=0, max_objects=0, noise=0.0, seed=2)
    plain = sum(len(np.unique(im.reshape(-1, 3), axis=0)) == 1 for im in mixed.images)
    assert 0 < plain < 15


def test_single_object_mode_is_the_localisation_data_set():
    sc = generate_scenes(50, 64, min_objects=1, max_objects=1, seed=7)
    assert all(len(t["labels"]) == 1 for t in sc.targets)
    widths = np.array([t["boxes"][0, 2] - t["boxes"][0, 0] for t in sc.targets])
    assert widths.min() >= 5 and widths.max() <= 64 * 0.45 + 1


def test_options_subset_of_classes_rectangular_images_and_no_occlusion():
    sc = generate_scenes(20, (40, 72), classes=("star", "cross"), max_objects=6, occlusion=False, seed=3)
    assert sc.images.shape == (20, 40, 72, 3) and sc.class_names == ("star", "cross")
    assert set(np.concatenate([t["labels"] for t in sc.targets]).tolist()) == {0, 1}
    assert all(t["masks"].shape[1:] == (40, 72) for t in sc.targets)


def test_object_size_sets_the_longest_extent():
    sc = generate_scenes(40, 100, classes=("circle",), object_size=0.3, occlusion=False, seed=0)
    for t in sc.targets:
        extent = np.maximum(t["boxes"][:, 2] - t["boxes"][:, 0], t["boxes"][:, 3] - t["boxes"][:, 1])
        assert np.all(np.abs(extent - 30) <= 1)


def test_zero_images_and_zero_objects():
    empty = generate_scenes(0, (32, 48))
    assert empty.images.shape == (0, 32, 48, 3) and empty.targets == [] and len(empty) == 0
    bare = generate_scenes(3, 32, min_objects=0, max_objects=0)
    t = bare.targets[0]
    assert t["boxes"].shape == (0, 4) and t["labels"].shape == (0,) and t["masks"].shape == (0, 32, 32)
    assert semantic_map(t).shape == (32, 32) and not semantic_map(t).any()


def test_indexing_and_slicing(scenes):
    image, target = scenes[3]
    assert image.shape == (64, 64, 3) and target is scenes.targets[3]
    part = scenes[10:14]
    assert isinstance(part, Scenes) and len(part) == 4 and np.array_equal(part.images[0], scenes.images[10])
    picked = scenes[np.array([5, 1])]
    assert picked.targets[1] is scenes.targets[1]
    assert "300 images" in repr(scenes)


# --------------------------------------------------------------------------- label maps


def test_semantic_and_instance_maps():
    masks = np.zeros((3, 4, 5), bool)
    masks[0, :2, :2] = True
    masks[1, 1:3, 1:4] = True  # overlaps the first: later objects are on top
    masks[2, 3, 4] = True
    target = {"masks": masks, "labels": np.array([2, 0, 4])}
    expected = np.array(
        [
            [3, 3, 0, 0, 0],
            [3, 1, 1, 1, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 0, 0, 5],
        ]
    )
    sem = semantic_map(target, (4, 5))
    assert sem.dtype == np.int32 and np.array_equal(sem, expected)
    inst = instance_map(target, (4, 5, 3))
    expected_instances = np.array(
        [
            [1, 1, 0, 0, 0],
            [1, 2, 2, 2, 0],
            [0, 2, 2, 2, 0],
            [0, 0, 0, 0, 3],
        ]
    )
    assert inst.dtype == np.int32 and np.array_equal(inst, expected_instances)


def test_semantic_map_of_generated_scenes(scenes):
    for t in scenes.targets[:50]:
        sem = semantic_map(t, scenes.image_size)
        for label, mask in zip(t["labels"], t["masks"]):
            assert np.all(sem[mask] == label + 1)
        assert np.all(sem[~t["masks"].any(0)] == 0)


def test_label_map_bad_inputs():
    with pytest.raises(ValueError, match="target"):
        semantic_map({"boxes": np.zeros((0, 4))})
    with pytest.raises(ValueError, match="image_shape"):
        semantic_map({"masks": np.zeros((1, 4, 4), bool), "labels": [0]}, (5, 4))
    with pytest.raises(ValueError, match="labels"):
        instance_map({"masks": np.zeros((2, 4, 4), bool), "labels": [0]})


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        (dict(num_images=-1), "num_images"),
        (dict(num_images=2.0), "num_images"),
        (dict(image_size=8), "image_size"),
        (dict(image_size=64.0), "image_size"),
        (dict(image_size=(64, 64, 3)), "image_size"),
        (dict(min_objects=3, max_objects=2), "min_objects"),
        (dict(max_objects=-1), "max_objects"),
        (dict(classes=("circle", "hexagon")), "classes"),
        (dict(classes=()), "classes"),
        (dict(classes=("star", "star")), "classes"),
        (dict(object_size=(0.0, 0.5)), "object_size"),
        (dict(object_size=(0.5, 0.2)), "object_size"),
        (dict(object_size=(0.2, 1.5)), "object_size"),
        (dict(background="checkerboard"), "background"),
        (dict(background=("plain", "tartan")), "background"),
        (dict(min_visible=0), "min_visible"),
        (dict(min_visible=1.2), "min_visible"),
        (dict(noise=-1), "noise"),
        (dict(occlusion="yes"), "occlusion"),
        (dict(seed=-3), "seed"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, argument):
    kwargs = {"num_images": 1, **kwargs}
    with pytest.raises(ValueError, match=argument):
        generate_scenes(**kwargs)


# --------------------------------------------------------------------------- property


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    h=st.integers(16, 48),
    w=st.integers(16, 48),
    lo=st.floats(0.1, 0.5),
    extra=st.floats(0.0, 0.5),
    max_objects=st.integers(0, 6),
)
def test_any_settings_give_consistent_targets(seed, h, w, lo, extra, max_objects):
    sc = generate_scenes(
        2, (h, w), max_objects=max_objects, min_objects=0, object_size=(lo, min(lo + extra, 1)), seed=seed
    )
    for t in sc.targets:
        assert t["masks"].shape[1:] == (h, w)
        if len(t["labels"]):
            assert t["masks"].sum(0).max() <= 1
            b = t["boxes"]
            assert np.all(b[:, 0] < b[:, 2]) and np.all(b[:, 1] < b[:, 3])
            assert np.all(b >= 0) and np.all(b[:, [0, 2]] <= w) and np.all(b[:, [1, 3]] <= h)
