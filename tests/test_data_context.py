"""cvlib.data.context: the beacon scenes of notebook 13 keep their promises (distance, labels, determinism)."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib.data.context import COLOURS, generate_beacons


def chebyshev_distance(labels, box):
    """Smallest max(|dy|, |dx|) between an object pixel and a beacon pixel."""
    x1, y1, x2, y2 = (int(v) for v in box)
    ys, xs = np.nonzero(labels)
    by, bx = np.mgrid[y1:y2, x1:x2]
    return np.maximum(np.abs(ys[:, None] - by.ravel()), np.abs(xs[:, None] - bx.ravel())).min()


def test_shapes_labels_and_distance():
    scenes = generate_beacons(60, image_size=48, num_classes=4, min_distance=12, seed=3)
    assert scenes.images.shape == (60, 48, 48, 3) and scenes.images.dtype == np.float32
    assert scenes.labels.shape == (60, 48, 48) and scenes.labels.dtype == np.int32
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    assert scenes.class_names == tuple(COLOURS)[:4]
    for image, labels, box, cls in zip(scenes.images, scenes.labels, scenes.beacon_boxes, scenes.beacon_classes):
        assert set(np.unique(labels)) == {0, cls + 1}, "every object carries the beacon's class"
        assert chebyshev_distance(labels, box) >= 12, "objects keep min_distance from the beacon"
        x1, y1, x2, y2 = (int(v) for v in box)
        assert np.allclose(image[y1:y2, x1:x2].mean(axis=(0, 1)), COLOURS[scenes.class_names[cls]], atol=0.05)
        assert (labels[y1:y2, x1:x2] == 0).all(), "the beacon is background"
    assert len(set(scenes.beacon_classes.tolist())) == 4


def test_objects_look_alike_across_classes():
    scenes = generate_beacons(300, seed=0)
    grey = [scenes.images[i][scenes.labels[i] > 0].mean(axis=0) for i in range(len(scenes))]
    by_class = [np.mean([g for g, c in zip(grey, scenes.beacon_classes) if c == k], axis=0) for k in range(3)]
    assert np.ptp(np.array(by_class), axis=0).max() < 0.03, "an object's appearance must not reveal its class"


def test_seeded_and_prefix_stable():
    a = generate_beacons(10, seed=5)
    b = generate_beacons(4, seed=5)
    np.testing.assert_array_equal(a.images[:4], b.images)
    np.testing.assert_array_equal(a.labels[:4], b.labels)
    assert not np.array_equal(generate_beacons(4, seed=6).labels, b.labels)


def test_empty():
    scenes = generate_beacons(0)
    assert scenes.images.shape == (0, 64, 64, 3) and scenes.labels.shape == (0, 64, 64) and len(scenes) == 0
    assert "0 images" in repr(scenes)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n": -1}, "n"),
        ({"n": 2.0}, "n"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 7}, "num_classes"),
        ({"image_size": 20}, "image_size"),
        ({"min_distance": -1}, "min_distance"),
        ({"object_size": (9, 4)}, "object_size"),
        ({"object_size": 8}, "object_size"),
        ({"noise": -0.1}, "noise"),
        ({"seed": -1}, "seed"),
        ({"max_objects": 0}, "max_objects"),
    ],
)
def test_rejects_bad_input(kwargs, name):
    args = {"n": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        generate_beacons(**args)
