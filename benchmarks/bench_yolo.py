"""Speed of notebook 05's YOLO: training throughput and inference at the trained size (96x96, 12x12x5x11).

Run ``python benchmarks/bench_yolo.py``. Training the model to its mAP target takes minutes, too
long for ``make bench``: that time is measured by the notebook's full run (``make run NB=05``,
figure ``train_seconds`` in ``build/REPORT.md``). Here a fixed short training (one epoch of 1,000
augmented scenes) gives the time per epoch, and the untrained-but-built model the inference speed,
which does not depend on the weights. The decoding row is the two-step filtering alone (score
threshold, then per-class NMS) on the network's output for one image.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, median_seconds

from cvlib.data.shapes import generate_scenes
from cvlib.losses import YoloLoss
from cvlib.models import yolo as Y

IMAGE_SIZE, GRID, NUM_ANCHORS = 96, 12, 5  # as notebook 05


def run() -> list[Row]:
    import keras

    keras.utils.set_random_seed(0)
    scenes = generate_scenes(1000, IMAGE_SIZE, 1, 6, object_size=(0.1, 0.4), seed=1)
    targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in scenes.targets]
    anchors = Y.kmeans_anchors(np.concatenate([t["boxes"] for t in targets]), NUM_ANCHORS, IMAGE_SIZE)
    classes = len(scenes.class_names)
    model = Y.build_yolo((IMAGE_SIZE, IMAGE_SIZE, 3), GRID, anchors, classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=YoloLoss(anchors))
    sequence = Y.YoloSequence(scenes.images, targets, GRID, anchors, classes, batch_size=32)
    model.fit(sequence, epochs=1, steps_per_epoch=2, verbose=0)  # build the training graph outside the timing
    start = time.perf_counter()
    model.fit(sequence, epochs=1, verbose=0)
    epoch = time.perf_counter() - start

    images = scenes.images[:256].astype(np.float32)
    one = images[:1]
    single = median_seconds(lambda: model.predict_on_batch(one), repeat=30, warmup=3)
    batched = median_seconds(lambda: model.predict(images, batch_size=64, verbose=0), repeat=3)
    raw = model.predict_on_batch(one)[0]
    decode = median_seconds(lambda: Y.decode_predictions(raw, anchors, IMAGE_SIZE, 0.01, 0.5), repeat=30)
    size = f"{IMAGE_SIZE}x{IMAGE_SIZE}"
    return [
        Row(f"YOLO training, 1 epoch of 1,000 {size} scenes", epoch,
            note=f"{model.count_params():,} weights, batch 32, augmented; training to the mAP target: notebook 05"),
        Row(f"YOLO inference, 1 image {size}", single, note=f"{1 / single:.0f} images/s, network only"),
        Row(f"YOLO inference, 256 images {size} (batches of 64)", batched,
            note=f"{len(images) / batched:.0f} images/s, network only"),
        Row("YOLO decoding + score threshold + per-class NMS, 1 image", decode, note="720 boxes in, NumPy"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
