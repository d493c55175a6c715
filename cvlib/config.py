"""Course-wide settings: the fast/full profile, seeding, quiet logs, oneDNN kernels, tf.data without its autotuner
stall, the data directory.

``CVLIB_FAST=1`` (tests, CI) shrinks data and epochs so each notebook runs in
about a minute; without it (a student's run, ``make run``) notebooks train to the
quality they promise. ``CVLIB_DATA`` overrides where data sets are stored.
"""

from __future__ import annotations

import functools
import os
import random
import sys
from pathlib import Path

import numpy as np

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
REPO_ROOT = Path(__file__).resolve().parent.parent


def fast_mode() -> bool:
    """True when ``CVLIB_FAST`` asks for the small, quick profile (tests and CI)."""
    value = os.environ.get("CVLIB_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"CVLIB_FAST: expected 1/0, true/false, yes/no or on/off, got {value!r}")


def quiet_logs() -> None:
    """Import TensorFlow without its start-up banner, and keep its C++ logs to errors only.

    TensorFlow 2.21 prints its oneDNN and CUDA notices from C++ before its logging is
    configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot stop them; they would fill every notebook's
    first output (and a GPU-less machine would show a "failed call to cuInit" error). We import
    it once with the process's stderr (file descriptor 2) pointed at /dev/null. Python errors are
    raised as exceptions, so a failing import still shows.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules or os.environ["KERAS_BACKEND"] != "tensorflow":
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        # Listing devices runs TensorFlow's one-time CUDA probe, which logs an error on a machine
        # without a GPU; done here, it stays silent and is not repeated later.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def setup(seed: int = 0) -> None:
    """Seed Python, NumPy and Keras (and so TensorFlow), and quiet TensorFlow's logs.

    Call it once at the top of a notebook so every run draws the same numbers.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    quiet_logs()
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global state is what student code often draws from
    import keras  # imported here so that `import cvlib` stays light

    keras.utils.set_random_seed(int(seed))


def data_dir(*parts: str) -> Path:
    """The course's data directory (``CVLIB_DATA``, else ``data/`` in the repository), created if missing.

    Extra ``parts`` are joined below it, e.g. ``data_dir("ct")``.
    """
    root = os.environ.get("CVLIB_DATA")
    base = Path(root).expanduser() if root else REPO_ROOT / "data"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def use_onednn() -> None:
    """Ask TensorFlow for its oneDNN CPU kernels on every x86 CPU (``TF_ENABLE_ONEDNN_OPTS=1``), unless set otherwise.

    On Linux TensorFlow enables them by default only on CPUs with AVX-512 VNNI, AVX-VNNI or AMX
    (``DefaultOneDnnPolicy`` in ``tensorflow/core/util/port.cc``); elsewhere it uses its own kernels,
    which train this course's 3D CNN about 3x, its U-Net and YOLO 2-3x and small 2D CNNs 10-30% slower
    on a 2-core AVX2 CPU. The
    same kernels everywhere also keep results alike across machines. It acts only before TensorFlow
    is imported; set the variable to 0 in the environment to compare.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def tf_data_without_autotune() -> None:
    """Iterate every ``tf.data`` pipeline with TensorFlow's autotuner off, unless the pipeline's options set it.

    Keras's TensorFlow backend builds a ``tf.data`` pipeline for every ``fit`` epoch and every ``predict``
    call. With autotuning on (TensorFlow's default), each iterator runs a tuning thread that wakes 10, 20, 40,
    80 ... ms apart, and deleting a finished iterator in TensorFlow 2.21 often waits for its next wake-up,
    with the processor idle: a training epoch of 5.9 s then takes 10.2 s, a 0.33 s ``predict`` 0.65 s, each
    rounded up to the next wake-up (``benchmarks/bench_training.py`` measures it). Without the tuner,
    prefetching and parallel maps use fixed buffers and thread counts; the elements and their order do not
    change, so training and predictions stay the same bit for bit. Only pipelines whose options leave
    ``autotune.enabled`` unset are changed, when iterated eagerly (``iter(dataset)``, as Keras does); it
    acts only when TensorFlow is already imported, and installing it twice changes nothing.
    """
    if "tensorflow" not in sys.modules:
        return
    import tensorflow as tf

    iterate = tf.data.Dataset.__iter__
    if getattr(iterate, "_without_autotune", False):
        return
    untuned = tf.data.Options()
    untuned.autotune.enabled = False

    @functools.wraps(iterate)
    def iterate_without_autotune(dataset):
        if tf.executing_eagerly() and dataset.options().autotune.enabled is None:
            dataset = dataset.with_options(untuned)
        return iterate(dataset)

    iterate_without_autotune._without_autotune = True
    tf.data.Dataset.__iter__ = iterate_without_autotune


# Every notebook imports this module first (its parameters cell), before anything imports
# TensorFlow: importing it quietly here keeps the banner out of every notebook's output.
use_onednn()
quiet_logs()
tf_data_without_autotune()
