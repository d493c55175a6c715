"""Region proposals: sliding windows, selective search, and how proposals are measured (notebook 03).

- ``count_sliding_windows``, ``sliding_windows``: the exhaustive baseline selective search replaces;
- ``selective_search``: Uijlings et al., "Selective Search for Object Recognition", IJCV 2013.
  A Felzenszwalb-Huttenlocher over-segmentation (scikit-image's ``felzenszwalb``: the graph
  algorithm is not this lesson's subject) is grouped bottom-up, always merging the two
  most similar neighbouring regions; every region of every level of the hierarchy is a proposal.
  Several colour spaces, thresholds k and similarity mixes (the *diversification strategies*) are
  run and their proposals pooled and ranked;
- the grouping itself as separate functions, so each step can be read and tested on its own:
  ``to_colour_space``, ``oversegment``, ``adjacent_pairs``, ``region_features``, ``similarity``,
  ``hierarchical_grouping``, ``rank_proposals``;
- ``best_overlaps``, ``proposal_recall``, ``abo``, ``mabo``: recall at an IoU threshold and the
  (mean) average best overlap, the measures of the paper's section 5.

Boxes are ``xyxy`` in continuous pixel coordinates (``cvlib.boxes``): a region covering columns
3..7 spans x1 = 3, x2 = 8. Images are RGB, uint8 (0-255) or float (0-1); grayscale is repeated
to three channels and an alpha channel is dropped.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cvlib._checks import probability, to_numpy
from cvlib.boxes import iou, xyxy

__all__ = [
    "COLOUR_SPACES",
    "MODES",
    "SIMILARITIES",
    "Hierarchy",
    "RegionFeatures",
    "abo",
    "adjacent_pairs",
    "best_overlaps",
    "count_sliding_windows",
    "hierarchical_grouping",
    "mabo",
    "oversegment",
    "proposal_recall",
    "rank_proposals",
    "region_features",
    "selective_search",
    "similarity",
    "sliding_windows",
    "strategies",
    "to_colour_space",
]

COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")
SIMILARITIES = ("colour", "texture", "size", "fill")
MODES = ("single", "fast", "quality")

COLOUR_BINS = 25  # per channel, as in the paper
TEXTURE_BINS = 10  # per orientation and channel
ORIENTATIONS = 8
SIGMA = 0.8  # Gaussian smoothing before the graph segmentation (the paper's and OpenCV's value)


# --------------------------------------------------------------------------- input checks


def _positive_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _rgb(image, name: str = "image") -> np.ndarray:
    """An image as float64 (H, W, 3) RGB in [0, 1].

    Accepted: (H, W) or (H, W, 1) grayscale (repeated to 3 channels), (H, W, 3) RGB, (H, W, 4)
    RGBA (alpha dropped: selective search groups colours, not transparency); uint8 / integer
    images on 0-255, float images on 0-1.
    """
    arr = np.asarray(image.numpy() if hasattr(image, "numpy") and not isinstance(image, np.ndarray) else image)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name}: expected a uint8 (0-255) or float (0-1) image, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    elif arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(
            f"{name}: expected (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA, got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name}: integer images must lie in 0-255, got {arr.min()}..{arr.max()}")
        return arr.astype(np.float64) / 255.0
    arr = arr.astype(np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{name}: float images must lie in [0, 1], got {arr.min():.3g}..{arr.max():.3g} "
            "(divide a 0-255 float image by 255)"
        )
    return arr


def _labels(labels, name: str = "labels") -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: expected an (H, W) integer label image, got {arr.dtype} of shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0, got {arr.min()}")
    return arr


# --------------------------------------------------------------------------- sliding windows


def _window_sizes(scales, aspect_ratios) -> list[tuple[int, int]]:
    """(w, h) of each window: area scale**2, w / h = aspect ratio, rounded to whole pixels."""
    scales = to_numpy(scales, "scales").reshape(-1)
    ratios = to_numpy(aspect_ratios, "aspect_ratios").reshape(-1)
    if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(f"scales: expected window sides > 0 in pixels, got {scales.tolist()}")
    if ratios.size == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios <= 0):
        raise ValueError(f"aspect_ratios: expected width/height ratios > 0, got {ratios.tolist()}")
    return [
        (max(1, round(s * np.sqrt(r))), max(1, round(s / np.sqrt(r)))) for s in scales.tolist() for r in ratios.tolist()
    ]


def _image_hw(image_size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in tuple(image_size)[:2])
    except (TypeError, ValueError):
        raise ValueError(f"image_size: expected (H, W) in pixels, got {image_size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"image_size: expected (H, W) >= 1, got {image_size!r}")
    return h, w


def count_sliding_windows(image_size, scales, aspect_ratios=(1.0,), stride: int = 1) -> int:
    """How many windows ``sliding_windows`` would give, without building them.

    ``image_size`` is (H, W) (or an image's shape); a window of side ``scale`` (its area is
    scale**2) and aspect ratio w/h is placed every ``stride`` pixels wherever it fits wholly in
    the image. Notebook 03 uses it to show why an exhaustive search is hopeless.
    """
    h, w = _image_hw(image_size)
    stride = _positive_int(stride, "stride")
    total = 0
    for ww, hh in _window_sizes(scales, aspect_ratios):
        if ww <= w and hh <= h:
            total += ((w - ww) // stride + 1) * ((h - hh) // stride + 1)
    return int(total)


def sliding_windows(image_size, scales, aspect_ratios=(1.0,), stride: int = 1) -> np.ndarray:
    """Every window of every scale and aspect ratio, every ``stride`` pixels: (N, 4) float64 xyxy.

    See ``count_sliding_windows`` for the parameters; windows that do not fit are skipped.
    """
    h, w = _image_hw(image_size)
    stride = _positive_int(stride, "stride")
    out = [np.zeros((0, 4))]
    for ww, hh in _window_sizes(scales, aspect_ratios):
        if ww > w or hh > h:
            continue
        x, y = np.meshgrid(np.arange(0, w - ww + 1, stride), np.arange(0, h - hh + 1, stride))
        x, y = x.ravel().astype(np.float64), y.ravel().astype(np.float64)
        out.append(np.stack([x, y, x + ww, y + hh], axis=1))
    return np.concatenate(out)


# --------------------------------------------------------------------------- step 1: colour spaces


def to_colour_space(image, space: str) -> np.ndarray:
    """Convert an RGB image to one of ``COLOUR_SPACES``: (H, W, C) float64, every channel in [0, 1].

    ``"hsv"`` and ``"lab"`` via scikit-image (Lab rescaled: L / 100, (a + 128) / 255, (b + 128) / 255,
    the ranges OpenCV's 8-bit conversion uses); ``"rgi"`` is normalised r = R / (R + G + B),
    g = G / (R + G + B) and intensity I = (R + G + B) / 3; ``"h"`` hue alone and ``"i"`` intensity
    alone (C = 1). The paper's point: each space is invariant to different things (hue to shadows
    and highlights, intensity to nothing), so together they miss fewer objects.
    """
    rgb = _rgb(image)
    if space not in COLOUR_SPACES:
        raise ValueError(f"space: unknown colour space {space!r}; expected one of {COLOUR_SPACES}")
    from skimage import color  # a well-kept implementation of the standard conversions

    if space == "rgb":
        return rgb
    if space in ("hsv", "h"):
        hsv = color.rgb2hsv(rgb) if rgb.size else rgb
        return hsv if space == "hsv" else hsv[..., :1]
    if space == "lab":
        lab = color.rgb2lab(rgb) if rgb.size else rgb
        return np.clip((lab + np.array([0.0, 128.0, 128.0])) / np.array([100.0, 255.0, 255.0]), 0.0, 1.0)
    total = rgb.sum(-1, keepdims=True)
    intensity = total / 3.0
    if space == "i":
        return intensity
    with np.errstate(invalid="ignore", divide="ignore"):
        rg = np.where(total > 0, rgb[..., :2] / np.where(total > 0, total, 1.0), 1.0 / 3.0)
    return np.concatenate([rg, intensity], axis=-1)  # rgi


# --------------------------------------------------------------------------- step 2: over-segmentation


def oversegment(image, k: float, sigma: float = SIGMA, min_size: int | None = None) -> np.ndarray:
    """Felzenszwalb-Huttenlocher graph segmentation: (H, W) int64 labels 0..n-1.

    ``image`` is (H, W) or (H, W, C) float in [0, 1] (e.g. from ``to_colour_space``). ``k`` is the
    paper's threshold (scikit-image's ``scale``: larger k, larger regions); ``min_size`` defaults to
    k, as in Uijlings et al.'s code. We use ``skimage.segmentation.felzenszwalb`` (the graph
    algorithm is not this lesson's subject) and relabel its output to consecutive integers.
    """
    from skimage.segmentation import felzenszwalb

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"image: expected a non-empty (H, W) or (H, W, C) image, got shape {arr.shape}")
    if not _is_number(k) or not np.isfinite(k) or k <= 0:
        raise ValueError(f"k: expected a threshold > 0, got {k!r}")
    if not _is_number(sigma) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma: expected a smoothing width >= 0, got {sigma!r}")
    min_size = int(k) if min_size is None else _positive_int(min_size, "min_size", 0)
    labels = felzenszwalb(arr, scale=float(k), sigma=float(sigma), min_size=min_size,
                          channel_axis=-1 if arr.ndim == 3 else None)
    present = np.bincount(labels.ravel()) > 0  # relabel without sorting: old label -> rank among present ones
    return (np.cumsum(present) - 1)[labels].astype(np.int64)


def adjacent_pairs(labels) -> np.ndarray:
    """Pairs of regions that touch (4-connectivity): (E, 2) int64, each pair once with i < j, sorted."""
    labels = _labels(labels)
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    differ = a != b
    lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
    n = int(labels.max()) + 1 if labels.size else 0
    codes = np.unique(lo.astype(np.int64) * n + hi)
    return np.stack([codes // max(n, 1), codes % max(n, 1)], axis=1).astype(np.int64).reshape(-1, 2)


# --------------------------------------------------------------------------- step 3: region features


@dataclass
class RegionFeatures:
    """What the similarities need to know about the n initial regions.

    ``sizes`` (n,) pixel counts; ``boxes`` (n, 4) xyxy; ``colour`` (n, C * 25) and ``texture``
    (n, C * 8 * 10) histograms, each row L1-normalised; ``image_area`` H * W.
    """

    sizes: np.ndarray
    boxes: np.ndarray
    colour: np.ndarray
    texture: np.ndarray
    image_area: int

    def __len__(self) -> int:
        return len(self.sizes)


def _histograms(labels: np.ndarray, bins: np.ndarray, n: int, nbins: int) -> np.ndarray:
    """Per-region histograms of F binned features: labels (P,), bins (P, F) -> (n, F, nbins) counts.

    One ``np.bincount`` per feature over the code label * nbins + bin: a loop over the F
    features, never over pixels or regions.
    """
    codes = labels * nbins
    return np.stack([np.bincount(codes + bins[:, f], minlength=n * nbins).reshape(n, nbins)
                     for f in range(bins.shape[1])], axis=1).astype(np.float64)


def _normalise(counts: np.ndarray) -> np.ndarray:
    """(n, F, nbins) counts -> (n, F * nbins) rows that sum to 1 (the paper's L1 normalisation)."""
    flat = counts.reshape(len(counts), -1)
    return flat / flat.sum(1, keepdims=True)  # every region has >= 1 pixel: no division by 0


def _texture_bins(image: np.ndarray) -> np.ndarray:
    """(P, C * 4) signed bin (0..19) of each pixel's Gaussian-derivative response, per channel and direction.

    Derivatives of a Gaussian with sigma = 1 along x and y give the derivative along any direction
    theta as cos(theta) d/dx + sin(theta) d/dy; 4 directions and the two signs make the paper's
    8 orientations (the response in an orientation is the positive part). Each response is
    scaled by its maximum over the image and cut into 10 bins. Opposite orientations share one
    signed bin here (a pixel's response is positive in at most one of the two), 10 + bin for
    d >= 0 and 9 - bin for d < 0, which halves the counting; ``_texture_histograms`` splits them.
    """
    h, w, c = image.shape
    half = ORIENTATIONS // 2
    angles = np.arange(half) * np.pi / half
    bins = np.empty((h * w, c * half), np.int64)
    for ch in range(c):
        plane = image[..., ch].astype(np.float32)
        dy = ndimage.gaussian_filter(plane, 1.0, order=(1, 0)).ravel()
        dx = ndimage.gaussian_filter(plane, 1.0, order=(0, 1)).ravel()
        for o, theta in enumerate(angles):
            d = np.float32(np.cos(theta)) * dx + np.float32(np.sin(theta)) * dy
            top_pos, top_neg = max(float(d.max()), 1e-12), max(float(-d.min()), 1e-12)
            pos = np.minimum((np.maximum(d, 0) * (TEXTURE_BINS / top_pos)).astype(np.int64), TEXTURE_BINS - 1)
            neg = np.minimum((np.maximum(-d, 0) * (TEXTURE_BINS / top_neg)).astype(np.int64), TEXTURE_BINS - 1)
            bins[:, ch * half + o] = np.where(d >= 0, TEXTURE_BINS + pos, TEXTURE_BINS - 1 - neg)
    return bins


def _texture_histograms(labels: np.ndarray, bins: np.ndarray, n: int) -> np.ndarray:
    """(n, C * 8 * 10) texture histograms from the signed bins of ``_texture_bins``, L1-normalised."""
    signed = _histograms(labels, bins, n, 2 * TEXTURE_BINS)  # (n, C * 4, 20)
    positive = signed[..., TEXTURE_BINS:].copy()
    negative = signed[..., TEXTURE_BINS - 1::-1].copy()
    # A pixel whose derivative is positive has zero response, bin 0, in the opposite orientation (and vice versa).
    positive[..., 0] += signed[..., :TEXTURE_BINS].sum(-1)
    negative[..., 0] += signed[..., TEXTURE_BINS:].sum(-1)
    both = np.stack([positive, negative], axis=2)  # (n, C * 4, 2, 10): orientations theta and theta + pi
    return _normalise(both.reshape(n, -1, TEXTURE_BINS))


def _pixel_bins(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's colour bins (P, C) and texture bins (P, C * 4): they depend on the image, not on the regions."""
    colour = np.minimum((image.reshape(-1, image.shape[-1]) * COLOUR_BINS).astype(np.int64), COLOUR_BINS - 1)
    return colour, _texture_bins(image)


def _features(labels: np.ndarray, colour_bins: np.ndarray, texture_bins: np.ndarray) -> RegionFeatures:
    n = int(labels.max()) + 1
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    if np.any(sizes == 0):
        missing = int(np.argmin(sizes))
        raise ValueError(f"labels: expected consecutive labels 0..n-1, but label {missing} has no pixel")
    slices = ndimage.find_objects(labels + 1)
    boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], np.float64)
    colour = _normalise(_histograms(flat, colour_bins, n, COLOUR_BINS))
    texture = _texture_histograms(flat, texture_bins, n)
    return RegionFeatures(sizes, boxes, colour, texture, int(labels.size))


def region_features(labels, image) -> RegionFeatures:
    """Sizes, boxes and colour and texture histograms of every region of ``labels`` (H, W) over ``image``.

    ``image`` is the (H, W, C) colour-space image in [0, 1] the labels came from. Everything is a
    ``np.bincount`` over the label image (no loop over pixels or regions).
    """
    labels = _labels(labels)
    if labels.size == 0:
        raise ValueError("labels: the label image is empty; an image without pixels has no regions")
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[:2] != labels.shape:
        raise ValueError(f"image: expected shape {labels.shape} + (C,) to match labels, got {img.shape}")
    return _features(labels, *_pixel_bins(img))


# --------------------------------------------------------------------------- step 4: similarities


def _check_similarities(use) -> tuple[str, ...]:
    names = (use,) if isinstance(use, str) else tuple(use)
    if not names or any(u not in SIMILARITIES for u in names) or len(set(names)) != len(names):
        raise ValueError(f"similarities: expected distinct names from {SIMILARITIES}, got {use!r}")
    return names


def similarity(sizes, boxes, colour, texture, i, j, image_area: int, use=SIMILARITIES) -> np.ndarray:
    """Similarity of region pairs (i[k], j[k]): the sum of the ``use`` terms, each in [0, 1].

    - colour, texture: histogram intersection sum_b min(h_i[b], h_j[b]);
    - size: 1 - (size_i + size_j) / image_area (merge small regions first, so that the
      hierarchy grows evenly over the image);
    - fill: 1 - (area(BB_ij) - size_i - size_j) / image_area, with BB_ij the box around both
      (merge regions that fill each other's gaps; far-apart regions leave a big empty box).

    ``i`` and ``j`` are index arrays of equal length (or scalars, broadcast) into the per-region
    arrays; returns float64 (len,).
    """
    names = _check_similarities(use)
    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)  # fancy indexing broadcasts a scalar i
    total = np.zeros(np.broadcast_shapes(i.shape, j.shape), np.float64)
    if "colour" in names:
        total += np.minimum(colour[i], colour[j]).sum(-1)
    if "texture" in names:
        total += np.minimum(texture[i], texture[j]).sum(-1)
    if "size" in names:
        total += 1.0 - (sizes[i] + sizes[j]) / image_area
    if "fill" in names:
        bi, bj = boxes[i], boxes[j]
        bw = np.maximum(bi[..., 2], bj[..., 2]) - np.minimum(bi[..., 0], bj[..., 0])
        bh = np.maximum(bi[..., 3], bj[..., 3]) - np.minimum(bi[..., 1], bj[..., 1])
        total += 1.0 - (bw * bh - sizes[i] - sizes[j]) / image_area
    return total


# --------------------------------------------------------------------------- step 5: hierarchical grouping


@dataclass
class Hierarchy:
    """The result of grouping n regions: 2n - 1 regions in the order they were made.

    Regions 0..n-1 are the initial ones; region n + t is the t-th merge, of ``merges[t]``
    (two earlier region indices), and the last one covers the whole image. ``boxes`` (2n - 1, 4)
    xyxy and ``sizes`` (2n - 1,) of every region.
    """

    boxes: np.ndarray
    sizes: np.ndarray
    merges: np.ndarray
    num_initial: int

    def __len__(self) -> int:
        return len(self.boxes)


def hierarchical_grouping(features: RegionFeatures, pairs, use=SIMILARITIES) -> Hierarchy:
    """Merge the two most similar neighbouring regions until one is left (Uijlings et al., algorithm 1).

    ``pairs`` (E, 2) are the neighbouring regions (``adjacent_pairs``). A heap holds the pair
    similarities; after a merge only the new region's similarities to its neighbours are computed
    and pushed, and pairs involving a merged-away region are skipped when they surface (lazy
    deletion), so each merge costs a few vectorised operations over the new region's neighbours.
    The merged region's histograms are the size-weighted averages of its parts' (exact for
    histograms of pixel counts), its box the box around both. Ties break by the lower indices, so
    the result is deterministic. If the graph is not connected, grouping stops when no pair is left.
    """
    names = _check_similarities(use)
    n = len(features)
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(f"pairs: region indices must lie in 0..{n - 1}")
    total = 2 * n - 1 if n else 0
    sizes = np.zeros(total)
    boxes = np.zeros((total, 4))
    colour = np.zeros((total, features.colour.shape[1]))
    texture = np.zeros((total, features.texture.shape[1]))
    sizes[:n], boxes[:n], colour[:n], texture[:n] = features.sizes, features.boxes, features.colour, features.texture
    area = features.image_area

    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    sims = similarity(sizes, boxes, colour, texture, pairs[:, 0], pairs[:, 1], area, names)
    heap = list(zip((-sims).tolist(), pairs[:, 0].tolist(), pairs[:, 1].tolist()))
    heapq.heapify(heap)
    alive = [True] * total
    merges = []
    new = n
    while heap:
        _, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # a stale pair: one of the two has already been merged into something else
        alive[a] = alive[b] = False
        sa, sb = sizes[a], sizes[b]
        sizes[new] = sa + sb
        colour[new] = (sa * colour[a] + sb * colour[b]) / (sa + sb)
        texture[new] = (sa * texture[a] + sb * texture[b]) / (sa + sb)
        boxes[new, :2] = np.minimum(boxes[a, :2], boxes[b, :2])
        boxes[new, 2:] = np.maximum(boxes[a, 2:], boxes[b, 2:])
        around = (neighbours[a] | neighbours[b]) - {a, b}
        for m in around:
            neighbours[m].discard(a)
            neighbours[m].discard(b)
            neighbours[m].add(new)
        neighbours.append(around)
        if around:
            others = np.fromiter(around, np.int64, len(around))
            s = similarity(sizes, boxes, colour, texture, new, others, area, names)
            for value, m in zip((-s).tolist(), others.tolist()):
                heapq.heappush(heap, (value, m, new))
        merges.append((a, b))
        new += 1
    made = new
    return Hierarchy(boxes[:made].copy(), sizes[:made].copy(), np.asarray(merges, np.int64).reshape(-1, 2), n)


# --------------------------------------------------------------------------- step 6: diversification and ranking


def strategies(mode: str) -> list[tuple[str, float, tuple[str, ...]]]:
    """The (colour space, k, similarities) of each hierarchy a mode runs (Uijlings et al., section 5.2).

    - ``"single"``: HSV, k = 100, colour + texture + size + fill (the paper's best single strategy);
    - ``"fast"``: HSV and Lab, k = 50 and 100, C+T+S+F and T+S+F: 8 hierarchies;
    - ``"quality"``: HSV, Lab, rgI, H and I, k = 50, 100, 150 and 300, C+T+S+F, T+S+F, F and S: 80.
    """
    cts_f = ("colour", "texture", "size", "fill")
    ts_f = ("texture", "size", "fill")
    if mode == "single":
        return [("hsv", 100.0, cts_f)]
    if mode == "fast":
        spaces, ks, mixes = ("hsv", "lab"), (50.0, 100.0), (cts_f, ts_f)
    elif mode == "quality":
        spaces, ks, mixes = ("hsv", "lab", "rgi", "h", "i"), (50.0, 100.0, 150.0, 300.0), (cts_f, ts_f, ("fill",),
                                                                                         ("size",))
    else:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    return [(s, k, m) for s in spaces for k in ks for m in mixes]


def rank_proposals(hierarchies: Sequence[Hierarchy], rng: np.random.Generator) -> np.ndarray:
    """Pool the regions of several hierarchies into one ranked list of unique boxes: (N, 4) xyxy.

    Uijlings et al., section 3.3: in each hierarchy the region made last (the whole image) gets
    position value 1, the one before it 2, and so on down to the initial regions; each value is
    multiplied by a random number in [0, 1] and all regions are sorted by the product, smallest
    first. Large regions come early, but the randomness interleaves the strategies and levels.
    A box that occurs again later in the ranking is dropped.
    """
    boxes, keys = [np.zeros((0, 4))], [np.zeros(0)]
    for h in hierarchies:
        position = np.arange(len(h), 0, -1, dtype=np.float64)  # len(h) for region 0, ..., 1 for the last
        keys.append(position * rng.random(len(h)))
        boxes.append(h.boxes)
    boxes, keys = np.concatenate(boxes), np.concatenate(keys)
    ranked = boxes[np.argsort(keys, kind="stable")]
    if not len(ranked):
        return ranked
    # Region boxes have whole-pixel corners: one integer per box makes finding repeats a 1-D unique.
    corners = ranked.astype(np.int64)
    side = int(corners.max()) + 1
    codes = ((corners[:, 0] * side + corners[:, 1]) * side + corners[:, 2]) * side + corners[:, 3]
    _, first = np.unique(codes, return_index=True)
    return ranked[np.sort(first)]


def selective_search(image, mode: str = "fast", max_proposals: int | None = 2000, seed: int = 0) -> np.ndarray:
    """Selective search object proposals (Uijlings et al., IJCV 2013): (N, 4) float64 xyxy, best first.

    Args:
        image: (H, W, 3) RGB, uint8 0-255 or float 0-1; (H, W) or (H, W, 1) grayscale is repeated
            to three channels (hue and normalised rg are then constant, so only intensity and
            texture separate regions); (H, W, 4) RGBA drops its alpha channel.
        mode: ``"single"``, ``"fast"`` or ``"quality"`` (see ``strategies``); more strategies,
            more and better-placed boxes, more time.
        max_proposals: keep the first this many of the ranking (None: all of them).
        seed: the ranking's random numbers; the same seed gives the same list.

    Returns at most ``max_proposals`` unique boxes inside [0, W] x [0, H], with positive area;
    an image with no pixels gives (0, 4). The segmentation runs at full resolution.
    """
    rgb = _rgb(image)
    strategy_list = strategies(mode)
    if max_proposals is not None:
        max_proposals = _positive_int(max_proposals, "max_proposals", 0)
    seed = _positive_int(seed, "seed", 0)
    if rgb.shape[0] == 0 or rgb.shape[1] == 0 or max_proposals == 0:
        return np.zeros((0, 4))
    hierarchies = []
    # One colour conversion (and its pixel bins) per colour space, and one segmentation and set of region
    # features per (space, k), serve every strategy that shares them.
    spaces: dict[str, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = {}
    cache: dict[tuple[str, float], tuple[RegionFeatures, np.ndarray]] = {}
    for space, k, use in strategy_list:
        if space not in spaces:
            img = to_colour_space(rgb, space)
            spaces[space] = (img, _pixel_bins(img))
        if (space, k) not in cache:
            img, bins = spaces[space]
            labels = oversegment(img, k)
            cache[space, k] = (_features(labels, *bins), adjacent_pairs(labels))
        features, pairs = cache[space, k]
        hierarchies.append(hierarchical_grouping(features, pairs, use))
    ranked = rank_proposals(hierarchies, np.random.default_rng(seed))
    return ranked if max_proposals is None else ranked[:max_proposals]


# --------------------------------------------------------------------------- measuring proposals


def _is_image_list(x) -> bool:
    """True for a list of per-image box arrays, False for one image's boxes (an array or a list of 4-tuples)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(np.ndim(e) == 2 or np.size(e) == 0 for e in x)


def _per_image(proposals, gt_boxes) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pair up one image's (N, 4) and (M, 4) arrays, or two equal-length lists of them."""
    single = not _is_image_list(gt_boxes)
    if single:
        pairs = [(proposals, gt_boxes)]
    else:
        if not isinstance(proposals, (list, tuple)) or len(proposals) != len(gt_boxes):
            got = f"a list of {len(proposals)}" if isinstance(proposals, (list, tuple)) else type(proposals).__name__
            raise ValueError(
                f"proposals: gt_boxes is a list over {len(gt_boxes)} images, so expected a list of as many "
                f"(N, 4) proposal arrays, got {got}"
            )
        pairs = list(zip(proposals, gt_boxes))
    out = []
    for k, (p, g) in enumerate(pairs):
        where = "" if single else f"[{k}]"
        p = xyxy(p, name=f"proposals{where}")
        g = xyxy(g, name=f"gt_boxes{where}")
        degenerate = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) <= 0
        if degenerate.any():
            raise ValueError(
                f"gt_boxes{where}: box {int(np.argmax(degenerate))} has zero area ({g[degenerate][0].tolist()}); "
                "no proposal can overlap it, so recall would be meaningless: remove it"
            )
        out.append((p, g))
    return out


def best_overlaps(proposals, gt_boxes) -> np.ndarray:
    """For each ground-truth box, the best IoU any proposal reaches: (M,) float64 in [0, 1].

    ``proposals`` (N, 4) and ``gt_boxes`` (M, 4) xyxy for one image, or two lists of such
    arrays (one per image; the result concatenates the images' gt boxes in order). No proposals
    give 0 for every box; zero-area proposals overlap nothing; a zero-area ground-truth box is
    an error (it cannot be found at any threshold).
    """
    parts = [np.zeros(0)]
    for p, g in _per_image(proposals, gt_boxes):
        parts.append(iou(g, p).max(axis=1) if len(p) else np.zeros(len(g)))
    return np.concatenate(parts)


def proposal_recall(proposals, gt_boxes, iou_threshold: float = 0.5) -> float:
    """Fraction of ground-truth boxes some proposal overlaps with IoU >= ``iou_threshold``.

    Inputs as in ``best_overlaps`` (one image, or lists over images: then the fraction of all
    boxes of all images). No ground-truth box at all raises a ``ValueError`` (recall is undefined).
    """
    t = probability(iou_threshold, "iou_threshold")
    best = best_overlaps(proposals, gt_boxes)
    if best.size == 0:
        raise ValueError("gt_boxes: no ground-truth boxes; recall is undefined without objects to find")
    return float(np.mean(best >= t))


def abo(proposals, gt_boxes) -> float:
    """Average best overlap: the mean over ground-truth boxes of the best IoU of any proposal.

    Uijlings et al., section 5.1; inputs as in ``best_overlaps``. Unlike recall it has no
    threshold: it rewards tight boxes. No ground-truth box raises a ``ValueError``.
    """
    best = best_overlaps(proposals, gt_boxes)
    if best.size == 0:
        raise ValueError("gt_boxes: no ground-truth boxes; the average best overlap is undefined")
    return float(best.mean())


def mabo(proposals, gt_boxes, gt_labels) -> float:
    """Mean average best overlap: the ABO of each class's boxes, averaged over the classes present.

    ``gt_labels`` is (M,) per image (or a list of them, matching ``gt_boxes``). Every class counts
    equally, however many boxes it has, so a rare class's misses are not hidden.
    """
    best = best_overlaps(proposals, gt_boxes)
    if _is_image_list(gt_boxes):
        if not isinstance(gt_labels, (list, tuple)) or len(gt_labels) != len(gt_boxes):
            raise ValueError(f"gt_labels: expected a list of {len(gt_boxes)} label arrays, one per image")
        parts = [to_numpy(lab, f"gt_labels[{k}]", np.int64).reshape(-1) for k, lab in enumerate(gt_labels)]
        labels = np.concatenate([np.zeros(0, np.int64), *parts])
    else:
        labels = to_numpy(gt_labels, "gt_labels", np.int64).reshape(-1)
    if labels.shape != best.shape:
        raise ValueError(f"gt_labels: expected {best.size} labels (one per ground-truth box), got {labels.size}")
    if best.size == 0:
        raise ValueError("gt_boxes: no ground-truth boxes; MABO is undefined")
    return float(np.mean([best[labels == c].mean() for c in np.unique(labels)]))
