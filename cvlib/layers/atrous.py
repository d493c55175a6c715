"""Dilated (atrous) convolution: the formula in NumPy, ASPP (DeepLabv3, notebook 13), the IAC block (NEED, notebook 15),
and ``DilatedConv2D``, Keras's ``Conv2D`` with its dilated case computed by TensorFlow's Conv2D op (faster on a CPU).

Two ways of counting the spacing of a dilated kernel's taps are in use, and they differ by one:

- the lecture's **dilation radius** ``r``: ``r`` zeros (holes) between neighbouring taps, so taps are
  ``r + 1`` pixels apart and ``r = 0`` is the standard convolution;
- the **dilation rate** of Keras (``Conv2D(dilation_rate=...)``), TensorFlow and the DeepLab papers:
  the distance between neighbouring taps, so ``1`` is the standard convolution.

They map as ``dilation_rate = r + 1``. ``dilated_conv2d_reference`` takes the lecture's ``r``;
``ASPP`` takes DeepLab's ``rates`` (Keras dilation rates), as the paper writes them: ``(6, 12, 18)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from cvlib._checks import check_finite, to_numpy
from cvlib.layers.normalization import FusedBatchNormalization

PADDINGS = ("valid", "same")


def _positive_pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1, as (rows, columns)."""
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in items
    ):
        raise ValueError(f"{name}: expected a positive integer or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def _output_size_and_padding(size: int, kernel: int, spacing: int, stride: int, padding: str) -> tuple[int, int]:
    """Output length and the zeros added *before* the input along one axis, as TensorFlow computes them.

    The dilated kernel spans ``(kernel - 1) * spacing + 1`` pixels. "valid" adds nothing; "same" gives
    ``ceil(size / stride)`` outputs and pads just enough for them, the odd pixel going *after* the input.
    """
    span = (kernel - 1) * spacing + 1
    if padding == "valid":
        return max(0, (size - span) // stride + 1), 0
    out = -(-size // stride)  # ceil
    total = max(0, (out - 1) * stride + span - size)
    return out, total // 2


def dilated_conv2d_reference(x, w, r: int, stride=1, padding: str = "valid", bias=None) -> np.ndarray:
    """Dilated 2-D convolution with the lecture's dilation radius ``r``, summed directly from the formula.

    ``y[b, i, j, o] = bias[o] + sum_{m, n, c} x[b, i*s + m*(r+1) - p_top, j*s + n*(r+1) - p_left, c] * w[m, n, c, o]``

    Taps are ``r + 1`` pixels apart (``r = 0``: the standard convolution), so this equals
    ``keras.layers.Conv2D(dilation_rate=r + 1, strides=stride, padding=padding)`` with kernel ``w`` —
    a cross-correlation, like every deep-learning "convolution" (the kernel is not flipped). Pixels outside
    the image (``p_top``, ``p_left`` of "same" padding) are zero. A kernel of ``k`` taps spans
    ``(k - 1)(r + 1) + 1`` pixels. TensorFlow's ``Conv2D`` refuses ``strides > 1`` together with
    ``dilation_rate > 1``; the formula has no such limit.

    Args:
        x: image(s), (H, W, C_in) or (B, H, W, C_in).
        w: kernel, (k_h, k_w, C_in, C_out).
        r: dilation radius, an integer >= 0 (Keras' ``dilation_rate`` is ``r + 1``).
        stride: an integer >= 1 or a pair (rows, columns).
        padding: "valid" (only positions where the whole kernel lies inside) or "same" (TensorFlow's:
            ``ceil(H / stride)`` outputs, zeros split evenly with the odd one at the bottom/right).
        bias: optional (C_out,).

    Returns:
        float64 array (H_out, W_out, C_out), or (B, H_out, W_out, C_out) for a batch. A "valid" kernel larger
        than the image gives an empty spatial axis.
    """
    x = check_finite(to_numpy(x, "x"), "x")
    if x.ndim not in (3, 4):
        raise ValueError(f"x: expected an image (H, W, C_in) or a batch (B, H, W, C_in), got shape {x.shape}")
    w = check_finite(to_numpy(w, "w"), "w")
    if w.ndim != 4 or 0 in w.shape[:2]:
        raise ValueError(f"w: expected a kernel of shape (k_h, k_w, C_in, C_out) with k >= 1, got shape {w.shape}")
    if w.shape[2] != x.shape[-1]:
        raise ValueError(f"w: has C_in = {w.shape[2]} input channels but x has {x.shape[-1]} (x shape {x.shape})")
    if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or r < 0:
        raise ValueError(f"r: expected the dilation radius, an integer >= 0 (0 = standard convolution), got {r!r}")
    sh, sw = _positive_pair(stride, "stride")
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
    padding = padding.lower()
    if bias is not None:
        bias = check_finite(to_numpy(bias, "bias"), "bias")
        if bias.shape != (w.shape[3],):
            raise ValueError(f"bias: expected shape ({w.shape[3]},), one per output channel, got {bias.shape}")

    single = x.ndim == 3
    xb = x[None] if single else x
    kh, kw = w.shape[:2]
    spacing = int(r) + 1
    out_h, top = _output_size_and_padding(xb.shape[1], kh, spacing, sh, padding)
    out_w, left = _output_size_and_padding(xb.shape[2], kw, spacing, sw, padding)

    # Zero-pad generously, then every tap reads a strided window: input row i*s + m*(r+1) - top.
    span_h, span_w = (kh - 1) * spacing + 1, (kw - 1) * spacing + 1
    bottom = max(0, (out_h - 1) * sh + span_h - top - xb.shape[1])
    right = max(0, (out_w - 1) * sw + span_w - left - xb.shape[2])
    xp = np.pad(xb, ((0, 0), (top, bottom), (left, right), (0, 0)))
    y = np.zeros((xb.shape[0], out_h, out_w, w.shape[3]))
    if out_h and out_w:
        for m in range(kh):
            for n in range(kw):
                rows = m * spacing + sh * np.arange(out_h)
                cols = n * spacing + sw * np.arange(out_w)
                y += xp[:, rows][:, :, cols] @ w[m, n]  # (B, out_h, out_w, C_in) @ (C_in, C_out)
    if bias is not None:
        y += bias
    return y[0] if single else y


def _check_feature_map(input_shape) -> None:
    """A layer's input must be (batch, height, width, channels) with known channels."""
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(
            f"inputs: expected a feature map (batch, height, width, channels) with known channels, "
            f"got shape {tuple(input_shape)}"
        )


@functools.cache
def _tensorflow_dilates_natively() -> bool:
    """Whether TensorFlow's own Conv2D op can compute, and differentiate, a dilated convolution here.

    Its oneDNN CPU kernels can (``cvlib.config`` switches them on); its other CPU kernels raise for dilation rates
    above 1 in the backward pass, which is why ``tf.nn.convolution``, Keras's path, goes around the op.
    """
    if keras.backend.backend() != "tensorflow":
        return False
    try:  # TensorFlow's own test; a private module, so a release without it means "no"
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


@keras.saving.register_keras_serializable(package="cvlib")
class DilatedConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose dilated convolutions run through TensorFlow's Conv2D op itself.

    Keras's TensorFlow backend computes a dilated convolution with ``tf.nn.convolution``, which turns it into an
    undilated one by space-to-batch: the input is cut into rate x rate interleaved sub-images, padded, convolved
    and put back together, copies that cost more the larger the rate. TensorFlow's oneDNN CPU kernels dilate in
    place, for the price of an undilated convolution: notebook 15's click networks train 1.2x faster with this
    layer (``make bench``). Same arguments, weights and config as ``Conv2D``, and the same outputs and gradients
    up to float rounding (the tests hold it to ``Conv2D``). Where that path does not apply (another backend,
    oneDNN off, strides or groups above 1, channels first) it is ``Conv2D`` unchanged.
    """

    def convolution_op(self, inputs, kernel):
        if (max(self.dilation_rate) > 1 and max(self.strides) == 1 and self.groups == 1
                and self.data_format == "channels_last" and _tensorflow_dilates_natively()):
            import tensorflow as tf

            return tf.nn.conv2d(inputs, kernel, strides=1, padding=self.padding.upper(),
                                dilations=(1, *self.dilation_rate, 1))
        return super().convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="cvlib")
class ASPP(keras.layers.Layer):
    """Atrous spatial pyramid pooling, as in DeepLabv3 (Chen et al. 2017, "Rethinking atrous convolution").

    Parallel branches look at the same feature map at several scales: a 1x1 convolution, one 3x3 convolution
    per dilation rate in ``rates``, and (``image_pooling=True``) an image-level branch — global average
    pooling, a 1x1 convolution, then upsampling back to the input's size. Each branch is
    convolution (no bias) + BatchNorm + ReLU with ``filters`` channels; their concatenation is projected by
    another 1x1 convolution + BatchNorm + ReLU (and optional dropout) to ``filters`` channels.

    ``rates`` are Keras dilation rates (DeepLab's convention; the lecture's radius is ``rate - 1``).
    DeepLabv3 uses (6, 12, 18) at output stride 16 and doubles them at output stride 8.

    Input (B, H, W, C), any H and W (they may differ from call to call); output (B, H, W, filters).
    """

    def __init__(
        self,
        filters: int,
        rates: Sequence[int] = (6, 12, 18),
        image_pooling: bool = True,
        dropout: float = 0.0,
        momentum: float = 0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"filters: expected a positive integer (channels of every branch), got {filters!r}")
        if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in rates
        ):
            raise ValueError(f"rates: expected a sequence of Keras dilation rates (integers >= 1), got {rates!r}")
        if not isinstance(image_pooling, (bool, np.bool_)):
            raise ValueError(f"image_pooling: expected True or False, got {image_pooling!r}")
        if not (np.isscalar(dropout) and 0.0 <= float(dropout) < 1.0):
            raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")
        if not (np.isscalar(momentum) and 0.0 <= float(momentum) < 1.0):
            raise ValueError(f"momentum: expected the BatchNorm momentum in [0, 1), got {momentum!r}")
        self.filters = int(filters)
        self.rates = tuple(int(v) for v in rates)
        self.image_pooling = bool(image_pooling)
        self.dropout = float(dropout)
        self.momentum = float(momentum)

        def conv(size, rate, name):
            return keras.layers.Conv2D(
                self.filters, size, padding="same", dilation_rate=rate, use_bias=False, name=name
            )

        def norm(name):
            return keras.layers.BatchNormalization(momentum=self.momentum, name=name)

        self.branch_convs = [conv(1, 1, "conv_1x1")] + [conv(3, v, f"conv_3x3_rate{v}") for v in self.rates]
        self.branch_norms = [norm("bn_1x1")] + [norm(f"bn_3x3_rate{v}") for v in self.rates]
        if self.image_pooling:
            self.pool_conv = conv(1, 1, "pool_conv")
            self.pool_norm = norm("pool_bn")
        self.project_conv = conv(1, 1, "project_conv")
        self.project_norm = norm("project_bn")
        self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None

    @property
    def num_branches(self) -> int:
        """Branches concatenated before the projection: 1x1, one per rate, and image pooling."""
        return 1 + len(self.rates) + int(self.image_pooling)

    def build(self, input_shape):
        _check_feature_map(input_shape)
        branch_shape = (*input_shape[:-1], self.filters)
        for conv, norm in zip(self.branch_convs, self.branch_norms):
            conv.build(input_shape)
            norm.build(branch_shape)
        if self.image_pooling:
            self.pool_conv.build((input_shape[0], 1, 1, input_shape[-1]))
            self.pool_norm.build((input_shape[0], 1, 1, self.filters))
        self.project_conv.build((*input_shape[:-1], self.filters * self.num_branches))
        self.project_norm.build(branch_shape)

    def call(self, inputs, training=None):
        branches = [
            ops.relu(norm(conv(inputs), training=training))
            for conv, norm in zip(self.branch_convs, self.branch_norms)
        ]
        if self.image_pooling:
            pooled = ops.mean(inputs, axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
            pooled = ops.relu(self.pool_norm(self.pool_conv(pooled), training=training))
            # Bilinear upsampling of a 1x1 map is a constant copy, so broadcasting is exact and size-agnostic.
            branches.append(ops.broadcast_to(pooled, ops.shape(branches[0])))
        x = ops.concatenate(branches, axis=-1)
        x = ops.relu(self.project_norm(self.project_conv(x), training=training))
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            rates=list(self.rates),
            image_pooling=self.image_pooling,
            dropout=self.dropout,
            momentum=self.momentum,
        )
        return config


@keras.saving.register_keras_serializable(package="cvlib")
class IACBlock(keras.layers.Layer):
    """Inception-Atrous-Collation block, the building block of the NEED interactive-segmentation network (notebook 15).

    Three ideas in one block (Rhodes et al. 2021, as the lecture presents it):

    - **Inception** (Szegedy et al. 2015): convolutions of several kernel sizes (``kernel_sizes``, default 1x1,
      3x3, 5x5) look at the same input at several fixed scales, side by side, their outputs concatenated;
    - **Atrous**: 3x3 convolutions at several dilation rates (``rates``, Keras dilation rates, default 2 and 4)
      widen the view further at the cost of a 3x3 kernel each;
    - **Collation**: a 1x1 convolution mixes ("collates") the result back to ``filters`` channels.

    ``arrangement`` says how the first two are put together:

    - ``"sequential"``, the lecture's block: the Inception module, then the atrous convolutions applied to its
      concatenated output (each rate sees every Inception scale), then the collation of the atrous outputs;
    - ``"parallel"`` (the default): the Inception and atrous branches all read the block's input, side by side,
      and the collation mixes all of them.

    Each branch is convolution (no bias) + BatchNorm + ReLU with ``branch_filters`` channels (default
    ``filters // 4``); the collation is 1x1 convolution (no bias) + BatchNorm, then, with ``residual=True``, the
    input is added (through a 1x1 projection when its channels differ from ``filters``), then ReLU.

    Weights, for ``C`` input channels, ``b`` branch channels, ``F`` filters, ``n_k`` kernel sizes and ``n_r``
    rates, besides 4 per channel of every BatchNorm and ``C F`` for a projection (``num_weights`` computes it):
    parallel ``C b (sum_k k^2 + 9 n_r) + (n_k + n_r) b F``; sequential
    ``C b sum_k k^2 + 9 n_k b^2 n_r + n_r b F`` (with no rates, the collation reads the Inception output; with
    no kernel sizes, the atrous convolutions read the input).

    Input (B, H, W, C); output (B, H, W, filters), same padding throughout.
    """

    def __init__(
        self,
        filters: int,
        kernel_sizes: Sequence[int] = (1, 3, 5),
        rates: Sequence[int] = (2, 4),
        branch_filters: int | None = None,
        residual: bool = True,
        momentum: float = 0.99,
        arrangement: str = "parallel",
        **kwargs,
    ):
        super().__init__(**kwargs)

        def positive(value, name):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
            return int(value)

        def sizes(values, name, odd):
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 and (v % 2 or not odd)
                for v in values
            ):
                what = "odd kernel sizes" if odd else "Keras dilation rates (integers >= 1)"
                raise ValueError(f"{name}: expected a sequence of {what}, got {values!r}")
            return tuple(int(v) for v in values)

        self.filters = positive(filters, "filters")
        self.kernel_sizes = sizes(kernel_sizes, "kernel_sizes", odd=True)
        self.rates = sizes(rates, "rates", odd=False)
        if not self.kernel_sizes and not self.rates:
            raise ValueError("kernel_sizes, rates: both are empty; the block needs at least one branch")
        self.branch_filters = positive(branch_filters if branch_filters is not None else max(1, self.filters // 4),
                                       "branch_filters")
        if not isinstance(residual, (bool, np.bool_)):
            raise ValueError(f"residual: expected True or False, got {residual!r}")
        self.residual = bool(residual)
        if not (np.isscalar(momentum) and 0.0 <= float(momentum) < 1.0):
            raise ValueError(f"momentum: expected the BatchNorm momentum in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        if arrangement not in ("parallel", "sequential"):
            raise ValueError(f"arrangement: expected 'parallel' or 'sequential', got {arrangement!r}")
        self.arrangement = arrangement

        def conv(filters, size, rate, name):
            return DilatedConv2D(filters, size, padding="same", dilation_rate=rate, use_bias=False, name=name)

        def norm(name):  # Keras's BatchNormalization, trained with TensorFlow's fused kernel
            return FusedBatchNormalization(momentum=self.momentum, name=name)

        b = self.branch_filters
        self.branch_convs = [conv(b, k, 1, f"inception_{k}x{k}") for k in self.kernel_sizes]
        self.branch_convs += [conv(b, 3, r, f"atrous_3x3_rate{r}") for r in self.rates]
        self.branch_norms = [norm(f"bn_{c.name}") for c in self.branch_convs]
        self.collate_conv = conv(self.filters, 1, 1, "collation_1x1")
        self.collate_norm = norm("bn_collation")
        self.projection = None

    @property
    def num_branches(self) -> int:
        """Inception and atrous branches in all."""
        return len(self.kernel_sizes) + len(self.rates)

    @property
    def _inception(self) -> range:
        return range(len(self.kernel_sizes))

    @property
    def _atrous(self) -> range:
        return range(len(self.kernel_sizes), self.num_branches)

    def _stage_channels(self, in_channels: int) -> tuple[int, int]:
        """(channels the atrous convolutions read, channels the collation reads)."""
        b, n_k, n_r = self.branch_filters, len(self.kernel_sizes), len(self.rates)
        if self.arrangement == "parallel":
            return in_channels, b * (n_k + n_r)
        atrous_in = b * n_k if n_k else in_channels
        return atrous_in, b * (n_r if n_r else n_k)

    def num_weights(self, in_channels: int) -> int:
        """The block's weight count (trainable + BatchNorm statistics) for ``in_channels`` input channels."""
        b, f, c = self.branch_filters, self.filters, int(in_channels)
        atrous_in, collated = self._stage_channels(c)
        count = c * b * sum(k * k for k in self.kernel_sizes) + atrous_in * b * 9 * len(self.rates)
        count += 4 * b * self.num_branches + collated * f + 4 * f
        if self.residual and c != f:
            count += c * f
        return count

    def build(self, input_shape):
        _check_feature_map(input_shape)
        atrous_in, collated = self._stage_channels(input_shape[-1])
        branch_shape = (*input_shape[:-1], self.branch_filters)
        for i in self._inception:
            self.branch_convs[i].build(input_shape)
        for i in self._atrous:
            self.branch_convs[i].build((*input_shape[:-1], atrous_in))
        for norm in self.branch_norms:
            norm.build(branch_shape)
        self.collate_conv.build((*input_shape[:-1], collated))
        self.collate_norm.build((*input_shape[:-1], self.filters))
        if self.residual and input_shape[-1] != self.filters:
            self.projection = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="projection_1x1")
            self.projection.build(input_shape)

    def _branches(self, x, indices, training):
        return [ops.relu(self.branch_norms[i](self.branch_convs[i](x), training=training)) for i in indices]

    def call(self, inputs, training=None):
        if self.arrangement == "parallel":
            collated = self._branches(inputs, range(self.num_branches), training)
        else:  # Inception module, then the atrous convolutions on its output
            collated = self._branches(inputs, self._inception, training)
            if self.rates:
                x = ops.concatenate(collated, axis=-1) if collated else inputs
                collated = self._branches(x, self._atrous, training)
        x = self.collate_norm(self.collate_conv(ops.concatenate(collated, axis=-1)), training=training)
        if self.residual:
            x = x + (self.projection(inputs) if self.projection is not None else inputs)
        return ops.relu(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_sizes=list(self.kernel_sizes),
            rates=list(self.rates),
            branch_filters=self.branch_filters,
            residual=self.residual,
            momentum=self.momentum,
            arrangement=self.arrangement,
        )
        return config
