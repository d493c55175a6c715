"""tests/jax_backend/ runs under Keras on JAX only (``make test-jax``); a TensorFlow run does not collect it."""

import os

if os.environ.get("KERAS_BACKEND") != "jax":
    collect_ignore_glob = ["test_*.py"]
