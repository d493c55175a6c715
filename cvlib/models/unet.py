"""U-Net for semantic segmentation: the builder and the valid-padding geometry (notebook 11).

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation" (MICCAI 2015). A **contracting path** of blocks of two 3x3 convolutions with
ReLU, each block followed by 2x2 max-pooling that halves the resolution and the next block
doubling the channels; a **bottleneck** block; an **expansive path** in which a 2x2
up-convolution (``Conv2DTranspose``, stride 2) doubles the resolution and halves the channels,
the feature map of the same level of the contracting path is concatenated to it (the **skip
connection**), and two 3x3 convolutions follow; a final 1x1 convolution gives one score per
class and pixel. There are no dense layers, so the network takes any input size its geometry
allows.

With ``padding="valid"`` (the paper) every 3x3 convolution loses one pixel on each side, so the
output is smaller than the input (572 -> 388 for depth 4) and each skip connection must be
**cropped** to the size of the up-sampled map it joins; ``unet_geometry`` works the sizes out.
With ``padding="same"`` the output has the input's size, which is what the course trains.

Later lessons reuse ``build_unet``: interactive segmentation feeds it extra click channels
(``input_shape=(H, W, 5)``), dense correspondence uses its full-resolution features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["UNetGeometry", "build_unet", "unet_geometry", "valid_input_sizes"]

_PADDINGS = ("same", "valid")
_LOSS_PER_CONV = 2  # a 3x3 "valid" convolution drops one pixel on each side
_CONVS_PER_BLOCK = 2


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _padding(padding) -> str:
    if padding not in _PADDINGS:
        raise ValueError(f"padding: expected 'same' or 'valid', got {padding!r}")
    return padding


@dataclass(frozen=True)
class UNetGeometry:
    """Sizes along one spatial axis of a U-Net, for ``depth`` poolings.

    - ``input_size``, ``output_size``: of the network;
    - ``encoder_sizes[l]``: the feature map of contracting level ``l`` after its convolutions
      (what its skip connection carries), l = 0 (full resolution) ... depth - 1;
    - ``bottleneck_size``: after the bottleneck block (resolution 1 / 2**depth);
    - ``upsampled_sizes[l]``: the up-convolution's output arriving at level ``l``;
    - ``decoder_sizes[l]``: expansive level ``l`` after its convolutions (``decoder_sizes[0]`` is the output);
    - ``crops[l]``: pixels cropped from *each side* of skip ``l`` so it matches ``upsampled_sizes[l]``
      (all 0 for ``"same"`` padding).
    """

    input_size: int
    depth: int
    padding: str
    encoder_sizes: tuple[int, ...]
    bottleneck_size: int
    upsampled_sizes: tuple[int, ...]
    decoder_sizes: tuple[int, ...]
    crops: tuple[int, ...]

    @property
    def output_size(self) -> int:
        return self.decoder_sizes[0]


def valid_input_sizes(depth: int = 4, low: int = 1, high: int = 1024) -> list[int]:
    """Every input size in [low, high] that a valid-padding U-Net of ``depth`` accepts (ascending).

    Legal sizes are those for which every map before a pooling has an even size and every map
    stays at least 1 pixel: 2**depth * (b + 4) + 4 * (2**depth - 1) for a bottleneck input b,
    so they are 16 apart for depth 4 (..., 556, 572, 588, ...).
    """
    depth = _positive_int(depth, "depth")
    low, high = _positive_int(low, "low"), _positive_int(high, "high")
    sizes, b = [], 1
    while True:
        size = 2**depth * (b + 4) + 4 * (2**depth - 1)
        if size > high:
            return sizes
        if size >= low and _walk(size, depth, "valid") is not None:
            sizes.append(size)
        b += 1


def _walk(input_size: int, depth: int, padding: str) -> UNetGeometry | None:
    """The geometry of ``input_size``, or None if some map would be odd before a pooling or vanish."""
    shrink = _CONVS_PER_BLOCK * _LOSS_PER_CONV if padding == "valid" else 0
    size, encoder = input_size, []
    for _ in range(depth):
        size -= shrink
        if size < 2 or size % 2:
            return None
        encoder.append(size)
        size //= 2
    bottleneck = size - shrink
    if bottleneck < 1:
        return None
    size, upsampled, decoder, crops = bottleneck, [0] * depth, [0] * depth, [0] * depth
    for level in reversed(range(depth)):
        upsampled[level] = 2 * size
        # The difference is always even (see valid_input_sizes), so the crop is symmetric.
        crops[level] = (encoder[level] - upsampled[level]) // 2
        size = upsampled[level] - shrink
        if size < 1:
            return None
        decoder[level] = size
    return UNetGeometry(input_size, depth, padding, tuple(encoder), bottleneck, tuple(upsampled),
                        tuple(decoder), tuple(crops))


def unet_geometry(input_size: int, depth: int = 4, padding: str = "valid") -> UNetGeometry:
    """The feature-map sizes and skip crops of a U-Net along one axis of ``input_size`` pixels.

    ``unet_geometry(572, depth=4)`` gives the paper's figure: output 388, encoder maps
    568, 280, 136, 64, bottleneck 28, crops 88, 40, 16, 4 pixels per side. With
    ``padding="same"`` the sizes only halve and double, so ``input_size`` must be divisible by
    2**depth. Raises a ``ValueError`` naming the nearest legal sizes otherwise.
    """
    input_size = _positive_int(input_size, "input_size")
    depth = _positive_int(depth, "depth")
    padding = _padding(padding)
    geometry = _walk(input_size, depth, padding)
    if geometry is not None:
        return geometry
    if padding == "same":
        step = 2**depth
        below, above = input_size // step * step, (input_size // step + 1) * step
        near = [s for s in (below, above) if s > 0]
        raise ValueError(
            f"input_size: with padding='same' and depth {depth} the size must be divisible by 2**depth = {step}, "
            f"got {input_size}; the nearest legal sizes are {near}"
        )
    legal = valid_input_sizes(depth, high=max(2 * input_size, 64 * 2**depth))
    below = [s for s in legal if s < input_size][-1:]
    above = [s for s in legal if s > input_size][:1]
    raise ValueError(
        f"input_size: {input_size} is not legal for padding='valid' and depth {depth} (every map before a "
        f"2x2 pooling must have an even size, and no map may vanish); the nearest legal sizes are {below + above}"
    )


def _spatial(input_shape) -> tuple[tuple[int | None, int | None], int]:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if shape is None or len(shape) != 3:
        raise ValueError(f"input_shape: expected (height, width, channels), got {input_shape!r}")
    for side in shape[:2]:
        if side is not None and (isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1):
            raise ValueError(f"input_shape: height and width must be positive integers or None, got {input_shape!r}")
    channels = shape[2]
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"input_shape: the number of channels must be a positive integer, got {input_shape!r}")
    return (shape[0], shape[1]), int(channels)


def build_unet(
    input_shape: Sequence[int | None],
    num_classes: int,
    depth: int = 4,
    base_filters: int = 64,
    padding: str = "same",
    skip_connections: bool = True,
    batch_norm: bool = False,
    dropout: float = 0.0,
    activation: str | None = None,
    name: str = "unet",
):
    """Build a U-Net as a ``keras.Model``: images (B, H, W, C) -> scores (B, H', W', num_classes).

    Args:
        input_shape: (H, W, C). With ``padding="same"``, H and W must be divisible by 2**depth
            (or None, for any such size at run time); then H' = H, W' = W. With ``"valid"`` they
            must be given and legal (``unet_geometry``), and H', W' are the geometry's output sizes.
        num_classes: output channels; one per class (softmax), or 1 for a binary mask (sigmoid).
        depth: number of 2x2 poolings (the paper: 4).
        base_filters: channels of the first level, doubled at each level (the paper: 64,
            so 1,024 in the bottleneck).
        skip_connections: if False, the expansive path gets only the up-sampled maps (no concatenation);
            the ablation of notebook 11.
        batch_norm: batch normalisation after each 3x3 convolution (not in the paper, which predates it;
            it makes small-data CPU training much faster to converge), as
            ``cvlib.layers.FusedBatchNormalization``: Keras's layer, trained with TensorFlow's fused kernel.
        dropout: dropout rate after the bottleneck block (the paper drops out at the end of the
            contracting path).
        activation: of the 1x1 output layer; None (default) gives logits, for losses with ``from_logits=True``.
        name: the model's name.

    Layers are named by level l (0 = full resolution): ``enc{l}_conv{1,2}``, ``pool{l}``,
    ``bottleneck_conv{1,2}``, ``up{l}``, ``crop{l}`` (valid padding), ``skip{l}`` (the concatenation),
    ``dec{l}_conv{1,2}`` and ``scores``.
    """
    (height, width), channels = _spatial(input_shape)
    num_classes = _positive_int(num_classes, "num_classes")
    depth = _positive_int(depth, "depth")
    base_filters = _positive_int(base_filters, "base_filters")
    padding = _padding(padding)
    if not isinstance(skip_connections, (bool, np.bool_)):
        raise ValueError(f"skip_connections: expected True or False, got {skip_connections!r}")
    if not isinstance(batch_norm, (bool, np.bool_)):
        raise ValueError(f"batch_norm: expected True or False, got {batch_norm!r}")
    if not (np.isscalar(dropout) and 0.0 <= float(dropout) < 1.0):
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")
    if padding == "valid" and (height is None or width is None):
        raise ValueError(f"input_shape: padding='valid' needs a fixed height and width to crop the skips, got "
                         f"{tuple(input_shape)!r}")
    geometry = {}
    for axis, size in (("height", height), ("width", width)):
        if size is not None:
            try:
                geometry[axis] = unet_geometry(size, depth, padding)
            except ValueError as err:
                reason = str(err).removeprefix("input_size: ")
                raise ValueError(f"input_shape: the {axis} does not fit this U-Net: {reason}") from None

    import keras  # here, so that importing cvlib.models.unet (e.g. for unet_geometry) stays light
    from keras import layers

    from cvlib.layers.normalization import FusedBatchNormalization

    def block(x, filters, prefix):
        for i in (1, 2):
            x = layers.Conv2D(filters, 3, padding=padding, use_bias=not batch_norm, name=f"{prefix}_conv{i}")(x)
            if batch_norm:  # Keras's BatchNormalization, trained with TensorFlow's fused kernel
                x = FusedBatchNormalization(name=f"{prefix}_bn{i}")(x)
            x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
        return x

    inputs = keras.Input((height, width, channels), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = block(x, base_filters * 2**level, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = block(x, base_filters * 2**depth, "bottleneck")
    if dropout:
        x = layers.Dropout(float(dropout), name="bottleneck_dropout")(x)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}")(x)
        if skip_connections:
            skip = skips[level]
            if padding == "valid":
                crop_h, crop_w = geometry["height"].crops[level], geometry["width"].crops[level]
                skip = layers.Cropping2D(((crop_h, crop_h), (crop_w, crop_w)), name=f"crop{level}")(skip)
            x = layers.Concatenate(name=f"skip{level}")([skip, x])
        x = block(x, filters, f"dec{level}")
    outputs = layers.Conv2D(num_classes, 1, activation=activation, dtype="float32", name="scores")(x)
    return keras.Model(inputs, outputs, name=name)
