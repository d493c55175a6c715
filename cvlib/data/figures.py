"""Synthetic articulated figures with exact dense correspondence: part maps and (U, V) maps (notebook 16).

DensePose (Güler, Neverova and Kokkinos, "DensePose: Dense Human Pose Estimation in the Wild",
CVPR 2018) maps every pixel of a person to a body part and to a point (U, V) on that part's
surface. No such annotations can be had offline, so this module draws figures whose
correspondence is known exactly, by construction.

A figure
--------
Ten parts (``PART_NAMES``) hang on a skeleton with a random pose: the **torso** and the **head**
are ellipses, the **upper and lower arms and legs** are capsules (a segment from joint to joint,
thickened by a radius, so the ends are round). "Left" and "right" are the *figure's* own sides,
as in DensePose: a figure faces the viewer, so its left arm is on the image's right unless the
pose crosses it over.

Every part has its own frame: an axis from its **proximal** end (the end nearer the torso: the
shoulder, the hip, the neck; for the torso, the hips) to its **distal** end, and a half-width
``r`` across it. For a pixel centre at distance ``s`` along the axis from the proximal joint and
``w`` across it (signed, positive on the side of the axis's normal turned 90 degrees clockwise
in the image),

- capsule of joint-to-joint length ``L``: ``U = (s + r) / (L + 2 r)``, ``V = (w + r) / (2 r)``;
- ellipse with major axis ``L`` from proximal to distal end: ``U = s / L``, ``V = (w + r) / (2 r)``.

So U runs from 0 at the part's proximal end to 1 at its distal end (for a capsule the ends are
the tips of its round caps, half a width beyond the joints), V from 0 to 1 across it. Both are
affine functions of the pixel's position inside a part: continuous, and each point of the part
has its own (U, V). They lie in [0, 1] for every pixel the part covers.

Painting
--------
A pixel (row r, column c) is the square [c, c + 1) x [r, r + 1) and a part covers it when the
pixel's centre lies inside the part. Parts are painted back to front in ``DRAW_ORDER`` — upper
legs, lower legs, torso, head, upper arms, lower arms — and a pixel belongs to the part painted
on top, which also gives it its (U, V): arms pass in front of the body, a lower limb covers the
round end of the upper limb at the elbow or knee. Several figures in one image are painted one
after another, later ones in front; ``instances`` says which figure each pixel shows.

Colours: each figure draws a skin colour (head, lower arms), a shirt colour (torso, upper arms)
and a trousers colour (legs), all at least 90 (Euclidean, 0-255) from the mean background colour
and the shirt at least 60 from the skin and the trousers, and each part shades its colour by a
random factor in [0.85, 1.15]. So colour tells the clothing apart but not the left from the right, nor an
upper from a lower leg: the network must read the figure's shape. Backgrounds are smooth
two-colour textures (clouds or stripes) with Gaussian pixel noise.

Determinism: image ``i`` depends only on ``(seed, i)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

__all__ = ["DRAW_ORDER", "NUM_PARTS", "PART_NAMES", "Figures", "generate_figures", "part_fields"]

PART_NAMES: tuple[str, ...] = (
    "torso",
    "head",
    "upper arm left",
    "lower arm left",
    "upper arm right",
    "lower arm right",
    "upper leg left",
    "lower leg left",
    "upper leg right",
    "lower leg right",
)
NUM_PARTS = len(PART_NAMES)
# Part labels are 1 + the index into PART_NAMES (0 is the background). Back to front:
DRAW_ORDER: tuple[int, ...] = (7, 9, 8, 10, 1, 2, 3, 5, 4, 6)
_ELLIPSES = (1, 2)  # torso and head; the limbs are capsules


@dataclass(frozen=True)
class Part:
    """One part's geometry in pixels: proximal point ``p0`` and distal point ``p1`` (x, y), half-width ``r``.

    For a capsule ``p0`` and ``p1`` are its joints; for an ellipse, the ends of its major axis.
    """

    label: int
    p0: tuple[float, float]
    p1: tuple[float, float]
    r: float

    @property
    def kind(self) -> str:
        return "ellipse" if self.label in _ELLIPSES else "capsule"


@dataclass
class Figures:
    """Rendered figures and their exact dense targets.

    - ``images``: (N, H, W, 3) uint8;
    - ``parts``: (N, H, W) int32, 0 background, 1 + index into ``PART_NAMES``;
    - ``uv``: (N, H, W, 2) float32, (U, V) in [0, 1] on figure pixels, 0 on the background;
    - ``instances``: (N, H, W) int32, 0 background, 1 + the figure's index in its image;
    - ``boxes``: N arrays (k_i, 4), each figure's tight ``xyxy`` box around its visible pixels
      (x2 = last column + 1), in painting order;
    - ``geometry``: N lists (one per figure) of the 10 ``Part``s, in ``PART_NAMES`` order.
    """

    images: np.ndarray
    parts: np.ndarray
    uv: np.ndarray
    instances: np.ndarray
    boxes: list[np.ndarray]
    geometry: list[list[list[Part]]] = field(repr=False)
    seed: int = 0

    part_names: tuple[str, ...] = PART_NAMES

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.images.shape[1], self.images.shape[2]

    def __repr__(self) -> str:
        counts = [len(b) for b in self.boxes]
        return (f"Figures({len(self)} images of {self.image_size[0]}x{self.image_size[1]}, "
                f"{min(counts, default=0)}-{max(counts, default=0)} figures each, seed={self.seed})")


# --------------------------------------------------------------------------- input checks


def _int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _range(value, name: str, low: float, high: float) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair (low, high), got {value!r}") from None
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name}: expected {low} <= low <= high <= {high}, got {value!r}")
    return lo, hi


def _count_range(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an integer or a pair (min, max), got {value!r}") from None
    lo, hi = _int(lo, name, 1), _int(hi, name, 1)
    if lo > hi:
        raise ValueError(f"{name}: expected min <= max, got {value!r}")
    return lo, hi


# --------------------------------------------------------------------------- geometry


def part_fields(part: Part, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage and (U, V) of one part at points (xs, ys) (pixel centres): (inside bool, u, v), each of xs's shape.

    U and V follow the module docstring; outside the part they continue the same affine formulas.
    """
    p0, p1 = np.asarray(part.p0, float), np.asarray(part.p1, float)
    axis = p1 - p0
    length = float(np.hypot(*axis))
    d = axis / length
    normal = np.array([-d[1], d[0]])  # the axis turned 90 degrees clockwise on screen (y points down)
    dx, dy = xs - p0[0], ys - p0[1]
    s = dx * d[0] + dy * d[1]
    w = dx * normal[0] + dy * normal[1]
    r = part.r
    if part.kind == "ellipse":
        half = length / 2
        inside = ((s - half) / half) ** 2 + (w / r) ** 2 <= 1.0
        u = s / length
    else:
        nearest = np.clip(s, 0.0, length)
        inside = (s - nearest) ** 2 + w**2 <= r**2
        u = (s + r) / (length + 2 * r)
    v = (w + r) / (2 * r)
    return inside, u, v


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def _skeleton(rng: np.random.Generator) -> list[Part]:
    """The 10 parts of one figure in body units (torso length 1), centred near the origin, random pose and build."""
    tilt = rng.uniform(-0.35, 0.35)  # radians from upright
    up = np.array([np.sin(tilt), -np.cos(tilt)])  # image y points down
    side = np.array([np.cos(tilt), np.sin(tilt)])  # towards the figure's left (the image's right when upright)
    torso_half_width = rng.uniform(0.27, 0.33)
    hips_c, neck = -0.5 * up, 0.5 * up
    parts = {1: (hips_c, neck, torso_half_width)}
    nod = rng.uniform(-0.35, 0.35)
    head_dir = up * np.cos(nod) + side * np.sin(nod)
    head_len = rng.uniform(0.42, 0.5)
    head_start = neck - 0.04 * up
    parts[2] = (head_start, head_start + head_len * head_dir, head_len * rng.uniform(0.36, 0.42))

    def limb(joint, sign, spread, bend, lengths, radii):
        down = -up
        d1 = down * np.cos(spread) + sign * side * np.sin(spread)
        elbow = joint + lengths[0] * d1
        d2 = down * np.cos(spread + bend) + sign * side * np.sin(spread + bend)
        return (joint, elbow, radii[0]), (elbow, elbow + lengths[1] * d2, radii[1])

    arm_r = rng.uniform(0.1, 0.12)
    leg_r = rng.uniform(0.13, 0.15)
    for label, sign in ((3, 1.0), (5, -1.0)):
        shoulder = neck - 0.1 * up + sign * (torso_half_width - 0.5 * arm_r) * side
        spread, bend = rng.uniform(0.15, 2.6), rng.uniform(-1.4, 1.4)
        parts[label], parts[label + 1] = limb(shoulder, sign, spread, bend,
                                              (rng.uniform(0.42, 0.5), rng.uniform(0.38, 0.46)),
                                              (arm_r, arm_r * 0.9))
    for label, sign in ((7, 1.0), (9, -1.0)):
        hip = hips_c + 0.08 * up + sign * 0.55 * torso_half_width * side
        spread, bend = rng.uniform(-0.05, 0.5), rng.uniform(-0.45, 0.3)
        parts[label], parts[label + 1] = limb(hip, sign, spread, bend,
                                              (rng.uniform(0.5, 0.58), rng.uniform(0.45, 0.53)),
                                              (leg_r, leg_r * 0.85))
    return [Part(k, tuple(parts[k][0]), tuple(parts[k][1]), float(parts[k][2])) for k in range(1, NUM_PARTS + 1)]


def _extent(parts: list[Part]) -> np.ndarray:
    """(x1, y1, x2, y2) around every part (a box around each axis grown by its half-width, generous for ellipses)."""
    pts = np.array([p for part in parts for p in (part.p0, part.p1)])
    rad = np.repeat([part.r for part in parts], 2)
    return np.array([(pts[:, 0] - rad).min(), (pts[:, 1] - rad).min(), (pts[:, 0] + rad).max(),
                     (pts[:, 1] + rad).max()])


def _place(parts: list[Part], scale: float, offset: np.ndarray) -> list[Part]:
    def move(p):
        return tuple(float(c) for c in np.asarray(p) * scale + offset)

    return [Part(p.label, move(p.p0), move(p.p1), p.r * scale) for p in parts]


def _paint(parts: list[Part], xs, ys):
    """Part labels (H, W) int and UV (H, W, 2) of one figure alone, painted in DRAW_ORDER."""
    labels = np.zeros(xs.shape, np.int32)
    uv = np.zeros((*xs.shape, 2), np.float64)
    for label in DRAW_ORDER:
        inside, u, v = part_fields(parts[label - 1], xs, ys)
        labels[inside] = label
        uv[inside, 0], uv[inside, 1] = u[inside], v[inside]
    # The inside test and the formulas agree up to rounding; keep the stored values exactly in range.
    return labels, np.clip(uv, 0.0, 1.0)


# --------------------------------------------------------------------------- appearance


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth blend of two colours, clouds or stripes, (h, w, 3) float in 0-255."""
    c1, c2 = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    if rng.random() < 0.5:
        field_ = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 8, mode="wrap")
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.15, 0.4) * max(h, w)
        field_ = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-9)
    return c1 * (1 - field_[..., None]) + c2 * field_[..., None]


def _colour(rng, away_from: list[np.ndarray], distances: list[float]) -> np.ndarray:
    """A random RGB colour at least ``distances[i]`` from ``away_from[i]`` (best of 100 draws otherwise)."""
    best, best_margin = None, -np.inf
    for _ in range(100):
        c = rng.uniform(0, 255, 3)
        margin = min((np.linalg.norm(c - a) - d for a, d in zip(away_from, distances)), default=0.0)
        if margin >= 0:
            return c
        if margin > best_margin:
            best, best_margin = c, margin
    return best


def _figure_colours(rng, background_mean) -> dict[int, np.ndarray]:
    skin = _colour(rng, [background_mean], [90])
    shirt = _colour(rng, [background_mean, skin], [90, 60])
    trousers = _colour(rng, [background_mean, shirt], [90, 60])
    group = {1: shirt, 3: shirt, 5: shirt, 2: skin, 4: skin, 6: skin, 7: trousers, 8: trousers, 9: trousers,
             10: trousers}
    return {k: np.clip(c * rng.uniform(0.85, 1.15), 0, 255) for k, c in group.items()}


# --------------------------------------------------------------------------- the generator


def generate_figures(
    num_images: int,
    image_size: int = 64,
    figures_per_image=1,
    figure_size=(0.75, 0.95),
    min_visible: float = 0.5,
    noise: float = 8.0,
    seed: int = 0,
) -> Figures:
    """Render ``num_images`` images of articulated figures with their part, UV and instance maps.

    Args:
        num_images: how many images (0 gives empty arrays of the right shapes).
        image_size: side of the square images in pixels (at least 32).
        figures_per_image: an integer, or (min, max) drawn uniformly per image.
        figure_size: (low, high) fraction of the image side taken by a figure's longer extent.
        min_visible: a figure painted later may leave an earlier one no less than this fraction of its
            pixels visible; its placement is redrawn up to 30 times (after that it is kept anyway).
        noise: the Gaussian pixel noise's standard deviation is drawn per image from [0, noise].
        seed: image ``i`` depends only on ``(seed, i)``.
    """
    num_images = _int(num_images, "num_images", 0)
    size = _int(image_size, "image_size", 32)
    lo_count, hi_count = _count_range(figures_per_image, "figures_per_image")
    lo_size, hi_size = _range(figure_size, "figure_size", 0.05, 1.0)
    min_visible = float(min_visible)
    if not 0.0 <= min_visible <= 1.0:
        raise ValueError(f"min_visible: expected a fraction in [0, 1], got {min_visible!r}")
    if not (np.isscalar(noise) and 0.0 <= float(noise) < np.inf):
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    seed = _int(seed, "seed", 0)

    ys, xs = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    images = np.zeros((num_images, size, size, 3), np.uint8)
    part_maps = np.zeros((num_images, size, size), np.int32)
    uv_maps = np.zeros((num_images, size, size, 2), np.float32)
    instance_maps = np.zeros((num_images, size, size), np.int32)
    boxes, geometry = [], []
    for i in range(num_images):
        rng = np.random.default_rng([seed, i])
        canvas = _background(rng, size, size)
        labels = np.zeros((size, size), np.int32)
        uv = np.zeros((size, size, 2))
        owner = np.zeros((size, size), np.int32)
        placed = []
        for k in range(int(rng.integers(lo_count, hi_count + 1))):
            body = _skeleton(rng)
            x1, y1, x2, y2 = _extent(body)
            for _ in range(30):
                scale = rng.uniform(lo_size, hi_size) * size / max(x2 - x1, y2 - y1)
                offset = np.array([rng.uniform(-x1 * scale, size - x2 * scale),
                                   rng.uniform(-y1 * scale, size - y2 * scale)])
                parts = _place(body, scale, offset)
                f_labels, f_uv = _paint(parts, xs, ys)
                covered = f_labels > 0
                visible_before = [(owner == j + 1).sum() for j in range(k)]
                left = [((owner == j + 1) & ~covered).sum() for j in range(k)]
                if all(b == 0 or a >= min_visible * b for a, b in zip(left, visible_before)):
                    break
            colours = _figure_colours(rng, canvas.mean((0, 1)))
            for label, colour in colours.items():
                canvas[f_labels == label] = colour
            labels[covered], uv[covered], owner[covered] = f_labels[covered], f_uv[covered], k + 1
            placed.append(parts)
        canvas += rng.standard_normal(canvas.shape) * rng.uniform(0, float(noise))
        images[i] = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
        part_maps[i], uv_maps[i], instance_maps[i] = labels, uv, owner
        image_boxes = []
        for j in range(len(placed)):
            rows, cols = np.nonzero(owner == j + 1)
            image_boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] if rows.size else [0, 0, 0, 0])
        boxes.append(np.asarray(image_boxes, np.float32).reshape(-1, 4))
        geometry.append(placed)
    return Figures(images, part_maps, uv_maps, instance_maps, boxes, geometry, seed)
