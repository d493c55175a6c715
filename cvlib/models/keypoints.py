"""Facial-landmark networks: the lecture's CNN regressor and a heatmap network with soft-argmax (notebook 07).

- ``build_keypoint_cnn``: the lecture's model. Blocks of 3x3 convolutions and 2x2 max pooling, then two fully
  connected layers, the last with 136 outputs: the 68 ``(x, y)`` points as one vector, trained with the mean
  squared error on **normalised** coordinates (``to_normalized``: the image centre is 0 and its edges about
  +-1, so the loss does not depend on the image size and the outputs start near the right scale).
- ``build_heatmap_net``: a fully convolutional network that outputs one heatmap per landmark at 1/4 of the
  input resolution, and a ``SoftArgmax2D`` layer that turns each heatmap into the expected ``(x, y)`` under its
  softmax (integral regression; Sun et al., 2018). It trains with the same MSE on the same normalised
  coordinates, so the two models are compared on equal terms; ``decode_heatmaps`` gives the hard argmax too.

Both take ``(N, S, S, C)`` images in [0, 1] and output ``(N, 136)`` normalised coordinates; ``predict_landmarks``
returns ``(N, 68, 2)`` pixels. ``SoftArgmax2D`` is registered, so the models save and load as ``.keras``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from cvlib._checks import check_finite, to_numpy
from cvlib.data.faces import NUM_LANDMARKS, check_images, check_landmarks

__all__ = [
    "SoftArgmax2D",
    "build_heatmap_net",
    "build_keypoint_cnn",
    "decode_heatmaps",
    "from_normalized",
    "predict_landmarks",
    "to_normalized",
]


def _size(size, name: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{name}: expected the image side in pixels (a positive integer), got {size!r}")
    return int(size)


def to_normalized(landmarks, size: int) -> np.ndarray:
    """Pixel landmarks ``(N, 68, 2)`` of ``size`` x ``size`` images to ``(N, 136)`` targets in about [-1, 1].

    ``u = (x - (size - 1) / 2) / (size / 2)``: 0 at the image centre, +-1 at the outer edges of the edge pixels.
    """
    pts = check_landmarks(landmarks, batch=True)
    size = _size(size)
    return ((pts - (size - 1) / 2) / (size / 2)).reshape(len(pts), -1).astype(np.float32)


def from_normalized(vectors, size: int) -> np.ndarray:
    """Inverse of ``to_normalized``: ``(N, 136)`` network outputs to ``(N, 68, 2)`` pixel landmarks."""
    v = check_finite(to_numpy(vectors, "vectors"), "vectors")
    if v.ndim != 2 or v.shape[1] != 2 * NUM_LANDMARKS:
        raise ValueError(f"vectors: expected (N, 136) normalised coordinates, got shape {v.shape}")
    size = _size(size)
    return v.reshape(len(v), NUM_LANDMARKS, 2) * (size / 2) + (size - 1) / 2


def _conv_block(x, filters: int, convs: int = 2, dilation: int = 1):
    for _ in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # short trainings: let the moving statistics catch up
        x = layers.ReLU()(x)
    return x


def _check_input_shape(input_shape) -> tuple[int, int, int]:
    if len(input_shape) != 3 or input_shape[0] != input_shape[1] or input_shape[2] not in (1, 3):
        raise ValueError(f"input_shape: expected a square (S, S, 1) or (S, S, 3), got {input_shape!r}")
    if input_shape[0] % 16:
        raise ValueError(f"input_shape: the side must be a multiple of 16 (four poolings), got {input_shape[0]}")
    return tuple(int(v) for v in input_shape)


def build_keypoint_cnn(input_shape=(64, 64, 3), widths=(32, 64, 128, 256), dense: int = 512,
                       dropout: float = 0.2, convs_per_block: int = 1, initial_landmarks=None,
                       name: str = "keypoint_cnn") -> keras.Model:
    """The lecture's landmark regressor: conv/max-pool blocks, two fully connected layers, 136 outputs.

    Each of the four blocks is ``convs_per_block`` 3x3 convolutions (batch norm, ReLU) and a 2x2 max pooling,
    so a 64 x 64 face becomes 4 x 4 x ``widths[-1]`` features; they are flattened (the fully connected layers
    need to know *where* a feature is, which global pooling would throw away), then ``Dense(dense)`` with ReLU
    and dropout, and ``Dense(136)`` linear: the normalised ``(x0, y0, ..., x67, y67)``. Train with MSE.

    ``initial_landmarks``: a ``(136,)`` normalised shape the untrained network predicts for every face (pass
    the mean training shape); default the image centre. The output layer starts with zero weights and this
    shape as its bias, so training learns corrections to it from the first step.
    """
    input_shape = _check_input_shape(input_shape)
    if len(widths) != 4 or min(widths) < 1 or dense < 1 or not 0 <= dropout < 1 or convs_per_block < 1:
        raise ValueError(f"widths, dense, dropout, convs_per_block: expected 4 positive widths, dense >= 1, "
                         f"dropout in [0, 1), convs_per_block >= 1, got {widths!r}, {dense!r}, {dropout!r}, "
                         f"{convs_per_block!r}")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for filters in widths:
        x = _conv_block(x, filters, convs=convs_per_block)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout)(x)
    # Why not the default initialisation: the 136 outputs would start with a spread of about 2 (the targets
    # lie within +-0.7), and Adam, which moves each weight by about its learning rate per step, would spend
    # hundreds of steps undoing that, then as many moving the biases to the mean face, before learning
    # anything about the image.
    bias = "zeros"
    if initial_landmarks is not None:
        start = check_finite(to_numpy(initial_landmarks, "initial_landmarks"), "initial_landmarks")
        if start.shape != (2 * NUM_LANDMARKS,):
            raise ValueError(f"initial_landmarks: expected a (136,) normalised shape, got shape {start.shape}")
        bias = keras.initializers.Constant(start.tolist())
    outputs = layers.Dense(2 * NUM_LANDMARKS, kernel_initializer="zeros", bias_initializer=bias,
                           name="landmarks")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="cvlib")
class SoftArgmax2D(layers.Layer):
    """Heatmaps ``(N, h, w, K)`` to the expected ``(x, y)`` of each under its spatial softmax, ``(N, 2K)``.

    ``stride``: input pixels per heatmap cell; ``image_size``: the input side, so the output is in the
    normalised coordinates of ``to_normalized`` (heatmap cell ``j`` has its centre at pixel
    ``(j + 0.5) * stride - 0.5``). ``beta`` sharpens the softmax. Differentiable, unlike a hard argmax.
    """

    def __init__(self, stride: int, image_size: int, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.stride, self.image_size, self.beta = int(stride), int(image_size), float(beta)

    def call(self, heatmaps):
        shape = ops.shape(heatmaps)
        h, w, k = heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3]
        flat = ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (shape[0], k, h * w))
        prob = ops.reshape(ops.softmax(self.beta * flat, axis=-1), (shape[0], k, h, w))
        half = self.image_size / 2
        xs = ((ops.arange(w, dtype="float32") + 0.5) * self.stride - 0.5 - (self.image_size - 1) / 2) / half
        ys = ((ops.arange(h, dtype="float32") + 0.5) * self.stride - 0.5 - (self.image_size - 1) / 2) / half
        x = ops.sum(ops.sum(prob, axis=2) * xs, axis=-1)  # marginal over rows, then expectation over columns
        y = ops.sum(ops.sum(prob, axis=3) * ys, axis=-1)
        return ops.reshape(ops.stack([x, y], axis=-1), (shape[0], 2 * k))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[3])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "image_size": self.image_size, "beta": self.beta}


def build_heatmap_net(input_shape=(64, 64, 3), width: int = 32, name: str = "heatmap_net") -> keras.Model:
    """A heatmap landmark network: 68 heatmaps at 1/4 resolution decoded by ``SoftArgmax2D`` to ``(N, 136)``.

    Two conv blocks with pooling bring the input to 1/4 resolution; dilated convolutions (rates 2, 4, 8) then
    widen the receptive field to the whole face without losing resolution (the jaw's position depends on the
    whole face); a 1x1 convolution gives one heatmap per landmark (layer ``"heatmaps"``).
    """
    input_shape = _check_input_shape(input_shape)
    if width < 1:
        raise ValueError(f"width: expected a positive number of filters, got {width!r}")
    inputs = keras.Input(input_shape, name="image")
    x = _conv_block(inputs, width, convs=1)
    x = layers.MaxPooling2D()(x)
    x = _conv_block(x, 2 * width, convs=1)
    x = layers.MaxPooling2D()(x)
    x = _conv_block(x, 3 * width, convs=1)
    for rate in (2, 4, 8):
        x = _conv_block(x, 3 * width, convs=1, dilation=rate)
    heatmaps = layers.Conv2D(NUM_LANDMARKS, 1, name="heatmaps")(x)
    outputs = SoftArgmax2D(stride=4, image_size=input_shape[0], name="landmarks")(heatmaps)
    return keras.Model(inputs, outputs, name=name)


def decode_heatmaps(heatmaps, image_size: int, method: str = "argmax", beta: float = 1.0) -> np.ndarray:
    """Pixel landmarks ``(N, K, 2)`` from heatmaps ``(N, h, w, K)`` of a ``image_size``-pixel input.

    ``method="argmax"``: the centre of the hottest cell (quantised to the heatmap's stride);
    ``"soft"``: the softmax expectation, as ``SoftArgmax2D`` computes it (sub-cell precision).
    """
    hm = check_finite(to_numpy(heatmaps, "heatmaps"), "heatmaps")
    if hm.ndim != 4:
        raise ValueError(f"heatmaps: expected (N, h, w, K), got shape {hm.shape}")
    if method not in ("argmax", "soft"):
        raise ValueError(f"method: expected 'argmax' or 'soft', got {method!r}")
    image_size = _size(image_size, "image_size")
    n, h, w, k = hm.shape
    stride_x, stride_y = image_size / w, image_size / h
    cx, cy = (np.arange(w) + 0.5) * stride_x - 0.5, (np.arange(h) + 0.5) * stride_y - 0.5
    flat = hm.transpose(0, 3, 1, 2).reshape(n, k, h * w)
    if method == "argmax":
        idx = flat.argmax(-1)
        return np.stack([cx[idx % w], cy[idx // w]], axis=-1)
    z = beta * flat
    prob = np.exp(z - z.max(-1, keepdims=True))
    prob = (prob / prob.sum(-1, keepdims=True)).reshape(n, k, h, w)
    return np.stack([(prob.sum(2) * cx).sum(-1), (prob.sum(3) * cy).sum(-1)], axis=-1)


def predict_landmarks(model: keras.Model, images, batch_size: int = 256) -> np.ndarray:
    """Run a landmark ``model`` on ``(N, S, S, C)`` images in [0, 1]; returns ``(N, 68, 2)`` pixel landmarks."""
    imgs = check_images(images, channels=(model.input_shape[-1],))
    if imgs.shape[1:3] != tuple(model.input_shape[1:3]):
        raise ValueError(f"images: expected {model.input_shape[1]} x {model.input_shape[2]} images for this model, "
                         f"got {imgs.shape[1]} x {imgs.shape[2]}; crop and resize them first")
    if not len(imgs):
        return np.zeros((0, NUM_LANDMARKS, 2))
    out = model.predict(imgs.astype(np.float32), batch_size=batch_size, verbose=0)
    return from_normalized(out, imgs.shape[1])
