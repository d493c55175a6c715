"""Chest CT volumes: synthetic phantoms written as NIfTI, a MosMedData-style loader, preprocessing and augmentation.

Notebook 06 (3D CNNs on CT scans) classifies chest CT volumes as in the keras-io
example "3D image classification from CT scans" (MosMedData, ``CT-0`` normal
versus ``CT-23`` abnormal). The real data set cannot be downloaded offline, so
``write_phantoms`` generates chest-CT *phantoms* and writes them as real
``.nii.gz`` files in the same folder layout; ``load_volume`` and ``load_dataset``
read phantoms and the real data set with the same code (nibabel does the NIfTI
work).

The phantoms
------------
A volume is ``(X, Y, Z)`` voxels in Hounsfield units (HU), stored as int16 with an
affine that carries the voxel spacing (in-plane 2.3-2.8 mm, slices 4.5-5.5 mm, as
a 512 x 512 scan downsampled to 128 x 128 would have). Axis 0 runs from the
patient's right to left, axis 1 from anterior to posterior, axis 2 from feet to
head; ``show_slice`` displays an axial slice the radiological way (anterior up).

Every scan has: air outside the body (-1000 HU) and -1024 outside the circular
field of view; a body of soft tissue (~40 HU) under a layer of fat (~-100 HU); a
spine (bone, ~700 HU, beyond the [-1000, 400] window); two lungs (-880 to -790 HU,
set per scan like the depth of inspiration) with low-frequency texture; the
trachea and main bronchi (air); a tree of vessels (blood, ~40 HU) branching from
each hilum, some running along the body axis so that one slice shows them as
round blobs; 0-3 small solid nodules; a *dependent* band of denser lung along the
posterior wall (gravity; of random strength) and Gaussian noise of 8-30 HU.

A **positive** scan (label 1, folder ``CT-23``) also carries 2-6 lesions: ground-glass
opacities (GGO, -700 to -450 HU, patchy edges, vessels visible through them) and
consolidations (-150 to 30 HU), 6-14 voxels in radius in the axial plane and 0.35-0.6 times as
many slices along the body axis (slices are twice as thick as voxels are wide), anywhere in either lung.

A **negative** scan (label 0, folder ``CT-0``) carries *confounders with the same
HU mass*: the generator draws a lesion set exactly as for a positive, measures how
many voxels it would raise into the ground-glass and the consolidation range, and
instead spends that many voxels on a thicker dependent band (ground-glass HU, a thin
layer along the whole posterior wall) and on a posterior pleural effusion (fluid,
~10 HU, a crescent at the lung base). Histograms of the two classes therefore have
the same distribution, so global intensity statistics (mean, standard deviation,
percentiles, fractions of voxels in HU bands) cannot tell them apart; only the
*shape* of the dense tissue can (round, patchy blobs inside the lung versus layers
along the wall and tubes). ``intensity_features`` computes those statistics for the
notebook's baseline.

Determinism: scan ``i`` depends only on ``(seed, i)``; ``write_phantoms`` writes once
and reuses the files on later calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from cvlib._checks import to_numpy

CLASS_FOLDERS = {"CT-0": 0, "CT-23": 1}
"""keras-io's two MosMedData classes: ``CT-0`` (normal lung tissue) -> 0, ``CT-23`` (ground glass and more) -> 1."""
MOSMED_FOLDERS = {"CT-0": 0, "CT-1": 1, "CT-2": 1, "CT-3": 1, "CT-4": 1}
"""The full MosMedData layout (``studies/CT-0`` ... ``CT-4``, by severity) as a binary task: any finding -> 1."""
HU_WINDOW = (-1000.0, 400.0)
"""The reference's window: below -1000 is air, above 400 is bone; both are clipped before scaling to [0, 1]."""
NATIVE_SHAPE = (128, 128, 48)
NIFTI_SUFFIXES = (".nii.gz", ".nii")

# HU values of the tissues, with the range each scan draws from.
_AIR, _OUTSIDE_FOV, _FAT, _TISSUE, _BONE, _BLOOD = -1000.0, -1024.0, -100.0, 40.0, 700.0, 40.0
_GGO_HU, _CONS_HU = (-700.0, -450.0), (-150.0, 30.0)
_GGO_BAND, _CONS_BAND = (-750.0, -300.0), (-300.0, 150.0)  # what counts as "raised into" each range


# --------------------------------------------------------------------------- file checks

def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def check_volume(volume, name: str = "volume") -> np.ndarray:
    """Require a finite 3-D array (a 4-D one with a trailing axis of 1 is squeezed); return it as float32."""
    arr = to_numpy(volume, name, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D volume (X, Y, Z), got an array of shape {arr.shape}")
    if min(arr.shape) < 2:
        raise ValueError(f"{name}: expected at least 2 voxels along every axis, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name}: contains {bad} NaN or infinite voxels; every voxel must be finite")
    return arr


def load_volume(path, with_affine: bool = False):
    """Read one CT volume from a NIfTI file (``.nii`` or ``.nii.gz``) with nibabel, in HU as float32.

    Returns the ``(X, Y, Z)`` array, or ``(array, affine)`` with ``with_affine=True``
    (the 4 x 4 voxel-to-world matrix; its column norms are the voxel spacing in mm).
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file
    for anything that is not a readable, finite 3-D NIfTI volume.
    """
    import nibabel as nib  # the reference reader of NIfTI; imported here so `import cvlib.data` stays light

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not _is_nifti(path):
        raise ValueError(f"{path}: not a NIfTI file (expected a name ending in .nii or .nii.gz)")
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj, dtype=np.float32)  # applies scl_slope / scl_inter
    except Exception as err:  # nibabel raises ImageFileError, EOFError, zlib/gzip errors ...
        raise ValueError(f"{path}: cannot be read as NIfTI ({type(err).__name__}: {err})") from None
    volume = check_volume(data, name=str(path))
    if with_affine:
        return volume, np.asarray(image.affine, dtype=np.float64)
    return volume


def save_volume(path, volume, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> Path:
    """Write an ``(X, Y, Z)`` HU volume as NIfTI (int16, like scanners store CT) with a diagonal affine.

    ``spacing`` is the voxel size in mm; the affine points x to the patient's left and
    y to posterior (RAS world coordinates, like a converted DICOM series).
    """
    import nibabel as nib

    volume = check_volume(volume)
    spacing = to_numpy(spacing, "spacing").ravel()
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise ValueError(f"spacing: expected 3 positive voxel sizes in mm, got {spacing.tolist()}")
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = -affine[:3, :3] @ (np.array(volume.shape) / 2.0)  # the world origin at the volume's centre
    data = np.clip(np.rint(volume), -32768, 32767).astype(np.int16)
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = b"cvlib chest CT phantom"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))
    return path


def voxel_spacing(affine) -> np.ndarray:
    """Voxel size in mm along each axis: the column norms of the affine's 3 x 3 part."""
    affine = to_numpy(affine, "affine")
    if affine.shape != (4, 4):
        raise ValueError(f"affine: expected a 4 x 4 matrix, got shape {affine.shape}")
    return np.linalg.norm(affine[:3, :3], axis=0)


# --------------------------------------------------------------------------- data sets

@dataclass
class CTDataset:
    """The scans found under a root: file paths, binary labels, the folder each came from, what was skipped."""

    paths: list[Path]
    labels: np.ndarray
    folders: list[str]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        """Scans per class folder."""
        return {f: self.folders.count(f) for f in dict.fromkeys(self.folders)}

    def __repr__(self) -> str:
        return f"CTDataset({len(self)} scans {self.counts()}, {len(self.skipped)} skipped)"


def _check_root(root) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"{root}: data directory does not exist. Generate phantoms with cvlib.data.ct.write_phantoms(root) "
            f"or get MosMedData with cvlib.data.download('mosmeddata')"
        )
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: expected a directory of class folders (CT-0/, CT-23/), got a file")
    return root


def load_dataset(root, classes: dict[str, int] | None = None, validate: bool = True, verbose: bool = True):
    """Find the scans of a MosMedData-style layout: ``root/CT-0/*.nii.gz`` (label 0), ``root/CT-23/*.nii.gz`` (1).

    ``classes`` maps folder names to labels (default ``CLASS_FOLDERS``; ``MOSMED_FOLDERS``
    reads the full data set's ``CT-0`` ... ``CT-4``); a ``studies/`` level, as in the
    MosMedData archive, is looked into automatically. With ``validate`` every file's
    header is read (cheap: the voxels are not) and files that are not NIfTI, cannot be
    read, or are not 3-D are *skipped and reported* (``dataset.skipped`` holds
    ``(path, reason)``; a summary is printed unless ``verbose=False``). A missing root,
    or one without any usable scan, raises an error that says how to get data.
    """
    root = _check_root(root)
    classes = dict(CLASS_FOLDERS if classes is None else classes)
    if not classes:
        raise ValueError("classes: expected at least one folder name -> label, got an empty mapping")
    if not any((root / f).is_dir() for f in classes) and (root / "studies").is_dir():
        root = root / "studies"
    paths, labels, folders, skipped = [], [], [], []
    for folder, label in classes.items():
        directory = root / folder
        if not directory.is_dir():
            continue
        for path in sorted(p for p in directory.iterdir() if not p.name.startswith(".")):
            if path.is_dir():
                skipped.append((path, "a directory, not a file"))
                continue
            if not _is_nifti(path):
                skipped.append((path, "not a NIfTI file name (.nii / .nii.gz)"))
                continue
            if validate:
                reason = _header_problem(path)
                if reason:
                    skipped.append((path, reason))
                    continue
            paths.append(path)
            labels.append(int(label))
            folders.append(folder)
    if verbose and skipped:
        print(f"load_dataset: skipped {len(skipped)} file(s) under {root}:")
        for path, reason in skipped[:10]:
            print(f"  {path.relative_to(root)}: {reason}")
        if len(skipped) > 10:
            print(f"  ... and {len(skipped) - 10} more (see dataset.skipped)")
    if not paths:
        found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
        raise FileNotFoundError(
            f"{root}: no usable NIfTI scans in class folders {sorted(classes)} (found: {found}; "
            f"{len(skipped)} file(s) skipped). Generate phantoms with cvlib.data.ct.write_phantoms(root), or get "
            f"MosMedData with cvlib.data.download('mosmeddata')"
        )
    return CTDataset(paths, np.asarray(labels, dtype=np.int64), folders, skipped)


def _header_problem(path: Path) -> str:
    """Why a NIfTI file cannot be used (empty string when it can): unreadable, or not 3-D."""
    import nibabel as nib

    try:
        if path.stat().st_size == 0:
            return "empty file"
        image = nib.load(str(path))
        shape = image.shape
        if path.name.lower().endswith(".gz"):
            # a truncated download has a valid header but a short gzip stream: touch its last byte
            image.dataobj[(-1,) * len(shape)]
    except Exception as err:
        return f"unreadable ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})"
    if len(shape) == 4 and shape[3] == 1:
        return ""
    if len(shape) != 3:
        return f"not a 3-D volume (shape {shape})"
    return ""


# --------------------------------------------------------------------------- preprocessing

def normalize(volume, window: tuple[float, float] = HU_WINDOW) -> np.ndarray:
    """Clip HU to ``window`` (default [-1000, 400]) and scale linearly to [0, 1], as float32."""
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise ValueError(f"window: expected (low, high) with high > low, got {window}")
    volume = check_volume(volume)
    return ((np.clip(volume, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def resize_volume(volume, shape: Sequence[int], order: int = 1) -> np.ndarray:
    """Resample an ``(X, Y, Z)`` volume to ``shape`` with ``scipy.ndimage.zoom`` (linear by default), float32."""
    volume = check_volume(volume)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape: expected three positive sizes (X, Y, Z), got {shape}")
    factors = [t / s for t, s in zip(shape, volume.shape)]
    out = ndimage.zoom(volume, factors, order=order, mode="nearest", grid_mode=False)
    if out.shape != shape:  # zoom rounds the output size; guard against an off-by-one
        raise AssertionError(f"zoom produced {out.shape}, expected {shape}")
    return out.astype(np.float32)


def preprocess(volume, shape: Sequence[int], window: tuple[float, float] = HU_WINDOW) -> np.ndarray:
    """HU volume -> model input: window to [0, 1], then resize to ``shape``; float32 in [0, 1]."""
    return np.clip(resize_volume(normalize(volume, window), shape), 0.0, 1.0)


def load_preprocessed(paths: Sequence, shape: Sequence[int], window: tuple[float, float] = HU_WINDOW) -> np.ndarray:
    """Read and preprocess many scans into one ``(N, X, Y, Z)`` float32 array."""
    out = np.empty((len(paths), *tuple(int(s) for s in shape)), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i] = preprocess(load_volume(path), shape, window)
    return out


def augment(volume, max_angle: float = 15.0, flip_lr: bool = True, flip_ap: bool = True, seed=None):
    """Random augmentation of one ``(X, Y, Z)`` or ``(X, Y, Z, 1)`` tensor, for a ``tf.data`` map.

    A rotation in the axial plane by an angle uniform in [-max_angle, max_angle] degrees
    (``scipy.ndimage.rotate`` inside ``tf.numpy_function``, as the keras-io example does, but
    nearest-neighbour so that it keeps the voxel values and noise of the scan), then a
    left-right flip and an anterior-posterior flip, each with probability 1/2 (the latter is
    what a scan of a patient lying prone looks like). Shape and dtype are kept; values stay
    in [0, 1]. ``seed`` (a shape-(2,) int tensor) makes it stateless.
    """
    import tensorflow as tf  # tf.data is TensorFlow-only; keep it at the edge

    volume = tf.convert_to_tensor(volume)
    dtype, shape = volume.dtype, volume.shape
    if shape.rank not in (3, 4):
        raise ValueError(f"volume: expected shape (X, Y, Z) or (X, Y, Z, 1), got {shape}")
    if seed is None:
        draws = tf.random.uniform((3,), dtype=tf.float32)
    else:
        draws = tf.random.stateless_uniform((3,), seed=seed, dtype=tf.float32)
    angle = (2.0 * draws[0] - 1.0) * float(max_angle)

    def rotate(v, a):
        # nearest-neighbour, not linear: interpolation would blur (and de-noise) only the training volumes,
        # a shift between training and validation inputs that batch normalisation and the model pick up
        out = ndimage.rotate(v, float(a), axes=(0, 1), reshape=False, order=0, mode="nearest")
        return np.clip(out, 0.0, 1.0).astype(v.dtype)

    if max_angle > 0:
        volume = tf.numpy_function(rotate, [volume, angle], dtype)
        volume.set_shape(shape)
    if flip_lr:
        volume = tf.cond(draws[1] < 0.5, lambda: tf.reverse(volume, [0]), lambda: volume)
    if flip_ap:
        volume = tf.cond(draws[2] < 0.5, lambda: tf.reverse(volume, [1]), lambda: volume)
    return volume


def make_tf_dataset(volumes, labels, batch_size: int = 8, training: bool = False, seed: int = 0, **augment_args):
    """A ``tf.data`` pipeline over preprocessed ``(N, X, Y, Z)`` volumes and their labels.

    Adds the channel axis; when ``training``, shuffles every epoch and applies ``augment``
    (``augment_args`` go to it); batches and prefetches. Labels become float32 for a sigmoid.
    Shuffling and augmentation both follow ``seed``: each volume of each epoch gets its own
    stateless seed, so the same seed repeats the same epochs even with parallel map calls
    (a stateful random op would hand out its draws in whatever order the threads ask).
    """
    import tensorflow as tf

    volumes = to_numpy(volumes, "volumes", dtype=np.float32)
    labels = to_numpy(labels, "labels", dtype=np.float32).ravel()
    if volumes.ndim != 4:
        raise ValueError(f"volumes: expected shape (N, X, Y, Z), got {volumes.shape}")
    if len(labels) != len(volumes):
        raise ValueError(f"labels: expected {len(volumes)} labels (one per volume), got {len(labels)}")
    ds = tf.data.Dataset.from_tensor_slices((volumes, labels))
    if training:
        ds = ds.shuffle(len(volumes), seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda example, pair: (augment(example[0], seed=pair, **augment_args), example[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    ds = ds.map(lambda v, y: (v[..., None], y))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- phantoms

def _smooth_noise(rng, shape, factor: int = 4) -> np.ndarray:
    """Low-frequency noise of unit standard deviation: coarse Gaussian noise, linearly upsampled."""
    coarse = rng.standard_normal([max(2, -(-s // factor)) for s in shape])
    fine = ndimage.zoom(coarse, [s / c for s, c in zip(shape, coarse.shape)], order=1, grid_mode=False)
    return fine[tuple(slice(0, s) for s in shape)]


def _box(center, radii, shape):
    """Slices of the bounding box of an ellipsoid (clipped to the volume) and the box's coordinate grids."""
    lo = [max(0, int(np.floor(c - r - 1))) for c, r in zip(center, radii)]
    hi = [min(s, int(np.ceil(c + r + 2))) for c, r, s in zip(center, radii, shape)]
    if any(h <= l for l, h in zip(lo, hi)):
        return None, None
    sl = tuple(slice(l, h) for l, h in zip(lo, hi))
    grids = np.ogrid[sl]
    return sl, grids


class _Scan:
    """One phantom being drawn: the HU volume, the lung masks and the geometry needed to place things."""

    def __init__(self, rng, shape):
        self.rng, self.shape = rng, shape
        self.s, self.sz = shape[0] / 128.0, shape[2] / 48.0
        self.hu = np.full(shape, _AIR, dtype=np.float32)
        self.lung = np.zeros(shape, dtype=bool)
        self.depth = np.full(shape, np.inf, dtype=np.float32)  # distance to the posterior lung wall (voxels)
        self.lungs = []

    def body(self):
        rng, s, (X, Y, _) = self.rng, self.s, self.shape
        self.cx, self.cy = X / 2 + rng.uniform(-3, 3) * s, Y / 2 + rng.uniform(-1, 4) * s
        self.ax, self.ay = rng.uniform(50, 60) * s, rng.uniform(38, 45) * s
        self.fat = rng.uniform(2, 6) * s
        x, y = np.ogrid[:X, :Y]
        outer = ((x - self.cx) / self.ax) ** 2 + ((y - self.cy) / self.ay) ** 2 <= 1
        inner = ((x - self.cx) / (self.ax - self.fat)) ** 2 + ((y - self.cy) / (self.ay - self.fat)) ** 2 <= 1
        self.hu[outer] = _FAT
        self.hu[inner] = _TISSUE + rng.uniform(-10, 10)
        # vertebral body: cortical bone around marrow, in front of the posterior skin
        vx, vy, vr = self.cx, self.cy + self.ay - self.fat - 11 * s, 6.5 * s
        d = np.hypot(x - vx, y - vy)
        self.hu[d <= vr] = _BONE
        self.hu[d <= vr - 1.5 * s] = 250.0

    def lungs_(self):
        rng, s, Z = self.rng, self.s, self.shape[2]
        base = rng.uniform(-880, -790)  # depth of inspiration
        texture = 12.0 * _smooth_noise(rng, self.shape)
        for side in (-1, 1):
            off = rng.uniform(20, 26) * s
            rx = min(rng.uniform(14, 19) * s, off - 4 * s, self.ax - self.fat - off - 4 * s)
            lcy = self.cy - rng.uniform(0, 4) * s
            ry = min(rng.uniform(24, 31) * s, (self.cy + self.ay - self.fat - 4 * s) - lcy,
                     lcy - (self.cy - self.ay + self.fat + 4 * s))
            lcx, lcz, rz = self.cx + side * off, Z * rng.uniform(0.45, 0.55), Z * rng.uniform(0.42, 0.52)
            sl, (gx, gy, gz) = _box((lcx, lcy, lcz), (rx * 1.3, ry * 1.3, rz), self.shape)
            u = (gz - lcz) / rz
            t = 1.0 - 0.25 * u  # narrower towards the apex, wider at the base
            q = ((gx - lcx) / (rx * t)) ** 2 + ((gy - lcy) / (ry * t)) ** 2 + u**2
            mask = (q <= 1.0) & (np.abs(u) < 1.0)
            wall = lcy + ry * t * np.sqrt(np.clip(1.0 - u**2 - ((gx - lcx) / (rx * t)) ** 2, 0.0, None))
            depth = np.broadcast_to(wall - gy, mask.shape)
            self.lung[sl] |= mask
            self.depth[sl] = np.where(mask, depth, self.depth[sl])
            self.lungs.append(dict(c=(lcx, lcy, lcz), r=(rx, ry, rz), side=side, sl=sl))
        self.hu[self.lung] = base + texture[self.lung]
        self.base = base
        # gravity: lung at the posterior wall is denser, by a random amount in every scan
        amp, width = rng.uniform(0, 250), rng.uniform(1.5, 3.5) * s
        self.hu[self.lung] += amp * np.exp(-self.depth[self.lung] / width)
        self.idx = np.flatnonzero(self.lung)

    def random_lung_point(self, margin: float = 0.0):
        """A random voxel of the lungs (at least ``margin`` voxels deep, when there is one)."""
        for _ in range(20):
            x, y, z = np.unravel_index(self.rng.choice(self.idx), self.shape)
            if self.depth[x, y, z] >= margin:
                break
        return np.array([x, y, z], dtype=float) + self.rng.uniform(-0.5, 0.5, 3)

    def lesions(self):
        """Draw a lesion set: a list of (slices, membership in [0, 1], target HU) and a mask (not yet painted)."""
        rng, s, sz = self.rng, self.s, self.sz
        out = []
        for _ in range(int(rng.integers(2, 7))):
            r = rng.uniform(6, 14) * s
            # r is in this grid's pixels (r / s native ones); along the body axis 0.35-0.6 times as many native
            # slices, as slices are thicker than pixels are wide, scaled by this grid's slices (sz)
            rx, ry = r * rng.uniform(0.7, 1.3), r * rng.uniform(0.7, 1.3)  # drawn before the thickness, as always
            radii = np.array([rx, ry, r / s * rng.uniform(0.35, 0.6) * sz])
            center = self.random_lung_point(margin=0.3 * r)
            sl, g = _box(center, radii, self.shape)
            if sl is None:
                continue
            rho = np.sqrt(sum(((gi - ci) / ri) ** 2 for gi, ci, ri in zip(g, center, radii)))
            box = rho.shape
            m = np.clip((1.0 - rho + 0.35 * _smooth_noise(rng, box, factor=3)) / 0.25, 0.0, 1.0)
            m *= self.lung[sl]
            kind = rng.choice(["ggo", "ggo", "ggo", "consolidation", "mixed"])
            if kind == "consolidation":
                target = np.full(box, rng.uniform(*_CONS_HU), dtype=np.float32)
            else:
                target = rng.uniform(*_GGO_HU) + 40.0 * _smooth_noise(rng, box, factor=2)
                if kind == "mixed":
                    core = np.clip((0.5 - rho) / 0.15, 0.0, 1.0)
                    target = target + core * (rng.uniform(*_CONS_HU) - target)
            out.append((sl, m.astype(np.float32), target.astype(np.float32)))
        return out

    def paint(self, lesions) -> np.ndarray:
        """Raise the lung's HU towards each lesion's target; return the lesion mask."""
        mask = np.zeros(self.shape, dtype=bool)
        for sl, m, target in lesions:
            cur = self.hu[sl]
            new = cur + m * (target - cur)
            self.hu[sl] = np.where(new > cur, new, cur)
            mask[sl] |= m > 0.5
        return mask

    def budget(self, lesions) -> tuple[int, int]:
        """How many lung voxels a lesion set would raise into the ground-glass and consolidation HU ranges."""
        saved = self.hu.copy()
        self.paint(lesions)
        raised = self.lung & (self.hu - saved > 100)
        v = self.hu[raised]
        self.hu = saved
        n_ggo = int(np.count_nonzero((v >= _GGO_BAND[0]) & (v < _GGO_BAND[1])))
        n_cons = int(np.count_nonzero((v >= _CONS_BAND[0]) & (v < _CONS_BAND[1])))
        return n_ggo, n_cons

    def confounders(self, n_ggo: int, n_cons: int):
        """Spend a lesion set's HU budget on shapes that are not lesions: a pleural effusion and a dependent band."""
        rng = self.rng
        lung_idx, depth = self.idx, self.depth.ravel()[self.idx]
        z = np.unravel_index(lung_idx, self.shape)[2]
        effusion = np.zeros(len(lung_idx), dtype=bool)
        if n_cons > 0:
            # fluid settles at the back of the lung base: the n_cons lowest-lying voxels below mid-height
            low = z < np.median(z)
            order = np.argsort(np.where(low, depth, np.inf))[:n_cons]
            effusion[order] = True
            flat = self.hu.reshape(-1)
            flat[lung_idx[effusion]] = rng.uniform(0, 20) + 5.0 * rng.standard_normal(n_cons)
        if n_ggo > 0:
            # the next n_ggo voxels along the posterior wall become a ground-glass layer (denser at the wall),
            # each raised by more than 100 HU into the ground-glass range, as a lesion's voxels are
            free = np.flatnonzero(~effusion)
            order = free[np.argsort(depth[free])]
            t = depth[order[min(n_ggo, len(order) - 1)]] + 1e-3
            d = depth[free]
            m = np.where(d < t, 1.0 - 0.3 * d / t, np.clip(0.7 - (d - t) / 1.5, 0.0, 1.0))
            flat = self.hu.reshape(-1)
            cur = flat[lung_idx[free]]
            target = rng.uniform(*_GGO_HU) + 30.0 * rng.standard_normal(len(free))
            new = cur + m * (target - cur)
            inside = d < t
            new[inside] = np.clip(new[inside], cur[inside] + 110.0, _GGO_BAND[1] - 10.0)
            flat[lung_idx[free]] = np.maximum(cur, new)

    def _tube(self, p0, p1, radius):
        """Paint a vessel segment (a capsule with a partial-volume edge) inside the lungs."""
        sl, g = _box((p0 + p1) / 2, np.abs(p1 - p0) / 2 + radius + 1, self.shape)
        if sl is None:
            return
        d = p1 - p0
        ll = float(d @ d) or 1.0
        t = np.clip(sum((gi - a) * di for gi, a, di in zip(g, p0, d)) / ll, 0.0, 1.0)
        dist = np.sqrt(sum((gi - (a + t * di)) ** 2 for gi, a, di in zip(g, p0, d)))
        m = np.clip(radius - dist + 0.5, 0.0, 1.0) * self.lung[sl]
        cur = self.hu[sl]
        self.hu[sl] = np.maximum(cur, cur + m * (_BLOOD - cur))

    def vessels(self):
        rng, s, sz = self.rng, self.s, self.sz
        for lung in self.lungs:
            (lcx, lcy, lcz), (rx, _, rz), side = lung["c"], lung["r"], lung["side"]
            hilum = np.array([lcx - side * 0.55 * rx, lcy + rng.uniform(-3, 3) * s, lcz + rng.uniform(-2, 2) * sz])
            scale = np.array([1.0, 1.0, sz / s * 0.5])  # slices are about twice as thick as pixels are wide
            for _ in range(int(rng.integers(8, 14))):
                direction = rng.normal(size=3) + np.array([side * 1.2, 0, 0])
                self._branch(hilum, direction, rng.uniform(1.3, 2.2) * s, scale, depth=0)
            for _ in range(int(rng.integers(2, 5))):  # vessels along the body axis: a round blob in any one slice
                p = self.random_lung_point(margin=3 * s)
                half = rng.uniform(0.25, 0.5) * rz
                axis = np.array([0.0, 0.0, half])
                self._tube(p - axis, p + axis, rng.uniform(1.5, 3.0) * s)

    def _branch(self, start, direction, radius, scale, depth):
        rng = self.rng
        p = np.asarray(start, dtype=float)
        direction = direction / np.linalg.norm(direction)
        for _ in range(3):
            step = direction * scale * rng.uniform(6, 11) * self.s
            q = p + step
            xi, yi, zi = (round(c) for c in q)
            inside = (0 <= xi < self.shape[0] and 0 <= yi < self.shape[1] and 0 <= zi < self.shape[2]
                      and self.lung[xi, yi, zi])
            self._tube(p, q, radius)
            if not inside:
                return
            if depth < 1 and rng.random() < 0.5:
                self._branch(q, direction + rng.normal(scale=0.8, size=3), radius * 0.7, scale, depth + 1)
            p, radius = q, max(0.7 * self.s, radius * 0.8)
            direction = direction + rng.normal(scale=0.35, size=3)
            direction /= np.linalg.norm(direction)

    def nodules(self):
        rng, s = self.rng, self.s
        for _ in range(int(rng.integers(0, 4))):
            c, r = self.random_lung_point(margin=2 * s), rng.uniform(1.5, 3.0) * s
            radii = (r, r, r * self.sz / s * 0.5)
            sl, g = _box(c, radii, self.shape)
            if sl is None:
                continue
            rho = np.sqrt(sum(((gi - ci) / ri) ** 2 for gi, ci, ri in zip(g, c, radii)))
            m = np.clip((1.0 - rho) * r + 0.5, 0.0, 1.0) * self.lung[sl]
            cur = self.hu[sl]
            self.hu[sl] = np.maximum(cur, cur + m * (rng.uniform(0, 60) - cur))

    def airways(self):
        rng, s, (X, Y, Z) = self.rng, self.s, self.shape
        tx, ty = self.cx + rng.uniform(-2, 2) * s, self.cy - 0.3 * self.ay
        carina = np.mean([lung["c"][2] for lung in self.lungs]) + rng.uniform(0.1, 0.3) * self.lungs[0]["r"][2]
        x, y = np.ogrid[:X, :Y]
        r = rng.uniform(4, 5.5) * s
        trachea = (np.hypot(x - tx, y - ty) <= r)[:, :, None] & (np.arange(Z) >= carina)[None, None, :]
        self.hu[trachea] = _AIR
        for lung in self.lungs:
            (lcx, lcy, lcz), (rx, _, _), side = lung["c"], lung["r"], lung["side"]
            p0 = np.array([tx, ty, carina])
            p1 = np.array([lcx - side * 0.4 * rx, lcy, lcz + 0.05 * Z])
            sl, g = _box((p0 + p1) / 2, np.abs(p1 - p0) / 2 + r, self.shape)
            d = p1 - p0
            t = np.clip(sum((gi - a) * di for gi, a, di in zip(g, p0, d)) / float(d @ d), 0.0, 1.0)
            dist = np.sqrt(sum((gi - (a + t * di)) ** 2 for gi, a, di in zip(g, p0, d)))
            self.hu[sl] = np.where(dist <= 0.65 * r, _AIR, self.hu[sl])

    def finish(self):
        rng, (X, Y, _) = self.rng, self.shape
        sigma = rng.uniform(8, 30)
        self.hu += rng.normal(scale=sigma, size=self.shape).astype(np.float32)
        x, y = np.ogrid[:X, :Y]
        outside = np.hypot(x - (X - 1) / 2, y - (Y - 1) / 2) > X / 2
        self.hu[outside] = _OUTSIDE_FOV
        return np.clip(self.hu, -1024, 3071)


def phantom(label: int, seed=0, shape: Sequence[int] = NATIVE_SHAPE):
    """One chest-CT phantom: ``(volume, spacing, lesion_mask)``; HU float32 of ``shape`` ``(X, Y, Z)``.

    ``label`` 1 draws lesions (GGO, consolidation), 0 draws confounders of the same HU
    mass; ``seed`` is anything ``np.random.default_rng`` takes (``write_phantoms`` uses
    ``[seed, i]``). ``spacing`` is the voxel size in mm; ``lesion_mask`` is a boolean
    ``shape`` array (all False for a negative). Sizes in voxels are those of ``NATIVE_SHAPE``
    scaled with ``shape``: at ``(64, 64, 24)`` every structure spans half as many voxels along
    each axis, and the voxels are twice as large.
    """
    if label not in (0, 1):
        raise ValueError(f"label: expected 0 (normal) or 1 (lesions), got {label!r}")
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"shape: expected three sizes (X, Y, Z) of at least 16 voxels, got {shape}")
    rng = np.random.default_rng(seed)
    scan = _Scan(rng, shape)
    scan.body()
    scan.lungs_()
    lesions = scan.lesions()  # drawn for both classes, so that both spend the same HU budget
    if label == 1:
        mask = scan.paint(lesions)
    else:
        mask = np.zeros(shape, dtype=bool)
        scan.confounders(*scan.budget(lesions))
    scan.vessels()
    scan.nodules()
    scan.airways()
    volume = scan.finish()
    spacing = np.array([rng.uniform(2.3, 2.8) * 128 / shape[0]] * 2 + [rng.uniform(4.5, 5.5) * 48 / shape[2]])
    return volume, spacing, mask


def phantom_dir(n: int, seed: int = 0, shape: Sequence[int] = NATIVE_SHAPE) -> Path:
    """Where ``write_phantoms`` keeps a set by default: ``data_dir("ct_phantoms", "seed0_n200_128x128x48")``."""
    from cvlib.config import data_dir

    return data_dir("ct_phantoms", f"seed{seed}_n{n}_{'x'.join(str(int(v)) for v in shape)}")


def write_phantoms(root=None, n: int = 200, seed: int = 0, shape: Sequence[int] = NATIVE_SHAPE,
                   masks: bool = True, verbose: bool = True) -> Path:
    """Write ``n`` phantoms (half of each class) as ``root/CT-0/*.nii.gz`` and ``root/CT-23/*.nii.gz``.

    The layout of keras-io's MosMedData subset, so ``load_dataset(root)`` reads it.
    Lesion masks of positives go to ``root/masks/<name>_mask.nii.gz`` (as MosMedData
    ships masks for some studies). ``root`` defaults to ``phantom_dir(n, seed, shape)``.
    Writes once: a ``manifest.json`` written last marks a complete set, and a later call
    with the same arguments returns at once. Returns ``root``.
    """
    import time

    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: expected an integer of at least 2 (one scan per class), got {n!r}")
    shape = tuple(int(v) for v in shape)
    root = Path(root) if root is not None else phantom_dir(n, seed, shape)
    manifest = root / "manifest.json"
    spec = {"generator": "cvlib.data.ct.phantom/2", "n": int(n), "seed": int(seed), "shape": list(shape)}
    if manifest.exists():
        try:
            if json.loads(manifest.read_text()).get("spec") == spec:
                return root
        except (OSError, ValueError):
            pass
    start = time.perf_counter()
    files = []
    for i in range(n):
        label = 1 - i % 2  # alternate: balanced classes, and the first k scans of a set are a balanced set
        volume, spacing, mask = phantom(label, seed=[seed, i], shape=shape)
        name = f"study_{i:04d}"
        path = save_volume(root / ("CT-23" if label else "CT-0") / f"{name}.nii.gz", volume, spacing)
        if masks and label:
            save_volume(root / "masks" / f"{name}_mask.nii.gz", mask.astype(np.float32), spacing)
        files.append(str(path.relative_to(root)))
    manifest.write_text(json.dumps({"spec": spec, "files": files}, indent=1))
    if verbose:
        print(f"wrote {n} phantoms to {root} in {time.perf_counter() - start:.1f} s")
    return root


def load_mask(scan_path) -> np.ndarray | None:
    """The lesion mask written next to a phantom (``masks/<name>_mask.nii.gz``), or None when there is none."""
    scan_path = Path(scan_path)
    name = scan_path.name[: -len(".nii.gz")] if scan_path.name.endswith(".nii.gz") else scan_path.stem
    path = scan_path.parent.parent / "masks" / f"{name}_mask.nii.gz"
    return load_volume(path) > 0.5 if path.exists() else None


# --------------------------------------------------------------------------- baseline features

FEATURE_NAMES = (
    "mean", "std", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99",
    "frac<-950", "frac-950..-750", "frac-750..-300", "frac-300..-100", "frac-100..150", "frac>150",
)


def intensity_features(volume, window: tuple[float, float] = (-1024.0, 3071.0)) -> np.ndarray:
    """Global intensity statistics of an HU volume: mean, std, 9 percentiles, fractions in 6 HU bands.

    What a classifier that ignores shape can see (``FEATURE_NAMES`` names them); the
    baseline of notebook 06.
    """
    v = np.clip(check_volume(volume), *window).ravel()
    pct = np.percentile(v, [1, 5, 10, 25, 50, 75, 90, 95, 99])
    edges = np.array([-np.inf, -950, -750, -300, -100, 150, np.inf])
    frac = np.histogram(v, bins=edges)[0] / v.size
    return np.concatenate([[v.mean(), v.std()], pct, frac]).astype(np.float64)


def show_slice(volume, z: int | None = None, ax=None, window: tuple[float, float] = HU_WINDOW, title=None):
    """Show axial slice ``z`` (default: the middle) of an ``(X, Y, Z)`` volume, anterior up, patient's right left."""
    import matplotlib.pyplot as plt

    volume = check_volume(volume)
    z = volume.shape[2] // 2 if z is None else int(z)
    ax = ax or plt.gca()
    ax.imshow(volume[:, :, z].T, cmap="gray", vmin=window[0], vmax=window[1], interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


__all__ = [
    "CLASS_FOLDERS", "FEATURE_NAMES", "HU_WINDOW", "MOSMED_FOLDERS", "NATIVE_SHAPE", "CTDataset", "augment",
    "check_volume", "intensity_features", "load_dataset", "load_mask", "load_preprocessed", "load_volume",
    "make_tf_dataset", "normalize", "phantom", "phantom_dir", "preprocess", "resize_volume", "save_volume",
    "show_slice", "voxel_spacing", "write_phantoms",
]

