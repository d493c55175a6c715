"""Click-conditioned segmentation networks, the selection network and a click session (notebook 15).

The network sees the image and the user's clicks, encoded as two maps (``cvlib.data.clicks``), stacked into
one (H, W, 5) input: RGB in [0, 1] and the positive and negative distance maps truncated at the image's longer
side L and divided by it, ``min(d, L) / L``, so every channel lies in [0, 1] and "no click of this kind" is 1
everywhere. Xu et al. truncate at 255 and feed the raw values, which suits 500-pixel photographs; on a 48-pixel
crop the maps would span only a fifth of that range and be almost flat around a click.
It is class-agnostic: it is never told *what* the object is, only *where* the user clicked.

- ``build_click_fcn``: a fully-convolutional network of dilated convolutions, after Li et al. (CVPR 2018) and
  the context module of Yu and Koltun (2016): a full-resolution stem, one stride-2 convolution (it quarters
  the cost of everything after it), a stack of 3x3 convolutions whose dilation rates grow (1, 2, 4, 8, 1) so
  the receptive field covers the whole crop without pooling, bilinear upsampling, and a full-resolution head
  that also reads the stem (fine edges). It returns M logit maps (B, H, W, M): M = 1 is the usual single
  answer, M > 1 the latent-diversity network trained with ``cvlib.losses.hindsight_loss``.
- ``build_iac_fcn``: the same skeleton with the dilated stack replaced by NEED's Inception-Atrous-Collation
  blocks (``cvlib.layers.IACBlock``; Rhodes et al. 2021).
- ``build_selection_net``: Li et al.'s second network, which looks at the input and the M candidate masks and
  returns M logits, one per candidate: the softmax says which candidate the user most likely means.
- ``make_inputs`` / ``predict_masks``: clicks to network input, and a batched prediction that returns the
  chosen mask of each sample; ``ClickSession``: the state of one interactive session (image, clicks, mask),
  what a user interface drives (``cvlib.widgets.ClickDemo``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cvlib._checks import to_numpy
from cvlib.data.clicks import check_clicks, encode_clicks
from cvlib.data.clicks import honour_clicks as _honour_clicks

__all__ = [
    "ClickSession",
    "build_click_fcn",
    "build_iac_fcn",
    "build_selection_net",
    "choose_outputs",
    "make_inputs",
    "predict_masks",
]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _input_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 5 or any(s is not None and (not isinstance(s, int) or s < 1) for s in shape):
        raise ValueError(f"input_shape: expected (H, W, 5): RGB plus two click maps, got {input_shape!r}")
    if any(s is not None and s % 2 for s in shape[:2]):
        raise ValueError(f"input_shape: H and W must be even (one stride-2 convolution), got {input_shape!r}")
    return shape


# --------------------------------------------------------------------------- inputs


def make_inputs(images, positive, negative, mode: str = "distance") -> np.ndarray:
    """Network input float32 (B, H, W, 5): RGB / 255 and the two click maps, ``min(distance, L) / L``, L = max(H, W).

    Args:
        images: uint8 (or 0-255 float) (B, H, W, 3), or one image (H, W, 3).
        positive, negative: one click set per image (a list of (N, 2) arrays of (x, y)), or one click set for a
            single image. Every image needs at least one click (``encode_clicks`` says so otherwise).
        mode: ``"distance"`` (truncated distance maps) or ``"disk"``; the network must be trained with the same.
    """
    arr = to_numpy(images, "images", np.float32)
    single = arr.ndim == 3
    if single:
        arr, positive, negative = arr[None], [positive], [negative]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"images: expected RGB images (B, H, W, 3) or one image (H, W, 3), got shape {arr.shape}")
    if len(positive) != len(arr) or len(negative) != len(arr):
        raise ValueError(f"positive, negative: expected one click set per image ({len(arr)}), got "
                         f"{len(positive)} and {len(negative)}")
    side = float(max(arr.shape[1:3]))
    inputs = np.empty((*arr.shape[:3], 5), np.float32)  # filled in place: no (B, H, W, 5) temporaries
    np.divide(arr, 255.0, out=inputs[..., :3])
    for i, (p, n) in enumerate(zip(positive, negative)):
        inputs[i, ..., 3:] = encode_clicks(p, n, arr.shape[1:3], mode=mode, truncate=side)
    if mode == "distance":
        inputs[..., 3:] /= side
    return inputs


# --------------------------------------------------------------------------- networks


def _skeleton(input_shape, num_outputs, filters, context, name):
    """Stem, stride-2 convolution, ``context(x)`` at half resolution, upsampling, head: logits (B, H, W, M)."""
    import keras
    from keras import layers

    from cvlib.layers.atrous import DilatedConv2D
    from cvlib.layers.normalization import FusedBatchNormalization

    shape = _input_shape(input_shape)
    filters = _positive_int(filters, "filters")
    num_outputs = _positive_int(num_outputs, "num_outputs")

    def conv_bn(x, channels, prefix, strides=1, rate=1):
        # DilatedConv2D: Keras's Conv2D, its dilated convolutions computed by TensorFlow's own op (faster on a CPU)
        x = DilatedConv2D(channels, 3, strides=strides, dilation_rate=rate, padding="same", use_bias=False,
                          name=f"{prefix}_conv")(x)
        # momentum 0.9: the moving statistics must keep up with a short, fast training; Keras's BatchNormalization,
        # trained with TensorFlow's fused kernel (the same results up to float rounding)
        x = FusedBatchNormalization(momentum=0.9, name=f"{prefix}_bn")(x)
        return layers.ReLU(name=f"{prefix}_relu")(x)

    inputs = keras.Input(shape, name="image_and_clicks")
    stem = conv_bn(inputs, max(1, filters // 2), "stem")
    x = conv_bn(stem, filters, "down", strides=2)
    x = context(x, conv_bn)
    x = layers.UpSampling2D(2, interpolation="bilinear", name="upsample")(x)
    x = layers.Concatenate(name="with_stem")([x, stem])
    x = conv_bn(x, max(1, filters // 2), "head")
    outputs = layers.Conv2D(num_outputs, 1, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_click_fcn(input_shape=(64, 64, 5), num_outputs: int = 1, filters: int = 32,
                    rates: Sequence[int] = (1, 2, 4, 8, 1), name: str = "click_fcn"):
    """The click-conditioned FCN of dilated 3x3 convolutions: input (B, H, W, 5), M logit maps (B, H, W, M).

    ``rates`` are the Keras dilation rates of the context stack at half resolution (one conv + BN + ReLU each,
    ``filters`` channels). H and W must be even.
    """
    if isinstance(rates, (str, bytes)) or not rates or not all(
        isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1 for r in rates
    ):
        raise ValueError(f"rates: expected a non-empty sequence of dilation rates (integers >= 1), got {rates!r}")

    def context(x, conv_bn):
        for i, rate in enumerate(rates):
            x = conv_bn(x, filters, f"context{i}_rate{int(rate)}", rate=int(rate))
        return x

    return _skeleton(input_shape, num_outputs, filters, context, name)


def build_iac_fcn(input_shape=(64, 64, 5), num_outputs: int = 1, filters: int = 32, num_blocks: int = 3,
                  kernel_sizes: Sequence[int] = (1, 3, 5), rates: Sequence[int] = (2, 4, 8),
                  branch_filters: int | None = None, arrangement: str = "parallel", name: str = "iac_fcn"):
    """The same network with ``num_blocks`` IAC blocks as its context stack (NEED, Rhodes et al. 2021).

    Each ``IACBlock(filters, kernel_sizes, rates, branch_filters, arrangement=arrangement)`` runs Inception
    branches of ``kernel_sizes`` and atrous 3x3 branches at ``rates`` (side by side with ``"parallel"``; the
    atrous ones on the Inception output with ``"sequential"``, the lecture's order), collates them with a 1x1
    convolution and adds its input.
    """
    from cvlib.layers.atrous import IACBlock

    num_blocks = _positive_int(num_blocks, "num_blocks")

    def context(x, conv_bn):
        for i in range(num_blocks):
            x = IACBlock(filters, kernel_sizes=kernel_sizes, rates=rates, branch_filters=branch_filters,
                         arrangement=arrangement, name=f"iac{i}")(x)
        return x

    return _skeleton(input_shape, num_outputs, filters, context, name)


def build_selection_net(input_shape=(64, 64, 5), num_outputs: int = 4, filters: int = 16,
                        name: str = "selection_net"):
    """Li et al.'s selection network: (input (B, H, W, 5), candidate probabilities (B, H, W, M)) -> M logits.

    Three stride-2 convolutions over the input and the candidates, global average pooling and a dense layer;
    trained with cross-entropy towards the candidate closest to the truth (``cvlib.losses.best_output``).
    """
    import keras
    from keras import layers

    from cvlib.layers.normalization import FusedBatchNormalization

    shape = _input_shape(input_shape)
    num_outputs = _positive_int(num_outputs, "num_outputs")
    filters = _positive_int(filters, "filters")
    inputs = keras.Input(shape, name="image_and_clicks")
    candidates = keras.Input((*shape[:2], num_outputs), name="candidates")
    x = layers.Concatenate(name="input_and_candidates")([inputs, candidates])
    for i, channels in enumerate((filters, 2 * filters, 4 * filters)):
        x = layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False, name=f"sel{i}_conv")(x)
        x = FusedBatchNormalization(momentum=0.9, name=f"sel{i}_bn")(x)
        x = layers.ReLU(name=f"sel{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_outputs, name="choice_logits")(x)
    return keras.Model([inputs, candidates], outputs, name=name)


# --------------------------------------------------------------------------- prediction


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def choose_outputs(probabilities, choice) -> np.ndarray:
    """Pick one of the M maps per sample: probabilities (B, H, W, M), choice int (B,) -> (B, H, W)."""
    probs = to_numpy(probabilities, "probabilities", np.float32)
    idx = to_numpy(choice, "choice", np.int64).reshape(-1)
    if probs.ndim != 4 or len(idx) != len(probs) or (idx.size and (idx.min() < 0 or idx.max() >= probs.shape[-1])):
        raise ValueError(f"choice: expected one index in [0, {probs.shape[-1] if probs.ndim == 4 else '?'}) per "
                         f"sample of probabilities {probs.shape}, got {idx.tolist()[:8]}")
    return np.take_along_axis(probs, idx[:, None, None, None], axis=-1)[..., 0]


def _predict(model, inputs, batch_size: int) -> np.ndarray:
    """``model.predict``; one batch goes through ``predict_on_batch``, the same compiled step without predict's
    per-call set-up (a data pipeline and a progress bar), which costs tens of milliseconds: a click's answer."""
    n = len(inputs[0]) if isinstance(inputs, (list, tuple)) else len(inputs)
    if n <= batch_size:
        return np.asarray(model.predict_on_batch(inputs))
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))


def predict_masks(model, images, positive, negative, selector=None, output=None, threshold: float = 0.5,
                  mode: str = "distance", batch_size: int = 256,
                  honour_clicks: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment every image from its clicks: (masks bool (B, H, W), probabilities (B, H, W, M), choice int (B,)).

    With M > 1 outputs the mask is the one ``selector`` (a selection network) picks, or output ``output`` when
    given (``output="oracle"`` is not accepted here: the oracle needs the truth, see the notebook). With M = 1 it
    is the only output. ``honour_clicks=True`` then gives every clicked pixel its click's label
    (``cvlib.data.clicks.honour_clicks``); the probabilities stay the network's.
    """
    inputs = make_inputs(images, positive, negative, mode)
    logits = _predict(model, inputs, batch_size)
    probs = _sigmoid(logits.astype(np.float64)).astype(np.float32)
    m = probs.shape[-1]
    if output is not None:
        if not isinstance(output, (int, np.integer)) or not 0 <= output < m:
            raise ValueError(f"output: expected an index in [0, {m}), got {output!r}")
        choice = np.full(len(probs), int(output))
    elif m > 1 and selector is not None:
        scores = _predict(selector, [inputs, probs], batch_size)
        choice = np.argmax(scores, axis=-1)
    elif m > 1:
        raise ValueError(f"selector: the model has {m} outputs; pass a selection network or an output index")
    else:
        choice = np.zeros(len(probs), np.int64)
    masks = choose_outputs(probs, choice) > threshold
    if honour_clicks:
        masks = _honour_clicks(masks, positive, negative)
    return masks, probs, choice


class ClickSession:
    """One interactive segmentation session: an image, the clicks so far, and the model's current mask.

    ``add(x, y, positive=True)`` records a click and updates ``mask``; ``undo()`` removes the last click,
    ``reset()`` all of them. Before the first click the mask is empty (nothing selected yet). A click outside
    the image raises ``ValueError`` (a user interface checks first; ``ClickDemo`` ignores such clicks).

    Args:
        model: a click-conditioned network (``build_click_fcn`` / ``build_iac_fcn``), input (H, W, 5).
        image: uint8 (H, W, 3), of the model's input size.
        selector: the selection network, for a model with M > 1 outputs (else pass ``output``).
        output: with M > 1, the index of the output to show instead of the selector's choice.
        honour_clicks: give every clicked pixel its click's label, whatever the network says there; a pixel
            clicked more than once takes the label of its last click.
    """

    def __init__(self, model, image, selector=None, output: int | None = None, threshold: float = 0.5,
                 mode: str = "distance", honour_clicks: bool = False):
        arr = to_numpy(image, "image", np.float32)
        if arr.ndim != 3 or arr.shape[-1] != 3:
            raise ValueError(f"image: expected an RGB image (H, W, 3), got shape {arr.shape}")
        expected = tuple(model.input_shape[1:3]) if hasattr(model, "input_shape") else (None, None)
        if any(e is not None and e != s for e, s in zip(expected, arr.shape[:2])):
            raise ValueError(f"image: the model takes {expected[0]} x {expected[1]} inputs, got {arr.shape[:2]}")
        self.model, self.image, self.selector, self.output = model, arr, selector, output
        self.threshold, self.mode, self.honour_clicks = float(threshold), mode, bool(honour_clicks)
        self.clicks: list[tuple[int, int, bool]] = []
        self._refresh()

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def positive(self) -> np.ndarray:
        """The positive clicks so far, int (P, 2) of (x, y)."""
        return np.asarray([(x, y) for x, y, p in self.clicks if p], np.int64).reshape(-1, 2)

    @property
    def negative(self) -> np.ndarray:
        """The negative clicks so far, int (N, 2) of (x, y)."""
        return np.asarray([(x, y) for x, y, p in self.clicks if not p], np.int64).reshape(-1, 2)

    def contains(self, x, y) -> bool:
        """Whether the point (x, y) lies inside the image."""
        height, width = self.shape
        return bool(np.isfinite(x) and np.isfinite(y) and 0 <= x < width and 0 <= y < height)

    def add(self, x, y, positive: bool = True) -> np.ndarray:
        """Add a click at pixel (x, y) (column, row) and return the updated mask, bool (H, W)."""
        (px, py), = check_clicks([(x, y)], self.shape, "x, y")
        self.clicks.append((int(px), int(py), bool(positive)))
        self._refresh()
        return self.mask

    def undo(self) -> np.ndarray:
        """Remove the last click (if any) and return the mask."""
        if self.clicks:
            self.clicks.pop()
            self._refresh()
        return self.mask

    def reset(self) -> np.ndarray:
        """Remove every click; the mask becomes empty."""
        self.clicks.clear()
        self._refresh()
        return self.mask

    def _refresh(self) -> None:
        if not self.clicks:
            self.mask = np.zeros(self.shape, bool)
            self.probabilities = None
            self.choice = None
            return
        masks, probs, choice = predict_masks(self.model, self.image[None], [self.positive], [self.negative],
                                             self.selector, self.output, self.threshold, self.mode)
        if self.honour_clicks:
            last = {(x, y): positive for x, y, positive in self.clicks}      # a later click on a pixel overrides
            masks = _honour_clicks(masks, [[p for p, on in last.items() if on]],
                                   [[p for p, on in last.items() if not on]])
        self.mask, self.probabilities, self.choice = masks[0], probs[0], int(choice[0])
