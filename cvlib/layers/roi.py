"""Region-of-interest pooling: RoIPool (Fast R-CNN) and RoIAlign (Mask R-CNN), notebooks 04 and 12.

Both turn a box of any size on a feature map into a fixed ``out_h x out_w`` grid of features, so
one head can classify every proposal of an image from a single backbone pass.

- **RoIPool** (Girshick, "Fast R-CNN", ICCV 2015) rounds the box to whole feature cells, cuts it
  into ``out_h x out_w`` bins of whole cells and max-pools each bin. The two roundings move the
  box by up to a cell: harmless for a class, visible in a box or a mask.
- **RoIAlign** (He, Gkioxari, Dollár and Girshick, "Mask R-CNN", ICCV 2017) keeps the box's
  continuous coordinates: each bin is the mean of ``sampling_ratio x sampling_ratio`` points,
  each read by bilinear interpolation, so nothing is rounded.

The numbers follow ``torchvision.ops.roi_pool`` and ``torchvision.ops.roi_align`` exactly
(channels last instead of first), including their corner cases:

- ``roi_pool`` rounds the box's corners half away from zero and counts the end cell in
  (a box from cell 2 to cell 5 is 4 cells wide: the legacy "+1" of the original Caffe code);
  an empty bin gives 0.
- ``roi_align`` with ``aligned=True`` shifts the box by half a cell so that pixel centres line up
  (a feature cell ``i`` covers ``[i, i + 1)`` and has its centre at ``i + 0.5``);
  ``aligned=False`` is the original paper's (shift-free, boxes at least one cell wide).
  ``sampling_ratio <= 0`` means adaptive: ``ceil(box size / output size)`` points per bin side,
  per box. A point more than one cell outside the map reads 0; a point within that cell of the
  border reads the border.

Inputs: ``features`` (B, H, W, C) channels-last; ``rois`` (K, 5), rows ``(batch_index, x1, y1,
x2, y2)`` in input-image pixels; ``spatial_scale`` maps them onto the feature map (1/16 for a
stride-16 backbone). Output: (K, out_h, out_w, C).

Bad input: called eagerly (as in a notebook, or through :func:`roi_align` / :func:`roi_pool`),
the layers check the RoIs and raise a ``ValueError`` for a wrong shape, a non-finite value, a
negative width or height, or a batch index outside ``[0, B)``. Inside a traced graph (``fit``)
the values are not known when the graph is built: a row whose batch index is out of range then
gives all-zero features instead of a crash deep inside TensorFlow. An empty ``rois`` (0, 5)
gives an empty (0, out_h, out_w, C) output.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cvlib._checks import check_finite, to_numpy

__all__ = ["RoIAlign", "RoIPool", "boxes_to_rois", "roi_align", "roi_pool"]


def _output_size(output_size) -> tuple[int, int]:
    if isinstance(output_size, (int, np.integer)):
        size = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)):
        size = tuple(output_size)
    else:
        size = ()
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in size):
        raise ValueError(f"output_size: expected a positive int or (height, width), got {output_size!r}")
    return int(size[0]), int(size[1])


def _spatial_scale(value) -> float:
    scale = float(value)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"spatial_scale: expected a positive number, got {value!r}")
    return scale


def _eager_numpy(x):
    """``x`` as a NumPy array when its value is known now (eager execution); None inside a traced graph."""
    if isinstance(x, np.ndarray):
        return x
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        return x.numpy() if tf.executing_eagerly() and hasattr(x, "numpy") else None
    try:  # JAX / PyTorch eager arrays convert; tracers and symbolic tensors refuse
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:
        return None


def _check_rois_values(rois: np.ndarray, batch_size: int | None, name: str = "rois") -> None:
    """The eager checks: shape (K, 5), finite, non-negative size, batch index in range."""
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"{name}: expected shape (K, 5) rows of (batch_index, x1, y1, x2, y2), got {rois.shape}")
    check_finite(rois, name)
    if rois.size == 0:
        return
    index = rois[:, 0]
    if np.any(index != np.round(index)):
        raise ValueError(f"{name}: column 0 holds batch indices and must be whole numbers, got {index.tolist()[:5]}")
    bad = np.flatnonzero((rois[:, 3] < rois[:, 1]) | (rois[:, 4] < rois[:, 2]))
    if bad.size:
        raise ValueError(f"{name}: row {bad[0]} has x2 < x1 or y2 < y1 ({rois[bad[0]].tolist()})")
    if batch_size is not None:
        out = np.flatnonzero((index < 0) | (index >= batch_size))
        if out.size:
            raise ValueError(
                f"{name}: row {out[0]} refers to image {int(index[out[0]])} but the batch has {batch_size} "
                f"image(s) (valid indices 0..{batch_size - 1})"
            )


class _RoILayer(keras.layers.Layer):
    """Shared plumbing: the ``[features, rois]`` inputs, their checks, output shape and config."""

    def __init__(self, output_size, spatial_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _output_size(output_size)
        self.spatial_scale = _spatial_scale(spatial_scale)

    @staticmethod
    def _shapes(input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"inputs: expected [features, rois], got {input_shape!r}")
        features, rois = (tuple(s) for s in input_shape)
        if len(features) != 4:
            raise ValueError(f"features: expected (batch, height, width, channels), got shape {features}")
        if len(rois) != 2 or rois[1] not in (None, 5):
            raise ValueError(f"rois: expected shape (K, 5) rows of (batch_index, x1, y1, x2, y2), got {rois}")
        return features, rois

    def build(self, input_shape):
        self._shapes(input_shape)

    def compute_output_shape(self, input_shape):
        features, rois = self._shapes(input_shape)
        return (rois[0], *self.output_size, features[3])

    def call(self, inputs):
        features, rois = inputs
        self._shapes([features.shape, rois.shape])
        values = _eager_numpy(rois)
        if values is not None:  # eager: the values are known, so a bad RoI is reported, not silently zeroed
            _check_rois_values(np.asarray(values, np.float64), features.shape[0])
        rois = ops.cast(rois, features.dtype)
        return self._pool(features, rois)

    def _pool(self, features, rois):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "spatial_scale": self.spatial_scale}


def _batch_index(features, rois):
    """Each RoI's image index, clamped into range, and a (K,) 0/1 mask of the RoIs whose index was valid."""
    batch = ops.shape(features)[0]
    index = ops.cast(rois[:, 0], "int32")
    valid = ops.logical_and(index >= 0, index < batch)
    return ops.clip(index, 0, batch - 1), ops.cast(valid, features.dtype)


def _axis_weights(coords, size):
    """Bilinear interpolation along one axis, as torchvision's ``bilinear_interpolate`` does it.

    ``coords`` (...,) continuous positions in feature cells (cell ``i``'s centre at ``i``, the
    half-pixel shift already applied). Returns the two neighbouring indices and their weights; a
    position more than one cell outside ``[0, size - 1]`` gets weight 0 (it reads as 0).
    """
    inside = ops.cast(ops.logical_and(coords >= -1.0, coords <= ops.cast(size, coords.dtype)), coords.dtype)
    c = ops.maximum(coords, 0.0)
    low = ops.cast(ops.floor(c), "int32")
    at_edge = low >= size - 1
    low = ops.where(at_edge, size - 1, low)
    high = ops.where(at_edge, size - 1, low + 1)
    c = ops.where(at_edge, ops.cast(low, c.dtype), c)
    frac = c - ops.cast(low, c.dtype)
    return low, high, (1.0 - frac) * inside, frac * inside


@keras.saving.register_keras_serializable(package="cvlib")
class RoIAlign(_RoILayer):
    """Bilinear RoI pooling without quantisation: ``[features (B, H, W, C), rois (K, 5)] -> (K, out_h, out_w, C)``.

    Equal to ``torchvision.ops.roi_align(..., output_size, spatial_scale, sampling_ratio, aligned)``
    with channels moved last. Gradients flow to the features (and to the RoI coordinates).

    Args:
        output_size: ``out`` or ``(out_h, out_w)``; Mask R-CNN uses 7 for the box head and 14 for the mask head.
        spatial_scale: feature cells per input pixel (1 / the backbone's stride).
        sampling_ratio: sample points per bin side; ``<= 0`` chooses ``ceil(box size / output size)`` per box.
        aligned: shift the box by half a cell so sample points sit on pixel centres (Detectron2's default).
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, sampling_ratio: int = 2, aligned: bool = True, **kw):
        super().__init__(output_size, spatial_scale, **kw)
        if not isinstance(sampling_ratio, (int, np.integer)):
            raise ValueError(f"sampling_ratio: expected an int (<= 0 for adaptive), got {sampling_ratio!r}")
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def _pool(self, features, rois):
        out_h, out_w = self.output_size
        _, height, width, channels = (ops.shape(features)[i] for i in range(4))
        index, valid = _batch_index(features, rois)
        offset = 0.5 if self.aligned else 0.0
        x1, y1, x2, y2 = (rois[:, i] * self.spatial_scale - offset for i in (1, 2, 3, 4))
        roi_w, roi_h = x2 - x1, y2 - y1
        if not self.aligned:  # the original RoIAlign forces malformed boxes to one cell
            roi_w, roi_h = ops.maximum(roi_w, 1.0), ops.maximum(roi_h, 1.0)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w

        if self.sampling_ratio > 0:
            grid_h = grid_w = ops.full(ops.shape(x1), float(self.sampling_ratio), dtype=x1.dtype)
            points = self.sampling_ratio
        else:  # adaptive: each box gets its own grid; sample up to the largest and mask the rest
            grid_h, grid_w = ops.ceil(roi_h / out_h), ops.ceil(roi_w / out_w)
            points = ops.cast(ops.max(ops.concatenate([grid_h, grid_w, ops.ones((1,), x1.dtype)])), "int32")
        step = ops.cast(ops.arange(points), x1.dtype)  # (G,)

        def positions(start, bin_size, grid, n_bins):
            """Sample positions (K, n_bins, G) along one axis, and whether each is one of the box's own points."""
            b = ops.cast(ops.arange(n_bins), x1.dtype)
            pos = (
                start[:, None, None]
                + b[None, :, None] * bin_size[:, None, None]
                + (step[None, None, :] + 0.5) * (bin_size / ops.maximum(grid, 1.0))[:, None, None]
            )
            used = ops.broadcast_to(ops.cast(step[None, None, :] < grid[:, None, None], x1.dtype), ops.shape(pos))
            return ops.reshape(pos, (-1, n_bins * points)), ops.reshape(used, (-1, n_bins * points))

        ys, used_y = positions(y1, bin_h, grid_h, out_h)  # (K, Ny)
        xs, used_x = positions(x1, bin_w, grid_w, out_w)  # (K, Nx)
        y_lo, y_hi, wy_lo, wy_hi = _axis_weights(ys, height)
        x_lo, x_hi, wx_lo, wx_hi = _axis_weights(xs, width)
        wy_lo, wy_hi = wy_lo * used_y, wy_hi * used_y
        wx_lo, wx_hi = wx_lo * used_x, wx_hi * used_x

        # Read the four neighbours of every (y, x) sample from the flattened feature map.
        flat = ops.reshape(features, (-1, channels))
        base = (index * height)[:, None, None]

        def read(rows, cols):
            flat_index = (base + rows[:, :, None]) * width + cols[:, None, :]  # (K, Ny, Nx)
            return ops.take(flat, flat_index, axis=0)  # (K, Ny, Nx, C)

        value = (
            (wy_lo[:, :, None] * wx_lo[:, None, :])[..., None] * read(y_lo, x_lo)
            + (wy_lo[:, :, None] * wx_hi[:, None, :])[..., None] * read(y_lo, x_hi)
            + (wy_hi[:, :, None] * wx_lo[:, None, :])[..., None] * read(y_hi, x_lo)
            + (wy_hi[:, :, None] * wx_hi[:, None, :])[..., None] * read(y_hi, x_hi)
        )
        value = ops.reshape(value, (-1, out_h, points, out_w, points, channels))
        count = ops.maximum(grid_h * grid_w, 1.0)
        pooled = ops.sum(value, axis=(2, 4)) / count[:, None, None, None]
        return pooled * valid[:, None, None, None]

    def get_config(self):
        return {**super().get_config(), "sampling_ratio": self.sampling_ratio, "aligned": self.aligned}


def _round_half_away(x):
    """C's ``round``: halves go away from zero (NumPy's and Keras' round go to even)."""
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


@keras.saving.register_keras_serializable(package="cvlib")
class RoIPool(_RoILayer):
    """Max pooling over whole-cell bins: ``[features (B, H, W, C), rois (K, 5)] -> (K, out_h, out_w, C)``.

    Equal to ``torchvision.ops.roi_pool(..., output_size, spatial_scale)`` with channels moved last:
    the corners are rounded to cells, the box spans ``x2 - x1 + 1`` cells, bin ``i`` covers cells
    ``floor(i * bin) .. ceil((i + 1) * bin) - 1`` (neighbouring bins may share a cell), and an empty
    bin (wholly outside the map) gives 0.
    """

    def _pool(self, features, rois):
        out_h, out_w = self.output_size
        height, width = ops.shape(features)[1], ops.shape(features)[2]
        index, valid = _batch_index(features, rois)
        x1, y1, x2, y2 = (_round_half_away(rois[:, i] * self.spatial_scale) for i in (1, 2, 3, 4))
        roi_w, roi_h = ops.maximum(x2 - x1 + 1.0, 1.0), ops.maximum(y2 - y1 + 1.0, 1.0)

        def bin_masks(start, size, n_bins, limit):
            """(K, n_bins, limit) masks of the cells in each bin, and (K, n_bins) which bins are empty."""
            # floor(b * size / n) and ceil((b + 1) * size / n) in integers: exact, as torchvision's float32 is
            # here, on every backend (XLA on the CPU turns a float division by n into a product with 1 / n,
            # one ulp off at exact multiples, which moves a bin edge by a whole cell).
            b = ops.arange(n_bins, dtype="int32")[None, :]
            cells = ops.cast(size, "int32")[:, None]
            first = ops.cast(start, "int32")[:, None]
            lo = ops.clip(ops.floor_divide(b * cells, n_bins) + first, 0, limit)
            hi = ops.clip(-ops.floor_divide(-(b + 1) * cells, n_bins) + first, 0, limit)
            index = ops.arange(limit, dtype="int32")[None, None, :]
            return ops.logical_and(index >= lo[..., None], index < hi[..., None]), hi <= lo

        rows, empty_rows = bin_masks(y1, roi_h, out_h, height)  # (K, out_h, H)
        cols, empty_cols = bin_masks(x1, roi_w, out_w, width)  # (K, out_w, W)
        images = ops.take(features, index, axis=0)  # (K, H, W, C)
        lowest = float(np.finfo(np.float32).min)  # stands in for -inf outside a bin (an empty bin is zeroed below)
        pooled = []
        for i in range(out_h):  # max over the bin's rows, then over its columns; one bin row at a time
            # ``initial`` keeps the reduction defined when there are no RoIs (K = 0).
            row_max = ops.max(ops.where(rows[:, i, :, None, None], images, lowest), axis=1, initial=lowest)
            pooled.append(ops.max(ops.where(cols[..., None], row_max[:, None], lowest), axis=2, initial=lowest))
        pooled = ops.stack(pooled, axis=1)  # (K, out_h, out_w, C)
        empty = ops.logical_or(empty_rows[:, :, None], empty_cols[:, None, :])[..., None]
        return ops.where(empty, 0.0, pooled) * valid[:, None, None, None]


def boxes_to_rois(boxes_per_image) -> np.ndarray:
    """Stack per-image boxes into RoI rows: a list of B arrays (N_i, 4) ``xyxy`` -> (sum N_i, 5) float32.

    Row ``(i, x1, y1, x2, y2)`` for each box of image ``i``, the layout ``RoIAlign`` and ``RoIPool`` take.
    """
    if isinstance(boxes_per_image, np.ndarray) and boxes_per_image.ndim == 2:
        raise ValueError("boxes_per_image: expected a list with one (N, 4) array per image, got a single 2-D array")
    rows = []
    for i, boxes in enumerate(boxes_per_image):
        b = to_numpy(boxes, f"boxes_per_image[{i}]")
        if b.shape in ((0,), (0, 4)):
            continue
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"boxes_per_image[{i}]: expected shape (N, 4), got {b.shape}")
        rows.append(np.concatenate([np.full((len(b), 1), i, np.float64), b], axis=1))
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 5), np.float32)


def _checked_call(layer: _RoILayer, features, rois) -> np.ndarray:
    f = check_finite(to_numpy(features, "features", np.float32), "features")
    if f.ndim != 4:
        raise ValueError(f"features: expected (batch, height, width, channels), got shape {f.shape}")
    r = to_numpy(rois, "rois")
    if r.shape == (0,):
        r = r.reshape(0, 5)
    _check_rois_values(r, f.shape[0])
    return ops.convert_to_numpy(layer([ops.convert_to_tensor(f), ops.convert_to_tensor(r.astype(np.float32))]))


def roi_align(features, rois, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True) -> np.ndarray:
    """NumPy in, NumPy out: :class:`RoIAlign` on (B, H, W, C) features and (K, 5) RoIs -> (K, out_h, out_w, C)."""
    return _checked_call(RoIAlign(output_size, spatial_scale, sampling_ratio, aligned), features, rois)


def roi_pool(features, rois, output_size, spatial_scale=1.0) -> np.ndarray:
    """NumPy in, NumPy out: :class:`RoIPool` on (B, H, W, C) features and (K, 5) RoIs -> (K, out_h, out_w, C)."""
    return _checked_call(RoIPool(output_size, spatial_scale), features, rois)
