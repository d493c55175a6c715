"""Paired segmentation augmentation: geometry moves image and labels together, labels stay labels, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib.data import seg_augment as A
from cvlib.data.shapes import generate_scenes, instance_map


@pytest.fixture(scope="module")
def scene():
    scenes = generate_scenes(1, 48, min_objects=3, max_objects=3, background="plain", noise=0, seed=3)
    image, target = scenes[0]
    return image, instance_map(target, image.shape)  # a label per object, so a colour per label


def _painted_labels(image, labels):
    """Each label's mean colour: on a plain, noise-free scene every object (and the background) has one colour."""
    return {int(c): image[labels == c].mean(0) for c in np.unique(labels)}


def test_flip_rotate_is_a_symmetry_applied_to_both(scene):
    image, labels = scene
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        img, lab = A.flip_rotate(image, labels, rng)
        assert np.array_equal(np.sort(lab.ravel()), np.sort(labels.ravel()))  # pixels are only moved
        # the image moved with its labels: each label still covers pixels of its own colour
        for c, colour in _painted_labels(image, labels).items():
            assert np.allclose(img[lab == c].mean(0), colour)
        seen.add(lab.tobytes())
    assert len(seen) == 8, "all eight symmetries of the square must occur"


@pytest.mark.parametrize("step", ["scale_crop", "elastic_deform"])
def test_resampling_keeps_labels_and_images_aligned(scene, step):
    image, labels = scene
    rng = np.random.default_rng(1)
    colours = _painted_labels(image, labels)
    for _ in range(5):
        img, lab = getattr(A, step)(image, labels, rng)
        assert img.shape == image.shape and img.dtype == np.uint8
        assert lab.shape == labels.shape and lab.dtype == labels.dtype
        assert set(np.unique(lab)) <= set(np.unique(labels)), "nearest-neighbour labels: no new values"
        # away from edges (where linear interpolation blends colours) pixels keep their label's colour
        for c, colour in colours.items():
            inner = (lab == c) & (np.abs(img.astype(float) - colour).max(-1) < 2)
            assert inner.sum() >= 0.5 * (lab == c).sum()


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (40, 40), (48, 61), (75, 52)])
def test_scale_crop_zooms_exactly_as_scipy_ndimage(size):
    # scale_crop zooms axis by axis with cached weights; it must give scipy.ndimage.zoom's numbers
    from scipy import ndimage

    rng = np.random.default_rng(4)
    for shape in [(48, 48, 3), (5, 7, 2), (1, 1, 1)]:
        image = rng.uniform(0, 255, shape).astype(np.float32)
        labels = rng.integers(0, 9, shape[:2])
        target = size if shape != (1, 1, 1) else (2, 3)
        zoom = (target[0] / shape[0], target[1] / shape[1])
        expected = ndimage.zoom(image, (*zoom, 1), order=1, grid_mode=True, mode="grid-constant")
        assert np.allclose(A._zoom_image(image, target), expected, atol=1e-3)
        rows, cols = A._nearest_index(shape[0], target[0]), A._nearest_index(shape[1], target[1])
        assert np.array_equal(labels[np.ix_(rows, cols)], ndimage.zoom(labels, zoom, order=0, grid_mode=True,
                                                                        mode="nearest"))


@pytest.mark.parametrize(("grid", "shape"), [(3, (48, 48)), (4, (40, 57)), (2, (5, 9))])
def test_elastic_field_is_scipys_bicubic_zoom_of_the_control_grid(grid, shape):
    # elastic_deform upsamples the control grid with one cached matrix per axis; it must equal ndimage.zoom
    from scipy import ndimage

    coarse = np.random.default_rng(grid).normal(0, 3, (grid, grid))
    rows, cols = A._zoom_matrix(grid, shape[0], 3, "nearest"), A._zoom_matrix(grid, shape[1], 3, "nearest")
    expected = ndimage.zoom(coarse, (shape[0] / grid, shape[1] / grid), order=3, grid_mode=True, mode="nearest")
    assert np.allclose(rows @ coarse @ cols.T, expected, atol=1e-9)


def test_elastic_with_zero_sigma_is_the_identity(scene):
    image, labels = scene
    img, lab = A.elastic_deform(image, labels, np.random.default_rng(0), sigma=0.0)
    assert np.array_equal(img, image) and np.array_equal(lab, labels)


def test_colour_jitter_changes_colours_only_and_keeps_the_range(scene):
    image, _ = scene
    out = A.colour_jitter(image, np.random.default_rng(2))
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
    floats = A.colour_jitter(image / 255.0, np.random.default_rng(2))
    assert floats.min() >= 0 and floats.max() <= 1


def test_augment_batch_is_reproducible_and_keeps_shapes(scene):
    image, labels = scene
    images, maps = np.stack([image] * 3), np.stack([labels] * 3)
    a = A.augment_batch(images, maps, np.random.default_rng(5))
    b = A.augment_batch(images, maps, np.random.default_rng(5))
    assert a[0].shape == images.shape and a[1].shape == maps.shape
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1][0], a[1][1]), "each pair gets its own random draw"
    empty = A.augment_batch(images[:0], maps[:0], np.random.default_rng(0))
    assert empty[0].shape == (0, *image.shape) and empty[1].shape == (0, *labels.shape)


def test_bad_input(scene):
    image, labels = scene
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="labels: expected the image's height and width"):
        A.flip_rotate(image, labels[:-1], rng)
    with pytest.raises(ValueError, match="image: expected shape"):
        A.flip_rotate(image[..., 0], labels, rng)
    with pytest.raises(ValueError, match="labels: expected an integer label map"):
        A.scale_crop(image, labels.astype(float), rng)
    with pytest.raises(ValueError, match="rng"):
        A.elastic_deform(image, labels, 0)
    with pytest.raises(ValueError, match="scale"):
        A.scale_crop(image, labels, rng, scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="sigma"):
        A.elastic_deform(image, labels, rng, sigma=-1)
    with pytest.raises(ValueError, match="brightness"):
        A.colour_jitter(image, rng, brightness=2)
    with pytest.raises(ValueError, match="labels: expected shape"):
        A.augment_batch(image[None], labels, rng)
