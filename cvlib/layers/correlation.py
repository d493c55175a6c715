"""Cross-correlation of an exemplar embedding with a search embedding: SiamFC's score map (notebook 10).

Bertinetto, Valmadre, Henriques, Vedaldi and Torr, "Fully-Convolutional Siamese Networks for
Object Tracking" (ECCV 2016 workshops), eq. (2):

    f(z, x) = scale * (phi(z) * phi(x)) + b

where ``*`` slides the exemplar's embedding phi(z), (Hz, Wz, C), over the search image's
embedding phi(x), (Hx, Wx, C), and sums the products over its window and channels: a
convolution (in the deep-learning sense) of phi(x) with phi(z) as a one-filter kernel, which
gives a score map of (Hx - Hz + 1) x (Wx - Wz + 1). The paper's "adjust" is ``scale = 0.001``
and a learned bias ``b``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cvlib._checks import check_finite, to_numpy

__all__ = ["CrossCorrelation", "cross_correlation_reference"]


@keras.saving.register_keras_serializable(package="cvlib")
class CrossCorrelation(keras.layers.Layer):
    """Batched cross-correlation: ``[exemplar (B, Hz, Wz, C), search (B, Hx, Wx, C)] -> (B, Hx-Hz+1, Wx-Wz+1, 1)``.

    Each exemplar is correlated with *its own* search embedding (pair ``i`` with pair ``i``).
    The batch is folded into the channels so one depthwise convolution does every pair at once
    (the "grouped convolution" trick of SiamFC's implementations): the search maps become one
    image with B*C channels, the exemplars B*C single-channel kernels; summing each pair's C
    outputs gives its score map.

    Args:
        scale: the factor applied to the raw correlation (SiamFC: 0.001, which keeps the initial
            scores in the range where the logistic loss has a useful gradient).
        trainable_scale: learn the scale (starting at ``scale``) instead of fixing it.
        use_bias: add one learned scalar bias (SiamFC's adjust layer does).
    """

    def __init__(self, scale: float = 1e-3, trainable_scale: bool = False, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        scale = float(scale)
        if not np.isfinite(scale) or scale == 0:
            raise ValueError(f"scale: expected a finite, non-zero number, got {scale!r}")
        self.scale = scale
        self.trainable_scale = bool(trainable_scale)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        self._shapes(input_shape)  # validates the two shapes
        if self.trainable_scale:
            self.scale_weight = self.add_weight(
                name="scale", shape=(), initializer=keras.initializers.Constant(self.scale), trainable=True
            )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(), initializer="zeros", trainable=True)

    @staticmethod
    def _shapes(input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"inputs: expected [exemplar, search], got {input_shape!r}")
        z, x = (tuple(s) for s in input_shape)
        if len(z) != 4 or len(x) != 4:
            raise ValueError(f"inputs: expected two 4-D (batch, height, width, channels) tensors, got {z} and {x}")
        if z[-1] is not None and x[-1] is not None and z[-1] != x[-1]:
            raise ValueError(f"inputs: exemplar has {z[-1]} channels but search has {x[-1]}")
        for i in (1, 2):
            if None not in (z[i], x[i]) and z[i] > x[i]:
                raise ValueError(f"inputs: the exemplar {z[1:3]} must not be larger than the search image {x[1:3]}")
        return z, x

    def compute_output_shape(self, input_shape):
        z, x = self._shapes(input_shape)
        size = [None if None in (x[i], z[i]) else x[i] - z[i] + 1 for i in (1, 2)]
        return (x[0] if x[0] is not None else z[0], size[0], size[1], 1)

    def call(self, inputs):
        exemplar, search = inputs
        b = ops.shape(search)[0]
        hz, wz, c = exemplar.shape[1], exemplar.shape[2], exemplar.shape[3]
        hx, wx = search.shape[1], search.shape[2]
        # Search: (B, Hx, Wx, C) -> (1, Hx, Wx, B*C); exemplar: (B, Hz, Wz, C) -> (Hz, Wz, B*C, 1).
        x = ops.reshape(ops.transpose(search, (1, 2, 0, 3)), (1, hx, wx, -1))
        k = ops.reshape(ops.transpose(exemplar, (1, 2, 0, 3)), (hz, wz, -1, 1))
        y = ops.depthwise_conv(x, k, strides=1, padding="valid")  # (1, Ho, Wo, B*C)
        ho, wo = hx - hz + 1, wx - wz + 1
        y = ops.sum(ops.reshape(y, (ho, wo, b, c)), axis=-1)  # each pair's C channels summed
        y = ops.expand_dims(ops.transpose(y, (2, 0, 1)), -1)  # (B, Ho, Wo, 1)
        y = y * (self.scale_weight if self.trainable_scale else self.scale)
        if self.use_bias:
            y = y + self.bias
        return y

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "trainable_scale": self.trainable_scale,
            "use_bias": self.use_bias,
        }


def cross_correlation_reference(exemplar, search) -> np.ndarray:
    """The definition as a direct loop, in float64: (B, Hz, Wz, C), (B, Hx, Wx, C) -> (B, Ho, Wo).

    ``out[n, i, j] = sum_{u, v, c} exemplar[n, u, v, c] * search[n, i + u, j + v, c]``
    (no scale, no bias): the reference the tests hold ``CrossCorrelation`` to.
    """
    z = check_finite(to_numpy(exemplar, "exemplar"), "exemplar")
    x = check_finite(to_numpy(search, "search"), "search")
    if z.ndim != 4 or x.ndim != 4 or z.shape[0] != x.shape[0] or z.shape[3] != x.shape[3]:
        raise ValueError(f"exemplar, search: expected (B, Hz, Wz, C) and (B, Hx, Wx, C), got {z.shape} and {x.shape}")
    if z.shape[1] > x.shape[1] or z.shape[2] > x.shape[2]:
        raise ValueError(f"exemplar: {z.shape[1:3]} is larger than the search map {x.shape[1:3]}")
    ho, wo = x.shape[1] - z.shape[1] + 1, x.shape[2] - z.shape[2] + 1
    out = np.zeros((z.shape[0], ho, wo))
    for n in range(z.shape[0]):
        for i in range(ho):
            for j in range(wo):
                out[n, i, j] = np.sum(z[n] * x[n, i : i + z.shape[1], j : j + z.shape[2]])
    return out
