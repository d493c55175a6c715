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

import math
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
    """Coverage and (U, V) of one part at points (xs, ys) (pixel centres): (inside bool, u, v), each of the shape
    xs and ys broadcast to (a row of x and a column of y give the whole grid).

    U and V follow the module docstring; outside the part they continue the same affine formulas.
    """
    # The frame's numbers are scalars, not two-element arrays: on arrays that small NumPy spends more time per
    # call than on the arithmetic (a figure calls this ten times per placement). Same operations, same numbers.
    (x0, y0), (x1, y1), r = part.p0, part.p1, part.r
    length = float(np.hypot(x1 - x0, y1 - y0))
    d = ((x1 - x0) / length, (y1 - y0) / length)  # unit vector along the axis
    normal = (-d[1], d[0])  # the axis turned 90 degrees clockwise on screen (y points down)
    dx, dy = xs - x0, ys - y0
    s = dx * d[0] + dy * d[1]
    w = dx * normal[0] + dy * normal[1]
    if part.kind == "ellipse":
        half = length / 2
        inside = ((s - half) / half) ** 2 + (w / r) ** 2 <= 1.0
        u = s / length
    else:
        nearest = np.minimum(np.maximum(s, 0.0), length)  # s clipped to the segment, without np.clip's overhead
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
    return [Part(k, tuple(parts[k][0].tolist()), tuple(parts[k][1].tolist()), float(parts[k][2]))
            for k in range(1, NUM_PARTS + 1)]


def _extent(parts: list[Part]) -> np.ndarray:
    """(x1, y1, x2, y2) around every part (a box around each axis grown by its half-width, generous for ellipses)."""
    pts = np.array([p for part in parts for p in (part.p0, part.p1)])
    rad = np.repeat([part.r for part in parts], 2)
    return np.array([(pts[:, 0] - rad).min(), (pts[:, 1] - rad).min(), (pts[:, 0] + rad).max(),
                     (pts[:, 1] + rad).max()])


def _place(parts: list[Part], scale: float, offset: np.ndarray) -> list[Part]:
    # Scalar arithmetic (the same IEEE operations as on arrays, so the same numbers): two points are too few
    # for NumPy's per-call overhead to pay off.
    def move(p):
        return float(p[0] * scale + offset[0]), float(p[1] * scale + offset[1])

    return [Part(p.label, move(p.p0), move(p.p1), p.r * scale) for p in parts]


def _box(part: Part, size: int) -> tuple[slice, slice]:
    """Rows and columns of a size x size image whose pixel centres may lie inside ``part``.

    A capsule lies within its half-width ``r`` of its axis, and so does an ellipse (the capsule around its major
    axis contains it): the axis's box grown by ``r`` holds the part; one more pixel on each side covers rounding.
    """
    (x0, y0), (x1, y1), r = part.p0, part.p1, part.r

    def span(a, b):  # clamped into [0, size], so a part off the image gets an empty slice, never a negative index
        start = min(max(math.floor(min(a, b) - r) - 1, 0), size)
        return slice(start, min(max(math.ceil(max(a, b) + r) + 1, start), size))

    return span(y0, y1), span(x0, x1)


def _paint(parts: list[Part], centres: np.ndarray):
    """One figure alone, painted in DRAW_ORDER: (window, labels, uv).

    ``centres`` are the image's pixel centres along one side (0.5, 1.5, ...). ``window`` is a pair of slices
    (rows, columns) holding the whole figure; ``labels`` (h, w) int and ``uv`` (h, w, 2) cover that window only,
    as every pixel outside it is background. Each part is evaluated only over its own box, on a row of x and a
    column of y that ``part_fields`` broadcasts: the same arithmetic per pixel as over the whole image, so the
    same numbers, for a fraction of the work (a figure covers about a sixth of its image, a part far less).
    """
    boxes = {label: _box(parts[label - 1], len(centres)) for label in DRAW_ORDER}
    top, left = min(b[0].start for b in boxes.values()), min(b[1].start for b in boxes.values())
    bottom = max(max(b[0].stop for b in boxes.values()), top)
    right = max(max(b[1].stop for b in boxes.values()), left)
    labels = np.zeros((bottom - top, right - left), np.int32)
    uv = np.zeros((bottom - top, right - left, 2), np.float64)
    for label in DRAW_ORDER:
        rows, cols = boxes[label]
        inside, u, v = part_fields(parts[label - 1], centres[cols][None, :], centres[rows][:, None])
        local = (slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left))
        uv_here = uv[local]  # views into the window, written through
        np.copyto(labels[local], label, where=inside)
        np.copyto(uv_here[..., 0], u, where=inside)
        np.copyto(uv_here[..., 1], v, where=inside)
    # The inside test and the formulas agree up to rounding; keep the stored values exactly in range.
    return (slice(top, bottom), slice(left, right)), labels, np.clip(uv, 0.0, 1.0)


# --------------------------------------------------------------------------- appearance


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth blend of two colours, clouds or stripes, (h, w, 3) float in 0-255."""
    c1, c2 = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    if rng.random() < 0.5:
        field_ = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 8, mode="wrap")
    else:
        # A column of row indices and a row of column indices broadcast to the grid: the same sums, less work.
        yy, xx = np.arange(h)[:, None], np.arange(w)[None, :]
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


# Which clothing colour each part wears, in the order the parts draw their shades (that order fixes which
# random number shades which part, so it is part of the data).
_SHADE_ORDER = (1, 3, 5, 2, 4, 6, 7, 8, 9, 10)
_CLOTHING = ("shirt",) * 3 + ("skin",) * 3 + ("trousers",) * 4


def _figure_colours(rng, background_mean) -> np.ndarray:
    """One figure's colours: a (NUM_PARTS + 1, 3) palette indexed by part label (row 0, the background, unused)."""
    skin = _colour(rng, [background_mean], [90])
    shirt = _colour(rng, [background_mean, skin], [90, 60])
    trousers = _colour(rng, [background_mean, shirt], [90, 60])
    clothing = {"skin": skin, "shirt": shirt, "trousers": trousers}
    base = np.array([clothing[c] for c in _CLOTHING])
    palette = np.zeros((NUM_PARTS + 1, 3))
    # One draw of ten shades gives the same numbers as ten draws of one.
    palette[list(_SHADE_ORDER)] = np.clip(base * rng.uniform(0.85, 1.15, NUM_PARTS)[:, None], 0, 255)
    return palette


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

    centres = np.arange(size) + 0.5  # pixel centres along a side
    images = np.zeros((num_images, size, size, 3), np.uint8)
    part_maps = np.zeros((num_images, size, size), np.int32)
    uv_maps = np.zeros((num_images, size, size, 2), np.float32)
    instance_maps = np.zeros((num_images, size, size), np.int32)
    boxes, geometry = [], []
    for i in range(num_images):
        rng = np.random.default_rng([seed, i])
        canvas = _background(rng, size, size)
        labels, uv, owner = part_maps[i], uv_maps[i], instance_maps[i]  # views: painted in place
        placed = []
        for k in range(int(rng.integers(lo_count, hi_count + 1))):
            body = _skeleton(rng)
            x1, y1, x2, y2 = _extent(body)
            # What the earlier figures show now; the same for every placement tried below.
            visible_before = [(owner == j + 1).sum() for j in range(k)]
            for _ in range(30):
                scale = rng.uniform(lo_size, hi_size) * size / max(x2 - x1, y2 - y1)
                offset = np.array([rng.uniform(-x1 * scale, size - x2 * scale),
                                   rng.uniform(-y1 * scale, size - y2 * scale)])
                parts = _place(body, scale, offset)
                window, f_labels, f_uv = _paint(parts, centres)
                covered = f_labels > 0
                # A new figure can hide pixels only inside its own window.
                hidden = [((owner[window] == j + 1) & covered).sum() for j in range(k)]
                if all(b == 0 or b - h >= min_visible * b for h, b in zip(hidden, visible_before)):
                    break
            palette = _figure_colours(rng, canvas.mean((0, 1)))
            # Paint the figure over what is there, in its window only (copyto with ``where`` skips the
            # gathering and scattering of boolean indexing).
            np.copyto(canvas[window], palette[f_labels], where=covered[..., None])
            np.copyto(labels[window], f_labels, where=covered)
            np.copyto(uv[window], f_uv, where=covered[..., None])  # float64 -> float32, rounded once as before
            np.copyto(owner[window], k + 1, where=covered)
            placed.append(parts)
        canvas += rng.standard_normal(canvas.shape) * rng.uniform(0, float(noise))
        images[i] = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
        image_boxes = []
        for j in range(len(placed)):
            rows, cols = np.nonzero(owner == j + 1)
            image_boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] if rows.size else [0, 0, 0, 0])
        boxes.append(np.asarray(image_boxes, np.float32).reshape(-1, 4))
        geometry.append(placed)
    return Figures(images, part_maps, uv_maps, instance_maps, boxes, geometry, seed)
