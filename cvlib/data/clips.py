"""Synthetic video clips whose classes differ only in their motion, for 3D CNNs on video (notebook 17).

``generate_clips(num_clips, frames=16, size=32, classes=CLASS_NAMES, seed=0)`` returns
``(clips, labels, class_names)``:

- ``clips``: ``(N, T, H, W, 1)`` float32 in [0, 1], time first (``T = frames``, ``H = W = size``),
  channels last, so that ``keras.layers.Conv3D`` slides its kernels along time, rows and columns;
- ``labels``: ``(N,)`` int64 in ``[0, len(classes))``, balanced (class counts differ by at most one);
- ``class_names``: the tuple ``classes``, in label order.

Every clip shows one grey shape (an ellipse, a rectangle or a triangle, elongated so its
orientation is visible) on a flat background with Gaussian noise. Its state in a frame is a
position ``(x, y)``, an angle and a size. The six classes come in three pairs, each pair a
motion and its time reversal: ``"left"`` / ``"right"`` (x changes by ``0.3 * size`` pixels over
the clip), ``"clockwise"`` / ``"anticlockwise"`` (the angle turns by 90 degrees, clockwise as
seen on screen, with rows counted downwards) and ``"approach"`` / ``"recede"`` (the size
doubles / halves). Only that one attribute moves; the others stay still.

Why one frame cannot tell the classes apart
-------------------------------------------
Each of the four attributes is its clip-level value (drawn once per clip, independently of
the class) plus an offset ``amplitude * o``, where ``o`` is one of the ``T`` evenly spaced
times ``tau_t = t / (T - 1) - 1/2`` of the clip. The attribute that moves takes ``o = +tau_t``
or ``-tau_t`` in frame ``t`` (the sign is the direction); an attribute that stays still takes
one ``o`` drawn uniformly from the same ``T`` values, once per clip. In a frame taken at a
random time, every offset is therefore uniform on the same ``T`` values and independent of the
others, whatever the class: the frame's position, angle, size, shape, brightness and noise
have exactly the same joint distribution in all six classes. The shape's kind, aspect ratio,
brightness, background and noise level are drawn independently of the class.

The two classes of a pair hold the same frames in opposite orders (reversing the time of a
"left" clip gives a "right" clip), so the *average of a clip's frames* has the same
distribution for both. The average does differ between pairs: it is a streak along x for
the translations, a blurred star for the rotations and a halo for the size changes. It tells
which attribute moves, never in which direction.

What a frame at a *known* time shows is another matter: the first frame of an "approach"
clip tends to show a smaller shape than the first frame of a "recede" clip (positions and
sizes are bounded, so their spans cannot be shifted freely). Angles wrap around, so for the
rotations even that holds no information. A model that must learn from single frames should
therefore see frames at random times, as notebook 17's does.

``frame_statistics(frames)`` measures what a single image shows (brightness, the shape's centroid,
area and orientation moments), to compare frames across classes without training anything.

Determinism: the clips depend only on ``(num_clips, frames, size, classes, seed)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["CLASS_NAMES", "MOTIONS", "SHAPES", "frame_statistics", "generate_clips"]

# class name -> (attribute that moves, direction); reversing time swaps the two classes of a pair
MOTIONS = {
    "left": ("x", -1.0),
    "right": ("x", +1.0),
    "clockwise": ("angle", +1.0),
    "anticlockwise": ("angle", -1.0),
    "approach": ("size", +1.0),
    "recede": ("size", -1.0),
}
CLASS_NAMES = tuple(MOTIONS)
SHAPES = ("ellipse", "rectangle", "triangle")

_ATTRIBUTES = ("x", "y", "angle", "size")
_TRAVEL = 0.3           # translation over a clip, as a fraction of the frame's side
_TURN = np.pi / 2       # rotation over a clip, radians
_ZOOM = np.log(2.0)     # change of log-size over a clip: the size doubles or halves
_RADIUS = (0.13, 0.17)  # clip-level half-length of the shape, fraction of the side (before the zoom offset)
_ASPECT = (1.6, 2.0)    # length / width: elongated, so that the angle shows
_CHUNK = 128            # clips rendered at once (bounds the memory of the vectorised renderer)


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_classes(classes) -> tuple[str, ...]:
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise ValueError(f"classes: expected a sequence of class names from {CLASS_NAMES}, got {classes!r}")
    names = tuple(classes)
    if not names:
        raise ValueError(f"classes: expected at least one class name from {CLASS_NAMES}, got none")
    unknown = [c for c in names if c not in MOTIONS]
    if unknown:
        raise ValueError(f"classes: unknown class names {unknown}; expected names from {CLASS_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"classes: every class may appear once, got {names}")
    return names


def _distance(kind: str, u: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside; first-order for the ellipse) to the edge of a shape.

    ``u, v``: pixel centres in the shape's frame (u along its length); ``a, b``: half-length and
    half-width, broadcastable to ``u``.
    """
    if kind == "ellipse":  # f / |grad f| for f = (u/a)^2 + (v/b)^2 - 1
        f = (u / a) ** 2 + (v / b) ** 2 - 1.0
        return f / (2.0 * np.sqrt((u / a**2) ** 2 + (v / b**2) ** 2) + 1e-6)
    if kind == "rectangle":
        return np.maximum(np.abs(u) - a, np.abs(v) - b)
    # isosceles triangle with its centroid at the origin: apex (a, 0), base from (-a/2, b) to (-a/2, -b)
    slanted = (b * (u - a) + 1.5 * a * np.abs(v)) / np.sqrt(b**2 + (1.5 * a) ** 2)
    return np.maximum(-u - a / 2, slanted)


def _render(p: dict, offsets: dict, size: int) -> np.ndarray:
    """Frames ``(n, T, size, size)`` float32 of the clips whose parameters are ``p`` (arrays of n)."""
    f32 = np.float32
    side = float(size)
    x = (p["x"][:, None] + _TRAVEL * side * offsets["x"]).astype(f32)   # (n, T)
    y = (p["y"][:, None] + _TRAVEL * side * offsets["y"]).astype(f32)
    angle = p["angle"][:, None] + _TURN * offsets["angle"]
    half = (p["radius"][:, None] * np.exp(_ZOOM * offsets["size"])).astype(f32)  # half-length in pixels
    width = half / p["aspect"][:, None].astype(f32)
    rows, cols = np.mgrid[0:size, 0:size].astype(f32) + f32(0.5)  # pixel centres
    e = (slice(None), slice(None), None, None)                      # (n, T) -> (n, T, 1, 1)
    dx, dy = cols - x[e], rows - y[e]
    c, s = np.cos(angle).astype(f32)[e], np.sin(angle).astype(f32)[e]
    u, v = c * dx + s * dy, -s * dx + c * dy  # rows grow downwards: a growing angle turns clockwise on screen
    alpha = np.empty(u.shape, dtype=f32)
    for k, kind in enumerate(SHAPES):
        sel = p["kind"] == k
        if sel.any():
            # coverage clip(0.5 - d, 0, 1) anti-aliases the edge over one pixel
            alpha[sel] = np.clip(0.5 - _distance(kind, u[sel], v[sel], half[e][sel], width[e][sel]), 0.0, 1.0)
    bg = p["background"].astype(f32)[:, None, None, None]
    fg = p["foreground"].astype(f32)[:, None, None, None]
    frames = bg + (fg - bg) * alpha + p["noise"].astype(f32)[:, None, None, None] * p["gauss"]
    return np.clip(frames, 0.0, 1.0)


def generate_clips(num_clips: int, frames: int = 16, size: int = 32, classes: Sequence[str] = CLASS_NAMES,
                   seed: int = 0):
    """Seeded clips of one moving shape whose classes differ only in the motion (see the module's docstring).

    ``num_clips`` >= 0 clips of ``frames`` >= 2 frames of ``size x size`` pixels (``size`` >= 16),
    of the ``classes`` named (any of ``CLASS_NAMES``, each once; label ``i`` is ``classes[i]``).
    Returns ``(clips, labels, class_names)``: ``(N, T, H, W, 1)`` float32 in [0, 1], ``(N,)`` int64
    balanced labels, and ``tuple(classes)``.
    """
    n = _count(num_clips, "num_clips", 0)
    t_count = _count(frames, "frames", 2)
    side = _count(size, "size", 16)
    names = _check_classes(classes)
    seed = _count(seed, "seed", 0)
    rng = np.random.default_rng(seed)

    labels = rng.permutation(np.arange(n) % len(names)).astype(np.int64)
    tau = np.arange(t_count) / (t_count - 1) - 0.5  # the clip's times, centred: -1/2 ... 1/2
    # clip-level parameters, drawn for every clip whatever its class
    centre = 0.5 * side
    spread = 0.07 * side
    params = {
        "x": rng.uniform(centre - spread, centre + spread, n),
        "y": rng.uniform(centre - spread, centre + spread, n),
        "angle": rng.uniform(0.0, 2 * np.pi, n),
        "radius": side * np.exp(rng.uniform(np.log(_RADIUS[0]), np.log(_RADIUS[1]), n)),
        "aspect": rng.uniform(*_ASPECT, n),
        "kind": rng.integers(0, len(SHAPES), n),
        "background": rng.uniform(0.0, 0.25, n),
        "foreground": rng.uniform(0.65, 1.0, n),
        "noise": rng.uniform(0.02, 0.05, n),
    }
    # a still attribute sits at one of the clip's times, drawn once per clip: the same offsets a moving one runs through
    still = {name: tau[rng.integers(0, t_count, n)] for name in _ATTRIBUTES}
    noise_seed = rng.integers(0, 2**63 - 1)

    clips = np.empty((n, t_count, side, side, 1), dtype=np.float32)
    noise_rng = np.random.default_rng(noise_seed)
    for start in range(0, n, _CHUNK):
        idx = slice(start, min(start + _CHUNK, n))
        m = idx.stop - idx.start
        offsets = {name: np.repeat(still[name][idx, None], t_count, axis=1) for name in _ATTRIBUTES}
        for j, label in enumerate(labels[idx]):
            moving, sign = MOTIONS[names[label]]
            offsets[moving][j] = sign * tau
        chunk = {k: v[idx] for k, v in params.items()}
        chunk["gauss"] = noise_rng.standard_normal((m, t_count, side, side), dtype=np.float32)
        clips[idx, ..., 0] = _render(chunk, offsets, side)
    return clips, labels, names


def frame_statistics(frames) -> dict[str, np.ndarray]:
    """What an image shows of the shape: brightness, centroid, area and second moments, per image.

    ``frames``: ``(..., H, W)`` or ``(..., H, W, 1)`` grey images in [0, 1] (a clip, a batch of
    clips, their frame averages). Each pixel counts with weight ``max(value - median - 0.15, 0)``:
    the shapes of ``generate_clips`` stand at least 0.4 above their background (the median, as
    a shape covers far less than half the image) and the noise's standard deviation is at most
    0.05. Returns arrays of shape ``(...)``: ``"mean"`` (brightness), ``"cx"``, ``"cy"`` (weighted
    centroid, pixels, x to the right and y downwards), ``"mass"`` (sum of the weights), ``"area"``
    (pixels of positive weight), ``"mu20"``, ``"mu02"``, ``"mu11"`` (central second moments) and
    ``"angle"`` (orientation of the long axis, radians in (-pi/2, pi/2], clockwise on screen).
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim >= 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim < 2 or min(x.shape[-2:], default=0) < 1:
        raise ValueError(f"frames: expected images of shape (..., H, W) or (..., H, W, 1), got {np.shape(frames)}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("frames: contains NaN or inf; every value must be finite")
    h, w = x.shape[-2:]
    lead = x.shape[:-2]
    flat = x.reshape(-1, h * w)
    weight = np.clip(flat - np.median(flat, axis=1, keepdims=True) - 0.15, 0.0, None) if flat.size else flat
    rows, cols = (np.mgrid[0:h, 0:w].reshape(2, -1) + 0.5).astype(np.float64)
    mass = weight.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    cx, cy = weight @ cols / safe, weight @ rows / safe
    dx, dy = cols[None] - cx[:, None], rows[None] - cy[:, None]
    mu20, mu02, mu11 = ((weight * d).sum(axis=1) / safe for d in (dx * dx, dy * dy, dx * dy))
    out = {"mean": flat.mean(axis=1) if flat.size else np.zeros(len(flat)), "cx": cx, "cy": cy, "mass": mass,
           "area": (weight > 0).sum(axis=1).astype(np.float64), "mu20": mu20, "mu02": mu02, "mu11": mu11,
           "angle": 0.5 * np.arctan2(2 * mu11, mu20 - mu02)}
    return {k: v.reshape(lead) for k, v in out.items()}
