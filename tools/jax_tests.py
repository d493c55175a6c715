"""The JAX job (``make test-jax``): cvlib's Keras-ops unit tests again, under ``KERAS_BACKEND=jax``.

The layers, losses and box/metric functions written with ``keras.ops`` must not depend on
TensorFlow. This runs their unit tests with Keras on JAX (CPU), with JAX installed beside the
TensorFlow environment by the Makefile (``.venv/jax``, from ``tools/requirements-jax.txt``);
TensorFlow stays importable, so the tests that compare against a TensorFlow reference still can.

``JAX_ENABLE_X64=1``: JAX computes in float32 unless told otherwise, and the parity tests ask for
float64 (as they do under TensorFlow).

TensorFlow-only, and why (the README lists the same):
- ``cvlib.models.rcnn`` (Fast / Faster / Mask R-CNN): a ``tf.function`` train step with
  ``tf.GradientTape``, NumPy targets through ``tf.numpy_function``;
- ``cvlib.data.ct`` (``tf.data`` pipelines), ``cvlib.models.cnn3d.grad_cam_3d`` and
  ``cvlib.receptive_field``'s measured fields (``tf.GradientTape`` on a Keras model);
- ``cvlib.models.siamfc``'s tracker (a ``tf.function``-compiled forward pass per frame);
- the notebooks, which use ``tf.data`` and ``model.fit`` on TensorFlow.
The tests below that are TensorFlow-only *as tests* (they drive a layer with ``tf.GradientTape`` or
``tf.function``) are deselected here with that reason; the same layers' forward passes, shapes,
errors and parity with their references are run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JAX_SITE = ROOT / ".venv" / "jax"

# The unit tests of cvlib's keras.ops code: layers, losses, and the box and metric functions (NumPy
# in and out, fed with backend tensors).
FILES = [
    "tests/test_atrous.py",
    "tests/test_roi.py",
    "tests/test_box_losses.py",
    "tests/test_segmentation_losses.py",
    "tests/test_siamese_losses.py",
    "tests/test_siamfc.py",
    "tests/test_dense.py",
    "tests/test_iac.py",
    "tests/test_interactive.py",
    "tests/test_yolo.py",
    "tests/test_keypoints.py",
    "tests/test_boxes.py",
    "tests/test_detection_metrics.py",
    "tests/jax_backend/test_data_parallel.py",  # cvlib.train.fit under keras.distribution.DataParallel
    "tests/jax_backend/test_gradients_jax.py",  # jax.grad / jax.jit counterparts of the deselected tests
]

# Tests that drive cvlib code with TensorFlow's own machinery (tf.GradientTape, tf.function,
# tf.Variable): TensorFlow-only as tests, not as code. tests/jax_backend/test_gradients_jax.py makes
# the same checks with jax.grad and jax.jit. test id -> why it is left out here.
_TAPE = "takes gradients with tf.GradientTape (JAX counterpart in tests/jax_backend/test_gradients_jax.py)"
_GRAPH = "traces the layer with tf.function (JAX counterpart: jax.jit in tests/jax_backend/test_gradients_jax.py)"
_TRIPLET = ("batch_all_triplet_loss", "batch_hard_triplet_loss", "batch_semi_hard_triplet_loss")
TENSORFLOW_ONLY: dict[str, str] = {
    "tests/test_roi.py::test_gradients_flow_through_roi_align": _TAPE,
    "tests/test_roi.py::test_roi_align_gradient_matches_finite_differences": _TAPE,
    **{f"tests/test_roi.py::test_inside_a_traced_graph_a_missing_image_reads_zero[layer{i}]": _GRAPH
       for i in range(3)},
    "tests/test_box_losses.py::test_giou_keeps_growing_for_disjoint_boxes_where_iou_is_flat": _TAPE,
    **{f"tests/test_box_losses.py::test_gradients_are_finite_for_degenerate_boxes[{name}]": _TAPE
       for name in ("l2_box_loss", "smooth_l1_loss", "giou_loss", "paired_iou")},
    "tests/test_segmentation_losses.py::test_gradient_lowers_the_loss": _TAPE,
    **{f"tests/test_siamese_losses.py::test_batches_without_a_triplet_give_zero_and_zero_gradient[{case}-{loss}]": _TAPE
       for case in ("one class", "no positives", "one") for loss in _TRIPLET},
    **{f"tests/test_siamese_losses.py::test_gradients_finite_at_zero_distance[{loss}]": _TAPE for loss in _TRIPLET},
    "tests/test_dense.py::test_loss_trains_inside_a_compiled_step": _GRAPH,
    "tests/test_interactive.py::test_hindsight_gradient_reaches_only_the_best_output_without_clicks": _TAPE,
    "tests/test_interactive.py::test_relaxed_hindsight_gradient_reaches_every_output": _TAPE,
    # DilatedConv2D's fast path is TensorFlow's own op; on JAX the layer is Conv2D, which the forward test checks
    **{f"tests/test_atrous.py::test_dilated_conv2d_equals_keras_conv2d[{case}]": _TAPE for case in (
        "2-3-same-1-shape0", "8-3-same-1-shape1", "rate2-3-same-1-shape2", "4-5-valid-1-shape3",
        "16-3-same-1-shape4", "1-3-same-2-shape5")},
    "tests/test_atrous.py::test_dilated_conv2d_falls_back_to_keras_without_onednn": _TAPE,
}


def main(argv: list[str]) -> int:
    if not JAX_SITE.is_dir():
        print(f"no JAX in {JAX_SITE}: run `make test-jax`, which installs it", file=sys.stderr)
        return 2
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "JAX_ENABLE_X64": "1",
        "CVLIB_FAST": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(JAX_SITE), os.environ.get("PYTHONPATH")])),
    }
    check = subprocess.run([sys.executable, "-c", "import keras; print(keras.backend.backend())"], env=env,
                           capture_output=True, text=True, cwd=ROOT)
    if check.stdout.strip() != "jax":
        print(f"Keras did not start on JAX: {check.stdout.strip()} {check.stderr[-2000:]}", file=sys.stderr)
        return 1
    deselect = [arg for test in TENSORFLOW_ONLY for arg in ("--deselect", test)]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *deselect, *FILES, *argv]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
