"""Run a notebook in fast mode with its ``DATASET`` parameter pointed at a miniature of a real data set.

The miniature is written in the data set's published layout into ``<tmp>/data/<name>`` and ``CVLIB_DATA``
points the notebook's kernel there, so the notebook finds it exactly as it would find the real download
(``cvlib.data.download.dataset_root``). Only that every cell runs is checked here: a miniature is too small
for its figures to mean anything, and the notebook's own assert cells are what test its shapes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execution  # noqa: E402 - the course's notebook runner, in tools/
import run_notebooks  # noqa: E402

NOTEBOOK_DIR = ROOT / "notebooks"


def run_on_miniature(notebook: str, dataset: str, write: Callable[[Path], object], tmp_path: Path,
                     params: dict | None = None) -> execution.Result:
    """Write the miniature with ``write(<tmp>/data/<dataset>)``, run ``notebook`` (a file stem) in fast mode
    with ``DATASET = dataset`` (and ``params``); return the run's result. Executed copy and figures stay in
    ``tmp_path``."""
    data = tmp_path / "data"
    write(data / dataset)
    env = {**os.environ, "CVLIB_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CVLIB_DATA": str(data),
           "CVLIB_REPORT_DIR": str(tmp_path / "figures")}
    cell_limit, notebook_limit = run_notebooks.LIMITS["fast"]
    result, _ = run_notebooks.execute(NOTEBOOK_DIR / f"{notebook}.ipynb", tmp_path / "run", cell_limit,
                                      notebook_limit, env, {"DATASET": dataset, **(params or {})}, mode="fast")
    return result


def assert_runs(result: execution.Result, notebook: str, dataset: str) -> None:
    """Fail with the notebook, the data set and the cell that failed."""
    assert result.status == execution.OK, f"{notebook} on a miniature of {dataset}: {result.detail}"
