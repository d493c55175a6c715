"""Every notebook runs top to bottom in fast mode, and one run checks everything it promises.

One fresh kernel per notebook, as a student's "Restart and run all": no cell may raise (its assert
cells are its tests), every exercise check passes with its reference solution (what ``make grade``
gives the instructor's own copy full marks for), and every fast-mode target the notebook declares
was recorded and met, read back from the figures the run wrote, so a notebook that forgets to call
``cvlib.report.check`` is caught too. Each notebook is run once for all three.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import execution
import grade
import run_notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_LIMIT, NOTEBOOK_LIMIT = run_notebooks.LIMITS["fast"]  # seconds, as make run --fast allows


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_in_fast_mode_passing_every_check_and_target(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "CVLIB_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CVLIB_REPORT_DIR": str(tmp_path)}

    result = execution.execute(nb, NOTEBOOK_DIR, CELL_LIMIT, NOTEBOOK_LIMIT, env)

    assert result.status == execution.OK, f"{path.name}: {result.detail}"
    passed, failed, points, max_points, failures = grade.score(nb)
    assert passed > 0 and failed == 0 and points == max_points, f"{path.name}: checks failed: {failures}"
    rows, problems = run_notebooks.check_targets(path.stem, tmp_path, "fast")
    assert rows, f"{path.name}: declares no fast-mode target"
    assert not problems, f"{path.name}: {'; '.join(problems)}"
