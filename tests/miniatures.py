"""Miniature copies of the real data sets, written in exactly their published on-disk formats.

Each ``write_<name>(root, seed=0) -> Path`` writes a handful of small images (60-120 px) and their
annotation files under ``root`` and returns the folder a loader (or a notebook) is pointed at. The
files are written here by hand, not through the loaders, so a test reading them checks the loaders
against the formats. The annotations are fixed constants below (so tests know what to expect),
the pixels are seeded noise and shapes. Each format's quirks are included: VOC's 1-based
coordinates, difficult and truncated flags and 255 void borders; 300-W's 1-based ``.pts``; Omniglot's
folder and file names; LFW's 10-fold header and both kinds of pair lines; OTB's comma, tab and
mixed separators, a sequence starting at frame 0005, two-target and partial ground truth; the
Oxford-IIIT Pet trimaps with all three values and comment lines; MosMedData NIfTI with a
rotated, anisotropic affine and scaled int16 storage.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "LFW_PEOPLE",
    "OMNIGLOT",
    "OTB_BOXES",
    "PETS",
    "VOC_CLASSES",
    "VOC_IMAGES",
    "VOC_REGIONS",
    "face_points_300w",
    "mosmed_affine",
    "mosmed_hu",
    "write_300w",
    "write_lfw",
    "write_mosmed",
    "write_omniglot",
    "write_otb",
    "write_pets",
    "write_voc",
]


def _noise(rng, h: int, w: int) -> np.ndarray:
    """A dim RGB noise image, uint8 (h, w, 3)."""
    return rng.integers(20, 90, (h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- PASCAL VOC 2007

#: the devkit's class order (VOCinit.m); SegmentationClass stores 1 + the position
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

#: id -> (width, height, objects); an object is (name, truncated, difficult, (xmin, ymin, xmax, ymax)) 1-based
VOC_IMAGES = {
    "000005": (
        100,
        80,
        [
            ("chair", 0, 0, (10, 20, 39, 59)),
            ("chair", 0, 1, (50, 10, 90, 70)),  # difficult
            ("person", 1, 0, (1, 1, 30, 80)),  # truncated, touching the image's top-left corner and bottom edge
        ],
    ),
    "000007": (90, 120, [("car", 1, 0, (5, 5, 90, 100))]),
    "000009": (120, 90, [("dog", 0, 0, (20, 30, 70, 85)), ("cat", 0, 0, (75, 10, 115, 50))]),
    "000010": (80, 64, [("tvmonitor", 0, 0, (8, 8, 40, 40))]),
}
VOC_SPLITS = {
    "Main": {
        "train": ["000005", "000007"],
        "val": ["000009"],
        "trainval": ["000005", "000007", "000009"],
        "test": ["000010"],
    },
    "Segmentation": {"train": ["000005"], "val": ["000009"], "trainval": ["000005", "000009"], "test": []},
}
#: segmented images: per XML object (in order), the region (row0, row1, col0, col1) its mask covers, 0-based
#: half-open; each is drawn with a 1-pixel void (255) ring around it, as VOC outlines every object
VOC_REGIONS = {
    "000005": [(22, 56, 12, 36), (12, 66, 52, 86), (62, 78, 2, 8)],
    "000009": [(32, 82, 22, 68), (12, 48, 77, 113)],
}


def _voc_palette() -> list[int]:
    """VOC's colour map: entry i spreads i's bits over the high bits of R, G and B; 255 is the void colour."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def _voc_xml(image_id: str, width: int, height: int, objects, segmented: bool) -> str:
    parts = [
        "<annotation>",
        "\t<folder>VOC2007</folder>",
        f"\t<filename>{image_id}.jpg</filename>",
        "\t<source>\n\t\t<database>The VOC2007 Database</database>\n\t</source>",
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>",
        f"\t<segmented>{int(segmented)}</segmented>",
    ]
    for name, truncated, difficult, (x1, y1, x2, y2) in objects:
        parts.append(
            f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>{truncated}</truncated>"
            f"\n\t\t<difficult>{difficult}</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>"
            f"\n\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>"
        )
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def _voc_extra_images(extra: int, seed: int):
    """``extra`` more segmented images for a notebook's fast run: id -> (width, height, objects), their regions, splits.

    Image k holds one object (k even) or two (k odd) of seeded classes and boxes, and goes to train (k % 5 < 3),
    val (k % 5 == 3) or test (k % 5 == 4), in Main and Segmentation alike; its masks fill each box but its border.
    """
    rng = np.random.default_rng([seed, 2007])
    images, regions = {}, {}
    splits = {"train": [], "val": [], "test": []}
    for k in range(extra):
        image_id = f"{900000 + k:06d}"
        w, h = (int(v) for v in rng.integers(64, 121, 2))
        objects, boxes = [], []
        for _ in range(1 + k % 2):
            bw, bh = int(rng.integers(w // 4, w // 2 + 1)), int(rng.integers(h // 4, h // 2 + 1))
            x1, y1 = int(rng.integers(1, w - bw + 1)), int(rng.integers(1, h - bh + 1))
            objects.append((VOC_CLASSES[int(rng.integers(len(VOC_CLASSES)))], 0, 0, (x1, y1, x1 + bw - 1, y1 + bh - 1)))
            boxes.append((y1, y1 + bh - 2, x1, x1 + bw - 2))  # 0-based half-open, one pixel inside the box
        images[image_id], regions[image_id] = (w, h, objects), boxes
        splits[("train", "train", "train", "val", "test")[k % 5]].append(image_id)
    return images, regions, splits


def write_voc(root, seed: int = 0, extra: int = 0) -> Path:
    """``root/VOCdevkit/VOC2007`` with four images, their XML, the Main and Segmentation splits and PNG masks.

    ``extra`` adds that many more segmented images (``_voc_extra_images``), so a notebook has batches and
    splits to run on; the first four and everything tests read from them stay the same.
    """
    rng = np.random.default_rng(seed)
    extra_images, extra_regions, extra_splits = _voc_extra_images(extra, seed)
    voc = Path(root) / "VOCdevkit" / "VOC2007"
    for sub in (
        "Annotations",
        "JPEGImages",
        "ImageSets/Main",
        "ImageSets/Segmentation",
        "SegmentationClass",
        "SegmentationObject",
    ):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    palette = _voc_palette()
    regions = {**VOC_REGIONS, **extra_regions}
    for image_id, (w, h, objects) in {**VOC_IMAGES, **extra_images}.items():
        image = _noise(rng, h, w)
        for _, _, _, (x1, y1, x2, y2) in objects:
            image[y1 - 1 : y2, x1 - 1 : x2] = rng.integers(120, 255, 3)
        Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=90)
        segmented = image_id in regions
        (voc / "Annotations" / f"{image_id}.xml").write_text(_voc_xml(image_id, w, h, objects, segmented))
        if segmented:
            instances = np.zeros((h, w), np.uint8)
            classes = np.zeros((h, w), np.uint8)
            for i, ((r0, r1, c0, c1), obj) in enumerate(zip(regions[image_id], objects)):
                for arr in (instances, classes):
                    arr[max(r0 - 1, 0) : r1 + 1, max(c0 - 1, 0) : c1 + 1] = 255
                instances[r0:r1, c0:c1] = i + 1
                classes[r0:r1, c0:c1] = VOC_CLASSES.index(obj[0]) + 1
            for folder, arr in (("SegmentationObject", instances), ("SegmentationClass", classes)):
                png = Image.fromarray(arr)
                png.putpalette(palette)  # an "L" image with a palette becomes a "P" (indexed) PNG
                png.save(voc / folder / f"{image_id}.png")
    for task, splits in VOC_SPLITS.items():
        for split, ids in splits.items():
            more = extra_splits["train"] + extra_splits["val"] if split == "trainval" else extra_splits[split]
            (voc / "ImageSets" / task / f"{split}.txt").write_text("".join(i + "\n" for i in ids + more))
    # A per-class list, as the devkit ships one per class and split: the loader must not mistake it for a split.
    (voc / "ImageSets" / "Main" / "chair_train.txt").write_text("000005  1\n000007 -1\n")
    return voc


# --------------------------------------------------------------------------- 300-W

_300W_FILES = [
    ("01_Indoor/indoor_001.png", 120, 100),
    ("01_Indoor/indoor_002.png", 100, 90),
    ("02_Outdoor/outdoor_001.jpg", 110, 110),
]


def face_points_300w(seed: int = 0) -> list[np.ndarray]:
    """The 1-based (68, 2) points ``write_300w`` writes, one array per file (rounded to 3 decimals)."""
    from cvlib.data.faces import mean_shape

    rng = np.random.default_rng(seed)
    shape = mean_shape()
    out = []
    for k, (_, w, h) in enumerate(_300W_FILES):
        scale = rng.uniform(18, 24)
        # the second face reaches past the left edge, so its crop needs padding
        centre = np.array([scale * 0.6, h / 2]) if k == 1 else np.array([w / 2, h / 2]) + rng.uniform(-5, 5, 2)
        points = shape * scale + centre + rng.normal(0, 0.3, shape.shape) + 1.0
        out.append(np.round(points, 3))
    return out


def write_300w(root, seed: int = 0, layout: str = "300w", per_part: int = 4) -> Path:
    """``root/300W/{01_Indoor,02_Outdoor}/<name>.{png,jpg}`` with a ``.pts`` beside each image.

    Each image is dark noise with a white 3 x 3 dot centred on the nose tip (landmark 30), so a
    test can find where the crop put it. With ``layout="dlib"`` it writes instead the layout of dlib's
    archive, which the registry's ``ibug300w`` entry expects (see ``_write_300w_dlib``), and returns ``root``.
    """
    if layout == "dlib":
        return _write_300w_dlib(root, seed, per_part)
    if layout != "300w":
        raise ValueError(f"layout: expected '300w' or 'dlib', got {layout!r}")
    rng = np.random.default_rng(seed + 1)
    base = Path(root) / "300W"
    for (name, w, h), points in zip(_300W_FILES, face_points_300w(seed)):
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = _noise(rng, h, w)
        x, y = np.rint(points[30] - 1).astype(int)  # 1-based file values -> 0-based pixel indices
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
        Image.fromarray(image).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))
        lines = ["version: 1", "n_points:  68", "{", *(f"{px:.3f} {py:.3f}" for px, py in points), "}"]
        path.with_suffix(".pts").write_text("\n".join(lines) + "\n")
    return base


#: dlib's ibug_300W_large_face_landmark_dataset: each part's folder, how its files are named, and its split
_300W_DLIB = "ibug_300W_large_face_landmark_dataset"
_300W_DLIB_PARTS = {
    "afw": ("{photo}_{face}.jpg", "train"),  # AFW and HELEN number the faces of one photo: <photo>_1, <photo>_2
    "helen/trainset": ("{photo}_{face}.jpg", "train"),
    "lfpw/trainset": ("image_{photo:04d}.png", "train"),
    "helen/testset": ("{photo}_{face}.jpg", "test"),
    "lfpw/testset": ("image_{photo:04d}.png", "test"),
    "ibug": ("image_{photo:03d}_{face}.jpg", "test"),
}


def _write_300w_dlib(root, seed: int, per_part: int) -> Path:
    """``root/ibug_300W_large_face_landmark_dataset/<part>/<name>.{jpg,png}`` with a ``.pts`` beside each, for
    the six parts of ``_300W_DLIB_PARTS`` (``per_part`` faces each; AFW's first photo holds two faces), and
    dlib's ``labels_ibug_300W_{train,test}.xml`` listing them with a face box and 0-based parts."""
    from cvlib.data.faces import mean_shape

    rng = np.random.default_rng(seed + 2)
    base = Path(root) / _300W_DLIB
    shape = mean_shape()
    listed = {"train": [], "test": []}
    for p, (part, (pattern, split)) in enumerate(_300W_DLIB_PARTS.items()):
        folder = base / part
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_part):
            photo, face = (k, 1) if part != "afw" else (max(k - 1, 0), 1 + (k == 1))
            name = pattern.format(photo=100 * (p + 1) + photo, face=face)
            w, h = int(rng.integers(90, 121)), int(rng.integers(90, 121))
            points = shape * rng.uniform(18, 24) + [w / 2, h / 2] + rng.uniform(-5, 5, 2)
            points = np.round(points + rng.normal(0, 0.3, shape.shape) + 1.0, 3)  # 1-based, as 300-W writes them
            image = _noise(rng, h, w)
            x, y = np.rint(points[30] - 1).astype(int)
            image[y - 1 : y + 2, x - 1 : x + 2] = 255
            path = folder / name
            Image.fromarray(image).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))
            lines = ["version: 1", "n_points:  68", "{", *(f"{px:.3f} {py:.3f}" for px, py in points), "}"]
            path.with_suffix(".pts").write_text("\n".join(lines) + "\n")
            listed[split].append((f"{part}/{name}", points - 1))
    for split, images in listed.items():
        xml = ["<?xml version='1.0' encoding='ISO-8859-1'?>",
               "<?xml-stylesheet type='text/xsl' href='image_metadata_stylesheet.xsl'?>",
               "<dataset>", f"<name>iBUG face point dataset - {split}ing images</name>", "<images>"]
        for file, points in images:
            (x0, y0), (x1, y1) = np.floor(points.min(0)).astype(int), np.ceil(points.max(0)).astype(int)
            xml.append(f"  <image file='{file}'>")
            xml.append(f"    <box top='{y0}' left='{x0}' width='{x1 - x0}' height='{y1 - y0}'>")
            xml += [f"      <part name='{i:02d}' x='{round(x)}' y='{round(y)}'/>" for i, (x, y) in enumerate(points)]
            xml += ["    </box>", "  </image>"]
        xml += ["</images>", "</dataset>"]
        (base / f"labels_ibug_300W_{split}.xml").write_text("\n".join(xml) + "\n", encoding="ISO-8859-1")
    return Path(root)


# --------------------------------------------------------------------------- Omniglot

#: subset -> alphabet -> character folder -> (id, drawers)
OMNIGLOT = {
    "images_background": {
        "Alphabet_of_the_Magi": {"character01": ("0709", (1, 2, 5)), "character02": ("0710", (1, 3, 20))},
        "Korean": {"character01": ("1041", (2, 4, 7))},
    },
    "images_evaluation": {"Angelic": {"character01": ("0965", (1, 2))}},
}


#: subset -> the alphabets ``write_omniglot(n=...)`` adds, each with n characters drawn by all 20 drawers
_OMNIGLOT_EXTRA = {"images_background": ("Bengali", "Greek"), "images_evaluation": ("Atlantean", "Kannada")}


def _omniglot_layout(n: int) -> dict:
    """``OMNIGLOT`` plus the extra alphabets of ``n`` characters each (ids from 2000 on)."""
    layout = {subset: dict(alphabets) for subset, alphabets in OMNIGLOT.items()}
    next_id = 2000
    for subset, names in _OMNIGLOT_EXTRA.items():
        for name in names if n else ():
            ids = (f"{next_id + c:04d}" for c in range(n))
            layout[subset][name] = {f"character{c:02d}": (i, tuple(range(1, 21))) for c, i in enumerate(ids, 1)}
            next_id += n
    return layout


def write_omniglot(root, seed: int = 0, n: int = 0) -> Path:
    """``root/images_background/<Alphabet>/characterNN/<id>_<nn>.png`` (and ``images_evaluation``): 105 x 105
    1-bit PNGs, black strokes on white; ``n`` adds two alphabets of ``n`` characters by all 20 drawers to each set."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for subset, alphabets in _omniglot_layout(n).items():
        for alphabet, characters in alphabets.items():
            for folder, (char_id, drawers) in characters.items():
                path = root / subset / alphabet / folder
                path.mkdir(parents=True, exist_ok=True)
                strokes = rng.integers(15, 90, (3, 4))
                for nn in drawers:
                    glyph = np.full((105, 105), 255, np.uint8)
                    for x1, y1, x2, y2 in strokes + rng.integers(-3, 4, strokes.shape):
                        cv2.line(glyph, (int(x1), int(y1)), (int(x2), int(y2)), 0, 3)
                    Image.fromarray(glyph).convert("1").save(path / f"{char_id}_{nn:02d}.png")
    return root


# --------------------------------------------------------------------------- LFW

#: person -> number of images
LFW_PEOPLE = {"Aaron_Peirsol": 3, "Abdullah_Gul": 2, "George_W_Bush": 4, "Zico": 1}


def _lfw_fold(fold: int) -> list[str]:
    """One fold of one matched and one mismatched pair, tab-separated as in pairs.txt."""
    matched = [("George_W_Bush", 1, 4), ("Aaron_Peirsol", 1, 3), ("Abdullah_Gul", 1, 2)][fold % 3]
    mismatched = [("Zico", 1, "Abdullah_Gul", 2), ("Aaron_Peirsol", 2, "George_W_Bush", 3)][fold % 2]
    return ["\t".join(map(str, matched)), "\t".join(map(str, mismatched))]


def write_lfw(root, seed: int = 0, side: int = 100, extra_people: int = 0, extra_images: int = 4) -> Path:
    """``root/lfw/<Name>/<Name>_NNNN.jpg`` (``side`` x ``side``; LFW's own are 250 x 250), ``root/pairs.txt``
    (header ``10<TAB>1``: ten folds of one matched and one mismatched pair) and ``root/pairsDevTrain.txt``
    (header ``2``). ``extra_people`` more people (``Extra_Person_NN``, ``extra_images`` pictures each) appear in
    no pairs file, as most of LFW's people do: a model can be trained on them."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for name, count in LFW_PEOPLE.items():
        (root / "lfw" / name).mkdir(parents=True, exist_ok=True)
        for k in range(1, count + 1):
            Image.fromarray(_noise(rng, side, side)).save(root / "lfw" / name / f"{name}_{k:04d}.jpg")
    for person in range(1, extra_people + 1):
        name = f"Extra_Person_{person:02d}"
        (root / "lfw" / name).mkdir(parents=True, exist_ok=True)
        for k in range(1, extra_images + 1):
            Image.fromarray(_noise(rng, side, side)).save(root / "lfw" / name / f"{name}_{k:04d}.jpg")
    lines = ["10\t1"] + [line for fold in range(10) for line in _lfw_fold(fold)]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    dev = [
        "2",
        "George_W_Bush\t2\t3",
        "Abdullah_Gul\t1\t2",
        "Zico\t1\tAaron_Peirsol\t1",
        "Abdullah_Gul\t2\tGeorge_W_Bush\t4",
    ]
    (root / "pairsDevTrain.txt").write_text("\n".join(dev) + "\n")
    return root


# --------------------------------------------------------------------------- OTB-100

#: sequence (or "sequence.target") -> (first frame, 1-based x, y, w, h per frame, separator)
OTB_BOXES = {
    "Basketball": (1, [(10, 12, 20, 30), (11, 13, 20, 30), (13, 13, 21, 31), (14, 15, 21, 31)], ","),
    "BlurCar1": (5, [(5, 6, 30, 20), (7, 6, 30, 20), (9, 7, 31, 21)], "\t"),  # frames 0005-0007; a space on line 2
    "Jogging.1": (1, [(40, 10, 10, 30), (41, 10, 10, 30), (43, 11, 10, 30)], "\t"),
    "Jogging.2": (1, [(5, 12, 12, 28), (4, 12, 12, 28), (3, 12, 12, 28)], ","),
    "Human4.2": (1, [(20, 20, 8, 24), (21, 20, 8, 24)], ","),
    "David": (4, [(30, 20, 16, 18), (31, 21, 16, 18), (32, 22, 16, 18)], ","),  # img/ holds 0001-0006
}
_OTB_FRAMES = {"Basketball": (1, 4), "BlurCar1": (5, 7), "Jogging": (1, 3), "Human4": (1, 2), "David": (1, 6)}


def write_otb(root, seed: int = 0) -> Path:
    """``root/<Sequence>/img/NNNN.jpg`` (64 x 48) with ``groundtruth_rect.txt`` or ``groundtruth_rect.<k>.txt``.

    Quirks: BlurCar1 starts at frame 0005 and mixes a space into its tab-separated file; Jogging has two
    targets (``.1`` tab-, ``.2`` comma-separated); Human4 has only ``groundtruth_rect.2.txt`` plus an
    empty ``groundtruth_rect1.txt``; David's ground truth covers frames 4-6 of six.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    for seq, (first, last) in _OTB_FRAMES.items():
        (root / seq / "img").mkdir(parents=True, exist_ok=True)
        for n in range(first, last + 1):
            Image.fromarray(_noise(rng, 48, 64)).save(root / seq / "img" / f"{n:04d}.jpg")
    for key, (_, boxes, sep) in OTB_BOXES.items():
        seq, _, target = key.partition(".")
        lines = [sep.join(str(v) for v in box) for box in boxes]
        if key == "BlurCar1":
            lines[1] = lines[1].replace("\t", " ", 1)
        name = f"groundtruth_rect.{target}.txt" if target else "groundtruth_rect.txt"
        (root / seq / name).write_text("\n".join(lines) + "\n")
    (root / "Human4" / "groundtruth_rect1.txt").write_text("")
    return root


# --------------------------------------------------------------------------- Oxford-IIIT Pet

#: name -> (CLASS-ID, SPECIES, BREED-ID, split, width, height); a PNG inside a .jpg name, as a few real files are
PETS = {
    "Abyssinian_1": (1, 1, 1, "trainval", 80, 80),
    "american_bulldog_10": (2, 2, 1, "trainval", 80, 80),
    "Bengal_3": (6, 1, 2, "test", 96, 72),
}


#: the breeds (CLASS-ID, SPECIES, BREED-ID) of the extra photos ``write_pets(n=...)`` adds
_PETS_EXTRA = {"Abyssinian": (1, 1, 1), "american_bulldog": (2, 2, 1), "Bengal": (6, 1, 2)}


def _pets_files(n: int) -> dict:
    """``PETS`` plus ``n`` extra 64 x 64 photos, named ``<Breed>_<100 + k>``; every third one in the test list."""
    files = dict(PETS)
    breeds = list(_PETS_EXTRA.items())
    for k in range(n):
        breed, ids = breeds[k % len(breeds)]
        files[f"{breed}_{100 + k}"] = (*ids, "test" if k % 3 == 2 else "trainval", 64, 64)
    return files


def write_pets(root, seed: int = 0, n: int = 0) -> Path:
    """``root/images/*.jpg``, ``root/annotations/trimaps/*.png`` (1 pet, 2 background, 3 border) and
    ``root/annotations/{trainval,test,list}.txt`` with ``#`` comment lines; ``n`` extra photos make the set
    big enough for a notebook's splits and batches."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    files = _pets_files(n)
    for name, (_, _, _, _, w, h) in files.items():
        trimap = np.full((h, w), 2, np.uint8)
        centre, axes = (w // 2, h // 2), (w // 3, h // 3)
        cv2.ellipse(trimap, centre, axes, 0, 0, 360, 3, -1)  # border ring ...
        cv2.ellipse(trimap, centre, (axes[0] - 3, axes[1] - 3), 0, 0, 360, 1, -1)  # ... around the pet
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{name}.png")
        image = _noise(rng, h, w)
        image[trimap == 1] = (200, 150, 90)
        # Bengal_3 "jpg" is PNG data: the loader must go by content, not by name
        Image.fromarray(image).save(root / "images" / f"{name}.jpg", format="PNG" if name == "Bengal_3" else "JPEG")
    header = [
        "#Image CLASS-ID SPECIES BREED ID",
        "#ID: 1:37 Class ids",
        "#SPECIES: 1:Cat 2:Dog",
        "#BREED ID: 1-25:Cat 1:12:Dog",
        "#All images with 1st letter as captial are cat images",
        "#images with small first letter are dog images",
    ]
    for split in ("trainval", "test", "list"):
        rows = [f"{k} {c} {s} {b}" for k, (c, s, b, sp, _, _) in files.items() if split in ("list", sp)]
        lines = (header if split == "list" else []) + rows
        (root / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


# --------------------------------------------------------------------------- MosMedData (NIfTI)


def mosmed_affine(seed: int = 0) -> np.ndarray:
    """The voxel-to-world matrix ``write_mosmed`` stores: rotated 30 degrees about z, voxels 0.7 x 0.8 x 5 mm."""
    angle = np.deg2rad(30 + seed)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([-0.7, -0.8, 5.0])
    affine[:3, 3] = [120.5, -80.25, -310.0]
    return affine


def mosmed_hu(seed: int = 0) -> dict[str, np.ndarray]:
    """The HU volumes ``write_mosmed`` stores: float32 (20, 18, 6) by ``"CT-0/study_0001"``, ``"CT-23/study_0002"``."""
    rng = np.random.default_rng(seed)
    return {
        key: rng.integers(-1024, 400, (20, 18, 6)).astype(np.float32) for key in ("CT-0/study_0001", "CT-23/study_0002")
    }


def write_mosmed(root, seed: int = 0, extra: int = 0) -> Path:
    """``root/CT-0/study_0001.nii.gz`` and ``root/CT-23/study_0002.nii.gz``: ``mosmed_hu(seed)`` stored as int16
    with ``scl_slope = 1, scl_inter = -1024`` (raw values from 0, as many scanners write CT) and the affine
    ``mosmed_affine(seed)``.

    ``extra`` more scans, alternately CT-23 and CT-0 (``study_1000`` on), are small chest phantoms
    (``cvlib.data.ct.phantom``, 40 x 40 x 16 voxels) stored the same way, so a notebook has enough scans to split.
    """
    import nibabel as nib

    from cvlib.data import ct

    root = Path(root)
    volumes = dict(mosmed_hu(seed))
    for i in range(extra):
        label = 1 - i % 2
        hu, _, _ = ct.phantom(label, seed=[seed, 1000 + i], shape=(40, 40, 16))
        volumes[f"{'CT-23' if label else 'CT-0'}/study_{1000 + i:04d}"] = np.clip(hu, -1024, 3071)
    for key, hu in volumes.items():
        folder, study = key.split("/")
        image = nib.Nifti1Image((hu + 1024).astype(np.int16), mosmed_affine(seed))
        image.header.set_slope_inter(1.0, -1024.0)
        image.header.set_xyzt_units("mm")
        (root / folder).mkdir(parents=True, exist_ok=True)
        nib.save(image, str(root / folder / f"{study}.nii.gz"))
    return root
