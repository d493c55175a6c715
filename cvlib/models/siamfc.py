"""SiamFC: a fully-convolutional Siamese tracker (notebook 10).

Bertinetto, Valmadre, Henriques, Vedaldi and Torr, "Fully-Convolutional Siamese Networks for
Object Tracking", ECCV 2016 workshops. One embedding phi, fully convolutional, maps an
exemplar z (the target in the first frame) and a larger search image x (around the target's
last position) to feature maps; their cross-correlation is a score map whose peak says where
the target moved. Geometry of a network of total stride k and "valid" convolutions:

    score size = (search size - exemplar size) / k + 1

The paper: 127 and 255 pixels, AlexNet, k = 8: (255 - 127) / 8 + 1 = 17 (``build_embedding("paper")``).
This course's CPU version: 63 and 127 pixels, a narrower AlexNet-like network with k = 4:
(127 - 63) / 4 + 1 = 17, the same 17 x 17 map from crops of half the size (``"small"``).

- ``build_embedding``, ``build_siamfc``: phi and the training model ``[z, x] -> score map``;
- ``context_size``, ``crop``: the paper's crops (context margin p = (w + h) / 4, side
  s = sqrt((w + 2p)(h + 2p)), padding with the image's mean colour);
- ``PairSequence``: training pairs (exemplar and search crops of the same target at two times);
- ``Tracker``: SiamFC's tracking loop (upsampled response, cosine window, scale pyramid with
  penalty and damping); ``StaticTracker`` and ``TemplateMatchingTracker`` are the baselines.
"""

from __future__ import annotations

import time
import weakref

import cv2
import keras
import numpy as np

from cvlib._checks import boxes_array
from cvlib.layers.correlation import CrossCorrelation
from cvlib.losses.siamfc import siamfc_label_map

__all__ = [
    "EXEMPLAR_SIZE",
    "SEARCH_SIZE",
    "PairSequence",
    "StaticTracker",
    "TemplateMatchingTracker",
    "Tracker",
    "build_embedding",
    "build_siamfc",
    "context_size",
    "crop",
    "score_geometry",
]

EXEMPLAR_SIZE = 63  # the paper: 127
SEARCH_SIZE = 127  # the paper: 255
CONTEXT = 0.5  # context margin p = CONTEXT * (w + h) / 2 = (w + h) / 4

# (filters, kernel, stride, max-pool after it); BatchNorm + ReLU after every conv but the last.
_ARCHITECTURES = {
    # Table 1 of the paper: AlexNet, total stride 8, 127 -> 6x6x256 and 255 -> 22x22x256.
    "paper": [(96, 11, 2, True), (256, 5, 1, True), (384, 3, 1, False), (384, 3, 1, False), (256, 3, 1, False)],
    # The same shape of network for a laptop CPU: total stride 4, 63 -> 6x6x64 and 127 -> 22x22x64.
    "small": [(32, 5, 2, True), (64, 5, 1, False), (96, 3, 1, False), (64, 3, 1, False)],
}


def build_embedding(variant: str = "small", name: str | None = None) -> keras.Model:
    """phi: a fully-convolutional AlexNet-like embedding, ``(None, None, 3)`` images in [0, 255] -> feature maps.

    ``"small"`` (this course, ~0.2 M weights, stride 4) or ``"paper"`` (SiamFC's AlexNet, ~2.3 M
    weights, stride 8). "Valid" convolutions and pooling, no padding: padding would tell the
    network where the crop's border is and break the translation equivariance the tracker needs.
    """
    if variant not in _ARCHITECTURES:
        raise ValueError(f"variant: expected one of {sorted(_ARCHITECTURES)}, got {variant!r}")
    layers = [keras.Input((None, None, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1.0)]
    arch = _ARCHITECTURES[variant]
    for i, (filters, kernel, stride, pool) in enumerate(arch):
        last = i == len(arch) - 1
        layers.append(keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=last, name=f"conv{i + 1}"))
        if not last:
            layers += [keras.layers.BatchNormalization(name=f"bn{i + 1}"), keras.layers.ReLU(name=f"relu{i + 1}")]
        if pool:
            layers.append(keras.layers.MaxPooling2D(3, strides=2, name=f"pool{i + 1}"))
    return keras.Sequential(layers, name=name or f"siamfc_embedding_{variant}")


def score_geometry(embedding: keras.Model, exemplar_size: int = EXEMPLAR_SIZE, search_size: int = SEARCH_SIZE) -> dict:
    """Sizes of phi(z), phi(x) and the score map, and the total stride, from the network's own shapes."""
    ez = embedding.compute_output_shape((1, exemplar_size, exemplar_size, 3))[1]
    ex = embedding.compute_output_shape((1, search_size, search_size, 3))[1]
    if ez is None or ex is None or ez < 1 or ex < ez:
        raise ValueError(f"exemplar_size, search_size: {exemplar_size} and {search_size} give embeddings {ez} and {ex}")
    score = ex - ez + 1
    stride = (search_size - exemplar_size) / (score - 1) if score > 1 else 1.0
    return {"exemplar_embedding": ez, "search_embedding": ex, "score": score, "stride": stride}


def build_siamfc(embedding: keras.Model | None = None, exemplar_size: int = EXEMPLAR_SIZE,
                 search_size: int = SEARCH_SIZE) -> keras.Model:
    """The training model ``[z (B, Ez, Ez, 3), x (B, Es, Es, 3)] -> scores (B, S, S, 1)``, one phi shared by both."""
    embedding = embedding if embedding is not None else build_embedding()
    z = keras.Input((exemplar_size, exemplar_size, 3), name="exemplar")
    x = keras.Input((search_size, search_size, 3), name="search")
    scores = CrossCorrelation(scale=1e-3, name="xcorr")([embedding(z), embedding(x)])
    return keras.Model([z, x], scores, name="siamfc")


# --------------------------------------------------------------------------- crops


def context_size(w, h, context: float = CONTEXT):
    """Side of the exemplar's square crop in image pixels: sqrt((w + 2p)(h + 2p)) with p = context * (w + h) / 2."""
    p = context * (np.asarray(w) + np.asarray(h)) / 2
    return np.sqrt((w + 2 * p) * (h + 2 * p))


def crop(image: np.ndarray, center, size, out_size: int, pad=None) -> np.ndarray:
    """A square crop of side ``size`` (image pixels) centred on ``center`` (x, y), resized to ``out_size``.

    Outside the image the crop is filled with ``pad`` (the image's mean colour by default, as SiamFC
    does). Sub-pixel exact: one affine warp (OpenCV), bilinear. Returns float32 (out, out, 3).
    """
    image = np.asarray(image)
    if pad is None:
        pad = image.reshape(-1, image.shape[-1]).mean(axis=0)
    scale = out_size / float(size)
    cx, cy = float(center[0]), float(center[1])
    # OpenCV indexes pixel centres (pixel i sits at i), our boxes are continuous (pixel i spans [i, i + 1)):
    # the continuous point (cx, cy) must land on the continuous centre out/2 of the crop.
    tx, ty = scale * (0.5 - cx) + out_size / 2 - 0.5, scale * (0.5 - cy) + out_size / 2 - 0.5
    m = np.array([[scale, 0, tx], [0, scale, ty]], dtype=np.float64)
    out = cv2.warpAffine(np.asarray(image, dtype=np.float32), m, (out_size, out_size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in pad))
    return out


class PairSequence(keras.utils.PyDataset):
    """Training pairs drawn afresh every epoch: ``(z, x), labels`` batches for ``build_siamfc``'s model.

    Each pair takes one sequence and two frames at most ``max_gap`` apart; the exemplar is the
    context crop around the target in the first, the search image the crop of ``search/exemplar``
    times the size around the target in the second (each frame normalised by its own box, as in the
    paper), with a small random stretch so the network also sees slightly wrong scales. Each pair
    is also flipped left-right at random and each crop's brightness and colour jittered by up to
    ``jitter`` (augmentations that multiply the few target appearances of a small data set).
    ``labels``: the +1/-1 map of ``siamfc_label_map`` (radius in search-crop pixels).
    """

    def __init__(self, sequences, batch_size: int = 16, steps: int = 100, max_gap: int = 50, radius: float = 8.0,
                 stride: float = 4.0, score_size: int = 17, exemplar_size: int = EXEMPLAR_SIZE,
                 search_size: int = SEARCH_SIZE, stretch: float = 0.05, jitter: float = 0.15, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        if not sequences:
            raise ValueError("sequences: expected at least one training sequence")
        self.sequences, self.batch_size, self.steps = sequences, int(batch_size), int(steps)
        self.max_gap, self.stretch, self.seed, self.epoch = int(max_gap), float(stretch), int(seed), 0
        self.jitter = float(jitter)
        self.exemplar_size, self.search_size = int(exemplar_size), int(search_size)
        self.labels = siamfc_label_map(score_size, radius, stride)[0][..., None]

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def pair(self, rng):
        seq = self.sequences[rng.integers(len(self.sequences))]
        t = len(seq)
        i = int(rng.integers(t))
        j = int(np.clip(i + rng.integers(-self.max_gap, self.max_gap + 1), 0, t - 1))
        z = self._crop(seq.frames[i], seq.boxes[i], self.exemplar_size, 1.0)
        s = np.exp(rng.uniform(-self.stretch, self.stretch))
        x = self._crop(seq.frames[j], seq.boxes[j], self.search_size, s)
        if rng.random() < 0.5:
            z, x = z[:, ::-1], x[:, ::-1]
        if self.jitter:
            z = np.clip(z * rng.uniform(1 - self.jitter, 1 + self.jitter, 3), 0, 255)
            x = np.clip(x * rng.uniform(1 - self.jitter, 1 + self.jitter, 3), 0, 255)
        return z.astype(np.float32), x.astype(np.float32)

    def _crop(self, frame, box, out_size, factor):
        x, y, w, h = box
        side = context_size(w, h) * out_size / self.exemplar_size * factor
        return crop(frame, (x + w / 2, y + h / 2), side, out_size)

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, int(index)))
        pairs = [self.pair(rng) for _ in range(self.batch_size)]
        z = np.stack([p[0] for p in pairs])
        x = np.stack([p[1] for p in pairs])
        return (z, x), np.repeat(self.labels[None], self.batch_size, axis=0)


# --------------------------------------------------------------------------- trackers


def _check_frame(frame, name: str = "frame") -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3 or min(arr.shape[:2]) < 2:
        raise ValueError(f"{name}: expected an (H, W, 3) image, got shape {arr.shape}")
    return arr


def _check_init_box(box, frame: np.ndarray) -> np.ndarray:
    b = boxes_array(np.reshape(np.asarray(box, dtype=np.float64), (1, -1)) if np.size(box) == 4 else box,
                    "box", "xywh")[0]
    h, w = frame.shape[:2]
    if b[2] <= 0 or b[3] <= 0:
        raise ValueError(f"box: the exemplar box needs a positive width and height, got {b.tolist()} (xywh)")
    if b[0] < 0 or b[1] < 0 or b[0] + b[2] > w or b[1] + b[3] > h:
        raise ValueError(f"box: the exemplar box {b.tolist()} (xywh) is not inside the first frame ({w}x{h}); "
                         "it must lie within [0, W] x [0, H]")
    return b


class _BaseTracker:
    """``init(frame, box)``, ``update(frame) -> box`` and ``track(frames, box)``; boxes are xywh."""

    def init(self, frame, box) -> None:
        raise NotImplementedError

    def update(self, frame) -> np.ndarray:
        raise NotImplementedError

    def track(self, frames, box) -> tuple[np.ndarray, float]:
        """Run on a whole sequence (one-pass: initialised once on the first frame's ``box``).

        Returns ``(boxes, fps)``: (T, 4) xywh, the first being ``box``, and the frames per second
        of the updates (frame 0 excluded).
        """
        if len(frames) < 1:
            raise ValueError("frames: expected at least one frame")
        self.init(frames[0], box)
        out = [np.asarray(self.box, dtype=np.float64).copy()]
        start = time.perf_counter()
        for frame in frames[1:]:
            out.append(self.update(frame))
        seconds = time.perf_counter() - start
        return np.array(out), (len(frames) - 1) / seconds if seconds > 0 else float("inf")


class StaticTracker(_BaseTracker):
    """The "never moves" baseline: reports the first frame's box in every frame."""

    def init(self, frame, box) -> None:
        self.box = _check_init_box(box, _check_frame(frame))

    def update(self, frame) -> np.ndarray:
        return self.box.copy()


class TemplateMatchingTracker(_BaseTracker):
    """Baseline: normalised cross-correlation of the first frame's raw pixels (OpenCV ``matchTemplate``).

    The template (the target's box in frame 0) is searched with ``cv2.TM_CCOEFF_NORMED`` in a window
    ``search_factor`` times the target's size around its last position; the box keeps its size.
    """

    def __init__(self, search_factor: float = 2.5):
        self.search_factor = float(search_factor)

    def init(self, frame, box) -> None:
        frame = _check_frame(frame)
        self.box = _check_init_box(box, frame)
        x, y, w, h = np.round(self.box).astype(int)
        self.template = frame[y : y + max(h, 1), x : x + max(w, 1)].astype(np.float32)

    def update(self, frame) -> np.ndarray:
        frame = _check_frame(frame).astype(np.float32)
        th, tw = self.template.shape[:2]
        cx, cy = self.box[0] + self.box[2] / 2, self.box[1] + self.box[3] / 2
        half_w, half_h = self.search_factor * tw / 2, self.search_factor * th / 2
        x1, y1 = int(max(0, cx - half_w)), int(max(0, cy - half_h))
        x2, y2 = int(min(frame.shape[1], cx + half_w)), int(min(frame.shape[0], cy + half_h))
        window = frame[y1:y2, x1:x2]
        if window.shape[0] < th or window.shape[1] < tw:
            return self.box.copy()
        scores = cv2.matchTemplate(window, self.template, cv2.TM_CCOEFF_NORMED)
        dy, dx = np.unravel_index(np.argmax(scores), scores.shape)
        self.box = np.array([x1 + dx, y1 + dy, self.box[2], self.box[3]], dtype=np.float64)
        return self.box.copy()


_FORWARD = weakref.WeakKeyDictionary()  # embedding -> its compiled forward passes (embed, score)


class Tracker(_BaseTracker):
    """SiamFC's tracker around a trained embedding phi (Bertinetto et al. 2016, section 2.4 and 4).

    Per frame: crop the search region at ``scale_num`` scales around the last position, score each
    against the first frame's exemplar, upsample the score maps ``response_up`` times (bicubic),
    down-weight scale changes by ``scale_penalty``, pick the best scale, mix its normalised response
    with a cosine (Hann) window (``window_influence``), move to the peak, and update the target size
    with damping ``scale_lr``. Defaults are the paper's SiamFC-3s values: scales 1.0375^{-1, 0, 1},
    penalty 0.9745, damping 0.59, window influence 0.176, upsampling x16; the exemplar is not updated.
    """

    def __init__(self, embedding: keras.Model, exemplar_size: int = EXEMPLAR_SIZE, search_size: int = SEARCH_SIZE,
                 context: float = CONTEXT, scale_step: float = 1.0375, scale_num: int = 3,
                 scale_penalty: float = 0.9745, scale_lr: float = 0.59, window_influence: float = 0.176,
                 response_up: int = 16):
        if not 0 <= window_influence <= 1 or not 0 <= scale_lr <= 1 or not 0 < scale_penalty <= 1:
            raise ValueError("window_influence, scale_lr: expected values in [0, 1]; scale_penalty in (0, 1]; got "
                             f"{window_influence}, {scale_lr}, {scale_penalty}")
        if scale_num < 1 or scale_num % 2 == 0:
            raise ValueError(f"scale_num: expected an odd positive number of scales, got {scale_num}")
        self.embedding, self.exemplar_size, self.search_size = embedding, int(exemplar_size), int(search_size)
        self.context, self.scale_penalty, self.scale_lr = float(context), float(scale_penalty), float(scale_lr)
        self.window_influence, self.response_up = float(window_influence), int(response_up)
        self.scale_factors = float(scale_step) ** np.arange(-(scale_num // 2), scale_num // 2 + 1)
        geometry = score_geometry(embedding, self.exemplar_size, self.search_size)
        self.score_size, self.stride = geometry["score"], geometry["stride"]
        self.up_size = self.score_size * self.response_up
        hann = np.hanning(self.up_size)
        self.window = np.outer(hann, hann) / np.outer(hann, hann).sum()
        self._embed, self._score = self._compiled(embedding)

    @staticmethod
    def _compiled(embedding):
        """``embed(images) -> phi(images)`` and ``score(kernel, crops) -> (scales, S, S, 1)``, compiled once per
        embedding and shared by every tracker built on it: tracing costs far more than a frame, and an evaluation
        builds a tracker per video and setting. Every scale is scored against the same exemplar, so its embedding
        (Hz, Wz, C) serves as one (Hz, Wz, C, 1) convolution kernel for the whole pyramid: the cross-correlation of
        ``CrossCorrelation``, without its one-kernel-per-pair grouping."""
        if embedding in _FORWARD:
            return _FORWARD[embedding]
        embed = lambda x: embedding(x, training=False)  # noqa: E731
        score = lambda kernel, x: keras.ops.conv(embedding(x, training=False), kernel, padding="valid")  # noqa: E731
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # a graph-compiled forward pass is several times faster per frame

            embed, score = (tf.function(f, reduce_retracing=True) for f in (embed, score))
        _FORWARD[embedding] = embed, score
        return embed, score

    def init(self, frame, box) -> None:
        frame = _check_frame(frame)
        b = _check_init_box(box, frame)
        self.center = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])
        self.size = np.array([b[2], b[3]], dtype=np.float64)
        self.box = b
        self.frame_shape = frame.shape[:2]
        self.mean_colour = frame.reshape(-1, 3).mean(axis=0)
        self.z_size = float(context_size(b[2], b[3], self.context))
        self.x_size = self.z_size * self.search_size / self.exemplar_size
        z = crop(frame, self.center, self.z_size, self.exemplar_size, self.mean_colour)
        self.z_embedding = keras.ops.convert_to_numpy(self._embed(z[None]))
        self.min_size, self.max_size = 0.2 * self.z_size, 5.0 * self.z_size

    def responses(self, frame) -> np.ndarray:
        """Raw score maps of the current frame at every scale: (scales, S, S)."""
        frame = _check_frame(frame).astype(np.float32)  # once, not once per scale
        crops = np.stack([crop(frame, self.center, self.x_size * f, self.search_size, self.mean_colour)
                          for f in self.scale_factors])
        return keras.ops.convert_to_numpy(self._score(self.z_embedding[0][..., None], crops))[..., 0]

    def update(self, frame) -> np.ndarray:
        scores = self.responses(frame)
        up = np.stack([cv2.resize(s, (self.up_size, self.up_size), interpolation=cv2.INTER_CUBIC) for s in scores])
        # Penalise scale changes on responses shifted to be non-negative, so the penalty always lowers a peak
        # (the raw scores may be negative, where multiplying by 0.9745 would raise them).
        up = up - up.min()
        peaks = up.reshape(len(up), -1).max(axis=1)
        peaks[self.scale_factors != 1] *= self.scale_penalty
        best = int(np.argmax(peaks))
        response = up[best] - up[best].min()
        response = response / max(response.sum(), 1e-12)
        response = (1 - self.window_influence) * response + self.window_influence * self.window
        row, col = np.unravel_index(np.argmax(response), response.shape)
        # Peak offset from the map's centre: upsampled cells -> search-crop pixels -> image pixels.
        offset = (np.array([col, row]) - (self.up_size - 1) / 2) * self.stride / self.response_up
        offset *= self.x_size * self.scale_factors[best] / self.search_size
        self.center = self.center + offset
        h, w = self.frame_shape
        self.center = np.clip(self.center, 0, [w, h])
        scale = (1 - self.scale_lr) + self.scale_lr * self.scale_factors[best]  # damped
        self.size = self.size * scale
        self.z_size = float(np.clip(self.z_size * scale, self.min_size, self.max_size))
        self.x_size = self.z_size * self.search_size / self.exemplar_size
        self.box = np.array([self.center[0] - self.size[0] / 2, self.center[1] - self.size[1] / 2, *self.size])
        self.last_response = response
        return self.box.copy()
