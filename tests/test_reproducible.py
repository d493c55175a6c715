"""Same seed, same figures: three notebooks run twice in fast mode record identical headline figures.

Every notebook seeds Python, NumPy and Keras once (``cvlib.config.setup``) and its data generators
are seeded, so two runs must agree on every recorded figure except the timings (wall-clock seconds,
milliseconds per image, frames or images per second), which are measurements of the machine.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_notebooks

# Quick in fast mode, and between them: box maths and COCO evaluation (01), a Keras training (13),
# gradients through Keras models (14).
NOTEBOOKS = ["01_iou_and_map", "13_dilated_convolutions", "14_receptive_fields"]
TIMING = re.compile(r"seconds|_ms$|_s$|per_second|fps|latency|time", re.IGNORECASE)


def figures(out: Path, name: str) -> dict:
    recorded = json.loads((out / "figures" / f"{name}.json").read_text())
    return {key: value for key, value in recorded.items() if not TIMING.search(key)}


def test_only_timings_are_left_out(tmp_path):
    (tmp_path / "figures").mkdir()
    recorded = {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5, "train_seconds": 3.2, "latency_ms": 4.1,
                "images_per_second": 250.0, "siamfc_fps": 40.0}
    (tmp_path / "figures" / "05_x.json").write_text(json.dumps(recorded))
    assert figures(tmp_path, "05_x") == {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_two_fast_runs_record_the_same_figures(name, tmp_path):
    notebooks = Path(run_notebooks.ROOT) / "notebooks"
    if not (notebooks / f"{name}.ipynb").exists():
        pytest.fail(f"{name}.ipynb is gone; pick another quick notebook for this test")
    runs = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        status = run_notebooks.main(["--only", name, "--fast", "--timeout", "900", "--out", str(out)])
        assert status == 0, (out / "REPORT.md").read_text()
        runs.append(figures(out, name))
    assert runs[0], f"{name} recorded no figure apart from timings"
    first, second = runs
    differ = {k: (first.get(k), second.get(k)) for k in first.keys() | second.keys() if first.get(k) != second.get(k)}
    assert not differ, f"{name}: figures differ between two runs with the same seed: {differ}"
