"""Run by ``make test-jax`` only: ``cvlib.train.fit`` under Keras' distribution API on JAX.

``keras.distribution.DataParallel`` over two CPU devices (XLA's host-platform device count, set
before JAX starts, hence a fresh process) trains to the same weights as one device: the JAX
counterpart of tests/test_train.py's MirroredStrategy check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from cvlib import train

    devices = keras.distribution.list_devices("cpu")
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = x @ np.arange(8, dtype="float32")[:, None]

    def compiled():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        return model

    start = compiled().get_weights()
    out = {"devices": devices, "backend": keras.backend.backend()}
    for name, strategy in [("single", None), ("data_parallel", keras.distribution.DataParallel(devices=devices))]:
        model = compiled()
        model.set_weights(start)
        history = train.fit(model, (x, y), strategy, batch_size=16, epochs=3, shuffle=False, verbose=0)
        out[name] = {"loss": history.history["loss"], "weights": [w.tolist() for w in model.get_weights()]}
        if strategy is not None:
            out["sharding"] = str(history.model.weights[0].value.sharding)
    out["start"] = [w.tolist() for w in start]
    json.dump(out, sys.stdout)
    """
)


def test_data_parallel_matches_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax" and out["devices"] == ["cpu:0", "cpu:1"], out["devices"]
    assert "batch" in out["sharding"], f"the variables were not laid out on the device mesh: {out['sharding']}"

    def diff(a, b):
        return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))

    assert diff(out["single"]["weights"], out["start"]) > 1e-2, "training must move the weights"
    assert diff(out["data_parallel"]["weights"], out["single"]["weights"]) < 1e-4
    np.testing.assert_allclose(out["data_parallel"]["loss"], out["single"]["loss"], rtol=1e-4)
