"""``make grade``: crafted submissions (right, wrong, tampered, not a notebook, endless, crashing) graded to a CSV."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import assignments
import grade


def _cell(source: str, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, "locked": False, "grade": False,
                                     "solution": False, **nbgrader}
    return cell


def reference_notebook():
    """Two exercises, 3 + 2 points; the second check holds a hidden test."""
    nb = nbformat.v4.new_notebook(cells=[
        _cell("import math"),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              grade_id="double", solution=True),
        _cell("assert double(2) == 4, 'double(2) must be 4'", grade_id="double_test", grade=True, locked=True,
              points=3),
        _cell("def hypot(a, b):\n    ### BEGIN SOLUTION\n    return math.sqrt(a * a + b * b)\n    ### END SOLUTION",
              grade_id="hypot", solution=True),
        _cell("assert hypot(3, 4) == 5\n### BEGIN HIDDEN TESTS\nassert hypot(5, 12) == 13\n### END HIDDEN TESTS",
              grade_id="hypot_test", grade=True, locked=True, points=2),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _answer(student_nb, grade_id: str, body: str):
    for cell in student_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = cell.source.replace("# YOUR CODE HERE\n    raise NotImplementedError()", body)
            return
    raise AssertionError(f"no cell {grade_id}")


@pytest.fixture
def course(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    reference = reference_notebook()
    nbformat.write(reference, source / "01_tiny.ipynb")
    student = assignments.student_version(reference)
    subs = tmp_path / "submitted"

    def submit(name: str, nb=None, filename="01_tiny.ipynb", raw: bytes | None = None):
        folder = subs / name / "ps1"
        folder.mkdir(parents=True)
        if raw is not None:
            (folder / filename).write_bytes(raw)
        else:
            nbformat.write(nb, folder / filename)

    good = nbformat.from_dict(student)
    _answer(good, "double", "return x + x")
    _answer(good, "hypot", "return math.hypot(a, b)")
    submit("alice", good)

    wrong = nbformat.from_dict(assignments.student_version(reference))
    _answer(wrong, "double", "return x + x")
    _answer(wrong, "hypot", "return 5.0")  # passes the visible test, fails the hidden one
    submit("bob", wrong)

    tampered = nbformat.from_dict(assignments.student_version(reference))
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass  # the student emptied the check"
    submit("carol", tampered)

    submit("dave", filename="01_tiny.ipynb", raw=b"\x89PNG\r\n not a notebook")
    submit("erin", filename="answers.txt", raw=b"double = lambda x: 2 * x\n")

    endless = nbformat.from_dict(assignments.student_version(reference))
    _answer(endless, "double", "while True:\n        pass")
    submit("frank", endless)

    crashing = nbformat.from_dict(assignments.student_version(reference))
    _answer(crashing, "double", "import os\n    os._exit(1)")
    crashing.cells.insert(2, _cell("double(1)"))
    submit("grace", crashing)

    deleted = nbformat.from_dict(good)
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "hypot_test"]
    submit("heidi", deleted)
    return tmp_path, source, subs


@pytest.mark.slow
def test_grades_every_submission_and_never_stops(course, capsys):
    tmp_path, source, subs = course
    out = tmp_path / "grades.csv"

    status = grade.main([str(subs), "--source", str(source), "--out", str(out), "--executed",
                         str(tmp_path / "graded"), "--cell-timeout", "20", "--timeout", "120"])

    assert status == 0
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}, rows
    expect = {  # student: (passed, failed, points, max_points, status)
        "alice": ("2", "0", "5", "5", "ok"),
        "bob": ("1", "1", "3", "5", "ok"),  # the hidden test catches the hard-coded answer
        "carol": ("0", "2", "0", "5", "ok"),  # the emptied checks were put back
        "dave": ("0", "0", "0", "0", "not a notebook"),
        "erin": ("0", "0", "0", "0", "not a notebook"),
        "frank": ("0", "2", "0", "5", "timed out"),
        "grace": ("0", "2", "0", "5", "failed to execute"),
        "heidi": ("2", "0", "5", "5", "ok"),  # the deleted check is restored and still passes
    }
    for student, (passed, failed, points, max_points, state) in expect.items():
        row = rows[student]
        got = (row["passed"], row["failed"], row["points"], row["max_points"], row["status"])
        assert got == (passed, failed, points, max_points, state), f"{student}: {row}"
    assert rows["erin"]["notebook"] == "answers"
    assert "hypot_test" in rows["bob"]["detail"]
    assert "20 s" in rows["frank"]["detail"]
    assert "restored deleted checks: hypot_test" in rows["heidi"]["detail"]
    assert (tmp_path / "graded" / "alice" / "01_tiny.ipynb").exists()
    assert "alice/01_tiny.ipynb: ok, 2 passed, 0 failed, 5/5 points" in capsys.readouterr().out


@pytest.mark.slow
def test_whole_notebook_time_limit(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        _cell("import time"),
        *[_cell("time.sleep(2)") for _ in range(30)],
        _cell("assert True", grade_id="t", grade=True, locked=True, points=1),
    ])
    path = tmp_path / "zed" / "02_slow.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    result = grade.grade_one(path, "zed", tmp_path / "none", None, cell_timeout=30, timeout=15)
    assert (result.status, result.passed, result.failed, result.max_points) == ("timed out", 0, 1, 1.0), result.detail
    assert "15 s" in result.detail


def test_score_counts_only_cells_that_ran_cleanly():
    nb = reference_notebook()
    checks = grade.grade_cells(nb)
    checks[0].execution_count = 3
    checks[0].outputs = []
    checks[1].execution_count = 5
    checks[1].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    assert grade.score(nb) == (1, 1, 3.0, 5.0, ["hypot_test"])
    checks[0].execution_count = None  # never reached (a time-out before it)
    assert grade.score(nb)[:2] == (0, 2)
    answer = nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "why", "points": 4, "locked": False,
                                   "schema_version": 3, "task": False}
    nb.cells.append(answer)  # marked by hand: no automatic points, and not in max_points
    assert grade.score(nb)[2:4] == (0.0, 5.0)


def test_bad_arguments(tmp_path, capsys):
    assert grade.main([str(tmp_path / "missing")]) == 2
    assert grade.main([str(tmp_path)]) == 2
    assert "no submission found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cell_timeout, timeout"):
        grade.execute(reference_notebook(), tmp_path, cell_timeout=0, timeout=10)
