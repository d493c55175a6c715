"""Video sequences with one ground-truth box per frame, for single-object tracking (notebook 10).

- ``generate_sequences``: seeded synthetic sequences. A target, a patch of a real photograph
  (scikit-image's sample images, shipped offline) with a rectangular or elliptical outline,
  moves smoothly over another photograph while it changes scale, rotates, is partly occluded
  for a while, and the lighting changes; distractors cut from the *same* photograph as the
  target (so they look alike) wander around it. The box is the tight axis-aligned box of the
  whole target (also while it is occluded, as OTB annotates).
- ``read_otb`` / ``write_otb``: the OTB benchmark's layout (Wu, Lim and Yang 2013/2015), one
  folder per sequence with frames ``img/0001.jpg, img/0002.jpg, ...`` and
  ``groundtruth_rect.txt``, one ``x,y,w,h`` line per frame (commas, tabs or spaces).

Boxes are ``"xywh"`` in continuous pixel coordinates, 0-based (the course's convention).
OTB's text files are 1-based (MATLAB's convention: the top-left pixel is (1, 1)), so
``read_otb`` subtracts 1 from x and y and ``write_otb`` adds it back.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cvlib._checks import boxes_array

__all__ = ["OBJECT_PHOTOS", "Sequence", "generate_sequences", "read_otb", "write_otb"]

# Photographs the targets are cut from; "train" and "test" use different photographs, so a
# tracker evaluated on split="test" has never seen those objects' appearance.
OBJECT_PHOTOS = {
    "train": ("astronaut", "coffee", "rocket", "immunohistochemistry", "camera", "coins"),
    "test": ("chelsea", "motorcycle", "retina"),
}
# Backgrounds (and occluders) come from every photograph in both splits.
_BACKGROUND_PHOTOS = ("grass", "gravel", "brick", "hubble_deep_field", "moon", "page", "astronaut",
                      "coffee", "rocket", "chelsea", "motorcycle", "camera")


@dataclass
class Sequence:
    """A video with one target: ``frames`` (T, H, W, 3) uint8 and ``boxes`` (T, 4) float64 ``xywh``."""

    frames: np.ndarray
    boxes: np.ndarray
    name: str = "sequence"
    attributes: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        t, h, w = self.frames.shape[:3]
        return f"Sequence({self.name!r}, {t} frames of {w}x{h})"


# --------------------------------------------------------------------------- photographs


@functools.cache
def _photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as (H, W, 3) float32 in [0, 1], at most 512 pixels wide."""
    import skimage.data  # imported here so that `import cvlib.data` stays light

    image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    image = np.asarray(image, dtype=np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    scale = 512.0 / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def _random_crop(rng, photo: np.ndarray, h: int, w: int, zoom: tuple[float, float]) -> np.ndarray:
    """An (h, w, 3) crop of ``photo`` at a random position and zoom."""
    z = rng.uniform(*zoom)
    ch = int(min(photo.shape[0], max(8, h / z)))
    cw = int(min(photo.shape[1], max(8, w / z)))
    y = rng.integers(0, photo.shape[0] - ch + 1)
    x = rng.integers(0, photo.shape[1] - cw + 1)
    return cv2.resize(photo[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)


def _tint(rng, patch: np.ndarray) -> np.ndarray:
    """Colour a grey patch (camera, coins, ...) so that targets differ in hue as well."""
    if np.allclose(patch[..., 0], patch[..., 1]) and np.allclose(patch[..., 1], patch[..., 2]):
        return np.clip(patch * rng.uniform(0.5, 1.3, size=3), 0, 1).astype(np.float32)
    return patch


def _object_patch(rng, photo: np.ndarray, h: int, w: int) -> np.ndarray:
    """A textured object cut from ``photo``, contrast-stretched so it never is a flat patch."""
    patch = _tint(rng, _random_crop(rng, photo, h, w, (0.6, 1.6)))
    lo, hi = np.percentile(patch, [2, 98])
    return np.clip((patch - lo) / max(hi - lo, 0.2), 0, 1).astype(np.float32)


def _outline(kind: str, h: int, w: int) -> np.ndarray:
    """A soft-edged (h, w) mask: a rounded rectangle or an ellipse."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    v, u = (v + 0.5) / h * 2 - 1, (u + 0.5) / w * 2 - 1
    if kind == "ellipse":
        inside = u**2 + v**2 <= 1
    else:
        inside = np.maximum(np.abs(u), np.abs(v)) <= 1
        corner = (np.abs(u) > 0.8) & (np.abs(v) > 0.8)
        inside &= ~corner | ((np.abs(u) - 0.8) ** 2 + (np.abs(v) - 0.8) ** 2 <= 0.04)
    return inside.astype(np.float32)


# --------------------------------------------------------------------------- motion


def _smooth_path(rng, n: int, frame_hw, margin, speed: float) -> np.ndarray:
    """(n, 2) centres (x, y): a random walk on the velocity, bouncing off the frame's margins."""
    h, w = frame_hw
    lo = np.array([margin[0], margin[1]], dtype=np.float64)
    hi = np.array([w - margin[0], h - margin[1]], dtype=np.float64)
    pos = rng.uniform(lo, hi)
    angle = rng.uniform(0, 2 * np.pi)
    vel = speed * np.array([np.cos(angle), np.sin(angle)])
    out = np.empty((n, 2))
    for t in range(n):
        out[t] = pos
        vel = vel + rng.normal(0, 0.25 * speed, 2)
        norm = np.linalg.norm(vel)
        vel = vel * np.clip(norm, 0.4 * speed, 1.6 * speed) / max(norm, 1e-9)
        pos = pos + vel
        for k in range(2):
            if pos[k] < lo[k] or pos[k] > hi[k]:
                vel[k] = -vel[k]
                pos[k] = np.clip(pos[k], lo[k], hi[k])
    return out


def _oscillation(rng, n: int, amplitude: float) -> np.ndarray:
    """A smooth (n,) signal in [-amplitude, amplitude]: a sine of random period and phase."""
    period = rng.uniform(0.6, 1.6) * max(n, 2)
    return amplitude * np.sin(2 * np.pi * np.arange(n) / period + rng.uniform(0, 2 * np.pi))


def _place(frame, patch, mask, centre, scale, angle_deg, gain=1.0):
    """Draw ``patch`` (h, w, 3) with ``mask`` (h, w), scaled and rotated about ``centre``; return its warped mask.

    Only the window the object can reach is warped (a few times faster than the whole frame).
    """
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
    m[:, 2] += np.asarray(centre) - np.array([w / 2, h / 2])
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ m.T
    x1, y1 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    x2, y2 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, [frame.shape[1], frame.shape[0]])
    alpha_full = np.zeros(frame.shape[:2], dtype=np.float32)
    if x2 <= x1 or y2 <= y1:
        return alpha_full
    m[:, 2] -= [x1, y1]
    size = (int(x2 - x1), int(y2 - y1))
    warped = cv2.warpAffine(patch, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    window = frame[y1:y2, x1:x2]
    window *= 1 - alpha[..., None]
    window += alpha[..., None] * warped * gain
    alpha_full[y1:y2, x1:x2] = alpha
    return alpha_full


def _tight_box(alpha: np.ndarray) -> np.ndarray:
    """The xywh box of the pixels a warped mask covers by at least half."""
    ys, xs = np.nonzero(alpha >= 0.5)
    if ys.size == 0:
        return np.zeros(4)
    return np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], dtype=np.float64)


# --------------------------------------------------------------------------- generator


def _one_sequence(rng, index, *, num_frames, frame_hw, object_size, split, scale_change, rotation,
                  occlusion, illumination, distractors, speed, noise) -> Sequence:
    fh, fw = frame_hw
    photos = OBJECT_PHOTOS[split] if split in OBJECT_PHOTOS else OBJECT_PHOTOS["train"] + OBJECT_PHOTOS["test"]
    object_photo = _photo(photos[rng.integers(len(photos))])
    background_name = _BACKGROUND_PHOTOS[rng.integers(len(_BACKGROUND_PHOTOS))]
    background = _tint(rng, _random_crop(rng, _photo(background_name), fh, fw, (0.8, 2.0)))
    # Dim the background a little, so that the scene's contrast does not all come from it.
    background = (0.25 + 0.6 * background).astype(np.float32)

    size = rng.uniform(*object_size)
    aspect = np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
    oh, ow = round(size * np.sqrt(aspect)), round(size / np.sqrt(aspect))
    shape = ("rectangle", "ellipse")[rng.integers(2)]
    patch, mask = _object_patch(rng, object_photo, oh, ow), _outline(shape, oh, ow)

    scales = np.exp(_oscillation(rng, num_frames, np.log(1.45) if scale_change else 0.0))
    angles = _oscillation(rng, num_frames, 20.0 if rotation else 0.0)
    reach = 0.5 * np.hypot(oh, ow) * scales.max()
    centres = _smooth_path(rng, num_frames, frame_hw, (reach + 2, reach + 2), speed)
    gains = 1 + _oscillation(rng, num_frames, 0.35 if illumination else 0.0)
    slope = _oscillation(rng, num_frames, 0.3 if illumination else 0.0)  # a light gradient across the frame

    others = []
    for _ in range(distractors):
        # Same photograph, same outline, a different crop: a look-alike.
        s = size * rng.uniform(0.8, 1.2)
        dh, dw = round(s * np.sqrt(aspect)), round(s / np.sqrt(aspect))
        d_reach = 0.5 * np.hypot(dh, dw) * 1.2
        others.append((_object_patch(rng, object_photo, dh, dw), _outline(shape, dh, dw),
                       _smooth_path(rng, num_frames, frame_hw, (d_reach + 2, d_reach + 2), speed),
                       _oscillation(rng, num_frames, 25.0)))

    occluded = np.zeros(num_frames, dtype=bool)
    if occlusion and num_frames >= 10:
        length = int(rng.integers(max(3, num_frames // 8), max(4, num_frames // 4) + 1))
        start = int(rng.integers(num_frames // 5, max(num_frames // 5 + 1, num_frames - length)))
        occluded[start : start + length] = True
        side = rng.integers(4)
        occluder = _tint(rng, _random_crop(rng, _photo(_BACKGROUND_PHOTOS[rng.integers(len(_BACKGROUND_PHOTOS))]),
                                           fh, fw, (0.5, 1.5)))

    frames = np.empty((num_frames, fh, fw, 3), dtype=np.uint8)
    boxes = np.empty((num_frames, 4))
    ramp = np.linspace(-1, 1, fw, dtype=np.float32)[None, :, None]
    for t in range(num_frames):
        frame = background.copy()
        for d_patch, d_mask, d_path, d_angle in others:
            _place(frame, d_patch, d_mask, d_path[t], 1.0, d_angle[t])
        alpha = _place(frame, patch, mask, centres[t], scales[t], angles[t])
        boxes[t] = _tight_box(alpha)
        if occluded[t]:
            # A bar slides over up to 60% of the target from one side, and back.
            phase = np.sin(np.pi * (np.flatnonzero(occluded).tolist().index(t) + 1) / (occluded.sum() + 1))
            x, y, w, h = boxes[t]
            cover = 0.6 * phase
            x1, y1, x2, y2 = [
                (x - 4, y - 4, x + cover * w, y + h + 4),  # from the left
                (x + (1 - cover) * w, y - 4, x + w + 4, y + h + 4),  # from the right
                (x - 4, y - 4, x + w + 4, y + cover * h),  # from the top
                (x - 4, y + (1 - cover) * h, x + w + 4, y + h + 4),  # from the bottom
            ][side]
            x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            x2, y2 = int(min(fw, np.ceil(x2))), int(min(fh, np.ceil(y2)))
            frame[y1:y2, x1:x2] = occluder[y1:y2, x1:x2]
        frame *= gains[t] * (1 + slope[t] * ramp)
        if noise:
            frame += np.float32(noise) * rng.standard_normal(frame.shape, dtype=np.float32)
        frames[t] = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    attributes = {"occluded": occluded, "scale": scales, "angle": angles, "gain": gains, "shape": shape}
    return Sequence(frames, boxes, f"synthetic-{split}-{index:03d}", attributes)


def generate_sequences(
    num_sequences: int,
    num_frames: int = 60,
    frame_size=(180, 240),
    object_size=(28.0, 52.0),
    split: str = "train",
    scale_change: bool = True,
    rotation: bool = True,
    occlusion: bool = True,
    illumination: bool = True,
    distractors: int = 2,
    speed: float = 2.5,
    noise: float = 0.02,
    seed: int = 0,
) -> list[Sequence]:
    """Seeded synthetic tracking sequences: a list of ``Sequence`` (frames uint8, boxes xywh).

    Args:
        num_sequences, num_frames: how many sequences, of how many frames each.
        frame_size: (H, W) of the frames.
        object_size: range of the target's side (pixels, before its scale changes by up to x1.45).
        split: ``"train"`` or ``"test"`` (targets cut from different photographs, see
            ``OBJECT_PHOTOS``) or ``"all"``.
        scale_change, rotation, occlusion, illumination: switch each difficulty on or off.
        distractors: number of look-alike objects (cut from the target's photograph).
        speed: typical motion in pixels per frame.
        noise: standard deviation of the pixel noise (intensities in [0, 1]).
        seed: the same seed gives the same sequences.
    """
    for name, value, low in (("num_sequences", num_sequences, 0), ("num_frames", num_frames, 1),
                             ("distractors", distractors, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    if split not in ("train", "test", "all"):
        raise ValueError(f"split: expected 'train', 'test' or 'all', got {split!r}")
    fh, fw = (int(v) for v in frame_size)
    lo, hi = (float(v) for v in object_size)
    if not 4 <= lo <= hi or 1.45 * 1.45 * hi + 8 > min(fh, fw):  # the target must fit while it grows and turns
        raise ValueError(
            f"object_size: expected 4 <= low <= high, small enough for frames {frame_size}, got {object_size}"
        )
    if speed < 0 or noise < 0:
        raise ValueError(f"speed, noise: expected non-negative values, got {speed!r}, {noise!r}")
    rng = np.random.default_rng(seed)
    return [
        _one_sequence(rng, i, num_frames=num_frames, frame_hw=(fh, fw), object_size=(lo, hi), split=split,
                      scale_change=scale_change, rotation=rotation, occlusion=occlusion,
                      illumination=illumination, distractors=int(distractors), speed=float(speed), noise=float(noise))
        for i in range(num_sequences)
    ]


# --------------------------------------------------------------------------- OTB layout

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def read_otb(path) -> Sequence:
    """Read one OTB sequence folder: ``path/img/0001.jpg ...`` and ``path/groundtruth_rect.txt``.

    Frames must be numbered consecutively (``0001, 0002, ...``; a sequence may start above 1)
    and there must be one ground-truth line per frame. The file's 1-based ``x,y,w,h`` become
    0-based ``xywh`` boxes. Raises ``ValueError`` naming the path when something is missing.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"path: {root} is not a folder (expected an OTB sequence with img/ and groundtruth_rect.txt)")
    img_dir, gt_file = root / "img", root / "groundtruth_rect.txt"
    if not img_dir.is_dir():
        raise ValueError(f"path: {img_dir} is missing; an OTB sequence keeps its frames in img/0001.jpg, ...")
    if not gt_file.is_file():
        raise ValueError(f"path: {gt_file} is missing; an OTB sequence has one x,y,w,h line per frame there")
    files = sorted((p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()),
                   key=lambda p: int(p.stem))
    if not files:
        raise ValueError(f"path: {img_dir} holds no numbered frames (0001.jpg, ...)")
    numbers = [int(p.stem) for p in files]
    gaps = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if gaps:
        raise ValueError(f"path: frames missing in {img_dir}: {', '.join(f'{n:04d}' for n in gaps[:10])}"
                         f"{' ...' if len(gaps) > 10 else ''}")
    from cvlib.data.otb import read_groundtruth  # here: cvlib.data.otb builds on this module

    boxes = read_groundtruth(gt_file)  # 0-based xywh; names the file and line of a malformed row
    if len(boxes) != len(files):
        raise ValueError(f"path: {gt_file} has {len(boxes)} boxes but {img_dir} has {len(files)} frames; "
                         "expected one box per frame")
    return Sequence(read_frames(files), boxes, root.name, {"first_frame": numbers[0]})


def read_frames(files) -> np.ndarray:
    """The image files ``files`` as one uint8 RGB ``(T, H, W, 3)`` array; ``ValueError`` naming an unreadable
    file, or the folder when the frames differ in size."""
    frames = []
    for p in files:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"path: cannot read the image {p}")
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"path: the frames in {Path(files[0]).parent} do not all have the same size")
    return np.stack(frames)


def write_otb(path, sequence: Sequence, quality: int = 90) -> Path:
    """Write ``sequence`` in the OTB layout (JPEG frames ``img/0001.jpg ...``, 1-based ``groundtruth_rect.txt``)."""
    if not isinstance(sequence, Sequence):
        raise ValueError(f"sequence: expected a cvlib.data.sequences.Sequence, got {type(sequence).__name__}")
    boxes = boxes_array(sequence.boxes, "sequence.boxes", "xywh")
    if len(boxes) != len(sequence.frames):
        raise ValueError(f"sequence.boxes: expected {len(sequence.frames)} boxes (one per frame), got {len(boxes)}")
    root = Path(path)
    (root / "img").mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(sequence.frames, start=1):
        cv2.imwrite(str(root / "img" / f"{t:04d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    lines = [",".join(f"{v:g}" for v in (x + 1, y + 1, w, h)) for x, y, w, h in boxes]
    (root / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return root
