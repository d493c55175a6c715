"""Every notebook runs top to bottom in fast mode, checks everything it promises, and runs the same again.

One fresh kernel per notebook, as a student's "Restart and run all": no cell may raise (its assert
cells are its tests), every exercise check passes with its reference solution (what ``make grade``
gives the instructor's own copy full marks for) and rejects both the kept wrong answers and the
student version's unanswered cell, and every fast-mode target the notebook declares
was recorded and met, read back from the figures the run wrote, so a notebook that forgets to call
``cvlib.report.check`` is caught too. Then a second fresh kernel with the same seed runs it again,
only as far as the first two steps of its first ``fit``, and must reach the same weights
(``notebook_fingerprint.py``); a notebook that trains nothing runs to its end again and must record
the same figures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import exercise_mutations
import nbformat
import pytest
from notebook_fingerprint import figures, stopped_at, watch_first_fit, written

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import assignments
import execution
import grade
import run_notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_LIMIT, NOTEBOOK_LIMIT = run_notebooks.LIMITS["fast"]  # seconds, as make run FAST=1 allows
# Each first run that passes leaves its executed copy here, without the cells the test added: the course
# website (make site) shows it for a notebook that make run has not executed, marked as a fast run.
EXECUTED_COPIES = NOTEBOOK_DIR.parent / "build" / "test-executed"
INJECTED = "added_by_test"  # cell metadata key marking the cells a test inserted


def _run(path: Path, out: Path, stop_at_first_fit: bool, try_mistakes: bool = False):
    """Run ``path`` in fast mode with its first fit watched; figures go to ``out``. Returns (notebook, result).

    With ``try_mistakes`` the exercises' wrong answers, and the student version's unanswered cells,
    are tried before their reference solutions.
    """
    out.mkdir()
    nb = nbformat.read(path, as_version=4)
    own = {cell.id for cell in nb.cells}
    if try_mistakes:
        stubs = exercise_mutations.student_stubs(nb, assignments.student_version(nb, NOTEBOOK_DIR))
        exercise_mutations.inject(nb, exercise_mutations.load(path.stem) + stubs, out)
    watch_first_fit(nb, out, stop=stop_at_first_fit)
    for cell in nb.cells:
        if cell.id not in own:
            cell.metadata[INJECTED] = True
    env = {**os.environ, "CVLIB_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CVLIB_REPORT_DIR": str(out)}
    started = dt.datetime.now()
    result = execution.execute(nb, NOTEBOOK_DIR, CELL_LIMIT, NOTEBOOK_LIMIT, env)
    nb.metadata["cvlib_run"] = run_notebooks.run_metadata("fast", result, started, "make test")
    return nb, result


def _keep_executed_copy(path: Path, nb) -> None:
    """Write ``nb`` (a passing first run) to ``EXECUTED_COPIES`` without the cells the test inserted."""
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    copy.cells = [cell for cell in copy.cells if not cell.metadata.get(INJECTED)]
    EXECUTED_COPIES.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, EXECUTED_COPIES / path.name)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_in_fast_mode_passing_every_check_and_target_and_again_the_same(path, tmp_path):
    nb, result = _run(path, tmp_path / "first", stop_at_first_fit=False, try_mistakes=True)

    assert result.status == execution.OK, f"{path.name}: {result.detail}"
    checks = grade.score(nb)
    failures = [f"{c.exercise} ({c.status}: {c.message})" for c in checks if c.status != grade.PASSED]
    assert checks and not failures, f"{path.name}: checks failed: {failures}"
    outcomes = exercise_mutations.outcomes(tmp_path / "first")
    tried = [t for t in outcomes if t["mistake"] != exercise_mutations.UNANSWERED]
    assert len(tried) == len(exercise_mutations.load(path.stem)), f"{path.name}: not every wrong answer was tried"
    let_through = [_told(t) for t in tried if t["status"] != exercise_mutations.CAUGHT]
    assert not let_through, f"{path.name}: wrong answers not rejected by their check: " + "; ".join(let_through)
    unanswered = [t for t in outcomes if t["mistake"] == exercise_mutations.UNANSWERED]
    assert len(unanswered) == len(exercise_mutations.exercises(nbformat.read(path, as_version=4)))
    passing = [_told(t) for t in unanswered if not _fails_for_want_of_the_answer(t)]
    assert not passing, f"{path.name}: unanswered exercises of the student version that do not fail their check " \
                        f"for want of the answer: " + "; ".join(passing)
    rows, problems = run_notebooks.check_targets(path.stem, tmp_path / "first", "fast")
    assert rows, f"{path.name}: declares no fast-mode target"
    assert not problems, f"{path.name}: {'; '.join(problems)}"
    _keep_executed_copy(path, nb)

    digest = written(tmp_path / "first")
    _, again = _run(path, tmp_path / "second", stop_at_first_fit=digest is not None)
    if digest is not None:
        assert stopped_at(again.detail) == digest, f"{path.name}: same seed, other weights after two steps: " \
                                                   f"{digest} against {again.detail}"
    else:
        first = figures(tmp_path / "first", path.stem)
        assert first, f"{path.name} trains nothing and recorded no figure apart from timings"
        assert again.status == execution.OK and figures(tmp_path / "second", path.stem) == first, again.detail


def _told(outcome: dict) -> str:
    message = f": {outcome['message']}" if outcome["message"] else ""
    return f"{outcome['exercise']}: {outcome['mistake']} ({outcome['status']}{message})"


def _fails_for_want_of_the_answer(outcome: dict) -> bool:
    """The stub raised in its own cell, or the check called it (``NotImplementedError``) or missed its name."""
    if outcome["status"] == exercise_mutations.BROKEN:
        return outcome["message"].startswith("NotImplementedError")
    return outcome["status"] == exercise_mutations.CAUGHT and outcome["message"].startswith(
        ("NotImplementedError", "NameError"))


def test_only_timings_are_left_out_of_the_comparison(tmp_path):
    recorded = {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5, "train_seconds": 3.2, "latency_ms": 4.1,
                "images_per_second": 250.0, "siamfc_fps": 40.0, "speed_ratio": 1.2}
    (tmp_path / "05_x.json").write_text(json.dumps(recorded))
    assert figures(tmp_path, "05_x") == {"AP50": 0.9, "train_images": 64, "erf_slope_relu": 0.5}


def _training_notebook():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import keras, numpy as np\n"
            "keras.utils.set_random_seed(SEED)\n"
            "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\n"
            "model.compile('sgd', 'mse')\n"
            "x, y = np.ones((32, 3)), np.ones((32, 1))\n"
            "history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)\n"
            "model.fit(x, y, batch_size=4, epochs=1, verbose=0)\n"
            "assert len(history.history['loss']) == 2, 'the watched fit trains to its end'"
        ),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_the_fingerprint_is_taken_once_and_training_goes_on(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    watched, stopped = _training_notebook(), _training_notebook()
    watch_first_fit(watched, tmp_path, stop=False)
    watch_first_fit(stopped, tmp_path, stop=True)

    assert execution.execute(watched, tmp_path, 120, 240, env).status == execution.OK
    result = execution.execute(stopped, tmp_path, 120, 240, env)

    digest = written(tmp_path)
    assert digest is not None and len(digest) == 64
    assert result.status == execution.FAILED and stopped_at(result.detail) == digest, result.detail
