"""Synthetic scenes of coloured shapes for detection and segmentation, generated from a seed.

Many lessons train and evaluate on these scenes: single-object localisation
(``min_objects=max_objects=1``), selective-search proposals, R-CNN / Fast / Faster
R-CNN, YOLO, U-Net semantic segmentation, Mask R-CNN and interactive
segmentation. It is the course's running example: every lesson can train on it
offline, on a CPU, in minutes.

What a scene holds
------------------
- **Classes** (``CLASS_NAMES``): circle, square, triangle, star, cross, ellipse.
  A label is an ``int`` indexing the ``class_names`` of the scenes (0-based; a
  notebook adds a background class when it needs one). Classes differ by shape
  alone: circles and squares keep an aspect ratio of 1 (a stretched square would
  be a rectangle, a stretched circle an ellipse), ellipses are clearly elongated
  (minor/major axis 0.4-0.62), triangles, stars and crosses may be mildly
  stretched. Every object is rotated at random.
- **Size**: ``object_size=(lo, hi)`` is the object's longest extent (the diameter
  of its circumscribing circle) as a fraction of the image's shorter side.
  Objects lie wholly inside the image (no truncation at the border).
- **Occlusion**: objects are painted one after another, later ones on top, and
  may overlap or touch. Masks hold the *visible* pixels, so the masks of one
  image are disjoint. A new object that would leave an earlier one less than
  ``min_visible`` (default 0.5) of its own area visible is not painted; its
  position, size and shape are drawn again (up to 50 times, the largest allowed
  size shrinking towards ``lo``; after that the slot stays empty, which only
  happens when many large objects are asked for in a small image). So every
  painted pixel is annotated and every object keeps at least ``min_visible`` of
  itself visible. With
  ``occlusion=False`` objects never overlap (they may still touch).
- **Colours**: each object has one random RGB colour, chosen to stand out from
  what it covers: at least 100 (Euclidean, 0-255 scale) from the mean colour under
  it, at most 5% of the pixels under it within 50 of it, a luminance difference of
  at least 25 (so it survives conversion to grey), and at least 70 from the colour
  of every earlier object in the image (so touching objects stay separable).
- **Backgrounds** (``BACKGROUNDS``), one per image: ``"plain"`` (one colour),
  ``"noisy"`` (strong per-pixel noise), and four textures blending two related
  colours: ``"gradient"``, ``"stripes"`` (a sinusoid of random angle and period),
  ``"blobs"`` (a few Gaussian blobs) and ``"clouds"`` (low-frequency noise).
  ``background="mixed"`` draws any of the six, ``"textured"`` any of the four
  textures; a name or a list of names restricts the choice.
- **Pixel noise**: Gaussian, with a standard deviation drawn per image from
  ``[0, noise]``.

Coordinates are continuous pixels (``cvlib.boxes``): pixel (row r, column c) is the
square [c, c + 1) x [r, r + 1), and a shape covers a pixel when the pixel's centre
lies inside it. Boxes are ``xyxy``, tight around the visible mask: x1 is the first
column of the mask, x2 the last column + 1.

Determinism: image ``i`` depends only on ``(seed, i)`` (``np.random.default_rng([seed, i])``),
so the first 10 images of a 1,000-image set equal a 10-image set with the same seed.

Rendering is vectorised NumPy over each object's bounding window (no OpenCV or
scikit-image needed): 1,000 images take about 0.7 s at 64 x 64 and 1.7 s at
128 x 128 on one CPU core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvlib._checks import probability, to_numpy

__all__ = ["BACKGROUNDS", "CLASS_NAMES", "Scenes", "generate_scenes", "instance_map", "semantic_map"]

CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ellipse")
BACKGROUNDS: tuple[str, ...] = ("plain", "noisy", "gradient", "stripes", "blobs", "clouds")
_TEXTURES = ("gradient", "stripes", "blobs", "clouds")
_BACKGROUND_GROUPS = {"mixed": BACKGROUNDS, "textured": _TEXTURES}

# Per class: range of the minor/major axis ratio, and of the shape parameter
# (star: inner/outer radius; cross: arm half-width / arm half-length).
_ASPECT = {
    "circle": (1.0, 1.0),
    "square": (1.0, 1.0),
    "triangle": (0.75, 1.0),
    "star": (0.85, 1.0),
    "cross": (0.8, 1.0),
    "ellipse": (0.4, 0.62),
}
_PARAM = {"star": (0.42, 0.5), "cross": (0.28, 0.4)}

_MIN_IMAGE_SIDE = 16
_PLACEMENT_TRIES = 50
_COLOUR_CANDIDATES = 16
# Colour contrast rules (RGB on the 0-255 scale), see the module docstring.
_MIN_DIST_MEAN = 100.0
_NEAR_DIST, _MAX_NEAR_FRACTION = 50.0, 0.05
_MIN_LUMA = 25.0
_MIN_DIST_OBJECT = 70.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as in cv2.cvtColor and PIL


@dataclass(eq=False)  # arrays have no single truth value: compare fields with np.array_equal
class Scenes:
    """A set of generated scenes.

    - ``images``: uint8 (N, H, W, 3);
    - ``targets``: one dict per image, ``{"boxes": float32 (k, 4) xyxy, "labels": int32 (k,),
      "masks": bool (k, H, W)}`` (visible masks; boxes tight around them);
    - ``class_names``: the names the labels index.

    ``len(scenes)``; ``scenes[i]`` is ``(image, target)``; ``scenes[a:b]`` (or an index
    array) is a smaller ``Scenes``.
    """

    images: np.ndarray
    targets: list[dict]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.images[index], self.targets[index]
        picked = np.arange(len(self))[index]
        return Scenes(self.images[picked], [self.targets[i] for i in picked], self.class_names)

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def __repr__(self) -> str:
        n = sum(len(t["labels"]) for t in self.targets)
        return f"Scenes({len(self)} images of {self.image_size}, {n} objects, classes={self.class_names})"


# --------------------------------------------------------------------------- input checks


def _int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _image_size(image_size) -> tuple[int, int]:
    pair = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(pair) != 2:
        raise ValueError(f"image_size: expected an int or (H, W), got {image_size!r}")
    for side in pair:
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < _MIN_IMAGE_SIDE:
            raise ValueError(
                f"image_size: expected an int or (H, W) of integers >= {_MIN_IMAGE_SIDE}, got {image_size!r}"
            )
    return int(pair[0]), int(pair[1])


def _classes(classes) -> tuple[str, ...]:
    names = (classes,) if isinstance(classes, str) else tuple(classes)
    if not names:
        raise ValueError("classes: expected at least one class name, got none")
    for name in names:
        if name not in CLASS_NAMES:
            raise ValueError(f"classes: unknown class name {name!r}; expected names from {CLASS_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"classes: each name may appear once, got {names}")
    return names


def _object_size(object_size) -> tuple[float, float]:
    pair = (object_size, object_size) if np.isscalar(object_size) else tuple(object_size)
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"object_size: expected (min, max) fractions in (0, 1], got {object_size!r}") from None
    if not (0.0 < lo <= hi <= 1.0):
        raise ValueError(
            f"object_size: expected 0 < min <= max <= 1 (fractions of the image side), got {object_size!r}"
        )
    return lo, hi


def _backgrounds(background) -> tuple[str, ...]:
    if isinstance(background, str):
        names = _BACKGROUND_GROUPS.get(background, (background,))
    else:
        names = tuple(background)
    if not names or any(not isinstance(n, str) or n not in BACKGROUNDS for n in names):
        raise ValueError(
            f"background: unknown background {background!r}; expected 'mixed', 'textured', "
            f"one of {BACKGROUNDS} or a list of them"
        )
    return names


# --------------------------------------------------------------------------- backgrounds


def _background(kind: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float32 (H, W, 3) background on the 0-255 scale."""
    base = rng.uniform(0, 255, 3).astype(np.float32)
    if kind == "plain":
        return np.broadcast_to(base, (h, w, 3)).copy()
    if kind == "noisy":
        sigma = rng.uniform(12, 25)
        return base + sigma * rng.standard_normal((h, w, 3), dtype=np.float32)
    # Textures blend the base colour with a second colour 50-110 away from it.
    direction = rng.standard_normal(3)
    other = np.clip(base + rng.uniform(50, 110) * direction / np.linalg.norm(direction), 0, 255)
    side = min(h, w)
    y = np.arange(h, dtype=np.float32)[:, None] + 0.5
    x = np.arange(w, dtype=np.float32)[None, :] + 0.5
    if kind in ("gradient", "stripes"):
        angle = rng.uniform(0, 2 * np.pi)
        along = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
        if kind == "gradient":
            t = (along - along.min()) / max(float(along.max() - along.min()), 1e-6)
        else:
            period = rng.uniform(0.08, 0.3) * side
            t = 0.5 + 0.5 * np.sin(along * np.float32(2 * np.pi / period) + np.float32(rng.uniform(0, 2 * np.pi)))
    elif kind == "blobs":
        n = int(rng.integers(3, 9))
        cy, cx = rng.uniform(0, h, (n, 1, 1)), rng.uniform(0, w, (n, 1, 1))
        sigma = rng.uniform(0.05, 0.2, (n, 1, 1)) * side
        t = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)).sum(0)
        t = np.minimum(t, 1.0)
    else:  # clouds: a coarse grid of random values, bilinearly upsampled (two small matrix products)
        g = int(rng.integers(3, 7))
        grid = rng.uniform(0, 1, (g, g))
        t = _upsample_matrix(h, g) @ grid @ _upsample_matrix(w, g).T
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    t = t.astype(np.float32)[..., None]
    return base + t * (other - base).astype(np.float32)


def _upsample_matrix(n: int, g: int) -> np.ndarray:
    """(n, g) weights of linear interpolation from g grid points spread over n pixels."""
    pos = (np.arange(n) + 0.5) / n * (g - 1)
    return np.maximum(0.0, 1.0 - np.abs(pos[:, None] - np.arange(g)[None, :]))


# --------------------------------------------------------------------------- shapes


def _inside_star(u: np.ndarray, v: np.ndarray, points: int, inner: float) -> np.ndarray:
    """Pixels inside a star polygon with outer radius 1 and inner radius ``inner``.

    With ``inner = cos(pi / points)`` the inner vertices sit on the edges' midpoints and
    the star is the regular polygon (triangle, square). The plane is folded by the
    shape's symmetry into the wedge between an outer vertex P (angle 0) and the next
    inner vertex Q (angle pi / points); a point there is inside when it lies on the
    origin's side of the edge PQ.
    """
    half = np.pi / points
    phi = np.mod(np.arctan2(v, u), 2 * half)
    phi = np.minimum(phi, 2 * half - phi)
    r = np.hypot(u, v)
    px, py = r * np.cos(phi), r * np.sin(phi)
    qx, qy = inner * np.cos(half), inner * np.sin(half)
    return (qx - 1.0) * py - qy * (px - 1.0) >= 0


def _inside(kind: str, u: np.ndarray, v: np.ndarray, param: float) -> np.ndarray:
    """Pixels inside a shape of circumradius 1 centred at the origin, in its own (u, v) frame."""
    if kind in ("circle", "ellipse"):
        return u * u + v * v <= 1.0
    if kind == "square":
        return _inside_star(u, v, 4, np.cos(np.pi / 4))
    if kind == "triangle":
        return _inside_star(u, v, 3, 0.5)
    if kind == "star":
        return _inside_star(u, v, 5, param)
    # cross: two bars of half-length 1/sqrt(1 + t^2) (so the arm tips touch the unit circle) and half-width t*that
    au, av = np.abs(u), np.abs(v)
    length = 1.0 / np.sqrt(1.0 + param * param)
    width = param * length
    return ((au <= length) & (av <= width)) | ((au <= width) & (av <= length))


def _draw_shape(kind, rng, h, w, radius):
    """Draw one shape's pose; return its window (y0, x0) and its mask in that window."""
    cx = rng.uniform(radius, w - radius)
    cy = rng.uniform(radius, h - radius)
    angle = rng.uniform(0, 2 * np.pi)
    aspect = rng.uniform(*_ASPECT[kind])
    param = rng.uniform(*_PARAM.get(kind, (0.0, 0.0)))
    x0, x1 = max(int(np.floor(cx - radius)), 0), min(int(np.ceil(cx + radius)), w)
    y0, y1 = max(int(np.floor(cy - radius)), 0), min(int(np.ceil(cy + radius)), h)
    dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy)[:, None]
    c, s = np.float32(np.cos(angle) / radius), np.float32(np.sin(angle) / radius)
    u = dx * c + dy * s
    v = (dy * c - dx * s) / np.float32(aspect)
    return y0, x0, _inside(kind, u, v, param)


def _pick_colour(rng, covered: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """A random colour contrasting with the covered pixels (P, 3) and the other objects' colours."""
    candidates = rng.integers(0, 256, (_COLOUR_CANDIDATES, 3)).astype(np.float32)
    mean = covered.mean(0)
    covered = covered[:: max(1, len(covered) // 512)]  # a subsample is enough to estimate a fraction
    near = (np.linalg.norm(candidates[:, None] - covered[None], axis=-1) < _NEAR_DIST).mean(1)
    score = np.minimum.reduce(
        [
            np.linalg.norm(candidates - mean, axis=1) / _MIN_DIST_MEAN,
            np.abs((candidates - mean) @ _LUMA) / _MIN_LUMA,
            (1.0 - near) / (1.0 - _MAX_NEAR_FRACTION),
        ]
    )
    if others:
        gaps = np.linalg.norm(candidates[:, None] - np.stack(others)[None], axis=-1).min(1)
        score = np.minimum(score, gaps / _MIN_DIST_OBJECT)
    good = np.flatnonzero(score >= 1.0)
    # The first acceptable candidate keeps colours uniform over the allowed set; failing
    # that (rare: crowded, colourful scenes), the best of the candidates.
    return candidates[good[0] if good.size else int(np.argmax(score))]


def _scene(rng, h, w, *, classes, size_range, backgrounds, min_objects, max_objects, occlusion, min_visible, noise):
    """One image, its target, and the objects' full (unoccluded) areas (the tests check ``min_visible``)."""
    canvas = _background(backgrounds[int(rng.integers(len(backgrounds)))], rng, h, w)
    side = min(h, w)
    lo, hi = size_range
    visible: list[np.ndarray] = []  # (H, W) visible mask of each placed object
    shown: list[int] = []  # its visible pixel count
    area: list[int] = []  # its full pixel count
    labels: list[int] = []
    colours: list[np.ndarray] = []
    occupied = np.zeros((h, w), bool)
    for _ in range(int(rng.integers(min_objects, max_objects + 1))):
        label = int(rng.integers(len(classes)))
        for attempt in range(_PLACEMENT_TRIES):
            top = hi - (hi - lo) * attempt / _PLACEMENT_TRIES  # shrink the largest size when crowded
            radius = rng.uniform(lo, top) * side / 2
            y0, x0, window = _draw_shape(classes[label], rng, h, w, radius)
            region = (slice(y0, y0 + window.shape[0]), slice(x0, x0 + window.shape[1]))
            if not window.any():
                continue
            if not occlusion:
                fits = not (occupied[region] & window).any()
            else:
                hidden = [int((vis[region] & window).sum()) for vis in visible]
                fits = all(n - lost >= min_visible * a for n, lost, a in zip(shown, hidden, area))
            if fits:
                break
        else:
            continue  # no room for this object: leave the slot empty
        colour = _pick_colour(rng, canvas[region][window], colours)
        canvas[region][window] = colour
        for k, vis in enumerate(visible):
            shown[k] -= int((vis[region] & window).sum())
            vis[region] &= ~window
        mask = np.zeros((h, w), bool)
        mask[region] = window
        occupied |= mask
        visible.append(mask)
        shown.append(int(window.sum()))
        area.append(int(window.sum()))
        labels.append(label)
        colours.append(colour)

    sigma = rng.uniform(0, noise) if noise > 0 else 0.0
    if sigma > 0:
        canvas += np.float32(sigma) * rng.standard_normal((h, w, 3), dtype=np.float32)
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    masks = np.stack(visible) if visible else np.zeros((0, h, w), bool)
    target = {"boxes": _mask_boxes(masks), "labels": np.asarray(labels, np.int32), "masks": masks}
    return image, target, np.asarray(area, np.int64)


def _mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight xyxy boxes around (k, H, W) boolean masks (x2 = last column + 1); empty masks give zeros."""
    k, h, w = masks.shape
    cols, rows = masks.any(1), masks.any(2)
    boxes = np.stack(
        [cols.argmax(1), rows.argmax(1), w - cols[:, ::-1].argmax(1), h - rows[:, ::-1].argmax(1)], axis=1
    ).astype(np.float32)
    boxes[~cols.any(1)] = 0
    return boxes.reshape(k, 4)


# --------------------------------------------------------------------------- public API


def generate_scenes(
    num_images: int,
    image_size: int | tuple[int, int] = 128,
    min_objects: int = 1,
    max_objects: int = 4,
    classes: Sequence[str] = CLASS_NAMES,
    object_size: tuple[float, float] = (0.15, 0.45),
    background: str | Sequence[str] = "mixed",
    occlusion: bool = True,
    min_visible: float = 0.5,
    noise: float = 8.0,
    seed: int = 0,
) -> Scenes:
    """Generate ``num_images`` scenes of coloured shapes, with boxes, labels and visible masks.

    Args:
        num_images: how many images (0 gives an empty ``Scenes`` with images of shape (0, H, W, 3)).
        image_size: side of square images, or (H, W); each side >= 16.
        min_objects, max_objects: the number of objects is drawn uniformly from this range
            (0 allowed: background-only images are negatives for a detector).
        classes: the class names to use (a subset of ``CLASS_NAMES``, in the order the labels index).
        object_size: (min, max) longest extent of an object as a fraction of the shorter image side,
            within (0, 1]; a single number fixes it.
        background: ``"mixed"`` (any of ``BACKGROUNDS``), ``"textured"`` (gradient, stripes, blobs,
            clouds), one name of ``BACKGROUNDS`` or a list of them; drawn per image.
        occlusion: if True objects may overlap (later ones on top, each keeping at least
            ``min_visible`` of its area visible); if False they never overlap.
        min_visible: the smallest visible fraction of an occluded object, in (0, 1].
        noise: largest standard deviation of the Gaussian pixel noise (0-255 scale); drawn per image.
        seed: non-negative integer; image i depends only on (seed, i).

    Returns:
        ``Scenes`` with ``images`` uint8 (N, H, W, 3), ``targets`` (``boxes`` float32 (k, 4) xyxy,
        ``labels`` int32 (k,), ``masks`` bool (k, H, W)) and ``class_names``.

    Example: a single-object localisation data set is
    ``generate_scenes(2000, 64, min_objects=1, max_objects=1)``.
    """
    num_images = _int(num_images, "num_images", 0)
    h, w = _image_size(image_size)
    min_objects = _int(min_objects, "min_objects", 0)
    max_objects = _int(max_objects, "max_objects", 0)
    if min_objects > max_objects:
        raise ValueError(f"min_objects: must not exceed max_objects, got {min_objects} > {max_objects}")
    names = _classes(classes)
    size_range = _object_size(object_size)
    backgrounds = _backgrounds(background)
    if not isinstance(occlusion, (bool, np.bool_)):
        raise ValueError(f"occlusion: expected True or False, got {occlusion!r}")
    min_visible = probability(min_visible, "min_visible")
    if min_visible == 0:
        raise ValueError("min_visible: expected a fraction in (0, 1], got 0")
    if not (np.isscalar(noise) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a finite number >= 0, got {noise!r}")
    seed = _int(seed, "seed", 0)

    images = np.zeros((num_images, h, w, 3), np.uint8)
    targets = []
    for i in range(num_images):
        rng = np.random.default_rng([seed, i])
        images[i], target, _ = _scene(
            rng,
            h,
            w,
            classes=names,
            size_range=size_range,
            backgrounds=backgrounds,
            min_objects=min_objects,
            max_objects=max_objects,
            occlusion=bool(occlusion),
            min_visible=min_visible,
            noise=float(noise),
        )
        targets.append(target)
    return Scenes(images, targets, names)


def _target_masks(target, image_shape) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(target, dict) or "masks" not in target or "labels" not in target:
        raise ValueError("target: expected a dict with 'masks' (k, H, W) and 'labels' (k,)")
    masks = to_numpy(target["masks"], "target['masks']", bool)
    if masks.ndim != 3:
        if masks.size == 0 and image_shape is not None:
            masks = masks.reshape(0, *tuple(image_shape)[:2])
        else:
            raise ValueError(f"target['masks']: expected shape (k, H, W), got {masks.shape}")
    if image_shape is not None:
        hw = tuple(int(s) for s in tuple(image_shape)[:2])
        if masks.shape[1:] != hw:
            raise ValueError(f"image_shape: masks have shape {masks.shape[1:]}, but image_shape is {hw}")
    labels = to_numpy(target["labels"], "target['labels']", np.int64).reshape(-1)
    if labels.shape[0] != masks.shape[0]:
        raise ValueError(f"target['labels']: expected {masks.shape[0]} labels (one per mask), got {labels.shape[0]}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"target['labels']: labels must be >= 0, got {int(labels.min())}")
    return masks, labels


def semantic_map(target: dict, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Per-pixel class map (H, W) int32 from a target's masks: 0 is background, label + 1 an object.

    Later objects are painted over earlier ones where masks overlap (generated masks never do).
    ``image_shape`` ((H, W) or (H, W, C)) is checked against the masks, and gives the shape when
    the target has no objects. The target for semantic segmentation (U-Net).
    """
    masks, labels = _target_masks(target, image_shape)
    out = np.zeros(masks.shape[1:], np.int32)
    for mask, label in zip(masks, labels):
        out[mask] = label + 1
    return out


def instance_map(target: dict, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Per-pixel instance map (H, W) int32: 0 is background, i + 1 the i-th object (later ones on top)."""
    masks, _ = _target_masks(target, image_shape)
    out = np.zeros(masks.shape[1:], np.int32)
    for i, mask in enumerate(masks):
        out[mask] = i + 1
    return out
