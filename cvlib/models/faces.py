"""A DeepFace-style face embedding for verification (notebook 09).

DeepFace (Taigman et al., 2014) aligns every face, then maps it with a deep network to a feature vector and
verifies two faces by the distance between their vectors. Because the faces are aligned, every pixel of the
input sits on the same part of every face, so after a few convolutions the network ends in *fully connected*
layers (DeepFace used locally connected ones) that can use *where* a feature is — which a misaligned face would
scramble. ``build_face_embedding`` follows that shape at laptop scale: conv/pool blocks, a flatten, two dense
layers, and an L2 normalisation so distances lie in [0, 2] and one margin or threshold fits the whole training.
Train it with a contrastive or triplet loss from ``cvlib.losses`` (no classification layer is needed).
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["build_face_embedding"]


def build_face_embedding(input_shape=(48, 48, 3), embedding_dim: int = 64, widths=(32, 64, 128), dense: int = 256,
                         dropout: float = 0.2, name: str = "face_embedding") -> keras.Model:
    """Face images ``(N, S, S, C)`` in [0, 1] to unit-length embeddings ``(N, embedding_dim)``.

    One 3x3 conv (batch norm, ReLU) and a 2x2 max pooling per entry of ``widths``, then flatten,
    ``Dense(dense)`` with ReLU and dropout, ``Dense(embedding_dim)`` and ``UnitNormalization``.
    """
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(f"input_shape: expected (height, width, 1 or 3), got {input_shape!r}")
    if min(input_shape[:2]) < 2 ** len(widths):
        raise ValueError(f"input_shape: {input_shape[:2]} is too small for {len(widths)} poolings")
    if embedding_dim < 1 or dense < 1 or not widths or min(widths) < 1 or not 0 <= dropout < 1:
        raise ValueError(f"embedding_dim, dense, widths, dropout: expected positive sizes and dropout in [0, 1), got "
                         f"{embedding_dim!r}, {dense!r}, {widths!r}, {dropout!r}")
    inputs = keras.Input(input_shape, name="face")
    x = inputs
    for filters in widths:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)  # keep the layout: on aligned faces, position means "which part of the face"
    x = layers.Dense(dense, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(embedding_dim)(x)
    outputs = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, outputs, name=name)
