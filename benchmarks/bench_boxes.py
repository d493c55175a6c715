"""Speed of cvlib.boxes against TensorFlow / Keras: NMS on 1,000 and 10,000 boxes, IoU on 1,000 x 1,000.

Run ``python benchmarks/bench_boxes.py`` to print the table. Each NMS row first checks that
cvlib and TensorFlow keep the same indices. The reference runs eagerly on tensors made outside
the timed region, so both sides are timed on the work itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, median_seconds

from cvlib.boxes import iou, nms


def random_boxes(rng: np.random.Generator, n: int, image: float = 1000.0, sizes=(10.0, 100.0)) -> np.ndarray:
    """``n`` xyxy boxes scattered over an ``image`` x ``image`` picture."""
    xy = rng.uniform(0, image, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(*sizes, (n, 2))], axis=1)


def detector_like(rng: np.random.Generator, n: int, objects: int = 50) -> np.ndarray:
    """``n`` boxes jittered around a few objects, as a detector outputs them before NMS."""
    centres = rng.uniform(50, 950, (objects, 2))[rng.integers(0, objects, n)]
    sizes = rng.uniform(30, 120, (n, 2))
    xy = centres + rng.normal(0, 8, (n, 2)) - sizes / 2
    return np.concatenate([xy, xy + sizes], axis=1)


def bench_nms(task: str, boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, repeat: int = 5) -> Row:
    import tensorflow as tf

    yxyx = tf.constant(boxes[:, [1, 0, 3, 2]], tf.float32)
    tf_scores = tf.constant(scores, tf.float32)
    limit = len(boxes)

    def ours():
        return nms(boxes, scores, iou_threshold)

    def reference():
        return tf.image.non_max_suppression(yxyx, tf_scores, limit, iou_threshold)

    kept = ours()
    assert np.array_equal(kept, reference().numpy()), f"{task}: cvlib.boxes.nms and TensorFlow disagree"
    return Row(
        task,
        median_seconds(ours, repeat=repeat),
        median_seconds(reference, repeat=repeat),
        "tf.image.non_max_suppression",
        note=f"keeps {len(kept)}",
    )


def bench_iou(n: int = 1000) -> Row:
    import keras

    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, n), random_boxes(rng, n)
    a32, b32 = keras.ops.convert_to_tensor(a, "float32"), keras.ops.convert_to_tensor(b, "float32")

    def reference():
        return keras.utils.bounding_boxes.compute_iou(a32, b32, "xyxy")

    np.testing.assert_allclose(iou(a, b), keras.ops.convert_to_numpy(reference()), rtol=1e-4, atol=1e-6)
    return Row(
        f"iou {n:,} x {n:,}",
        median_seconds(lambda: iou(a, b)),
        median_seconds(reference),
        "keras compute_iou",
        note="float64 vs float32",
    )


def run() -> list[Row]:
    rng = np.random.default_rng(0)
    rows = []
    for n in (1_000, 10_000):
        rows.append(bench_nms(f"nms {n:,} scattered boxes", random_boxes(rng, n), rng.uniform(size=n)))
        rows.append(bench_nms(f"nms {n:,} detector-like boxes", detector_like(rng, n), rng.uniform(size=n)))
    rows.append(bench_iou())
    return rows


def print_table(rows: list[Row]) -> None:
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    print_table(run())
