"""The exercises' wrong answers: kept for every exercise, well formed, and tried the way a student's would be.

The notebooks' own fast runs (``test_notebooks_run.py``) try them and require each to fail its
check; here the harness itself is tested on a toy notebook, without TensorFlow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import exercise_mutations as em
import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import assignments
import execution

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISE_NOTEBOOKS = [p for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))
                      if assignments.is_assignment(nbformat.read(p, as_version=4))]
MIN_MISTAKES = 3


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=[p.stem for p in EXERCISE_NOTEBOOKS])
def test_every_exercise_has_at_least_three_wrong_answers_that_compile(path):
    nb = nbformat.read(path, as_version=4)
    mistakes = em.load(path.stem)
    for exercise in em.exercises(nb):
        mine = [m for m in mistakes if m.exercise == exercise.exercise]
        assert len(mine) >= MIN_MISTAKES, f"{path.stem}: exercise {exercise.exercise!r} has {len(mine)} wrong answers"
        assert len({m.mistake for m in mine}) == len(mine), f"{exercise.exercise}: two wrong answers share a name"
        reference = nb.cells[exercise.solution].source.strip()
        for m in mine:
            compile(m.code, f"{path.stem}:{m.exercise}:{m.mistake}", "exec")
            assert m.code.strip() != reference, f"{m.exercise}: {m.mistake!r} is the reference solution"
    em.inject(nb, mistakes, Path("unused"))  # raises for a wrong answer to an exercise the notebook lacks


def _toy(check: str):
    cells = [
        nbformat.v4.new_code_cell("import numpy as np\nrng = np.random.default_rng(0)"),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "double", "locked": False,
                                   "schema_version": 3}}),
        nbformat.v4.new_code_cell(check, metadata={"nbgrader": {
            "solution": False, "grade": True, "grade_id": "double_test", "locked": True, "points": 1,
            "schema_version": 3}}),
        nbformat.v4.new_code_cell("after = rng.integers(0, 10**9)\nprint(after)"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


WRONG = [
    em.Mistake("double", "adds instead", "def double(x):\n    return x + 2"),
    em.Mistake("double", "returns the input", "def double(x):\n    return x"),
    em.Mistake("double", "a typo", "def double(x):\n    return 2 * y"),
    em.Mistake("double", "does not run", "raise RuntimeError('oops')"),
]


def test_each_wrong_answer_meets_the_check_and_the_notebook_goes_on_unchanged(tmp_path):
    check = "x = rng.integers(0, 100)  # drawn, but unused: a weak check\nassert double(2) == 4"
    plain, tried = _toy(check), _toy(check)
    assert em.inject(tried, WRONG, tmp_path) == []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    assert execution.execute(plain, tmp_path, 60, 120, env).status == execution.OK
    assert execution.execute(tried, tmp_path, 60, 120, env).status == execution.OK

    by_name = {o["mistake"]: o for o in em.outcomes(tmp_path)}
    assert by_name["adds instead"]["status"] == em.PASSED  # x + 2 == 2 * x at x = 2: this check misses it
    assert by_name["returns the input"]["status"] == em.CAUGHT
    assert by_name["a typo"]["status"] == em.CAUGHT and "NameError" in by_name["a typo"]["message"]
    assert by_name["does not run"]["status"] == em.BROKEN
    # the check drew from rng for every try; the cell after the exercise still sees the same stream
    assert plain.cells[-1].outputs[0]["text"] == tried.cells[-1].outputs[0]["text"]
    assert tried.cells[-1].source == plain.cells[-1].source


def test_exercises_are_found_and_a_solution_without_its_check_is_an_error():
    nb = _toy("assert double(2) == 4")
    assert em.exercises(nb) == [em.Exercise("double", 1, 2)]
    nb.cells[2].metadata["nbgrader"]["grade"] = False
    with pytest.raises(ValueError, match="double"):
        em.exercises(nb)


def test_wrong_answers_to_an_unknown_exercise_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="triple"):
        em.inject(_toy("assert double(2) == 4"), [em.Mistake("triple", "x", "pass")], tmp_path)


def test_load_rejects_malformed_files(tmp_path, monkeypatch):
    monkeypatch.setattr(em, "MISTAKES_DIR", tmp_path)
    (tmp_path / "nb.toml").write_text("[[double]]\nmistake = 'x'\n")
    with pytest.raises(ValueError, match="exactly 'mistake' and 'code'"):
        em.load("nb")
    (tmp_path / "nb.toml").write_text("[[double]]\nmistake = 'x'\ncode = '''\ndef double(x):\n    return x\n'''\n")
    assert em.load("nb") == [em.Mistake("double", "x", "def double(x):\n    return x")]
    assert em.load("missing") == []


def test_readme_counts_the_wrong_answers_kept():
    readme = (NOTEBOOK_DIR.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- mistakes:begin -->\n")[1].split("\n<!-- mistakes:end -->")[0]
    expected = em.readme_block(EXERCISE_NOTEBOOKS)
    assert block == expected, f"the README's table between the mistakes markers should read:\n{expected}"


def test_the_student_versions_unanswered_cell_is_tried_against_the_students_check(tmp_path):
    weak = "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(3) == 6\n### END HIDDEN TESTS"
    nb = _toy(weak)
    stubs = em.student_stubs(nb, assignments.student_version(nb))
    assert [(s.exercise, s.mistake, s.check) for s in stubs] == [("double", em.UNANSWERED, "assert double(2) == 4")]
    assert "raise NotImplementedError()" in stubs[0].code
    em.inject(nb, stubs, tmp_path)
    assert execution.execute(nb, tmp_path, 60, 120, {**os.environ}).status == execution.OK
    (outcome,) = em.outcomes(tmp_path)
    assert outcome["status"] == em.CAUGHT and outcome["message"].startswith("NotImplementedError")

    lax = _toy("print('checked')")  # a check that never calls the answer lets the stub through
    em.inject(lax, em.student_stubs(lax, assignments.student_version(lax)), tmp_path / "lax")
    (tmp_path / "lax").mkdir()
    assert execution.execute(lax, tmp_path, 60, 120, {**os.environ}).status == execution.OK
    assert em.outcomes(tmp_path / "lax")[0]["status"] == em.PASSED
    with pytest.raises(ValueError, match="student version has 3 cells"):
        em.student_stubs(lax, nbformat.v4.new_notebook(cells=lax.cells[:3]))
