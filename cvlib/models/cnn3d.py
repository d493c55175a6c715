"""3D convolutional networks for volumes: the convolution written out, a CT classifier, 3D Grad-CAM.

Notebook 06 (3D CNNs on CT scans). ``conv3d_reference`` is the lecture's formula as a
direct NumPy sum (the reference the tests hold ``keras.layers.Conv3D`` to);
``build_cnn3d`` is the classifier of the keras-io example "3D image classification
from CT scans" (Conv3D / MaxPool3D / BatchNormalization blocks, global average
pooling, dense, dropout, sigmoid), narrower so that it trains on a laptop CPU;
``grad_cam_3d`` shows which voxels a prediction rests on (Selvaraju et al., 2017,
"Grad-CAM", extended to three spatial axes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvlib._checks import check_finite, to_numpy


def conv3d_reference(x, kernel, bias=None, stride: int | Sequence[int] = 1, padding: str = "valid") -> np.ndarray:
    """3D convolution (cross-correlation, as deep-learning layers compute it) as a direct sum, in float64.

    For filter ``p`` of a layer with ``d`` input channels and ``K1 x K2 x K3`` kernels,

        y[n, i, j, k, p] = b[p] + sum_{c < d} sum_{u < K1} sum_{v < K2} sum_{w < K3}
                           W[u, v, w, c, p] * x[n, s1*i + u, s2*j + v, s3*k + w, c]

    ``x``: ``(N, D1, D2, D3, d)`` (channels last, like Keras); ``kernel``: ``(K1, K2, K3, d, P)``
    (the layout of ``Conv3D.kernel``): each filter is a 4-D tensor ``K1 x K2 x K3 x d``;
    ``bias``: ``(P,)`` or None; ``padding``: ``"valid"`` or ``"same"`` (zeros, split as
    TensorFlow splits them). Returns ``(N, O1, O2, O3, P)``. The loop runs over the
    kernel's ``K1*K2*K3`` offsets, each a matrix product over channels, so it stays readable
    and is fast enough for tests.
    """
    x = check_finite(to_numpy(x, "x"), "x")
    w = check_finite(to_numpy(kernel, "kernel"), "kernel")
    if x.ndim != 5:
        raise ValueError(f"x: expected shape (N, D1, D2, D3, channels), got {x.shape}")
    if w.ndim != 5:
        raise ValueError(f"kernel: expected shape (K1, K2, K3, in_channels, filters), got {w.shape}")
    if w.shape[3] != x.shape[4]:
        raise ValueError(f"kernel: has {w.shape[3]} input channels but x has {x.shape[4]} (shape {w.shape})")
    strides = (stride,) * 3 if isinstance(stride, (int, np.integer)) else tuple(int(s) for s in stride)
    if len(strides) != 3 or min(strides) < 1:
        raise ValueError(f"stride: expected a positive integer or three of them, got {stride!r}")
    if padding not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
    K = w.shape[:3]
    if padding == "same":
        pads = []
        for size, k, s in zip(x.shape[1:4], K, strides):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    out_shape = [(size - k) // s + 1 for size, k, s in zip(x.shape[1:4], K, strides)]
    if min(out_shape) < 1:
        raise ValueError(f"kernel: {K} is larger than the (padded) input {x.shape[1:4]}")
    y = np.zeros((x.shape[0], *out_shape, w.shape[4]))
    s1, s2, s3 = strides
    O1, O2, O3 = out_shape
    for u in range(K[0]):
        for v in range(K[1]):
            for t in range(K[2]):
                patch = x[:, u : u + s1 * O1 : s1, v : v + s2 * O2 : s2, t : t + s3 * O3 : s3, :]
                y += patch @ w[u, v, t]  # (N, O1, O2, O3, d) @ (d, P): the sum over input channels
    if bias is not None:
        b = to_numpy(bias, "bias").ravel()
        if b.shape != (w.shape[4],):
            raise ValueError(f"bias: expected {w.shape[4]} values (one per filter), got shape {b.shape}")
        y += b
    return y


def conv_cost(input_shape: Sequence[int], filters: int, kernel: int, in_channels: int, dims: int = 3):
    """Parameters and multiply-adds of one convolution layer with 'same' padding and stride 1.

    ``input_shape`` is the spatial size (2 or 3 sizes). Returns ``(params, macs)``:
    ``params = K^dims * in_channels * filters + filters``, ``macs = prod(input_shape) * K^dims *
    in_channels * filters``.
    """
    spatial = [int(s) for s in input_shape]
    if len(spatial) != dims or min(spatial) < 1:
        raise ValueError(f"input_shape: expected {dims} positive sizes, got {input_shape}")
    weights = kernel**dims * in_channels * filters
    return weights + filters, int(np.prod(spatial)) * weights


def build_cnn3d(
    input_shape: Sequence[int] = (64, 64, 32, 1),
    filters: Sequence[int] = (8, 16, 32, 64),
    dense: int = 64,
    dropout: float = 0.3,
    bn_momentum: float = 0.9,
    name: str = "cnn3d",
):
    """A 3D CNN for binary classification of volumes (keras-io's CT classifier, sized for a CPU).

    ``input_shape``: ``(X, Y, Z, channels)``. One block per entry of ``filters``:
    ``Conv3D(f, 3, padding="same") -> BatchNormalization -> ReLU -> MaxPool3D(2)``;
    then global average pooling, ``Dense(dense, relu)``, ``Dropout(dropout)`` and one
    sigmoid unit: the probability that the scan is abnormal. The keras-io model uses
    filters (64, 64, 128, 256), dense 512 and 128 x 128 x 64 inputs ("valid" padding);
    the defaults here (on 64 x 64 x 32) cost about 200x fewer multiply-adds. keras-io normalises after pooling
    (conv, ReLU, pool, BN); normalising the convolution's output before the ReLU (the
    order of ResNet and most CNNs since) trains far more stably on small batches, and makes
    the convolution's bias redundant. ``bn_momentum`` is 0.9 rather than
    Keras's 0.99: with a few dozen steps per epoch the moving statistics used at validation
    time would otherwise lag far behind the weights. Returns an uncompiled
    ``keras.Model``; its last ``Conv3D`` is named ``"last_conv"`` (for ``grad_cam_3d``).
    """
    import keras
    from keras import layers

    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"input_shape: expected (X, Y, Z, channels), got {tuple(input_shape)}")
    if not filters or min(int(f) for f in filters) < 1:
        raise ValueError(f"filters: expected one positive number of filters per block, got {filters!r}")
    if min(shape[:3]) < 2 ** len(filters):
        raise ValueError(
            f"input_shape: {shape[:3]} is too small for {len(filters)} blocks of 2x pooling "
            f"(every side needs at least {2 ** len(filters)} voxels)"
        )
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")
    inputs = keras.Input(shape, name="volume")
    x = inputs
    for i, f in enumerate(filters):
        conv = "last_conv" if i == len(filters) - 1 else f"conv{i + 1}"
        x = layers.Conv3D(int(f), 3, padding="same", use_bias=False, name=conv)(x)
        x = layers.BatchNormalization(momentum=float(bn_momentum), name=f"bn{i + 1}")(x)
        x = layers.Activation("relu", name=f"relu{i + 1}")(x)
        x = layers.MaxPool3D(2, name=f"pool{i + 1}")(x)
    x = layers.GlobalAveragePooling3D(name="gap")(x)
    x = layers.Dense(int(dense), activation="relu", name="dense")(x)
    x = layers.Dropout(float(dropout), name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="abnormal")(x)
    return keras.Model(inputs, outputs, name=name)


def recalibrate_batchnorm(model, volumes, batch_size: int = 8, max_samples: int | None = None) -> int:
    """Replace every BatchNormalization layer's moving statistics by their average over ``volumes``.

    "Precise BN" (Wu & Johnson, 2021, "Rethinking 'Batch' in BatchNorm"): during training the
    moving averages trail the weights, which change at every step; with a few dozen steps per
    epoch the inference-time statistics can be far off and a network that ranks scans well
    outputs nearly the same probability for all of them. Running the model in training mode
    over un-augmented ``volumes`` (``(N, X, Y, Z)`` or with the channel axis), with the
    momentum of the k-th batch set to ``(k - 1) / k``, makes the moving mean and variance the
    plain average of the batches' statistics. Returns the number of volumes used.
    """
    import keras

    x = to_numpy(volumes, "volumes", dtype=np.float32)
    if x.ndim == len(model.input_shape) - 1:
        x = x[..., None]
    if x.shape[1:] != tuple(model.input_shape[1:]):
        raise ValueError(f"volumes: expected shape (N, *{tuple(model.input_shape[1:])}), got {x.shape}")
    if max_samples is not None:
        x = x[: int(max_samples)]
    if len(x) == 0:
        raise ValueError("volumes: expected at least one volume, got none")
    layers = [lyr for lyr in model.layers if isinstance(lyr, keras.layers.BatchNormalization)]
    saved = [lyr.momentum for lyr in layers]
    try:
        for k, start in enumerate(range(0, len(x), int(batch_size))):
            for lyr in layers:
                lyr.momentum = k / (k + 1)  # the first batch replaces the statistics, later ones average in
            model(x[start : start + int(batch_size)], training=True)
    finally:
        for lyr, momentum in zip(layers, saved):
            lyr.momentum = momentum
    return len(x)


def precise_batchnorm_callback(volumes, batch_size: int = 8, max_samples: int = 96):
    """A Keras callback that calls ``recalibrate_batchnorm`` before every validation pass of ``fit``.

    So the validation metrics (and early stopping, and ``restore_best_weights``) see the
    statistics the model will have at inference. ``volumes``: un-augmented training volumes;
    ``max_samples`` of them are used (about 10% extra compute per epoch with the defaults).
    """
    import keras

    class PreciseBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            recalibrate_batchnorm(self.model, volumes, batch_size=batch_size, max_samples=max_samples)

    return PreciseBatchNorm()


def grad_cam_3d(model, volume, layer: str = "last_conv", upsample: bool = True) -> np.ndarray:
    """3D Grad-CAM of a sigmoid classifier for one volume: where the evidence for "abnormal" lies.

    The gradient of the output with respect to the feature maps ``A_k`` of ``layer``
    (a Conv3D), averaged over its three spatial axes, weighs each map:
    ``cam = relu(sum_k alpha_k A_k)``, ``alpha_k = mean_xyz d y / d A_k``. ``volume``: ``(X, Y, Z)``
    or ``(X, Y, Z, C)``. Returns the map scaled to [0, 1] (all zeros when nothing in the
    volume argues for the class), resized linearly to ``(X, Y, Z)`` unless ``upsample=False``.
    """
    import keras
    import tensorflow as tf  # gradients of a Keras model on the TensorFlow backend
    from scipy import ndimage

    v = check_finite(to_numpy(volume, "volume", dtype=np.float32), "volume")
    expected = tuple(model.input_shape[1:])
    if v.ndim == len(expected) - 1:
        v = v[..., None]
    if v.shape != expected:
        got = to_numpy(volume, "volume").shape
        raise ValueError(f"volume: expected shape {expected[:-1]} or {expected}, got {got}")
    try:
        target = model.get_layer(layer)
    except ValueError:
        names = [lyr.name for lyr in model.layers if isinstance(lyr, keras.layers.Conv3D)]
        raise ValueError(f"layer: the model has no layer {layer!r}; its Conv3D layers are {names}") from None
    probe = keras.Model(model.input, [target.output, model.output])
    with tf.GradientTape() as tape:
        maps, prob = probe(v[None], training=False)
        score = prob[:, 0]
    grads = tape.gradient(score, maps)
    alpha = tf.reduce_mean(grads, axis=(1, 2, 3), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(alpha * maps, axis=-1))[0].numpy()
    peak = cam.max()
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    if upsample:
        factors = [t / s for t, s in zip(expected[:3], cam.shape)]
        cam = ndimage.zoom(cam, factors, order=1, grid_mode=True, mode="nearest")
    return np.clip(cam, 0.0, 1.0).astype(np.float32)


__all__ = [
    "build_cnn3d", "conv3d_reference", "conv_cost", "grad_cam_3d",
    "precise_batchnorm_callback", "recalibrate_batchnorm",
]
