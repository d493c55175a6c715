"""``make grade``: crafted submissions (right, wrong, tampered, cheating, renamed, not a notebook, endless,
crashing, padded with checks of its own) graded to a CSV with one row per check, and to one HTML feedback page each."""

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
    """Two exercises, 3 + 2 points; the second check holds a hidden test and forbids ``math.hypot``."""
    nb = nbformat.v4.new_notebook(cells=[
        _cell("import math"),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              grade_id="double", solution=True),
        _cell("assert double(2) == 4, 'double(2) must be 4'", grade_id="double_test", grade=True, locked=True,
              points=3),
        _cell("def hypot(a, b):\n    ### BEGIN SOLUTION\n    return math.sqrt(a * a + b * b)\n    ### END SOLUTION",
              grade_id="hypot", solution=True),
        _cell("from cvlib import grading\n\nwith grading.forbid(math.hypot):\n    assert hypot(3, 4) == 5\n"
              "    ### BEGIN HIDDEN TESTS\n    assert hypot(5, 12) == 13\n    ### END HIDDEN TESTS",
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
    _answer(good, "hypot", "return math.sqrt(a * a + b * b)")
    submit("alice", good)

    wrong = nbformat.from_dict(assignments.student_version(reference))
    _answer(wrong, "double", "return x + x")
    _answer(wrong, "hypot", "return 5.0")  # passes the visible test, fails the hidden one
    submit("bob", wrong)

    tampered = nbformat.from_dict(assignments.student_version(reference))
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "assert True  # the student rewrote the check"
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

    library = nbformat.from_dict(good)
    _answer(library, "hypot", "return math.hypot(a, b)")
    for cell in library.cells:  # `good` is already answered: swap its hypot body for the library call
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "hypot":
            cell.source = "def hypot(a, b):\n    return math.hypot(a, b)"
    submit("ivan", library)

    renamed = nbformat.from_dict(good)
    for cell in renamed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double":
            cell.source = "def twice(x):\n    return x + x"
    submit("judy", renamed)

    padded = nbformat.from_dict(good)
    for cell in padded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double":
            cell.source = "def double(x):\n    return x + 1"
    padded.cells.insert(0, _cell("assert True", grade_id="bonus", grade=True, locked=True, points=100))
    padded.cells.insert(1, _cell("assert True  # a copy of the check, emptied", grade_id="double_test", grade=True,
                                 locked=True, points=3))
    submit("kim", padded)
    return tmp_path, source, subs


@pytest.mark.slow
def test_grades_every_submission_and_never_stops(course, capsys):
    tmp_path, source, subs = course
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"

    status = grade.main([str(subs), "--source", str(source), "--out", str(out), "--executed",
                         str(tmp_path / "graded"), "--feedback", str(feedback), "--cell-timeout", "20",
                         "--timeout", "120"])

    assert status == 0
    rows = {(row["student"], row["exercise"]): row for row in csv.DictReader(out.open())}
    expect = {  # (student, check): (points, max_points, status)
        ("alice", "double_test"): ("3", "3", "passed"), ("alice", "hypot_test"): ("2", "2", "passed"),
        ("bob", "double_test"): ("3", "3", "passed"),
        ("bob", "hypot_test"): ("0", "2", "failed"),  # the hidden test catches the hard-coded answer
        ("carol", "double_test"): ("0", "3", "failed"),  # the checks rewritten to `assert True` were put back
        ("carol", "hypot_test"): ("0", "2", "failed"),
        ("dave", "double_test"): ("0", "3", "not a notebook"), ("dave", "hypot_test"): ("0", "2", "not a notebook"),
        ("erin", ""): ("0", "0", "not a notebook"),  # no reference notebook named `answers`
        ("frank", "double_test"): ("0", "3", "not run"), ("frank", "hypot_test"): ("0", "2", "not run"),
        ("grace", "double_test"): ("0", "3", "not run"), ("grace", "hypot_test"): ("0", "2", "not run"),
        ("heidi", "double_test"): ("3", "3", "passed"), ("heidi", "hypot_test"): ("0", "2", "deleted"),
        ("ivan", "double_test"): ("3", "3", "passed"),
        ("ivan", "hypot_test"): ("0", "2", "failed"),  # math.hypot did the work, not the student
        ("judy", "double_test"): ("0", "3", "failed"), ("judy", "hypot_test"): ("2", "2", "passed"),
        ("kim", "double_test"): ("0", "3", "failed"),  # a copied check counts once, the reference's
        ("kim", "hypot_test"): ("2", "2", "passed"),  # and kim's own 100-point "bonus" check is not the course's
    }
    assert set(rows) == set(expect), sorted(rows)
    for key, (points, max_points, state) in expect.items():
        row = rows[key]
        assert (row["points"], row["max_points"], row["status"]) == (points, max_points, state), f"{key}: {row}"
    assert "called math.hypot" in rows["ivan", "hypot_test"]["message"]
    assert "`double`" in rows["judy", "double_test"]["message"] and "renamed" in rows["judy", "double_test"]["message"]
    assert "deleted" in rows["heidi", "hypot_test"]["message"]
    assert (tmp_path / "graded" / "alice" / "01_tiny.ipynb").exists()
    printed = capsys.readouterr().out
    assert "alice/01_tiny.ipynb: ok, 2 passed, 0 failed, 5/5 points" in printed
    assert "frank/01_tiny.ipynb: timed out, 0 passed, 2 failed, 0/5 points" in printed
    assert "grace/01_tiny.ipynb: failed to execute" in printed

    page = (feedback / "ivan" / "01_tiny.html").read_text()
    assert "3 / 5 points" in page and "hypot_test" in page and "called math.hypot" in page
    assert "timed out" in (feedback / "frank" / "01_tiny.html").read_text()
    assert {p.parent.name for p in feedback.glob("*/*.html")} == {s for s, _ in expect}


def test_feedback_page_escapes_what_the_student_wrote():
    result = grade.Grade("mallory", "01_tiny", checks=[
        grade.CheckResult("mallory", "01_tiny", "double_test", 0.0, 3.0, grade.FAILED_CHECK,
                          "AssertionError: <script>alert(1)</script>")])
    grade._totals(result)
    page = grade.feedback_page(result)
    assert "<script>" not in page and "&lt;script&gt;" in page and "0 / 3 points" in page


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
    got = grade.score(nb)
    assert [(c.exercise, c.status, c.points, c.max_points) for c in got] == [
        ("double_test", grade.PASSED, 3.0, 3.0), ("hypot_test", grade.FAILED_CHECK, 0.0, 2.0)]
    checks[0].execution_count = None  # never reached (a time-out before it)
    assert grade.score(nb)[0].status == grade.NOT_RUN
    answer = nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "why", "points": 4, "locked": False,
                                   "schema_version": 3, "task": False}
    nb.cells.append(answer)  # marked by hand: no automatic points, and not in max_points
    assert sum(c.max_points for c in grade.score(nb)) == 5.0
    deleted = grade.score(nb, deleted=("hypot_test",), reference=reference_notebook())[-1]
    assert (deleted.exercise, deleted.status, deleted.points, deleted.max_points) == ("hypot_test", "deleted", 0, 2)


def test_bad_arguments(tmp_path, capsys):
    assert grade.main([str(tmp_path / "missing")]) == 2
    assert grade.main([str(tmp_path)]) == 2
    assert "no submission found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cell_timeout, timeout"):
        grade.execute(reference_notebook(), tmp_path, cell_timeout=0, timeout=10)
