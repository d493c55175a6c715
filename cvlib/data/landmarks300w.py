"""300-W's 68-point ``.pts`` files and the face crops notebook 07 trains on.

The format (iBUG 300-W, Sagonas et al., 2013; also AFW, HELEN, LFPW and iBUG as re-annotated
for the challenge): one ``<name>.pts`` beside each ``<name>.jpg`` or ``<name>.png``::

    version: 1
    n_points:  68
    {
    446.000 91.000
    ...            (68 lines "x y", in the 68-point order of ``cvlib.data.faces``)
    }

Coordinates are 1-based pixels: the centre of the top-left pixel is (1, 1), as in MATLAB, in
which the annotations were made. The course puts pixel centres at integers from 0 (OpenCV's
convention, ``cvlib.data.faces``), so ``read_pts`` subtracts 1, as menpo's PTS importer does
(menpo.io: "PTS landmarks are 1-based ... we subtract 1 off each landmark value").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cvlib.data.faces import NUM_LANDMARKS

__all__ = ["Landmarks300W", "find_300w", "load_300w", "read_pts"]

_IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")


def read_pts(path) -> np.ndarray:
    """Read a ``.pts`` file: float64 (n_points, 2) ``(x, y)``, 0-based (1 subtracted from the file's values).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and line
    for a header, brace or point line that does not parse, or a point count that differs from ``n_points``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .pts file")
    lines = [(k, line.strip()) for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    lines = [(k, line) for k, line in lines if line]
    n_points = None
    start = None
    for i, (k, line) in enumerate(lines):
        if line == "{":
            start = i + 1
            break
        key, _, value = line.partition(":")
        if key.strip() == "n_points":
            try:
                n_points = int(value)
            except ValueError:
                raise ValueError(f"{path} line {k}: n_points is not an integer: {line!r}") from None
        elif key.strip() != "version":
            raise ValueError(f"{path} line {k}: expected 'version:', 'n_points:' or '{{', got {line!r}")
    if n_points is None or start is None:
        raise ValueError(f"{path}: expected a header 'version: 1', 'n_points: N' and a '{{' line before the points")
    points = []
    for k, line in lines[start:]:
        if line == "}":
            break
        fields = line.split()
        try:
            x, y = (float(v) for v in fields)
        except ValueError:
            raise ValueError(f"{path} line {k}: expected two numbers 'x y', got {line!r}") from None
        points.append((x, y))
    else:
        raise ValueError(f"{path}: no closing '}}' after the points")
    if len(points) != n_points:
        raise ValueError(f"{path}: n_points is {n_points} but {len(points)} points follow")
    return np.array(points, np.float64).reshape(-1, 2) - 1.0


def find_300w(root) -> list[tuple[Path, Path]]:
    """``(image, pts)`` path pairs for every ``.pts`` under ``root`` (recursively), sorted by path.

    The image is the ``.jpg`` or ``.png`` with the same stem in the same folder; a ``.pts`` without
    one raises ``FileNotFoundError`` naming it. A root with no ``.pts`` at all raises ``ValueError``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected 300-W images with .pts files beside them)")
    pairs = []
    for pts in sorted(root.rglob("*.pts")):
        image = next((pts.with_suffix(s) for s in _IMAGE_SUFFIXES if pts.with_suffix(s).is_file()), None)
        if image is None:
            raise FileNotFoundError(f"{pts}: no image beside it ({pts.stem}.jpg or {pts.stem}.png)")
        pairs.append((image, pts))
    if not pairs:
        raise ValueError(f"{root}: no .pts files found; 300-W keeps <name>.pts beside each <name>.jpg/.png")
    return pairs


@dataclass
class Landmarks300W:
    """Face crops with their landmarks, as ``cvlib.data.faces.Faces`` holds them.

    ``images``: float32 (N, S, S, 3) RGB in [0, 1]; ``landmarks``: float32 (N, 68, 2) ``(x, y)`` in the crop,
    pixel centres at integers; ``crops``: float64 (N, 4) xyxy of each square crop window in its original
    image, in whole pixels (columns ``x1 .. x2 - 1``; it may reach past the border, padded with black);
    ``paths``: the images.
    """

    images: np.ndarray
    landmarks: np.ndarray
    crops: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.images)


def _square_crop(points: np.ndarray, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side) in whole pixels: the landmarks' box widened by ``margin`` of its larger side, squared."""
    lo, hi = points.min(0) - 0.5, points.max(0) + 0.5  # the pixels' outer edges, continuous coordinates
    centre = (lo + hi) / 2
    side = int(np.ceil(max(hi - lo) * (1 + 2 * margin)))
    x0, y0 = (int(np.floor(c - side / 2 + 0.5)) for c in centre)  # the first pixel column / row of the window
    return x0, y0, side


def load_300w(root, size: int = 64, margin: float = 0.2, max_images: int | None = None) -> Landmarks300W:
    """Crop every face under ``root`` around its landmarks and resize the crop to ``size x size``.

    The crop is the landmarks' bounding box grown by ``margin`` times its larger side on every
    side and made square (faces keep their aspect ratio). A landmark at ``(x, y)`` in the original
    image lands at ``((x - x0 + 0.5) * s - 0.5, (y - y0 + 0.5) * s - 0.5)`` with ``s = size / side``:
    pixel centres stay pixel centres. Only 68-point files are accepted.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size: expected an integer of at least 16 pixels, got {size!r}")
    if not 0 <= margin <= 2:
        raise ValueError(f"margin: expected a fraction of the face's size in [0, 2], got {margin!r}")
    pairs = find_300w(root)[: max_images if max_images is not None else None]
    images = np.empty((len(pairs), size, size, 3), np.float32)
    landmarks = np.empty((len(pairs), NUM_LANDMARKS, 2), np.float32)
    crops = np.empty((len(pairs), 4))
    for i, (image_path, pts_path) in enumerate(pairs):
        points = read_pts(pts_path)
        if len(points) != NUM_LANDMARKS:
            raise ValueError(f"{pts_path}: expected the 68-point scheme, got {len(points)} points")
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{image_path}: cannot be read as an image")
        x0, y0, side = _square_crop(points, margin)
        h, w = bgr.shape[:2]
        # Pad where the crop leaves the image, so faces at the border keep their position in the crop.
        pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
        padded = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        crop = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
        images[i] = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) / np.float32(255)
        scale = size / side
        landmarks[i] = (points - [x0, y0] + 0.5) * scale - 0.5
        crops[i] = (x0, y0, x0 + side, y0 + side)
    return Landmarks300W(images, landmarks, crops, [image for image, _ in pairs])
