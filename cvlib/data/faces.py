"""Synthetic faces with exact 68-point landmarks, the YouTube Faces keypoint CSV, landmark-safe flips (07, 09).

The 68 points follow the iBUG 300-W / Multi-PIE scheme that the YouTube Faces keypoint subset uses (indices as
the image shows them, so "left" is the left of the picture, the subject's right):

- jaw 0-16 (left temple, chin at 8, right temple), brows 17-21 and 22-26, nose bridge 27-30 (tip at 30),
  nostrils 31-35, eyes 36-41 and 42-47 (outer corners 36 and 45, inner 39 and 42), outer lips 48-59
  (corners 48 and 54), inner lips 60-67.

``render_faces`` draws each face from a 3-D mean shape that an *identity* deforms (face width and length, jaw
shape, eye spacing and size, nose, mouth, brows, skin, hair and iris colours) and an *expression* moves (mouth
open, brows raised), rotated by a head pose (yaw, pitch, roll), projected orthographically and drawn with
OpenCV as filled polygons and lines **whose vertices are the landmarks**: the eye outline is the polygon
36-41, the lips are the polygon 48-59, the face is the polygon of the jaw closed over the forehead. The
landmarks are therefore exact (to OpenCV's 1/16-pixel drawing precision), not annotated. Lighting (a
directional shading and a colour cast), cluttered backgrounds and sensor noise come on top.

Coordinates are ``(x, y)`` in pixels with pixel centres at integers (OpenCV's convention): a horizontal flip of
a ``W``-pixel-wide image maps ``x`` to ``W - 1 - x``.

``read_keypoints_csv`` reads the YouTube Faces keypoint CSV (Udacity's ``training_frames_keypoints.csv``: a
header row, then an image name followed by 136 numbers ``x0, y0, x1, y1, ...`` per row); ``load_keypoint_dataset``
also loads the images. Nothing is downloaded: a user who has the files passes their paths.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cvlib._checks import check_finite, to_numpy

__all__ = [
    "FLIP_PERMUTATION",
    "LANDMARK_GROUPS",
    "NUM_LANDMARKS",
    "Faces",
    "check_images",
    "check_landmarks",
    "feature_colours",
    "flip_horizontal",
    "load_keypoint_dataset",
    "mean_shape",
    "read_keypoints_csv",
    "render_faces",
    "sample_identities",
    "write_keypoints_csv",
]

NUM_LANDMARKS = 68

#: index ranges of the 68-point scheme, as the image shows them (left = the picture's left)
LANDMARK_GROUPS = {
    "jaw": range(0, 17),
    "left_brow": range(17, 22),
    "right_brow": range(22, 27),
    "nose_bridge": range(27, 31),
    "nostrils": range(31, 36),
    "left_eye": range(36, 42),
    "right_eye": range(42, 48),
    "outer_lips": range(48, 60),
    "inner_lips": range(60, 68),
}


def _flip_permutation() -> np.ndarray:
    """Index i of a flipped face is index ``perm[i]`` of the original: left and right features swap."""
    perm = np.arange(NUM_LANDMARKS)
    pairs = [(i, 16 - i) for i in range(8)]  # jaw, mirrored about the chin (8)
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils; 33 and the bridge 27-30 stay
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes: outer, upper, inner, lower
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips; 51 and 57 stay
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips; 62 and 66 stay
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


#: the left/right permutation of a horizontal flip (an involution: ``FLIP_PERMUTATION[FLIP_PERMUTATION] == arange``)
FLIP_PERMUTATION = _flip_permutation()


# --------------------------------------------------------------------------- input checks


def check_landmarks(landmarks, name: str = "landmarks", batch: bool | None = None) -> np.ndarray:
    """Validate landmarks of shape ``(68, 2)`` or ``(N, 68, 2)`` (``batch`` forces one), finite; float64."""
    arr = to_numpy(landmarks, name)
    ok_single = arr.ndim == 2 and arr.shape == (NUM_LANDMARKS, 2)
    ok_batch = arr.ndim == 3 and arr.shape[1:] == (NUM_LANDMARKS, 2)
    if (batch is None and not (ok_single or ok_batch)) or (batch is True and not ok_batch) or (
        batch is False and not ok_single
    ):
        want = {None: "(68, 2) or (N, 68, 2)", True: "(N, 68, 2)", False: "(68, 2)"}[batch]
        raise ValueError(f"{name}: expected {want} (x, y) points of the 68-point scheme, got shape {arr.shape}")
    return check_finite(arr, name)


def check_images(images, name: str = "images", channels: tuple[int, ...] = (3,)) -> np.ndarray:
    """Validate a batch of images ``(N, H, W, C)`` with ``C`` in ``channels``; NumPy array, dtype kept."""
    arr = np.asarray(images.numpy() if hasattr(images, "numpy") else images)
    if arr.ndim != 4 or arr.shape[-1] not in channels:
        raise ValueError(
            f"{name}: expected (N, H, W, C) with C in {channels} channels, got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.floating):
        check_finite(arr, name)
    return arr


# --------------------------------------------------------------------------- the 3-D face model

_IDENTITY_KEYS = (
    "face_width", "face_length", "jaw_square", "eye_spacing", "eye_size", "nose_length", "nose_width",
    "mouth_width", "lip_thickness", "brow_height", "brow_thickness", "skin", "hair", "iris", "hair_size",
)
# A few skin tones and hair colours (RGB); an identity picks one and jitters it, so colour alone does not
# tell identities apart and a verification model must also learn the geometry.
_SKINS = np.array([[236, 200, 170], [224, 172, 130], [198, 134, 96], [150, 100, 70], [105, 70, 50]], float)
_HAIRS = np.array([[30, 25, 20], [90, 60, 35], [170, 130, 70], [120, 120, 120], [140, 50, 30]], float)
_IRISES = np.array([[60, 40, 25], [50, 90, 140], [70, 110, 70], [30, 30, 30]], float)


def sample_identities(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Draw ``n`` random identities: a dict of arrays of length ``n`` (colours are ``(n, 3)`` RGB in 0-255).

    Geometric parameters are relative factors around 1 (or offsets around 0); pass the dict, or a slice of
    it, to ``render_faces(identities=...)`` to draw many images of the same synthetic people.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)

    def pick(palette, jitter):
        return np.clip(palette[rng.integers(len(palette), size=n)] + rng.normal(0, jitter, (n, 3)), 0, 255)

    return {
        "face_width": rng.uniform(0.86, 1.1, n),
        "face_length": rng.uniform(0.9, 1.1, n),
        "jaw_square": rng.uniform(0.0, 1.0, n),  # 0 = oval chin, 1 = square jaw
        "eye_spacing": rng.uniform(0.82, 1.18, n),
        "eye_size": rng.uniform(0.8, 1.2, n),
        "nose_length": rng.uniform(0.8, 1.2, n),
        "nose_width": rng.uniform(0.75, 1.3, n),
        "mouth_width": rng.uniform(0.8, 1.2, n),
        "lip_thickness": rng.uniform(0.7, 1.4, n),
        "brow_height": rng.uniform(-0.06, 0.06, n),
        "brow_thickness": rng.uniform(0.7, 1.4, n),
        "skin": pick(_SKINS, 8.0),
        "hair": pick(_HAIRS, 10.0),
        "iris": pick(_IRISES, 10.0),
        "hair_size": rng.uniform(0.0, 1.0, n),  # 0 = short, 1 = full hair around the head
    }


def _take(identities: dict, index: np.ndarray) -> dict:
    return {k: np.asarray(identities[k])[index] for k in _IDENTITY_KEYS}


def _shape_3d(ident: dict, mouth_open: np.ndarray, brow_raise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3-D landmarks ``(N, 68, 3)`` and the forehead outline ``(N, 9, 3)`` in face units.

    Face units: x to the picture's right, y down, z towards the camera; the face spans about x in [-1, 1] and
    y in [-1, 1.05], the origin between the eyes' level and the nose.
    """
    n = len(mouth_open)
    fw, fl = ident["face_width"][:, None], ident["face_length"][:, None]
    pts = np.zeros((n, NUM_LANDMARKS, 3))

    # Jaw: a superellipse from temple to temple; squarer jaws push the points towards the corners.
    phi = np.linspace(-0.12 * np.pi, 1.12 * np.pi, 17)[None]
    c, s = np.cos(phi), np.sin(phi)
    power = 1.0 - 0.45 * ident["jaw_square"][:, None]  # exponent < 1 squares the curve
    jaw_x = -fw * np.sign(c) * np.abs(c) ** power
    jaw_y = 0.05 + fl * (np.sign(s) * np.abs(s) ** power) * np.where(s > 0, 1.0, 0.3)
    # Opening the mouth drops the chin, the jaw points near it most.
    jaw_y = jaw_y + 0.22 * mouth_open[:, None] * np.clip(s, 0, None) ** 2
    pts[:, 0:17, 0], pts[:, 0:17, 1] = jaw_x, jaw_y
    pts[:, 0:17, 2] = -0.55 * np.abs(c) - 0.1 * np.clip(s, 0, None)

    # Eyes: outer corner, two upper-lid points, inner corner, two lower-lid points.
    half_gap = 0.4 * ident["eye_spacing"][:, None]
    ew, eh = 0.34 * ident["eye_size"][:, None], 0.13 * ident["eye_size"][:, None]
    eye_y = -0.2
    for start, sign in ((36, -1.0), (42, 1.0)):
        cx = sign * half_gap
        # offsets along x from the eye centre, for the picture's left eye (outer corner on the left)
        ox = np.array([-0.5, -1 / 6, 1 / 6, 0.5, 1 / 6, -1 / 6])
        # (the right eye reuses them: 42 is its inner, left-most corner, 45 its outer one)
        oy = np.array([0.0, -0.5, -0.5, 0.0, 0.42, 0.42])
        pts[:, start:start + 6, 0] = cx + ew * ox[None]
        pts[:, start:start + 6, 1] = eye_y + eh * oy[None]
        pts[:, start:start + 6, 2] = 0.12 - 0.15 * np.abs(cx + ew * ox[None])
    # Brows: five points on an arch above each eye, raised by the expression.
    t = np.linspace(0.0, 1.0, 5)[None]
    brow_y = -0.43 + ident["brow_height"][:, None] - 0.11 * brow_raise[:, None] - 0.07 * np.sin(np.pi * t)
    for start, sign in ((17, -1.0), (22, 1.0)):
        x0, x1 = -0.18 - 0.62 * ident["eye_spacing"][:, None], -0.08 - 0.1 * ident["eye_spacing"][:, None]
        xs = x0 + (x1 - x0) * t  # the picture's left brow, outer end first
        if sign > 0:
            xs = -xs[:, ::-1]  # the right brow runs inner (22) to outer (26)
        pts[:, start:start + 5, 0] = xs
        pts[:, start:start + 5, 1] = brow_y if sign < 0 else brow_y[:, ::-1]
        pts[:, start:start + 5, 2] = 0.18 - 0.18 * np.abs(xs)
    # Nose: the bridge from between the eyes to the tip, then the nostril line below it.
    nl = ident["nose_length"][:, None]
    pts[:, 27:31, 0] = 0.0
    pts[:, 27:31, 1] = -0.22 + (0.48 * nl) * np.linspace(0, 1, 4)[None]
    pts[:, 27:31, 2] = 0.18 + 0.4 * np.linspace(0, 1, 4)[None]
    nw = 0.23 * ident["nose_width"][:, None]
    pts[:, 31:36, 0] = nw * np.linspace(-1, 1, 5)[None]
    pts[:, 31:36, 1] = -0.22 + 0.48 * nl + 0.09 - 0.035 * np.abs(np.linspace(-1, 1, 5))[None]
    pts[:, 31:36, 2] = 0.45 - 0.15 * np.abs(np.linspace(-1, 1, 5))[None]

    # Lips: outer contour (corners 48, 54) and inner contour; an open mouth moves the lower half down.
    mw, lt = 0.36 * ident["mouth_width"][:, None], ident["lip_thickness"][:, None]
    my = 0.55 + 0.06 * (nl - 1.0)
    drop = 0.2 * mouth_open[:, None]
    outer_x = np.array([-1.0, -0.6, -0.25, 0.0, 0.25, 0.6, 1.0, 0.6, 0.25, 0.0, -0.25, -0.6])
    outer_y = np.array([0.0, -0.08, -0.11, -0.085, -0.11, -0.08, 0.0, 0.1, 0.135, 0.145, 0.135, 0.1])
    lower = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], float)
    pts[:, 48:60, 0] = mw * outer_x[None]
    pts[:, 48:60, 1] = my + lt * outer_y[None] + drop * lower[None]
    inner_x = np.array([-0.78, -0.3, 0.0, 0.3, 0.78, 0.3, 0.0, -0.3])
    inner_y = np.array([0.0, -0.02, -0.02, -0.02, 0.0, 0.02, 0.02, 0.02])
    inner_lower = np.array([0, 0, 0, 0, 0, 1, 1, 1], float)
    pts[:, 60:68, 0] = mw * inner_x[None]
    pts[:, 60:68, 1] = my + inner_y[None] + drop * inner_lower[None]
    pts[:, 48:68, 2] = 0.28 - 0.25 * np.abs(pts[:, 48:68, 0])

    # Forehead: the top of the face outline, from the right temple over the top of the head to the left one.
    theta = np.linspace(0.0, np.pi, 9)[None]
    fore = np.zeros((n, 9, 3))
    # It starts and ends exactly at the temples (points 16 and 0), so they stay corners of the outline.
    fore[..., 0] = -jaw_x[:, :1] * np.cos(theta)
    fore[..., 1] = jaw_y[:, :1] - (0.95 * fl + 0.05) * np.sin(theta)
    fore[..., 2] = pts[:, :1, 2] * np.abs(np.cos(theta)) + 0.05 * np.sin(theta)
    return pts, fore


def mean_shape() -> np.ndarray:
    """The mean face's 68 landmarks in face units, ``(68, 2)`` frontal (x right, y down), symmetric about x = 0."""
    ident = {k: (np.ones(1) if v.ndim == 1 else v[:1]) for k, v in sample_identities(1).items()}
    ident.update(jaw_square=np.full(1, 0.5), brow_height=np.zeros(1), hair_size=np.full(1, 0.5))
    return _shape_3d(ident, np.zeros(1), np.zeros(1))[0][0, :, :2]


def _rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(N, 3, 3)``: pitch about x, then yaw about y, then roll in the image plane (radians)."""
    n = len(yaw)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0], rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = 1, cp, -sp, sp, cp
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1, -sy, cy
    rz = np.zeros((n, 3, 3))
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = cr, -sr, sr, cr, 1
    return rz @ ry @ rx


# --------------------------------------------------------------------------- rendering


def feature_colours(skin, hair) -> dict[str, np.ndarray]:
    """RGB colours (0-255, before lighting) the renderer gives each feature, for this ``skin`` and ``hair``."""
    skin, hair = np.asarray(skin, float), np.asarray(hair, float)
    return {
        "skin": skin,
        "hair": hair,
        "brows": 0.5 * hair + 0.2 * skin,
        "nose": 0.8 * skin,
        "nostrils": 0.55 * skin,
        "eye_white": np.full(3, 235.0),
        "eye_outline": np.array([35.0, 25.0, 20.0]),
        "lips": np.clip(skin * np.array([0.85, 0.55, 0.55]) + [25, 0, 0], 0, 255),
        "mouth": np.array([60.0, 20.0, 25.0]),
    }


@dataclass(frozen=True)
class Faces:
    """Rendered faces and everything that made them.

    ``images``: ``(N, S, S, 3)`` float32 RGB in [0, 1]; ``landmarks``: ``(N, 68, 2)`` float32 ``(x, y)`` pixels;
    ``identity``: ``(N,)`` index of each face's identity; ``pose``: ``(N, 3)`` yaw, pitch, roll in degrees;
    ``mouth_open``, ``brow_raise``: ``(N,)`` expression in [0, 1]; ``skin``: ``(N, 3)`` RGB 0-255 before lighting.
    """

    images: np.ndarray
    landmarks: np.ndarray
    identity: np.ndarray
    pose: np.ndarray
    mouth_open: np.ndarray
    brow_raise: np.ndarray
    skin: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


_SUBPIXEL = 4  # OpenCV's drawing ``shift``: coordinates in 1/16 pixel
_BLOCK = 16  # faces lit and noised together: 16 x 64 x 64 x 3 float64 values are 1.5 MB


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL)).astype(np.int32)


def _background(rng, size: int, clutter: bool, ramp: np.ndarray) -> np.ndarray:
    """A colour gradient with a few random rectangles and ellipses (uint8 RGB); ``ramp`` is ``linspace(0, 1, size)``."""
    a, b = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    direction = rng.integers(2)
    t = ramp[None, :, None] if direction else ramp[:, None, None]
    # One row (or column) of colours, rounded to uint8 and then repeated: the same pixels as rounding them all.
    img = np.broadcast_to((a + (b - a) * t).astype(np.uint8), (size, size, 3)).copy()
    if clutter:
        for _ in range(rng.integers(2, 6)):
            colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
            p, q = rng.uniform(-0.2, 1.2, 2) * size, rng.uniform(0.05, 0.4, 2) * size
            if rng.random() < 0.5:
                cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[0] + q[0]), int(p[1] + q[1])), colour, -1)
            else:
                cv2.ellipse(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), float(rng.uniform(0, 180)),
                            0, 360, colour, -1)
    return img


def _range(value, name: str) -> tuple[float, float]:
    arr = to_numpy(value, name)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or arr[0] > arr[1]:
        raise ValueError(f"{name}: expected a (low, high) pair with low <= high, got {value!r}")
    return float(arr[0]), float(arr[1])


def render_faces(
    n: int,
    size: int = 64,
    seed: int = 0,
    identities: dict | None = None,
    identity: np.ndarray | None = None,
    yaw: tuple = (-30.0, 30.0),
    pitch: tuple = (-15.0, 15.0),
    roll: tuple = (-15.0, 15.0),
    scale: tuple = (0.3, 0.36),
    shift: tuple = (-0.05, 0.05),
    expression: bool = True,
    lighting: bool = True,
    clutter: bool = True,
    noise: float = 0.02,
) -> Faces:
    """Render ``n`` faces of ``size`` x ``size`` pixels with their exact 68 landmarks.

    ``identities``: a dict from ``sample_identities`` (default: ``n`` fresh identities, one per face);
    ``identity``: ``(n,)`` index into it per face (default ``arange(n)`` if it holds ``n``, else random).
    Pose ranges are degrees; ``scale`` is the face's half-width as a fraction of the image (0.33 fills a
    crop as a face detector returns it); ``shift`` moves the face centre by that fraction of the image.
    ``expression``: random mouth opening and brow raising; ``lighting``: directional shading and colour cast;
    ``clutter``: random shapes in the background; ``noise``: standard deviation of Gaussian pixel noise.
    The same arguments and ``seed`` give the same faces.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected a non-negative integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size: expected an integer of at least 16 pixels, got {size!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    ranges = {k: _range(v, k) for k, v in dict(yaw=yaw, pitch=pitch, roll=roll, scale=scale, shift=shift).items()}
    rng = np.random.default_rng(seed)
    if identities is None:
        identities = sample_identities(max(n, 1), seed=int(rng.integers(2**31)))
    missing = [k for k in _IDENTITY_KEYS if k not in identities]
    if missing:
        raise ValueError(f"identities: expected a dict from sample_identities, missing {', '.join(missing)}")
    count = len(identities["face_width"])
    if identity is None:
        identity = np.arange(n) if count == n else rng.integers(count, size=n)
    identity = np.asarray(identity)
    if identity.shape != (n,) or not np.issubdtype(identity.dtype, np.integer) or (
        n and (identity.min() < 0 or identity.max() >= count)
    ):
        raise ValueError(f"identity: expected ({n},) integer indices below {count}, got shape {identity.shape}")

    ident = _take(identities, identity)
    mouth = rng.uniform(0, 1, n) ** 2 * (rng.random(n) < 0.6) if expression else np.zeros(n)
    brows = rng.uniform(0, 1, n) * (rng.random(n) < 0.5) if expression else np.zeros(n)
    angles = np.stack([rng.uniform(*ranges[k], n) for k in ("yaw", "pitch", "roll")], axis=1)
    half_width = rng.uniform(*ranges["scale"], n) * size
    centre = size / 2 - 0.5 + rng.uniform(*ranges["shift"], (n, 2)) * size

    pts3, fore3 = _shape_3d(ident, mouth, brows)
    rot = _rotation(*np.deg2rad(angles).T)
    # Orthographic projection: rotate, drop z, scale to pixels, move to the centre.
    def project(p):
        return np.einsum("nij,nkj->nki", rot, p)[..., :2] * half_width[:, None, None] + centre[:, None]

    landmarks, forehead = project(pts3), project(fore3)
    hair3 = fore3.copy()
    hair3[..., :2] *= 1.0 + 0.25 * ident["hair_size"][:, None, None]
    hair3[..., 1] -= 0.05
    hair = project(hair3)

    images = np.empty((n, size, size, 3), np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
    # Everything that does not depend on the pixels is computed for all faces at once, before the drawing loop:
    # OpenCV's fixed-point vertices, the colours as the tuples OpenCV takes, the line widths. Element by element
    # these are the same operations as face by face, so the same numbers; the loop is left with the drawing.
    fixed, fixed_hair, fixed_forehead = _fixed(landmarks), _fixed(hair), _fixed(forehead)
    palette = {k: np.broadcast_to(c, (n, 3)).tolist()
               for k, c in feature_colours(ident["skin"], ident["hair"]).items()}
    irises = ident["iris"].tolist()
    units = [max(h / 30.0, 0.5) for h in half_width.tolist()]  # line widths follow the face's size
    gradient = np.linspace(0, 1, size)
    for i in range(n):
        img = _background(rng, size, clutter, gradient)
        colour = {k: tuple(rows[i]) for k, rows in palette.items()}
        aa = cv2.LINE_AA
        # Hair: a cap behind the head's top, larger for fuller hair.
        cap = np.concatenate([fixed_hair[i], fixed[i, [0, 16]]])
        cv2.fillPoly(img, [cap], colour["hair"], aa, _SUBPIXEL)
        # Face: the jaw (0-16) closed over the forehead. Its boundary passes exactly through landmarks 0-16.
        outline = np.concatenate([fixed[i, 0:17], fixed_forehead[i]])
        cv2.fillPoly(img, [outline], colour["skin"], aa, _SUBPIXEL)
        thick = max(1, round(3.0 * units[i] * ident["brow_thickness"][i]))
        for group in ("left_brow", "right_brow"):  # brows: thick lines whose centre lines run through 17-26
            cv2.polylines(img, [fixed[i, LANDMARK_GROUPS[group]]], False, colour["brows"], thick, aa, _SUBPIXEL)
        # Nose: a shaded bridge line 27-30 and the nostril line 31-35.
        line = max(1, round(1.5 * units[i]))
        cv2.polylines(img, [fixed[i, 27:31]], False, colour["nose"], line, aa, _SUBPIXEL)
        cv2.polylines(img, [fixed[i, 31:36]], False, colour["nostrils"], line, aa, _SUBPIXEL)
        # Eyes: white polygons 36-41 and 42-47 with an iris clipped to them, and a dark outline.
        for group in ("left_eye", "right_eye"):
            eye = landmarks[i, LANDMARK_GROUPS[group]]
            # Work in the eye's bounding box only: draw the white and the iris there, then blend them in
            # through the eye polygon's (anti-aliased) mask, which clips the iris to the lids.
            (left, top), (right, bottom) = eye.min(0).tolist(), eye.max(0).tolist()
            x0, y0 = (min(max(math.floor(v) - 1, 0), size - 1) for v in (left, top))
            x1, y1 = (min(max(math.ceil(v) + 2, 1), size) for v in (right, bottom))
            if x1 <= x0 or y1 <= y0:
                continue
            local = eye - [x0, y0]
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillPoly(mask, [_fixed(local)], 255, aa, _SUBPIXEL)
            white = np.full((y1 - y0, x1 - x0, 3), colour["eye_white"], np.uint8)
            radius = 0.3 * np.linalg.norm(eye[3] - eye[0])
            cv2.circle(white, tuple(_fixed(local.mean(0)).tolist()), int(radius * (1 << _SUBPIXEL)),
                       tuple(irises[i]), -1, aa, _SUBPIXEL)
            alpha = mask[..., None] / 255.0
            roi = img[y0:y1, x0:x1]
            roi[:] = (roi * (1 - alpha) + white * alpha).astype(np.uint8)
            cv2.polylines(img, [fixed[i, LANDMARK_GROUPS[group]]], True, colour["eye_outline"], 1, aa, _SUBPIXEL)
        # Lips 48-59 and the dark inside of the mouth 60-67 (a thin slit when the mouth is closed).
        cv2.fillPoly(img, [fixed[i, 48:60]], colour["lips"], aa, _SUBPIXEL)
        cv2.fillPoly(img, [fixed[i, 60:68]], colour["mouth"], aa, _SUBPIXEL)
        images[i] = img
    if lighting and n:
        # Light from a random direction (a linear ramp across the image), a brightness and a colour cast.
        angle, strength = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.0, 0.7, n)
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        gain = rng.uniform(0.7, 1.15, (n, 1, 1, 1)) * rng.uniform(0.9, 1.1, (n, 1, 1, 3))
    # Scale, light, add noise and clip a block of faces at a time: per pixel the same operations as over the
    # whole batch, and the noise is drawn in the same order, so the same numbers; but the float64 temporaries
    # stay small enough for the CPU's cache instead of several copies of the whole batch.
    for start in range(0, n, _BLOCK):
        block, here = images[start:start + _BLOCK], slice(start, start + _BLOCK)
        block /= 255.0
        if lighting:
            ramp = 1.0 + strength[here, None, None] * (cos[here] * xx + sin[here] * yy)
            block *= (ramp[..., None] * gain[here]).astype(np.float32)
        if noise:
            block += rng.normal(0, noise, block.shape).astype(np.float32)
        np.clip(block, 0.0, 1.0, out=block)
    return Faces(images, landmarks.astype(np.float32), identity.astype(np.int64), angles.astype(np.float32),
                 mouth.astype(np.float32), brows.astype(np.float32), ident["skin"].astype(np.float32))


# --------------------------------------------------------------------------- augmentation


def flip_horizontal(images, landmarks):
    """Mirror images left-right and their landmarks with them: ``x -> W - 1 - x`` **and** the index swap.

    ``images``: ``(N, H, W, C)``; ``landmarks``: ``(N, 68, 2)``. Mirroring only the coordinates would put the
    picture's left eye's point (36) on the right eye; ``FLIP_PERMUTATION`` renames the points so index 36 is
    again the left-most eye corner. Returns ``(images, landmarks)``, new arrays.
    """
    imgs = check_images(images, channels=(1, 3))
    pts = check_landmarks(landmarks, batch=True)
    if len(pts) != len(imgs):
        raise ValueError(f"landmarks: expected one set per image ({len(imgs)}), got {len(pts)}")
    flipped = pts[:, FLIP_PERMUTATION].copy()
    flipped[..., 0] = imgs.shape[2] - 1 - flipped[..., 0]
    dtype = np.asarray(landmarks).dtype
    return imgs[:, :, ::-1].copy(), flipped.astype(dtype if dtype.kind == "f" else np.float64)


# --------------------------------------------------------------------------- the YouTube Faces keypoint CSV


def read_keypoints_csv(path) -> tuple[list[str], np.ndarray]:
    """Read a YouTube Faces keypoint CSV: image names and ``(N, 68, 2)`` float landmarks.

    The format (Udacity's ``training_frames_keypoints.csv`` and ``test_frames_keypoints.csv``): one header
    row, then per image its file name followed by 136 numbers ``x0, y0, x1, y1, ..., x67, y67`` in pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"path: no keypoint CSV at {path}; the YouTube Faces keypoint subset (5,770 images, e.g. Udacity's "
            "P1_Facial_Keypoints data) is not shipped: download it and pass the CSV's path"
        )
    names, rows = [], []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader, None)  # header: an empty first cell, then 0 ... 135
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 1 + 2 * NUM_LANDMARKS:
                raise ValueError(f"path: line {line_no} of {path.name} has {len(row)} fields, expected 137 "
                                 "(an image name and 136 coordinates)")
            try:
                values = np.array([float(v) for v in row[1:]])
            except ValueError:
                raise ValueError(f"path: line {line_no} of {path.name} holds a value that is not a number") from None
            if not np.all(np.isfinite(values)):
                raise ValueError(f"path: line {line_no} of {path.name} has NaN or infinite coordinates")
            names.append(row[0])
            rows.append(values.reshape(NUM_LANDMARKS, 2))
    return names, np.array(rows, dtype=np.float64).reshape(-1, NUM_LANDMARKS, 2)


def write_keypoints_csv(path, names, landmarks) -> Path:
    """Write image ``names`` and ``(N, 68, 2)`` ``landmarks`` in the YouTube Faces keypoint CSV format."""
    pts = check_landmarks(landmarks, batch=True)
    names = list(names)
    if len(names) != len(pts):
        raise ValueError(f"names: expected one name per landmark set ({len(pts)}), got {len(names)}")
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([""] + [str(i) for i in range(2 * NUM_LANDMARKS)])
        for name, p in zip(names, pts):
            writer.writerow([name] + [f"{v:.1f}" for v in p.reshape(-1)])
    return path


def load_keypoint_dataset(csv_path, image_dir, size: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Images (RGB uint8) and their ``(N, 68, 2)`` landmarks from a keypoint CSV and its image folder.

    The subset's images differ in size; with ``size`` each is resized to ``size`` x ``size`` and its landmarks
    scaled with it (pixel centres kept), so they stack into one ``(N, size, size, 3)`` array.
    """
    names, pts = read_keypoints_csv(csv_path)
    image_dir = Path(image_dir)
    images = []
    for name, p in zip(names, pts):
        bgr = cv2.imread(str(image_dir / name), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"image_dir: cannot read {name} in {image_dir}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if size is not None:
            h, w = rgb.shape[:2]
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            p[:, 0] = (p[:, 0] + 0.5) * size / w - 0.5
            p[:, 1] = (p[:, 1] + 0.5) * size / h - 0.5
        images.append(rgb)
    if size is not None:
        return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8), pts
    return images, pts
