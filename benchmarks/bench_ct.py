"""Speed of the CT pipeline of notebook 06: writing phantoms, reading NIfTI, preprocessing, the 3D convolution.

Run ``python benchmarks/bench_ct.py``. Rows without a reference are throughput figures (what a
student waits for); the Conv3D row compares ``conv3d_reference`` (NumPy, float64) with
``keras.layers.Conv3D`` after checking they agree to 1e-5.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, median_seconds

from cvlib.data import ct
from cvlib.models.cnn3d import conv3d_reference


def run() -> list[Row]:
    import keras

    rows = []
    volume, spacing, _ = ct.phantom(1, seed=0)
    rows.append(Row("phantom 128x128x48 (generate)", median_seconds(lambda: ct.phantom(1, seed=0), repeat=3),
                    note="one chest-CT phantom in HU, NumPy/SciPy"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.nii.gz"
        rows.append(Row("save .nii.gz (int16)", median_seconds(lambda: ct.save_volume(path, volume, spacing), repeat=3),
                        note=f"{path.stat().st_size / 1e6:.2f} MB per scan" if path.exists() else ""))
        rows.append(Row("load .nii.gz (nibabel)", median_seconds(lambda: ct.load_volume(path), repeat=3)))
    rows.append(Row("window + zoom to 64x64x32", median_seconds(lambda: ct.preprocess(volume, (64, 64, 32)), repeat=3),
                    note="scipy.ndimage.zoom, linear"))
    x = np.random.default_rng(0).random((1, 32, 32, 16, 8)).astype(np.float32)
    layer = keras.layers.Conv3D(16, 3, padding="same")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    assert np.allclose(conv3d_reference(x, kernel, bias, padding="same"), y, atol=1e-5)
    ours = median_seconds(lambda: conv3d_reference(x, kernel, bias, padding="same"), repeat=3)
    ref = median_seconds(lambda: layer(x), repeat=3)
    rows.append(Row("Conv3D 8->16 on 32x32x16", ours, ref, "keras Conv3D", note="reference sum vs TF kernel"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
