"""A synthetic alphabet of hand-drawn glyphs with many classes, Omniglot-style (notebook 08).

One-shot learning needs *many* training classes: a similarity learnt from five digits says little about the
other five (notebook 08 shows it). Omniglot (Lake et al., 2015; 1,623 characters, 20 drawers each) is the
usual answer but is a download; this module draws an alphabet of the same kind, offline and seeded.

Each class (a "character") is 2 to 4 pen strokes, each a quadratic Bézier curve through random control
points. Each example (a "drawing") jitters the control points, the pen width and an affine pose (rotation,
scale, shear, shift), so two drawings of one character differ the way two people's handwriting does,
while characters differ in their strokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Glyphs", "make_glyphs"]

_CURVE_POINTS = 12  # segments per stroke: smooth enough at these sizes


@dataclass(frozen=True)
class Glyphs:
    """Drawn glyphs: ``images`` ``(N, size, size, 1)`` float32 in [0, 1] (ink = 1), ``labels`` ``(N,)`` the class,
    ``strokes`` the characters' control points ``(num_classes, max_strokes, 3, 2)`` (NaN for missing strokes)."""

    images: np.ndarray
    labels: np.ndarray
    strokes: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def _count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _characters(num_classes: int, rng) -> np.ndarray:
    strokes = np.full((num_classes, 4, 3, 2), np.nan)
    for c in range(num_classes):
        n = rng.integers(2, 5)
        start = rng.uniform(0.15, 0.85, size=(n, 2))
        end = np.clip(start + rng.normal(0, 0.35, size=(n, 2)), 0.1, 0.9)
        middle = (start + end) / 2 + rng.normal(0, 0.2, size=(n, 2))
        strokes[c, :n] = np.stack([start, np.clip(middle, 0.0, 1.0), end], axis=1)
    return strokes


def _render(strokes: np.ndarray, size: int, width: float) -> np.ndarray:
    """Anti-aliased ink of the Bézier strokes ``(k, 3, 2)`` in unit coordinates, on a ``size x size`` grid."""
    t = np.linspace(0.0, 1.0, _CURVE_POINTS + 1)[None, :, None]
    p0, p1, p2 = strokes[:, 0:1], strokes[:, 1:2], strokes[:, 2:3]
    curve = ((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2) * size  # (k, points, 2) in pixels
    a, b = curve[:, :-1].reshape(-1, 2), curve[:, 1:].reshape(-1, 2)
    centres = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="xy"), -1).reshape(-1, 2)
    ab = b - a
    along = np.clip(((centres[:, None] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(centres[:, None] - (a + along[..., None] * ab), axis=-1).min(axis=1)
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0).reshape(size, size)


def make_glyphs(num_classes: int, per_class: int = 20, size: int = 20, jitter: float = 1.0, seed: int = 0,
                first_class: int = 0) -> Glyphs:
    """Draw ``per_class`` examples of each of ``num_classes`` random characters, ``size x size`` pixels.

    ``jitter`` scales every source of variation between drawings (0: all drawings of a class identical).
    The same ``seed`` gives the same characters and drawings; ``first_class`` offsets the labels, so that
    a training and an unseen alphabet drawn with different seeds can share one label space.
    """
    num_classes = _count(num_classes, "num_classes")
    per_class = _count(per_class, "per_class")
    size = _count(size, "size", 8)
    if isinstance(jitter, bool) or not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter: expected a finite number >= 0, got {jitter!r}")
    rng = np.random.default_rng(seed)
    characters = _characters(num_classes, rng)
    images = np.empty((num_classes * per_class, size, size, 1), np.float32)
    for c in range(num_classes):
        base = characters[c][~np.isnan(characters[c, :, 0, 0])]
        for k in range(per_class):
            pts = base + rng.normal(0, 0.035 * jitter, base.shape)  # the drawer's hand: wobbly control points
            angle = rng.normal(0, 0.15 * jitter)
            scale = np.exp(rng.normal(0, 0.08 * jitter))
            shear = rng.normal(0, 0.12 * jitter)
            pose = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            pose = pose @ np.array([[1.0, shear], [0.0, 1.0]])
            shift = rng.normal(0, 0.05 * jitter, 2)
            pts = (pts - 0.5) @ pose.T + 0.5 + shift
            width = size / 14 * np.exp(rng.normal(0, 0.15 * jitter))
            images[c * per_class + k, ..., 0] = _render(pts, size, width)
    labels = np.repeat(np.arange(num_classes, dtype=np.int64) + int(first_class), per_class)
    return Glyphs(images, labels, characters)
