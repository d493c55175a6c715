"""User clicks for interactive segmentation: encoding, the standard click simulator, training clicks (notebook 15).

A user selects an object with **positive** clicks (on the object) and **negative** clicks (on what is not).
A network cannot read a list of points, so each set becomes an image-sized map (Xu et al., "Deep Interactive
Object Selection", CVPR 2016):

- ``distance_map``: at every pixel, the Euclidean distance to the nearest click of the set, truncated at 255
  (``scipy.ndimage.distance_transform_edt``); an empty set gives 255 everywhere ("no click anywhere near");
- ``disk_map``: 1 inside a disk of ``radius`` pixels around each click, 0 elsewhere (the encoding of later
  work, e.g. Benenson et al. 2019 and RITM, and the binary click maps of Li et al.'s loss).

``encode_clicks`` stacks the positive and negative maps into the (H, W, 2) input the networks take.

**Coordinates.** A click is a pixel ``(x, y)``: ``x`` the column, ``y`` the row, as in the course's boxes
(``cvlib.boxes``) and in a mouse event. A click set is an array (N, 2) of such pairs; fractional coordinates
are floored to the pixel they fall in (x = 3.7 is column 3). A click outside the image is an error.

**The click simulator** (``next_click``) is the standard evaluation protocol (Xu et al. 2016, used by every
later paper): compare the current mask with the truth; the errors are the *false negatives* (object pixels the
mask misses) and the *false positives* (background it includes); the next click goes to the centre of the
largest error region — the pixel of that region farthest from its boundary, found with a distance transform —
and is positive if the region is missed object, negative if it is false foreground. ``honour_clicks`` gives each
clicked pixel its click's label in a mask, so that a tool never contradicts a click at the pixel itself (else the
simulated user, facing the same error, clicks the same pixel again and again).

``sample_training_clicks`` draws the clicks of a training sample: the first positive click near the object's
centre, optional extra positive clicks inside it, negative clicks in a band around it and on other objects
(Xu et al.'s sampling strategies), and corrective clicks placed by the simulator on a corrupted copy of the
mask, so the network sees the clicks it will get during evaluation. ``object_samples`` turns generated scenes
(``cvlib.data.shapes``) into such samples, one per object, and makes some of them *ambiguous* on purpose: a
click on an object that overlaps or touches others may mean the object or the whole group (Li et al.'s door
or house), which is what a latent-diversity network learns to answer with several masks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from cvlib._checks import to_numpy

__all__ = [
    "TRUNCATE",
    "Click",
    "check_clicks",
    "disk_map",
    "distance_map",
    "encode_clicks",
    "error_regions",
    "honour_clicks",
    "next_click",
    "next_clicks",
    "object_samples",
    "sample_training_clicks",
]

TRUNCATE = 255.0  # Xu et al. truncate the distance maps at 255, the range of an 8-bit image
_MODES = ("distance", "disk")


class Click(NamedTuple):
    """One click: pixel column ``x``, pixel row ``y``, and whether it is positive (on the object)."""

    x: int
    y: int
    positive: bool


# --------------------------------------------------------------------------- input checks


def _shape(shape, name: str = "shape") -> tuple[int, int]:
    """(H, W) from an (H, W) pair or an image shape (H, W, C)."""
    try:
        items = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected the image size (H, W), got {shape!r}") from None
    if len(items) not in (2, 3) or items[0] < 1 or items[1] < 1:
        raise ValueError(f"{name}: expected the image size (H, W) with H, W >= 1, got {shape!r}")
    return items[0], items[1]


def check_clicks(clicks, shape, name: str = "clicks") -> np.ndarray:
    """Validate a click set against an image of ``shape`` (H, W): int array (N, 2) of (x, y) pixels.

    Accepts a list of (x, y) pairs, an (N, 2) array, ``Click`` tuples (their sign is ignored here) or an empty
    list (giving shape (0, 2)). Fractional coordinates are floored to their pixel. Raises ``ValueError`` naming
    ``name`` for a wrong shape, NaN/inf, or a click outside the image.
    """
    height, width = _shape(shape)
    if isinstance(clicks, Click):
        clicks = [clicks]
    if len(clicks) and isinstance(clicks[0], Click):
        clicks = [(c.x, c.y) for c in clicks]
    arr = to_numpy(clicks, name)
    if arr.size == 0:
        if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] not in (0, 2)):
            raise ValueError(f"{name}: expected clicks of shape (N, 2) as (x, y), got {arr.shape}")
        return np.zeros((0, 2), np.int64)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}: expected clicks of shape (N, 2) as (x, y) pixel pairs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf; every click must be a pixel (x, y) inside the image")
    pixels = np.floor(arr).astype(np.int64)
    outside = (pixels[:, 0] < 0) | (pixels[:, 0] >= width) | (pixels[:, 1] < 0) | (pixels[:, 1] >= height)
    if outside.any():
        i = int(np.argmax(outside))
        raise ValueError(
            f"{name}: click {i} at (x, y) = ({arr[i, 0]:g}, {arr[i, 1]:g}) lies outside the {width} x {height} "
            f"image (x in [0, {width}), y in [0, {height}))"
        )
    return pixels


def _mask(mask, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A 2-D boolean mask (of ``shape`` if given); bool, 0/1 integers or 0/1 floats are accepted."""
    arr = to_numpy(mask, name)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name}: expected a 2-D mask (H, W), got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected a mask of the image's size {tuple(shape)}, got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name}: expected a binary mask of 0/1 or booleans, got values such as "
                         f"{arr[(arr != 0) & (arr != 1)].flat[0]!r}")
    return arr.astype(bool)


def _mask_stack(masks, name: str) -> np.ndarray:
    """A stack of N boolean masks (N, H, W); bool, 0/1 integers or 0/1 floats are accepted."""
    arr = to_numpy(masks, name)
    if arr.ndim != 3 or 0 in arr.shape[1:]:
        raise ValueError(f"{name}: expected masks (N, H, W), got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name}: expected binary masks of 0/1 or booleans")
    return arr.astype(bool)


# --------------------------------------------------------------------------- encoding


def distance_map(clicks, shape, truncate: float = TRUNCATE) -> np.ndarray:
    """Euclidean distance from every pixel to the nearest click, truncated at ``truncate`` (Xu et al. 2016).

    Args:
        clicks: (N, 2) pixels (x, y); may be empty.
        shape: the image size (H, W) (or an image shape (H, W, C)).
        truncate: the largest value, > 0 (255 in the paper).

    Returns:
        float32 (H, W); 0 on the clicks; ``truncate`` everywhere for an empty set.
    """
    height, width = _shape(shape)
    points = check_clicks(clicks, (height, width))
    if not (np.isscalar(truncate) and np.isfinite(truncate) and truncate > 0):
        raise ValueError(f"truncate: expected a positive number, got {truncate!r}")
    if len(points) == 0:
        return np.full((height, width), truncate, np.float32)
    not_clicked = np.ones((height, width), bool)
    not_clicked[points[:, 1], points[:, 0]] = False
    # edt gives each nonzero pixel its distance to the nearest zero, i.e. to the nearest click
    return np.minimum(ndimage.distance_transform_edt(not_clicked), truncate).astype(np.float32)


def disk_map(clicks, shape, radius: float = 5.0) -> np.ndarray:
    """1 inside a disk of ``radius`` pixels (distance <= radius) around every click, 0 elsewhere: float32 (H, W)."""
    if not (np.isscalar(radius) and np.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius: expected a number >= 0 (0 marks the clicked pixel only), got {radius!r}")
    return (distance_map(clicks, shape, truncate=TRUNCATE) <= radius).astype(np.float32)


def encode_clicks(positive, negative, shape, mode: str = "distance", truncate: float = TRUNCATE,
                  radius: float = 5.0) -> np.ndarray:
    """The click maps a network takes: float32 (H, W, 2), channel 0 positive, channel 1 negative.

    ``mode="distance"`` gives truncated distance maps (values in [0, truncate]), ``"disk"`` binary disk maps.
    Either set may be empty (an empty negative set is the usual first step), but not both: with no click at all
    there is nothing to select, and a ``ValueError`` says so.
    """
    height, width = _shape(shape)
    pos = check_clicks(positive, (height, width), "positive")
    neg = check_clicks(negative, (height, width), "negative")
    if len(pos) == 0 and len(neg) == 0:
        raise ValueError("positive, negative: both click sets are empty; interactive segmentation needs at least "
                         "one click (usually a positive one on the object)")
    if mode == "distance":
        maps = [distance_map(pos, (height, width), truncate), distance_map(neg, (height, width), truncate)]
    elif mode == "disk":
        maps = [disk_map(pos, (height, width), radius), disk_map(neg, (height, width), radius)]
    else:
        raise ValueError(f"mode: expected one of {', '.join(_MODES)}, got {mode!r}")
    return np.stack(maps, axis=-1)


# --------------------------------------------------------------------------- the click simulator


def _centre(region: np.ndarray) -> tuple[int, int, float]:
    """(x, y, depth) of the pixel of ``region`` farthest from its boundary (the image border counts as boundary)."""
    # Padding with background makes the image border a boundary, so a region cut by the border has its
    # centre inside the image, not on the edge (as the reference protocol implementations do).
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)  # the first maximum in raster order
    return int(x), int(y), float(depth[y, x])


def error_regions(mask_true, mask_pred) -> tuple[np.ndarray, np.ndarray]:
    """The false negatives (object missed) and false positives (background included): two bool (H, W) maps."""
    truth = _mask(mask_true, "mask_true")
    pred = _mask(mask_pred, "mask_pred", truth.shape)
    return truth & ~pred, pred & ~truth


def next_click(mask_true, mask_pred, by: str = "area") -> Click | None:
    """The simulated user's next click: at the centre of the largest error region (Xu et al. 2016).

    Args:
        mask_true: the object the user wants, bool (H, W).
        mask_pred: the current mask, bool (H, W) of the same size (all False before the first click).
        by: ``"area"`` (default): the largest connected error region (4-connected) by pixel count, the protocol
            as Xu et al. state it; ``"distance"``: the error pixel deepest inside any error region, which is how
            later implementations (e.g. RITM's evaluation) simplify it. Ties go to the false negatives, then to
            the first region in raster order.

    Returns:
        ``Click(x, y, positive)`` — positive when the region is missed object, negative when it is false
        foreground — or ``None`` when the mask equals the truth (no error left to click on).
    """
    truth = _mask(mask_true, "mask_true")
    pred = _mask(mask_pred, "mask_pred", truth.shape)
    return next_clicks(truth[None], pred[None], by=by)[0]


def honour_clicks(masks, positive, negative) -> np.ndarray:
    """Give every clicked pixel its click's label: a copy of ``masks`` with the positive clicks' pixels set and
    the negative clicks' pixels cleared.

    A network can leave a clicked pixel on the wrong side of its threshold; the simulated user, facing the same
    error, would then click that pixel again and again. A tool that honours its clicks never shows a mask that
    contradicts a click at the clicked pixel itself.

    Args:
        masks: bool (N, H, W) (0/1 accepted), one mask per object.
        positive, negative: N click sets each, ``positive[i]`` the (P, 2) clicks (x, y) of object ``i``.

    Returns:
        bool (N, H, W). A pixel clicked both ways keeps the mask's own value there: the two clicks cancel.
    """
    out = _mask_stack(masks, "masks").copy()
    if len(positive) != len(out) or len(negative) != len(out):
        raise ValueError(f"positive, negative: expected one click set per mask ({len(out)}), got {len(positive)} "
                         f"and {len(negative)}")
    shape = out.shape[1:]
    for i, (pos, neg) in enumerate(zip(positive, negative)):
        on = {tuple(p) for p in check_clicks(pos, shape, f"positive[{i}]")}
        off = {tuple(q) for q in check_clicks(neg, shape, f"negative[{i}]")}
        for value, pixels in ((True, on - off), (False, off - on)):
            if pixels:
                xs, ys = np.array(list(pixels)).T
                out[i, ys, xs] = value
    return out


# 4-connectivity inside each (H, W) map of an (N, H, W) stack, and none across maps
_PLANAR_CROSS = np.zeros((3, 3, 3), bool)
_PLANAR_CROSS[1] = ndimage.generate_binary_structure(2, 1)


def _largest_regions(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label every map of a (K, H, W) stack at once: (size of each map's largest 4-connected region, 0 if it has
    none; that region's label, the first of the largest in raster order; the labels, int (K, H, W))."""
    labels, _ = ndimage.label(errors, structure=_PLANAR_CROSS)
    sizes = np.bincount(labels.ravel())
    # ndimage.label numbers the regions in raster order, so map k holds the labels first[k] + 1 ... last[k]
    last = np.maximum.accumulate(labels.reshape(len(errors), -1).max(axis=1))
    first = np.concatenate([[0], last[:-1]])
    largest, label = np.zeros(len(errors), np.int64), np.zeros(len(errors), np.int64)
    for k in np.nonzero(last > first)[0]:
        label[k] = first[k] + 1 + int(np.argmax(sizes[first[k] + 1: last[k] + 1]))
        largest[k] = sizes[label[k]]
    return largest, label, labels


def next_clicks(masks_true, masks_pred, by: str = "area") -> list[Click | None]:
    """``next_click`` for N objects at once: bool (N, H, W) truths and current masks -> N clicks (or ``None``).

    The same clicks as calling ``next_click`` on each object; the error regions of all objects are labelled in
    one call, which is what makes a 20-click simulation of a thousand objects cheap (``simulate_clicks``).
    """
    if by not in ("area", "distance"):
        raise ValueError(f"by: expected 'area' or 'distance', got {by!r}")
    truth, pred = _mask_stack(masks_true, "masks_true"), _mask_stack(masks_pred, "masks_pred")
    if pred.shape != truth.shape:
        raise ValueError(f"masks_pred: expected masks of the true masks' shape {truth.shape}, got {pred.shape}")
    n = len(truth)
    if n == 0:
        return []
    errors = np.concatenate([truth & ~pred, pred & ~truth])  # (2N, H, W): what each mask misses, then its extras
    has_errors = errors.reshape(2 * n, -1).any(axis=1)
    if by == "area":
        score, label, labels = _largest_regions(errors)

        def centre(k):
            return _centre(labels[k] == label[k])
    else:
        centres = {k: _centre(errors[k]) for k in np.nonzero(has_errors)[0]}
        score = np.array([centres[k][2] if k in centres else 0.0 for k in range(2 * n)])
        centre = centres.__getitem__
    clicks: list[Click | None] = []
    for i in range(n):
        # the larger region (by area) or the deeper pixel (by distance) wins; a tie goes to the false negatives
        candidates = [((score[k], positive), k) for positive, k in ((True, i), (False, n + i)) if has_errors[k]]
        if not candidates:
            clicks.append(None)
            continue
        (_, positive), k = max(candidates)
        x, y, _ = centre(k)
        clicks.append(Click(x, y, positive))
    return clicks


# --------------------------------------------------------------------------- training clicks


def _pick(rng: np.random.Generator, where: np.ndarray, count: int, min_gap: float) -> list[tuple[int, int]]:
    """Up to ``count`` random (x, y) pixels of ``where``, at least ``min_gap`` apart (Xu et al.'s d_step)."""
    ys, xs = np.nonzero(where)
    chosen: list[tuple[int, int]] = []
    for i in rng.permutation(len(xs)):
        if len(chosen) == count:
            break
        if all((xs[i] - x) ** 2 + (ys[i] - y) ** 2 >= min_gap**2 for x, y in chosen):
            chosen.append((int(xs[i]), int(ys[i])))
    return chosen


def _corrupt(mask: np.ndarray, others: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible wrong mask: the object grown, shrunk, shifted, merged with a neighbour or half missing."""
    kind = rng.integers(5)
    if kind == 0:
        return ndimage.binary_dilation(mask, iterations=int(rng.integers(2, 6)))
    if kind == 1:
        return ndimage.binary_erosion(mask, iterations=int(rng.integers(2, 5)))
    if kind == 2:
        dy, dx = rng.integers(-5, 6, size=2)
        return np.roll(mask, (int(dy), int(dx)), axis=(0, 1))
    if kind == 3 and others.any():
        return mask | ndimage.binary_dilation(others, iterations=1)
    ys, xs = np.nonzero(mask)
    angle = rng.uniform(0, 2 * np.pi)
    side = (xs - xs.mean()) * np.cos(angle) + (ys - ys.mean()) * np.sin(angle) > 0
    cut = mask.copy()
    cut[ys[side], xs[side]] = False
    return cut


def sample_training_clicks(mask, rng, others=None, max_positive: int = 3, max_negative: int = 3,
                           band: tuple[float, float] = (3.0, 16.0), p_centre: float = 0.5,
                           p_corrective: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Clicks for one training sample, as a simulated user would place them: (positive, negative), each (N, 2).

    - the first positive click at the object's centre (probability ``p_centre``) or at a random pixel at least
      2 pixels inside it; then 0 to ``max_positive - 1`` more positive clicks inside, at least 5 pixels apart;
    - 0 to ``max_negative`` negative clicks, each drawn either from the background band ``band`` pixels away from
      the object (Xu et al.'s strategy 1) or on the other objects ``others`` (strategy 2);
    - with probability ``p_corrective``, one or two corrective clicks from ``next_click`` on a corrupted mask
      (grown, shrunk, shifted, merged with a neighbour, half missing), so that training sees the clicks the
      evaluation protocol produces.

    Args:
        mask: the object, bool (H, W), not empty.
        rng: a ``numpy.random.Generator`` (or a seed).
        others: bool (H, W) of the other objects' pixels (optional).

    Returns:
        int64 arrays (P, 2) and (N, 2) of (x, y) pixels; P >= 1.
    """
    truth = _mask(mask, "mask")
    if not truth.any():
        raise ValueError("mask: the object is empty; there is nothing to click on")
    others = np.zeros_like(truth) if others is None else _mask(others, "others", truth.shape) & ~truth
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if not (isinstance(max_positive, (int, np.integer)) and max_positive >= 1):
        raise ValueError(f"max_positive: expected an integer >= 1, got {max_positive!r}")
    if not (isinstance(max_negative, (int, np.integer)) and max_negative >= 0):
        raise ValueError(f"max_negative: expected an integer >= 0, got {max_negative!r}")
    if len(band) != 2 or not 0 <= band[0] < band[1]:
        raise ValueError(f"band: expected (near, far) with 0 <= near < far, got {band!r}")

    depth = ndimage.distance_transform_edt(np.pad(truth, 1))[1:-1, 1:-1]
    if rng.random() < p_centre:
        x, y, _ = _centre(truth)
        positive = [(x, y)]
    else:
        positive = _pick(rng, depth >= min(2.0, depth.max()), 1, 0)
    extra = int(rng.integers(0, max_positive))
    if extra:
        away = distance_map(positive, truth.shape) >= 5
        positive += _pick(rng, (depth >= min(2.0, depth.max())) & away, extra, 5)

    negative: list[tuple[int, int]] = []
    count = int(rng.integers(0, max_negative + 1))
    if count:
        outside = ndimage.distance_transform_edt(~truth)
        ring = (outside >= band[0]) & (outside <= band[1]) & ~others
        n_others = int(rng.binomial(count, 0.5)) if others.any() else 0
        negative += _pick(rng, others, n_others, 5)
        negative += _pick(rng, ring, count - n_others, 5)

    if rng.random() < p_corrective:
        current = _corrupt(truth, others, rng)
        for _ in range(int(rng.integers(1, 3))):
            click = next_click(truth, current)
            if click is None:
                break
            (positive if click.positive else negative).append((click.x, click.y))
            # the user's click fixes the region around it, as a model would after the click
            fixed = distance_map([(click.x, click.y)], truth.shape) <= 4
            current = np.where(fixed, truth, current)
    as_array = lambda items: np.asarray(items, np.int64).reshape(-1, 2)  # noqa: E731
    return as_array(positive), as_array(negative)


def _groups(masks: np.ndarray) -> np.ndarray:
    """For each object, the union of the objects connected to it (overlapping or touching): bool (k, H, W)."""
    union = masks.any(axis=0)
    labels, _ = ndimage.label(union, structure=np.ones((3, 3)))  # 8-connected: touching objects join
    return np.stack([np.isin(labels, np.unique(labels[m])) & union for m in masks]) if len(masks) else masks


def object_samples(scenes, seed=0, p_group: float = 0.0, **options):
    """One training or test sample per object of ``scenes``: the image, the object (or its group) and clicks.

    Args:
        scenes: ``cvlib.data.shapes.Scenes``.
        seed: seed (or ``numpy.random.Generator``) of the clicks.
        p_group: for an object that touches or overlaps others, the probability that the sample's target is the
            whole connected group instead. Such a sample gets one positive click at the *object's* centre (and
            possibly negative clicks outside the group, and with probability ``p_corrective`` a corrective
            positive click on the rest of the group): the same first click as the object's own samples, another
            answer — the ambiguity of an object on top of another.
        options: passed to ``sample_training_clicks`` (``max_positive``, ``max_negative``, ``band``,
            ``p_centre``, ``p_corrective``).

    Returns:
        dict with ``images`` uint8 (N, H, W, 3), ``masks`` bool (N, H, W) (the target of each sample),
        ``objects`` bool (N, H, W) (the clicked object itself), ``positive`` and ``negative`` (lists of (k, 2)
        click arrays), ``group`` bool (N,) (whether the target is a group), ``scene`` and ``index`` int (N,)
        (where each object comes from).
    """
    p_group = float(p_group)
    if not 0.0 <= p_group <= 1.0:
        raise ValueError(f"p_group: expected a probability in [0, 1], got {p_group!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    p_corrective = options.get("p_corrective", 0.5)
    max_negative = options.get("max_negative", 3)
    band = options.get("band", (3.0, 16.0))
    out = {key: [] for key in ("images", "masks", "objects", "positive", "negative", "group", "scene", "index")}
    for s, (image, target) in enumerate(scenes):
        masks = np.asarray(target["masks"], bool)
        groups = _groups(masks)
        for j, mask in enumerate(masks):
            if not mask.any():
                continue
            others = masks.any(axis=0) & ~mask
            grouped = bool((groups[j] != mask).any()) and rng.random() < p_group
            if grouped:
                x, y, _ = _centre(mask)
                positive, negative = [(x, y)], []
                count = int(rng.integers(0, max_negative + 1))
                if count:
                    outside = ndimage.distance_transform_edt(~groups[j])
                    negative = _pick(rng, (outside >= band[0]) & (outside <= band[1]), count, 5)
                if rng.random() < p_corrective:
                    click = next_click(groups[j], mask)  # the rest of the group is missed: a positive click
                    if click is not None:
                        positive.append((click.x, click.y))
                positive = np.asarray(positive, np.int64).reshape(-1, 2)
                negative = np.asarray(negative, np.int64).reshape(-1, 2)
            else:
                positive, negative = sample_training_clicks(mask, rng, others, **options)
            for key, value in (("images", image), ("masks", groups[j] if grouped else mask), ("objects", mask),
                               ("positive", positive), ("negative", negative), ("group", grouped), ("scene", s),
                               ("index", j)):
                out[key].append(value)
    height, width = scenes.image_size
    out["images"] = np.asarray(out["images"], np.uint8).reshape(-1, height, width, 3)
    for key in ("masks", "objects"):
        out[key] = np.asarray(out[key], bool).reshape(-1, height, width)
    out["group"] = np.asarray(out["group"], bool)
    out["scene"] = np.asarray(out["scene"], np.int64)
    out["index"] = np.asarray(out["index"], np.int64)
    return out
