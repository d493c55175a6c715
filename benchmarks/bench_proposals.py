"""Selective search (notebook 03): cvlib against OpenCV's C++ implementation (opencv-contrib's ximgproc).

Run ``python benchmarks/bench_proposals.py``. Two rows:

- time per 500x375 photograph in fast mode: scikit-image's astronaut, coffee and chelsea resized to
  500x375; cvlib and OpenCV run one after the other on each photo, so both see the same machine load,
  and the row gives the median over the photos;
- recall at IoU 0.5 (and 0.7, ABO) with at most 2,000 proposals, fast mode, on synthetic scenes
  with ground truth (``generate_scenes``), and the median time per scene.

OpenCV's ``switchToSelectiveSearchFast`` is its own reading of the paper's fast mode (HSV and Lab,
k = 150, 300, 450, C+T+S+F and T+S+F); it returns (x, y, w, h) boxes, converted here to xyxy.
About a minute and a half on a 2-core machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row

from cvlib.data import generate_scenes
from cvlib.proposals import abo, proposal_recall, selective_search

PHOTOS = ("astronaut", "coffee", "chelsea")
SIZE = (375, 500)  # (H, W): the PASCAL-like image size the speed target is stated for
NUM_SCENES = 8
MAX_PROPOSALS = 2000


def opencv_fast(image: np.ndarray) -> np.ndarray:
    """OpenCV's selective search, fast mode, on an RGB uint8 image: (N, 4) xyxy in its ranking order."""
    import cv2

    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(image[..., ::-1]))  # OpenCV works in BGR
    ss.switchToSelectiveSearchFast()
    rects = ss.process().astype(np.float64).reshape(-1, 4)
    return np.hstack([rects[:, :2], rects[:, :2] + rects[:, 2:]])


def photos() -> list[np.ndarray]:
    """The scikit-image sample photos, resized to 500x375 RGB uint8 (they ship with the package: no network)."""
    from skimage import data, transform

    out = []
    for name in PHOTOS:
        img = getattr(data, name)()
        out.append((transform.resize(img, SIZE, anti_aliasing=True) * 255 + 0.5).astype(np.uint8))
    return out


def _timed(fn, image):
    start = time.perf_counter()
    boxes = fn(image)
    return time.perf_counter() - start, boxes


def figure_row(task: str, ours: str, reference: str, comparison: str, note: str) -> Row:
    """A row of figures that are not times, with the table's columns."""
    row = Row(task, 1.0)
    row.update(cvlib=ours, reference=reference, **{"cvlib vs reference": comparison}, note=note)
    return row


def run() -> list[Row]:
    rows = []
    ours_t, ref_t, counts = [], [], []
    for image in photos():
        t_ours, boxes = _timed(lambda im: selective_search(im, "fast", max_proposals=None), image)
        t_ref, ref_boxes = _timed(opencv_fast, image)
        ours_t.append(t_ours)
        ref_t.append(t_ref)
        counts.append((len(boxes), len(ref_boxes)))
    rows.append(Row(
        "selective search, fast mode, one 500x375 photo", statistics.median(ours_t), statistics.median(ref_t),
        "OpenCV ximgproc fast", note=f"median over {', '.join(PHOTOS)}; proposals per photo cvlib "
        f"{'/'.join(str(c[0]) for c in counts)}, OpenCV {'/'.join(str(c[1]) for c in counts)}",
    ))

    # hard scenes (many small, occluding shapes on noisy textures): on easy ones both find every object
    scenes = generate_scenes(NUM_SCENES, image_size=(192, 256), min_objects=4, max_objects=15,
                             object_size=(0.05, 0.3), background="textured", noise=30, seed=2026)
    gt = [t["boxes"] for t in scenes.targets]
    ours, ref, ours_t, ref_t = [], [], [], []
    for image in scenes.images:
        t, boxes = _timed(lambda im: selective_search(im, "fast", max_proposals=MAX_PROPOSALS), image)
        ours.append(boxes)
        ours_t.append(t)
        t, boxes = _timed(opencv_fast, image)
        ref.append(boxes[:MAX_PROPOSALS])
        ref_t.append(t)
    r5, r7 = proposal_recall(ours, gt, 0.5), proposal_recall(ours, gt, 0.7)
    q5, q7 = proposal_recall(ref, gt, 0.5), proposal_recall(ref, gt, 0.7)
    rows.append(figure_row(
        f"recall@0.5 with <= {MAX_PROPOSALS:,} proposals, {NUM_SCENES} synthetic 256x192 scenes, fast mode",
        f"{r5:.3f}", f"{q5:.3f} (OpenCV ximgproc fast)", f"{r5 - q5:+.3f}",
        f"{sum(len(g) for g in gt)} objects; recall@0.7 {r7:.3f} vs {q7:.3f}; ABO {abo(ours, gt):.3f} vs "
        f"{abo(ref, gt):.3f}; proposals per scene {np.mean([len(b) for b in ours]):.0f} vs "
        f"{np.mean([len(b) for b in ref]):.0f}; time per scene {statistics.median(ours_t):.2f} s vs "
        f"{statistics.median(ref_t):.2f} s",
    ))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
