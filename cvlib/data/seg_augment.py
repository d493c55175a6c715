"""Paired image + label-map augmentation for segmentation, in NumPy (notebook 11).

A geometric change must move the image and its labels together; a photometric change touches
the image only. The U-Net paper trained on 30 images, and credits "excessive data
augmentation" with it: shifts, rotations, grey-value changes and, above all, random elastic
deformations (Ronneberger et al., 2015, sections 3.1 and 1). Here:

- ``flip_rotate``: one of the 8 symmetries of the square (flips and 90-degree rotations), exact;
- ``scale_crop``: zoom by a random factor, then crop or pad (reflecting) back to the image size;
- ``elastic_deform``: the paper's deformation: random displacements on a coarse 3 x 3 grid with
  ``sigma`` pixels standard deviation, interpolated bicubically to every pixel;
- ``colour_jitter``: random brightness, contrast and per-channel gain;
- ``augment_pair`` / ``augment_batch``: all of them, each applied with its own random draw.

Images are (H, W, C) arrays (uint8 0-255 or float), label maps (H, W) integers; resampling
uses ``scipy.ndimage`` (linear for images, nearest for labels, so no new label values appear).
Zooms are separable, so ``scale_crop`` and the elastic field apply them axis by axis, with weights
worked out once by ``scipy.ndimage.zoom`` for each size: the same numbers, several times faster than
zooming every image (the U-Net's small-data run augments a few thousand pairs).
Each function takes a ``numpy.random.Generator`` so a run is reproducible.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["augment_batch", "augment_pair", "colour_jitter", "elastic_deform", "flip_rotate", "scale_crop"]


def _pair(image, labels) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    lab = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if img.ndim != 3:
        raise ValueError(f"image: expected shape (H, W, channels), got {img.shape}")
    if lab.shape != img.shape[:2]:
        raise ValueError(f"labels: expected the image's height and width {img.shape[:2]}, got shape {lab.shape}")
    if not (lab.dtype == bool or np.issubdtype(lab.dtype, np.integer)):
        raise ValueError(f"labels: expected an integer label map, got dtype {lab.dtype}")
    return img, lab


def _rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
    return rng


def _like(values: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Resampled float values back in the image's dtype (clipped to 0-255 for uint8)."""
    if image.dtype == np.uint8:
        return np.clip(np.round(values), 0, 255).astype(np.uint8)
    return values.astype(image.dtype)


@lru_cache(maxsize=512)
def _zoom_matrix(n_in: int, n_out: int, order: int, mode: str) -> np.ndarray:
    """(n_out, n_in) float64: ``ndimage.zoom`` of a length-n_in signal to n_out samples is this matrix times it.

    Column j is the zoom of the j-th unit vector (zooming is linear); grid_mode=True as everywhere here.
    The 2-D zoom of an image is the product of its two axes' zooms (splines are separable).
    """
    basis = np.eye(n_in)
    columns = [ndimage.zoom(basis[j], n_out / n_in, order=order, grid_mode=True, mode=mode) for j in range(n_in)]
    matrix = np.stack(columns, axis=1)
    if matrix.shape != (n_out, n_in):  # the zoom factor must give back n_out samples
        raise AssertionError(f"zoom of {n_in} to {n_out} samples gave {matrix.shape[0]}")
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=512)
def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The linear zoom (mode "grid-constant") of n_in samples to n_out as (n_out, 2) source indices and weights.

    Each output sample blends at most two inputs: a gather and a weighted sum, no dense product.
    """
    matrix = np.pad(_zoom_matrix(n_in, n_out, 1, "grid-constant"), ((0, 0), (0, max(0, 2 - n_in))))
    index = np.argsort(matrix == 0, axis=1, kind="stable")[:, :2]  # the (at most two) non-zero weights first
    weights = np.take_along_axis(matrix, index, axis=1)
    return np.where(weights != 0, index, 0), weights


@lru_cache(maxsize=512)
def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """(n_out,) source indices of an order-0 ``ndimage.zoom`` (mode "nearest") of n_in samples to n_out."""
    return ndimage.zoom(np.arange(n_in), n_out / n_in, order=0, grid_mode=True, mode="nearest")


def _zoom_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Linear zoom of (H, W, C) to (size[0], size[1], C) float32, as ``ndimage.zoom(order=1, mode="grid-constant")``."""
    h, w, _ = img.shape
    (rows, row_w), (cols, col_w) = _linear_taps(h, size[0]), _linear_taps(w, size[1])
    x = img.astype(np.float64)
    x = x[rows[:, 0]] * row_w[:, :1, None] + x[rows[:, 1]] * row_w[:, 1:, None]
    x = x[:, cols[:, 0]] * col_w[None, :, :1] + x[:, cols[:, 1]] * col_w[None, :, 1:]
    return x.astype(np.float32)


def flip_rotate(image, labels, rng) -> tuple[np.ndarray, np.ndarray]:
    """Apply one of the 8 symmetries of the square, drawn uniformly (square images keep their shape)."""
    img, lab = _pair(image, labels)
    rng = _rng(rng)
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    if flip:
        img, lab = img[:, ::-1], lab[:, ::-1]
    return np.ascontiguousarray(np.rot90(img, k)), np.ascontiguousarray(np.rot90(lab, k))


def scale_crop(image, labels, rng, scale: tuple[float, float] = (0.8, 1.25)) -> tuple[np.ndarray, np.ndarray]:
    """Zoom by a factor drawn log-uniformly from ``scale``, then crop (at random) or pad back to (H, W).

    Padding reflects the image and labels alike, so the labels stay right for every pixel.
    """
    img, lab = _pair(image, labels)
    rng = _rng(rng)
    lo, hi = (float(s) for s in scale)
    if not 0 < lo <= hi:
        raise ValueError(f"scale: expected (low, high) with 0 < low <= high, got {scale!r}")
    factor = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    h, w = lab.shape
    size = max(1, round(h * factor)), max(1, round(w * factor))
    big = _zoom_image(img, size)  # linear, zeros outside (ndimage's "grid-constant")
    big_lab = lab[np.ix_(_nearest_index(h, size[0]), _nearest_index(w, size[1]))]  # nearest neighbour
    pad = [(max(0, (h - size[0]) // 2), max(0, h - size[0] - (h - size[0]) // 2)),
           (max(0, (w - size[1]) // 2), max(0, w - size[1] - (w - size[1]) // 2))]
    big, big_lab = np.pad(big, [*pad, (0, 0)], mode="reflect"), np.pad(big_lab, pad, mode="reflect")
    y0, x0 = int(rng.integers(big_lab.shape[0] - h + 1)), int(rng.integers(big_lab.shape[1] - w + 1))
    return _like(big[y0 : y0 + h, x0 : x0 + w], img), big_lab[y0 : y0 + h, x0 : x0 + w].copy()


def elastic_deform(image, labels, rng, sigma: float = 3.0, grid: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Warp by a smooth random field: (grid x grid) displacements ~ N(0, sigma^2) pixels, bicubically interpolated.

    The U-Net paper uses a 3 x 3 grid and sigma = 10 pixels on 512-pixel images; scale ``sigma``
    with the image (3 pixels suits 64 x 64). Pixels pulled from outside reflect the image.
    """
    img, lab = _pair(image, labels)
    rng = _rng(rng)
    if not (np.isscalar(sigma) and np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a non-negative number of pixels, got {sigma!r}")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid: expected an integer >= 2 (control points per side), got {grid!r}")
    h, w = lab.shape
    coarse = rng.normal(0.0, sigma, (2, grid, grid))
    # order-3 zoom of the control grid is the bicubic interpolation of the paper (one matrix per axis)
    rows_up, cols_up = _zoom_matrix(grid, h, 3, "nearest"), _zoom_matrix(grid, w, 3, "nearest")
    field = np.einsum("hi,kij,wj->khw", rows_up, coarse, cols_up)
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    where = [rows + field[0], cols + field[1]]
    warped = np.stack([ndimage.map_coordinates(img[..., c].astype(np.float32), where, order=1, mode="mirror")
                       for c in range(img.shape[-1])], axis=-1)
    warped_lab = ndimage.map_coordinates(lab, where, order=0, mode="mirror")
    return _like(warped, img), warped_lab.astype(lab.dtype)


def colour_jitter(image, rng, brightness: float = 0.15, contrast: float = 0.2, gain: float = 0.1) -> np.ndarray:
    """Change brightness (shift by up to ``brightness`` of the range), contrast and per-channel gain.

    The image only: labels do not move. uint8 images stay uint8; float images are taken as 0-1.
    """
    img = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    rng = _rng(rng)
    if img.ndim != 3:
        raise ValueError(f"image: expected shape (H, W, channels), got {img.shape}")
    for name, value in (("brightness", brightness), ("contrast", contrast), ("gain", gain)):
        if not (np.isscalar(value) and 0 <= value < 1):
            raise ValueError(f"{name}: expected a fraction in [0, 1), got {value!r}")
    top = 255.0 if img.dtype == np.uint8 else 1.0
    x = img.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    x = (x - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    x = x * rng.uniform(1 - gain, 1 + gain, img.shape[-1]) + rng.uniform(-brightness, brightness) * top
    return _like(np.clip(x, 0, top), img)


def augment_pair(image, labels, rng, *, flips: bool = True, scale=(0.8, 1.25), elastic_sigma: float = 3.0,
                 jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One random augmentation of an (image, labels) pair: symmetry, scale, elastic warp, colour.

    Pass ``scale=None``, ``elastic_sigma=0``, ``flips=False`` or ``jitter=False`` to leave a step out.
    """
    img, lab = _pair(image, labels)
    rng = _rng(rng)
    if flips:
        img, lab = flip_rotate(img, lab, rng)
    if scale is not None:
        img, lab = scale_crop(img, lab, rng, scale)
    if elastic_sigma:
        img, lab = elastic_deform(img, lab, rng, elastic_sigma)
    if jitter:
        img = colour_jitter(img, rng)
    return img, lab


def augment_batch(images, labels, rng, **options) -> tuple[np.ndarray, np.ndarray]:
    """``augment_pair`` on each of (N, H, W, C) ``images`` and (N, H, W) ``labels``; returns new arrays."""
    imgs = np.asarray(images.numpy() if hasattr(images, "numpy") else images)
    labs = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if imgs.ndim != 4 or labs.shape != imgs.shape[:3]:
        raise ValueError(f"labels: expected shape (N, H, W) {imgs.shape[:3]} matching images (N, H, W, C), "
                         f"got images {imgs.shape} and labels {labs.shape}")
    pairs = [augment_pair(i, m, rng, **options) for i, m in zip(imgs, labs)]
    if not pairs:
        return imgs.copy(), labs.copy()
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
