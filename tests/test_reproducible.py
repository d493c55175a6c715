"""Same seed, same numbers: every notebook, run twice in fast mode, gives the same result.

Every notebook seeds Python, NumPy and Keras once (``cvlib.config.setup``) and its data generators
are seeded, so two runs in two fresh kernels (each with its own Python hash seed) must agree. To
keep this cheap, a notebook that trains is run only up to the end of the first two steps of its
first ``keras.Model.fit``: the digest of that model's weights then depends on the data, the
initial weights, the shuffling and the first gradients, which is everything that can go wrong. A
notebook that trains nothing is run to its end and its recorded figures are compared, except the
timings (wall-clock seconds, milliseconds per image, frames or images per second), which are
measurements of the machine.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import execution
import run_notebooks

NOTEBOOKS = sorted(p.stem for p in (Path(run_notebooks.ROOT) / "notebooks").glob("*.ipynb"))
TIMING = re.compile(r"seconds|_ms$|_s$|per_second|fps|latency|time|speed|ratio", re.IGNORECASE)

# Inserted after the parameters cell: the first fit stops after two steps and ends the run with a
# digest of the model's weights.
STOP_AT_FIRST_FIT = '''
import hashlib as _hashlib

import keras as _keras


class FingerprintReached(Exception):
    """The notebook's first training steps are done; the message is a digest of the model's weights."""


_fit = _keras.Model.fit


def _fit_two_steps(self, *args, **kwargs):
    class _StopAfterTwoSteps(_keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch >= 1:
                self.model.stop_training = True

    kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _StopAfterTwoSteps()]
    _fit(self, *args, **kwargs)
    digest = _hashlib.sha256()
    for weight in self.weights:
        digest.update(_keras.ops.convert_to_numpy(weight.value).tobytes())
    raise FingerprintReached(digest.hexdigest())


_keras.Model.fit = _fit_two_steps
'''


def figures(directory: Path, name: str) -> dict:
    path = directory / f"{name}.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    return {key: value for key, value in recorded.items() if not TIMING.search(key)}


def fingerprint(name: str, out: Path) -> str | dict:
    """The digest of the first fit's weights, or (a notebook that trains nothing) its recorded figures."""
    path = Path(run_notebooks.ROOT) / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(STOP_AT_FIRST_FIT))
    env = {**os.environ, "CVLIB_FAST": "1", "CVLIB_REPORT_DIR": str(out)}
    result = execution.execute(nb, path.parent, cell_timeout=300, timeout=600, env=env)
    if result.status == execution.OK:
        recorded = figures(out, name)
        assert recorded, f"{name} trains nothing and recorded no figure apart from timings"
        return recorded
    assert "FingerprintReached: " in result.detail, f"{name} failed before its first training steps: {result.detail}"
    return result.detail.split("FingerprintReached: ")[1]


def test_only_timings_are_left_out(tmp_path):
    recorded = {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5, "train_seconds": 3.2, "latency_ms": 4.1,
                "images_per_second": 250.0, "siamfc_fps": 40.0, "speed_ratio": 1.2}
    (tmp_path / "05_x.json").write_text(json.dumps(recorded))
    assert figures(tmp_path, "05_x") == {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_two_fast_runs_agree(name, tmp_path):
    first = fingerprint(name, tmp_path / "first")
    second = fingerprint(name, tmp_path / "second")
    assert first == second, f"{name}: two runs with the same seed differ: {first} against {second}"
