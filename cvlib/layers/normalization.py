"""``FusedBatchNormalization``: Keras's ``BatchNormalization`` trained with TensorFlow's fused kernel.

Keras 3 computes a training-mode batch normalisation from its parts: the batch's mean and variance
(two reductions), then a handful of elementwise operations, each differentiated on its own. TensorFlow has one
kernel that does it all (``FusedBatchNormV3``, forward and backward), which Keras 2 used by default
(``BatchNormalization(fused=True)``). On a CPU a training step of notebook 11's U-Net is faster with it (``make bench``
measures how much).
"""

from __future__ import annotations

import keras

# TensorFlow's fused kernel needs at least this epsilon (its Python wrapper raises smaller ones to it)
_FUSED_MIN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="cvlib")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training step runs TensorFlow's fused batch-norm kernel.

    Same arguments, weights, config and semantics as Keras's layer: in training, each channel is normalised with
    the batch's mean and (biased) variance, scaled by ``gamma`` and shifted by ``beta``, and the moving statistics
    move towards the batch's by ``1 - momentum``; at inference, the moving statistics are used. Outputs, gradients
    and moving statistics equal Keras's up to float rounding (the tests hold it to Keras's layer).

    The fused kernel is used for float32 inputs of rank 4 (B, H, W, C) or 5 (B, D, H, W, C) normalised over their
    last axis, in training, on the TensorFlow backend; everything else (inference, another backend or axis, a
    mask, ``synchronized=True``, ``renorm=True``, an epsilon below 1.001e-5, other dtypes) is Keras's own
    computation.
    """

    def _fused_applies(self, inputs, training, mask) -> bool:
        return (bool(training) and self.trainable and mask is None and not self.synchronized and not self.renorm
                and keras.backend.backend() == "tensorflow" and len(inputs.shape) in (4, 5)
                and self.axis in (-1, len(inputs.shape) - 1) and self.epsilon >= _FUSED_MIN_EPSILON
                and keras.backend.standardize_dtype(inputs.dtype) == "float32" and self.compute_dtype == "float32")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), inputs.dtype)
        beta = self.beta if self.center else tf.zeros((channels,), inputs.dtype)
        layout = "NHWC" if len(inputs.shape) == 4 else "NDHWC"
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format=layout, is_training=True)[:3]
        # the kernel returns the unbiased variance (divided by n - 1); Keras's moving variance follows the biased one
        count = tf.cast(tf.size(inputs) // channels, variance.dtype)
        variance = variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs
