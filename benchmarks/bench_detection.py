"""COCO box evaluation: cvlib.metrics.detection.evaluate_coco against pycocotools' COCOeval.

Data: a seeded synthetic set of 5,000 images, 8 categories, about 7 objects per image (3 % crowd
regions, sizes spanning small/medium/large) and 20 detections per image (jittered copies of the
objects, duplicates, wrong classes, background boxes; scores rounded to 0.01 so that ties occur).

What is timed, from Python objects already in memory (no JSON parsing on either side):
- cvlib: ``evaluate_coco(gt_dict, detections)``;
- pycocotools: ``COCO()`` index building on the same dict, ``loadRes(detections)``, then
  ``evaluate()``, ``accumulate()``, ``summarize()`` (its printing goes to a discarded buffer).
The benchmark fails unless the 12 summary figures agree to 1e-9.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, median_seconds

from cvlib.metrics.detection import COCO_STAT_NAMES, evaluate_coco

N_IMAGES = 5_000
N_CATEGORIES = 8


def make_dataset(n_images: int = N_IMAGES, seed: int = 0) -> tuple[dict, list[dict]]:
    """Seeded COCO ground truth and detections (about 20 per image)."""
    rng = np.random.default_rng(seed)
    annotations, detections = [], []
    for image_id in range(1, n_images + 1):
        n_obj = rng.integers(2, 13)
        side = np.exp(rng.uniform(np.log(8), np.log(300), (n_obj, 2)))
        corner = rng.uniform(0, 640, (n_obj, 2))
        cats = rng.integers(1, N_CATEGORIES + 1, n_obj)
        crowd = rng.random(n_obj) < 0.03
        for (x, y), (w, h), c, k in zip(corner, side, cats, crowd):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(c),
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": float(w * h * rng.uniform(0.6, 1.0)),
                    "iscrowd": int(k),
                }
            )
        n_det = max(1, int(rng.normal(20, 4)))
        src = rng.integers(0, n_obj, n_det)
        jitter = rng.normal(0, 0.12, (n_det, 4)) * np.c_[side[src], side[src]]
        boxes = np.c_[corner[src], side[src]] + jitter
        background = rng.random(n_det) < 0.25  # boxes anywhere
        boxes[background] = np.c_[
            rng.uniform(0, 640, (background.sum(), 2)),
            np.exp(rng.uniform(np.log(8), np.log(300), (background.sum(), 2))),
        ]
        boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
        det_cats = np.where(rng.random(n_det) < 0.9, cats[src], rng.integers(1, N_CATEGORIES + 1, n_det))
        scores = np.round(rng.random(n_det), 2)
        for box, c, s in zip(boxes, det_cats, scores):
            detections.append({"image_id": image_id, "category_id": int(c), "bbox": box.tolist(), "score": float(s)})
    ground_truth = {
        "images": [{"id": i, "width": 640, "height": 640} for i in range(1, n_images + 1)],
        "annotations": annotations,
        "categories": [{"id": c, "name": f"class{c}"} for c in range(1, N_CATEGORIES + 1)],
    }
    return ground_truth, detections


def pycocotools_stats(ground_truth: dict, detections: list[dict]) -> np.ndarray:
    """The 12 figures from pycocotools, index building and loadRes included."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = ground_truth
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(detections)  # adds area/id/segmentation keys to the dicts; harmless on reruns
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)


def cvlib_stats(ground_truth: dict, detections: list[dict]) -> np.ndarray:
    result = evaluate_coco(ground_truth, detections)
    return np.array([result[name] for name in COCO_STAT_NAMES])


def run() -> list[Row]:
    ground_truth, detections = make_dataset()
    ours = cvlib_stats(ground_truth, detections)
    reference = pycocotools_stats(ground_truth, detections)
    diff = float(np.max(np.abs(ours - reference)))
    assert diff <= 1e-9, f"evaluate_coco disagrees with pycocotools by {diff:g}: {ours} vs {reference}"
    note = "same stats" if diff == 0 else f"stats differ by at most {diff:.1e}"
    t_ours = median_seconds(lambda: evaluate_coco(ground_truth, detections), repeat=3, warmup=1)
    t_ref = median_seconds(lambda: pycocotools_stats(ground_truth, detections), repeat=3, warmup=0)
    task = f"COCO bbox eval, {N_IMAGES} images, {len(detections)} dets, {len(ground_truth['annotations'])} gt"
    version = importlib.metadata.version("pycocotools")
    return [Row(task, t_ours, t_ref, f"pycocotools {version}", f"{note}; AP={ours[0]:.4f}")]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(f"{k}: {v}" for k, v in row.items()))
