"""Siamese networks: one embedding network, called on both inputs, so the twins share every weight (notebook 08).

- ``build_embedding_cnn``: a small CNN from an image to an embedding (optionally on the unit sphere);
- ``build_siamese``: two inputs through the *same* embedding model, then either a learned head that outputs the
  probability that the pair is of one class (``head="bce"``: a dense layer on ``|e1 - e2|``, as Koch et al.,
  2015) or the Euclidean distance between the embeddings (``head="distance"``, for the contrastive loss);
- ``AbsDifference``, ``PairDistance``: the two heads' layers, registered so the models save as ``.keras``.

Triplet losses with in-batch mining need no twin at all: train the embedding model itself with
``cvlib.losses.BatchSemiHardTripletLoss`` on (image, label) batches.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from cvlib.losses.siamese import euclidean_distance

__all__ = ["AbsDifference", "PairDistance", "build_embedding_cnn", "build_siamese"]


@keras.saving.register_keras_serializable(package="cvlib")
class AbsDifference(layers.Layer):
    """``|e1 - e2|``, element-wise: the symmetric input of a Siamese classification head."""

    def call(self, inputs):
        first, second = inputs
        return ops.abs(first - second)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="cvlib")
class PairDistance(layers.Layer):
    """Euclidean distance ``||e1 - e2||`` per pair, shape ``(N, 1)``; gradient-safe at 0 (see ``cvlib.losses``)."""

    def call(self, inputs):
        first, second = inputs
        return ops.expand_dims(euclidean_distance(first, second), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


def build_embedding_cnn(input_shape=(8, 8, 1), embedding_dim: int = 32, width: int = 32, normalize: bool = True,
                        name: str = "embedding") -> keras.Model:
    """A small CNN: two 3x3 conv blocks (conv, batch norm, ReLU; the second twice as wide), max pooling, a
    third block, global average pooling, a dense layer to ``embedding_dim``, and with ``normalize`` an L2
    normalisation so every embedding lies on the unit sphere (distances then lie in [0, 2], and one margin
    means the same thing all through training).

    Sized for 8 x 8 digits and 28 x 28 glyphs on a laptop CPU (about 40k weights at the defaults).
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape: expected (height, width, channels), got {input_shape!r}")
    if embedding_dim < 1 or width < 1:
        raise ValueError(f"embedding_dim, width: expected positive sizes, got {embedding_dim} and {width}")
    inputs = keras.Input(input_shape)
    x = inputs
    for i, filters in enumerate([width, 2 * width, 2 * width]):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if i < 2 and min(x.shape[1], x.shape[2]) >= 4:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(embedding_dim)(x)
    if normalize:
        x = layers.UnitNormalization()(x)
    return keras.Model(inputs, x, name=name)


def build_siamese(embedding: keras.Model, head: str = "bce", name: str = "siamese") -> keras.Model:
    """Twin network: inputs ``(x1, x2)``, both through the one ``embedding`` model (shared weights).

    ``head="bce"``: output ``(N, 1)`` the probability that the pair shares a class, a sigmoid dense
    layer on ``|e1 - e2|`` (train with ``cvlib.losses.SiameseBCE``, ``y = 1`` for same);
    ``head="distance"``: output ``(N, 1)`` the distance ``||e1 - e2||`` (train with
    ``cvlib.losses.ContrastiveLoss``, ``Y = 0`` for similar).
    """
    if head not in ("bce", "distance"):
        raise ValueError(f"head: expected 'bce' or 'distance', got {head!r}")
    shape = embedding.input_shape[1:]
    first, second = keras.Input(shape, name="first"), keras.Input(shape, name="second")
    e1, e2 = embedding(first), embedding(second)  # one model called twice: the twins are the same weights
    if head == "bce":
        out = layers.Dense(1, activation="sigmoid", name="same_probability")(AbsDifference()([e1, e2]))
    else:
        out = PairDistance(name="distance")([e1, e2])
    return keras.Model([first, second], out, name=name)
