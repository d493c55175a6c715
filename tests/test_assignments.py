"""``make assignments``: student versions made by nbgrader's preprocessors, and what they do when run.

For every notebook in ``notebooks/``: at least two exercises, each a solution cell with its check;
the student version changes nothing but the exercises. What it does when run is tried inside each
notebook's fast run (test_notebooks_run.py): every reference solution passes its check, and every
exercise left as the student version hands it out fails the student's check for want of the
answer. New notebooks are covered as soon as they land.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import assignments

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _tiny():
    cells = [
        nbformat.v4.new_markdown_cell("# Tiny"),
        nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="left over\n")],
                                  execution_count=4),
        nbformat.v4.new_code_cell(
            "def f():\n    '''Doc.'''\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"
        ),
        nbformat.v4.new_code_cell(
            "assert f() == 42\n### BEGIN HIDDEN TESTS\nassert f() + 1 == 43\n### END HIDDEN TESTS"
        ),
        nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
    ]
    common = {"schema_version": 3, "task": False}
    cells[2].metadata["nbgrader"] = {**common, "grade": False, "grade_id": "f", "locked": False, "solution": True}
    cells[3].metadata["nbgrader"] = {**common, "grade": True, "grade_id": "f_test", "locked": True, "points": 3,
                                     "solution": False}
    cells[4].metadata["nbgrader"] = {**common, "grade": True, "grade_id": "why", "locked": False, "points": 1,
                                     "solution": True}
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_student_version_replaces_solutions_and_removes_hidden_tests():
    reference = _tiny()
    student = assignments.student_version(reference)

    assert student.cells[2].source == "def f():\n    '''Doc.'''\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert student.cells[3].source == "assert f() == 42"
    assert student.cells[4].source == "Why?\n\nYOUR ANSWER HERE"
    assert student.cells[1].source == "x = 1" and student.cells[1].outputs == []
    assert student.cells[1].execution_count is None
    for before, after in zip(reference.cells, student.cells):  # nbgrader's metadata survives, with checksums
        for key in ("grade", "solution", "locked", "grade_id", "points"):
            assert _meta(after).get(key) == _meta(before).get(key), key
        if _meta(before):
            assert _meta(after)["checksum"], "nbgrader's checksum lets autograde notice edited cells"
    assert student.cells[3].metadata["editable"] is False  # locked check cells are read-only in the student's UI
    assert "BEGIN SOLUTION" in reference.cells[2].source, "the reference notebook must not be modified"
    assert assignments.is_assignment(reference)
    assert not assignments.is_assignment(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))


def test_rejects_unmarked_solution_regions():
    nb = _tiny()
    del nb.cells[2].metadata["nbgrader"]
    with pytest.raises(ValueError, match="nb: nbgrader's ClearSolutions rejects"):
        assignments.student_version(nb)
    with pytest.raises(ValueError, match="nb: expected a notebook"):
        assignments.student_version({"cells": []})


def test_main_writes_one_student_version_per_exercise_notebook(tmp_path, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    nbformat.write(_tiny(), books / "01_tiny.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), books / "02_plain.ipynb")
    out = tmp_path / "assignments"
    assert assignments.main(["--notebooks", str(books), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01_tiny.ipynb"]
    assert "02_plain.ipynb: no nbgrader exercise" in capsys.readouterr().out
    assert assignments.main(["--notebooks", str(books), "--only", "99"]) == 2


@pytest.mark.slow
def test_same_as_nbgrader_generate_assignment(tmp_path):
    """Our student version equals, cell for cell, what ``nbgrader generate_assignment`` releases."""
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    nbformat.write(_tiny(), course / "source" / "ps1" / "tiny.ipynb")
    shutil.copy(NOTEBOOKS[0], course / "source" / "ps1" / NOTEBOOKS[0].name)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader calls alembic
    run = subprocess.run(
        [str(bin_dir / "nbgrader"), "generate_assignment", "ps1", f"--CourseDirectory.root={course}"],
        cwd=course, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("tiny.ipynb", NOTEBOOKS[0].name):
        theirs = nbformat.read(course / "release" / "ps1" / name, as_version=4)
        ours = assignments.student_version(nbformat.read(course / "source" / "ps1" / name, as_version=4))
        assert len(theirs.cells) == len(ours.cells)
        for index, (a, b) in enumerate(zip(theirs.cells, ours.cells)):
            assert (a.source, a.metadata) == (b.source, b.metadata), f"{name}, cell {index}"


def _exercises(nb) -> list[tuple[int, int]]:
    """(solution cell, check cell) index pairs: each solution cell with the first grade cell after it."""
    pairs = []
    for index, cell in enumerate(nb.cells):
        if _meta(cell).get("solution") and cell.cell_type == "code":
            check = next((j for j in range(index + 1, len(nb.cells)) if _meta(nb.cells[j]).get("grade")), None)
            if check is not None and (not pairs or pairs[-1][1] != check):
                pairs.append((index, check))
    return pairs


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_at_least_two_exercises_with_checks(notebook):
    path, nb = notebook
    pairs = _exercises(nb)
    assert len(pairs) >= 2, f"{path.name}: {len(pairs)} exercise(s) with a check; every topic needs at least two"
    for solution, check in pairs:
        sol, chk = _meta(nb.cells[solution]), _meta(nb.cells[check])
        where = f"{path.name}, cells {solution}/{check}"
        assert "### BEGIN SOLUTION" in nb.cells[solution].source and "### END SOLUTION" in nb.cells[solution].source
        assert sol.get("grade_id") and sol.get("locked") is False and sol.get("schema_version") == 3, where
        assert chk.get("grade_id") and chk.get("locked") is True and chk.get("solution") is False, where
        assert float(chk.get("points", 0)) > 0, f"{where}: a check must be worth points"
        assert "assert" in nb.cells[check].source, f"{where}: a check cell asserts on the student's answer"
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c).get("grade_id")]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate grade_id"


def test_student_version_changes_only_the_exercises(notebook):
    """Every other code cell is the reference's, in its place: so the reference's fast run is the student's.

    That run (test_notebooks_run.py) reaches each exercise with everything above it executed and tries
    the student version's unanswered cell against the student version's check: it must fail for want
    of the answer.
    """
    path, nb = notebook
    student = assignments.student_version(nb, NOTEBOOK_DIR)
    assert len(student.cells) == len(nb.cells), path.name
    for index, (mine, theirs) in enumerate(zip(nb.cells, student.cells)):
        if mine.cell_type == "code" and not (_meta(mine).get("solution") or _meta(mine).get("grade")):
            assert theirs.source == mine.source, f"{path.name}, cell {index}: the student version changed it"
    for solution, check in _exercises(nb):
        assert "raise NotImplementedError()" in student.cells[solution].source, f"{path.name}, cell {solution}"
        assert "BEGIN SOLUTION" not in student.cells[solution].source, f"{path.name}, cell {solution}"
        assert "HIDDEN TESTS" not in student.cells[check].source, f"{path.name}, cell {check}"
