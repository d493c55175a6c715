"""Wrong answers to the exercises, tried against their graded checks inside a notebook's own fast run.

Each notebook with exercises has a file ``tests/mistakes/NAME.toml``: for every exercise (the
``grade_id`` of its solution cell) a list of plausible wrong answers, each the whole solution cell
as a student who got it wrong would fill it::

    [[iou_pair]]
    mistake = "divides the intersection by the sum of the areas"
    code = '''
    def iou_pair(a, b):
        ...
    '''

``inject`` puts, just before each exercise's reference solution cell, a cell that runs every wrong
answer in its place followed by the exercise's graded check (the reference's, hidden tests
included: what ``make grade`` runs), and writes how each ended to ``mistakes.jsonl``. The random
generators the notebook holds are put back after each try, so the rest of the run (its figures,
its first-fit fingerprint) is the same as without the tries; the reference solution then runs as
usual and must pass. This costs one fast run per notebook instead of one per wrong answer, and
each wrong answer meets exactly the state a student's cell would: everything above it has run.

``student_stubs`` adds the student version's own unanswered cell (nbgrader's ``raise
NotImplementedError()``) as one more try per exercise, checked by the check the student sees
(hidden tests removed): the same run then shows that no check passes before it is answered.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

MISTAKES_DIR = Path(__file__).resolve().parent / "mistakes"
OUTCOMES_FILE = "mistakes.jsonl"  # not .json: cvlib.report reads every .json of the folder
CAUGHT, PASSED, BROKEN = "caught", "passed the check", "raised before the check"
UNANSWERED = "left unanswered, as the student version hands it out"  # the name of every student_stubs try


@dataclass(frozen=True)
class Mistake:
    """One wrong answer: the exercise it answers, what is wrong with it, and the solution cell's code.

    ``check`` is the graded check it meets; ``None`` for the reference's own (hidden tests included).
    """

    exercise: str
    mistake: str
    code: str
    check: str | None = None


@dataclass(frozen=True)
class Exercise:
    """An exercise of a notebook: its solution cell, the graded check that follows, and its id."""

    exercise: str
    solution: int  # cell index
    check: int  # cell index


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercises(nb) -> list[Exercise]:
    """The notebook's exercises: each solution code cell with the graded check that is its next code cell.

    Raises ValueError for a solution cell whose next code cell is not a graded check.
    """
    found = []
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for position, index in enumerate(code):
        meta = _nbgrader(nb.cells[index])
        if not meta.get("solution"):
            continue
        following = code[position + 1] if position + 1 < len(code) else None
        if following is None or not _nbgrader(nb.cells[following]).get("grade"):
            raise ValueError(f"exercise {meta.get('grade_id')!r}: its next code cell is not a graded check")
        found.append(Exercise(meta["grade_id"], index, following))
    return found


def student_stubs(reference, student) -> list[Mistake]:
    """Each exercise's solution cell as the student version ``student`` of ``reference`` hands it out.

    Each is checked by the student version's check cell. Raises ValueError when the two notebooks'
    cells do not line up (the student version must keep every cell in its place).
    """
    if len(student.cells) != len(reference.cells):
        raise ValueError(f"the student version has {len(student.cells)} cells, the reference {len(reference.cells)}")
    return [Mistake(e.exercise, UNANSWERED, student.cells[e.solution].source, student.cells[e.check].source)
            for e in exercises(reference)]


def mistakes_file(stem: str) -> Path:
    return MISTAKES_DIR / f"{stem}.toml"


def load(stem: str) -> list[Mistake]:
    """The wrong answers kept for notebook ``stem`` (``[]`` when it has no file)."""
    path = mistakes_file(stem)
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found = []
    for exercise, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"{path.name}: {exercise!r} must be a list of [[{exercise}]] tables")
        for entry in entries:
            if set(entry) != {"mistake", "code"}:
                raise ValueError(f"{path.name}: each [[{exercise}]] needs exactly 'mistake' and 'code', "
                                 f"got {sorted(entry)}")
            found.append(Mistake(exercise, entry["mistake"].strip(), entry["code"].strip("\n")))
    return found


_TRY = '''
import json as _mistake_json
import random as _mistake_random

import numpy as _mistake_np
from IPython.utils.capture import capture_output as _mistake_capture


def _mistake_rngs():
    held = {name: value for name, value in globals().items() if isinstance(value, _mistake_np.random.Generator)}
    states = {name: value.bit_generator.state for name, value in held.items()}
    return held, states, _mistake_random.getstate(), _mistake_np.random.get_state()


def _mistake_restore(saved):
    held, states, python_state, numpy_state = saved
    for name, value in held.items():
        value.bit_generator.state = states[name]
        globals()[name] = value
    _mistake_random.setstate(python_state)
    _mistake_np.random.set_state(numpy_state)


_mistake_outcomes = []
for _mistake_name, _mistake_code, _mistake_check in __TRIALS__:
    _mistake_saved = _mistake_rngs()
    _mistake_outcome = {"exercise": __EXERCISE__, "mistake": _mistake_name}
    with _mistake_capture():
        try:
            exec(compile(_mistake_code, "<wrong answer>", "exec"), globals())
        except Exception as _mistake_error:
            _mistake_outcome.update(status=__BROKEN__, message=f"{type(_mistake_error).__name__}: {_mistake_error}")
        else:
            try:
                exec(compile(_mistake_check, "<graded check>", "exec"), globals())
            except Exception as _mistake_error:
                _mistake_outcome.update(status=__CAUGHT__, message=f"{type(_mistake_error).__name__}: {_mistake_error}")
            else:
                _mistake_outcome.update(status=__PASSED__, message="")
    _mistake_restore(_mistake_saved)
    _mistake_outcome["message"] = _mistake_outcome["message"][:300]
    _mistake_outcomes.append(_mistake_outcome)

with open(__PATH__, "a", encoding="utf-8") as _mistake_file:
    for _mistake_outcome in _mistake_outcomes:
        _mistake_file.write(_mistake_json.dumps(_mistake_outcome) + "\\n")
'''


def inject(nb, mistakes: list[Mistake], out: Path) -> list[str]:
    """Insert, before each exercise's solution cell, the cell that tries its wrong answers (``nb`` in place).

    Outcomes are appended to ``out / OUTCOMES_FILE``, one JSON object per line. Returns the ids of
    the exercises that have no wrong answer; raises ValueError for a wrong answer to an exercise
    the notebook does not have.
    """
    found = exercises(nb)
    known = {e.exercise for e in found}
    unknown = sorted({m.exercise for m in mistakes} - known)
    if unknown:
        raise ValueError(f"wrong answers for exercises the notebook does not have: {unknown} (it has {sorted(known)})")
    path = str(out / OUTCOMES_FILE)
    for exercise in sorted(found, key=lambda e: -e.solution):  # from the end, so earlier indices hold
        check = nb.cells[exercise.check].source
        trials = [(m.mistake, m.code, m.check or check) for m in mistakes if m.exercise == exercise.exercise]
        if not trials:
            continue
        values = {"TRIALS": trials, "EXERCISE": exercise.exercise, "PATH": path,
                  "CAUGHT": CAUGHT, "PASSED": PASSED, "BROKEN": BROKEN}
        source = _TRY
        for key, value in values.items():
            source = source.replace(f"__{key}__", repr(value))
        nb.cells.insert(exercise.solution, nbformat.v4.new_code_cell(source))
    return sorted(e.exercise for e in found if not any(m.exercise == e.exercise for m in mistakes))


def outcomes(out: Path) -> list[dict]:
    """How every wrong answer tried in a run ended: dicts with exercise, mistake, status, message."""
    path = out / OUTCOMES_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def readme_block(notebooks: list[Path]) -> str:
    """The README's table of exercises and wrong answers per notebook (between its ``mistakes`` markers)."""
    lines = ["| notebook | exercises | wrong answers tried | rejected by their check |", "|---|---|---|---|"]
    total_exercises = total_mistakes = 0
    for path in notebooks:
        found = exercises(nbformat.read(path, as_version=4))
        if not found:
            continue
        count = len(load(path.stem))
        total_exercises += len(found)
        total_mistakes += count
        lines.append(f"| {path.stem} | {len(found)} | {count} | {count} |")
    lines.append(f"| **all** | {total_exercises} | {total_mistakes} | {total_mistakes} |")
    return "\n".join(lines)
