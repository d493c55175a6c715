"""A notebook's fingerprint: the digest of its first model's weights after the first two training steps.

The first model is the first one the notebook trains in its own thread (fits that ``side_by_side`` runs in
threads of their own are skipped: which reaches its second step first is a race, and a model trained after them
depends on them anyway).

Every notebook seeds Python, NumPy and Keras once (``cvlib.config.setup``) and its data generators
are seeded, so two runs in two fresh kernels (each with its own Python hash seed) must give the
same fingerprint: it depends on the data, the initial weights, the shuffling and the first
gradients, which is everything that can go wrong. ``watch_first_fit`` is a cell inserted after the
parameters cell: with ``stop=False`` it writes the digest to a file and lets training go on
untouched (the full fast run of ``test_notebooks_run.py``); with ``stop=True`` it ends the run there
with ``FingerprintReached: <digest>`` (the short second run). A notebook that trains nothing is
compared by its recorded figures instead, except the timings, which are measurements of the machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

FINGERPRINT_FILE = "first_fit.sha256"
TIMING = re.compile(r"seconds|_ms$|_s$|per_second|fps|latency|time|speed|ratio", re.IGNORECASE)

_WATCH = '''
import hashlib as _hashlib
import threading as _threading

import keras as _keras


class FingerprintReached(Exception):
    """The notebook's first training steps are done; the message is a digest of the model's weights."""


_fit = _keras.Model.fit


def _digest(model):
    digest = _hashlib.sha256()
    for weight in model.weights:
        digest.update(_keras.ops.convert_to_numpy(weight.value).tobytes())
    return digest.hexdigest()


class _Fingerprint(_keras.callbacks.Callback):
    """After the second training step (or at the end of training, if it has only one), once."""

    done = False

    def _take(self):
        if _Fingerprint.done:
            return
        _Fingerprint.done = True
        if {stop}:
            raise FingerprintReached(_digest(self.model))
        with open({path!r}, "w") as f:
            f.write(_digest(self.model))

    def on_train_batch_end(self, batch, logs=None):
        if batch >= 1:
            self._take()

    def on_train_end(self, logs=None):
        self._take()


def _fit_watched(self, *args, **kwargs):
    # Only the notebook's own thread: which of two fits run side by side (cvlib.train.side_by_side) reaches its
    # second step first is a race, so their first fit does not name one model; the next fit of the notebook does.
    if not _Fingerprint.done and _threading.current_thread() is _threading.main_thread():
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _Fingerprint()]
    return _fit(self, *args, **kwargs)


_keras.Model.fit = _fit_watched
'''


def watch_first_fit(nb, out: Path, stop: bool) -> None:
    """Insert, after ``nb``'s parameters cell, the cell that takes the first fit's fingerprint (in place)."""
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    source = _WATCH.replace("{stop}", str(stop)).replace("{path!r}", repr(str(out / FINGERPRINT_FILE)))
    nb.cells.insert(tagged[0] + 1 if tagged else 0, nbformat.v4.new_code_cell(source))


def stopped_at(detail: str) -> str | None:
    """The digest in a run's failure ``detail`` when it ended at its first fit, else None."""
    return detail.split("FingerprintReached: ")[1].split()[0] if "FingerprintReached: " in detail else None


def written(out: Path) -> str | None:
    """The digest a watched run wrote into ``out``, or None when it trained nothing."""
    path = out / FINGERPRINT_FILE
    return path.read_text().strip() if path.exists() else None


def figures(directory: Path, name: str) -> dict:
    """The figures ``name`` recorded in ``directory``, without its timings."""
    path = directory / f"{name}.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    return {key: value for key, value in recorded.items() if not TIMING.search(key)}
