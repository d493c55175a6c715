"""evaluate_coco against pycocotools' COCOeval on random and hand-made COCO sets.

pycocotools is the reference here only (cvlib does not import it). Every random set is seeded
and parametrized by its seed, so a failure names the set; each compares the 12 summary figures
(to 1e-9), the full precision (T, R, K, A, M) and recall (T, K, A, M) arrays (exactly) and the
per-class AP.
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

from cvlib.data.formats import mask_to_rle
from cvlib.metrics.detection import COCO_STAT_NAMES, evaluate_coco

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

N_RANDOM_SETS = 120
CATEGORIES = (1, 2, 3, 9)  # 9 never has ground truth (detections may still name it)


def _box_size(rng):
    """Width and height spread over the small/medium/large ranges, often right at 32^2 and 96^2."""
    kind = rng.random()
    if kind < 0.1:
        side = float(rng.choice([32, 96]))  # area exactly on a range boundary (both ranges include it)
        return side, side
    if kind < 0.2:
        return float(rng.choice([16, 32, 64])), float(rng.choice([16, 32, 64]))  # 32 x 32 again, 16 x 64 = 1024
    low, high = [(3, 40), (25, 110), (80, 400)][rng.integers(3)]
    return tuple(np.exp(rng.uniform(np.log(low), np.log(high), 2)))


def random_coco_set(seed: int) -> tuple[dict, list[dict]]:
    """A seeded ground truth and detection list exercising COCOeval's special cases."""
    rng = np.random.default_rng(seed)
    integer = rng.random() < 0.5  # integer boxes make exact IoU ties and exact thresholds likely
    coarse_scores = rng.random() < 0.5  # scores in steps of 0.1: many ties
    n_images = int(rng.integers(1, 13))
    image_ids = [int(i) for i in rng.choice(10_000, n_images, replace=False)]  # unsorted, not contiguous
    gt_categories = [c for c in CATEGORIES[:3] if rng.random() < 0.85] or [1]
    annotations, detections = [], []
    for image_id in image_ids:
        n_objects = int(rng.integers(0, 9)) if rng.random() < 0.85 else 0  # some images have no objects
        objects = []
        for _ in range(n_objects):
            crowd = rng.random() < 0.12
            w, h = (rng.uniform(100, 300), rng.uniform(100, 300)) if crowd else _box_size(rng)
            x, y = rng.uniform(0, 500, 2)
            if integer:
                x, y, w, h = (float(max(round(v), 1)) for v in (x, y, w, h))
            kind = rng.random()
            # area is the mask area in real COCO: usually below w*h, sometimes on a range boundary
            if kind < 0.6:
                area = w * h
            elif kind < 0.9:
                area = w * h * rng.uniform(0.4, 1.0)
            else:
                area = float(rng.choice([1024, 9216]))
            category = int(rng.choice(gt_categories))
            ann = {
                "id": 0,
                "image_id": image_id,
                "category_id": category,
                "iscrowd": int(crowd),
                "bbox": [float(x), float(y), float(w), float(h)],
                "area": float(area),
            }
            if rng.random() < 0.1:
                ann["ignore"] = 1  # pycocotools accepts the key and overwrites it with iscrowd
            annotations.append(ann)
            objects.append(ann)
        if rng.random() < 0.15:
            continue  # an image without detections
        for ann in objects:
            for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):  # missed, found, duplicated
                x, y, w, h = ann["bbox"]
                if rng.random() < 0.15:
                    box = [x, y, w, h]  # exact copy: IoU 1
                else:
                    jitter = rng.normal(0, rng.choice([0.05, 0.15, 0.3]), 4) * [w, h, w, h]
                    box = [x + jitter[0], y + jitter[1], max(w + jitter[2], 1.0), max(h + jitter[3], 1.0)]
                    if integer:
                        box = [float(round(v)) for v in box]
                category = ann["category_id"] if rng.random() < 0.85 else int(rng.choice(CATEGORIES))
                detections.append({"image_id": image_id, "category_id": category, "bbox": box})
        for _ in range(int(rng.integers(0, 5))):  # background: far from everything, or anywhere
            w, h = _box_size(rng)
            x, y = rng.uniform(0, 500, 2) if rng.random() < 0.5 else rng.uniform(2000, 3000, 2)
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": int(rng.choice(CATEGORIES)),
                    "bbox": [float(x), float(y), float(w), float(h)],
                }
            )
    if seed % 4 == 0 and image_ids:
        # More than 100 detections of one class in one image: maxDets cuts them.
        image_id = image_ids[0]
        for _ in range(int(rng.integers(101, 160))):
            w, h = _box_size(rng)
            x, y = rng.uniform(0, 500, 2)
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": gt_categories[0],
                    "bbox": [float(x), float(y), float(w), float(h)],
                }
            )
    rng.shuffle(detections)
    for det in detections:
        det["score"] = float(np.round(rng.random(), 1)) if coarse_scores else float(rng.random())
    ids = rng.permutation(len(annotations)) + 1  # unique, positive, in no particular order
    for ann, ann_id in zip(annotations, ids):
        ann["id"] = int(ann_id)
    ground_truth = {
        "images": [{"id": i, "width": 640, "height": 480} for i in image_ids],
        "annotations": annotations,
        "categories": [{"id": c, "name": str(c)} for c in CATEGORIES],
    }
    return ground_truth, detections


def pycocotools_eval(ground_truth: dict, detections: list[dict]) -> COCOeval:
    """COCOeval run on deep copies (pycocotools adds keys to the dicts it is given), prints silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(ground_truth)
        coco_gt.createIndex()
        if detections:
            coco_dt = coco_gt.loadRes(copy.deepcopy(detections))
        else:  # loadRes fails on an empty list (it reads anns[0]); build the empty result set directly
            coco_dt = COCO()
            coco_dt.dataset = {
                "images": list(coco_gt.dataset["images"]),
                "annotations": [],
                "categories": copy.deepcopy(coco_gt.dataset["categories"]),
            }
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def assert_same_as_pycocotools(ground_truth: dict, detections: list[dict]) -> dict:
    ours = evaluate_coco(ground_truth, detections)
    reference = pycocotools_eval(ground_truth, detections)
    np.testing.assert_allclose([ours[name] for name in COCO_STAT_NAMES], reference.stats, rtol=0, atol=1e-9)
    # The arrays are computed with the same floating-point operations, so they agree exactly.
    np.testing.assert_array_equal(ours["precision"], reference.eval["precision"])
    np.testing.assert_array_equal(ours["recall"], reference.eval["recall"])
    np.testing.assert_array_equal(ours["category_ids"], reference.params.catIds)
    for k, category in enumerate(reference.params.catIds):
        p = reference.eval["precision"][:, :, k, 0, -1]
        expected = np.mean(p[p > -1]) if (p > -1).any() else -1
        assert ours["per_class_AP"][category] == pytest.approx(expected, abs=1e-12)
    return ours


@pytest.mark.parametrize("seed", range(N_RANDOM_SETS))
def test_random_sets_match_pycocotools(seed):
    assert_same_as_pycocotools(*random_coco_set(seed))


def test_random_sets_cover_the_special_cases():
    """The generator really produces what the parity tests claim to cover."""
    seen = dict.fromkeys(
        [
            "crowd",
            "small",
            "medium",
            "large",
            "area != w*h",
            "boundary area",
            ">100 dets",
            "category without gt",
            "image without dets",
            "image without gt",
            "duplicate",
            "tied scores",
            "far off",
            "exact copy",
        ],
        0,
    )
    for seed in range(N_RANDOM_SETS):
        gt, dets = random_coco_set(seed)
        anns = gt["annotations"]
        seen["crowd"] += any(a["iscrowd"] for a in anns)
        seen["small"] += any(a["area"] < 32**2 for a in anns)
        seen["medium"] += any(32**2 < a["area"] < 96**2 for a in anns)
        seen["large"] += any(a["area"] > 96**2 for a in anns)
        seen["area != w*h"] += any(a["area"] != a["bbox"][2] * a["bbox"][3] for a in anns)
        seen["boundary area"] += any(a["area"] in (1024, 9216) for a in anns)
        counts = {}
        for d in dets:
            key = (d["image_id"], d["category_id"])
            counts[key] = counts.get(key, 0) + 1
        seen[">100 dets"] += max(counts.values(), default=0) > 100
        seen["category without gt"] += any(d["category_id"] == 9 for d in dets)
        seen["image without dets"] += len({i["id"] for i in gt["images"]} - {d["image_id"] for d in dets}) > 0
        seen["image without gt"] += len({i["id"] for i in gt["images"]} - {a["image_id"] for a in anns}) > 0
        boxes = [(d["image_id"], *d["bbox"]) for d in dets]
        seen["duplicate"] += len(set(boxes)) < len(boxes)
        scores = [d["score"] for d in dets]
        seen["tied scores"] += len(set(scores)) < len(scores)
        seen["far off"] += any(d["bbox"][0] > 1500 for d in dets)
        gt_boxes = {tuple(a["bbox"]) for a in anns}
        seen["exact copy"] += any(tuple(d["bbox"]) in gt_boxes for d in dets)
    assert all(count >= 3 for count in seen.values()), seen


# Hand-made sets for cases a random draw may hit rarely.


def _set(annotations, detections, images=(1, 2), categories=(1, 2)):
    anns = [{"id": i + 1, "iscrowd": 0, **a} for i, a in enumerate(annotations)]
    for a in anns:
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
    return (
        {"images": [{"id": i} for i in images], "annotations": anns, "categories": [{"id": c} for c in categories]},
        detections,
    )


def test_no_detections_matches_pycocotools():
    gt, _ = random_coco_set(3)
    ours = assert_same_as_pycocotools(gt, [])
    assert ours["AP"] == 0 and ours["per_class_AP"][9] == -1


def test_no_ground_truth_matches_pycocotools():
    gt, dets = random_coco_set(5)
    ours = assert_same_as_pycocotools({**gt, "annotations": []}, dets)
    assert all(ours[name] == -1 for name in COCO_STAT_NAMES)


def test_iou_tie_between_two_objects_matches_pycocotools():
    # The first detection has IoU 100/120 with both objects (y 0..12 and y -2..10): on the tie
    # COCOeval takes the later object, B. The second detection (y 1..12) has IoU 110/120 with A
    # and 90/140 with B, so at thresholds 0.65-0.9 it is a TP only because A was left free.
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 12]},
        {"image_id": 1, "category_id": 1, "bbox": [0, -2, 10, 12]},
    ]
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 1, 10, 11], "score": 0.8},
    ]
    ours = assert_same_as_pycocotools(*_set(anns, dets))
    # Up to 0.8 both objects are found; at 0.85 and 0.9 only the second detection matches (A).
    np.testing.assert_array_equal(ours["recall"][:, 0, 0, 2], [1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0])


def test_iou_exactly_on_a_threshold_matches_pycocotools():
    # pycocotools takes box areas as w * h. From corners, (x + w) - x is not always w in floating
    # point: here the IoU would come out 0.49999999999999967 and 0.7499999999999997 instead of
    # exactly 0.5 and 0.75, and both detections would miss a threshold they reach.
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [30.2, 0.0, 6.0, 11.0]},
        {"image_id": 2, "category_id": 1, "bbox": [24.7, 0.0, 7.0, 4.0]},
    ]
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [32.2, 0.0, 6.0, 11.0], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [25.7, 0.0, 7.0, 4.0], "score": 0.8},
    ]
    ours = assert_same_as_pycocotools(*_set(anns, dets))
    np.testing.assert_array_equal(ours["recall"][:, 0, 0, 2], [1, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0])


def test_crowd_and_area_ranges_match_pycocotools():
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 300, 300], "iscrowd": 1},
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 1024.0},  # area field on the boundary
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 40, 40], "area": 900.0},
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 96, 96]},
    ]
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [100, 100, 50, 50], "score": 0.99},  # inside the crowd
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 40, 41], "score": 0.6},
        {"image_id": 1, "category_id": 1, "bbox": [400, 400, 100, 100], "score": 0.7},  # large, unmatched
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 96, 95], "score": 0.4},
    ]
    assert_same_as_pycocotools(*_set(anns, dets))


def test_annotation_id_zero_is_a_deliberate_difference():
    # pycocotools records the matched annotation's id and reads 0 as "no match", so a detection
    # that matches the annotation with id 0 is counted as a false positive (cocoapi issue #664).
    gt, dets = _set(
        [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}],
        [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}],
    )
    gt["annotations"][0]["id"] = 0
    assert evaluate_coco(gt, dets)["AP"] == pytest.approx(1.0)
    assert pycocotools_eval(gt, dets).stats[0] == 0.0
    gt["annotations"][0]["id"] = 1
    assert pycocotools_eval(gt, dets).stats[0] == pytest.approx(1.0)


def test_string_image_ids_and_repeated_image_entries_match_pycocotools():
    gt, dets = random_coco_set(8)
    name = {image["id"]: f"img{image['id']:05d}" for image in gt["images"]}
    gt["images"] = [{"id": name[i["id"]]} for i in gt["images"] + gt["images"][:2]]  # repeats are harmless
    for item in gt["annotations"] + dets:
        item["image_id"] = name[item["image_id"]]
    assert_same_as_pycocotools(gt, dets)


# ---------------------------------------------------------------------------------------------
# Instance masks: evaluate_coco(..., iou_type="segm") against COCOeval(..., "segm")
# ---------------------------------------------------------------------------------------------

N_RANDOM_MASK_SETS = 64


def _blob(rng, h, w):
    """A random object mask: an ellipse, a rectangle or a ragged blob, often small, sometimes large."""
    kind = rng.random()
    side = float(rng.choice([rng.uniform(3, 30), rng.uniform(30, 90), rng.uniform(90, 150)]))
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = side / 2 * rng.uniform(0.5, 1.0, 2)
    y, x = np.mgrid[:h, :w] + 0.5
    if kind < 0.4:
        mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    elif kind < 0.7:
        mask = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
    else:
        mask = (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1) & (rng.random((h, w)) < 0.7)
    return mask


def _perturb(rng, mask):
    """A detection of ``mask``: an exact copy, shifted, grown or shrunk, or with pixels flipped."""
    from scipy import ndimage

    kind = rng.random()
    if kind < 0.15:
        return mask.copy()
    if kind < 0.45:
        dy, dx = rng.integers(-4, 5, 2)
        return ndimage.shift(mask, (dy, dx), order=0, mode="constant", cval=False)
    if kind < 0.65:
        return ndimage.binary_dilation(mask, iterations=int(rng.integers(1, 3)))
    if kind < 0.8:
        return ndimage.binary_erosion(mask, iterations=int(rng.integers(1, 3)))
    return mask ^ (rng.random(mask.shape) < rng.choice([0.002, 0.01]))


def random_mask_set(seed: int) -> tuple[dict, list[dict], dict, list[dict]]:
    """A seeded ground truth and detection list with masks: (gt, dets) as RLE for pycocotools, and the
    same with NumPy (H, W) masks, for evaluate_coco's RLE-free input."""
    rng = np.random.default_rng(10_000 + seed)
    n_images = int(rng.integers(1, 7))
    image_ids = [int(i) for i in rng.choice(1000, n_images, replace=False)]
    sizes = {i: (int(rng.integers(60, 200)), int(rng.integers(60, 200))) for i in image_ids}
    gt_categories = [c for c in CATEGORIES[:3] if rng.random() < 0.85] or [1]
    coarse_scores = rng.random() < 0.5
    annotations, detections = [], []  # (fields, mask)
    for image_id in image_ids:
        h, w = sizes[image_id]
        objects = []
        for _ in range(int(rng.integers(0, 7)) if rng.random() < 0.85 else 0):
            mask = _blob(rng, h, w)
            crowd = rng.random() < 0.1
            area = float(mask.sum()) if rng.random() < 0.8 else float(rng.choice([1024, 9216, mask.sum() * 0.7]))
            fields = {"image_id": image_id, "category_id": int(rng.choice(gt_categories)), "iscrowd": int(crowd),
                      "area": area}
            annotations.append((fields, mask))
            objects.append((fields, mask))
        if rng.random() < 0.15:
            continue  # an image without detections
        for fields, mask in objects:
            for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
                category = fields["category_id"] if rng.random() < 0.85 else int(rng.choice(CATEGORIES))
                detections.append(({"image_id": image_id, "category_id": category}, _perturb(rng, mask)))
        for _ in range(int(rng.integers(0, 4))):  # background detections, and now and then an empty mask
            mask = _blob(rng, h, w) if rng.random() < 0.8 else np.zeros((h, w), bool)
            detections.append(({"image_id": image_id, "category_id": int(rng.choice(CATEGORIES))}, mask))
    if seed % 4 == 0 and image_ids:  # more than 100 detections of one class in one image
        image_id = image_ids[0]
        for _ in range(int(rng.integers(101, 130))):
            mask = _blob(rng, *sizes[image_id])
            detections.append(({"image_id": image_id, "category_id": gt_categories[0]}, mask))
    order = rng.permutation(len(detections))
    detections = [detections[i] for i in order]
    scores = [float(np.round(rng.random(), 1)) if coarse_scores else float(rng.random()) for _ in detections]
    ids = rng.permutation(len(annotations)) + 1
    images = [{"id": i, "height": sizes[i][0], "width": sizes[i][1]} for i in image_ids]
    categories = [{"id": c, "name": str(c)} for c in CATEGORIES]

    def build(encode):
        anns = [{**fields, "id": int(ann_id), "segmentation": encode(mask, False)}
                for (fields, mask), ann_id in zip(annotations, ids)]
        dets = [{**fields, "segmentation": encode(mask, True), "score": score}
                for (fields, mask), score in zip(detections, scores)]
        return {"images": images, "annotations": anns, "categories": categories}, dets

    gt_rle, dets_rle = build(lambda mask, compressed: mask_to_rle(mask, compressed=compressed))
    gt_arrays, dets_arrays = build(lambda mask, compressed: mask)
    return gt_rle, dets_rle, gt_arrays, dets_arrays


def pycocotools_segm_eval(ground_truth: dict, detections: list[dict]) -> COCOeval:
    """COCOeval(..., "segm") on deep copies; compressed RLE strings are given as bytes, as pycocotools makes them."""
    detections = copy.deepcopy(detections)
    for det in detections:
        det["segmentation"]["counts"] = det["segmentation"]["counts"].encode("ascii")
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(ground_truth)
        coco_gt.createIndex()
        if detections:
            coco_dt = coco_gt.loadRes(detections)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": [],
                               "categories": copy.deepcopy(coco_gt.dataset["categories"])}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def assert_segm_same_as_pycocotools(gt_rle, dets_rle, gt_arrays=None, dets_arrays=None) -> dict:
    reference = pycocotools_segm_eval(gt_rle, dets_rle)
    inputs = [(gt_rle, dets_rle)] + ([(gt_arrays, dets_arrays)] if gt_arrays is not None else [])
    for gt, dets in inputs:  # RLE and plain NumPy masks give the same result
        ours = evaluate_coco(gt, dets, iou_type="segm")
        np.testing.assert_allclose([ours[name] for name in COCO_STAT_NAMES], reference.stats, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(ours["precision"], reference.eval["precision"])
        np.testing.assert_array_equal(ours["recall"], reference.eval["recall"])
    return ours


@pytest.mark.parametrize("seed", range(N_RANDOM_MASK_SETS))
def test_random_mask_sets_match_pycocotools_segm(seed):
    assert_segm_same_as_pycocotools(*random_mask_set(seed))


def test_random_mask_sets_cover_the_special_cases():
    seen = dict.fromkeys(["crowd", "small", "medium", "large", "area != pixels", "empty det", ">100 dets",
                          "exact copy", "image without gt", "category without gt"], 0)
    for seed in range(N_RANDOM_MASK_SETS):
        gt, _, gt_arrays, dets_arrays = random_mask_set(seed)
        anns = gt_arrays["annotations"]
        pixels = [a["segmentation"].sum() for a in anns]
        seen["crowd"] += any(a["iscrowd"] for a in anns)
        seen["small"] += any(p < 32**2 for p in pixels)
        seen["medium"] += any(32**2 < p < 96**2 for p in pixels)
        seen["large"] += any(p > 96**2 for p in pixels)
        seen["area != pixels"] += any(a["area"] != p for a, p in zip(anns, pixels))
        seen["empty det"] += any(not d["segmentation"].any() for d in dets_arrays)
        counts = {}
        for d in dets_arrays:
            counts[d["image_id"], d["category_id"]] = counts.get((d["image_id"], d["category_id"]), 0) + 1
        seen[">100 dets"] += max(counts.values(), default=0) > 100
        seen["exact copy"] += any(np.array_equal(d["segmentation"], a["segmentation"])
                                  for d in dets_arrays for a in anns if d["image_id"] == a["image_id"])
        seen["image without gt"] += len({i["id"] for i in gt["images"]} - {a["image_id"] for a in anns}) > 0
        seen["category without gt"] += any(d["category_id"] == 9 for d in dets_arrays)
    assert all(count >= 3 for count in seen.values()), seen


def test_segm_no_detections_and_no_ground_truth_match_pycocotools():
    gt, dets, _, _ = random_mask_set(1)
    assert assert_segm_same_as_pycocotools(gt, [])["AP"] == 0
    ours = assert_segm_same_as_pycocotools({**gt, "annotations": []}, dets)
    assert all(ours[name] == -1 for name in COCO_STAT_NAMES)


def test_segm_mask_iou_differs_from_box_iou():
    # An L-shaped object (300 pixels) and a detection filling the empty corner of its bounding box plus
    # two of its corner pixels: the boxes are equal (box IoU 1), the masks share 2 of 400 pixels.
    obj = np.zeros((40, 40), bool)
    obj[0:20, 0:10] = obj[10:20, 0:20] = True
    det = np.zeros((40, 40), bool)
    det[0:10, 10:20] = True
    det[19, 0] = det[0, 0] = True  # the same tight box as the object, 2 shared pixels
    gt = {"images": [{"id": 1, "height": 40, "width": 40}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": float(obj.sum()),
                           "segmentation": mask_to_rle(obj)}]}
    dets = [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": mask_to_rle(det, compressed=True)}]
    ours = assert_segm_same_as_pycocotools(gt, dets)
    assert ours["AP50"] == 0.0
    box_gt = {**gt, "annotations": [{**gt["annotations"][0], "bbox": [0, 0, 20, 20]}]}
    assert evaluate_coco(box_gt, [{**dets[0], "bbox": [0, 0, 20, 20]}])["AP50"] == pytest.approx(1.0)
