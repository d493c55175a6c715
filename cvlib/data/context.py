"""A pixel-labelling task that needs long-range context: grey objects named by a far-away coloured beacon.

Each image holds one coloured square, the *beacon*, and a few light-grey squares, the *objects*, on a noisy
grey background. Every object in an image has the class given by the beacon's colour; objects of different
classes look exactly alike. So a network can find the objects from what it sees locally, but can only name
them by relating them to the beacon, which is placed at least ``min_distance`` pixels away from every object
pixel (Chebyshev distance: ``max(|dy|, |dx|)``).

A fully convolutional network whose receptive field is ``2 * radius + 1`` pixels wide with
``radius < min_distance`` never sees the beacon from an object pixel: whatever it learns, it can only guess
the class, and its accuracy on object pixels is at most the share of the commonest class (``1 / num_classes``
on average). A network whose receptive field covers the image can do the task perfectly. Notebook 13 trains
a plain and a dilated CNN with the same parameters on it.

Labels, per pixel: 0 = background (beacon included), ``1 + k`` = object of class ``k`` (the beacon's colour
``k`` in ``COLOURS``). Determinism: image ``i`` depends only on ``(seed, i)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLOURS = {
    "red": (0.95, 0.15, 0.10),
    "green": (0.10, 0.75, 0.20),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.15, 0.85),
    "cyan": (0.10, 0.80, 0.85),
}


@dataclass
class BeaconScenes:
    """Images (N, S, S, 3) float32 in [0, 1]; labels (N, S, S) int32 (0 background, 1 + class);
    beacon boxes (N, 4) ``xyxy``; beacon classes (N,); the class names and the guaranteed distance."""

    images: np.ndarray
    labels: np.ndarray
    beacon_boxes: np.ndarray
    beacon_classes: np.ndarray
    class_names: tuple[str, ...]
    min_distance: int

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        object_share = float((self.labels > 0).mean()) if self.labels.size else 0.0
        return (
            f"BeaconScenes({len(self)} images of {self.images.shape[1:3]}, classes {self.class_names}, "
            f"objects >= {self.min_distance} px from the beacon, {object_share:.1%} object pixels)"
        )


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _gap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Distance between pixel index ranges [a0, a1) and [b0, b1) along one axis (0 if they overlap)."""
    return max(b0 - (a1 - 1), a0 - (b1 - 1), 0)


def generate_beacons(
    n: int,
    image_size: int = 64,
    num_classes: int = 3,
    min_distance: int = 12,
    beacon_size: int = 10,
    object_size: tuple[int, int] = (8, 14),
    max_objects: int = 6,
    noise: float = 0.05,
    seed: int = 0,
) -> BeaconScenes:
    """Generate ``n`` beacon scenes (see the module docstring).

    Args:
        n: number of images (0 gives empty arrays).
        image_size: side S of the square images, pixels.
        num_classes: how many beacon colours (classes), 1 to 6, drawn uniformly.
        min_distance: smallest Chebyshev distance between any object pixel and any beacon pixel.
        beacon_size: side of the beacon square.
        object_size: (smallest, largest) side of an object square, inclusive.
        max_objects: objects per image, 1 to ``max_objects`` (at least one is always placed).
        noise: standard deviation of the Gaussian pixel noise, >= 0.
        seed: integer seed; image i depends only on (seed, i).
    """
    n = _positive_int(n, "n", 0)
    image_size = _positive_int(image_size, "image_size")
    num_classes = _positive_int(num_classes, "num_classes")
    if num_classes > len(COLOURS):
        raise ValueError(f"num_classes: at most {len(COLOURS)} beacon colours exist, got {num_classes}")
    min_distance = _positive_int(min_distance, "min_distance", 0)
    beacon_size = _positive_int(beacon_size, "beacon_size")
    max_objects = _positive_int(max_objects, "max_objects")
    seed = _positive_int(seed, "seed", 0)
    if (
        not isinstance(object_size, (tuple, list))
        or len(object_size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in object_size)
        or not 1 <= object_size[0] <= object_size[1]
    ):
        raise ValueError(f"object_size: expected (smallest, largest) integers with 1 <= smallest <= largest, "
                         f"got {object_size!r}")
    if not (np.isscalar(noise) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise!r}")
    # The smallest object must fit beside the beacon at the required distance, wherever the beacon is.
    needed = beacon_size + min_distance - 1 + object_size[0]
    if needed > image_size:
        raise ValueError(
            f"image_size: {image_size} px is too small for a {beacon_size}-px beacon, a {object_size[0]}-px object "
            f"and min_distance {min_distance} (needs at least {needed})"
        )

    names = tuple(list(COLOURS)[:num_classes])
    palette = np.array([COLOURS[c] for c in names])
    size = image_size
    images = np.empty((n, size, size, 3), np.float32)
    labels = np.zeros((n, size, size), np.int32)
    boxes = np.zeros((n, 4), np.float64)
    classes = np.zeros(n, np.int64)
    lo, hi = int(object_size[0]), int(object_size[1])

    for i in range(n):
        rng = np.random.default_rng([seed, i])
        cls = int(rng.integers(num_classes))
        want = int(rng.integers(1, max_objects + 1))
        while True:  # a beacon position leaving room for at least one object (rarely needs a second draw)
            by, bx = (int(v) for v in rng.integers(0, size - beacon_size + 1, 2))
            label = np.zeros((size, size), np.int32)
            placed = 0
            for _ in range(60 * want):
                if placed == want:
                    break
                s = int(rng.integers(lo, hi + 1))
                y, x = (int(v) for v in rng.integers(0, size - s + 1, 2))
                far = max(_gap(y, y + s, by, by + beacon_size), _gap(x, x + s, bx, bx + beacon_size))
                if far < min_distance:
                    continue
                # one pixel of background around every object keeps objects apart
                if label[max(0, y - 1) : y + s + 1, max(0, x - 1) : x + s + 1].any():
                    continue
                label[y : y + s, x : x + s] = cls + 1
                placed += 1
            if placed:
                break
        shade = rng.uniform(0.25, 0.45)  # background brightness varies per image
        image = np.full((size, size, 3), shade)
        image[label > 0] = rng.uniform(0.7, 0.9)  # all objects of an image share one grey, whatever the class
        image[by : by + beacon_size, bx : bx + beacon_size] = palette[cls]
        image += rng.normal(0.0, float(noise), image.shape)
        images[i] = np.clip(image, 0.0, 1.0)
        labels[i] = label
        boxes[i] = (bx, by, bx + beacon_size, by + beacon_size)
        classes[i] = cls
    return BeaconScenes(images, labels, boxes, classes, names, min_distance)
